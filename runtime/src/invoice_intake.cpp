#include "waybill/runtime/invoice_intake.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "json_fields.hpp"
#include "waybill/runtime/csv.hpp"

namespace waybill::runtime {

namespace {

using namespace json;  // NOLINT: the field reader of this module

Status check_invoice_header(const actors::InvoiceInput& in, const char* carrier_field, const char* number_field,
                            const char* currency_field) {
  WB_TRY(validate_id(in.carrier, carrier_field));
  if (in.carrier.find(':') != std::string::npos) return bad(carrier_field, "must not contain ':'");
  WB_TRY(validate_id(in.invoice_number, number_field));
  if (!actors::valid_currency(in.currency)) return bad(currency_field, "must be an ISO 4217 code (three capitals)");
  return {};
}

Status check_amount(int64_t minor, const std::string& field) {
  if (minor < 0) return bad(field, "must be >= 0 (credits arrive as credit notes, not invoice lines)");
  if (minor > actors::kMaxAmountMinor) return bad(field, "is too large");
  return {};
}

Status check_line(const actors::InvoiceLineInput& l, const std::string& path) {
  if (l.tracking_number.empty() && l.reference.empty())
    return bad(path + ".tracking_number", "a line needs a tracking_number or a reference");
  if (!l.tracking_number.empty()) WB_TRY(validate_id(l.tracking_number, "tracking_number"));
  if (l.billed_weight_g < 0 || l.billed_weight_g > 100'000'000) return bad(path + ".billed_weight", "must be 0..100000 kg");
  return {};
}

}  // namespace

std::optional<int64_t> parse_invoice_date(std::string_view text) {
  if (text.size() == 10) return parse_rfc3339_us(std::string(text) + "T00:00:00Z");
  return parse_rfc3339_us(text);
}

Result<actors::InvoiceInput> parse_invoice_json(std::string_view body, const IntakeLimits& lim,
                                                const actors::SettlementOptions& options) {
  auto root = parse_object(thread_parser(lim), body, lim);
  if (!root) return root.status();
  Fields f(*root, "", {"carrier", "invoice_number", "invoice_date", "currency", "lines"});
  WB_TRY(f.error());
  actors::InvoiceInput in;
  WB_TRY(f.string("carrier", &in.carrier, true, 64));
  WB_TRY(f.string("invoice_number", &in.invoice_number, true, 128));
  WB_TRY(f.string("currency", &in.currency, true, 8));
  std::string date;
  WB_TRY(f.string("invoice_date", &date, true, 64));
  auto date_us = parse_invoice_date(date);
  if (!date_us) return bad("invoice_date", "must be YYYY-MM-DD or an RFC 3339 date-time");
  in.invoice_date_us = *date_us;
  WB_TRY(check_invoice_header(in, "carrier", "invoice_number", "currency"));
  if (!f.has("lines") || !f.get("lines").is_array()) return bad("lines", "is required: an array of invoice lines");
  auto lines = f.get("lines").get_array().value();
  if (lines.size() == 0) return bad("lines", "must not be empty");
  if (lines.size() > options.max_lines_per_invoice)
    return Status{Code::payload_too_large, "has more than " + std::to_string(options.max_lines_per_invoice) + " lines", "lines"};
  size_t i = 0;
  for (auto item : lines) {
    const std::string path = "lines[" + std::to_string(i++) + "]";
    if (!item.is_object()) return bad(path, "must be an object");
    Fields lf(item.get_object().value(), path,
              {"tracking_number", "reference", "billed_weight_g", "base_minor", "accessorials"});
    WB_TRY(lf.error());
    actors::InvoiceLineInput l;
    WB_TRY(lf.string("tracking_number", &l.tracking_number, false, 128));
    WB_TRY(lf.string("reference", &l.reference, false, 128));
    WB_TRY(lf.integer("billed_weight_g", &l.billed_weight_g, false));
    int64_t base = 0;
    WB_TRY(lf.integer("base_minor", &base, true));
    WB_TRY(check_amount(base, lf.path("base_minor")));
    l.charges.push_back({"base", base});
    if (lf.has("accessorials")) {
      auto acc = lf.get("accessorials");
      if (!acc.is_array()) return bad(lf.path("accessorials"), "must be an array");
      auto arr = acc.get_array().value();
      if (arr.size() + 1 > options.max_charges_per_line)
        return bad(lf.path("accessorials"), "has more than " + std::to_string(options.max_charges_per_line - 1) + " entries");
      size_t j = 0;
      for (auto a : arr) {
        const std::string apath = lf.path("accessorials") + "[" + std::to_string(j++) + "]";
        if (!a.is_object()) return bad(apath, "must be an object");
        Fields af(a.get_object().value(), apath, {"code", "amount_minor"});
        WB_TRY(af.error());
        actors::BilledCharge c;
        WB_TRY(af.string("code", &c.code, true, 64));
        if (c.code == "base" || c.code == "quote_total") return bad(af.path("code"), "is reserved");
        WB_TRY(af.integer("amount_minor", &c.amount_minor, true));
        WB_TRY(check_amount(c.amount_minor, af.path("amount_minor")));
        l.charges.push_back(std::move(c));
      }
    }
    WB_TRY(check_line(l, path));
    in.lines.push_back(std::move(l));
  }
  return in;
}

Result<DisputeDecision> parse_dispute_decision(std::string_view body, const IntakeLimits& lim, bool needs_amount) {
  DisputeDecision d;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    if (needs_amount) return bad("amount_minor", "is required to resolve a dispute");
    return d;
  }
  auto root = parse_object(thread_parser(lim), body, lim);
  if (!root) return root.status();
  Fields f(*root, "", {"amount_minor", "note"});
  WB_TRY(f.error());
  if (!needs_amount && f.has("amount_minor"))
    return bad("amount_minor", "only a resolve names an amount (accept pays the billed amount, reject pays nothing)");
  WB_TRY(f.integer("amount_minor", &d.amount_minor, needs_amount));
  WB_TRY(check_amount(d.amount_minor, "amount_minor"));
  WB_TRY(f.string("note", &d.note, false, lim.max_string_bytes));
  return d;
}

