// Order lifecycle as a pure transition function: state x command -> new state + events,
// or a rejection with a reason. No I/O, no clock reads (time is an input).
//
//   received -> validated -> released -> (allocated, packed) -> shipping -> shipped
//            -> delivered | exception | cancelled
//
// `shipped` is reached only from carrier evidence (a pickup or later physical scan on a
// shipment of the order), never from a request.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "waybill/actors/model.hpp"
#include "waybill/status.hpp"

namespace waybill::actors {

struct EventSpec {
  std::string type;    // "order.released", "shipment.in_transit", ...
  std::string reason;  // why it happened, for the audit trail
  std::optional<fb::MilestoneT> milestone;
  std::optional<fb::SlaTimerT> sla;                 // shipment.sla_breached
  std::optional<fb::NotificationT> notification;    // notification.*
};

struct CreateOrder { fb::OrderT order; };  // fully validated; request_hash set
struct ReleaseOrder {};
struct AllocateOrder {};
struct PackOrder { std::vector<fb::PackageT> packages; };  // empty: keep the order's packages
struct CancelOrder { std::string reason; };
/// A shipment of this order was registered or changed status.
struct ShipmentObserved { fb::ShipmentRefT ref; };

/// A source system changes fields it owns (checked against the system-of-record table
/// before it gets here). Only fields present are changed.
struct UpdateOrder {
  std::string source;                 // "erp", "wms", ...
  std::vector<std::string> fields;    // names of the fields present, for the audit trail
  std::optional<fb::PartyT> ship_to, ship_from;
  std::optional<std::vector<fb::OrderLineT>> lines;
  std::optional<std::vector<fb::KeyValueT>> references;
  std::optional<ServiceLevel> service_level;
  std::optional<std::vector<fb::PackageT>> packages;
};
/// An update refused because `source` does not own a field: recorded on the order's
/// audit trail (order.update_rejected) whatever its status.
struct RecordOwnershipViolation {
  std::string source;
  std::vector<std::pair<std::string, std::string>> fields;  // (field, owner)
};

using OrderCommand = std::variant<CreateOrder, ReleaseOrder, AllocateOrder, PackOrder, CancelOrder,
                                  ShipmentObserved, UpdateOrder, RecordOwnershipViolation>;

const char* command_name(const OrderCommand& cmd);

struct Decision {
  Status status;                 // not ok: rejected, state untouched
  std::vector<EventSpec> events; // empty with ok status: accepted as a no-op
};

/// Whether the lifecycle allows `from -> to` at all.
bool order_transition_allowed(OrderStatus from, OrderStatus to);

/// Applies `cmd` to `state` (nullopt: the order does not exist yet). On acceptance
/// `state` holds the new state with version advanced by the number of events.
Decision decide(std::optional<fb::OrderT>& state, const OrderCommand& cmd, int64_t now_us);

}  // namespace waybill::actors
