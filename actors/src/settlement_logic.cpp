#include "waybill/actors/settlement_logic.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "waybill/actors/shipment_logic.hpp"

namespace waybill::actors {

namespace {

constexpr const char* kOutcomeNames[kLineOutcomes] = {"matched",   "overbilled", "underbilled",
                                                      "unjustified_accessorial", "duplicate", "unmatched"};
constexpr const char* kDisputeNames[] = {"none", "open", "accepted", "rejected", "resolved"};

bool has_evidence(const std::string& token, const ShipmentFacts& facts, const SettlementOptions& options,
                  std::string* why) {
  const fb::ShipmentT& s = *facts.shipment;
  auto colon = token.find(':');
  std::string kind = token.substr(0, colon);
  std::string value = colon == std::string::npos ? "" : token.substr(colon + 1);
  if (kind == "always") {
    *why = "contract: always";
    return true;
  }
  if (kind == "party" && value == "residential") {
    bool residential = s.ship_to && s.ship_to->company.empty();
    if (residential) *why = "ship-to names no company (residential)";
    return residential;
  }
  if (kind == "package" && value == "oversize") {
    for (auto& p : s.packages) {
      if (!p) continue;
      int64_t longest = std::max({p->length_mm, p->width_mm, p->height_mm});
      if (longest > options.oversize_longest_side_mm) {
        *why = "package longest side " + std::to_string(longest) + " mm";
        return true;
      }
    }
    return false;
  }
  if (!facts.milestones) return false;
  for (auto& m : *facts.milestones) {
    bool hit = (kind == "status" && value == name(m.status)) ||
               (kind == "category" && value == name(m.exception_category)) ||
               (kind == "raw" && value == m.raw_code);
    if (hit) {
      *why = "milestone " + std::string(name(m.status)) + " (" + m.raw_code + ") at " + format_rfc3339(m.event_time_us);
      return true;
    }
  }
  return false;
}

const ChargeRule* rule_for(const SettlementOptions& options, const std::string& carrier, const std::string& code) {
  const ChargeRule* any = nullptr;
  for (auto& r : options.charges) {
    if (r.code != code) continue;
    if (r.carrier == carrier) return &r;
    if (r.carrier == "*" && !any) any = &r;
  }
  return any;
}

bool in_quote(const ChargeRule* rule) {
  return rule && std::find(rule->evidence.begin(), rule->evidence.end(), "quote") != rule->evidence.end();
}

std::unique_ptr<fb::InvoiceChargeT> charge_row(const std::string& code, int64_t billed, int64_t expected,
                                               std::string verdict, std::string evidence) {
  auto c = std::make_unique<fb::InvoiceChargeT>();
  c->code = code;
  c->billed_minor = billed;
  c->expected_minor = expected;
  c->verdict = std::move(verdict);
  c->evidence = std::move(evidence);
  return c;
}

const char* compare(int64_t billed, int64_t expected, const ToleranceRule& tol) {
  if (within_tolerance(billed, expected, tol)) return "ok";
  return billed > expected ? "over" : "under";
}

}  // namespace

const char* name(fb::LineOutcome outcome) {
  auto i = static_cast<size_t>(outcome);
  return i < kLineOutcomes ? kOutcomeNames[i] : "unknown";
}

const char* name(fb::DisputeState state) {
  auto i = static_cast<size_t>(state);
  return i < std::size(kDisputeNames) ? kDisputeNames[i] : "unknown";
}

std::optional<fb::LineOutcome> parse_line_outcome(std::string_view s) {
  for (size_t i = 0; i < kLineOutcomes; ++i)
    if (s == kOutcomeNames[i]) return static_cast<fb::LineOutcome>(i);
  return std::nullopt;
}

std::optional<fb::DisputeState> parse_dispute_state(std::string_view s) {
  for (size_t i = 0; i < std::size(kDisputeNames); ++i)
    if (s == kDisputeNames[i]) return static_cast<fb::DisputeState>(i);
  return std::nullopt;
}

std::vector<ChargeRule> default_charge_rules() {
  return {
      {"*", "base", {"quote"}, std::nullopt},
      {"*", "fuel", {"quote"}, std::nullopt},
      {"*", "residential", {"party:residential"}, std::nullopt},
      {"*", "address_correction", {"category:address_problem"}, std::nullopt},
      {"*", "redelivery", {"status:attempt_failed", "category:recipient_unavailable"}, std::nullopt},
      {"*", "oversize", {"package:oversize"}, std::nullopt},
      {"*", "return", {"status:return_to_sender"}, std::nullopt},
  };
}

const ToleranceRule& tolerance_for(const SettlementOptions& options, const std::string& carrier,
                                   const std::string& charge) {
  static const ToleranceRule kExact{"*", "*", 0, 0};
  const ToleranceRule* best = nullptr;
  int best_rank = -1;
  for (auto& r : options.tolerances) {
    bool carrier_ok = r.carrier == "*" || r.carrier == carrier;
    bool charge_ok = r.charge == "*" || r.charge == charge;
    if (!carrier_ok || !charge_ok) continue;
    int rank = (r.carrier != "*" ? 2 : 0) + (r.charge != "*" ? 1 : 0);
    if (rank > best_rank) best = &r, best_rank = rank;
  }
  return best ? *best : kExact;
}

bool within_tolerance(int64_t billed_minor, int64_t expected_minor, const ToleranceRule& rule) {
  // Both amounts are bounded by kMaxAmountMinor, so neither the difference nor the
  // product with a basis-point count below 10^5 overflows.
  int64_t diff = billed_minor > expected_minor ? billed_minor - expected_minor : expected_minor - billed_minor;
  assert(rule.percent_bp >= 0 && rule.percent_bp <= 100000);
  int64_t relative = (expected_minor < 0 ? -expected_minor : expected_minor) * rule.percent_bp / 10000;
  return diff <= std::max(rule.abs_minor, relative);
}

uint64_t invoice_hash(const InvoiceInput& in) {
  // Fields joined with separators that cannot occur inside them (ids are printable).
  std::string canon = in.carrier + '\x1f' + in.invoice_number + '\x1f' + std::to_string(in.invoice_date_us) + '\x1f' +
                      in.currency;
  for (auto& l : in.lines) {
    canon += '\x1e' + l.tracking_number + '\x1f' + l.reference + '\x1f' + std::to_string(l.billed_weight_g);
    for (auto& c : l.charges) canon += '\x1f' + c.code + '=' + std::to_string(c.amount_minor);
  }
  return fnv1a64(canon);
}

std::string lane_of(const fb::ShipmentT& s) {
  auto country = [](const std::unique_ptr<fb::PartyT>& p) {
    return p && !p->country.empty() ? p->country : std::string("XX");
  };
  return country(s.ship_from) + "-" + country(s.ship_to);
}

fb::InvoiceLineT evaluate_line(const InvoiceLineInput& in, uint32_t line_no, const std::string& carrier,
                               const std::string& currency, const ShipmentFacts* facts,
                               const std::string& unmatched_reason, const std::string& duplicate_of,
                               const SettlementOptions& options) {
  fb::InvoiceLineT out;
  out.line_no = line_no;
  out.tracking_number = in.tracking_number;
  out.reference = in.reference;
  out.billed_weight_g = in.billed_weight_g;
  for (auto& c : in.charges) out.billed_minor += std::clamp(c.amount_minor, -kMaxAmountMinor, kMaxAmountMinor);

  const fb::ShipmentT* s = facts ? facts->shipment : nullptr;
  if (s) {
    out.shipment_id = s->shipment_id;
    out.order_id = s->order_id;
    out.lane = lane_of(*s);
  }
  std::string reason = unmatched_reason;
  if (s && (!s->rate || !s->rate->total)) reason = "shipment " + s->shipment_id + " has no booked quote to compare with";
  else if (s && s->rate->total->currency != currency)
    reason = "invoice is in " + currency + ", the quote in " + s->rate->total->currency + ": amounts are not converted";
  if (!s || !reason.empty()) {
    out.outcome = fb::LineOutcome::unmatched;
    out.reason = reason.empty() ? "no shipment found" : reason;
    for (auto& c : in.charges) out.charges.push_back(charge_row(c.code, c.amount_minor, 0, "unmatched", ""));
    out.disputed_minor = out.billed_minor;
    out.dispute = fb::DisputeState::open;
    return out;
  }

  if (s->booking_state == fb::BookingState::voided && duplicate_of.empty()) {
    // A voided label is owed nothing; billing it is the classic overcharge.
    out.outcome = fb::LineOutcome::overbilled;
    out.reason = "label of shipment " + s->shipment_id + " was voided";
    for (auto& c : in.charges) out.charges.push_back(charge_row(c.code, c.amount_minor, 0, "over", "label voided"));
    out.disputed_minor = out.billed_minor;
    out.dispute = fb::DisputeState::open;
    return out;
  }

  // Quoted charges are compared with the snapshot: charge by charge when the quote has a
  // breakdown, as one total ("quote_total") when it has only a total.
  const fb::RateSnapshotT& quote = *s->rate;
  const bool breakdown = !quote.charges.empty();
  int64_t quoted_billed = 0;
  bool any_over = false, any_under = false, any_unjustified = false;
  // What is in question: the excess of charges above their expected amount, the whole of
  // unjustified charges, the shortfall of charges below it.
  int64_t over_minor = 0, under_minor = 0, unjustified_minor = 0;
  auto tally = [&](std::string_view verdict, int64_t billed, int64_t expected) {
    any_over |= verdict == "over";
    any_under |= verdict == "under";
    if (verdict == "over") over_minor += billed - expected;
    if (verdict == "under") under_minor += expected - billed;
  };
  std::string first_unjustified;
  for (auto& c : in.charges) {
    const ChargeRule* rule = rule_for(options, carrier, c.code);
    if (in_quote(rule)) {
      if (!breakdown) {
        quoted_billed += c.amount_minor;
        out.charges.push_back(charge_row(c.code, c.amount_minor, c.amount_minor, "in_quote", "quote " + quote.quote_id));
        continue;
      }
      int64_t expected = 0;
      for (auto& q : quote.charges)
        if (q && q->code == c.code && q->amount) expected += q->amount->amount_minor;
      std::string_view verdict = compare(c.amount_minor, expected, tolerance_for(options, carrier, c.code));
      tally(verdict, c.amount_minor, expected);
      out.charges.push_back(charge_row(c.code, c.amount_minor, expected, std::string(verdict), "quote " + quote.quote_id));
      out.expected_minor += expected;
      continue;
    }
    std::string why;
    bool justified = false;
    if (rule)
      for (auto& token : rule->evidence)
        if (has_evidence(token, *facts, options, &why)) { justified = true; break; }
    if (!justified) {
      any_unjustified = true;
      unjustified_minor += c.amount_minor;
      if (first_unjustified.empty()) first_unjustified = c.code;
      out.charges.push_back(charge_row(c.code, c.amount_minor, 0, "unjustified",
                                       rule ? "no evidence in the shipment's history" : "no rule for this charge"));
      continue;
    }
    int64_t expected = rule->contract_minor.value_or(c.amount_minor);
    std::string_view verdict = compare(c.amount_minor, expected, tolerance_for(options, carrier, c.code));
    if (verdict == "ok") verdict = "justified";
    tally(verdict, c.amount_minor, expected);
    out.charges.push_back(charge_row(c.code, c.amount_minor, expected, std::string(verdict), why));
    out.expected_minor += expected;
  }
  if (!breakdown) {
    int64_t expected = quote.total->amount_minor;
    std::string_view verdict = compare(quoted_billed, expected, tolerance_for(options, carrier, "quote_total"));
    tally(verdict, quoted_billed, expected);
    out.charges.push_back(charge_row("quote_total", quoted_billed, expected, std::string(verdict), "quote " + quote.quote_id));
    out.expected_minor += expected;
  }

  if (!duplicate_of.empty()) {
    out.outcome = fb::LineOutcome::duplicate;
    out.duplicate_of = duplicate_of;
    out.reason = "shipment " + s->shipment_id + " was billed before, at " + duplicate_of;
    out.disputed_minor = out.billed_minor;
  } else if (any_unjustified) {
    out.outcome = fb::LineOutcome::unjustified_accessorial;
    out.reason = "accessorial '" + first_unjustified + "' without cause in the shipment's history";
    out.disputed_minor = unjustified_minor + over_minor;
  } else if (any_over) {
    out.outcome = fb::LineOutcome::overbilled;
    out.reason = "billed " + std::to_string(out.billed_minor) + " against " + std::to_string(out.expected_minor) +
                 " expected (" + currency + " minor units)";
    out.disputed_minor = over_minor;
  } else if (any_under) {
    out.outcome = fb::LineOutcome::underbilled;
    out.reason = "billed " + std::to_string(out.billed_minor) + " against " + std::to_string(out.expected_minor) +
                 " expected (" + currency + " minor units)";
    out.disputed_minor = under_minor;
  } else {
    out.outcome = fb::LineOutcome::matched;
  }
  out.dispute = out.outcome == fb::LineOutcome::matched ? fb::DisputeState::none : fb::DisputeState::open;
  return out;
}

int currency_exponent(std::string_view c) {
  static constexpr std::string_view zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
                                              "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"};
  static constexpr std::string_view three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
  for (auto z : zero)
    if (c == z) return 0;
  for (auto t : three)
    if (c == t) return 3;
  return 2;
}

