// The settlement ledger: one actor that reconciles carrier invoices and works the
// dispute queue, plus the reads (invoice, disputes, summary) served from storage.
//
// One ledger per node, processing one request at a time and answering only after its
// write committed: whether a shipment was billed before is then always read from
// committed state, so two invoices billing the same shipment cannot both pass as first.
// An invoice is stored whole with every line's outcome, the billing index, the dispute
// entries, the running totals and the freight.* events in ONE write batch: a crash
// leaves either the whole invoice or none of it, and a resend is answered from what is
// stored (same content: the stored result; other content: 409).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "waybill/actors/entity.hpp"
#include "waybill/actors/reads.hpp"
#include "waybill/actors/render_json.hpp"
#include "waybill/actors/settlement_facts.hpp"
#include "waybill/actors/settlement_logic.hpp"
#include "waybill/storage/group_commit.hpp"

namespace waybill::actors {

struct SubmitInvoice {
  InvoiceInput invoice;
  /// The facts of every line, gathered from every cluster member (settlement_facts.hpp)
  /// and merged, one per line; nullopt: read from this node's store (one node).
  std::optional<std::vector<LineFacts>> facts;
};

/// An operator's decision on an open dispute.
struct DisputeAction {
  std::string carrier, invoice_number;
  uint32_t line_no = 0;
  std::string action;          // "accept" (pay as billed), "reject" (refuse), "resolve" (pay amount_minor)
  int64_t amount_minor = 0;    // resolve: the amount agreed with the carrier
  std::string note;
  std::string actor;           // who decided (X-Actor header or "operator")
};

struct SettlementRequest {
  std::variant<SubmitInvoice, DisputeAction> command;
  ReplyFn reply;
};

/// Counters the ledger bumps (exported at scrape time with the stored totals).
struct SettlementStats {
  std::atomic<uint64_t> invoices_processed{0};
  std::atomic<uint64_t> invoices_replayed{0};   // resends answered from storage
  std::atomic<uint64_t> lines_processed{0};
  std::atomic<uint64_t> dispute_actions{0};
  std::atomic<uint64_t> write_failures{0};
  std::atomic<int64_t> queued{0};
};

struct SettlementContext {
  storage::Store* store = nullptr;
  storage::GroupCommitWriter* writer = nullptr;
  const SettlementOptions* options = nullptr;
  TrackingLookupOptions tracking;
  SettlementStats* stats = nullptr;
  /// Microseconds since the epoch decisions are stamped with; null: now_us().
  int64_t (*clock)() = nullptr;
};

caf::actor spawn_settlement_ledger(caf::actor_system& system, const SettlementContext& ctx);

namespace keys {
/// carrier \0 invoice_number (Column::invoices).
std::string invoice(const std::string& carrier, const std::string& invoice_number);
/// carrier \0 invoice_number \0 be32(line) (Column::disputes).
std::string dispute(const std::string& carrier, const std::string& invoice_number, uint32_t line_no);
std::string totals_by_carrier(const std::string& carrier, const std::string& currency);
std::string totals_by_lane(const std::string& carrier, const std::string& lane, const std::string& currency);
}  // namespace keys

/// External ids: invoice "carrier:invoice_number", dispute "carrier:invoice_number:line".
std::string invoice_id(const std::string& carrier, const std::string& invoice_number);
std::string dispute_id(const std::string& carrier, const std::string& invoice_number, uint32_t line_no);
Status parse_invoice_id(std::string_view id, std::string* carrier, std::string* invoice_number);
Status parse_dispute_id(std::string_view id, std::string* carrier, std::string* invoice_number, uint32_t* line_no);

/// "freight": {...} as in events and dispute listings.
void freight_posting(JsonWriter& w, const fb::FreightPostingT& posting);
/// One invoice line as an object, amounts in `currency`.
void invoice_line(JsonWriter& w, const fb::InvoiceLineT& line, const std::string& currency);
std::string render_invoice(const fb::InvoiceT& invoice, bool replayed);

Result<std::string> read_invoice_json(const storage::Store& store, const std::string& carrier,
                                      const std::string& invoice_number);

struct DisputeQuery {
  /// Only disputes in this state; nullopt: any. Default: open.
  std::optional<fb::DisputeState> state = fb::DisputeState::open;
  std::string carrier;                       // empty: any
  std::optional<fb::LineOutcome> outcome;    // nullopt: any
  std::string after;                         // dispute id to continue after (paging)
  size_t limit = 100;                        // most disputes returned
  size_t max_scanned = 100000;               // most entries looked at (bounds one request)
};
Result<std::string> list_disputes_json(const storage::Store& store, const DisputeQuery& query);

/// Stored totals, one row per (carrier, currency) and per (carrier, lane, currency).
struct TotalsRow {
  std::string carrier, lane, currency;       // lane empty: the carrier row
  fb::SettlementTotalsT totals;
};
/// At most `max_rows` rows (bounded by carriers x lanes x currencies in practice).
std::vector<TotalsRow> read_settlement_totals(const storage::Store& store, size_t max_rows = 10000);
/// Match rate, disputed amounts and cost per shipment by carrier and lane.
std::string render_settlement_summary(const std::vector<TotalsRow>& rows, const std::string& carrier_filter);

}  // namespace waybill::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::actors::SettlementRequest>)
