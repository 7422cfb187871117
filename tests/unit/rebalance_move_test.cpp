// A real move between stores: two nodes seeded through the engine and API (orders,
// Idempotency-Key requests, registered shipments, milestones, SLA timers, events, a
// webhook subscription) plus records the engine writes only with carriers or invoices
// (manifests, exceptions, tracking poll, booking work, dead letters, freight events,
// billings), then rebalanced from 2 to 3 members. Checked: every record of a moved order
// is on its new owner and nowhere else, nothing is lost or duplicated, events keep
// their per-entity order, the node's own records stay - and a run stopped after any
// single write, then run again, ends exactly where an uninterrupted run ends.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <cstdlib>
#include <set>

#include "test_support.hpp"
#include "waybill/actors/entity.hpp"
#include "waybill/actors/model.hpp"
#include "waybill/runtime/api.hpp"
#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/engine.hpp"
#include "waybill/runtime/membership.hpp"
#include "waybill/runtime/metrics.hpp"
#include "waybill/runtime/rebalance.hpp"
#include "waybill/schemas/webhooks_generated.h"

namespace waybill::runtime {
namespace {

namespace fs = std::filesystem;
using storage::Column;
using testing_support::TempDir;

const std::vector<std::string> kOld = {"node1", "node2"};
const std::vector<std::string> kNew = {"node1", "node2", "node3"};
constexpr const char* kAdminKey = "rebalance-test-admin-key";
constexpr int kOrdersPerNode = 12;

std::string owner(const std::vector<std::string>& ids, const std::string& key) {
  std::vector<ClusterMember> m;
  for (auto& id : ids) m.push_back({id, "", 0});
  return m[hrw_owner(m, key)].id;
}

using testing_support::small_store_options;

// One node's engine and API in this process, for seeding.
class SeedNode {
 public:
  explicit SeedNode(const std::string& dir) {
    EngineOptions o;
    o.store = small_store_options(dir);
    o.writer.sync = false;
    o.booking.carriers_dir.clear();
    o.scheduler_threads = 2;
    o.membership = kOld;
    auto e = Engine::start(o, &metrics_);
    EXPECT_TRUE(e.ok()) << e.status().message();
    if (!e.ok()) return;
    engine_ = std::move(*e);
    ApiOptions a;
    a.intake.watch = false;  // no drop folders, exports or invoice folder: records only
    a.exports.nightly = false;
    a.invoices.watch = false;
    a.auth.keys.push_back({"test", key_digest(kAdminKey), static_cast<ScopeSet>(Scope::admin)});
    api_ = std::make_unique<Api>(*engine_, metrics_, a);
    EXPECT_TRUE(api_->start().ok());
  }
  ~SeedNode() {
    if (api_) api_->stop();
    api_.reset();
    if (engine_) engine_->stop();
  }
  HttpResponse call(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& key = "") {
    auto promise = std::make_shared<std::promise<HttpResponse>>();
    auto future = promise->get_future();
    HttpRequest req{method, target, "application/json", key, body, {}};
    req.headers.emplace_back("authorization", std::string("Bearer ") + kAdminKey);
    api_->handle(std::move(req), [promise](HttpResponse r) { promise->set_value(std::move(r)); });
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return {0, "", "", {}};
    return future.get();
  }

 private:
  Metrics metrics_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Api> api_;
};

void seed_orders(SeedNode& n, const std::vector<std::string>& ids) {
  for (auto& id : ids) {
    auto created = n.call("POST", "/v1/orders",
                          R"({"order_id":")" + id + R"(","service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St",)"
                          R"("city":"Springfield","postal_code":"62701","country":"US"},"lines":[{"sku":"S","qty":1}]})");
    ASSERT_EQ(created.status, 201) << created.body;
    ASSERT_EQ(n.call("POST", "/v1/orders/" + id + "/release", "", "release-" + id).status, 200);
    auto shipped = n.call("POST", "/v1/shipments",
                          R"({"shipment_id":")" + id + R"(-1","order_id":")" + id + R"(","carrier":"ups","tracking_numbers":["1Z)" + id + R"("]})");
    ASSERT_EQ(shipped.status, 201) << shipped.body;
    for (auto [status, hour] : {std::pair{"picked_up", 8}, std::pair{"in_transit", 9}}) {
      auto m = n.call("POST", "/v1/tracking",
                      R"({"carrier":"ups","tracking_number":"1Z)" + id + R"(","status":")" + status +
                          R"(","raw_code":"X","event_time":"2026-11-28T0)" + std::to_string(hour) + R"(:00:00Z"})");
      ASSERT_EQ(m.status, 200) << m.body;
    }
  }
  // The order notices its shipment's scans asynchronously: wait until it is quiet.
  for (auto& id : ids)
    ASSERT_TRUE(testing_support::eventually([&] { return n.call("GET", "/v1/orders/" + id).body.find("\"shipped\"") != std::string::npos; }))
        << id;
}

