// Freight settlement across three real nodes: an invoice posted to any node settles on
// its carrier's node against shipments that live on every node; a shipment billed
// twice is caught whichever nodes hold it; the dispute queue and the summary merge
// every node's part; while a node is down a new invoice is refused (503, nothing
// stored) because the shipments it bills may live there, and it settles once the node
// is back.
#include <ctime>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_fixture.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "openapi_contract.hpp"
#include "sim_process.hpp"

namespace waybill::itest {
namespace {

constexpr int kShipments = 12;

std::string order_body(const std::string& id) {
  return R"({"order_id":")" + id + R"(","service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St",)"
         R"("city":"Springfield","postal_code":"62701","country":"US"},"lines":[{"sku":"SKU-1","qty":1}]})";
}

// A line by tracking number, or by reference when `tracking` is empty.
std::string line(const std::string& tracking, const std::string& reference, int64_t base_minor) {
  std::string s = "{";
  if (!tracking.empty()) s += R"("tracking_number":")" + tracking + "\",";
  if (!reference.empty()) s += R"("reference":")" + reference + "\",";
  return s + R"("billed_weight_g":1500,"base_minor":)" + std::to_string(base_minor) + "}";
}

std::string invoice(const std::string& number, const std::vector<std::string>& lines) {
  std::string s = R"({"carrier":"parcelco","invoice_number":")" + number + R"(","invoice_date":")" + date_in_days() +
                  R"(","currency":"USD","lines":[)";
  for (size_t i = 0; i < lines.size(); ++i) s += (i ? "," : "") + lines[i];
  return s + "]}";
}

