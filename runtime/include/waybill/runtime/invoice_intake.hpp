// Carrier invoices as they arrive: JSON (POST /v1/invoices) or CSV (the same endpoint
// with Content-Type text/csv, or a file in the invoice drop folder). Parsing has no side
// effects and every error names the field (JSON path, or "line N: column") and reason.
//
// JSON, amounts in integer minor units of `currency`:
//   {"carrier":"parcelco","invoice_number":"INV-1","invoice_date":"2026-11-20","currency":"USD",
//    "lines":[{"tracking_number":"1Z...","reference":"ORD-1","billed_weight_g":1200,
//              "base_minor":1100,"accessorials":[{"code":"fuel","amount_minor":150}]}]}
//
// CSV, one row per invoice line, a header row naming the columns (any order, case
// insensitive): carrier, invoice_number, invoice_date, currency, tracking_number,
// reference, billed_weight_kg, base, and one column per accessorial code (fuel,
// residential, redelivery, ...). Amounts are decimals in the currency's major unit
// ("12.34"), parsed exactly; an empty accessorial cell means not billed. Rows of one
// invoice (same carrier and invoice_number) must agree on date and currency; a file may
// hold several invoices.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "waybill/actors/settlement_logic.hpp"
#include "waybill/runtime/intake.hpp"

namespace waybill::runtime {

Result<actors::InvoiceInput> parse_invoice_json(std::string_view body, const IntakeLimits& limits,
                                                const actors::SettlementOptions& options);

/// An invoice of a CSV file, or why it cannot be taken (`status` not ok; the invoice is
/// refused whole, never in part).
struct CsvInvoice {
  actors::InvoiceInput invoice;
  Status status;
  size_t first_line = 0;  // 1-based line of its first row
};
/// Fails as a whole only when the file itself is unusable (not CSV, no header, a
/// required column missing, too many rows); otherwise each invoice carries its status.
Result<std::vector<CsvInvoice>> parse_invoice_csv(std::string_view text, const actors::SettlementOptions& options,
                                                  size_t max_rows);

/// Body of a dispute decision: {"amount_minor": N, "note": "..."}. amount_minor is
/// required to resolve (the amount agreed with the carrier) and refused otherwise; an
/// empty body is fine to accept or reject.
struct DisputeDecision {
  int64_t amount_minor = 0;
  std::string note;
};
Result<DisputeDecision> parse_dispute_decision(std::string_view body, const IntakeLimits& limits, bool needs_amount);

/// "YYYY-MM-DD" (midnight UTC) or an RFC 3339 date-time, to microseconds since the epoch.
std::optional<int64_t> parse_invoice_date(std::string_view text);

}  // namespace waybill::runtime
