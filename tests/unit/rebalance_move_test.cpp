// A real move between stores: two nodes seeded through the engine and API (orders,
// Idempotency-Key requests, registered shipments, milestones, SLA timers, events, a
// webhook subscription, and two carriers' invoices with their disputes, decisions,
// totals, billings and freight events, each on its carrier's settlement node) plus
// records the engine writes only with carriers or failing webhooks (manifests,
// exceptions, tracking poll, booking work, dead letters), then rebalanced from 2 to 3
// members - under which one carrier's settlement owner changes and the other's does
// not. Checked: every record of a moved order or carrier is on its new owner and
// nowhere else, nothing is lost or duplicated, events keep their per-entity order, the
// node's own records stay - and a run stopped after any single write, then run again,
// ends exactly where an uninterrupted run ends.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <iostream>
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

// The carrier whose settlement moves (kOld -> kNew) and one whose settlement stays,
// picked from these names by rendezvous hashing in SetUpTestSuite.
const std::vector<std::string> kCarriers = {"ups", "fedex", "dhl", "usps", "ontrac", "lasership", "gls", "dpd"};
std::string stay_carrier, move_carrier;

std::string settles_on(const std::vector<std::string>& ids, const std::string& carrier) {
  return owner(ids, settlement_key(carrier));
}

// Orders alternate between the two carriers: each node holds shipments of both.
std::string carrier_of(const std::string& order_id) {
  return std::stoi(order_id.substr(order_id.find('-') + 1)) % 2 ? move_carrier : stay_carrier;
}

constexpr Column kSettlementColumns[] = {Column::invoices, Column::disputes, Column::settlement_totals, Column::billings};

// Whether a settlement record is `carrier`'s, read from its layout here rather than
// through the code under test: invoices and disputes are keyed carrier \0 ..., totals
// 'c'|'l' carrier \0 ..., a billing's value is "carrier:invoice_number#line".
bool of_carrier(Column c, const std::string& key, const std::string& value, const std::string& carrier) {
  if (c == Column::billings) return value.rfind(carrier + ':', 0) == 0;
  if (c == Column::settlement_totals) return key.size() > 1 && key.compare(1, carrier.size() + 1, carrier + '\0') == 0;
  return key.rfind(carrier + '\0', 0) == 0;
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
    const std::string carrier = carrier_of(id);
    auto shipped = n.call("POST", "/v1/shipments",
                          R"({"shipment_id":")" + id + R"(-1","order_id":")" + id + R"(","carrier":")" + carrier +
                              R"(","tracking_numbers":["1Z)" + id + R"("]})");
    ASSERT_EQ(shipped.status, 201) << shipped.body;
    for (auto [status, hour] : {std::pair{"picked_up", 8}, std::pair{"in_transit", 9}}) {
      auto m = n.call("POST", "/v1/tracking",
                      R"({"carrier":")" + carrier + R"(","tracking_number":"1Z)" + id + R"(","status":")" + status +
                          R"(","raw_code":"X","event_time":"2026-11-28T0)" + std::to_string(hour) + R"(:00:00Z"})");
      ASSERT_EQ(m.status, 200) << m.body;
    }
  }
  // The order notices its shipment's scans asynchronously: wait until it is quiet.
  for (auto& id : ids)
    ASSERT_TRUE(testing_support::eventually([&] { return n.call("GET", "/v1/orders/" + id).body.find("\"shipped\"") != std::string::npos; }))
        << id;
}

