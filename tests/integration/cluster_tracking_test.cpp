// A tracking number belongs to one shipment across the whole cluster, as on one node:
// a registration on one node is refused when a shipment of another node holds the
// number, refused with 503 (nothing stored) while a node that may hold it is down, and
// of registrations racing for one number on different nodes at most one passes.
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_fixture.hpp"
#include "http_client.hpp"
#include "json.hpp"

namespace waybill::itest {
namespace {

std::string order_body(const std::string& id) {
  return R"({"order_id":")" + id + R"(","service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St",)"
         R"("city":"Springfield","postal_code":"62701","country":"US"},"lines":[{"sku":"SKU-1","qty":1}]})";
}

std::string shipment_body(const std::string& order_id, const std::string& tracking) {
  return R"({"shipment_id":")" + order_id + R"(-1","order_id":")" + order_id + R"(","carrier":"ups","tracking_numbers":[")" +
         tracking + R"("]})";
}

TEST(ClusterTracking, ANumberBelongsToOneShipmentAcrossTheCluster) {
  ClusterFixture cluster;
  ASSERT_TRUE(cluster.ports_ok());
  for (int k = 0; k < kNodes; ++k) ASSERT_TRUE(cluster.node(k).start()) << node_name(k);
  const std::set<std::string> everyone = {"node1", "node2", "node3"};
  for (int k = 0; k < kNodes; ++k) ASSERT_TRUE(cluster.wait_view(k, everyone));

  // Orders on every node; owner by id.
  std::map<std::string, std::string> owner;
  std::map<std::string, std::vector<std::string>> by_node;
  for (int i = 0; i < 24; ++i) {
    const std::string id = "TR-" + std::to_string(i);
    auto r = cluster.client(i % kNodes).post("/v1/orders", order_body(id));
    ASSERT_EQ(r.status, 201) << r.describe();
    owner[id] = r.header("X-Waybill-Node");
    by_node[owner[id]].push_back(id);
  }
  ASSERT_EQ(by_node.size(), 3u);
  const std::string a = by_node["node1"][0], b = by_node["node2"][0];

  // ---- a number held on node1 is refused for a shipment of node2 -------------------
  auto first = cluster.client(2).post("/v1/shipments", shipment_body(a, "1ZDUP"));
  ASSERT_EQ(first.status, 201) << first.describe();
  auto second = cluster.client(2).post("/v1/shipments", shipment_body(b, "1ZDUP"));
  EXPECT_EQ(second.status, 409) << second.describe();
  auto problem = Json::parse(second.body);
  EXPECT_EQ(problem.str_or_empty("/field"), "tracking_numbers[0]") << second.body;
  EXPECT_NE(problem.str_or_empty("/detail").find(a + "-1"), std::string::npos) << second.body;
  EXPECT_EQ(second.header("X-Waybill-Node"), "node2") << "refused by the owner, which wrote nothing";
  EXPECT_EQ(cluster.client(0).get("/v1/shipments/" + b + "-1").status, 404);
  EXPECT_EQ(cluster.client(0).post("/v1/shipments", shipment_body(b, "1ZFREE")).status, 201);
  auto scan = cluster.client(1).post(
      "/v1/tracking", R"({"carrier":"ups","tracking_number":"1ZDUP","status":"picked_up","raw_code":"P",)"
                      R"("event_time":"2026-11-28T10:00:00Z","sequence":1})");
  ASSERT_EQ(scan.status, 200) << scan.describe();
  EXPECT_EQ(scan.header("X-Waybill-Node"), "node1") << "the one holder applies it";

  // ---- racing registrations of one number: at most one passes -----------------------
  for (int round = 0; round < 4; ++round) {
    const std::string number = "1ZRACE" + std::to_string(round);
    std::vector<std::string> racers;
    for (auto& [node, ids] : by_node)
      for (int j = 1 + round * 2; j < 3 + round * 2 && j < static_cast<int>(ids.size()); ++j) racers.push_back(ids[j]);
    std::atomic<int> created{0}, refused{0};
    std::vector<std::thread> threads;
    for (size_t t = 0; t < racers.size(); ++t)
      threads.emplace_back([&, t] {
        auto r = cluster.client(static_cast<int>(t) % kNodes).post("/v1/shipments", shipment_body(racers[t], number));
        if (r.status == 201) ++created;
        else if (r.status == 409) ++refused;
        else ADD_FAILURE() << racers[t] << ": " << r.describe();
      });
    for (auto& t : threads) t.join();
    EXPECT_LE(created.load(), 1) << number << " registered for two shipments";
    EXPECT_EQ(created + refused, static_cast<int>(racers.size()));
  }

  // ---- a node down: its numbers cannot be checked, nothing is stored ----------------
  cluster.node(2).kill();
  ASSERT_TRUE(cluster.wait_view(0, {"node1", "node2"}));
  const std::string c = by_node["node1"][1];
  auto blind = cluster.client(0).post("/v1/shipments", shipment_body(c, "1ZBLIND"));
  EXPECT_EQ(blind.status, 503) << blind.describe();
  EXPECT_FALSE(blind.header("Retry-After").empty());
  auto order = cluster.client(0).get("/v1/orders/" + c);
  ASSERT_EQ(order.status, 200) << order.describe();
  EXPECT_EQ(Json::parse(order.body).size("/shipments"), 0u) << "nothing stored: " << order.body;
  ASSERT_TRUE(cluster.node(2).restart());
  for (int k = 0; k < kNodes; ++k) ASSERT_TRUE(cluster.wait_view(k, everyone));
  EXPECT_EQ(cluster.client(0).post("/v1/shipments", shipment_body(c, "1ZBLIND")).status, 201);
}

}  // namespace
}  // namespace waybill::itest
