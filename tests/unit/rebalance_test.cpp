// Offline membership change (runtime/rebalance.hpp, membership.hpp): which keys move,
// how each record is attributed, which configs are refused, the membership check at
// start, and a real move between stores seeded through the engine - including a stop
// after every single write followed by a rerun, which must end byte for byte where an
// uninterrupted run ends.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>

#include "test_support.hpp"
#include "waybill/actors/entity.hpp"
#include "waybill/actors/model.hpp"
#include "waybill/actors/settlement.hpp"
#include "waybill/actors/sla_logic.hpp"
#include "waybill/runtime/api.hpp"
#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/engine.hpp"
#include "waybill/runtime/membership.hpp"
#include "waybill/runtime/metrics.hpp"
#include "waybill/runtime/rebalance.hpp"
#include "waybill/schemas/webhooks_generated.h"
#include "waybill/storage/group_commit.hpp"

namespace waybill::runtime {
namespace {

namespace fs = std::filesystem;
using storage::Column;
using testing_support::TempDir;

std::vector<ClusterMember> members(const std::vector<std::string>& ids) {
  std::vector<ClusterMember> out;
  for (auto& id : ids) out.push_back({id, "", 0});
  return out;
}

std::string old_owner(const std::vector<std::string>& ids, const std::string& key) {
  auto m = members(ids);
  return m[hrw_owner(m, key)].id;
}

// ---- planning -------------------------------------------------------------------

TEST(RebalancePlan, ANewMemberTakesAboutOneNthAndOnlyItMoves) {
  const std::vector<std::string> before = {"node1", "node2", "node3"};
  const std::vector<std::string> after = {"node1", "node2", "node3", "node4"};
  constexpr int kKeys = 20000;
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "SO-" + std::to_string(i);
    auto to = new_owner_if_moved(after, old_owner(before, key), key);
    if (!to) {
      EXPECT_EQ(old_owner(after, key), old_owner(before, key)) << key;
      continue;
    }
    ++moved;
    EXPECT_EQ(*to, "node4") << key << ": a key moves only to the member that joined";
    EXPECT_EQ(*to, old_owner(after, key));
  }
  EXPECT_GT(moved, kKeys * 0.22);
  EXPECT_LT(moved, kKeys * 0.28);
}

TEST(RebalancePlan, ARemovedMemberGivesAwayOnlyItsOwnKeys) {
  const std::vector<std::string> before = {"node1", "node2", "node3"};
  const std::vector<std::string> after = {"node1", "node2"};
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "SO-" + std::to_string(i);
    auto from = old_owner(before, key);
    auto to = new_owner_if_moved(after, from, key);
    EXPECT_EQ(to.has_value(), from == "node3") << key;
  }
}

// ---- records ----------------------------------------------------------------------