// `carrier`'s settlement on its settlement node: an invoice billing every shipment of the
// carrier held there and a number nobody holds (no order: its freight events have no
// index entry), a second invoice billing the first shipment again (a duplicate), and two
// dispute decisions (freight.dispute_accepted and freight.matched, dispute_rejected).
// Registered shipments have no booked quote, so every line is a dispute.
void settle(SeedNode& n, const std::string& carrier, const std::vector<std::string>& ids) {
  std::vector<std::string> lines;
  for (auto& id : ids)
    if (carrier_of(id) == carrier)
      lines.push_back(R"({"tracking_number":"1Z)" + id + R"(","billed_weight_g":1500,"base_minor":)" +
                      std::to_string(1000 + lines.size()) + "}");
  ASSERT_GE(lines.size(), 2u) << carrier;
  const std::string first = lines.front();
  lines.push_back(R"({"tracking_number":"1ZNOWHERE","billed_weight_g":900,"base_minor":700})");
  auto invoice = [&](const std::string& number, const std::vector<std::string>& of) {
    std::string body = R"({"carrier":")" + carrier + R"(","invoice_number":")" + number +
                       R"(","invoice_date":"2026-11-30","currency":"USD","lines":[)";
    for (size_t i = 0; i < of.size(); ++i) body += (i ? "," : "") + of[i];
    return n.call("POST", "/v1/invoices", body + "]}");
  };
  auto one = invoice("INV-1", lines);
  ASSERT_EQ(one.status, 201) << one.body;
  auto two = invoice("INV-2", {first});
  ASSERT_EQ(two.status, 201) << two.body;
  ASSERT_NE(two.body.find("\"duplicate\""), std::string::npos) << two.body;
  auto accepted = n.call("POST", "/v1/disputes/" + carrier + ":INV-1:1/accept", R"({"note":"ok"})");
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  auto rejected = n.call("POST", "/v1/disputes/" + carrier + ":INV-1:2/reject", R"({"note":"no"})");
  ASSERT_EQ(rejected.status, 200) << rejected.body;
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

// A node's freight events of `carrier`, by position.
std::map<uint64_t, fb::EventT> freight_of(const Dump& d, const std::string& node, const std::string& carrier) {
  std::map<uint64_t, fb::EventT> out;
  for (auto& [k, v] : at(d, node, Column::events)) {
    auto ev = decode<fb::EventT>(v);
    if (ev && ev->kind == fb::EntityKind::invoice && ev->freight && ev->freight->carrier == carrier)
      out.emplace(storage::read_be64(k), std::move(*ev));
  }
  return out;
}

// A node's settlement records of `carrier`, by column.
std::map<int, Records> settlement_of(const Dump& d, const std::string& node, const std::string& carrier) {
  std::map<int, Records> out;
  for (Column c : kSettlementColumns)
    for (auto& [k, v] : at(d, node, c))
      if (of_carrier(c, k, v, carrier)) out[static_cast<int>(c)][k] = v;
  return out;
}

