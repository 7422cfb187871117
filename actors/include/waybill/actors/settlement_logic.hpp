// Freight settlement as pure functions: one carrier invoice line against the shipment it
// bills - the rate snapshot stored at booking plus the accessorials that the shipment's
// own history justifies - under configurable tolerances. No I/O: the ledger actor
// (settlement.hpp) looks the shipment up and persists what this decides.
//
// Money is integer minor units of the invoice currency throughout; a line whose quote is
// in another currency is never compared (it is unmatched, saying why).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/actors/model.hpp"
#include "waybill/status.hpp"

namespace waybill::actors {

const char* name(fb::LineOutcome outcome);
const char* name(fb::DisputeState state);
std::optional<fb::LineOutcome> parse_line_outcome(std::string_view s);
std::optional<fb::DisputeState> parse_dispute_state(std::string_view s);
inline constexpr size_t kLineOutcomes = 6;
/// Largest amount accepted anywhere, in minor units: far above any freight bill and far
/// below int64 overflow, so sums over a line's charges cannot overflow.
inline constexpr int64_t kMaxAmountMinor = 10'000'000'000'000;

/// How far a billed charge may differ from what is expected and still count as equal:
/// |billed - expected| <= max(abs_minor, expected * percent_bp / 10000).
struct ToleranceRule {
  /// Carrier name, or "*" for any. Default: "*".
  std::string carrier = "*";
  /// Charge code ("base", "fuel", ...; "quote_total" for the quoted charges together),
  /// or "*" for any. Default: "*".
  std::string charge = "*";
  /// Absolute allowance in minor units of the invoice currency. Default: 100.
  int64_t abs_minor = 100;
  /// Relative allowance in basis points of the expected amount (100 = 1 %). Default: 100.
  int64_t percent_bp = 100;
};

/// When a billed charge is owed. Evidence tokens, any one of which justifies it:
///   quote              - covered by the booking quote (compared with the rate snapshot)
///   status:<tracking>  - a milestone with that canonical status (e.g. status:attempt_failed)
///   category:<reason>  - a milestone with that exception category (category:address_problem)
///   raw:<carrier code> - a milestone with that raw carrier code
///   package:oversize   - a package whose longest side exceeds oversize_longest_side_mm
///   party:residential  - the ship-to party names no company
///   always             - agreed in the contract for every shipment
struct ChargeRule {
  /// Carrier name, or "*" for any. Default: "*".
  std::string carrier = "*";
  /// Charge code as billed ("redelivery"). Required.
  std::string code;
  std::vector<std::string> evidence;
  /// Contract amount in minor units when justified; compared under the tolerances.
  /// Unset: the billed amount is accepted once justified. Default: unset.
  std::optional<int64_t> contract_minor;
};

/// base and fuel are in the quote; residential, address_correction, redelivery,
/// oversize and return need their evidence.
std::vector<ChargeRule> default_charge_rules();

struct SettlementOptions {
  /// Most specific rule wins (carrier and charge > carrier > charge > any). Default: one
  /// rule for any carrier and charge: 100 minor units or 1 %.
  std::vector<ToleranceRule> tolerances{ToleranceRule{}};
  /// Charge codes and what justifies them; a billed code without a rule is
  /// unjustified. Default: see default_charge_rules().
  std::vector<ChargeRule> charges = default_charge_rules();
  /// A package longer than this on its longest side justifies "oversize", in mm.
  /// Default: 1220 (48 in).
  int64_t oversize_longest_side_mm = 1220;
  /// Most lines in one invoice; more is refused whole. Default: 10000.
  size_t max_lines_per_invoice = 10000;
  /// Most charges on one line. Default: 32.
  size_t max_charges_per_line = 32;
  /// Invoices and dispute actions waiting for the ledger; beyond: 503. Default: 64.
  size_t max_queued_requests = 64;
  /// Milestones of a shipment read as evidence, at most. Default: 1000.
  size_t max_evidence_milestones = 1000;
};

/// The rule that applies to `carrier` and `charge`.
const ToleranceRule& tolerance_for(const SettlementOptions& options, const std::string& carrier,
                                   const std::string& charge);
/// True when `billed` is within the tolerance of `expected`.
bool within_tolerance(int64_t billed_minor, int64_t expected_minor, const ToleranceRule& rule);

struct BilledCharge {
  std::string code;
  int64_t amount_minor = 0;
};

/// One invoice line as received.
struct InvoiceLineInput {
  std::string tracking_number;
  std::string reference;       // order id or shipment id
  int64_t billed_weight_g = 0;
  std::vector<BilledCharge> charges;  // base first, then accessorials
};

/// One carrier invoice as received.
struct InvoiceInput {
  std::string carrier;
  std::string invoice_number;
  int64_t invoice_date_us = 0;
  std::string currency;
  std::vector<InvoiceLineInput> lines;
  std::string source = "api";  // "api" or "file:<name>"
};

/// Canonical hash of an invoice's content (a resend must carry the same content).
uint64_t invoice_hash(const InvoiceInput& invoice);

/// What matching knows of the billed shipment.
struct ShipmentFacts {
  const fb::ShipmentT* shipment = nullptr;
  const std::vector<fb::MilestoneT>* milestones = nullptr;
};

/// Evaluates one line. `facts` null: unmatched for `unmatched_reason`. `duplicate_of`
/// non-empty: the shipment was billed before, at that line. Sets every field of the
/// result but dispute state (open for anything but matched).
fb::InvoiceLineT evaluate_line(const InvoiceLineInput& line, uint32_t line_no, const std::string& carrier,
                               const std::string& currency, const ShipmentFacts* facts,
                               const std::string& unmatched_reason, const std::string& duplicate_of,
                               const SettlementOptions& options);

/// "US-DE": ship-from country to ship-to country ("XX" where unknown).
std::string lane_of(const fb::ShipmentT& shipment);

/// Exact decimal text ("12.34", "-0.5", "7") to minor units of `currency` (ISO 4217
/// exponent: 0 for JPY/KRW/..., 3 for BHD/KWD/..., else 2). More fraction digits than
/// the currency has, or anything but digits and one point, is an error.
Result<int64_t> parse_decimal_minor(std::string_view text, std::string_view currency);
/// Decimal places of the currency's minor unit.
int currency_exponent(std::string_view currency);
/// True for three upper-case ASCII letters.
bool valid_currency(std::string_view currency);

}  // namespace waybill::actors
