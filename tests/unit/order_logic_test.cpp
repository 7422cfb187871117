// Order lifecycle as a pure function: every legal transition, every rejection, and the
// guarantee that a rejected command leaves the state exactly as it was.
#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "waybill/actors/order_logic.hpp"

namespace waybill::actors {
namespace {

using S = OrderStatus;
using T = TrackingStatus;

constexpr int64_t kT0 = 1'700'000'000'000'000;

fb::OrderT draft(const std::string& id, uint64_t hash = 42) {
  fb::OrderT o;
  o.order_id = id;
  o.request_hash = hash;
  o.service_level = ServiceLevel::express;
  auto line = std::make_unique<fb::OrderLineT>();
  line->sku = "SKU-1";
  line->qty = 2;
  o.lines.push_back(std::move(line));
  auto pkg = std::make_unique<fb::PackageT>();
  pkg->weight_g = 1500;
  o.packages.push_back(std::move(pkg));
  return o;
}

ShipmentObserved observed(const std::string& shipment_id, T status, bool confirmed) {
  ShipmentObserved s;
  s.ref.shipment_id = shipment_id;
  s.ref.status = status;
  s.ref.carrier_confirmed = confirmed;
  return s;
}

std::vector<std::string> types(const Decision& d) {
  std::vector<std::string> out;
  for (auto& e : d.events) out.push_back(e.type);
  return out;
}

// Applies `cmd` and requires it to be accepted.
Decision accept(std::optional<fb::OrderT>& state, const OrderCommand& cmd, int64_t now = kT0) {
  auto d = decide(state, cmd, now);
  EXPECT_TRUE(d.status.ok()) << command_name(cmd) << ": " << d.status.message();
  return d;
}

std::optional<fb::OrderT> created(const std::string& id = "ORD-1") {
  std::optional<fb::OrderT> state;
  accept(state, CreateOrder{draft(id)});
  return state;
}

// Drives a fresh order into `target` through the public commands only.
std::optional<fb::OrderT> order_in(S target) {
  auto state = created();
  switch (target) {
    case S::validated: break;
    case S::released: accept(state, ReleaseOrder{}); break;
    case S::allocated: accept(state, ReleaseOrder{}); accept(state, AllocateOrder{}); break;
    case S::packed: accept(state, ReleaseOrder{}); accept(state, PackOrder{}); break;
    case S::shipping:
      accept(state, ReleaseOrder{});
      accept(state, PackOrder{});
      accept(state, observed("SHP-1", T::label_created, false));
      break;
    case S::shipped:
      accept(state, ReleaseOrder{});
      accept(state, PackOrder{});
      accept(state, observed("SHP-1", T::in_transit, true));
      break;
    case S::delivered:
      accept(state, ReleaseOrder{});
      accept(state, PackOrder{});
      accept(state, observed("SHP-1", T::delivered, true));
      break;
    case S::exception:
      accept(state, ReleaseOrder{});
      accept(state, PackOrder{});
      accept(state, observed("SHP-1", T::exception, true));
      break;
    case S::cancelled: accept(state, CancelOrder{"customer changed mind"}); break;
    case S::received: ADD_FAILURE() << "received is never a resting state"; break;
  }
  EXPECT_EQ(state->status, target);
  return state;
}

// A rejected command: conflict on "status", state byte-identical afterwards.
void expect_conflict(S from, const OrderCommand& cmd) {
  SCOPED_TRACE(std::string(name(from)) + " + " + command_name(cmd));
  auto state = order_in(from);
  const fb::OrderT before = *state;
  const std::string bytes_before = encode(before);
  auto d = decide(state, cmd, kT0 + 99);
  EXPECT_EQ(d.status.code(), Code::conflict);
  EXPECT_EQ(d.status.field(), "status");
  EXPECT_TRUE(d.events.empty());
  ASSERT_TRUE(state.has_value());
  EXPECT_TRUE(*state == before);
  EXPECT_EQ(encode(*state), bytes_before);
}

TEST(OrderLogic, CreateEmitsReceivedThenValidated) {
  std::optional<fb::OrderT> state;
  auto d = decide(state, OrderCommand{CreateOrder{draft("A")}}, 1000);
  ASSERT_TRUE(d.status.ok());
  EXPECT_EQ(types(d), (std::vector<std::string>{"order.received", "order.validated"}));
  EXPECT_EQ(d.events[0].reason, "accepted from api");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, S::validated);
  EXPECT_EQ(state->version, 2u);
  EXPECT_EQ(state->created_us, 1000);
  EXPECT_EQ(state->updated_us, 1000);
  EXPECT_EQ(state->request_hash, 42u);
  EXPECT_EQ(state->order_id, "A");
}

TEST(OrderLogic, CreateNamesSourceSystemInReason) {
  std::optional<fb::OrderT> state;
  auto o = draft("A");
  o.source_system = "shopify";
  auto d = decide(state, OrderCommand{CreateOrder{std::move(o)}}, 1000);
  ASSERT_TRUE(d.status.ok());
  EXPECT_EQ(d.events[0].reason, "accepted from shopify");
}

TEST(OrderLogic, CreateReplayWithSameHashIsNoOp) {
  auto state = created();
  const fb::OrderT before = *state;
  auto d = decide(state, OrderCommand{CreateOrder{draft("ORD-1", 42)}}, kT0 + 5);
  EXPECT_TRUE(d.status.ok());
  EXPECT_TRUE(d.events.empty());
  EXPECT_TRUE(*state == before);
}

TEST(OrderLogic, CreateWithDifferentHashConflictsOnOrderId) {
  auto state = created();
  const fb::OrderT before = *state;
  auto d = decide(state, OrderCommand{CreateOrder{draft("ORD-1", 43)}}, kT0 + 5);
  EXPECT_EQ(d.status.code(), Code::conflict);
  EXPECT_EQ(d.status.field(), "order_id");
  EXPECT_TRUE(d.events.empty());
  EXPECT_TRUE(*state == before);
}

TEST(OrderLogic, CommandsOnMissingOrderAreNotFound) {
  const OrderCommand cmds[] = {ReleaseOrder{}, AllocateOrder{}, PackOrder{}, CancelOrder{},
                               observed("S", T::in_transit, true)};
  for (auto& cmd : cmds) {
    SCOPED_TRACE(command_name(cmd));
    std::optional<fb::OrderT> state;
    auto d = decide(state, cmd, kT0);
    EXPECT_EQ(d.status.code(), Code::not_found);
    EXPECT_TRUE(d.events.empty());
    EXPECT_FALSE(state.has_value());
  }
}

TEST(OrderLogic, ReleaseAllocatePackHappyPath) {
  auto state = created();
  auto d = accept(state, ReleaseOrder{}, kT0 + 1);
  EXPECT_EQ(types(d), std::vector<std::string>{"order.released"});
  EXPECT_EQ(state->status, S::released);
  EXPECT_EQ(state->version, 3u);
  EXPECT_EQ(state->updated_us, kT0 + 1);
  EXPECT_EQ(state->created_us, kT0);
  EXPECT_EQ(state->status_reason, d.events[0].reason);

  d = accept(state, AllocateOrder{}, kT0 + 2);
  EXPECT_EQ(types(d), std::vector<std::string>{"order.allocated"});
  EXPECT_EQ(state->status, S::allocated);
  EXPECT_EQ(state->version, 4u);

  d = accept(state, PackOrder{}, kT0 + 3);
  EXPECT_EQ(types(d), std::vector<std::string>{"order.packed"});
  EXPECT_EQ(state->status, S::packed);
  EXPECT_EQ(state->version, 5u);
  EXPECT_EQ(d.events[0].reason, "warehouse confirmed 1 package(s)");
  ASSERT_EQ(state->packages.size(), 1u);  // kept: the pack command named none
  EXPECT_EQ(state->packages[0]->weight_g, 1500);
}

TEST(OrderLogic, PackFromReleasedWithReplacementPackages) {
  auto state = order_in(S::released);
  PackOrder pack;
  for (int64_t w : {100, 200, 300}) {
    fb::PackageT p;
    p.weight_g = w;
    p.length_mm = 10 * w;
    pack.packages.push_back(p);
  }
  auto d = accept(state, pack, kT0 + 7);
  EXPECT_EQ(types(d), std::vector<std::string>{"order.packed"});
  EXPECT_EQ(d.events[0].reason, "warehouse confirmed 3 package(s)");
  ASSERT_EQ(state->packages.size(), 3u);
  EXPECT_EQ(state->packages[0]->weight_g, 100);
  EXPECT_EQ(state->packages[2]->weight_g, 300);
  EXPECT_EQ(state->packages[2]->length_mm, 3000);
}

TEST(OrderLogic, PackFromAllocatedWithAndWithoutPackages) {
  auto state = order_in(S::allocated);
  auto d = accept(state, PackOrder{});
  EXPECT_EQ(state->status, S::packed);
  EXPECT_EQ(state->packages.size(), 1u);

  state = order_in(S::allocated);
  PackOrder pack;
  pack.packages.emplace_back();
  pack.packages.back().weight_g = 9;
  d = accept(state, pack);
  EXPECT_EQ(types(d), std::vector<std::string>{"order.packed"});
  ASSERT_EQ(state->packages.size(), 1u);
  EXPECT_EQ(state->packages[0]->weight_g, 9);
}

TEST(OrderLogic, RepeatingReleaseOrAllocateIsNoOp) {
  auto state = order_in(S::released);
  fb::OrderT before = *state;
  auto d = decide(state, ReleaseOrder{}, kT0 + 50);
  EXPECT_TRUE(d.status.ok());
  EXPECT_TRUE(d.events.empty());
  EXPECT_TRUE(*state == before);

  state = order_in(S::allocated);
  before = *state;
  d = decide(state, AllocateOrder{}, kT0 + 50);
  EXPECT_TRUE(d.status.ok());
  EXPECT_TRUE(d.events.empty());
  EXPECT_TRUE(*state == before);
}

TEST(OrderLogic, IllegalRequestTransitionsConflictAndLeaveStateUntouched) {
  expect_conflict(S::validated, AllocateOrder{});
  expect_conflict(S::validated, PackOrder{});
  expect_conflict(S::allocated, ReleaseOrder{});
  expect_conflict(S::packed, ReleaseOrder{});
  expect_conflict(S::packed, AllocateOrder{});
  for (S from : {S::shipping, S::shipped, S::delivered, S::exception, S::cancelled}) {
    expect_conflict(from, ReleaseOrder{});
    expect_conflict(from, AllocateOrder{});
    expect_conflict(from, PackOrder{});
  }
  // A pack with replacement packages must not leak them into a rejected state.
  PackOrder pack;
  pack.packages.emplace_back();
  pack.packages.back().weight_g = 77;
  expect_conflict(S::shipped, pack);
  expect_conflict(S::validated, pack);
}

TEST(OrderLogic, ShipmentRegisteredMovesOrderToShipping) {
  auto state = order_in(S::packed);
  const uint64_t v = state->version;
  auto d = accept(state, observed("SHP-1", T::label_created, false), kT0 + 10);
  EXPECT_EQ(types(d), std::vector<std::string>{"order.shipping"});
  EXPECT_EQ(state->status, S::shipping);
  EXPECT_EQ(state->version, v + 1);
  ASSERT_EQ(state->shipments.size(), 1u);
  EXPECT_EQ(state->shipments[0]->shipment_id, "SHP-1");
  EXPECT_EQ(state->shipments[0]->status, T::label_created);
  EXPECT_FALSE(state->shipments[0]->carrier_confirmed);
}

TEST(OrderLogic, ShipmentBeforeReleaseAlsoMovesToShipping) {
  for (S from : {S::validated, S::released, S::allocated}) {
    SCOPED_TRACE(name(from));
    auto state = order_in(from);
    auto d = accept(state, observed("SHP-1", T::pending, false));
    EXPECT_EQ(types(d), std::vector<std::string>{"order.shipping"});
    EXPECT_EQ(state->status, S::shipping);
  }
}

TEST(OrderLogic, LabelCreatedNeverMakesAnOrderShipped) {
  auto state = order_in(S::shipping);
  // A new label, more labels, a second shipment: still shipping.
  auto d = accept(state, observed("SHP-2", T::label_created, false));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.shipment_updated"});
  EXPECT_EQ(state->status, S::shipping);
  // Even a physical status without carrier confirmation does not ship the order.
  d = accept(state, observed("SHP-1", T::in_transit, false));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.shipment_updated"});
  EXPECT_EQ(state->status, S::shipping);
}

TEST(OrderLogic, RepeatedIdenticalShipmentObservationIsNoOp) {
  auto state = order_in(S::shipping);
  const fb::OrderT before = *state;
  auto d = decide(state, observed("SHP-1", T::label_created, false), kT0 + 9);
  EXPECT_TRUE(d.status.ok());
  EXPECT_TRUE(d.events.empty());
  EXPECT_TRUE(*state == before);
}

TEST(OrderLogic, CarrierConfirmationShipsTheOrder) {
  auto state = order_in(S::shipping);
  const uint64_t v = state->version;
  auto d = accept(state, observed("SHP-1", T::picked_up, true), kT0 + 20);
  EXPECT_EQ(types(d), std::vector<std::string>{"order.shipped"});
  EXPECT_EQ(state->status, S::shipped);
  EXPECT_EQ(state->version, v + 1);
  EXPECT_EQ(state->updated_us, kT0 + 20);
  ASSERT_EQ(state->shipments.size(), 1u);
  EXPECT_TRUE(state->shipments[0]->carrier_confirmed);
}

TEST(OrderLogic, ConfirmationFromPackedEmitsShippingThenShipped) {
  auto state = order_in(S::packed);
  const uint64_t v = state->version;
  auto d = accept(state, observed("SHP-1", T::in_transit, true));
  EXPECT_EQ(types(d), (std::vector<std::string>{"order.shipping", "order.shipped"}));
  EXPECT_EQ(state->status, S::shipped);
  EXPECT_EQ(state->version, v + 2);
}

TEST(OrderLogic, CarrierConfirmationIsSticky) {
  auto state = order_in(S::shipped);
  auto d = accept(state, observed("SHP-1", T::stale, false));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.shipment_updated"});
  EXPECT_EQ(state->status, S::shipped);
  ASSERT_EQ(state->shipments.size(), 1u);
  EXPECT_EQ(state->shipments[0]->status, T::stale);
  EXPECT_TRUE(state->shipments[0]->carrier_confirmed);
}

TEST(OrderLogic, DeliveredOnlyWhenAllLiveShipmentsDelivered) {
  auto state = order_in(S::packed);
  accept(state, observed("A", T::in_transit, true));
  accept(state, observed("B", T::in_transit, true));
  EXPECT_EQ(state->status, S::shipped);
  auto d = accept(state, observed("A", T::delivered, true));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.shipment_updated"});
  EXPECT_EQ(state->status, S::shipped);
  d = accept(state, observed("B", T::delivered, true));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.delivered"});
  EXPECT_EQ(state->status, S::delivered);
}

TEST(OrderLogic, CancelledShipmentsDoNotBlockDelivery) {
  auto state = order_in(S::packed);
  accept(state, observed("A", T::in_transit, true));
  accept(state, observed("B", T::cancelled, false));
  auto d = accept(state, observed("A", T::delivered, true));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.delivered"});
  EXPECT_EQ(state->status, S::delivered);
}

TEST(OrderLogic, DeliveredIsTerminalForShipmentUpdates) {
  auto state = order_in(S::delivered);
  auto d = accept(state, observed("SHP-1", T::return_to_sender, true));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.shipment_updated"});
  EXPECT_EQ(state->status, S::delivered);
  d = accept(state, observed("SHP-2", T::exception, true));
  EXPECT_EQ(state->status, S::delivered);
}

TEST(OrderLogic, ExceptionAndRecoveryToShipped) {
  auto state = order_in(S::shipped);
  auto d = accept(state, observed("SHP-1", T::exception, true));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.exception"});
  EXPECT_EQ(state->status, S::exception);
  d = accept(state, observed("SHP-1", T::in_transit, true));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.shipped"});
  EXPECT_EQ(state->status, S::shipped);
  d = accept(state, observed("SHP-1", T::delivered, true));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.delivered"});
}

// A booking rejection puts the order in exception; once an operator fixes it and the
// shipment is labelled (no carrier scan yet), the order is back to shipping, not shipped.
TEST(OrderLogic, ResolvedBookingExceptionReturnsToShipping) {
  std::optional<fb::OrderT> state = order_in(S::packed);
  accept(state, observed("SHP-1", T::exception, false));
  ASSERT_EQ(state->status, S::exception);
  auto d = accept(state, observed("SHP-1", T::label_created, false));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.shipping"});
  EXPECT_EQ(state->status, S::shipping);
}

TEST(OrderLogic, ExceptionCanBeDeliveredDirectly) {
  auto state = order_in(S::exception);
  auto d = accept(state, observed("SHP-1", T::delivered, true));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.delivered"});
}

TEST(OrderLogic, CancelBeforeCarrierConfirmation) {
  for (S from : {S::validated, S::released, S::allocated, S::packed, S::shipping}) {
    SCOPED_TRACE(name(from));
    auto state = order_in(from);
    const uint64_t v = state->version;
    auto d = accept(state, CancelOrder{"out of stock"}, kT0 + 30);
    EXPECT_EQ(types(d), std::vector<std::string>{"order.cancelled"});
    EXPECT_EQ(d.events[0].reason, "out of stock");
    EXPECT_EQ(state->status, S::cancelled);
    EXPECT_EQ(state->status_reason, "out of stock");
    EXPECT_EQ(state->version, v + 1);
  }
}

TEST(OrderLogic, CancelWithoutReasonUsesDefault) {
  auto state = order_in(S::validated);
  auto d = accept(state, CancelOrder{});
  EXPECT_EQ(d.events[0].reason, "cancelled by request");
}

TEST(OrderLogic, CancelAgainIsNoOp) {
  auto state = order_in(S::cancelled);
  const fb::OrderT before = *state;
  auto d = decide(state, CancelOrder{"again"}, kT0 + 40);
  EXPECT_TRUE(d.status.ok());
  EXPECT_TRUE(d.events.empty());
  EXPECT_TRUE(*state == before);
}

TEST(OrderLogic, CancelAfterCarrierTookItConflicts) {
  expect_conflict(S::shipped, CancelOrder{});
  expect_conflict(S::delivered, CancelOrder{});
  expect_conflict(S::exception, CancelOrder{});  // its shipment was carrier-confirmed
}

TEST(OrderLogic, CancelledOrderRecordsShipmentButKeepsStatus) {
  auto state = order_in(S::cancelled);
  auto d = accept(state, observed("SHP-9", T::in_transit, true));
  EXPECT_EQ(types(d), std::vector<std::string>{"order.shipment_updated"});
  EXPECT_EQ(state->status, S::cancelled);
  EXPECT_EQ(state->shipments.size(), 1u);
}

TEST(OrderLogic, EventCountMatchesVersionAcrossLifecycle) {
  std::optional<fb::OrderT> state;
  size_t events = 0;
  std::vector<std::string> all;
  auto run = [&](const OrderCommand& c) {
    auto d = accept(state, c);
    events += d.events.size();
    for (auto& e : d.events) all.push_back(e.type);
    EXPECT_EQ(state->version, events);
  };
  run(CreateOrder{draft("X")});
  run(ReleaseOrder{});
  run(AllocateOrder{});
  run(PackOrder{});
  run(observed("S1", T::label_created, false));
  run(observed("S1", T::picked_up, true));
  run(observed("S1", T::exception, true));
  run(observed("S1", T::in_transit, true));
  run(observed("S1", T::delivered, true));
  EXPECT_EQ(all, (std::vector<std::string>{"order.received", "order.validated", "order.released",
                                           "order.allocated", "order.packed", "order.shipping",
                                           "order.shipped", "order.exception", "order.shipped",
                                           "order.delivered"}));
}

TEST(OrderLogic, CommandNames) {
  EXPECT_STREQ(command_name(CreateOrder{}), "create");
  EXPECT_STREQ(command_name(ReleaseOrder{}), "release");
  EXPECT_STREQ(command_name(AllocateOrder{}), "allocate");
  EXPECT_STREQ(command_name(PackOrder{}), "pack");
  EXPECT_STREQ(command_name(CancelOrder{}), "cancel");
  EXPECT_STREQ(command_name(ShipmentObserved{}), "shipment_observed");
}

TEST(OrderLogic, TransitionTableIsExactlyTheLifecycle) {
  const std::set<std::pair<S, S>> allowed = {
      {S::received, S::validated},
      {S::validated, S::released},
      {S::released, S::allocated},
      {S::released, S::packed},   {S::allocated, S::packed},
      {S::validated, S::shipping}, {S::released, S::shipping}, {S::allocated, S::shipping},
      {S::packed, S::shipping},   {S::exception, S::shipping},
      {S::validated, S::shipped}, {S::released, S::shipped}, {S::allocated, S::shipped},
      {S::packed, S::shipped},    {S::shipping, S::shipped},  {S::exception, S::shipped},
      {S::validated, S::delivered}, {S::released, S::delivered}, {S::allocated, S::delivered},
      {S::packed, S::delivered},  {S::shipping, S::delivered}, {S::shipped, S::delivered},
      {S::exception, S::delivered},
      {S::validated, S::exception}, {S::released, S::exception}, {S::allocated, S::exception},
      {S::packed, S::exception},  {S::shipping, S::exception}, {S::shipped, S::exception},
      {S::received, S::cancelled}, {S::validated, S::cancelled}, {S::released, S::cancelled},
      {S::allocated, S::cancelled}, {S::packed, S::cancelled}, {S::shipping, S::cancelled},
      {S::exception, S::cancelled},
  };
  int checked = 0;
  for (int f = 0; f <= static_cast<int>(S::cancelled); ++f) {
    for (int t = 0; t <= static_cast<int>(S::cancelled); ++t) {
      S from = static_cast<S>(f), to = static_cast<S>(t);
      bool expected = allowed.count({from, to}) > 0;
      EXPECT_EQ(order_transition_allowed(from, to), expected) << name(from) << " -> " << name(to);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 100);
  // Nothing goes back to received and no status transitions to itself.
  for (int s = 0; s <= static_cast<int>(S::cancelled); ++s) {
    EXPECT_FALSE(order_transition_allowed(static_cast<S>(s), S::received));
    EXPECT_FALSE(order_transition_allowed(static_cast<S>(s), static_cast<S>(s)));
  }
}

}  // namespace
}  // namespace waybill::actors
