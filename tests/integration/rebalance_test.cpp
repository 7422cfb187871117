// Adding a node for real: two waybilld nodes on loopback take orders, registered
// shipments, milestones, Idempotency-Key requests, bookings at carrier-sim and a
// parcelco invoice billing the booked shipments (with a dispute decision), while their
// webhook subscriber is failing (so nothing is delivered yet); they are stopped,
// waybill-rebalance moves to three members - SIGKILLed twice midway and run again - and
// the three nodes start with the new list. Checked: every acknowledged order, shipment,
// milestone, booking and event is readable through every node from exactly one owner,
// the owner rendezvous hashing names; stored Idempotency-Key answers replay; nothing
// is booked twice; manifests and events moved; parcelco's settlement, whose owner
// changes with the third member, answers from its new node with the same invoice,
// disputes and totals, and still knows which shipments were billed; the subscriber
// finally gets every event; nodes refuse to start during the rebalance or with the old
// list; and the stores hold no record of a moved order or carrier on its old owner.
#include <fcntl.h>
#include <time.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "child_process.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"
#include "webhook_receiver.hpp"
#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/membership.hpp"
#include "waybill/runtime/rebalance.hpp"

#ifndef WAYBILL_REBALANCE_PATH
#define WAYBILL_REBALANCE_PATH "waybill-rebalance"
#endif

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;

constexpr int kNodes = 3;
constexpr int kRegistered = 24;
constexpr int kBooked = 6;

std::string node_name(int k) { return "node" + std::to_string(k + 1); }

std::string owner_of(int members, const std::string& order_id) {
  std::vector<runtime::ClusterMember> m;
  for (int k = 0; k < members; ++k) m.push_back({node_name(k), "", 0});
  return m[runtime::hrw_owner(m, order_id)].id;
}

// The node holding `carrier`'s settlement among the first `members` nodes.
std::string settles_on(int members, const std::string& carrier) { return owner_of(members, runtime::settlement_key(carrier)); }

std::string invoice_json(const std::string& number, const std::vector<std::pair<std::string, int64_t>>& lines) {
  std::string s = R"({"carrier":"parcelco","invoice_number":")" + number + R"(","invoice_date":")" + date_in_days() +
                  R"(","currency":"USD","lines":[)";
  for (size_t i = 0; i < lines.size(); ++i)
    s += std::string(i ? "," : "") + R"({"tracking_number":")" + lines[i].first +
         R"(","billed_weight_g":1500,"base_minor":)" + std::to_string(lines[i].second) + "}";
  return s + "]}";
}

// A node's freight events (its carriers' invoices) as subject#entityseq#type -> movedfrom.
std::map<std::string, std::string> freight_events(HttpClient& c) {
  std::map<std::string, std::string> out;
  auto r = c.get("/v1/events?limit=1000");
  EXPECT_EQ(r.status, 200) << r.describe();
  for (auto& e : Json::parse(r.body).items("/events"))
    if (e.str_or_empty("/type").rfind("freight.", 0) == 0)
      out[e.str_or_empty("/subject") + "#" + std::to_string(e.int64("/entityseq").value_or(-1)) + "#" +
          e.str_or_empty("/type")] = e.str_or_empty("/movedfrom");
  return out;
}

// Every dispute of the merged queue, as served.
std::vector<std::string> all_disputes(HttpClient& c) {
  std::vector<std::string> out;
  auto r = c.get("/v1/disputes?state=any&limit=1000");
  EXPECT_EQ(r.status, 200) << r.describe();
  for (auto& d : Json::parse(r.body).items("/disputes")) out.push_back(d.dump());
  return out;
}

using ToolRun = CommandRun;

// Runs waybill-rebalance with `args`, bounded in time, output captured.
ToolRun run_tool(std::vector<std::string> args) {
  args.insert(args.begin(), WAYBILL_REBALANCE_PATH);
  return run_command(std::move(args), 60s);
}

