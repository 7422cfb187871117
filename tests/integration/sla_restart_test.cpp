// Durable SLA timers against the real waybilld: deadlines armed before a SIGKILL fire
// after the restart, exactly once, and a shipment that moved on in time raises nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;

// Seconds-long deadlines so the test waits seconds, a fast scanner, no carriers.
ServerProcess::Options server_options() {
  ServerProcess::Options o;
  o.config_yaml =
      "booking:\n"
      "  carriers_dir: \"\"\n"
      "sla:\n"
      "  no_pickup_after_s: 4\n"
      "  stale_after_s: 5\n"
      "  eta_grace_s: 0\n"
      "  scan_interval_ms: 100\n";
  return o;
}

std::string now_plus(std::chrono::milliseconds d) {
  auto t = std::chrono::system_clock::now() + d;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  char buf[32];
  std::time_t tt = secs;
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&tt));
  return buf;
}

void shipment_with_label(HttpClient& c, const std::string& id) {
  ASSERT_EQ(c.post("/v1/orders", "{\"order_id\":" + quote("O-" + id) +
                                     R"(,"service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St",)"
                                     R"("city":"Springfield","postal_code":"62701","country":"US"},)"
                                     R"("lines":[{"sku":"SKU-1","qty":1}]})")
                .status,
            201);
  auto r = c.post("/v1/shipments", "{\"shipment_id\":" + quote(id) + ",\"order_id\":" + quote("O-" + id) +
                                       ",\"carrier\":\"ups\",\"tracking_numbers\":[" + quote("TN-" + id) + "]}");
  ASSERT_EQ(r.status, 201) << r.describe();
}

void scan(HttpClient& c, const std::string& id, const std::string& status, const std::string& when) {
  auto r = c.post("/v1/tracking", "{\"carrier\":\"ups\",\"tracking_number\":" + quote("TN-" + id) +
                                      ",\"status\":" + quote(status) + ",\"event_time\":" + quote(when) + "}");
  ASSERT_EQ(r.status, 200) << r.describe();
}

// shipment id -> SLA kinds breached, from the event feed.
std::multimap<std::string, std::string> breaches(HttpClient& c) {
  std::multimap<std::string, std::string> out;
  auto r = c.get("/v1/events?limit=1000&type=shipment.sla_breached");
  EXPECT_EQ(r.status, 200) << r.describe();
  auto doc = Json::parse(r.body);
  for (auto& e : doc.items("/events")) out.emplace(e.str_or_empty("/data/shipment_id"), e.str_or_empty("/data/sla"));
  return out;
}

TEST(SlaRestart, DeadlinesArmedBeforeAKillFireOnceAfterRestart) {
  ServerProcess server(server_options());
  ASSERT_TRUE(server.start());
  {
    HttpClient c(server.host(), server.port());
    shipment_with_label(c, "STUCK");   // label, never picked up: no_pickup after 4 s
    shipment_with_label(c, "MOVING");  // picked up now, then silence: stale after 5 s
    scan(c, "MOVING", "picked_up", now_plus(0ms));
    shipment_with_label(c, "DONE");    // delivered in time: nothing
    scan(c, "DONE", "picked_up", now_plus(0ms));
    scan(c, "DONE", "delivered", now_plus(1s));
    auto stuck = Json::parse(c.get("/v1/shipments/STUCK").body);
    ASSERT_FALSE(stuck.str_or_empty("/sla/no_pickup/due").empty()) << stuck.dump();
  }
  server.kill();  // every deadline above was acknowledged; none has passed yet
  std::this_thread::sleep_for(5500ms);
  ASSERT_TRUE(server.restart());
  HttpClient c(server.host(), server.port());
  std::multimap<std::string, std::string> seen;
  for (auto deadline = std::chrono::steady_clock::now() + 15s; std::chrono::steady_clock::now() < deadline;) {
    seen = breaches(c);
    if (seen.size() >= 2) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.count("STUCK"), 1u);
  EXPECT_EQ(seen.find("STUCK")->second, "no_pickup");
  EXPECT_EQ(seen.count("MOVING"), 1u);
  EXPECT_EQ(seen.find("MOVING")->second, "stale");
  EXPECT_EQ(seen.count("DONE"), 0u);
  auto metrics = c.get("/metrics").body;
  EXPECT_NE(metrics.find("waybill_sla_breaches_total{sla=\"no_pickup\"} 1"), std::string::npos) << metrics;

  // Fired deadlines are not fired again: not by later scans, not after another crash.
  server.kill();
  ASSERT_TRUE(server.restart());
  HttpClient again(server.host(), server.port());
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(breaches(again).size(), 2u);
  auto stuck = Json::parse(again.get("/v1/shipments/STUCK").body);
  EXPECT_FALSE(stuck.str_or_empty("/sla/no_pickup/breached").empty()) << stuck.dump();
  EXPECT_TRUE(stuck.str_or_empty("/sla/no_pickup/due").empty()) << stuck.dump();
}

}  // namespace
}  // namespace waybill::itest