Result<std::vector<CsvInvoice>> parse_invoice_csv(std::string_view text, const actors::SettlementOptions& options,
                                                  size_t max_rows) {
  static const std::vector<std::string> kFixed = {"carrier",         "invoice_number", "invoice_date", "currency",
                                                  "tracking_number", "reference",      "billed_weight_kg", "base"};
  std::map<std::string, size_t> column;        // fixed column -> index
  std::vector<std::pair<std::string, size_t>> accessorial;  // code -> index
  std::vector<CsvInvoice> out;
  std::map<std::string, size_t> index;         // carrier \0 number -> position in out
  Status file_error;
  size_t rows = 0;
  auto st = read_csv(text, CsvOptions{}, [&](CsvRecord& rec) {
    if (column.empty() && accessorial.empty()) {
      for (size_t i = 0; i < rec.fields.size(); ++i) {
        std::string name = rec.fields[i];
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        if (name.empty()) continue;
        if (std::find(kFixed.begin(), kFixed.end(), name) != kFixed.end()) column[name] = i;
        else accessorial.emplace_back(name, i);
      }
      for (const char* required : {"carrier", "invoice_number", "invoice_date", "currency", "base"})
        if (!column.count(required)) {
          file_error = bad("header", std::string("needs a '") + required + "' column");
          return false;
        }
      if (!column.count("tracking_number") && !column.count("reference")) {
        file_error = bad("header", "needs a 'tracking_number' or a 'reference' column");
        return false;
      }
      return true;
    }
    if (++rows > max_rows) {
      file_error = Status{Code::payload_too_large, "has more than " + std::to_string(max_rows) + " rows", "file"};
      return false;
    }
    auto cell = [&](const char* name) -> std::string {
      auto it = column.find(name);
      return it != column.end() && it->second < rec.fields.size() ? rec.fields[it->second] : std::string();
    };
    const std::string where = "line " + std::to_string(rec.line);
    actors::InvoiceInput head;
    head.carrier = cell("carrier");
    head.invoice_number = cell("invoice_number");
    head.currency = cell("currency");
    const std::string key = head.carrier + '\0' + head.invoice_number;
    auto [it, fresh] = index.emplace(key, out.size());
    if (fresh) {
      out.emplace_back();
      out.back().first_line = rec.line;
      out.back().invoice = head;
    }
    CsvInvoice& target = out[it->second];
    if (!target.status.ok()) return true;  // already refused: its later rows add nothing
    auto refuse = [&](const std::string& col, std::string reason) {
      target.status = bad(where + ": " + col, std::move(reason));
      return true;
    };
    auto& inv = target.invoice;
    auto date = parse_invoice_date(cell("invoice_date"));
    if (!date) return refuse("invoice_date", "must be YYYY-MM-DD or an RFC 3339 date-time");
    if (fresh) {
      inv.invoice_date_us = *date;
      if (auto h = check_invoice_header(inv, "carrier", "invoice_number", "currency"); !h.ok())
        return refuse(h.field(), h.message());
    } else if (inv.invoice_date_us != *date || inv.currency != head.currency) {
      return refuse("invoice_date", "rows of one invoice must agree on invoice_date and currency");
    }
    if (inv.lines.size() == options.max_lines_per_invoice)
      return refuse("invoice_number", "has more than " + std::to_string(options.max_lines_per_invoice) + " lines");
    actors::InvoiceLineInput l;
    l.tracking_number = cell("tracking_number");
    l.reference = cell("reference");
    if (auto w = cell("billed_weight_kg"); !w.empty()) {
      // Grams from kilograms with up to three decimals, exactly (a 3-decimal "currency").
      auto grams = actors::parse_decimal_minor(w, "KWD");
      if (!grams.ok()) return refuse("billed_weight_kg", grams.status().message());
      l.billed_weight_g = *grams;
    }
    auto base = actors::parse_decimal_minor(cell("base"), inv.currency);
    if (!base.ok()) return refuse("base", base.status().message());
    if (auto a = check_amount(*base, "base"); !a.ok()) return refuse("base", a.message());
    l.charges.push_back({"base", *base});
    for (auto& [code, i] : accessorial) {
      if (i >= rec.fields.size() || rec.fields[i].empty()) continue;
      auto amount = actors::parse_decimal_minor(rec.fields[i], inv.currency);
      if (!amount.ok()) return refuse(code, amount.status().message());
      if (auto a = check_amount(*amount, code); !a.ok()) return refuse(code, a.message());
      if (*amount == 0) continue;
      l.charges.push_back({code, *amount});
    }
    if (l.charges.size() > options.max_charges_per_line)
      return refuse("header", "more than " + std::to_string(options.max_charges_per_line) + " charges on one line");
    if (auto c = check_line(l, "line"); !c.ok()) return refuse("tracking_number", c.message());
    inv.lines.push_back(std::move(l));
    return true;
  });
  if (!st.ok()) return st;
  if (!file_error.ok()) return file_error;
  if (column.empty()) return bad("file", "has no header row");
  if (out.empty()) return bad("file", "has no invoice rows");
  return out;
}

}  // namespace waybill::runtime