class RebalanceCluster {
 public:
  RebalanceCluster() {
    auto sim_cfg = quiet_sim_config();
    write_profile(profiles_.path(), "parcelco.yaml", load_source_yaml("configs/carriers/parcelco.yaml"),
                  "127.0.0.1:" + std::to_string(sim_port_.port()));
    SimProcess::Options so;
    so.config_yaml = to_yaml(sim_cfg);
    so.port = sim_port_.port();
    so.webhook_target = "http://127.0.0.1:9";  // no tracking pushes
    sim_ = std::make_unique<SimProcess>(std::move(so));
    for (int k = 0; k < kNodes; ++k) {
      ServerProcess::Options o;
      o.config_yaml = config_for(k, 2);
      nodes_[k] = std::make_unique<ServerProcess>(o);
    }
  }

  ::testing::AssertionResult start_sim() {
    auto r = sim_->start();
    sim_port_.release();
    return r;
  }

  // Node k's waybilld config for a cluster of the first `members` nodes.
  std::string config_for(int k, int members) const {
    std::string y = "intake: {watch: false}\nsettlement: {watch: false}\n"
                    "booking: {carriers_dir: " + profiles_.path() + "}\n"
                    "webhooks: {base_backoff_ms: 50, max_backoff_ms: 200}\n"
                    "cluster:\n  node_id: " + node_name(k) + "\n  reconnect_base_ms: 50\n  reconnect_max_ms: 250\n"
                    "  forward_timeout_ms: 5000\n  members:\n";
    for (int m = 0; m < members; ++m)
      y += "    - {id: " + node_name(m) + ", host: 127.0.0.1, port: " + std::to_string(mm_ports_[m].port()) + "}\n";
    return y;
  }
  // Switches node k's config file (read by its next incarnation) to `members` nodes.
  void use_members(int k, int members) {
    std::ofstream(nodes_[k]->dir() + "/waybilld.yaml", std::ios::trunc) << config_for(k, members);
  }
  // The config the tool reads for node k: the node's config with its data dir.
  std::string tool_config(int k, int members) {
    const std::string path = tool_dir_.path() + "/" + node_name(k) + "-of-" + std::to_string(members) + ".yaml";
    std::ofstream(path, std::ios::trunc) << config_for(k, members) << "data_dir: " << nodes_[k]->data_dir() << "\n";
    return path;
  }
  std::vector<std::string> tool_args(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--from", tool_config(0, 2), tool_config(1, 2), "--to"};
    for (int k = 0; k < kNodes; ++k) args.push_back(tool_config(k, 3));
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  ToolRun tool(std::vector<std::string> extra = {}) { return run_tool(tool_args(std::move(extra))); }

  ServerProcess& node(int k) { return *nodes_[k]; }
  HttpClient client(int k) { return HttpClient(nodes_[k]->host(), nodes_[k]->port(), 10s); }
  SimProcess& sim() { return *sim_; }
  bool ports_ok() const { return sim_port_.ok() && mm_ports_[0].ok() && mm_ports_[1].ok() && mm_ports_[2].ok(); }

  ::testing::AssertionResult wait_all_up(int members) {
    for (int k = 0; k < members; ++k) {
      bool up = WebhookReceiver::eventually(
          [&] {
            auto r = client(k).get("/v1/cluster");
            if (r.status != 200) return false;
            auto j = Json::parse(r.body);
            size_t n = 0;
            for (auto& m : j.items("/members")) n += m.boolean("/up").value_or(false) ? 1 : 0;
            return n == static_cast<size_t>(members);
          },
          15s, 50ms);
      if (!up) return ::testing::AssertionFailure() << node_name(k) << " does not see " << members << " members up";
    }
    return ::testing::AssertionSuccess();
  }

 private:
  PortReservation sim_port_;
  PortReservation mm_ports_[kNodes];
  TempDir profiles_{"waybill-rebalance-profiles"};
  TempDir tool_dir_{"waybill-rebalance-tool"};
  std::unique_ptr<SimProcess> sim_;
  std::unique_ptr<ServerProcess> nodes_[kNodes];
};

std::string order_json(const std::string& id) {
  return R"({"order_id":")" + id + R"(","service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St",)"
         R"("city":"Springfield","postal_code":"62701","country":"US"},"lines":[{"sku":"SKU-1","qty":1}]})";
}

std::string milestone_json(const std::string& tracking, const std::string& status, int hour) {
  return R"({"carrier":"ups","tracking_number":")" + tracking + R"(","status":")" + status +
         R"(","raw_code":"X","event_time":"2026-11-28T)" + (hour < 10 ? "0" : "") + std::to_string(hour) + R"(:00:00Z"})";
}

