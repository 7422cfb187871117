// SLA deadlines, delivery estimates, proof of delivery and recipient notifications as
// pure functions of the shipment header and its milestones.
#include <gtest/gtest.h>

#include "waybill/actors/sla_logic.hpp"
#include "waybill/storage/store.hpp"

namespace waybill::actors {
namespace {

using T = TrackingStatus;
using C = fb::ExceptionCategory;

constexpr int64_t kSec = 1'000'000;
constexpr int64_t kHour = 3600 * kSec;
constexpr int64_t kT0 = 1'764'000'000'000'000;  // registration time

SlaOptions options() {
  SlaOptions o;
  o.no_pickup_after_s = 24 * 3600;
  o.stale_after_s = 72 * 3600;
  o.eta_grace_s = 4 * 3600;
  return o;
}

std::optional<ShipmentState> labelled() {
  fb::ShipmentT s;
  s.shipment_id = "SHP-1";
  s.order_id = "ORD-1";
  s.carrier = "parcelco";
  s.tracking_numbers = {"1Z1", "1Z2"};
  s.ship_to = std::make_unique<fb::PartyT>();
  s.ship_to->name = "Ada Lovelace";
  s.ship_to->email = "ada@example.com";
  s.ship_to->phone = "+1 555 0100";
  std::optional<ShipmentState> state;
  EXPECT_TRUE(decide(state, RegisterShipment{std::move(s)}, kT0).status.ok());
  return state;
}

fb::MilestoneT ms(T status, int64_t at_us, std::string code = "") {
  fb::MilestoneT m;
  m.status = status;
  m.event_time_us = at_us;
  m.raw_code = code.empty() ? std::string("RC-") + name(status) : code;
  return m;
}

ShipmentDecision add(std::optional<ShipmentState>& state, fb::MilestoneT m, std::string tn = "") {
  AddMilestone cmd{std::move(m), std::move(tn)};
  return decide(state, cmd, kT0 + 1000 * kHour);
}

TEST(SlaLogic, LabelArmsNoPickupAndAPickupDisarmsIt) {
  auto state = labelled();
  auto& h = state->header;
  EXPECT_EQ(h.label_us, kT0);
  std::vector<storage::WriteOp> ops;
  rearm_sla(h, options(), &ops);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].column, storage::Column::timers);
  EXPECT_EQ(ops[0].key, sla_timer_key(kT0 + 24 * kHour, SlaKind::no_pickup, "SHP-1"));
  EXPECT_FALSE(ops[0].erase);

  add(state, ms(T::picked_up, kT0 + 2 * kHour));
  ops.clear();
  rearm_sla(h, options(), &ops);
  // The pickup deadline goes, the stale deadline (72 h after the scan) comes.
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].key, sla_timer_key(kT0 + 24 * kHour, SlaKind::no_pickup, "SHP-1"));
  EXPECT_TRUE(ops[0].erase);
  EXPECT_EQ(ops[1].key, sla_timer_key(kT0 + 74 * kHour, SlaKind::stale, "SHP-1"));
  EXPECT_FALSE(ops[1].erase);
}

TEST(SlaLogic, EachScanMovesTheStaleDeadlineAndLateScansCountByEventTime) {
  auto state = labelled();
  auto& h = state->header;
  std::vector<storage::WriteOp> ops;
  add(state, ms(T::in_transit, kT0 + 10 * kHour));
  rearm_sla(h, options(), &ops);
  EXPECT_EQ(sla_deadlines(h, options())[1], kT0 + 82 * kHour);
  // A scan reported late (older than the current status) still proves movement only up
  // to its own event time: the deadline stays with the newest scan.
  add(state, ms(T::picked_up, kT0 + 5 * kHour));
  EXPECT_EQ(sla_deadlines(h, options())[1], kT0 + 82 * kHour);
  add(state, ms(T::out_for_delivery, kT0 + 30 * kHour));
  EXPECT_EQ(sla_deadlines(h, options())[1], kT0 + 102 * kHour);
}