using Records = std::map<std::string, std::string>;  // key -> value
using Dump = std::map<std::string, std::map<int, Records>>;  // node -> column -> records

const Records& at(const Dump& d, const std::string& node, Column column) {
  static const Records none;
  auto n = d.find(node);
  if (n == d.end()) return none;
  auto c = n->second.find(static_cast<int>(column));
  return c == n->second.end() ? none : c->second;
}

Dump dump(const std::map<std::string, std::string>& dirs) {
  Dump d;
  for (auto& [id, dir] : dirs) {
    if (!fs::exists(fs::path(dir) / "CURRENT")) continue;
    auto store = storage::Store::open(small_store_options(dir));
    EXPECT_TRUE(store.ok());
    for (size_t c = 0; c < storage::kColumnCount; ++c)
      (void)(*store)->scan_from(static_cast<Column>(c), "", 1000000, [&](std::string_view k, std::string_view v) {
        d[id][static_cast<int>(c)][std::string(k)] = std::string(v);
        return true;
      });
  }
  return d;
}

class RebalanceMove : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pristine_ = new TempDir("rebalance_pristine");
    std::map<std::string, std::vector<std::string>> ids;  // old owner -> its orders
    for (int i = 0; ids["node1"].size() < kOrdersPerNode || ids["node2"].size() < kOrdersPerNode; ++i) {
      const std::string id = "RB-" + std::to_string(i);
      auto& mine = ids[owner(kOld, id)];
      if (mine.size() == kOrdersPerNode) continue;
      mine.push_back(id);
      (owner(kNew, id) == owner(kOld, id) ? staying_ : moving_)[id] = owner(kOld, id);
    }
    ASSERT_FALSE(moving_.empty());
    ASSERT_FALSE(staying_.empty());
    for (auto& node : kOld) {
      SeedNode n((pristine_->path() / node).string());
      seed_orders(n, ids[node]);
      // A webhook subscriber on the node the first moved order leaves.
      if (node == moving_.begin()->second)
        ASSERT_EQ(n.call("POST", "/v1/subscriptions", R"({"url":"http://127.0.0.1:9/hook","secrets":["0123456789abcdef01"]})").status, 201);
    }
    add_records_without_engine();
  }
  static void TearDownTestSuite() { delete pristine_; }

  // Records the engine writes with carriers, webhooks failing for days or invoices.
  static void add_records_without_engine() {
    ASSERT_FALSE(moving_.empty());
    ASSERT_FALSE(staying_.empty());
    auto [moved_order, node] = *moving_.begin();
    const std::string sid = moved_order + "-1";
    auto store = storage::Store::open(small_store_options((pristine_->path() / node).string()));
    ASSERT_TRUE(store.ok());
    auto& s = **store;
    std::string index_key;
    (void)s.scan_prefix(Column::event_index, moved_order + '\0', 1, [&](std::string_view k, std::string_view) {
      index_key = std::string(k);
      return false;
    });
    ASSERT_FALSE(index_key.empty());
    const uint64_t dead_position = storage::read_be64(index_key.substr(index_key.size() - 8));
    std::string sub_id;
    (void)s.scan_prefix(Column::subscriptions, "s/", 10, [&](std::string_view k, std::string_view) {
      sub_id = std::string(k.substr(2));
      return false;
    });
    fb::DeadLetterT letter;
    letter.subscription_id = sub_id;
    letter.position = dead_position;
    letter.last_error = "HTTP 500";
    fb::EventT freight;
    freight.type = "freight.matched";
    freight.kind = fb::EntityKind::invoice;
    freight.entity_id = "ups:INV-1";
    freight.order_id = moved_order;
    auto last = s.last_event_position();
    ASSERT_TRUE(last.ok());
    freight_position_ = *last + 1;
    std::vector<storage::WriteOp> ops = {
        {Column::manifests, actors::keys::manifest("ups", 0, sid), "1Z" + moved_order},
        {Column::exceptions, sid, "queued"},
        {Column::tracking_poll, std::string("ups") + '\0' + sid, ""},
        {Column::work, actors::keys::work_booking(sid), ""},
        {Column::dead_letters, sub_id + '\0' + storage::be64(dead_position), encode(letter)},
        {Column::events, storage::be64(freight_position_), encode(freight)},
        {Column::event_index, moved_order + '\0' + storage::be64(freight_position_), ""},
        {Column::billings, sid, "ups:INV-1#1"},
    };
    ASSERT_TRUE(s.write(ops, true).ok());
    dead_letter_order_ = moved_order;
  }

  void SetUp() override {
    for (auto& id : kOld) fs::copy(pristine_->path() / id, dir_.path() / id, fs::copy_options::recursive);
  }

  std::map<std::string, std::string> dirs() const {
    std::map<std::string, std::string> out;
    for (auto& id : kNew) out[id] = (dir_.path() / id).string();
    return out;
  }
  MembershipChange change() const {
    MembershipChange c;
    c.from.member_ids = kOld;
    c.to.member_ids = kNew;
    for (auto& id : kOld) c.from.nodes.push_back({id, small_store_options(dirs().at(id))});
    for (auto& id : kNew) c.to.nodes.push_back({id, small_store_options(dirs().at(id))});
    return c;
  }
  RebalanceOptions options() const {
    RebalanceOptions o;
    o.batch_records = 40;
    // What a stop leaves is decided by the order of the writes, which fsync does not
    // change here (the stores are closed in between); the integration test syncs.
    o.sync = false;
    return o;
  }

  static TempDir* pristine_;
  static std::map<std::string, std::string> moving_, staying_;  // order id -> old owner
  static uint64_t freight_position_;
  static std::string dead_letter_order_;
  TempDir dir_{"rebalance_move"};
};

