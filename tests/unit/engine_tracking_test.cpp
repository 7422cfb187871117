// Tracking features end to end in one process: recycled tracking numbers, durable SLA
// timers across a restart, proof of delivery and notifications in the event feed.
#include "engine_fixture.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "waybill/actors/model.hpp"

namespace waybill::runtime {
namespace {

using namespace testing_engine;

class EngineTrackingTest : public EngineTest {
 protected:
  void SetUp() override {
    // The scanner thread stays idle (long interval): tests fire timers with scan_once.
    options_.sla.scan_interval_ms = 3'600'000;
    options_.sla.deadlines.no_pickup_after_s = 60;
    options_.sla.deadlines.stale_after_s = 120;
    options_.sla.deadlines.eta_grace_s = 0;
    start();
  }

  // Events of one type from the feed, as parsed documents' bodies.
  std::vector<std::string> events_of(const std::string& type) {
    auto r = get("/v1/events?limit=1000&type=" + type);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    auto d = parse(r.body);
    for (auto& e : d["events"].GetArray()) {
      rapidjson::StringBuffer sb;
      rapidjson::Writer<rapidjson::StringBuffer> w(sb);
      e.Accept(w);
      out.emplace_back(sb.GetString(), sb.GetSize());
    }
    return out;
  }

  std::string shipment_with(const std::string& order, const std::string& shipment, const std::string& tn,
                            const std::string& ship_date) {
    EXPECT_EQ(post("/v1/orders", order_json(order)).status, 201);
    auto r = post("/v1/shipments", R"({"shipment_id":")" + shipment + R"(","order_id":")" + order +
                                       R"(","carrier":"ups","tracking_numbers":[")" + tn + R"("],"ship_date":")" +
                                       ship_date + "\"}");
    return std::to_string(r.status) + " " + r.body;
  }
};

TEST_F(EngineTrackingTest, RecycledTrackingNumberRoutesByShipDate) {
  ASSERT_EQ(shipment_with("ORD-OLD", "SHP-OLD", "1ZREUSE", "2026-01-10").substr(0, 3), "201");
  // Within the old shipment's window the number is still taken.
  auto clash = shipment_with("ORD-CLASH", "SHP-CLASH", "1ZREUSE", "2026-03-01");
  EXPECT_EQ(clash.substr(0, 3), "409") << clash;
  EXPECT_NE(clash.find("SHP-OLD"), std::string::npos) << clash;
  // 300 days later the carrier has recycled it.
  ASSERT_EQ(shipment_with("ORD-NEW", "SHP-NEW", "1ZREUSE", "2026-11-06").substr(0, 3), "201");

  auto late_old = post("/v1/tracking", milestone_json("1ZREUSE", "delivered", "2026-01-14T10:00:00Z", "E-OLD"));
  ASSERT_EQ(late_old.status, 200) << late_old.body;
  EXPECT_EQ(field(late_old.body, "shipment_id"), "SHP-OLD");
  auto fresh = post("/v1/tracking", milestone_json("1ZREUSE", "picked_up", "2026-11-06T15:00:00Z", "E-NEW"));
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_EQ(field(fresh.body, "shipment_id"), "SHP-NEW");
  EXPECT_EQ(field(get("/v1/shipments/SHP-OLD").body, "status"), "delivered");
  EXPECT_EQ(field(get("/v1/shipments/SHP-NEW").body, "status"), "picked_up");
  // Before the new shipment shipped, the number was still the old one's.
  auto between = post("/v1/tracking", milestone_json("1ZREUSE", "in_transit", "2026-09-01T00:00:00Z", "E-MID"));
  ASSERT_EQ(between.status, 200) << between.body;
  EXPECT_EQ(field(between.body, "shipment_id"), "SHP-OLD");
  EXPECT_EQ(field(between.body, "outcome"), "late");  // delivered stays delivered
  auto unknown = post("/v1/tracking", milestone_json("1ZNEVER", "in_transit", "2026-09-01T00:00:00Z"));
  expect_problem(unknown, 404, "tracking_number");
}

TEST_F(EngineTrackingTest, NoPickupTimerFiresOnceAfterRestart) {
  ship_ready("ORD-SLA", "SHP-SLA", "1ZSLA");
  auto header = parse(get("/v1/shipments/SHP-SLA").body);
  ASSERT_TRUE(header.HasMember("sla")) << get("/v1/shipments/SHP-SLA").body;
  std::string due = header["sla"]["no_pickup"]["due"].GetString();
  auto due_us = parse_rfc3339_us(due);
  ASSERT_TRUE(due_us);
  restart();  // nothing in memory survives: the deadline must come from storage
  EXPECT_EQ(engine_->sla_timers().scan_once(*due_us - 1), 0u);
  EXPECT_EQ(engine_->sla_timers().scan_once(*due_us + 1), 1u);
  ASSERT_TRUE(eventually([&] { return events_of("shipment.sla_breached").size() == 1; }));
  auto ev = parse(events_of("shipment.sla_breached")[0]);
  EXPECT_EQ(std::string(ev["data"]["sla"].GetString()), "no_pickup");
  EXPECT_EQ(std::string(ev["data"]["deadline"].GetString()), due);
  EXPECT_EQ(std::string(ev["subject"].GetString()), "shipments/SHP-SLA");
  // Fired and deleted: later scans and another restart find nothing to fire.
  ASSERT_TRUE(eventually([&] { return engine_->sla_timers().scan_once(*due_us + 10) == 0; }));
  restart();
  EXPECT_EQ(engine_->sla_timers().scan_once(*due_us + 20), 0u);
  EXPECT_EQ(events_of("shipment.sla_breached").size(), 1u);
  auto after = parse(get("/v1/shipments/SHP-SLA").body);
  EXPECT_EQ(std::string(after["sla"]["no_pickup"]["breached"].GetString()), due);
  EXPECT_FALSE(after["sla"]["no_pickup"].HasMember("due"));
}

TEST_F(EngineTrackingTest, ScanBeforeTheDeadlineMovesItInsteadOfFiring) {
  ship_ready("ORD-MOVE", "SHP-MOVE", "1ZMOVE");
  auto first = parse(get("/v1/shipments/SHP-MOVE").body);
  auto pickup_due = *parse_rfc3339_us(first["sla"]["no_pickup"]["due"].GetString());
  auto r = post("/v1/tracking", milestone_json("1ZMOVE", "picked_up", format_rfc3339(now_us())));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(engine_->sla_timers().scan_once(pickup_due + 1), 0u);  // its key is gone
  auto moved = parse(get("/v1/shipments/SHP-MOVE").body);
  EXPECT_FALSE(moved["sla"].HasMember("no_pickup"));
  auto stale_due = *parse_rfc3339_us(moved["sla"]["stale"]["due"].GetString());
  EXPECT_EQ(engine_->sla_timers().scan_once(stale_due + 1), 1u);
  ASSERT_TRUE(eventually([&] { return events_of("shipment.sla_breached").size() == 1; }));
  EXPECT_EQ(std::string(parse(events_of("shipment.sla_breached")[0])["data"]["sla"].GetString()), "stale");
}

TEST_F(EngineTrackingTest, ProofOfDeliveryAndNotificationsReachTheFeed) {
  ship_ready("ORD-POD", "SHP-POD", "1ZPOD");
  const int64_t t0 = now_us();
  auto at = [&](int hours) { return "\"" + format_rfc3339(t0 + hours * 3'600'000'000LL) + "\""; };
  auto ex = post("/v1/tracking", R"({"carrier":"ups","tracking_number":"1ZPOD","status":"exception",)"
                                 R"("event_time":)" + at(1) + R"(,"raw_code":"WX",)"
                                 R"("exception_category":"weather_delay","description":"Storm at hub"})");
  ASSERT_EQ(ex.status, 200) << ex.body;
  auto notes = events_of("notification.delivery_exception");
  ASSERT_EQ(notes.size(), 1u);
  auto n = parse(notes[0]);
  auto& data = n["data"]["notification"];
  EXPECT_EQ(std::string(data["category"].GetString()), "weather_delay");
  EXPECT_EQ(std::string(data["tracking_number"].GetString()), "1ZPOD");
  EXPECT_EQ(std::string(data["message"].GetString()), "Storm at hub");
  EXPECT_EQ(std::string(data["recipient"]["name"].GetString()), "Ada");

  auto bad = post("/v1/tracking", R"({"carrier":"ups","tracking_number":"1ZPOD","status":"in_transit",)"
                                  R"("event_time":)" + at(2) + R"(,"proof_of_delivery":{"signed_by":"X"}})");
  expect_problem(bad, 400, "proof_of_delivery");
  auto dl = post("/v1/tracking", R"({"carrier":"ups","tracking_number":"1ZPOD","status":"delivered",)"
                                 R"("event_time":)" + at(3) + R"(,"raw_code":"DL",)"
                                 R"("proof_of_delivery":{"signed_by":"ADA","document_ref":"POD-1"}})");
  ASSERT_EQ(dl.status, 200) << dl.body;
  auto delivered = events_of("shipment.delivered");
  ASSERT_EQ(delivered.size(), 1u);
  auto d = parse(delivered[0]);
  EXPECT_EQ(std::string(d["data"]["milestone"]["proof_of_delivery"]["document_ref"].GetString()), "POD-1");
  auto shipment = parse(get("/v1/shipments/SHP-POD").body);
  EXPECT_EQ(std::string(shipment["proof_of_delivery"]["signed_by"].GetString()), "ADA");
}

}  // namespace
}  // namespace waybill::runtime
