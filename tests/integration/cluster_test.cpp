// Three real waybilld nodes on loopback forming a cluster (configs like
// configs/cluster/node*.yaml, with middleman ports reserved up front): orders,
// registered shipments and milestones driven through every node, one node killed with
// SIGKILL while load runs, 503 with Retry-After for its keys only (and nothing written
// for them elsewhere), restart, and every acknowledged change still there.
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_fixture.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "openapi_contract.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kOrders = 30;

std::string order_json(const std::string& id) {
  return R"({"order_id":")" + id + R"(","service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St",)"
         R"("city":"Springfield","postal_code":"62701","country":"US"},"lines":[{"sku":"SKU-1","qty":1}]})";
}

std::string milestone_json(const std::string& tracking, const std::string& status, int seq) {
  return R"({"carrier":"ups","tracking_number":")" + tracking + R"(","status":")" + status +
         R"(","raw_code":"X","event_time":"2026-11-28T1)" + std::to_string(seq) + R"(:00:00Z","sequence":)" +
         std::to_string(seq) + "}";
}

std::string status_of(const HttpResult& r) { return Json::parse(r.body).str_or_empty("/status"); }

TEST(Cluster, ThreeNodesForwardSurviveSigkillAndLoseNothing) {
  ClusterFixture cluster;
  ASSERT_TRUE(cluster.ports_ok());
  for (int k = 0; k < kNodes; ++k) ASSERT_TRUE(cluster.node(k).start()) << node_name(k);
  const std::set<std::string> everyone = {"node1", "node2", "node3"};
  for (int k = 0; k < kNodes; ++k) ASSERT_TRUE(cluster.wait_view(k, everyone));

  // ---- orders, shipments and milestones through every node ------------------------
  std::map<std::string, std::string> owner;  // order id -> node that answered (X-Waybill-Node)
  for (int i = 0; i < kOrders; ++i) {
    const std::string id = "CL-" + std::to_string(i);
    auto via = cluster.client(i % kNodes);
    auto r = via.post("/v1/orders", order_json(id));
    ASSERT_EQ(r.status, 201) << id << ": " << r.describe();
    owner[id] = r.header("X-Waybill-Node");
    ASSERT_TRUE(everyone.count(owner[id])) << r.header("X-Waybill-Node");
    auto released = cluster.client((i + 1) % kNodes).post("/v1/orders/" + id + "/release", "");
    ASSERT_EQ(released.status, 200) << id << ": " << released.describe();
    EXPECT_EQ(released.header("X-Waybill-Node"), owner[id]) << "an order has one owner";
    auto shipment = cluster.client((i + 2) % kNodes)
                        .post("/v1/shipments", R"({"shipment_id":")" + id + R"(-1","order_id":")" + id +
                                                   R"(","carrier":"ups","tracking_numbers":["1ZCL)" + std::to_string(i) + R"("]})");
    ASSERT_EQ(shipment.status, 201) << id << ": " << shipment.describe();
    EXPECT_EQ(shipment.header("X-Waybill-Node"), owner[id]) << "a shipment lives with its order";
    auto m = cluster.client(i % kNodes).post("/v1/tracking", milestone_json("1ZCL" + std::to_string(i), "picked_up", 1));
    ASSERT_EQ(m.status, 200) << id << ": " << m.describe();
    EXPECT_EQ(Json::parse(m.body).str_or_empty("/outcome"), "applied") << m.body;
  }
  std::map<std::string, int> per_node;
  for (auto& [id, n] : owner) per_node[n]++;
  ASSERT_EQ(per_node.size(), 3u) << "every node owns some of the orders";

  // Source-shaped orders: the node asked maps the body to find the order id, then the
  // owner stores it. Sent again through the other nodes, each time the owner answers
  // with the original (200), never a second copy elsewhere.
  std::set<std::string> source_owners;
  for (int i = 0; i < 6; ++i) {
    const std::string tran = "NS-CL-" + std::to_string(i);
    const std::string body = R"({"id":")" + std::to_string(7000 + i) + R"(","tranId":")" + tran +
                             R"(","shipMethod":"UPS Ground","shippingAddress":{"addressee":"Ada","addr1":"1 Main St",)"
                             R"("city":"Springfield","state":"IL","zip":"62701","country":"United States"},)"
                             R"("item":{"items":[{"item":"WIDGET-1","quantity":1}]},"custbody_weight_lb":2})";
    auto created = cluster.client(i % kNodes).post("/v1/sources/netsuite/orders", body);
    ASSERT_EQ(created.status, 201) << tran << ": " << created.describe();
    const std::string source_owner = created.header("X-Waybill-Node");
    const std::string order_id = Json::parse(created.body).str_or_empty("/order_id");
    ASSERT_FALSE(order_id.empty()) << created.body;
    source_owners.insert(source_owner);
    for (int k = 1; k < kNodes; ++k) {
      auto again = cluster.client((i + k) % kNodes).post("/v1/sources/netsuite/orders", body);
      EXPECT_EQ(again.status, 200) << tran << " via " << node_name((i + k) % kNodes) << ": " << again.describe();
      EXPECT_EQ(again.header("X-Waybill-Node"), source_owner);
    }
    auto read = cluster.client((i + 1) % kNodes).get("/v1/orders/" + order_id);
    EXPECT_EQ(read.status, 200) << read.describe();
    EXPECT_EQ(read.header("X-Waybill-Node"), source_owner) << "the order lives on the node that stored it";
  }
  EXPECT_GT(source_owners.size(), 1u) << "six source orders all landed on one node: not routed by their ids";
  // A body that does not map is refused by the node asked, naming the source field.
  auto unmapped = cluster.client(0).post("/v1/sources/netsuite/orders", R"({"id":"1"})");
  EXPECT_EQ(unmapped.status, 400) << unmapped.describe();
  EXPECT_EQ(cluster.client(1).post("/v1/sources/nosuch/orders", "{}").status, 404);

  // One NDJSON body with a milestone of every shipment, sent to one node, applied by
  // the owners; a line for an unknown number is rejected as not found.
  std::string ndjson;
  for (int i = 0; i < kOrders; ++i) ndjson += milestone_json("1ZCL" + std::to_string(i), "in_transit", 2) + "\n";
  ndjson += milestone_json("1ZNOBODY", "in_transit", 2) + "\n";
  auto bulk = cluster.client(1).post_ndjson("/v1/tracking", ndjson);
  ASSERT_EQ(bulk.status, 200) << bulk.describe();
  auto summary = Json::parse(bulk.body);
  EXPECT_EQ(summary.int64("/summary/applied").value_or(-1), kOrders) << bulk.body;
  EXPECT_EQ(summary.int64("/summary/rejected").value_or(-1), 1) << bulk.body;
  EXPECT_EQ(summary.str_or_empty("/results/" + std::to_string(kOrders) + "/error"), "not_found") << bulk.body;

  for (int i = 0; i < kOrders; ++i) {
    const std::string id = "CL-" + std::to_string(i);
    auto o = cluster.client((i + 2) % kNodes).get("/v1/orders/" + id);
    ASSERT_EQ(o.status, 200) << o.describe();
    EXPECT_EQ(status_of(o), "shipped") << "the pickup scan, applied on the owner, ships the order";
    auto s = cluster.client((i + 1) % kNodes).get("/v1/shipments/" + id + "-1");
    ASSERT_EQ(s.status, 200) << s.describe();
    EXPECT_EQ(status_of(s), "in_transit") << s.body;
    EXPECT_EQ(s.header("X-Waybill-Node"), owner[id]);
  }

  // ---- SIGKILL one node while orders keep coming through another -----------------
  const int victim = 1;
  const std::string victim_id = node_name(victim);
  std::atomic<bool> stop{false};
  std::vector<std::string> acked_bg;  // created in the background and acknowledged
  std::thread load([&] {
    auto c = cluster.client(2);
    for (int i = 0; i < 2000 && !stop; ++i) {
      const std::string id = "BG-" + std::to_string(i);
      auto r = c.post("/v1/orders", order_json(id));
      if (r.status == 201) acked_bg.push_back(id);
      std::this_thread::sleep_for(2ms);
    }
  });
  std::this_thread::sleep_for(400ms);
  cluster.node(victim).kill();
  std::this_thread::sleep_for(400ms);
  stop = true;
  load.join();
  ASSERT_FALSE(acked_bg.empty());
  ASSERT_TRUE(cluster.wait_view(0, {"node1", "node3"}));
  ASSERT_TRUE(cluster.wait_view(2, {"node1", "node3"}));

  // The victim's keys answer 503 with Retry-After, from either survivor; the others work.
  int unavailable = 0, served = 0;
  for (int i = 0; i < kOrders; ++i) {
    const std::string id = "CL-" + std::to_string(i);
    for (int k : {0, 2}) {
      auto o = cluster.client(k).get("/v1/orders/" + id);
      auto m = cluster.client(k).post("/v1/tracking", milestone_json("1ZCL" + std::to_string(i), "out_for_delivery", 3));
      if (owner[id] == victim_id) {
        EXPECT_EQ(o.status, 503) << id << ": " << o.describe();
        EXPECT_FALSE(o.header("Retry-After").empty());
        EXPECT_EQ(o.header("X-Waybill-Owner"), victim_id);
        EXPECT_EQ(m.status, 503) << "its tracking numbers too: " << m.describe();
        EXPECT_FALSE(m.header("Retry-After").empty());
        ++unavailable;
      } else {
        EXPECT_EQ(o.status, 200) << id << ": " << o.describe();
        EXPECT_EQ(m.status, 200) << id << ": " << m.describe();
        ++served;
      }
    }
  }
  EXPECT_GT(unavailable, 0);
  EXPECT_GT(served, 0);
  // A new order owned by the victim is refused, not written elsewhere.
  std::string refused_id;
  std::vector<std::string> created_while_down;
  for (int i = 0; i < 100 && refused_id.empty(); ++i) {
    const std::string id = "NEW-" + std::to_string(i);
    auto r = cluster.client(0).post("/v1/orders", order_json(id));
    if (r.status == 503 && r.header("X-Waybill-Owner") == victim_id) refused_id = id;
    else if (r.status == 201) created_while_down.push_back(id);
    else ADD_FAILURE() << id << ": " << r.describe();
  }
  ASSERT_FALSE(refused_id.empty());
  auto metrics = cluster.client(0).get("/metrics");
  EXPECT_EQ(metric_value(metrics.body, "waybill_cluster_peer_up{peer=\"node2\"}"), 0.0);
  EXPECT_EQ(metric_value(metrics.body, "waybill_cluster_peer_up{peer=\"node3\"}"), 1.0);

  // ---- restart: everything acknowledged is there ----------------------------------
  ASSERT_TRUE(cluster.node(victim).restart());
  for (int k = 0; k < kNodes; ++k) ASSERT_TRUE(cluster.wait_view(k, everyone));
  for (int i = 0; i < kOrders; ++i) {
    const std::string id = "CL-" + std::to_string(i);
    for (int k = 0; k < kNodes; ++k) {
      auto o = cluster.client(k).get("/v1/orders/" + id);
      ASSERT_EQ(o.status, 200) << id << " via " << node_name(k) << ": " << o.describe();
      EXPECT_EQ(status_of(o), "shipped");
      EXPECT_EQ(o.header("X-Waybill-Node"), owner[id]);
    }
    auto s = cluster.client(victim).get("/v1/shipments/" + id + "-1");
    ASSERT_EQ(s.status, 200) << s.describe();
    // Survivors' shipments took the out_for_delivery scan; the victim's kept in_transit.
    EXPECT_EQ(status_of(s), owner[id] == victim_id ? "in_transit" : "out_for_delivery") << id << ": " << s.body;
  }
  for (auto& id : acked_bg) {
    auto o = cluster.client(static_cast<int>(id.size()) % kNodes).get("/v1/orders/" + id);
    EXPECT_EQ(o.status, 200) << "acknowledged " << id << " lost: " << o.describe();
  }
  for (auto& id : created_while_down) EXPECT_EQ(cluster.client(victim).get("/v1/orders/" + id).status, 200) << id;
  for (int k = 0; k < kNodes; ++k)
    EXPECT_EQ(cluster.client(k).get("/v1/orders/" + refused_id).status, 404) << "refused " << refused_id << " was written";
  std::cout << "cluster test: " << kOrders << " orders (" << per_node["node1"] << "/" << per_node["node2"] << "/"
            << per_node["node3"] << " per node), " << acked_bg.size() << " acknowledged during the kill, " << unavailable
            << " answers 503 for " << victim_id << "'s keys" << std::endl;
}

