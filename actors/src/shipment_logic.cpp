#include "waybill/actors/shipment_logic.hpp"

#include <tuple>

namespace waybill::actors {

using T = TrackingStatus;

const char* name(MilestoneOutcome o) {
  switch (o) {
    case MilestoneOutcome::applied: return "applied";
    case MilestoneOutcome::late: return "late";
    case MilestoneOutcome::duplicate: return "duplicate";
  }
  return "?";
}

int phase(T s) {
  switch (s) {
    case T::pending: return 0;
    case T::label_created: return 1;
    case T::cancelled: return 2;
    case T::picked_up: return 3;
    case T::in_transit:
    case T::out_for_delivery:
    case T::attempt_failed:
    case T::available_for_pickup:
    case T::exception:
    case T::stale: return 4;
    case T::delivered: return 5;
    case T::return_to_sender: return 6;
  }
  return 0;
}

bool carrier_confirmed(T s) { return phase(s) >= phase(T::picked_up) && s != T::stale; }

bool carrier_confirmed(const fb::ShipmentT& h) {
  return carrier_confirmed(h.status) && h.booking_state != fb::BookingState::rejected;
}

using C = fb::ExceptionCategory;

const char* name(C c) { return fb::EnumNameExceptionCategory(c); }

std::optional<C> parse_exception_category(std::string_view s) {
  for (auto c : fb::EnumValuesExceptionCategory())
    if (s == fb::EnumNameExceptionCategory(c)) return c;
  return std::nullopt;
}

bool notifies_recipient(T s) {
  return s == T::exception || s == T::attempt_failed || s == T::available_for_pickup || s == T::return_to_sender;
}

namespace {

// What the recipient can do about it; a notification service picks its template by it.
const char* recipient_action(C c, T s) {
  if (s == T::available_for_pickup) return "pick_up";
  switch (c) {
    case C::address_problem: return "verify_address";
    case C::recipient_unavailable: return "reschedule";
    case C::customs_hold: return "provide_customs_documents";
    case C::refused:
    case C::damaged:
    case C::lost: return "contact_shipper";
    default: return "none";
  }
}

// A carrier that names no reason still tells one by its status.
C default_category(T s) {
  if (s == T::attempt_failed) return C::recipient_unavailable;
  if (s == T::available_for_pickup) return C::recipient_unavailable;
  return C::other;
}

EventSpec notification(const fb::ShipmentT& h, const fb::MilestoneT& m, const std::string& tracking_number,
                       const char* type, C category) {
  fb::NotificationT n;
  n.category = category;
  n.status = h.status;
  n.carrier = h.carrier;
  n.tracking_number = tracking_number.empty() && !h.tracking_numbers.empty() ? h.tracking_numbers.front()
                                                                             : tracking_number;
  if (h.ship_to) n.recipient = std::make_unique<fb::PartyT>(*h.ship_to);
  n.message = m.description;
  n.estimated_delivery_us = h.estimated_delivery_us;
  n.action = recipient_action(category, h.status);
  EventSpec ev{type, std::string(name(category)) + ": carrier code '" + m.raw_code + "'", std::nullopt};
  ev.notification = std::move(n);
  return ev;
}

}  // namespace

ShipmentDecision decide(std::optional<ShipmentState>& state, const RegisterShipment& c, int64_t now) {
  if (state) {
    if (state->header.request_hash == c.shipment.request_hash) return {};
    return {Status{Code::conflict, "shipment '" + c.shipment.shipment_id +
                                       "' already exists with a different body", "shipment_id"}, {}};
  }
  ShipmentState s;
  s.header = c.shipment;
  s.header.status = s.header.tracking_numbers.empty() ? T::pending : T::label_created;
  s.header.created_us = s.header.updated_us = now;
  if (s.header.ship_date_us == 0) s.header.ship_date_us = now;
  if (!s.header.tracking_numbers.empty()) s.header.label_us = now;
  s.header.version = 1;
  s.header.milestone_count = 0;
  // Registration sets the status without a carrier milestone: it loses to any milestone.
  s.header.current_event_time_us = INT64_MIN;
  s.header.current_sequence = INT64_MIN;
  ShipmentDecision d;
  d.status_changed = true;
  d.events.push_back({std::string("shipment.") + (s.header.status == T::pending ? "registered" : "label_created"),
                      "registered by " + (s.header.carrier.empty() ? std::string("api") : s.header.carrier),
                      std::nullopt});
  state = std::move(s);
  return d;
}

ShipmentDecision decide(std::optional<ShipmentState>& state, AddMilestone& c, int64_t now) {
  if (!state) return {Status{Code::not_found, "shipment not found"}, {}};
  auto& s = *state;
  auto& m = c.milestone;
  MilestoneKey key{m.event_time_us, m.sequence, m.event_id.empty() ? 0 : fnv1a64(m.event_id),
                   fnv1a64(m.raw_code), m.status};
  for (auto& h : s.history) {
    bool same_id = key.event_id_hash != 0 && h.event_id_hash == key.event_id_hash;
    bool same_scan = h.status == key.status && h.event_time_us == key.event_time_us &&
                     h.raw_code_hash == key.raw_code_hash;
    if (same_id || same_scan) {
      ShipmentDecision d;
      d.outcome = MilestoneOutcome::duplicate;
      return d;
    }
  }
  if (s.history.size() >= kMaxMilestonesPerShipment)
    return {Status{Code::conflict, "shipment history is full (" +
                                       std::to_string(kMaxMilestonesPerShipment) + " milestones)"}, {}};

  auto& h = s.header;
  // The status itself breaks ties (carriers often report whole seconds and no sequence),
  // so the outcome never depends on arrival order.
  auto current = std::make_tuple(phase(h.status), h.current_event_time_us, h.current_sequence, static_cast<int>(h.status));
  auto incoming = std::make_tuple(phase(m.status), m.event_time_us, m.sequence, static_cast<int>(m.status));
  ShipmentDecision d;
  m.applied = incoming > current;
  d.outcome = m.applied ? MilestoneOutcome::applied : MilestoneOutcome::late;
  std::string reason;
  if (m.applied) {
    d.status_changed = h.status != m.status;
    reason = std::string("carrier code '") + m.raw_code + "' at " + format_rfc3339(m.event_time_us);
    h.status = m.status;
    h.current_event_time_us = m.event_time_us;
    h.current_sequence = m.sequence;
  } else {
    reason = std::string("late: ") + name(m.status) + " at " + format_rfc3339(m.event_time_us) +
             " is older than current " + name(h.status) + "; kept in history only";
  }
  s.history.push_back(key);
  h.milestone_count = static_cast<uint32_t>(s.history.size());
  h.updated_us = now;
  // SLA anchors: any physical scan (late ones too) shows the parcel is moving; the
  // label's own time anchors the pickup deadline.
  if (carrier_confirmed(m.status) || m.status == T::stale) h.last_scan_us = std::max(h.last_scan_us, m.event_time_us);
  if (m.status == T::label_created && h.label_us == 0) h.label_us = m.event_time_us;
  int64_t eta_before = h.estimated_delivery_us;
  if (m.applied && m.estimated_delivery_us > 0) h.estimated_delivery_us = m.estimated_delivery_us;
  if (m.applied && m.status == T::delivered && m.proof_of_delivery)
    h.proof_of_delivery = std::make_unique<fb::ProofOfDeliveryT>(*m.proof_of_delivery);
  std::string type = d.status_changed ? std::string("shipment.") + name(h.status)
                                      : std::string("shipment.tracking_updated");
  d.events.push_back({std::move(type), std::move(reason), m});
  // A later estimate than the one already given is a delay the ERP and the recipient hear of.
  if (m.applied && eta_before > 0 && h.estimated_delivery_us > eta_before && phase(h.status) < phase(T::delivered)) {
    d.events.push_back({"shipment.delayed",
                        "estimated delivery moved from " + format_rfc3339(eta_before) + " to " +
                            format_rfc3339(h.estimated_delivery_us),
                        std::nullopt});
    C category = m.exception_category == C::none ? C::carrier_delay : m.exception_category;
    d.events.push_back(notification(h, m, c.tracking_number, "notification.delivery_delayed", category));
  }
  if (m.applied && notifies_recipient(h.status) && (d.status_changed || m.exception_category != C::none)) {
    C category = m.exception_category == C::none ? default_category(h.status) : m.exception_category;
    d.events.push_back(notification(h, m, c.tracking_number, "notification.delivery_exception", category));
  }
  h.version += d.events.size();
  return d;
}

}  // namespace waybill::actors
