#include "waybill/actors/order_logic.hpp"

#include <algorithm>

namespace waybill::actors {

namespace {

using S = OrderStatus;

bool is_terminal(S s) { return s == S::delivered || s == S::cancelled; }

// Statuses from which shipment progress may move the order forward.
bool before_shipped(S s) {
  return s == S::validated || s == S::released || s == S::allocated || s == S::packed ||
         s == S::shipping;
}

Status conflict(const fb::OrderT& o, const char* action) {
  return {Code::conflict, std::string("cannot ") + action + " an order in status '" +
                              name(o.status) + "'", "status"};
}

void emit(fb::OrderT& o, Decision& d, S to, std::string reason, int64_t now) {
  o.status = to;
  o.status_reason = reason;
  o.updated_us = now;
  ++o.version;
  d.events.push_back({std::string("order.") + name(to), std::move(reason), std::nullopt});
}

// Status the shipments justify, or nullopt when they justify no change.
std::optional<S> derived_from_shipments(const fb::OrderT& o) {
  size_t live = 0, delivered = 0;
  bool exception = false, confirmed = false;
  for (auto& ref : o.shipments) {
    if (ref->status == TrackingStatus::cancelled) continue;
    ++live;
    if (ref->status == TrackingStatus::delivered) ++delivered;
    if (ref->status == TrackingStatus::exception) exception = true;
    if (ref->carrier_confirmed) confirmed = true;
  }
  if (live == 0) return std::nullopt;
  if (delivered == live) return S::delivered;
  if (exception) return S::exception;
  if (confirmed) return S::shipped;
  return S::shipping;
}

Decision on_create(std::optional<fb::OrderT>& state, const CreateOrder& c, int64_t now) {
  if (state) {
    if (state->request_hash == c.order.request_hash) return {};  // replay: no change
    return {Status{Code::conflict, "order '" + c.order.order_id +
                                       "' already exists with a different body", "order_id"}, {}};
  }
  Decision d;
  fb::OrderT o = c.order;
  o.created_us = now;
  o.version = 0;
  emit(o, d, S::received, "accepted from " + (o.source_system.empty() ? std::string("api") : o.source_system), now);
  emit(o, d, S::validated, "schema and business rules passed", now);
  state = std::move(o);
  return d;
}

Decision simple(std::optional<fb::OrderT>& state, std::initializer_list<S> from, S to,
                const char* action, std::string reason, int64_t now) {
  if (!state) return {Status{Code::not_found, "order not found"}, {}};
  auto& o = *state;
  if (o.status == to) return {};  // repeating a completed step is a no-op, not an error
  if (std::find(from.begin(), from.end(), o.status) == from.end()) return {conflict(o, action), {}};
  Decision d;
  emit(o, d, to, std::move(reason), now);
  return d;
}

Decision on_pack(std::optional<fb::OrderT>& state, const PackOrder& p, int64_t now) {
  if (!state) return {Status{Code::not_found, "order not found"}, {}};
  if (state->status != S::released && state->status != S::allocated)
    return {conflict(*state, "pack"), {}};
  if (!p.packages.empty()) {
    state->packages.clear();
    for (auto& pkg : p.packages) state->packages.push_back(std::make_unique<fb::PackageT>(pkg));
  }
  Decision d;
  emit(*state, d, S::packed,
       "warehouse confirmed " + std::to_string(state->packages.size()) + " package(s)", now);
  return d;
}

Decision on_cancel(std::optional<fb::OrderT>& state, const CancelOrder& c, int64_t now) {
  if (!state) return {Status{Code::not_found, "order not found"}, {}};
  auto& o = *state;
  if (o.status == S::cancelled) return {};
  bool confirmed = std::any_of(o.shipments.begin(), o.shipments.end(),
                               [](auto& r) { return r->carrier_confirmed; });
  if (is_terminal(o.status) || o.status == S::shipped || confirmed)
    return {Status{Code::conflict, std::string("cannot cancel an order in status '") +
                                       name(o.status) + "' after the carrier took it", "status"}, {}};
  Decision d;
  emit(o, d, S::cancelled, c.reason.empty() ? "cancelled by request" : c.reason, now);
  return d;
}

Decision on_shipment(std::optional<fb::OrderT>& state, const ShipmentObserved& s, int64_t now) {
  if (!state) return {Status{Code::not_found, "order not found"}, {}};
  auto& o = *state;
  auto it = std::find_if(o.shipments.begin(), o.shipments.end(),
                         [&](auto& r) { return r->shipment_id == s.ref.shipment_id; });
  if (it == o.shipments.end()) {
    o.shipments.push_back(std::make_unique<fb::ShipmentRefT>(s.ref));
  } else if (**it == s.ref) {
    return {};
  } else {
    // carrier confirmation is sticky: a later notification cannot take it back
    bool confirmed = (*it)->carrier_confirmed || s.ref.carrier_confirmed;
    **it = s.ref;
    (*it)->carrier_confirmed = confirmed;
  }
  Decision d;
  auto target = derived_from_shipments(o);
  if (target && *target != o.status && order_transition_allowed(o.status, *target)) {
    std::string reason = "shipment " + s.ref.shipment_id + " is " + name(s.ref.status);
    // Skipping `shipping` would hide the step in the event stream; emit it first.
    if (before_shipped(o.status) && o.status != S::shipping && *target != S::shipping &&
        order_transition_allowed(o.status, S::shipping))
      emit(o, d, S::shipping, reason, now);
    emit(o, d, *target, std::move(reason), now);
  }
  if (d.events.empty()) {
    ++o.version;  // the shipment list changed: record it so the change is in the stream
    o.updated_us = now;
    d.events.push_back({"order.shipment_updated",
                        "shipment " + s.ref.shipment_id + " is " + name(s.ref.status), std::nullopt});
  }
  return d;
}

}  // namespace

namespace {

template <class T>
std::vector<std::unique_ptr<T>> boxed(const std::vector<T>& items) {
  std::vector<std::unique_ptr<T>> out;
  for (auto& i : items) out.push_back(std::make_unique<T>(i));
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// Source data may change until a label is bought for it: after that the carrier holds
// the address and the parcel, and a change would silently diverge from what ships.
Decision on_update(std::optional<fb::OrderT>& state, const UpdateOrder& c, int64_t now) {
  if (!state) return {Status{Code::not_found, "order not found"}, {}};
  auto& o = *state;
  bool open = o.status == S::received || o.status == S::validated || o.status == S::released ||
              o.status == S::allocated || o.status == S::packed;
  if (!open)
    return {Status{Code::conflict, "order in status '" + std::string(name(o.status)) +
                                       "' can no longer change " + joined(c.fields), "status"}, {}};
  if (c.ship_to) o.ship_to = std::make_unique<fb::PartyT>(*c.ship_to);
  if (c.ship_from) o.ship_from = std::make_unique<fb::PartyT>(*c.ship_from);
  if (c.lines) o.lines = boxed(*c.lines);
  if (c.references) o.references = boxed(*c.references);
  if (c.service_level) o.service_level = *c.service_level;
  if (c.packages) o.packages = boxed(*c.packages);
  o.updated_us = now;
  ++o.version;
  Decision d;
  d.events.push_back({"order.updated", c.source + " changed " + joined(c.fields), std::nullopt});
  return d;
}

Decision on_violation(std::optional<fb::OrderT>& state, const RecordOwnershipViolation& c, int64_t now) {
  if (!state) return {Status{Code::not_found, "order not found"}, {}};
  std::string reason;
  for (auto& [field, owner] : c.fields)
    reason += (reason.empty() ? "" : "; ") + c.source + " may not change " + field + " (owned by " + owner + ")";
  state->updated_us = now;
  ++state->version;
  Decision d;
  d.events.push_back({"order.update_rejected", std::move(reason), std::nullopt});
  return d;
}

}  // namespace

bool order_transition_allowed(S from, S to) {
  switch (to) {
    case S::received: return false;
    case S::validated: return from == S::received;
    case S::released: return from == S::validated;
    case S::allocated: return from == S::released;
    case S::packed: return from == S::released || from == S::allocated;
    // exception -> shipping: a booking exception resolved before any carrier scan.
    case S::shipping:
      return from == S::validated || from == S::released || from == S::allocated || from == S::packed ||
             from == S::exception;
    case S::shipped: return before_shipped(from) || from == S::exception;
    case S::delivered: return before_shipped(from) || from == S::shipped || from == S::exception;
    case S::exception: return before_shipped(from) || from == S::shipped;
    case S::cancelled: return !is_terminal(from) && from != S::shipped;
  }
  return false;
}

const char* command_name(const OrderCommand& cmd) {
  static const char* const names[] = {"create", "release", "allocate", "pack", "cancel", "shipment_observed",
                                      "update", "ownership_violation"};
  static_assert(sizeof(names) / sizeof(names[0]) == std::variant_size_v<OrderCommand>);
  return names[cmd.index()];
}

Decision decide(std::optional<fb::OrderT>& state, const OrderCommand& cmd, int64_t now) {
  // A rejected command must leave the state untouched: work on a copy of the state
  // (orders change a few times in their life, so the copy is cheap in aggregate).
  std::optional<fb::OrderT> next = state;
  Decision d = std::visit(
      [&](auto& c) -> Decision {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, CreateOrder>) return on_create(next, c, now);
        if constexpr (std::is_same_v<T, ReleaseOrder>)
          return simple(next, {S::validated}, S::released, "release", "released to the warehouse", now);
        if constexpr (std::is_same_v<T, AllocateOrder>)
          return simple(next, {S::released}, S::allocated, "allocate", "stock allocated", now);
        if constexpr (std::is_same_v<T, PackOrder>) return on_pack(next, c, now);
        if constexpr (std::is_same_v<T, CancelOrder>) return on_cancel(next, c, now);
        if constexpr (std::is_same_v<T, ShipmentObserved>) return on_shipment(next, c, now);
        if constexpr (std::is_same_v<T, UpdateOrder>) return on_update(next, c, now);
        if constexpr (std::is_same_v<T, RecordOwnershipViolation>) return on_violation(next, c, now);
      },
      cmd);
  if (d.status.ok() && !d.events.empty()) state = std::move(next);
  return d;
}

}  // namespace waybill::actors