TempDir* RebalanceMove::pristine_ = nullptr;
std::map<std::string, std::string> RebalanceMove::moving_, RebalanceMove::staying_;
uint64_t RebalanceMove::freight_position_ = 0;
std::string RebalanceMove::dead_letter_order_;

// Where every record of `d` belongs under the new list, and what must be conserved.
void expect_converged(const Dump& before, const Dump& after) {
  std::multiset<std::string> kept_before, kept_after;  // column|key|value of entity records
  std::multiset<std::string> events_before, events_after;  // entity|seq|type
  auto lookup_in = [](const Dump& d, const std::string& node) {
    return [&d, node](std::string_view sid) -> std::optional<std::string> {
      auto& headers = at(d, node, Column::shipments);
      auto it = headers.find(std::string(sid));
      if (it == headers.end()) return std::nullopt;
      return decode<fb::ShipmentT>(it->second)->order_id;
    };
  };
  for (auto pair : {std::pair{&before, &kept_before}, std::pair{&after, &kept_after}})
    for (auto& [node, columns] : *pair.first)
      for (auto& [c, records] : columns) {
        const auto column = static_cast<Column>(c);
        if (column == Column::events) {
          for (auto& [k, v] : records) {
            auto ev = decode<fb::EventT>(v);
            (pair.first == &before ? events_before : events_after)
                .insert(ev->entity_id + "|" + std::to_string(ev->entity_seq) + "|" + ev->type);
            if (pair.first == &after && ev->kind != fb::EntityKind::invoice)
              EXPECT_EQ(owner(kNew, ev->order_id), node) << ev->type << " of " << ev->order_id;
          }
          continue;
        }
        if (column == Column::event_index && pair.first == &after)
          for (auto& [k, v] : records)
            EXPECT_TRUE(at(after, node, Column::events).count(k.substr(k.size() - 8))) << "dangling index entry on " << node;
        if (column == Column::meta || column == Column::event_index || column == Column::dead_letters ||
            column == Column::subscriptions)
          continue;
        for (auto& [k, v] : records) {
          pair.second->insert(std::to_string(c) + "|" + k + "|" + v);
          if (pair.first != &after) continue;
          auto e = record_entity(column, k, v, lookup_in(after, node));
          if (e.kind == RecordEntity::Kind::order) {
            EXPECT_EQ(owner(kNew, e.order_id), node) << storage::column_name(column) << " record of " << e.order_id;
          }
        }
      }
  EXPECT_EQ(kept_before, kept_after) << "records lost or duplicated";
  EXPECT_EQ(events_before, events_after) << "events lost or duplicated";
}