TEST(SlaLogic, DueTimerFiresOnceAndIsNotArmedAgainForTheSameDeadline) {
  auto state = labelled();
  auto& h = state->header;
  std::vector<storage::WriteOp> ops;
  rearm_sla(h, options(), &ops);
  const int64_t due = kT0 + 24 * kHour;
  // Not yet due: nothing.
  EXPECT_TRUE(decide(state, SlaDue{SlaKind::no_pickup, due, due - 1}, options(), due - 1).events.empty());
  // A key for another deadline (left over from before a scan moved it): nothing.
  EXPECT_TRUE(decide(state, SlaDue{SlaKind::no_pickup, due - kHour, due + 1}, options(), due + 1).events.empty());
  const uint64_t version = h.version;
  auto d = decide(state, SlaDue{SlaKind::no_pickup, due, due + 1}, options(), due + 1);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, "shipment.sla_breached");
  ASSERT_TRUE(d.events[0].sla.has_value());
  EXPECT_EQ(d.events[0].sla->kind, SlaKind::no_pickup);
  EXPECT_NE(d.events[0].reason.find("no pickup scan within 24h"), std::string::npos) << d.events[0].reason;
  EXPECT_EQ(h.version, version + 1);
  ops.clear();
  rearm_sla(h, options(), &ops);
  ASSERT_EQ(ops.size(), 1u);  // its key goes, nothing is re-armed
  EXPECT_TRUE(ops[0].erase);
  EXPECT_EQ(sla_deadlines(h, options())[0], 0);
  // The same timer delivered again (a redispatch racing the delete) fires nothing.
  EXPECT_TRUE(decide(state, SlaDue{SlaKind::no_pickup, due, due + 2}, options(), due + 2).events.empty());
}

TEST(SlaLogic, DeliveredDisarmsEverything) {
  auto state = labelled();
  auto& h = state->header;
  std::vector<storage::WriteOp> ops;
  auto m = ms(T::in_transit, kT0 + kHour);
  m.estimated_delivery_us = kT0 + 48 * kHour;
  add(state, std::move(m));
  rearm_sla(h, options(), &ops);
  auto due = sla_deadlines(h, options());
  EXPECT_EQ(due[0], 0);
  EXPECT_EQ(due[1], kT0 + 73 * kHour);
  EXPECT_EQ(due[2], kT0 + 52 * kHour);
  add(state, ms(T::delivered, kT0 + 40 * kHour));
  ops.clear();
  rearm_sla(h, options(), &ops);
  EXPECT_EQ(ops.size(), 2u);
  for (auto& op : ops) EXPECT_TRUE(op.erase);
  for (auto d : sla_deadlines(h, options())) EXPECT_EQ(d, 0);
}

TEST(SlaLogic, DisabledArmsNothing) {
  auto state = labelled();
  auto o = options();
  o.enabled = false;
  std::vector<storage::WriteOp> ops;
  rearm_sla(state->header, o, &ops);
  EXPECT_TRUE(ops.empty());
  EXPECT_TRUE(state->header.sla.empty());
}

TEST(SlaLogic, TimerKeysSortByDeadlineAndRoundTrip) {
  auto a = sla_timer_key(kT0, SlaKind::stale, "B");
  auto b = sla_timer_key(kT0 + 1, SlaKind::no_pickup, "A");
  EXPECT_LT(a, b);
  auto parsed = parse_sla_timer_key(a);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->due_us, kT0);
  EXPECT_EQ(parsed->kind, SlaKind::stale);
  EXPECT_EQ(parsed->shipment_id, "B");
  EXPECT_FALSE(parse_sla_timer_key("short"));
}

