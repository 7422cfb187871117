// Settlement across a cluster, the pure parts: routing by carrier, merging every
// member's facts for an invoice line into what one store would answer, the facts
// messages on the wire, and the merged dispute queue and summary.
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "waybill/actors/settlement_facts.hpp"
#include "waybill/runtime/cluster_routing.hpp"

using namespace waybill;
using namespace waybill::runtime;
using actors::LineFacts;
using actors::LineMatch;

namespace {

HttpRequest request(std::string method, std::string target, std::string body = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

LineFacts tracked(const std::string& shipment_id, int64_t ship_day, bool shipped_before) {
  LineFacts f;
  f.match = LineMatch::tracking_number;
  f.ship_day = ship_day;
  f.shipped_before = shipped_before;
  f.shipment.emplace();
  f.shipment->shipment_id = shipment_id;
  return f;
}

LineFacts by_reference(const std::string& shipment_id, LineMatch how) {
  LineFacts f;
  f.match = how;
  f.shipment.emplace();
  f.shipment->shipment_id = shipment_id;
  return f;
}

LineFacts nothing(const std::string& reason, bool ambiguous = false) {
  LineFacts f;
  f.unmatched_reason = reason;
  f.ambiguous_reference = ambiguous;
  return f;
}

NodeAnswer answer(const std::string& node, std::string body, int status = 200) {
  return {node, true, {status, "application/json", std::move(body), {}}};
}

std::string disputes(const std::vector<std::string>& ids, const std::string& next_after = "") {
  std::string s = R"({"disputes":[)";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + (R"({"dispute_id":")" + ids[i] + R"(","state":"open"})");
  s += "]";
  if (!next_after.empty()) s += R"(,"next_after":")" + next_after + "\"";
  return s + "}";
}

}  // namespace

TEST(ClusterSettlementRouting, InvoicesAndDisputesGoToTheirCarriersNode) {
  EXPECT_EQ(classify_request(request("POST", "/v1/invoices", "{}")).kind, RouteKind::invoice_intake);
  auto r = classify_request(request("GET", "/v1/invoices/ups%3AINV-1"));
  EXPECT_EQ(r.kind, RouteKind::settlement);
  EXPECT_EQ(r.key, "ups");
  r = classify_request(request("POST", "/v1/disputes/ups:INV-1:3/accept", ""));
  EXPECT_EQ(r.kind, RouteKind::settlement);
  EXPECT_EQ(r.key, "ups");
  r = classify_request(request("GET", "/v1/disputes?state=any&carrier=fedex"));
  EXPECT_EQ(r.kind, RouteKind::settlement);
  EXPECT_EQ(r.key, "fedex");
  EXPECT_EQ(classify_request(request("GET", "/v1/disputes?state=any")).kind, RouteKind::merged_view);
  EXPECT_EQ(classify_request(request("GET", "/v1/settlement/summary")).kind, RouteKind::merged_view);
  EXPECT_EQ(classify_request(request("GET", "/v1/settlement/summary?carrier=ups")).key, "ups");
  // An id without a carrier is answered by local validation (4xx, nothing written).
  EXPECT_EQ(classify_request(request("GET", "/v1/invoices/nocolon")).kind, RouteKind::local);
  EXPECT_EQ(classify_request(request("POST", "/v1/settlement/summary")).kind, RouteKind::local);
}

TEST(ClusterSettlementRouting, SettlementKeysNeverNameAnOrder) {
  EXPECT_NE(settlement_key("ups"), "ups");
  EXPECT_NE(settlement_key("ups").find('\x1e'), std::string::npos) << "order ids refuse control characters";
  std::vector<ClusterMember> members = {{"node1", "127.0.0.1", 1}, {"node2", "127.0.0.1", 2}, {"node3", "127.0.0.1", 3}};
  // Carriers spread over the members like any key.
  std::set<size_t> owners;
  for (auto* c : {"ups", "fedex", "dhl", "usps", "parcelco", "freightco", "ontrac", "lasership"})
    owners.insert(hrw_owner(members, settlement_key(c)));
  EXPECT_GT(owners.size(), 1u);
}

TEST(ClusterSettlementFacts, ATrackingMatchPicksTheUseOneStoreWould) {
  // Recycled number on two nodes, both shipped before the invoice: the later use.
  auto m = actors::merge_line_facts({tracked("OLD-1", 100, true), nothing("no ups shipment"), tracked("NEW-1", 300, true)});
  ASSERT_TRUE(m.shipment);
  EXPECT_EQ(m.shipment->shipment_id, "NEW-1");
  // A use shipped after the invoice loses to one shipped before it.
  m = actors::merge_line_facts({tracked("LATER-1", 400, false), tracked("EARLIER-1", 100, true)});
  EXPECT_EQ(m.shipment->shipment_id, "EARLIER-1");
  // None shipped before: the first use.
  m = actors::merge_line_facts({tracked("B-1", 400, false), tracked("A-1", 350, false)});
  EXPECT_EQ(m.shipment->shipment_id, "A-1");
  EXPECT_STREQ(m.matched_by(), "tracking_number");
}