// What the test knows of an order before the move, read through the API.
struct Known {
  std::string owner_before;
  std::string order_body, shipment_status, booking_state, tracking_numbers;
  size_t milestones = 0;
  std::string release_key, release_answer;  // Idempotency-Key request and its answer
  std::set<std::string> events;  // subject#entityseq#type
};

// The order's and its shipments' events on a node. Freight events naming the order are
// its carrier's settlement's, on the carrier's node: checked with it (freight_events).
std::set<std::string> events_of(HttpClient& c, const std::string& order_id, std::map<std::string, std::string>* moved_from = nullptr) {
  std::set<std::string> out;
  auto r = c.get("/v1/events?order_id=" + order_id + "&limit=1000");
  EXPECT_EQ(r.status, 200) << r.describe();
  for (auto& e : Json::parse(r.body).items("/events")) {
    if (e.str_or_empty("/type").rfind("freight.", 0) == 0) continue;
    const std::string key = e.str_or_empty("/subject") + "#" + std::to_string(e.int64("/entityseq").value_or(-1)) +
                            "#" + e.str_or_empty("/type");
    out.insert(key);
    if (moved_from) (*moved_from)[key] = e.str_or_empty("/movedfrom");
  }
  return out;
}

int node_index(const std::string& id) { return id.empty() ? 0 : std::stoi(id.substr(4)) - 1; }

// Events are read from the order's owner: each node serves the events of its own entities.
Known read_known(RebalanceCluster& cluster, const std::string& order_id, const std::string& shipment_id) {
  Known k;
  auto c = cluster.client(0);
  auto o = c.get("/v1/orders/" + order_id);
  EXPECT_EQ(o.status, 200) << order_id << ": " << o.describe();
  k.owner_before = o.header("X-Waybill-Node");
  auto order = Json::parse(o.body);
  k.order_body = order.str_or_empty("/status");
  auto s = c.get("/v1/shipments/" + shipment_id);
  EXPECT_EQ(s.status, 200) << shipment_id << ": " << s.describe();
  auto sj = Json::parse(s.body);
  k.shipment_status = sj.str_or_empty("/status");
  k.booking_state = sj.str_or_empty("/booking/state");
  k.tracking_numbers = sj.at("/tracking_numbers").dump();
  k.milestones = sj.size("/milestones");
  auto at_owner = cluster.client(node_index(k.owner_before));
  k.events = events_of(at_owner, order_id);
  return k;
}

