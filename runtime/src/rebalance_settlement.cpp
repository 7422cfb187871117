// A carrier's settlement in the rebalance (rebalance.hpp): which carrier a settlement
// record or a freight event belongs to. The ledger keeps a carrier's invoices, disputes,
// totals and billing index together on the owner of settlement_key(carrier)
// (cluster_routing.hpp), because whether a shipment was billed before must be decided
// by one serial ledger reading one store; so they move together, to that key's new
// owner, as an order's records move to the order's. Pure: nothing here reads a store.
//
// Records are attributed by their own key or value, never through another record, so
// the settlement steps may run in any order and a step interrupted after its copies
// (a kill) is classified the same way on the rerun.
#include "rebalance_internal.hpp"
#include "waybill/runtime/cluster_routing.hpp"

namespace waybill::runtime {

using storage::Column;

namespace {

// The text before the first '\0' of `key` after `skip` bytes; nullopt when there is no
// '\0' or nothing before it (no key the ledger writes looks like that).
std::optional<std::string> before_nul(std::string_view key, size_t skip) {
  if (key.size() <= skip) return std::nullopt;
  key.remove_prefix(skip);
  auto nul = key.find('\0');
  if (nul == std::string_view::npos || nul == 0) return std::nullopt;
  return std::string(key.substr(0, nul));
}

// The carrier of an invoice id "carrier:invoice_number" (or a billing's value
// "carrier:invoice_number#line"): carrier names hold no ':' (parse_invoice_id).
std::optional<std::string> carrier_of_invoice_id(std::string_view id) {
  auto colon = id.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  return std::string(id.substr(0, colon));
}

}  // namespace

std::optional<std::string> settlement_record_carrier(Column column, std::string_view key, std::string_view value) {
  switch (column) {
    case Column::invoices:   // carrier \0 invoice_number
    case Column::disputes:   // carrier \0 invoice_number \0 be32(line)
      return before_nul(key, 0);
    case Column::settlement_totals:  // 'c' carrier \0 currency | 'l' carrier \0 lane \0 currency
      if (key.empty() || (key[0] != 'c' && key[0] != 'l')) return std::nullopt;
      return before_nul(key, 1);
    case Column::billings:  // shipment_id -> "carrier:invoice_number#line"
      // Keyed by the shipment, which may live on any node: the value names the invoice
      // that billed it first, and the billing index goes where that invoice's ledger
      // goes, or the next invoice billing the shipment would not be found a duplicate.
      // Only invoices of a shipment's own carrier match it (settlement_facts.cpp), so
      // two carriers' ledgers meeting on one node never hold the same billing key.
      return carrier_of_invoice_id(value);
    default:
      return std::nullopt;
  }
}

// A freight event moves with its invoice, to the carrier's new settlement owner, and is
// appended there like an order's event: a new position, in its source order (so each
// invoice's events stay in order, entityseq unchanged), movedfrom/movedfromposition set.
//
// Its event_index entry (the billed line's order id \0 position, written by the ledger
// so that the order's trace lists the line) moves with it, re-keyed to the new position
// on the event's new node - not to the order's owner, and not dropped. An index entry
// names a position in its own store's outbox: GET /v1/trace reads the event at that
// position on the node serving the trace, and fails when it is missing. Left on the old
// node the entry would dangle; sent to the order's owner it would name a position of
// another node's outbox. Moved with the event, the new node holds exactly what its own
// ledger writes when it settles a line, so a trace served where the order and its
// carrier's settlement live together lists the line, before and after a rebalance
// alike; a trace served elsewhere does not, as for lines settled after the change.
// A line that matched no shipment has no order id and no entry (group_commit.cpp).
std::optional<EventHome> freight_event_home(const fb::EventT& ev) {
  auto carrier = freight_event_carrier(ev);
  if (!carrier) return std::nullopt;
  return EventHome{settlement_key(*carrier), ev.order_id, true};
}

std::optional<std::string> freight_event_carrier(const fb::EventT& ev) {
  // The posting names the carrier; its entity id ("carrier:invoice_number") does too.
  if (ev.freight && !ev.freight->carrier.empty()) return ev.freight->carrier;
  return carrier_of_invoice_id(ev.entity_id);
}

}  // namespace waybill::runtime