TEST(ClusterSettlementFacts, MatchKindsRankAsOneStoreTriesThem) {
  auto m = actors::merge_line_facts({by_reference("ORD-1-1", LineMatch::order_reference),
                                     by_reference("SHIP-9", LineMatch::shipment_reference), nothing("no ups shipment")});
  EXPECT_EQ(m.shipment->shipment_id, "SHIP-9");
  EXPECT_STREQ(m.matched_by(), "reference");
  m = actors::merge_line_facts({by_reference("SHIP-9", LineMatch::shipment_reference), tracked("T-1", 1, true)});
  EXPECT_EQ(m.shipment->shipment_id, "T-1");
  // Nothing anywhere: the most specific reason.
  m = actors::merge_line_facts({nothing("no ups shipment for reference ORD-2"),
                                nothing("reference ORD-2 names 2 shipments at ups; bill by tracking number", true),
                                nothing("no ups shipment for reference ORD-2")});
  EXPECT_EQ(m.match, LineMatch::none);
  EXPECT_TRUE(m.ambiguous_reference);
  EXPECT_EQ(m.unmatched_reason.rfind("reference ORD-2 names 2", 0), 0u) << m.unmatched_reason;
}

TEST(ClusterSettlementFacts, QueryAndAnswerSurviveTheWire) {
  actors::InvoiceInput in;
  in.carrier = "ups";
  in.invoice_date_us = 1'790'000'000'000'000;
  in.lines.push_back({"1Z1", "", 1500, {}});
  in.lines.push_back({"", "ORD-7", 0, {}});
  auto q = actors::decode_facts_query(actors::encode_facts_query(in));
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->carrier, "ups");
  EXPECT_EQ(q->invoice_date_us, in.invoice_date_us);
  ASSERT_EQ(q->lines.size(), 2u);
  EXPECT_EQ(q->lines[0].tracking_number, "1Z1");
  EXPECT_EQ(q->lines[1].reference, "ORD-7");

  auto hit = tracked("ORD-7-1", 20000, true);
  hit.shipment->carrier = "ups";
  hit.milestones.emplace_back();
  hit.milestones.back().raw_code = "DL";
  std::vector<LineFacts> lines = {hit, nothing("no ups shipment for reference ORD-7", true)};
  auto a = actors::decode_facts_answer(actors::encode_facts_answer(lines), 2);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ((*a)[0].match, LineMatch::tracking_number);
  EXPECT_EQ((*a)[0].ship_day, 20000);
  EXPECT_TRUE((*a)[0].shipped_before);
  EXPECT_EQ((*a)[0].shipment->carrier, "ups");
  ASSERT_EQ((*a)[0].milestones.size(), 1u);
  EXPECT_EQ((*a)[0].milestones[0].raw_code, "DL");
  EXPECT_EQ((*a)[1].match, LineMatch::none);
  EXPECT_TRUE((*a)[1].ambiguous_reference);
  // Garbage and a short answer are errors, never facts.
  EXPECT_FALSE(actors::decode_facts_answer("not a flatbuffer", 2).ok());
  EXPECT_FALSE(actors::decode_facts_answer(actors::encode_facts_answer(lines), 3).ok());
  EXPECT_FALSE(actors::decode_facts_query("nope").ok());
}

TEST(ClusterSettlementMerge, DisputePagesFollowStorageOrderAndStopWhereANodeStopped) {
  // Line 10 sorts after line 9 (storage order), though "…:10" < "…:9" as text.
  auto r = merge_disputes({answer("n1", disputes({"ups:A:9", "ups:A:10"})), answer("n2", disputes({"dhl:B:1"}))}, 100);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("dhl:B:1") < r.body.find("ups:A:9"), true) << r.body;
  EXPECT_LT(r.body.find("ups:A:9"), r.body.find("ups:A:10")) << r.body;
  EXPECT_EQ(r.body.find("next_after"), std::string::npos) << "everything fit: " << r.body;
  // n1 stopped after dhl:C:1 (its page was full): nothing past it may be listed yet,
  // or the next page (after the merged cursor) would skip n1's dhl:D:1.
  r = merge_disputes({answer("n1", disputes({"dhl:A:1", "dhl:C:1"}, "dhl:C:1")), answer("n2", disputes({"dhl:B:1", "ups:Z:1"}))}, 2);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("next_after":"dhl:B:1")"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("dhl:C:1\",\"state"), std::string::npos) << "limit 2: " << r.body;
  r = merge_disputes({answer("n1", disputes({"dhl:A:1", "dhl:C:1"}, "dhl:C:1")), answer("n2", disputes({"dhl:B:1", "ups:Z:1"}))}, 10);
  EXPECT_NE(r.body.find(R"("next_after":"dhl:C:1")"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("ups:Z:1"), std::string::npos) << "past n1's stop: " << r.body;
  // A node not reached makes the list unavailable; a refusal is relayed.
  std::vector<NodeAnswer> down = {answer("n1", disputes({})), {"n2", false, {}}};
  EXPECT_EQ(merge_disputes(down, 10).status, 503);
  EXPECT_EQ(merge_disputes({answer("n1", disputes({})), answer("n2", "{}", 400)}, 10).status, 400);
  EXPECT_EQ(merge_disputes({answer("n1", "not json")}, 10).status, 500);
}

TEST(ClusterSettlementMerge, SummaryPutsEveryCarriersRowsTogether) {
  auto r = merge_settlement_summary(
      {answer("n1", R"({"carriers":[{"carrier":"ups","currency":"USD","lines":3}],"lanes":[{"carrier":"ups","lane":"US-US","currency":"USD","lines":3}]})"),
       answer("n2", R"({"carriers":[{"carrier":"dhl","currency":"EUR","lines":1}],"lanes":[]})")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"carriers":[{"carrier":"dhl","currency":"EUR","lines":1},{"carrier":"ups","currency":"USD","lines":3}],)"
            R"("lanes":[{"carrier":"ups","lane":"US-US","currency":"USD","lines":3}]})");
  EXPECT_EQ(merge_settlement_summary({answer("n1", R"({"carriers":[],"lanes":[]})"), {"n2", false, {}}}).status, 503);
}
