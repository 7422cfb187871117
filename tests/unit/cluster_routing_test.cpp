// Cluster routing as pure functions: rendezvous ownership, which key a request is
// about, merging the answers of a broadcast, and the `cluster:` config section.
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/config.hpp"

using namespace waybill;
using namespace waybill::runtime;

namespace {

std::vector<ClusterMember> members(int n) {
  std::vector<ClusterMember> out;
  for (int i = 1; i <= n; ++i) out.push_back({"node" + std::to_string(i), "127.0.0.1", static_cast<uint16_t>(7000 + i)});
  return out;
}

HttpRequest request(std::string method, std::string target, std::string body = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST(ClusterHrw, OwnerDoesNotDependOnMemberOrder) {
  auto a = members(3);
  auto b = std::vector<ClusterMember>{a[2], a[0], a[1]};
  for (int k = 0; k < 1000; ++k) {
    std::string key = "SO-" + std::to_string(k);
    EXPECT_EQ(a[hrw_owner(a, key)].id, b[hrw_owner(b, key)].id) << key;
  }
}

TEST(ClusterHrw, SpreadsKeysEvenly) {
  auto m = members(3);
  std::map<std::string, int> count;
  const int n = 30000;
  for (int k = 0; k < n; ++k) count[m[hrw_owner(m, "SO-" + std::to_string(k))].id]++;
  ASSERT_EQ(count.size(), 3u);
  for (auto& [id, c] : count) EXPECT_NEAR(c, n / 3, n / 30) << id;  // within 10%
}

TEST(ClusterHrw, AddingAMemberMovesOnlyTheKeysItWins) {
  auto three = members(3), four = members(4);
  int moved = 0;
  const int n = 20000;
  for (int k = 0; k < n; ++k) {
    std::string key = "SO-" + std::to_string(k);
    auto before = three[hrw_owner(three, key)].id, after = four[hrw_owner(four, key)].id;
    if (before != after) {
      EXPECT_EQ(after, "node4") << key << " moved between old members";
      ++moved;
    }
  }
  EXPECT_NEAR(moved, n / 4, n / 40);
}

TEST(ClusterHrw, ScoreIsStable) {
  // Ownership decides where data lives: a change of the hash moves every entity.
  EXPECT_EQ(hrw_score("node1", "SO-1"), hrw_score("node1", "SO-1"));
  EXPECT_NE(hrw_score("node1", "SO-1"), hrw_score("node2", "SO-1"));
  EXPECT_NE(hrw_score("ab", "c"), hrw_score("a", "bc"));
}

TEST(ClusterRouting, ShipmentIdsRouteByTheirOrder) {
  EXPECT_EQ(routing_order_of_shipment("SO-1-1"), "SO-1");
  EXPECT_EQ(routing_order_of_shipment("SO-1-12"), "SO-1");
  EXPECT_EQ(routing_order_of_shipment("WMS9"), "WMS9");
  EXPECT_EQ(routing_order_of_shipment("SO-1-x"), "SO-1-x");
  EXPECT_EQ(routing_order_of_shipment("SO-"), "SO-");
  EXPECT_EQ(routing_order_of_shipment("-1"), "-1");
}

TEST(ClusterRouting, ClassifiesRequests) {
  auto r = classify_request(request("POST", "/v1/orders", R"({"order_id":"SO-7","lines":[]})"));
  EXPECT_EQ(r.kind, RouteKind::owner);
  EXPECT_EQ(r.key, "SO-7");
  r = classify_request(request("GET", "/v1/orders/SO%2D7?x=1"));
  EXPECT_EQ(r.kind, RouteKind::owner);
  EXPECT_EQ(r.key, "SO-7");
  r = classify_request(request("POST", "/v1/orders/SO-7/release"));
  EXPECT_EQ(r.kind, RouteKind::owner);
  EXPECT_EQ(r.key, "SO-7");
  r = classify_request(request("GET", "/v1/trace/SO-7"));
  EXPECT_EQ(r.key, "SO-7");
  r = classify_request(request("POST", "/v1/shipments", R"({"shipment_id":"WMS-9","order_id":"SO-3"})"));
  EXPECT_EQ(r.kind, RouteKind::owner);
  EXPECT_EQ(r.key, "SO-3");
  r = classify_request(request("GET", "/v1/shipments/SO-7-1"));
  EXPECT_EQ(r.kind, RouteKind::shipment);
  EXPECT_EQ(r.key, "SO-7");
  r = classify_request(request("POST", "/v1/exceptions/SO-7-1/resolve", "{}"));
  EXPECT_EQ(r.kind, RouteKind::shipment);
  EXPECT_EQ(r.key, "SO-7");
  EXPECT_EQ(classify_request(request("POST", "/v1/tracking", "{}")).kind, RouteKind::broadcast);
  EXPECT_EQ(classify_request(request("POST", "/v1/carriers/ups/webhook", "{}")).kind, RouteKind::broadcast);
  // Invoices are routed by the carrier their body names (Cluster::resolve).
  EXPECT_EQ(classify_request(request("POST", "/v1/invoices", "{}")).kind, RouteKind::invoice_intake);
  // Source orders are routed by the id their profile maps the body to (Cluster::resolve).
  r = classify_request(request("POST", "/v1/sources/sap%2Dlike/orders", "{}"));
  EXPECT_EQ(r.kind, RouteKind::source_order);
  EXPECT_EQ(r.key, "sap-like");
  EXPECT_EQ(classify_request(request("GET", "/v1/sources/sap/orders")).kind, RouteKind::local);
  for (auto* local : {"/v1/events", "/v1/exceptions", "/metrics", "/healthz", "/v1/carriers", "/nope"})
    EXPECT_EQ(classify_request(request("GET", local)).kind, RouteKind::local) << local;
  // Unreadable keys are answered by local validation, which writes nothing.
  EXPECT_EQ(classify_request(request("POST", "/v1/orders", "not json")).kind, RouteKind::local);
  EXPECT_EQ(classify_request(request("POST", "/v1/orders", R"({"order_id":7})")).kind, RouteKind::local);
  EXPECT_EQ(classify_request(request("GET", "/v1/orders/%ZZ")).kind, RouteKind::local);
}

TEST(ClusterMerge, SingleMilestoneTakesTheHolder) {
  std::string by;
  std::vector<NodeAnswer> answers = {{"node1", true, {404, "application/problem+json", "nf", {}}},
                                     {"node2", true, {200, "application/json", R"({"outcome":"applied"})", {}}},
                                     {"node3", true, {404, "application/problem+json", "nf", {}}}};
  auto r = merge_broadcast(answers, false, &by);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(by, "node2");
  answers[1].response.status = 404;
  EXPECT_EQ(merge_broadcast(answers, false, &by).status, 404);
  answers[1].reached = false;  // the unreachable node may hold the number
  EXPECT_EQ(merge_broadcast(answers, false, &by).status, 503);
  answers[0].response.status = 422;  // bad input: every node says so
  EXPECT_EQ(merge_broadcast(answers, false, &by).status, 422);
}

TEST(ClusterMerge, NdjsonTakesPerLineTheNodeThatKnewTheNumber) {
  auto nf = [](int line) {
    return "{\"line\":" + std::to_string(line) +
           ",\"outcome\":\"rejected\",\"error\":\"not_found\",\"field\":\"tracking_number\",\"reason\":\"unknown\"}";
  };
  auto body = [](std::string a, std::string b) { return "{\"results\":[" + a + "," + b + "],\"summary\":{}}"; };
  std::string applied1 = R"({"line":1,"outcome":"applied","shipment_id":"A-1"})";
  std::string dup3 = R"({"line":3,"outcome":"duplicate","shipment_id":"B-1"})";
  std::vector<NodeAnswer> answers = {{"node1", true, {200, "application/json", body(applied1, nf(3)), {}}},
                                     {"node2", true, {200, "application/json", body(nf(1), dup3), {}}},
                                     {"node3", true, {200, "application/json", body(nf(1), nf(3)), {}}}};
  std::string by;
  auto r = merge_broadcast(answers, true, &by);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"results\":[" + applied1 + "," + dup3 +
                        "],\"summary\":{\"applied\":1,\"late\":0,\"duplicate\":1,\"rejected\":0}}");
  answers[1].reached = false;
  r = merge_broadcast(answers, true, &by);
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"line\":3,\"outcome\":\"rejected\",\"error\":\"unavailable\""), std::string::npos) << r.body;
  answers[2].response = {413, "application/problem+json", "too many", {}};
  EXPECT_EQ(merge_broadcast(answers, true, &by).status, 413);
}

