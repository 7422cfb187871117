// End to end in one process: runtime::Engine on a temporary store, driven through
// runtime::Api::handle with hand-made requests (no sockets).
#include "engine_fixture.hpp"

namespace waybill::runtime {
namespace {

using namespace testing_engine;

TEST_F(EngineTest, CreateOrderIsIdempotentByBody) {
  auto first = post("/v1/orders", order_json("ORD-1"));
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.content_type, "application/json");
  EXPECT_EQ(field(first.body, "order_id"), "ORD-1");
  EXPECT_EQ(field(first.body, "status"), "validated");
  EXPECT_EQ(parse(first.body)["version"].GetUint64(), 2u);

  auto again = post("/v1/orders", order_json("ORD-1"));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);

  auto different = post("/v1/orders", order_json("ORD-1", 2));
  expect_problem(different, 409, "order_id");

  auto read = get("/v1/orders/ORD-1");
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(field(read.body, "status"), "validated");
  EXPECT_EQ(parse(read.body)["lines"][0]["qty"].GetInt64(), 1);  // the first body won
}

TEST_F(EngineTest, InvalidCreateIsRejectedWithField) {
  auto r = post("/v1/orders", R"({"order_id":"X","service_level":"warp"})");
  expect_problem(r, 400, "ship_to");
  EXPECT_EQ(get("/v1/orders/X").status, 404);  // nothing persisted
}

TEST_F(EngineTest, ReleasePackAllocateLifecycle) {
  ASSERT_EQ(post("/v1/orders", order_json("ORD-2")).status, 201);
  auto rel = post("/v1/orders/ORD-2/release");
  ASSERT_EQ(rel.status, 200) << rel.body;
  EXPECT_EQ(field(rel.body, "status"), "released");
  auto version = parse(rel.body)["version"].GetUint64();
  EXPECT_EQ(version, 3u);

  auto again = post("/v1/orders/ORD-2/release");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(field(again.body, "status"), "released");
  EXPECT_EQ(parse(again.body)["version"].GetUint64(), version);  // no-op: no new event

  auto pack = post("/v1/orders/ORD-2/pack", R"({"packages":[{"weight_kg":2},{"weight_kg":0.5}]})");
  ASSERT_EQ(pack.status, 200) << pack.body;
  EXPECT_EQ(field(pack.body, "status"), "packed");
  EXPECT_EQ(parse(pack.body)["packages"].Size(), 2u);

  auto alloc = post("/v1/orders/ORD-2/allocate");
  expect_problem(alloc, 409, "status");
  EXPECT_EQ(order_status("ORD-2"), "packed");  // unchanged

  auto bad_pack = post("/v1/orders/ORD-2/pack", R"({"packages":[{"weight_kg":0}]})");
  expect_problem(bad_pack, 400, "packages[0].weight_kg");
}

TEST_F(EngineTest, UnknownOrdersAndRoutes) {
  expect_problem(get("/v1/orders/NOPE"), 404, "");
  expect_problem(post("/v1/orders/NOPE/release"), 404, "");
  expect_problem(get("/v1/shipments/NOPE"), 404, "");
  expect_problem(post("/v1/orders/ORD/explode"), 404, "");
  expect_problem(get("/v2/anything"), 404, "");
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/readyz").status, 200);
}

TEST_F(EngineTest, ExceptionQueueRefusesFiltersThatCannotMatch) {
  auto empty = get("/v1/exceptions?region=US&reason=bad_postal_code&limit=5");
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(empty.body, R"({"exceptions":[],"count":0})");
  // No carrier is configured here, so any carrier name is unknown.
  expect_problem(get("/v1/exceptions?carrier=parcelco"), 400, "carrier");
  expect_problem(get("/v1/exceptions?region=usa"), 400, "region");
  expect_problem(get("/v1/exceptions?region=u1"), 400, "region");
  expect_problem(get("/v1/exceptions?reason=bad%20code"), 400, "reason");
  expect_problem(get("/v1/exceptions?reason=BAD"), 400, "reason");
  expect_problem(get("/v1/exceptions?after=%7F"), 400, "after");
  expect_problem(get("/v1/exceptions?limit=-"), 400, "limit");
}