// Every dispute id of the merged queue read through node `k`, `limit` per page.
::testing::AssertionResult all_disputes(ClusterFixture& cluster, int k, int limit, std::vector<std::string>* ids) {
  std::string after;
  for (int page = 0; page < 100; ++page) {
    auto r = cluster.client(k).get("/v1/disputes?state=any&limit=" + std::to_string(limit) +
                                   (after.empty() ? "" : "&after=" + after));
    if (r.status != 200) return ::testing::AssertionFailure() << r.describe();
    auto j = Json::parse(r.body);
    for (auto& d : j.items("/disputes")) ids->push_back(d.str_or_empty("/dispute_id"));
    after = j.str_or_empty("/next_after");
    if (after.empty()) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "more than 100 pages";
}

TEST(ClusterSettlement, InvoicesSettleAgainstEveryNodesShipmentsAndRefuseWhileOneIsDown) {
  ClusterFixture cluster(/*with_carrier_sim=*/true);
  ASSERT_TRUE(cluster.ports_ok());
  ASSERT_TRUE(cluster.start_sim());
  for (int k = 0; k < kNodes; ++k) ASSERT_TRUE(cluster.node(k).start()) << node_name(k);
  const std::set<std::string> everyone = {"node1", "node2", "node3"};
  for (int k = 0; k < kNodes; ++k) ASSERT_TRUE(cluster.wait_view(k, everyone));

  // ---- shipments booked at carrier-sim on every node ---------------------------------
  std::vector<std::string> shipment_ids;
  for (int i = 0; i < kShipments; ++i) {
    OrderSpec spec;
    spec.order_id = "ST-" + std::to_string(i);
    auto via = cluster.client(i % kNodes);
    ASSERT_TRUE(create_release_pack(via, spec));
    shipment_ids.push_back(spec.order_id + "-1");
  }
  auto views = wait_for_bookings(cluster.node(0).host(), cluster.node(0).port(), shipment_ids, 60s);
  std::vector<std::string> tracking(kShipments);
  std::vector<int64_t> quote(kShipments);
  std::set<std::string> holders;
  for (int i = 0; i < kShipments; ++i) {
    auto& v = views[shipment_ids[i]];
    ASSERT_EQ(v.state, "booked") << v.describe();
    auto j = Json::parse(v.body);
    tracking[i] = j.str_or_empty("/tracking_numbers/0");
    quote[i] = j.int64("/rate/total/amount_minor").value_or(0);
    ASSERT_FALSE(tracking[i].empty()) << v.body;
    ASSERT_GT(quote[i], 0) << v.body;
    holders.insert(cluster.client(1).get("/v1/shipments/" + shipment_ids[i]).header("X-Waybill-Node"));
  }
  ASSERT_EQ(holders, everyone) << "the invoice must bill shipments of every node";

  // ---- an invoice through a node, billing shipments of all three --------------------
  std::vector<std::string> lines;
  for (int i = 0; i < kShipments; ++i) lines.push_back(line(tracking[i], "", quote[i]));
  lines.push_back(line("", "ST-0", 500));            // by reference: an order id with one parcelco shipment
  lines.push_back(line("1ZNOWHERE", "", 700));       // no node holds it
  const std::string inv1 = invoice("INV-C1", lines);
  auto posted = cluster.client(0).post("/v1/invoices", inv1);
  ASSERT_EQ(posted.status, 201) << posted.describe();
  const std::string ledger = posted.header("X-Waybill-Node");
  ASSERT_TRUE(everyone.count(ledger)) << ledger;
  auto j = Json::parse(posted.body);
  ASSERT_EQ(j.size("/lines"), lines.size()) << posted.body;
  for (int i = 0; i < kShipments; ++i) {
    const std::string at = "/lines/" + std::to_string(i);
    EXPECT_EQ(j.str_or_empty(at + "/shipment_id"), "ST-" + std::to_string(i) + "-1") << posted.body;
    EXPECT_EQ(j.str_or_empty(at + "/order_id"), "ST-" + std::to_string(i)) << posted.body;
    EXPECT_EQ(j.str_or_empty(at + "/matched_by"), "tracking_number");
    EXPECT_EQ(j.str_or_empty(at + "/outcome"), "matched") << "billed as quoted";
  }
  const std::string by_ref = "/lines/" + std::to_string(kShipments);
  EXPECT_EQ(j.str_or_empty(by_ref + "/matched_by"), "reference");
  EXPECT_EQ(j.str_or_empty(by_ref + "/outcome"), "duplicate") << "ST-0-1 is billed on line 1 already";
  EXPECT_EQ(j.str_or_empty(by_ref + "/duplicate_of"), "parcelco:INV-C1#1");
  const std::string nowhere = "/lines/" + std::to_string(kShipments + 1);
  EXPECT_EQ(j.str_or_empty(nowhere + "/outcome"), "unmatched");
  EXPECT_TRUE(OpenApiContract::load().conforms("POST", "/v1/invoices", posted));

  // Read through every node from the carrier's node; a resend is answered from storage.
  for (int k = 0; k < kNodes; ++k) {
    auto got = cluster.client(k).get("/v1/invoices/parcelco:INV-C1");
    ASSERT_EQ(got.status, 200) << got.describe();
    EXPECT_EQ(got.header("X-Waybill-Node"), ledger);
    auto again = cluster.client(k).post("/v1/invoices", inv1);
    EXPECT_EQ(again.status, 200) << again.describe();
    EXPECT_EQ(again.header("X-Waybill-Node"), ledger);
  }

  // ---- the same shipment on a second invoice, sent as CSV to another node ------------
  const std::string csv = "carrier,invoice_number,invoice_date,currency,tracking_number,reference,billed_weight_kg,base\n"
                          "parcelco,INV-C2," + date_in_days() + ",USD," + tracking[5] + ",,1.5," + std::to_string(quote[5] / 100) +
                          "." + (quote[5] % 100 < 10 ? "0" : "") + std::to_string(quote[5] % 100) + "\n";
  auto second = cluster.client(2).post("/v1/invoices", csv, {{"Content-Type", "text/csv"}});
  ASSERT_EQ(second.status, 201) << second.describe();
  EXPECT_EQ(second.header("X-Waybill-Node"), ledger) << "one carrier, one ledger";
  auto j2 = Json::parse(second.body);
  EXPECT_EQ(j2.str_or_empty("/lines/0/outcome"), "duplicate") << second.body;
  EXPECT_EQ(j2.str_or_empty("/lines/0/duplicate_of"), "parcelco:INV-C1#6");

  // ---- cluster-wide views ----------------------------------------------------------
  std::vector<std::string> whole, paged;
  ASSERT_TRUE(all_disputes(cluster, 1, 1000, &whole));
  ASSERT_TRUE(all_disputes(cluster, 2, 2, &paged));
  EXPECT_EQ(paged, whole) << "paging the merged queue misses and repeats nothing";
  EXPECT_GE(whole.size(), 3u) << "the duplicate lines and the unmatched one are disputes";
  EXPECT_EQ(std::set<std::string>(whole.begin(), whole.end()).size(), whole.size());
  auto summary = cluster.client(1).get("/v1/settlement/summary");
  ASSERT_EQ(summary.status, 200) << summary.describe();
  auto sj = Json::parse(summary.body);
  ASSERT_EQ(sj.size("/carriers"), 1u) << summary.body;
  EXPECT_EQ(sj.str_or_empty("/carriers/0/carrier"), "parcelco");
  EXPECT_EQ(sj.int64("/carriers/0/lines"), std::optional<int64_t>(lines.size() + 1)) << summary.body;
  EXPECT_TRUE(OpenApiContract::load().conforms("GET", "/v1/settlement/summary", summary));
  EXPECT_EQ(cluster.client(0).get("/v1/settlement/summary?carrier=parcelco").header("X-Waybill-Node"), ledger);

  // ---- an order's trace reaches the invoice lines on its carrier's node -------------
  int traced_elsewhere = 0;
  for (int i = 0; i < kShipments; ++i) {
    auto t = cluster.client(i % kNodes).get("/v1/trace/ST-" + std::to_string(i));
    ASSERT_EQ(t.status, 200) << t.describe();
    traced_elsewhere += t.header("X-Waybill-Node") != ledger;
    auto tj = Json::parse(t.body);
    ASSERT_GE(tj.size("/invoice_lines"), 1u) << t.body;
    EXPECT_EQ(tj.str_or_empty("/invoice_lines/0/freight/invoice_id"), "parcelco:INV-C1") << t.body;
    int freight = 0;
    for (auto& e : tj.items("/audit")) freight += e.str_or_empty("/type").rfind("freight.", 0) == 0;
    EXPECT_GE(freight, 1) << "the freight.* events of the lines billing ST-" << i << ": " << t.body;
    EXPECT_TRUE(OpenApiContract::load().conforms("GET", "/v1/trace/{order_id}", t));
  }
  EXPECT_GT(traced_elsewhere, 0) << "some orders live on other nodes than their carrier's ledger";
  EXPECT_EQ(Json::parse(cluster.client(1).get("/v1/trace/ST-5").body).size("/invoice_lines"), 2u)
      << "ST-5 is billed on INV-C1 and again on INV-C2";
  auto outside_trail = cluster.client(0).get("/_cluster/freight-trail/ST-1");
  EXPECT_EQ(outside_trail.status, 404) << outside_trail.describe();

  // The members' facts query is no public route.
  auto outside = cluster.client(0).post("/_cluster/invoice-facts", "x");
  EXPECT_EQ(outside.status, 404) << outside.describe();

  // ---- a node down: new invoices wait, stored ones are still answered ---------------
  int victim = 0;
  while (node_name(victim) == ledger) ++victim;
  std::set<std::string> survivors = everyone;
  survivors.erase(node_name(victim));
  cluster.node(victim).kill();
  const int via = (victim + 1) % kNodes;
  ASSERT_TRUE(cluster.wait_view(via, survivors));
  const std::string inv3 = invoice("INV-C3", {line(tracking[1], "", quote[1])});
  auto refused = cluster.client(via).post("/v1/invoices", inv3);
  EXPECT_EQ(refused.status, 503) << refused.describe();
  EXPECT_FALSE(refused.header("Retry-After").empty());
  EXPECT_EQ(cluster.client(via).get("/v1/invoices/parcelco:INV-C3").status, 404) << "a refused invoice stores nothing";
  EXPECT_EQ(cluster.client(via).post("/v1/invoices", inv1).status, 200) << "a stored invoice needs no facts";
  auto queue = cluster.client(via).get("/v1/disputes");
  EXPECT_EQ(queue.status, 503) << "a merged list without a node's part is not the list";
  EXPECT_FALSE(queue.header("Retry-After").empty());

  ASSERT_TRUE(cluster.node(victim).restart());
  for (int k = 0; k < kNodes; ++k) ASSERT_TRUE(cluster.wait_view(k, everyone));
  auto settled = cluster.client(victim).post("/v1/invoices", inv3);
  ASSERT_EQ(settled.status, 201) << settled.describe();
  EXPECT_EQ(Json::parse(settled.body).str_or_empty("/lines/0/outcome"), "duplicate");
  std::cout << "cluster settlement: carrier parcelco settles on " << ledger << "; " << lines.size()
            << " lines over shipments of 3 nodes; " << whole.size() << " disputes in the merged queue" << std::endl;
}

}  // namespace
}  // namespace waybill::itest
