// Which order (or carrier's settlement) a stored record belongs to, by the key layouts
// of storage/store.hpp, and who owns it under a member list. Pure: the store is reached
// only through the shipment lookup the caller passes.
#include <simdjson.h>

#include "rebalance_internal.hpp"
#include "waybill/actors/model.hpp"
#include "waybill/actors/sla_logic.hpp"
#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/rebalance.hpp"

namespace waybill::runtime {

using storage::Column;
using Kind = RecordEntity::Kind;

namespace {

RecordEntity orphan() { return {Kind::orphan, {}, {}}; }

RecordEntity of_order(std::string_view order_id) {
  if (order_id.empty()) return orphan();
  return {Kind::order, std::string(order_id), {}};
}

RecordEntity of_carrier(std::string carrier) { return {Kind::carrier, {}, std::move(carrier)}; }

RecordEntity of_shipment(std::string_view shipment_id, const ShipmentOrderLookup& lookup) {
  auto order = lookup(shipment_id);
  if (!order) return orphan();
  return of_order(*order);
}

// The part of `key` after its `n`th '\0' (the shipment id of manifests, tracking_poll).
std::optional<std::string_view> after_nul(std::string_view key, int n) {
  for (int i = 0; i < n; ++i) {
    auto p = key.find('\0');
    if (p == std::string_view::npos) return std::nullopt;
    key.remove_prefix(p + 1);
  }
  return key;
}

// The top-level "order_id" of a stored answer: order and shipment answers name it;
// tracking, subscription and settlement answers do not (they stay on their node).
std::optional<std::string> answer_order_id(std::string_view body) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) return std::nullopt;
  std::string_view id;
  if (doc["order_id"].get_string().get(id) != simdjson::SUCCESS || id.empty()) return std::nullopt;
  return std::string(id);
}

RecordEntity idempotency_entity(std::string_view key, std::string_view value, const ShipmentOrderLookup& lookup) {
  auto nul = key.find('\0');
  if (nul == std::string_view::npos) return {};
  auto scope = key.substr(0, nul), id = key.substr(nul + 1);
  if (scope == "order.create") return of_order(id);
  if (scope == "shipment.create") return of_shipment(id, lookup);
  if (scope != "key") return {};
  auto rec = decode<fb::IdempotencyRecordT>(value);
  if (!rec) return {};
  auto order = answer_order_id(rec->body);
  return order ? of_order(*order) : RecordEntity{};
}

}  // namespace

std::optional<std::string> shipment_order_id(std::string_view shipment_id, std::string_view header) {
  auto h = aligned_root<fb::Shipment>(header);
  if (!h) return std::nullopt;
  if ((*h)->order_id() && (*h)->order_id()->size() > 0) return (*h)->order_id()->str();
  return routing_order_of_shipment(shipment_id);
}

std::optional<std::string> event_order_id(const fb::EventT& ev, const ShipmentOrderLookup& lookup) {
  if (ev.kind == fb::EntityKind::invoice) return std::nullopt;  // its carrier's (freight_event_home)
  if (!ev.order_id.empty()) return ev.order_id;
  if (ev.kind == fb::EntityKind::order) return ev.entity_id;
  return lookup(ev.entity_id);
}

std::optional<EventHome> event_home(const fb::EventT& ev, const ShipmentOrderLookup& lookup) {
  if (ev.kind == fb::EntityKind::invoice) return freight_event_home(ev);
  auto order = event_order_id(ev, lookup);
  if (!order) return std::nullopt;
  return EventHome{*order, *order, false};
}

std::optional<std::string> new_owner_if_moved(const std::vector<std::string>& to_ids, const std::string& from_id,
                                              std::string_view key) {
  std::vector<ClusterMember> members;
  members.reserve(to_ids.size());
  for (auto& id : to_ids) members.push_back({id, "", 0});
  const std::string& owner = members[hrw_owner(members, key)].id;
  if (owner == from_id) return std::nullopt;
  return owner;
}

std::string routing_key(const RecordEntity& entity) {
  switch (entity.kind) {
    case Kind::order:
      return entity.order_id;
    case Kind::carrier:
      return settlement_key(entity.carrier);
    case Kind::node:
    case Kind::orphan:
      return {};
  }
  return {};
}

RecordEntity record_entity(Column column, std::string_view key, std::string_view value,
                           const ShipmentOrderLookup& lookup) {
  switch (column) {
    case Column::orders:
      return of_order(key);
    case Column::order_shipments:
      return of_order(key.substr(0, key.find('\0')));
    case Column::shipments:
      if (auto order = shipment_order_id(key, value)) return of_order(*order);
      return orphan();
    case Column::milestones:
      // shipment_id \0 be32(index)
      if (key.size() < 5 || key[key.size() - 5] != '\0') return orphan();
      return of_shipment(key.substr(0, key.size() - 5), lookup);
    case Column::tracking_index:
      return of_shipment(value, lookup);
    case Column::exceptions:
      return of_shipment(key, lookup);
    case Column::manifests:
      if (auto id = after_nul(key, 2)) return of_shipment(*id, lookup);
      return orphan();
    case Column::timers:
      if (auto t = actors::parse_sla_timer_key(key)) return of_shipment(t->shipment_id, lookup);
      return orphan();
    case Column::tracking_poll:
      if (auto id = after_nul(key, 1)) return of_shipment(*id, lookup);
      return orphan();
    case Column::work:
      if (key.substr(0, 2) == "o/") return of_order(key.substr(2));
      if (key.substr(0, 2) == "b/") return of_shipment(key.substr(2), lookup);
      return {};
    case Column::idempotency:
      return idempotency_entity(key, value, lookup);
    case Column::events: {
      auto ev = decode<fb::EventT>(value);
      if (!ev) return {};
      if (ev->kind == fb::EntityKind::invoice) {
        auto carrier = freight_event_carrier(*ev);
        return carrier ? of_carrier(std::move(*carrier)) : orphan();
      }
      auto order = event_order_id(*ev, lookup);
      return order ? of_order(*order) : RecordEntity{};
    }
    case Column::invoices:
    case Column::billings:
    case Column::disputes:
    case Column::settlement_totals:
      if (auto carrier = settlement_record_carrier(column, key, value)) return of_carrier(*carrier);
      return orphan();
    // event_index entries move with their events (the events step); dead letters follow
    // their events too. The rest is the node's: metadata, subscriptions.
    case Column::event_index:
    case Column::dead_letters:
    case Column::meta:
    case Column::subscriptions:
      return {};
  }
  return {};
}

}  // namespace waybill::runtime