TEST_F(RebalanceMove, MovesEveryRecordOfMovedOrdersAndNothingElse) {
  const Dump before = dump(dirs());
  auto report = rebalance(change(), options());
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->outcome, RebalanceReport::Outcome::moved);
  EXPECT_EQ(report->epoch, 2u);
  const Dump after = dump(dirs());
  expect_converged(before, after);

  uint64_t orders_moved = 0;
  for (auto& [pair, c] : report->moves) {
    EXPECT_EQ(pair.second, "node3") << "only the new member receives";
    orders_moved += c.orders;
  }
  EXPECT_EQ(orders_moved, moving_.size());
  for (auto& [id, from] : moving_) {
    EXPECT_TRUE(at(after, "node3", Column::orders).count(id)) << id;
    EXPECT_FALSE(at(after, from, Column::orders).count(id)) << id << " left on " << from;
    EXPECT_FALSE(at(after, from, Column::shipments).count(id + "-1"));
  }
  for (auto& [id, holder] : staying_) EXPECT_TRUE(at(after, holder, Column::orders).count(id)) << id;

  // A moved order's events on node3: indexed, gap-free per entity, from where they were.
  const auto& events3 = at(after, "node3", Column::events);
  const auto& index3 = at(after, "node3", Column::event_index);
  for (auto& [id, from] : moving_) {
    std::map<std::string, uint64_t> last_seq;
    size_t n = 0;
    for (auto it = index3.lower_bound(id + '\0'); it != index3.end() && it->first.rfind(id + '\0', 0) == 0; ++it, ++n) {
      auto ev = decode<fb::EventT>(events3.at(it->first.substr(id.size() + 1)));
      ASSERT_TRUE(ev);
      EXPECT_EQ(ev->entity_seq, last_seq[ev->entity_id] + 1) << id << " " << ev->type;
      last_seq[ev->entity_id] = ev->entity_seq;
      EXPECT_EQ(ev->moved_from_node, from);
      auto was = decode<fb::EventT>(at(before, from, Column::events).at(storage::be64(ev->moved_from_position)));
      EXPECT_EQ(was->entity_seq, ev->entity_seq);
      EXPECT_EQ(was->type, ev->type);
    }
    EXPECT_GE(n, 5u) << id << ": created, validated, released, registered, picked up...";
  }
  // The sources never issue a moved event's position again.
  for (auto& id : kOld) EXPECT_TRUE(at(after, id, Column::meta).count(storage::kEventHighWaterKey)) << id;
  // The node's own records stay: the freight event with its index entry, the billing.
  const auto& [moved_order, node] = *moving_.begin();
  EXPECT_TRUE(at(after, node, Column::events).count(storage::be64(freight_position_)));
  EXPECT_TRUE(at(after, node, Column::event_index).count(moved_order + '\0' + storage::be64(freight_position_)));
  EXPECT_TRUE(at(after, node, Column::billings).count(moved_order + "-1"));
  // The dead letter followed its event to a copy of the subscription on node3.
  EXPECT_EQ(report->subscriptions_copied, 1u);
  {
    auto& letters3 = at(after, "node3", Column::dead_letters);
    ASSERT_EQ(letters3.size(), 1u);
    auto letter = decode<fb::DeadLetterT>(letters3.begin()->second);
    auto ev = decode<fb::EventT>(events3.at(storage::be64(letter->position)));
    EXPECT_EQ(ev->order_id, dead_letter_order_);
    EXPECT_TRUE(at(after, node, Column::dead_letters).empty());
    auto& subs3 = at(after, "node3", Column::subscriptions);
    EXPECT_EQ(subs3.at("c/" + letter->subscription_id), storage::be64(0)) << "starts before the moved events";
  }
  // Recorded everywhere; nothing of the run left behind.
  for (auto& id : kNew) {
    auto& meta = at(after, id, Column::meta);
    EXPECT_FALSE(meta.count(kRebalanceMarkerKey)) << id;
    ASSERT_TRUE(meta.count(kMembershipKey)) << id;
    auto record = decode_membership(meta.at(kMembershipKey));
    ASSERT_TRUE(record.ok());
    EXPECT_EQ(record->member_ids, kNew);
    EXPECT_EQ(record->epoch, 2u);
    for (auto& [k, v] : meta) EXPECT_NE(k.rfind("rebalance/", 0), 0u) << id << ": " << k;
  }
  auto again = rebalance(change(), options());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->outcome, RebalanceReport::Outcome::already_done);
  EXPECT_EQ(dump(dirs()), after);
}

// The stop points tried: every write at the start (marking, the first steps) and at the
// end (the last steps, recording), a stride between them; WAYBILL_REBALANCE_STOPS=all
// tries every single one (about two seconds each).
std::vector<uint64_t> stop_points(uint64_t writes) {
  std::vector<uint64_t> out;
  const bool all = std::getenv("WAYBILL_REBALANCE_STOPS") && std::string(std::getenv("WAYBILL_REBALANCE_STOPS")) == "all";
  for (uint64_t k = 1; k < writes; ++k)
    if (all || k <= 6 || k + 5 >= writes || k % 7 == 0) out.push_back(k);
  return out;
}