bool valid_currency(std::string_view c) {
  return c.size() == 3 && std::all_of(c.begin(), c.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
}

Result<int64_t> parse_decimal_minor(std::string_view text, std::string_view currency) {
  const int exponent = currency_exponent(currency);
  std::string_view t = text;
  bool negative = false;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) negative = t[0] == '-', t.remove_prefix(1);
  if (t.empty()) return Status{Code::invalid_argument, "is not a decimal amount"};
  int64_t units = 0;
  int fraction_digits = -1;  // -1: no point seen yet
  size_t digits = 0;
  for (char ch : t) {
    if (ch == '.') {
      if (fraction_digits >= 0) return Status{Code::invalid_argument, "has more than one decimal point"};
      fraction_digits = 0;
      continue;
    }
    if (ch < '0' || ch > '9') return Status{Code::invalid_argument, "is not a decimal amount"};
    if (fraction_digits >= 0 && ++fraction_digits > exponent)
      return Status{Code::invalid_argument, "has more decimals than " + std::string(currency) + " has (" +
                                                std::to_string(exponent) + ")"};
    if (++digits > 15) return Status{Code::invalid_argument, "is too large"};
    units = units * 10 + (ch - '0');
  }
  if (digits == 0) return Status{Code::invalid_argument, "is not a decimal amount"};
  for (int i = std::max(fraction_digits, 0); i < exponent; ++i) units *= 10;
  if (units > kMaxAmountMinor) return Status{Code::invalid_argument, "is too large"};
  return negative ? -units : units;
}

}  // namespace waybill::actors