TEST_F(EngineTest, ShipmentRegistration) {
  auto unknown = post("/v1/shipments", shipment_json("SHP-0", "NO-SUCH-ORDER", "\"1Z0\""));
  expect_problem(unknown, 400, "order_id");

  ASSERT_EQ(post("/v1/orders", order_json("ORD-3")).status, 201);
  auto first = post("/v1/shipments", shipment_json("SHP-1", "ORD-3", "\"1Z1\""));
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(field(first.body, "status"), "label_created");

  auto replay = post("/v1/shipments", shipment_json("SHP-1", "ORD-3", "\"1Z1\""));
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(replay.body, first.body);

  auto changed = post("/v1/shipments", shipment_json("SHP-1", "ORD-3", "\"1Z1\",\"1Z2\""));
  expect_problem(changed, 409, "shipment_id");

  auto stolen = post("/v1/shipments", shipment_json("SHP-2", "ORD-3", "\"1Z9\",\"1Z1\""));
  expect_problem(stolen, 409, "tracking_numbers[1]");
  EXPECT_EQ(get("/v1/shipments/SHP-2").status, 404);

  auto read = get("/v1/shipments/SHP-1");
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(field(read.body, "order_id"), "ORD-3");
  EXPECT_TRUE(order_reaches("ORD-3", "shipping"));
  auto order = parse(get("/v1/orders/ORD-3").body);
  ASSERT_EQ(order["shipments"].Size(), 1u);
  EXPECT_EQ(std::string(order["shipments"][0].GetString()), "SHP-1");
}

TEST_F(EngineTest, IdempotencyKeyReplaysAndRejectsMismatch) {
  auto first = post("/v1/orders", order_json("ORD-K"), "key-1");
  ASSERT_EQ(first.status, 201);
  auto replay = post("/v1/orders", order_json("ORD-K"), "key-1");
  EXPECT_EQ(replay.status, 201);  // the stored answer, status included
  EXPECT_EQ(replay.body, first.body);
  auto mismatch = post("/v1/orders", order_json("ORD-K2"), "key-1");
  expect_problem(mismatch, 422, "Idempotency-Key");
  EXPECT_EQ(get("/v1/orders/ORD-K2").status, 404);
  // The same key on another route is another request too.
  expect_problem(post("/v1/orders/ORD-K/release", "", "key-1"), 422, "Idempotency-Key");

  // An action with a key: its answer is replayed even after the state moved on.
  auto rel = post("/v1/orders/ORD-K/release", "", "key-2");
  ASSERT_EQ(rel.status, 200);
  ASSERT_EQ(post("/v1/orders/ORD-K/pack").status, 200);
  auto rel_again = post("/v1/orders/ORD-K/release", "", "key-2");
  EXPECT_EQ(rel_again.status, 200);
  EXPECT_EQ(rel_again.body, rel.body);
  EXPECT_EQ(field(rel_again.body, "status"), "released");
  // Without the key the same request meets the current state.
  expect_problem(post("/v1/orders/ORD-K/release"), 409, "status");
}

// An accepted no-op (a repeated release) answers 200 but writes no idempotency record,
// so a retry with the same Idempotency-Key after the order moved on is not replayed:
// it is executed again and answers 409.
TEST_F(EngineTest, IdempotencyKeyReplaysAcceptedNoOp) {
  ASSERT_EQ(post("/v1/orders", order_json("ORD-N")).status, 201);
  ASSERT_EQ(post("/v1/orders/ORD-N/release").status, 200);
  auto noop = post("/v1/orders/ORD-N/release", "", "noop-key");
  ASSERT_EQ(noop.status, 200);
  ASSERT_EQ(post("/v1/orders/ORD-N/pack").status, 200);
  auto retry = post("/v1/orders/ORD-N/release", "", "noop-key");
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(retry.body, noop.body);
}

