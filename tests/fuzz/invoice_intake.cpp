// Carrier invoice intake (JSON and CSV) and line evaluation. The first byte picks the
// parser. Checks: a refusal names a field and is invalid_argument or payload_too_large;
// an accepted invoice has a valid carrier and currency, 1.. lines each with a tracking
// number or reference, base first, every amount in range; every line evaluated against
// a booked shipment has billed = sum of its charges, a dispute exactly when it is not
// matched, and a non-negative disputed amount; exact decimals round-trip.
#include "fuzz_support.hpp"
#include "waybill/runtime/invoice_intake.hpp"

namespace {

using namespace waybill;
using namespace waybill::runtime;

const actors::SettlementOptions& options() {
  static const actors::SettlementOptions o = [] {
    actors::SettlementOptions s;
    s.max_lines_per_invoice = 64;
    return s;
  }();
  return o;
}

const fb::ShipmentT& shipment() {
  static const fb::ShipmentT s = [] {
    fb::ShipmentT x;
    x.shipment_id = "S-1";
    x.carrier = "parcelco";
    x.booking_state = fb::BookingState::booked;
    x.rate = std::make_unique<fb::RateSnapshotT>();
    x.rate->total = std::make_unique<fb::MoneyT>();
    x.rate->total->amount_minor = 1250;
    x.rate->total->currency = "USD";
    return x;
  }();
  return s;
}

void check_invoice(const actors::InvoiceInput& in) {
  FUZZ_CHECK(!in.carrier.empty() && in.carrier.find(':') == std::string::npos, in.carrier);
  FUZZ_CHECK(actors::valid_currency(in.currency), in.currency);
  FUZZ_CHECK(!in.lines.empty() && in.lines.size() <= options().max_lines_per_invoice, "line count");
  std::vector<fb::MilestoneT> none;
  actors::ShipmentFacts facts{&shipment(), &none};
  uint32_t n = 0;
  for (auto& l : in.lines) {
    FUZZ_CHECK(!l.tracking_number.empty() || !l.reference.empty(), "line without key");
    FUZZ_CHECK(!l.charges.empty() && l.charges[0].code == "base", "base first");
    int64_t sum = 0;
    for (auto& c : l.charges) {
      FUZZ_CHECK(c.amount_minor >= 0 && c.amount_minor <= actors::kMaxAmountMinor, std::to_string(c.amount_minor));
      sum += c.amount_minor;
    }
    auto out = actors::evaluate_line(l, ++n, in.carrier, in.currency, &facts, "", "", options());
    FUZZ_CHECK(out.billed_minor == sum, "billed is not the sum of the charges");
    FUZZ_CHECK((out.outcome == fb::LineOutcome::matched) == (out.dispute == fb::DisputeState::none), "dispute state");
    FUZZ_CHECK(out.disputed_minor >= 0, std::to_string(out.disputed_minor));
    FUZZ_CHECK(out.line_no == n, "line number");
  }
}

void check_refusal(const Status& st) {
  FUZZ_CHECK(st.code() == Code::invalid_argument || st.code() == Code::payload_too_large, st.message());
  FUZZ_CHECK(!st.field().empty(), "refusal names no field: " + st.message());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto text = fuzz::as_text(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto r = parse_invoice_json(text, IntakeLimits{}, options());
      if (r.ok()) check_invoice(*r);
      else check_refusal(r.status());
      break;
    }
    case 1: {
      auto r = parse_invoice_csv(text, options(), 256);
      if (!r.ok()) {
        check_refusal(r.status());
        break;
      }
      for (auto& inv : *r) {
        if (inv.status.ok()) check_invoice(inv.invoice);
        else FUZZ_CHECK(inv.status.field().rfind("line ", 0) == 0, "CSV refusal names no line: " + inv.status.field());
      }
      break;
    }
    default: {
      const char* currencies[] = {"USD", "JPY", "KWD"};
      const char* currency = currencies[data[0] / 3 % 3];
      auto v = actors::parse_decimal_minor(text, currency);
      if (!v.ok()) break;
      FUZZ_CHECK(*v >= -actors::kMaxAmountMinor && *v <= actors::kMaxAmountMinor, std::to_string(*v));
      // Written back with the currency's decimals, it parses to the same amount.
      int e = actors::currency_exponent(currency);
      int64_t a = *v < 0 ? -*v : *v, scale = 1;
      for (int i = 0; i < e; ++i) scale *= 10;
      std::string frac = std::to_string(a % scale);
      frac.insert(0, static_cast<size_t>(e) - std::min<size_t>(frac.size(), e), '0');
      std::string back = std::string(*v < 0 ? "-" : "") + std::to_string(a / scale) + (e ? "." + frac : "");
      auto again = actors::parse_decimal_minor(back, currency);
      FUZZ_CHECK(again.ok() && *again == *v, back);
    }
  }
  return 0;
}
