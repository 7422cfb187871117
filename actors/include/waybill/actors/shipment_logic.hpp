// Shipment tracking as a pure transition function.
//
// Milestones arrive out of order, late and twice. The current status is the milestone
// with the greatest (phase, event time, carrier sequence, status), where the phase ranks how far
// a parcel can have come:
//   pending < label_created < cancelled < picked_up
//     < {in_transit, out_for_delivery, attempt_failed, available_for_pickup, exception, stale}
//     < delivered < return_to_sender
// Hence a late scan enters history without moving the status backwards, delivered is
// terminal except for return_to_sender, a physical scan overrides a void, and the
// final status does not depend on arrival order.
#pragma once

#include <vector>

#include "waybill/actors/order_logic.hpp"

namespace waybill::actors {

/// What the actor keeps of each milestone in memory: enough to dedupe and order,
/// small enough that resident shipments stay cheap. Full milestones live in storage.
struct MilestoneKey {
  int64_t event_time_us;
  int64_t sequence;
  uint64_t event_id_hash;  // 0 when the carrier gave no event id
  uint64_t raw_code_hash;
  TrackingStatus status;
};

struct ShipmentState {
  fb::ShipmentT header;
  std::vector<MilestoneKey> history;  // in arrival order; index = storage index
};

struct RegisterShipment { fb::ShipmentT shipment; };  // validated; request_hash set
struct AddMilestone {
  fb::MilestoneT milestone;     // validated; received_us set
  std::string tracking_number;  // the piece it was reported for (notifications); may be empty
};

enum class MilestoneOutcome { applied, late, duplicate };
const char* name(MilestoneOutcome o);
using waybill::name;

struct ShipmentDecision {
  Status status;
  std::vector<EventSpec> events;
  MilestoneOutcome outcome = MilestoneOutcome::applied;  // for AddMilestone only
  bool status_changed = false;
};

/// Most milestones one shipment keeps; beyond it new ones are rejected (bounded state).
inline constexpr size_t kMaxMilestonesPerShipment = 1024;

int phase(TrackingStatus s);
const char* name(fb::ExceptionCategory c);
std::optional<fb::ExceptionCategory> parse_exception_category(std::string_view s);
/// Statuses a recipient is told about (delivery exceptions).
bool notifies_recipient(TrackingStatus s);
/// True once a carrier physically has the parcel (what makes an order "shipped").
bool carrier_confirmed(TrackingStatus s);
/// The same for a shipment: its status is a carrier scan, not the `exception` that a
/// booking rejection sets without any parcel moving.
bool carrier_confirmed(const fb::ShipmentT& h);

ShipmentDecision decide(std::optional<ShipmentState>& state, const RegisterShipment& cmd, int64_t now_us);
/// On acceptance (applied or late) `state` gains the milestone, `milestone.applied` says
/// whether it set the status; the milestone's storage index is history.size() - 1.
ShipmentDecision decide(std::optional<ShipmentState>& state, AddMilestone& cmd, int64_t now_us);

}  // namespace waybill::actors