class RebalanceMove : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pristine_ = new TempDir("rebalance_pristine");
    for (auto& c : kCarriers) {
      auto& pick = settles_on(kOld, c) == settles_on(kNew, c) ? stay_carrier : move_carrier;
      if (pick.empty()) pick = c;
    }
    ASSERT_FALSE(stay_carrier.empty());
    ASSERT_FALSE(move_carrier.empty()) << "no carrier name whose settlement owner changes";
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
    // Dead letters go on the node the moved carrier's settlement leaves: one of an order
    // moving from there, one of a freight event.
    const std::string settle_node = settles_on(kOld, move_carrier);
    for (auto& [id, from] : moving_)
      if (from == settle_node && dead_letter_order_.empty()) dead_letter_order_ = id;
    ASSERT_FALSE(dead_letter_order_.empty());
    for (auto& node : kOld) {
      SeedNode n((pristine_->path() / node).string());
      seed_orders(n, ids[node]);
      for (auto& carrier : {stay_carrier, move_carrier})
        if (settles_on(kOld, carrier) == node) settle(n, carrier, ids[node]);
      // A webhook subscriber there, failing.
      if (node == settle_node) {
        ASSERT_EQ(n.call("POST", "/v1/subscriptions", R"({"url":"http://127.0.0.1:9/hook","secrets":["0123456789abcdef01"]})").status, 201);
      }
    }
    add_records_without_engine();
  }
  static void TearDownTestSuite() { delete pristine_; }

  // Records the engine writes with carriers or webhooks failing for days.
  static void add_records_without_engine() {
    const std::string& moved_order = dead_letter_order_;
    const std::string node = moving_.at(moved_order);
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
    uint64_t dead_freight_position = 0;
    (void)s.scan_from(Column::events, "", 100000, [&](std::string_view k, std::string_view v) {
      auto ev = decode<fb::EventT>(v);
      if (ev && ev->kind == fb::EntityKind::invoice && ev->freight && ev->freight->carrier == move_carrier)
        dead_freight_position = storage::read_be64(k);
      return dead_freight_position == 0;
    });
    ASSERT_NE(dead_freight_position, 0u);
    std::string sub_id;
    (void)s.scan_prefix(Column::subscriptions, "s/", 10, [&](std::string_view k, std::string_view) {
      sub_id = std::string(k.substr(2));
      return false;
    });
    ASSERT_FALSE(sub_id.empty());
    std::vector<storage::WriteOp> ops = {
        {Column::manifests, actors::keys::manifest(carrier_of(moved_order), 0, sid), "1Z" + moved_order},
        {Column::exceptions, sid, "queued"},
        {Column::tracking_poll, carrier_of(moved_order) + '\0' + sid, ""},
        {Column::work, actors::keys::work_booking(sid), ""},
    };
    for (uint64_t position : {dead_position, dead_freight_position}) {
      fb::DeadLetterT letter;
      letter.subscription_id = sub_id;
      letter.position = position;
      letter.last_error = "HTTP 500";
      ops.push_back({Column::dead_letters, sub_id + '\0' + storage::be64(position), encode(letter)});
    }
    ASSERT_TRUE(s.write(ops, true).ok());
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
  static std::string dead_letter_order_;  // a moved order whose old owner settles move_carrier
  TempDir dir_{"rebalance_move"};
};

TempDir* RebalanceMove::pristine_ = nullptr;
std::map<std::string, std::string> RebalanceMove::moving_, RebalanceMove::staying_;
std::string RebalanceMove::dead_letter_order_;

// Where every record of `d` belongs under the new list, and what must be conserved.
void expect_converged(const Dump& before, const Dump& after) {
  std::multiset<std::string> kept_before, kept_after;  // column|key|value of entity records
  std::multiset<std::string> events_before, events_after;  // entity|seq|type
  std::multiset<std::string> indexed_before, indexed_after;  // index key|entity|seq|type of its event
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
            if (pair.first == &after && ev->kind != fb::EntityKind::invoice) {
              EXPECT_EQ(owner(kNew, ev->order_id), node) << ev->type << " of " << ev->order_id;
            }
            if (pair.first == &after && ev->kind == fb::EntityKind::invoice) {
              EXPECT_EQ(settles_on(kNew, ev->freight->carrier), node) << ev->type << " of " << ev->entity_id;
              // Indexed where it is, under the order its line billed (none: no entry).
              EXPECT_EQ(at(after, node, Column::event_index).count(ev->order_id + '\0' + k), ev->order_id.empty() ? 0u : 1u)
                  << ev->type << " of " << ev->entity_id << " on " << node;
            }
          }
          continue;
        }
        if (column == Column::event_index)
          for (auto& [k, v] : records) {
            auto event = at(*pair.first, node, Column::events).find(k.substr(k.size() - 8));
            if (pair.first == &after) {
              EXPECT_TRUE(event != at(after, node, Column::events).end()) << "dangling index entry on " << node;
            }
            if (event == at(*pair.first, node, Column::events).end()) continue;
            auto ev = decode<fb::EventT>(event->second);
            (pair.first == &before ? indexed_before : indexed_after)
                .insert(k.substr(0, k.size() - 9) + "|" + ev->entity_id + "|" + std::to_string(ev->entity_seq) + "|" + ev->type);
          }
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
          if (e.kind == RecordEntity::Kind::carrier) {
            EXPECT_EQ(settles_on(kNew, e.carrier), node) << storage::column_name(column) << " record of " << e.carrier;
          }
        }
      }
  EXPECT_EQ(kept_before, kept_after) << "records lost or duplicated";
  EXPECT_EQ(events_before, events_after) << "events lost or duplicated";
  EXPECT_EQ(indexed_before, indexed_after) << "index entries lost, duplicated or pointing elsewhere";
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
    for (auto it = index3.lower_bound(id + '\0'); it != index3.end() && it->first.rfind(id + '\0', 0) == 0; ++it) {
      auto ev = decode<fb::EventT>(events3.at(it->first.substr(id.size() + 1)));
      ASSERT_TRUE(ev);
      if (ev->kind == fb::EntityKind::invoice) continue;  // its carrier's: MovesACarriersSettlement...
      ++n;
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
  // The dead letters followed their events (an order's, a freight event) to a copy of
  // the subscription on node3.
  EXPECT_EQ(report->subscriptions_copied, 1u);
  {
    const std::string& node = moving_.at(dead_letter_order_);
    auto& letters3 = at(after, "node3", Column::dead_letters);
    ASSERT_EQ(letters3.size(), 2u);
    std::set<std::string> followed;
    for (auto& [k, v] : letters3) {
      auto letter = decode<fb::DeadLetterT>(v);
      auto ev = decode<fb::EventT>(events3.at(storage::be64(letter->position)));
      followed.insert(ev->kind == fb::EntityKind::invoice ? ev->freight->carrier : ev->order_id);
      EXPECT_EQ(ev->moved_from_node, node);
      auto& subs3 = at(after, "node3", Column::subscriptions);
      EXPECT_EQ(subs3.at("c/" + letter->subscription_id), storage::be64(0)) << "starts before the moved events";
    }
    EXPECT_EQ(followed, (std::set<std::string>{dead_letter_order_, move_carrier}));
    EXPECT_TRUE(at(after, node, Column::dead_letters).empty());
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

// A carrier's settlement follows settlement_key(carrier): the moved carrier's invoices,
// disputes, totals and billings are on its new owner byte for byte and nowhere else, its
// freight events appended there in their old order with their origin and their index
// entries; the other carrier's records are untouched, at the same positions.
TEST_F(RebalanceMove, MovesACarriersSettlementWhereItsOwnerChangesAndLeavesTheOthers) {
  const std::string from = settles_on(kOld, move_carrier), to = settles_on(kNew, move_carrier);
  const std::string stays_on = settles_on(kOld, stay_carrier);
  ASSERT_NE(from, to);
  ASSERT_EQ(stays_on, settles_on(kNew, stay_carrier));
  const Dump before = dump(dirs());
  auto report = rebalance(change(), options());
  ASSERT_TRUE(report.ok()) << report.status().message();
  const Dump after = dump(dirs());
  expect_converged(before, after);

  // Invoices, disputes, totals (carrier and lane rows), billings.
  const auto moved = settlement_of(before, from, move_carrier);
  for (Column c : kSettlementColumns) EXPECT_FALSE(moved.count(static_cast<int>(c)) == 0) << storage::column_name(c);
  EXPECT_EQ(moved.at(static_cast<int>(Column::invoices)).size(), 2u);
  EXPECT_EQ(settlement_of(after, to, move_carrier), moved) << "byte for byte on the new owner";
  for (auto& id : kNew) {
    if (id == to) continue;
    EXPECT_TRUE(settlement_of(after, id, move_carrier).empty()) << move_carrier << "'s records left on " << id;
  }
  const auto kept = settlement_of(before, stays_on, stay_carrier);
  EXPECT_EQ(kept.size(), std::size(kSettlementColumns));
  EXPECT_EQ(settlement_of(after, stays_on, stay_carrier), kept) << "the other carrier's, untouched";
  for (auto& id : kNew) {
    if (id == stays_on) continue;
    EXPECT_TRUE(settlement_of(after, id, stay_carrier).empty()) << stay_carrier << " on " << id;
  }

  // Freight events: on the new owner in their old order, the same events but for where
  // they came from, each invoice's entityseq rising; indexed there under the billed
  // order, the old positions' entries gone with them.
  const auto was = freight_of(before, from, move_carrier);
  const auto now = freight_of(after, to, move_carrier);
  ASSERT_GE(was.size(), 6u) << "a line each, the duplicate, the decisions";
  ASSERT_EQ(now.size(), was.size());
  EXPECT_TRUE(freight_of(after, from, move_carrier).empty());
  std::set<std::string> types;
  std::map<std::string, uint64_t> last_seq;
  size_t indexed = 0;
  auto w = was.begin();
  for (auto& [position, ev] : now) {
    EXPECT_EQ(ev.moved_from_node, from);
    EXPECT_EQ(ev.moved_from_position, w->first) << "in the order they had";
    fb::EventT origin = ev;
    origin.moved_from_node.clear();
    origin.moved_from_position = 0;
    EXPECT_EQ(encode(origin), at(before, from, Column::events).at(storage::be64(w->first))) << ev.type;
    EXPECT_GT(ev.entity_seq, last_seq[ev.entity_id]) << ev.entity_id << " " << ev.type;
    last_seq[ev.entity_id] = ev.entity_seq;
    types.insert(ev.type);
    if (!ev.order_id.empty()) {
      ++indexed;
      EXPECT_TRUE(at(after, to, Column::event_index).count(ev.order_id + '\0' + storage::be64(position)));
      EXPECT_FALSE(at(after, from, Column::event_index).count(ev.order_id + '\0' + storage::be64(w->first)));
    }
    ++w;
  }
  EXPECT_EQ(types, (std::set<std::string>{"freight.disputed", "freight.dispute_accepted", "freight.matched",
                                          "freight.dispute_rejected"}));
  EXPECT_GT(indexed, 0u);
  EXPECT_LT(indexed, now.size()) << "the line nobody holds has no order and no index entry";
  // Whichever orders they billed: moving with a carrier is independent of the orders.
  std::set<std::string> order_owners;
  for (auto& [position, ev] : now)
    if (!ev.order_id.empty()) order_owners.insert(owner(kNew, ev.order_id));
  EXPECT_TRUE(order_owners.count(from)) << "lines of orders that stay on " << from << " move with their carrier";
  const auto stayed = freight_of(before, stays_on, stay_carrier);
  ASSERT_FALSE(stayed.empty());
  for (auto& [position, ev] : stayed)
    EXPECT_EQ(at(after, stays_on, Column::events).at(storage::be64(position)),
              at(before, stays_on, Column::events).at(storage::be64(position)));

  uint64_t invoices = 0, settlement = 0;
  for (auto& [pair, c] : report->moves) {
    invoices += c.invoices;
    settlement += c.settlement_records;
  }
  EXPECT_EQ(invoices, 2u);
  uint64_t expected = now.size() + indexed;
  for (auto& [c, records] : moved) expected += records.size();
  EXPECT_EQ(settlement, expected) << "every settlement record, its freight events and index entries counted";
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

// Where a stop left the moved carrier's settlement: how many of its records (settlement
// column families; freight events) are on its old and on its new owner.
struct SettlementSplit {
  size_t records_old = 0, records_new = 0, freight_old = 0, freight_new = 0;
};

SettlementSplit settlement_split(const Dump& d) {
  const std::string from = settles_on(kOld, move_carrier), to = settles_on(kNew, move_carrier);
  SettlementSplit s;
  for (auto& [c, records] : settlement_of(d, from, move_carrier)) s.records_old += records.size();
  for (auto& [c, records] : settlement_of(d, to, move_carrier)) s.records_new += records.size();
  s.freight_old = freight_of(d, from, move_carrier).size();
  s.freight_new = freight_of(d, to, move_carrier).size();
  return s;
}

TEST_F(RebalanceMove, AStopAfterAnyWriteThenARerunEndsWhereAnUninterruptedRunEnds) {
  auto reference = rebalance(change(), options());
  ASSERT_TRUE(reference.ok()) << reference.status().message();
  const Dump expected = dump(dirs());
  ASSERT_GT(reference->writes, 20u);
  std::map<uint64_t, SettlementSplit> tried;
  auto stop_then_rerun = [&](uint64_t stop_at) {
    for (auto& id : kNew) fs::remove_all(dir_.path() / id);
    for (auto& id : kOld) fs::copy(pristine_->path() / id, dir_.path() / id, fs::copy_options::recursive);
    auto o = options();
    o.after_write = [stop_at](uint64_t n) { return n < stop_at; };
    auto stopped = rebalance(change(), o);
    ASSERT_FALSE(stopped.ok()) << "stop at write " << stop_at;
    tried[stop_at] = settlement_split(dump(dirs()));
    // Meanwhile a marked node starts with neither list, and the new member is marked
    // from the first write to the last.
    for (auto& id : kNew) {
      auto store = storage::Store::open(small_store_options(dirs().at(id)));
      ASSERT_TRUE(store.ok());
      auto marker = read_rebalance_marker(**store);
      ASSERT_TRUE(marker.ok());
      if (id == "node3") {
        EXPECT_TRUE(*marker) << "stop at " << stop_at;
      }
      if (!*marker) continue;
      EXPECT_FALSE(claim_membership(**store, kOld).ok()) << id << ", stop at " << stop_at;
      EXPECT_FALSE(claim_membership(**store, kNew).ok()) << id << ", stop at " << stop_at;
    }
    auto resumed = rebalance(change(), options());
    ASSERT_TRUE(resumed.ok()) << "after a stop at write " << stop_at << ": " << resumed.status().message();
    ASSERT_EQ(dump(dirs()), expected) << "a stop at write " << stop_at << " then a rerun ended elsewhere";
  };
  for (uint64_t stop_at : stop_points(reference->writes)) {
    stop_then_rerun(stop_at);
    if (HasFatalFailure()) return;
  }
  // Then every write while the moved carrier's settlement is between its nodes: from
  // the last stop that found none of it on the new owner to the first that found none
  // left on the old one, for its records and for its freight events.
  for (bool freight : {false, true}) {
    uint64_t first = 1, last = reference->writes - 1;
    for (auto& [k, s] : tried) {
      if ((freight ? s.freight_new : s.records_new) == 0) first = std::max(first, k);
      if ((freight ? s.freight_old : s.records_old) == 0) last = std::min(last, k);
    }
    for (uint64_t k = first; k <= last; ++k)
      if (!tried.count(k)) {
        stop_then_rerun(k);
        if (HasFatalFailure()) return;
      }
  }
  size_t records_between = 0, freight_between = 0;
  for (auto& [k, s] : tried) {
    records_between += s.records_old > 0 && s.records_new > 0;
    freight_between += s.freight_old > 0 && s.freight_new > 0;
  }
  EXPECT_GT(records_between, 0u) << "no stop left settlement records on both nodes";
  EXPECT_GT(freight_between, 0u) << "no stop left freight events on both nodes";
  std::cout << reference->writes << " writes, " << tried.size() << " stops tried; " << records_between
            << " left settlement records and " << freight_between << " freight events on both nodes" << std::endl;
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

// The same shipment billed on the ledger the carrier's settlement moves to (data the
// rebalance cannot merge: two first billings) stops the run before it writes anything,
// naming the carrier; so does a new member whose data dir already holds invoices.
TEST_F(RebalanceMove, RefusesASettlementRecordThatDiffersOnItsDestination) {
  const Dump before = dump(dirs());
  const std::string from = settles_on(kOld, move_carrier), to = settles_on(kNew, move_carrier);
  ASSERT_EQ(to, "node3");
  // A copy: a reference into the temporary map settlement_of returns would dangle.
  const Records billings = settlement_of(before, from, move_carrier).at(static_cast<int>(Column::billings));
  ASSERT_FALSE(billings.empty());
  const std::string shipment = billings.begin()->first;
  auto write_on_node3 = [&](const std::vector<storage::WriteOp>& ops) {
    auto dest = storage::Store::open(small_store_options(dirs().at("node3")));
    ASSERT_TRUE(dest.ok());
    ASSERT_TRUE((*dest)->write(ops, true).ok());
  };
  write_on_node3({{Column::billings, shipment, move_carrier + ":INV-OTHER#1"}});
  auto conflicted = rebalance(change(), options());
  ASSERT_FALSE(conflicted.ok());
  EXPECT_EQ(conflicted.status().code(), Code::conflict);
  EXPECT_NE(conflicted.status().message().find("carrier " + move_carrier), std::string::npos)
      << conflicted.status().message();
  EXPECT_NE(conflicted.status().message().find(shipment), std::string::npos) << conflicted.status().message();
  fs::remove_all(dirs().at("node3"));
  EXPECT_EQ(dump(dirs()), before) << "refused: nothing written";

  write_on_node3({{Column::invoices, move_carrier + '\0' + "INV-OTHER", "an invoice"}});
  auto occupied = rebalance(change(), options());
  ASSERT_FALSE(occupied.ok());
  EXPECT_NE(occupied.status().message().find("already holds"), std::string::npos) << occupied.status().message();
  fs::remove_all(dirs().at("node3"));
  EXPECT_EQ(dump(dirs()), before);
}

}  // namespace
}  // namespace waybill::runtime