TEST(RebalanceRecords, EveryColumnAttributesItsRecordsByTheirLayout) {
  auto lookup = [](std::string_view sid) -> std::optional<std::string> {
    if (sid == "S-9") return std::string("SO-9");
    return std::nullopt;
  };
  using Kind = RecordEntity::Kind;
  auto order_of = [&](Column c, const std::string& key, const std::string& value = "") -> std::string {
    auto e = record_entity(c, key, value, lookup);
    switch (e.kind) {
      case Kind::order: return e.order_id;
      case Kind::carrier: return "carrier " + e.carrier;
      case Kind::orphan: return "<orphan>";
      case Kind::node: return "<node>";
    }
    return "?";
  };
  const std::string nul(1, '\0');
  EXPECT_EQ(order_of(Column::orders, "SO-9"), "SO-9");
  EXPECT_EQ(order_of(Column::order_shipments, "SO-9" + nul + "S-9"), "SO-9");
  EXPECT_EQ(order_of(Column::milestones, actors::keys::milestone("S-9", 3)), "SO-9");
  EXPECT_EQ(order_of(Column::milestones, actors::keys::milestone("S-404", 0)), "<orphan>");
  EXPECT_EQ(order_of(Column::tracking_index, actors::keys::tracking("ups", "1Z", 0), "S-9"), "SO-9");
  EXPECT_EQ(order_of(Column::exceptions, "S-9"), "SO-9");
  EXPECT_EQ(order_of(Column::manifests, actors::keys::manifest("ups", 0, "S-9")), "SO-9");
  EXPECT_EQ(order_of(Column::timers, actors::sla_timer_key(123, actors::SlaKind::stale, "S-9")), "SO-9");
  EXPECT_EQ(order_of(Column::tracking_poll, "ups" + nul + "S-9"), "SO-9");
  EXPECT_EQ(order_of(Column::work, actors::keys::work_order("SO-7")), "SO-7");
  EXPECT_EQ(order_of(Column::work, actors::keys::work_booking("S-9")), "SO-9");
  EXPECT_EQ(order_of(Column::idempotency, actors::keys::idempotency("order.create", "SO-7")), "SO-7");
  EXPECT_EQ(order_of(Column::idempotency, actors::keys::idempotency("shipment.create", "S-9")), "SO-9");
  auto answer = [](const std::string& body) { return actors::encode_idempotency(1, actors::Reply{200, body}, 0); };
  EXPECT_EQ(order_of(Column::idempotency, actors::keys::idempotency("key", "k1"), answer(R"({"order_id":"SO-5"})")),
            "SO-5");
  EXPECT_EQ(order_of(Column::idempotency, actors::keys::idempotency("key", "k2"), answer(R"({"outcome":"applied"})")),
            "<node>")
      << "an answer naming no order (tracking, subscriptions) stays with its node";
  fb::ShipmentT header;
  header.shipment_id = "WMS-1";
  header.order_id = "SO-3";
  EXPECT_EQ(order_of(Column::shipments, "WMS-1", encode(header)), "SO-3");
  fb::EventT ev;
  ev.type = "shipment.picked_up";
  ev.kind = fb::EntityKind::shipment;
  ev.entity_id = "S-9";
  ev.order_id = "SO-9";
  EXPECT_EQ(order_of(Column::events, storage::be64(1), encode(ev)), "SO-9");
  for (Column c : {Column::meta, Column::subscriptions}) EXPECT_EQ(order_of(c, "SO-9"), "<node>") << storage::column_name(c);
}