TEST(ClusterConfig, ParsesTheSection) {
  auto c = parse_config(R"(
intake: {watch: false}
settlement: {watch: false}
cluster:
  node_id: node2
  forward_timeout_ms: 5000
  members:
    - {id: node1, host: 127.0.0.1, port: 7101}
    - {id: node2, host: 127.0.0.1, port: 7102}
    - {id: node3, port: 7103}
)");
  ASSERT_TRUE(c.ok()) << c.status().field() << ": " << c.status().message();
  EXPECT_TRUE(c->cluster.enabled());
  EXPECT_EQ(c->cluster.node_id, "node2");
  ASSERT_EQ(c->cluster.members.size(), 3u);
  EXPECT_EQ(c->cluster.members[2].host, "127.0.0.1");
  EXPECT_EQ(c->cluster.members[2].port, 7103);
  EXPECT_EQ(c->cluster.forward_timeout_ms, 5000);
  EXPECT_FALSE(parse_config("")->cluster.enabled());
}

TEST(ClusterConfig, ErrorsNameTheKey) {
  auto field = [](const std::string& yaml) {
    auto c = parse_config("intake: {watch: false}\nsettlement: {watch: false}\n" + yaml);
    return c.ok() ? std::string("ok") : c.status().field();
  };
  EXPECT_EQ(field("cluster: {node_id: n1, members: [{id: n1, port: 0}]}"), "cluster.members[0].port");
  EXPECT_EQ(field("cluster: {node_id: n1, members: [{id: n1, port: 70000}]}"), "cluster.members[0].port");
  EXPECT_EQ(field("cluster: {node_id: n1, members: [{id: n1, port: 1, zone: a}]}"), "cluster.members[0].zone");
  EXPECT_EQ(field("cluster: {node_id: n1, members: [{id: n1, port: 1}, {id: n1, port: 2}]}"), "cluster.members[1].id");
  EXPECT_EQ(field("cluster: {node_id: n1, members: [{id: n1, port: 1}, {id: n2, port: 1}]}"), "cluster.members[1].port");
  EXPECT_EQ(field("cluster: {node_id: n9, members: [{id: n1, port: 1}]}"), "cluster.node_id");
  EXPECT_EQ(field("cluster: {members: [{id: n1, port: 1}]}"), "cluster.node_id");
  EXPECT_EQ(field("cluster: {node_id: n1}"), "cluster.members");
  EXPECT_EQ(field("cluster: {node_id: 'a b', members: [{id: 'a b', port: 1}]}"), "cluster.members[0].id");
  EXPECT_EQ(field("cluster: {node_id: n1, members: [{id: n1, port: 1}]}"), "ok");
  auto c = parse_config("cluster: {node_id: n1, members: [{id: n1, port: 1}]}");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().field(), "intake.watch");
}

TEST(ClusterConfig, MembershipDigestIgnoresOrderAndEndpoints) {
  auto a = members(3);
  auto b = std::vector<ClusterMember>{a[2], a[0], a[1]};
  b[0].host = "localhost";
  EXPECT_EQ(membership_digest(a), membership_digest(b));
  EXPECT_NE(membership_digest(a), membership_digest(members(4)));
}
