// GET /v1/trace/{order_id} against real waybilld + carrier-sim: an order booked through
// a flaky carrier (retried), then a late scan and a refused update; the trace names the
// lineage down to the tracking numbers and every decision on the way, in commit order.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>

#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;

// parcelco answers half of all requests with 500: bookings need retries.
YAML::Node flaky_sim_config() {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  for (auto c : cfg["carriers"]) {
    c["latency"] = YAML::Load("{distribution: fixed, median_ms: 5}");
    c["faults"] = YAML::Load(
        "{server_error_share: 0.5, reset_share: 0.0, rate_limited_share: 0.0, timeout_share: 0.0,"
        " lost_response_share: 0.0, timeout_ms: 10000, retry_after_s: 1}");
    c["rejection_share"] = 0.0;
    c["tracking"]["interval_ms"] = 100;
    c["tracking"]["late_share"] = 0.0;
    c["tracking"]["dup_share"] = 0.0;
    c["tracking"]["reorder_share"] = 0.0;
  }
  return cfg;
}

YAML::Node parcelco() {
  auto p = load_source_yaml("configs/carriers/parcelco.yaml");
  p["retry"] = YAML::Load("{max_attempts: 12, base_backoff_ms: 10, max_backoff_ms: 100}");
  p["breaker"] = YAML::Load("{failure_threshold: 1000, cool_down_ms: 100}");
  return p;
}

// Attempts the booking took, from the shipment.booked reason ("booked after N attempt(s)").
int booking_attempts(const Json& trace) {
  static const std::regex after("booked after ([0-9]+) attempt");
  for (auto& e : trace.items("/audit")) {
    if (e.str_or_empty("/type") != "shipment.booked") continue;
    std::smatch m;
    std::string reason = e.str_or_empty("/data/reason");
    if (std::regex_search(reason, m, after)) return std::stoi(m[1]);
  }
  return 0;
}

TEST(Trace, FromErpOrderToTrackingNumberWithEveryDecision) {
  CarrierStack stack({flaky_sim_config(), {parcelco()}, ""});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  HttpClient client(w.host(), w.port(), 10s);

  // Enough orders that some booking needs a retry (each attempt fails with p = 0.5).
  std::vector<std::string> shipments;
  for (int i = 0; i < 12; ++i) {
    OrderSpec spec;
    spec.order_id = "TR-" + std::to_string(i);
    ASSERT_TRUE(create_release_pack(client, spec));
    shipments.push_back(spec.order_id + "-1");
  }
  auto views = wait_for_bookings(w.host(), w.port(), shipments, 30s);
  std::string order_id;
  Json trace;
  for (auto& id : shipments) {
    if (views[id].state != "booked") continue;
    auto candidate = id.substr(0, id.size() - 2);
    auto doc = Json::parse(client.get("/v1/trace/" + candidate).body);
    if (booking_attempts(doc) > 1) {
      order_id = candidate;
      break;
    }
  }
  ASSERT_FALSE(order_id.empty()) << "no booking needed a retry: the test proves nothing";
  auto shipment = Json::parse(client.get("/v1/shipments/" + order_id + "-1").body);
  auto tn = shipment.str_or_empty("/tracking_numbers/0");
  ASSERT_FALSE(tn.empty());

  // The carrier's own scans move it on; then a scan older than the current status
  // arrives (late), and the WMS tries to change the address the ERP owns.
  for (int i = 0; i < 100 && Json::parse(client.get("/v1/shipments/" + order_id + "-1").body)
                                      .str_or_empty("/status") != "delivered";
       ++i)
    std::this_thread::sleep_for(50ms);
  auto late = client.post("/v1/tracking", R"({"carrier":"parcelco","tracking_number":")" + tn +
                                              R"(","status":"in_transit","raw_code":"IT","event_time":"2026-01-01T00:00:00Z"})");
  ASSERT_EQ(late.status, 200) << late.describe();
  EXPECT_EQ(Json::parse(late.body).str_or_empty("/outcome"), "late");
  auto refused = client.request("PATCH", "/v1/orders/" + order_id,
                                R"({"ship_to":{"name":"X","street":"2 Elm","city":"Y","postal_code":"1","country":"US"}})",
                                {{"X-Source-System", "wms"}, {"Content-Type", "application/json"}});
  ASSERT_EQ(refused.status, 403) << refused.describe();

  auto r = client.get("/v1/trace/" + order_id);
  ASSERT_EQ(r.status, 200) << r.describe();
  trace = Json::parse(r.body);
  // Lineage: order -> shipment -> packages -> tracking numbers.
  EXPECT_EQ(trace.str_or_empty("/order/order_id"), order_id);
  EXPECT_EQ(trace.str_or_empty("/shipments/0/shipment_id"), order_id + "-1");
  EXPECT_EQ(trace.str_or_empty("/shipments/0/packages/0/tracking_number"), tn);
  EXPECT_EQ(trace.str_or_empty("/shipments/0/booking/state"), "booked");

  // The audit trail, in commit order, names each decision and why.
  std::vector<std::string> types;
  std::map<std::string, std::string> reason_of;
  int64_t last_position = -1;
  for (auto& e : trace.items("/audit")) {
    auto pos = e.int64("/position").value_or(-1);
    EXPECT_GT(pos, last_position) << "audit not in commit order";
    last_position = pos;
    types.push_back(e.str_or_empty("/type"));
    reason_of[types.back()] += e.str_or_empty("/data/reason") + "|";
  }
  auto has = [&](const std::string& type) { return std::find(types.begin(), types.end(), type) != types.end(); };
  for (auto* t : {"order.received", "order.validated", "order.released", "order.packed", "shipment.created",
                  "shipment.booking_requested", "shipment.booked", "shipment.label_created", "order.shipped",
                  "shipment.delivered", "order.delivered", "shipment.tracking_updated", "order.update_rejected"})
    EXPECT_TRUE(has(t)) << "no " << t << " in the trace: " << r.body;
  // Carrier selection and the profile version the payload was rendered with.
  EXPECT_NE(reason_of["shipment.booking_requested"].find("eligible service: parcelco GND"), std::string::npos) << r.body;
  EXPECT_NE(reason_of["shipment.booking_requested"].find("profile parcelco v"), std::string::npos) << r.body;
  // The retries, the late scan kept in history only, the ownership refusal.
  EXPECT_GT(booking_attempts(trace), 1);
  EXPECT_NE(reason_of["shipment.tracking_updated"].find("late: in_transit"), std::string::npos) << r.body;
  EXPECT_NE(reason_of["order.update_rejected"].find("wms may not change ship_to (owned by erp)"), std::string::npos)
      << r.body;

  // Unknown orders and bad limits answer problems.
  EXPECT_EQ(client.get("/v1/trace/NOPE").status, 404);
  EXPECT_EQ(client.get("/v1/trace/" + order_id + "?limit=x").status, 400);
  auto capped = Json::parse(client.get("/v1/trace/" + order_id + "?limit=2").body);
  EXPECT_EQ(capped.size("/audit"), 2u);
  EXPECT_EQ(capped.boolean("/audit_truncated").value_or(false), true);
}

}  // namespace
}  // namespace waybill::itest