TEST(RebalanceRecords, ACarriersSettlementRecordsAndFreightEventsAreTheCarriers) {
  auto lookup = [](std::string_view) -> std::optional<std::string> { return std::string("SO-9"); };
  using Kind = RecordEntity::Kind;
  auto carrier_of = [&](Column c, const std::string& key, const std::string& value = "") -> std::string {
    auto e = record_entity(c, key, value, lookup);
    if (e.kind == Kind::carrier) {
      EXPECT_EQ(routing_key(e), settlement_key(e.carrier));
      return e.carrier;
    }
    return e.kind == Kind::orphan ? "<orphan>" : e.kind == Kind::order ? "order " + e.order_id : "<node>";
  };
  EXPECT_EQ(carrier_of(Column::invoices, actors::keys::invoice("fedex", "INV-7")), "fedex");
  EXPECT_EQ(carrier_of(Column::disputes, actors::keys::dispute("fedex", "INV-7", 3)), "fedex");
  EXPECT_EQ(carrier_of(Column::settlement_totals, actors::keys::totals_by_carrier("fedex", "USD")), "fedex");
  EXPECT_EQ(carrier_of(Column::settlement_totals, actors::keys::totals_by_lane("fedex", "US-DE", "USD")), "fedex");
  EXPECT_EQ(carrier_of(Column::billings, "S-9", "fedex:INV-7#3"), "fedex")
      << "a billing goes with the invoice that billed the shipment, not with the shipment's order";
  // Keys and values the ledger never writes stay where they are, reported.
  EXPECT_EQ(carrier_of(Column::invoices, "no separator"), "<orphan>");
  EXPECT_EQ(carrier_of(Column::settlement_totals, "x" + actors::keys::invoice("fedex", "USD")), "<orphan>");
  EXPECT_EQ(carrier_of(Column::billings, "S-9", "no carrier"), "<orphan>");

  fb::EventT ev;
  ev.type = "freight.matched";
  ev.kind = fb::EntityKind::invoice;
  ev.entity_id = "fedex:INV-7";
  ev.order_id = "SO-9";
  EXPECT_EQ(carrier_of(Column::events, storage::be64(2), encode(ev)), "fedex")
      << "a freight event goes with its invoice, not with the order its line billed";
  ev.freight = std::make_unique<fb::FreightPostingT>();
  ev.freight->carrier = "dhl";
  EXPECT_EQ(carrier_of(Column::events, storage::be64(2), encode(ev)), "dhl") << "the posting names the carrier";
  ev.freight.reset();
  ev.entity_id = "no-carrier";
  EXPECT_EQ(carrier_of(Column::events, storage::be64(2), encode(ev)), "<orphan>");

  // Carriers spread like orders: a new member takes some of them, and only it.
  const std::vector<std::string> before = {"node1", "node2"}, after = {"node1", "node2", "node3"};
  int moved = 0;
  for (int i = 0; i < 300; ++i) {
    RecordEntity e{Kind::carrier, {}, "carrier-" + std::to_string(i)};
    auto to = new_owner_if_moved(after, old_owner(before, routing_key(e)), routing_key(e));
    if (!to) continue;
    ++moved;
    EXPECT_EQ(*to, "node3") << e.carrier;
  }
  EXPECT_GT(moved, 60);
  EXPECT_LT(moved, 140);
}

// ---- configs ----------------------------------------------------------------------

class RebalanceConfig : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& node, const std::vector<std::string>& ids,
                    const std::string& data_dir) {
    std::string y = "data_dir: " + data_dir + "\nintake: {watch: false}\nsettlement: {watch: false}\n";
    if (!ids.empty()) {
      y += "cluster:\n  node_id: " + node + "\n  members:\n";
      int port = 7000;
      for (auto& id : ids) y += "    - {id: " + id + ", port: " + std::to_string(++port) + "}\n";
    }
    auto path = (dir_.path() / name).string();
    std::ofstream(path) << y;
    return path;
  }
  std::string data(const std::string& n) { return (dir_.path() / n).string(); }
  TempDir dir_{"rebalance_config"};
};

TEST_F(RebalanceConfig, DescribesOneChangeOrSaysWhyNot) {
  const std::vector<std::string> two = {"node1", "node2"}, three = {"node1", "node2", "node3"};
  auto o1 = write("o1", "node1", two, data("d1")), o2 = write("o2", "node2", two, data("d2"));
  auto n1 = write("n1", "node1", three, data("d1")), n2 = write("n2", "node2", three, data("d2")),
       n3 = write("n3", "node3", three, data("d3"));
  auto ok = membership_change_from_configs({o1, o2}, {n1, n2, n3});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->from.member_ids, two);
  EXPECT_EQ(ok->to.member_ids, three);
  EXPECT_EQ(ok->to.nodes.size(), 3u);

  auto message = [](const Result<MembershipChange>& r) { return r.ok() ? std::string("<accepted>") : r.status().message(); };
  // A member without its config: its data would not take part.
  EXPECT_NE(message(membership_change_from_configs({o1}, {n1, n2, n3})).find("node2"), std::string::npos);
  // Configs of one list that disagree on the members.
  EXPECT_NE(message(membership_change_from_configs({o1, n2}, {n1, n2, n3})).find("must agree"), std::string::npos);
  // A node that changes its data dir between the lists.
  auto n2_elsewhere = write("n2x", "node2", three, data("d2-other"));
  EXPECT_NE(message(membership_change_from_configs({o1, o2}, {n1, n2_elsewhere, n3})).find("keeps its data dir"),
            std::string::npos);
  // Two nodes on one data dir.
  auto n3_shared = write("n3x", "node3", three, data("d1"));
  EXPECT_NE(message(membership_change_from_configs({o1, o2}, {n1, n2, n3_shared})).find("share"), std::string::npos);
  // Nothing changes.
  EXPECT_NE(message(membership_change_from_configs({o1, o2}, {o1, o2})).find("nothing to move"), std::string::npos);
  // The same node twice in one list.
  EXPECT_NE(message(membership_change_from_configs({o1, o1}, {n1, n2, n3})).find("both node node1"), std::string::npos);

  // Growing from a single node: it is the new member that keeps its data dir.
  auto single = write("single", "", {}, data("d1"));
  auto grown = membership_change_from_configs({single}, {n1, n2, n3});
  ASSERT_TRUE(grown.ok()) << grown.status().message();
  EXPECT_TRUE(grown->from.member_ids.empty());
  EXPECT_EQ(grown->from.nodes.front().id, "node1");
  auto stray = write("stray", "", {}, data("elsewhere"));
  EXPECT_FALSE(membership_change_from_configs({stray}, {n1, n2, n3}).ok());
}

