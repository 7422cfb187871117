// The facts an invoice line is matched against: which shipment it bills, that shipment
// and its milestones. On one node they are read from its own store. In a cluster an
// invoice settles on its carrier's node while the shipments live on their orders'
// owners, so the settling node asks every member (find_line_facts there), then merges
// the answers with merge_line_facts into what one store holding everything would give.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "waybill/actors/reads.hpp"
#include "waybill/actors/settlement_logic.hpp"
#include "waybill/storage/store.hpp"

namespace waybill::actors {

/// How a line found its shipment; a higher value wins when nodes disagree, in the
/// order a single store tries them.
enum class LineMatch : int8_t {
  none = 0,
  order_reference = 1,     // the reference is an order id with one shipment at the carrier
  shipment_reference = 2,  // the reference is a shipment id
  tracking_number = 3,
};

/// One store's (or, merged, the cluster's) answer for one invoice line.
struct LineFacts {
  LineMatch match = LineMatch::none;
  /// Why nothing matched (set when match is none).
  std::string unmatched_reason;
  /// Nothing matched because the reference names several shipments at the carrier.
  bool ambiguous_reference = false;
  /// Tracking matches: the chosen use's ship day (days since the epoch), and whether it
  /// was shipped by the invoice date (allowing labels bought ahead).
  int64_t ship_day = 0;
  bool shipped_before = false;
  /// Set unless match is none.
  std::optional<fb::ShipmentT> shipment;
  /// The shipment's milestones, at most SettlementOptions::max_evidence_milestones.
  std::vector<fb::MilestoneT> milestones;

  /// "tracking_number" or "reference" (as stored on the invoice line); empty: none.
  const char* matched_by() const;
};

/// The facts this store holds for `line` of a `carrier` invoice dated `invoice_date_us`.
/// not_found is not an error (match none, with the reason); errors are storage faults.
Result<LineFacts> find_line_facts(const storage::Store& store, const std::string& carrier, int64_t invoice_date_us,
                                  const InvoiceLineInput& line, const TrackingLookupOptions& tracking,
                                  size_t max_milestones);

/// What one store holding every node's records would answer, from every node's answer
/// for the same line. `per_node` must hold one answer per member (all reached).
LineFacts merge_line_facts(std::vector<LineFacts> per_node);

/// The question the settling node sends every member: an InvoiceFactsQuery flatbuffer.
std::string encode_facts_query(const InvoiceInput& invoice);
/// Decodes a query into the invoice it asks about (lines hold only their references).
Result<InvoiceInput> decode_facts_query(std::string_view bytes);
/// One node's answers, one per line in line order: an InvoiceFactsAnswer flatbuffer.
std::string encode_facts_answer(const std::vector<LineFacts>& lines);
Result<std::vector<LineFacts>> decode_facts_answer(std::string_view bytes, size_t expected_lines);

}  // namespace waybill::actors