// GET /v1/cluster passes the same key check as every other route (`read`) and answers
// what the OpenAPI document describes; one member is enough to show it.
TEST(Cluster, MembershipViewNeedsTheReadScope) {
  PortReservation middleman;
  ASSERT_TRUE(middleman.ok());
  ServerProcess::Options o;
  o.config_yaml = "intake: {watch: false}\nsettlement: {watch: false}\nbooking: {carriers_dir: \"\"}\n"
                  "cluster:\n  node_id: solo\n  members:\n    - {id: solo, host: 127.0.0.1, port: " +
                  std::to_string(middleman.port()) + "}\n";
  ServerProcess node(o);
  ASSERT_TRUE(node.start());
  HttpClient c(node.host(), node.port());
  c.set_api_key("");
  EXPECT_EQ(c.get("/v1/cluster").status, 401) << "the membership (hosts, ports) is not for anonymous callers";
  c.set_api_key(scoped_key("ops"));
  EXPECT_EQ(c.get("/v1/cluster").status, 403);
  c.set_api_key(scoped_key("read"));
  auto r = c.get("/v1/cluster");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.header("X-Waybill-Node"), "solo");
  auto j = Json::parse(r.body);
  EXPECT_EQ(j.str_or_empty("/node_id"), "solo");
  EXPECT_EQ(j.size("/members"), 1u);
  EXPECT_EQ(j.boolean("/members/0/self"), true);
  EXPECT_EQ(j.boolean("/members/0/up"), true);
  EXPECT_TRUE(OpenApiContract::load().conforms("GET", "/v1/cluster", r));
  EXPECT_EQ(c.post("/v1/cluster", "{}").status, 403) << "other methods need admin";
}

}  // namespace
}  // namespace waybill::itest