TEST_F(EngineTest, NdjsonTrackingPerLineOutcomes) {
  ship_ready("ORD-T", "SHP-T", "TT1");
  std::string body;
  body += milestone_json("TT1", "in_transit", "2026-11-28T10:00:00Z", "e1", "IT") + "\n";      // 1 applied
  body += milestone_json("TT1", "picked_up", "2026-11-28T09:00:00Z", "e0", "PU") + "\n";       // 2 late
  body += milestone_json("TT1", "in_transit", "2026-11-28T10:00:00Z", "e1", "IT") + "\n";      // 3 duplicate
  body += "   \n";                                                                              // 4 blank
  body += milestone_json("NOPE", "in_transit", "2026-11-28T10:00:00Z") + "\n";                 // 5 unknown
  body += "{\"carrier\":\"ups\",\n";                                                           // 6 malformed
  body += milestone_json("TT1", "out_for_delivery", "2026-11-28T12:00:00Z", "e2", "OFD") + "\r\n";  // 7 applied
  auto r = track_ndjson(body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = parse(r.body);
  ASSERT_TRUE(d.HasMember("results"));
  auto& results = d["results"];
  ASSERT_EQ(results.Size(), 6u) << r.body;
  struct Want { uint64_t line; const char* outcome; const char* error; const char* field; };
  const Want want[] = {{1, "applied", nullptr, nullptr},
                       {2, "late", nullptr, nullptr},
                       {3, "duplicate", nullptr, nullptr},
                       {5, "rejected", "not_found", "tracking_number"},
                       {6, "rejected", "invalid_argument", "body"},
                       {7, "applied", nullptr, nullptr}};
  for (size_t i = 0; i < 6; ++i) {
    SCOPED_TRACE("result " + std::to_string(i));
    auto& res = results[static_cast<rapidjson::SizeType>(i)];
    EXPECT_EQ(res["line"].GetUint64(), want[i].line);
    EXPECT_EQ(std::string(res["outcome"].GetString()), want[i].outcome);
    if (want[i].error) {
      EXPECT_EQ(std::string(res["error"].GetString()), want[i].error);
      EXPECT_EQ(std::string(res["field"].GetString()), want[i].field);
    } else {
      EXPECT_FALSE(res.HasMember("error"));
      EXPECT_EQ(std::string(res["shipment_id"].GetString()), "SHP-T");
    }
  }
  auto& summary = d["summary"];
  EXPECT_EQ(summary["applied"].GetUint64(), 2u);
  EXPECT_EQ(summary["late"].GetUint64(), 1u);
  EXPECT_EQ(summary["duplicate"].GetUint64(), 1u);
  EXPECT_EQ(summary["rejected"].GetUint64(), 2u);

  auto s = get("/v1/shipments/SHP-T");
  ASSERT_EQ(s.status, 200);
  auto sd = parse(s.body);
  EXPECT_EQ(std::string(sd["status"].GetString()), "out_for_delivery");
  auto& ms = sd["milestones"];
  ASSERT_EQ(ms.Size(), 3u);  // sorted by event time
  EXPECT_EQ(std::string(ms[0]["status"].GetString()), "picked_up");
  EXPECT_FALSE(ms[0]["applied"].GetBool());
  EXPECT_EQ(std::string(ms[1]["status"].GetString()), "in_transit");
  EXPECT_TRUE(ms[1]["applied"].GetBool());
  EXPECT_EQ(std::string(ms[2]["status"].GetString()), "out_for_delivery");
  EXPECT_TRUE(ms[2]["applied"].GetBool());

  // The same line in a later request is a duplicate.
  auto again = track_ndjson(milestone_json("TT1", "in_transit", "2026-11-28T10:00:00Z", "e1", "IT"));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(std::string(parse(again.body)["results"][0]["outcome"].GetString()), "duplicate");

  expect_problem(track_ndjson("\n  \n"), 400, "body");
}

TEST_F(EngineTest, SingleMilestoneTracking) {
  ship_ready("ORD-U", "SHP-U", "TU1");
  auto r = post("/v1/tracking", milestone_json("TU1", "in_transit", "2026-11-28T10:00:00Z"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(field(r.body, "outcome"), "applied");
  EXPECT_EQ(field(r.body, "shipment_id"), "SHP-U");
  r = post("/v1/tracking", milestone_json("TU1", "in_transit", "2026-11-28T10:00:00Z"));
  EXPECT_EQ(field(r.body, "outcome"), "duplicate");
  expect_problem(post("/v1/tracking", milestone_json("UNKNOWN", "in_transit", "2026-11-28T10:00:00Z")), 404,
                 "tracking_number");
  expect_problem(post("/v1/tracking", milestone_json("TU1", "teleported", "2026-11-28T10:00:00Z")), 400, "status");
}

TEST_F(EngineTest, OrderShipsOnlyOnCarrierScan) {
  ship_ready("ORD-S", "SHP-S", "TS1");
  auto label = post("/v1/tracking", milestone_json("TS1", "label_created", "2026-11-28T08:00:00Z", "l1"));
  ASSERT_EQ(label.status, 200) << label.body;
  EXPECT_EQ(field(label.body, "outcome"), "applied");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(order_status("ORD-S"), "shipping");

  auto pickup = post("/v1/tracking", milestone_json("TS1", "picked_up", "2026-11-28T09:00:00Z", "p1"));
  ASSERT_EQ(pickup.status, 200);
  EXPECT_EQ(field(pickup.body, "outcome"), "applied");
  EXPECT_TRUE(order_reaches("ORD-S", "shipped")) << order_status("ORD-S");
  expect_problem(post("/v1/orders/ORD-S/cancel", R"({"reason":"too late"})"), 409, "status");

  auto delivered = post("/v1/tracking", milestone_json("TS1", "delivered", "2026-11-29T09:00:00Z", "d1"));
  EXPECT_EQ(field(delivered.body, "outcome"), "applied");
  EXPECT_TRUE(order_reaches("ORD-S", "delivered")) << order_status("ORD-S");
}

TEST_F(EngineTest, CancelBeforePickup) {
  ship_ready("ORD-C", "SHP-C", "TC1");
  auto r = post("/v1/orders/ORD-C/cancel", R"({"reason":"customer changed mind"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(field(r.body, "status"), "cancelled");
  EXPECT_EQ(field(r.body, "status_reason"), "customer changed mind");
}

TEST_F(EngineTest, StateSurvivesRestart) {
  auto created = post("/v1/orders", order_json("ORD-P"));
  ASSERT_EQ(created.status, 201);
  ASSERT_EQ(post("/v1/orders/ORD-P/release").status, 200);
  ASSERT_EQ(post("/v1/shipments", shipment_json("SHP-P", "ORD-P", "\"TP1\"")).status, 201);
  const std::string line = milestone_json("TP1", "in_transit", "2026-11-28T10:00:00Z", "p-e1", "IT");
  auto tracked = track_ndjson(line + "\n", "track-key");
  ASSERT_EQ(tracked.status, 200);
  EXPECT_EQ(std::string(parse(tracked.body)["results"][0]["outcome"].GetString()), "applied");
  auto keyed = post("/v1/orders", order_json("ORD-Q"), "create-key");
  ASSERT_EQ(keyed.status, 201);
  ASSERT_TRUE(order_reaches("ORD-P", "shipped")) << order_status("ORD-P");
  const std::string order_before = get("/v1/orders/ORD-P").body;
  const std::string shipment_before = get("/v1/shipments/SHP-P").body;

  restart();

  EXPECT_EQ(get("/v1/orders/ORD-P").body, order_before);
  EXPECT_EQ(get("/v1/shipments/SHP-P").body, shipment_before);
  EXPECT_EQ(order_status("ORD-P"), "shipped");

  // Idempotent replays come from storage.
  auto replay_create = post("/v1/orders", order_json("ORD-P"));
  EXPECT_EQ(replay_create.status, 200);
  EXPECT_EQ(replay_create.body, created.body);
  auto replay_keyed = post("/v1/orders", order_json("ORD-Q"), "create-key");
  EXPECT_EQ(replay_keyed.status, 201);
  EXPECT_EQ(replay_keyed.body, keyed.body);
  auto replay_track = track_ndjson(line + "\n", "track-key");
  EXPECT_EQ(replay_track.status, 200);
  EXPECT_EQ(replay_track.body, tracked.body);
  expect_problem(post("/v1/orders", order_json("ORD-Q", 5), "create-key"), 422, "Idempotency-Key");

  // The reloaded shipment still knows its history: the old line is a duplicate.
  auto dup = track_ndjson(line);
  ASSERT_EQ(dup.status, 200);
  EXPECT_EQ(std::string(parse(dup.body)["results"][0]["outcome"].GetString()), "duplicate");
  auto late = track_ndjson(milestone_json("TP1", "picked_up", "2026-11-28T09:00:00Z", "p-e0", "PU"));
  EXPECT_EQ(std::string(parse(late.body)["results"][0]["outcome"].GetString()), "late");
  // The tracking index and order link survived too: a new scan moves the order on.
  auto delivered = track_ndjson(milestone_json("TP1", "delivered", "2026-11-29T10:00:00Z", "p-e2", "DL"));
  EXPECT_EQ(std::string(parse(delivered.body)["results"][0]["outcome"].GetString()), "applied");
  EXPECT_TRUE(order_reaches("ORD-P", "delivered")) << order_status("ORD-P");
  // Another registration cannot take the persisted tracking number.
  expect_problem(post("/v1/shipments", shipment_json("SHP-X", "ORD-P", "\"TP1\"")), 409, "tracking_numbers[0]");
}

}  // namespace
}  // namespace waybill::runtime

namespace waybill::runtime {
namespace {

// The failed webhook delivery attempts /metrics reports.
double failed_deliveries(const std::string& metrics) {
  const std::string series = "waybill_webhook_deliveries_total{outcome=\"failed\"} ";
  auto at = metrics.find(series);
  return at == std::string::npos ? -1 : std::stod(metrics.substr(at + series.size()));
}

// Api::stop() ends everything that reads the store on a thread of its own, so that the
// engine may close the store next: a webhook dispatcher still scanning the outbox after
// the store closed crashed waybilld while draining.
TEST_F(EngineTest, ApiStopEndsWebhookDeliveryBeforeTheEngineClosesTheStore) {
  stop();
  api_options_.webhooks.base_backoff_ms = 1;
  api_options_.webhooks.max_backoff_ms = 5;
  api_options_.webhooks.timeout_ms = 200;
  start();
  ASSERT_TRUE(api_->start().ok());
  // Nothing listens on port 9: every attempt fails at once and is retried.
  auto sub = post("/v1/subscriptions", R"({"url":"http://127.0.0.1:9/hook","event_types":[],"secrets":["a-secret-of-24-characters"]})");
  ASSERT_EQ(sub.status, 201) << sub.body;
  ASSERT_EQ(post("/v1/orders", order_json("ORD-W")).status, 201);
  double before = 0;
  for (int i = 0; i < 200 && before < 3; ++i) {
    before = failed_deliveries(get("/metrics").body);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(before, 3) << "the dispatcher retries an unreachable subscriber";
  api_->stop();
  const double stopped = failed_deliveries(get("/metrics").body);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(failed_deliveries(get("/metrics").body), stopped) << "delivery went on after Api::stop()";
}

}  // namespace
}  // namespace waybill::runtime