TEST_F(RebalanceMove, AStopAfterAnyWriteThenARerunEndsWhereAnUninterruptedRunEnds) {
  auto reference = rebalance(change(), options());
  ASSERT_TRUE(reference.ok()) << reference.status().message();
  const Dump expected = dump(dirs());
  ASSERT_GT(reference->writes, 20u);
  for (uint64_t stop_at : stop_points(reference->writes)) {
    for (auto& id : kNew) fs::remove_all(dir_.path() / id);
    for (auto& id : kOld) fs::copy(pristine_->path() / id, dir_.path() / id, fs::copy_options::recursive);
    auto o = options();
    o.after_write = [stop_at](uint64_t n) { return n < stop_at; };
    auto stopped = rebalance(change(), o);
    ASSERT_FALSE(stopped.ok()) << "stop at write " << stop_at;
    // Meanwhile a marked node starts with neither list, and the new member is marked
    // from the first write to the last.
    for (auto& id : kNew) {
      auto store = storage::Store::open(small_store_options(dirs().at(id)));
      ASSERT_TRUE(store.ok());
      auto marker = read_rebalance_marker(**store);
      ASSERT_TRUE(marker.ok());
      if (id == "node3") EXPECT_TRUE(*marker) << "stop at " << stop_at;
      if (!*marker) continue;
      EXPECT_FALSE(claim_membership(**store, kOld).ok()) << id << ", stop at " << stop_at;
      EXPECT_FALSE(claim_membership(**store, kNew).ok()) << id << ", stop at " << stop_at;
    }
    auto resumed = rebalance(change(), options());
    ASSERT_TRUE(resumed.ok()) << "after a stop at write " << stop_at << ": " << resumed.status().message();
    ASSERT_EQ(dump(dirs()), expected) << "a stop at write " << stop_at << " then a rerun ended elsewhere";
  }
}

TEST_F(RebalanceMove, ADryRunPlansWithoutWriting) {
  const Dump before = dump(dirs());
  auto o = options();
  o.dry_run = true;
  auto plan = rebalance(change(), o);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->outcome, RebalanceReport::Outcome::planned);
  EXPECT_EQ(plan->writes, 0u);
  EXPECT_TRUE(plan->conflicts.empty());
  EXPECT_FALSE(fs::exists(dirs().at("node3"))) << "a dry run creates no store";
  EXPECT_EQ(dump(dirs()), before);
  auto run = rebalance(change(), options());
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(plan->moves.at({moving_.begin()->second, "node3"}).orders,
            run->moves.at({moving_.begin()->second, "node3"}).orders);
}

TEST_F(RebalanceMove, RefusesALockedStoreAnotherRebalanceAndConflictingRecords) {
  const Dump before = dump(dirs());
  {
    auto held = storage::Store::open(small_store_options(dirs().at("node2")));  // as a running waybilld holds it
    ASSERT_TRUE(held.ok());
    auto refused = rebalance(change(), options());
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("locked"), std::string::npos) << refused.status().message();
  }
  EXPECT_EQ(dump(dirs()), before) << "refused: nothing written";

  // A record of a moved order that differs on the destination stops the run before it
  // writes anything.
  const auto& [moved_order, from] = *moving_.begin();
  std::string tracking_key;
  for (auto& [k, v] : at(before, from, Column::tracking_index))
    if (v == moved_order + "-1") tracking_key = k;
  ASSERT_FALSE(tracking_key.empty());
  {
    auto dest = storage::Store::open(small_store_options(dirs().at("node3")));
    ASSERT_TRUE(dest.ok());
    ASSERT_TRUE((*dest)->write({{Column::tracking_index, tracking_key, "another shipment"}}, true).ok());
  }
  auto conflicted = rebalance(change(), options());
  ASSERT_FALSE(conflicted.ok());
  EXPECT_EQ(conflicted.status().code(), Code::conflict);
  EXPECT_NE(conflicted.status().message().find(moved_order), std::string::npos) << conflicted.status().message();
  fs::remove_all(dirs().at("node3"));
  EXPECT_EQ(dump(dirs()), before);

  // Stopped midway, then asked for a different change: refused.
  auto o = options();
  o.after_write = [](uint64_t n) { return n < 3; };
  ASSERT_FALSE(rebalance(change(), o).ok());
  auto other = change();
  other.to.member_ids.push_back("node4");
  TempDir node4("rebalance_node4");
  other.to.nodes.push_back({"node4", small_store_options(node4.str())});
  auto refused = rebalance(other, options());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("another rebalance"), std::string::npos) << refused.status().message();
  ASSERT_TRUE(rebalance(change(), options()).ok()) << "the one under way still finishes";
}

}  // namespace
}  // namespace waybill::runtime