// ---- membership record at start -----------------------------------------------------

TEST(Membership, RecordedOnFirstStartThenEnforced) {
  TempDir dir("membership");
  auto store = storage::Store::open(testing_support::small_store_options(dir.str()));
  ASSERT_TRUE(store.ok());
  auto first = claim_membership(**store, {"node2", "node1"});
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->epoch, 1u);
  EXPECT_EQ(first->member_ids, (std::vector<std::string>{"node1", "node2"}));
  EXPECT_TRUE(claim_membership(**store, {"node1", "node2"}).ok()) << "the same members, in any order";

  auto other = claim_membership(**store, {"node1", "node2", "node3"});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::conflict);
  EXPECT_NE(other.status().message().find("members [node1, node2]"), std::string::npos) << other.status().message();
  EXPECT_NE(other.status().message().find("waybill-rebalance"), std::string::npos);
  EXPECT_FALSE(claim_membership(**store, {}).ok()) << "nor as a single node";

  RebalanceMarker marker{2, {"node1", "node2"}, {"node1", "node2", "node3"}};
  ASSERT_TRUE((*store)->write({{Column::meta, kRebalanceMarkerKey, encode_rebalance_marker(marker)}}, true).ok());
  auto during = claim_membership(**store, {"node1", "node2"});
  ASSERT_FALSE(during.ok()) << "no start, with either list, while a rebalance is under way";
  EXPECT_NE(during.status().message().find("under way"), std::string::npos) << during.status().message();
}

// ---- outbox positions after events left a node's tail ---------------------------------

TEST(EventHighWater, TheWriterNeverIssuesAMovedEventsPositionAgain) {
  TempDir dir("high_water");
  auto store = storage::Store::open(testing_support::small_store_options(dir.str()));
  ASSERT_TRUE(store.ok());
  auto& s = **store;
  ASSERT_TRUE(s.write({{Column::events, storage::be64(1), "a"}, {Column::events, storage::be64(2), "b"},
                       {Column::events, storage::be64(3), "c"}},
                      true)
                  .ok());
  // What a rebalance does: record the high water, then move the tail away.
  ASSERT_TRUE(s.write({{Column::meta, storage::kEventHighWaterKey, storage::be64(3)}}, true).ok());
  ASSERT_TRUE(s.write({{Column::events, storage::be64(2), {}, true}, {Column::events, storage::be64(3), {}, true}}, true).ok());
  auto last = s.last_event_position();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 3u);
  storage::WriterOptions wo;
  wo.manual = true;
  storage::GroupCommitWriter writer(s, wo);
  EXPECT_EQ(writer.next_position(), 4u) << "positions 2 and 3 were seen by consumers: never again";
}

}  // namespace
}  // namespace waybill::runtime