TEST(Rebalance, AddingANodeMovesEveryAcknowledgedEntityToItsNewOwner) {
  RebalanceCluster cluster;
  ASSERT_TRUE(cluster.ports_ok());
  ASSERT_TRUE(cluster.start_sim());
  WebhookReceiver receiver;
  ASSERT_TRUE(receiver.start());
  const std::string secret = WebhookReceiver::new_secret();
  receiver.set_endpoint("/hook", {secret});
  receiver.fail_with("/hook", 500);  // nothing is delivered before the move
  for (int k = 0; k < 2; ++k) ASSERT_TRUE(cluster.node(k).start()) << node_name(k);
  ASSERT_TRUE(cluster.wait_all_up(2));
  for (int k = 0; k < 2; ++k) {
    auto sub = cluster.client(k).post("/v1/subscriptions", R"({"url":")" + receiver.url("/hook") + R"(","secrets":[")" + secret + R"("]})");
    ASSERT_EQ(sub.status, 201) << sub.describe();
  }

  // ---- orders, shipments, milestones, Idempotency-Key requests, bookings --------------
  std::map<std::string, Known> known;  // by order id
  std::map<std::string, std::string> shipment_of;
  for (int i = 0; i < kRegistered; ++i) {
    const std::string id = "RB-" + std::to_string(i), tn = "1ZRB" + std::to_string(i);
    auto c = cluster.client(i % 2);
    ASSERT_EQ(c.post("/v1/orders", order_json(id)).status, 201) << id;
    auto released = cluster.client((i + 1) % 2).post("/v1/orders/" + id + "/release", "", {{"Idempotency-Key", "rel-" + id}});
    ASSERT_EQ(released.status, 200) << released.describe();
    auto s = c.post("/v1/shipments", R"({"shipment_id":")" + id + R"(-1","order_id":")" + id +
                                         R"(","carrier":"ups","tracking_numbers":[")" + tn + R"("]})");
    ASSERT_EQ(s.status, 201) << s.describe();
    for (auto [status, hour] : {std::pair{"picked_up", 8}, std::pair{"in_transit", 9}})
      ASSERT_EQ(cluster.client((i + 1) % 2).post("/v1/tracking", milestone_json(tn, status, hour)).status, 200);
    shipment_of[id] = id + "-1";
    known[id].release_key = "rel-" + id;
    known[id].release_answer = released.body;
  }
  std::vector<std::string> booked_ids;
  for (int i = 0; i < kBooked; ++i) {
    OrderSpec spec;
    spec.order_id = "BK-" + std::to_string(i);
    auto c = cluster.client(i % 2);
    ASSERT_TRUE(create_release_pack(c, spec)) << spec.order_id;
    booked_ids.push_back(spec.order_id + "-1");
    shipment_of[spec.order_id] = spec.order_id + "-1";
  }
  auto bookings = wait_for_bookings(cluster.node(0).host(), cluster.node(0).port(), booked_ids, 30s);
  for (auto& [sid, view] : bookings) ASSERT_EQ(view.state, "booked") << sid << ": " << view.describe();
  for (auto& [id, sid] : shipment_of) {
    auto k = read_known(cluster, id, sid);
    k.release_key = known[id].release_key;
    k.release_answer = known[id].release_answer;
    known[id] = std::move(k);
    ASSERT_EQ(known[id].owner_before, owner_of(2, id)) << id;
  }
  size_t moving = 0;
  for (auto& [id, k] : known) moving += owner_of(3, id) != k.owner_before ? 1 : 0;
  ASSERT_GT(moving, 3u) << "the new member must take some of the orders";
  ASSERT_LT(moving, known.size());

  // ---- parcelco's invoice, settled on its carrier's node --------------------------------
  const std::string ledger_before = settles_on(2, "parcelco"), ledger_after = settles_on(3, "parcelco");
  ASSERT_NE(ledger_before, ledger_after) << "parcelco's settlement must change owner, or nothing here is tested";
  std::vector<std::pair<std::string, int64_t>> lines;  // tracking number, billed
  for (auto& sid : booked_ids) {
    auto j = Json::parse(bookings[sid].body);
    const int64_t quote = j.int64("/rate/total/amount_minor").value_or(0);
    ASSERT_GT(quote, 0) << bookings[sid].body;
    lines.push_back({j.str_or_empty("/tracking_numbers/0"), quote});
  }
  lines.back().second += 5000;                  // billed above the quote: a dispute
  lines.push_back({"1ZNOWHERE", 700});          // no node holds it: a dispute without an order
  auto posted = cluster.client(0).post("/v1/invoices", invoice_json("INV-1", lines));
  ASSERT_EQ(posted.status, 201) << posted.describe();
  EXPECT_EQ(posted.header("X-Waybill-Node"), ledger_before);
  {
    auto j = Json::parse(posted.body);
    for (size_t i = 0; i + 2 < lines.size(); ++i) EXPECT_EQ(j.str_or_empty("/lines/" + std::to_string(i) + "/outcome"), "matched") << posted.body;
    EXPECT_EQ(j.str_or_empty("/lines/" + std::to_string(lines.size() - 2) + "/outcome"), "overbilled") << posted.body;
  }
  auto rejected = cluster.client(1).post("/v1/disputes/parcelco:INV-1:" + std::to_string(lines.size()) + "/reject",
                                         R"({"note":"not ours"})");
  ASSERT_EQ(rejected.status, 200) << rejected.describe();
  auto invoice_before = cluster.client(1).get("/v1/invoices/parcelco:INV-1");
  ASSERT_EQ(invoice_before.status, 200) << invoice_before.describe();
  auto via_first = cluster.client(0);
  const std::vector<std::string> disputes_before = all_disputes(via_first);
  ASSERT_EQ(disputes_before.size(), 2u);
  auto summary_before = cluster.client(0).get("/v1/settlement/summary?carrier=parcelco");
  ASSERT_EQ(summary_before.status, 200) << summary_before.describe();
  auto ledger_client = cluster.client(node_index(ledger_before));
  const auto freight_before = freight_events(ledger_client);
  ASSERT_GE(freight_before.size(), lines.size() + 1) << "a posting per line, and the decision";

  // ---- the tool refuses while the nodes run -------------------------------------------
  auto busy = cluster.tool();
  EXPECT_EQ(busy.exit_code, 2) << busy.describe();
  EXPECT_NE(busy.err.find("locked"), std::string::npos) << busy.describe();

  for (int k = 0; k < 2; ++k) ASSERT_TRUE(cluster.node(k).terminate().exited) << node_name(k);

  // ---- SIGKILL midway, twice; no node starts in between --------------------------------
  for (const char* kill_at : {"2", "9"}) {
    auto killed = cluster.tool({"--batch-records", "16", "--kill-after-writes", kill_at});
    ASSERT_EQ(killed.signal, SIGKILL) << killed.describe();
    for (int k : {0, 2}) {
      cluster.use_members(k, k == 0 ? 2 : 3);
      auto refused = cluster.node(k).run_to_exit();
      EXPECT_TRUE(refused.exited && refused.code != 0) << node_name(k) << ": " << refused.describe();
      EXPECT_NE(cluster.node(k).current_log().find("rebalance"), std::string::npos) << cluster.node(k).current_log();
    }
  }
  auto done = cluster.tool({"--batch-records", "16"});
  ASSERT_EQ(done.exit_code, 0) << done.describe();
  EXPECT_NE(done.out.find("done: epoch 2"), std::string::npos) << done.out;
  auto again = cluster.tool();
  EXPECT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.out;

  // The old list is refused now.
  cluster.use_members(0, 2);
  auto stale = cluster.node(0).run_to_exit();
  EXPECT_TRUE(stale.exited && stale.code != 0) << stale.describe();
  EXPECT_NE(cluster.node(0).current_log().find("belongs to members [node1, node2, node3]"), std::string::npos)
      << cluster.node(0).current_log();

  // ---- three nodes with the new list ---------------------------------------------------
  for (int k = 0; k < kNodes; ++k) {
    cluster.use_members(k, 3);
    ASSERT_TRUE(k == 2 && cluster.node(k).incarnations() == 0 ? cluster.node(k).start() : cluster.node(k).restart())
        << node_name(k);
  }
  ASSERT_TRUE(cluster.wait_all_up(3));
  receiver.fail_with("/hook", 0);

  for (auto& [id, k] : known) {
    const std::string owner = owner_of(3, id), sid = shipment_of[id];
    for (int via = 0; via < kNodes; ++via) {
      auto c = cluster.client(via);
      auto o = c.get("/v1/orders/" + id);
      ASSERT_EQ(o.status, 200) << id << " via " << node_name(via) << ": " << o.describe();
      EXPECT_EQ(o.header("X-Waybill-Node"), owner) << id << ": one owner, the one hashing names";
      EXPECT_EQ(Json::parse(o.body).str_or_empty("/status"), k.order_body) << id;
    }
    auto c = cluster.client(static_cast<int>(id.size()) % kNodes);
    auto s = c.get("/v1/shipments/" + sid);
    ASSERT_EQ(s.status, 200) << s.describe();
    EXPECT_EQ(s.header("X-Waybill-Node"), owner);
    auto sj = Json::parse(s.body);
    EXPECT_EQ(sj.str_or_empty("/status"), k.shipment_status) << sid;
    EXPECT_EQ(sj.str_or_empty("/booking/state"), k.booking_state) << sid;
    EXPECT_EQ(sj.at("/tracking_numbers").dump(), k.tracking_numbers) << sid;
    EXPECT_EQ(sj.size("/milestones"), k.milestones) << sid;
    std::map<std::string, std::string> moved_from;
    auto at_owner = cluster.client(node_index(owner));
    EXPECT_EQ(events_of(at_owner, id, &moved_from), k.events) << id << ": the order's events, on its owner";
    for (auto& [key, from] : moved_from)
      EXPECT_EQ(from, owner == k.owner_before ? "" : k.owner_before) << id << " " << key;
    if (!k.release_key.empty()) {
      auto replay = c.post("/v1/orders/" + id + "/release", "", {{"Idempotency-Key", k.release_key}});
      EXPECT_EQ(replay.status, 200) << replay.describe();
      EXPECT_EQ(replay.body, k.release_answer) << id << ": the stored answer, replayed by the new owner";
    }
  }
  // The moved entities take new changes on their new owner.
  for (int i = 0; i < kRegistered; ++i) {
    const std::string id = "RB-" + std::to_string(i);
    auto m = cluster.client(i % kNodes).post("/v1/tracking", milestone_json("1ZRB" + std::to_string(i), "out_for_delivery", 10));
    ASSERT_EQ(m.status, 200) << m.describe();
    EXPECT_EQ(Json::parse(m.body).str_or_empty("/outcome"), "applied") << id;
  }
  // parcelco's settlement answers from its new node, through every node, as before.
  for (int via = 0; via < kNodes; ++via) {
    auto c = cluster.client(via);
    auto got = c.get("/v1/invoices/parcelco:INV-1");
    ASSERT_EQ(got.status, 200) << node_name(via) << ": " << got.describe();
    EXPECT_EQ(got.header("X-Waybill-Node"), ledger_after);
    EXPECT_EQ(got.body, invoice_before.body) << "the invoice, via " << node_name(via);
    EXPECT_EQ(all_disputes(c), disputes_before) << "the merged dispute queue, via " << node_name(via);
    auto summary = c.get("/v1/settlement/summary?carrier=parcelco");
    EXPECT_EQ(summary.header("X-Waybill-Node"), ledger_after);
    EXPECT_EQ(summary.body, summary_before.body) << "the totals, via " << node_name(via);
  }
  {
    auto moved_to = cluster.client(node_index(ledger_after));
    auto left_on = cluster.client(node_index(ledger_before));
    auto freight_after = freight_events(moved_to);
    EXPECT_EQ(freight_after.size(), freight_before.size());
    for (auto& [key, from] : freight_before) {
      ASSERT_TRUE(freight_after.count(key)) << key << " not on " << ledger_after;
      EXPECT_EQ(freight_after[key], ledger_before) << key << ": movedfrom";
    }
    EXPECT_TRUE(freight_events(left_on).empty()) << "no freight event left on " << ledger_before;
  }
  // The billing index moved: a shipment billed before the move is a duplicate after it.
  auto second = cluster.client(2).post("/v1/invoices", invoice_json("INV-2", {lines[1]}));
  ASSERT_EQ(second.status, 201) << second.describe();
  EXPECT_EQ(second.header("X-Waybill-Node"), ledger_after);
  EXPECT_EQ(Json::parse(second.body).str_or_empty("/lines/0/outcome"), "duplicate") << second.body;
  EXPECT_EQ(Json::parse(second.body).str_or_empty("/lines/0/duplicate_of"), "parcelco:INV-1#2") << second.body;

  // Bookings: one live label per reference (the new owner did not book again), and
  // each booked shipment on its owner's manifest only.
  auto ledger = cluster.sim().labels();
  ASSERT_TRUE(ledger.has_value());
  for (auto& sid : booked_ids) EXPECT_EQ(ledger->live(sid).size(), 1u) << sid;
  for (int k = 0; k < kNodes; ++k) {
    auto man = cluster.client(k).get("/v1/manifests/parcelco");
    ASSERT_EQ(man.status, 200) << man.describe();
    std::set<std::string> listed;
    for (auto& s : Json::parse(man.body).items("/shipments")) listed.insert(s.str_or_empty("/shipment_id"));
    for (auto& sid : booked_ids)
      EXPECT_EQ(listed.count(sid), owner_of(3, sid.substr(0, sid.size() - 2)) == node_name(k) ? 1u : 0u)
          << sid << " on " << node_name(k) << "'s manifest";
  }
  // Every event reaches the subscriber, those of moved orders from their new owner.
  std::set<std::string> expected;
  for (auto& [id, k] : known)
    for (auto& e : k.events) expected.insert(e);
  for (auto& [key, from] : freight_before) expected.insert(key);
  auto missing = [&] {
    std::set<std::string> left = expected;
    for (auto& d : receiver.deliveries("/hook")) left.erase(d.subject + "#" + std::to_string(d.entityseq) + "#" + d.type);
    return left;
  };
  EXPECT_TRUE(WebhookReceiver::eventually([&] { return missing().empty(); }, 30s, 100ms))
      << missing().size() << " events never delivered, e.g. " << (missing().empty() ? "" : *missing().begin());

  // ---- the stores: nothing of a moved order or carrier on its old owner ----------------
  for (int k = 0; k < kNodes; ++k) ASSERT_TRUE(cluster.node(k).terminate().exited);
  size_t settlement_checked = 0;
  for (int k = 0; k < kNodes; ++k) {
    storage::StoreOptions so;
    so.data_dir = cluster.node(k).data_dir();
    so.block_cache_mb = 8;
    auto store = storage::Store::open(so);
    ASSERT_TRUE(store.ok()) << store.status().message();
    auto record = runtime::read_membership(**store);
    ASSERT_TRUE(record.ok() && *record);
    EXPECT_EQ((*record)->member_ids, (std::vector<std::string>{"node1", "node2", "node3"}));
    auto lookup = [&](std::string_view sid) -> std::optional<std::string> {
      std::string header;
      if (!(*store)->get(storage::Column::shipments, sid, &header).ok()) return std::nullopt;
      return runtime::routing_order_of_shipment(sid);
    };
    size_t checked = 0;
    for (auto column : {storage::Column::orders, storage::Column::shipments, storage::Column::milestones,
                        storage::Column::tracking_index, storage::Column::order_shipments, storage::Column::events,
                        storage::Column::idempotency, storage::Column::timers, storage::Column::manifests,
                        storage::Column::invoices, storage::Column::disputes, storage::Column::settlement_totals,
                        storage::Column::billings})
      (void)(*store)->scan_from(column, "", 100000, [&](std::string_view key, std::string_view value) {
        auto e = runtime::record_entity(column, key, value, lookup);
        if (e.kind == runtime::RecordEntity::Kind::carrier) {
          ++settlement_checked;
          EXPECT_EQ(settles_on(3, e.carrier), node_name(k))
              << storage::column_name(column) << " record of " << e.carrier << " left on " << node_name(k);
        }
        if (e.kind != runtime::RecordEntity::Kind::order) return true;
        ++checked;
        EXPECT_EQ(owner_of(3, e.order_id), node_name(k))
            << storage::column_name(column) << " record of " << e.order_id << " left on " << node_name(k);
        return true;
      });
    EXPECT_GT(checked, 0u) << node_name(k);
  }
  EXPECT_GT(settlement_checked, 0u);
  std::cout << "rebalance test: " << known.size() << " orders, " << moving << " moved to node3; parcelco's settlement ("
            << freight_before.size() << " freight events) moved from " << ledger_before << " to " << ledger_after << "\n"
            << done.out << std::endl;
}

}  // namespace
}  // namespace waybill::itest