TEST(DeliveryEstimate, LaterEstimateIsADelayWithANotification) {
  auto state = labelled();
  auto m = ms(T::in_transit, kT0 + kHour);
  m.estimated_delivery_us = kT0 + 48 * kHour;
  auto d = add(state, std::move(m));
  ASSERT_EQ(d.events.size(), 1u);  // the first estimate is no delay
  m = ms(T::in_transit, kT0 + 20 * kHour, "WX");
  m.estimated_delivery_us = kT0 + 72 * kHour;
  m.exception_category = C::weather_delay;
  m.description = "Severe weather";
  d = add(state, std::move(m), "1Z2");
  ASSERT_EQ(d.events.size(), 3u);
  EXPECT_EQ(d.events[0].type, "shipment.tracking_updated");
  EXPECT_EQ(d.events[1].type, "shipment.delayed");
  EXPECT_EQ(d.events[2].type, "notification.delivery_delayed");
  auto& n = *d.events[2].notification;
  EXPECT_EQ(n.category, C::weather_delay);
  EXPECT_EQ(n.tracking_number, "1Z2");
  EXPECT_EQ(n.estimated_delivery_us, kT0 + 72 * kHour);
  EXPECT_EQ(n.message, "Severe weather");
  ASSERT_TRUE(n.recipient);
  EXPECT_EQ(n.recipient->email, "ada@example.com");
  EXPECT_EQ(state->header.estimated_delivery_us, kT0 + 72 * kHour);
  EXPECT_EQ(state->header.version, 1u + 1 + 3);
}

TEST(Notification, ExceptionsCarryCategoryActionAndRecipient) {
  auto state = labelled();
  add(state, ms(T::in_transit, kT0 + kHour));
  auto m = ms(T::exception, kT0 + 2 * kHour, "AD");
  m.exception_category = C::address_problem;
  auto d = add(state, std::move(m));
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[1].type, "notification.delivery_exception");
  auto& n = *d.events[1].notification;
  EXPECT_EQ(n.category, C::address_problem);
  EXPECT_EQ(n.action, "verify_address");
  EXPECT_EQ(n.tracking_number, "1Z1");  // no piece named: the first one
  EXPECT_EQ(n.recipient->name, "Ada Lovelace");
  EXPECT_EQ(n.status, T::exception);
  // A failed attempt without a reason still tells the recipient to reschedule.
  d = add(state, ms(T::attempt_failed, kT0 + 3 * kHour));
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[1].notification->category, C::recipient_unavailable);
  EXPECT_EQ(d.events[1].notification->action, "reschedule");
  // Moving on without trouble notifies nobody.
  d = add(state, ms(T::out_for_delivery, kT0 + 4 * kHour));
  EXPECT_EQ(d.events.size(), 1u);
}

TEST(ProofOfDelivery, TravelsOnTheDeliveredMilestoneIntoTheHeader) {
  auto state = labelled();
  auto m = ms(T::delivered, kT0 + 30 * kHour);
  m.proof_of_delivery = std::make_unique<fb::ProofOfDeliveryT>();
  m.proof_of_delivery->signed_by = "A. LOVELACE";
  m.proof_of_delivery->document_ref = "POD-778";
  auto d = add(state, std::move(m));
  ASSERT_EQ(d.events.size(), 1u);
  ASSERT_TRUE(d.events[0].milestone);
  ASSERT_TRUE(d.events[0].milestone->proof_of_delivery);
  EXPECT_EQ(d.events[0].milestone->proof_of_delivery->signed_by, "A. LOVELACE");
  ASSERT_TRUE(state->header.proof_of_delivery);
  EXPECT_EQ(state->header.proof_of_delivery->document_ref, "POD-778");
}

TEST(ExceptionCategory, NamesRoundTrip) {
  for (auto c : fb::EnumValuesExceptionCategory()) {
    auto parsed = parse_exception_category(name(c));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, c);
  }
  EXPECT_FALSE(parse_exception_category("snow"));
}

}  // namespace
}  // namespace waybill::actors
