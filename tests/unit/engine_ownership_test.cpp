// System-of-record rules end to end in one process: PATCH /v1/orders/{id} accepts the
// fields the source owns, refuses (403) and records the others, and nothing partial
// is persisted.
#include "engine_fixture.hpp"

#include "waybill/runtime/ownership.hpp"

namespace waybill::runtime {
namespace {

using namespace testing_engine;

class EngineOwnershipTest : public EngineTest {
 protected:
  HttpResponse patch(const std::string& id, const std::string& body, const std::string& source,
                     const std::string& key = "") {
    auto promise = std::make_shared<std::promise<HttpResponse>>();
    auto future = promise->get_future();
    HttpRequest req{"PATCH", "/v1/orders/" + id, "application/json", key, body, {}};
    if (!source.empty()) req.headers.emplace_back("x-source-system", source);
    req.headers.emplace_back("authorization", std::string("Bearer ") + kTestAdminKey);
    api_->handle(std::move(req), [promise](HttpResponse r) { promise->set_value(std::move(r)); });
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return future.get();
  }
  size_t events_of(const std::string& type) {
    auto d = parse(get("/v1/events?limit=1000&type=" + type).body);
    return d["events"].Size();
  }
};

TEST_F(EngineOwnershipTest, OwnerChangesItsFieldsOthersAreRefusedAndRecorded) {
  ASSERT_EQ(post("/v1/orders", order_json("ORD-OWN")).status, 201);
  auto moved = patch("ORD-OWN", R"({"ship_to":{"name":"Bob","street":"2 Elm St","city":"Shelbyville",)"
                                  R"("postal_code":"54321","country":"US"}})", "erp");
  ASSERT_EQ(moved.status, 200) << moved.body;
  auto order = parse(get("/v1/orders/ORD-OWN").body);
  EXPECT_EQ(std::string(order["ship_to"]["city"].GetString()), "Shelbyville");
  EXPECT_EQ(events_of("order.updated"), 1u);

  // The WMS owns packages, not addresses: one owned and one foreign field refuses all.
  auto refused = patch("ORD-OWN", R"({"packages":[{"weight_kg":2}],"ship_to":{"name":"Eve","street":"3 Oak",)"
                                  R"("city":"Capital City","postal_code":"11111","country":"US"}})", "wms");
  expect_problem(refused, 403, "ship_to");
  EXPECT_NE(refused.body.find("owned by erp"), std::string::npos) << refused.body;
  order = parse(get("/v1/orders/ORD-OWN").body);
  EXPECT_EQ(std::string(order["ship_to"]["city"].GetString()), "Shelbyville");  // nothing partial
  EXPECT_DOUBLE_EQ(order["packages"][0]["weight_kg"].GetDouble(), 1.5);
  ASSERT_EQ(events_of("order.update_rejected"), 1u);
  auto ev = parse(get("/v1/events?limit=10&type=order.update_rejected").body);
  EXPECT_NE(std::string(ev["events"][0]["data"]["reason"].GetString()).find("wms may not change ship_to (owned by erp)"),
            std::string::npos);

  // Carrier choice belongs to waybill and tracking to the carrier, whoever asks.
  expect_problem(patch("ORD-OWN", R"({"carrier":"ups"})", "erp"), 403, "carrier");
  expect_problem(patch("ORD-OWN", R"({"tracking_numbers":["1Z"]})", "erp"), 403, "tracking_numbers");
  EXPECT_EQ(events_of("order.update_rejected"), 3u);
  EXPECT_NE(metrics_.render().find("waybill_ownership_violations_total{field=\"carrier\",source=\"erp\"} 1"),
            std::string::npos);

  // The WMS may change what it owns.
  auto packed = patch("ORD-OWN", R"({"packages":[{"weight_kg":2.5}]})", "wms");
  ASSERT_EQ(packed.status, 200) << packed.body;
  EXPECT_DOUBLE_EQ(parse(get("/v1/orders/ORD-OWN").body)["packages"][0]["weight_kg"].GetDouble(), 2.5);
}

TEST_F(EngineOwnershipTest, SourceIsRequiredAndKnownAndBodiesAreValidated) {
  ASSERT_EQ(post("/v1/orders", order_json("ORD-SRC")).status, 201);
  expect_problem(patch("ORD-SRC", R"({"lines":[{"sku":"A","qty":2}]})", ""), 400, "X-Source-System");
  expect_problem(patch("ORD-SRC", R"({"lines":[{"sku":"A","qty":2}]})", "crm"), 400, "X-Source-System");
  expect_problem(patch("ORD-SRC", R"({"lines":[{"sku":"A","qty":0}]})", "erp"), 400, "lines[0].qty");
  expect_problem(patch("ORD-SRC", R"({})", "erp"), 400, "body");
  expect_problem(patch("ORD-SRC", R"({"colour":"red"})", "erp"), 400, "colour");
  expect_problem(patch("ORD-NOPE", R"({"lines":[{"sku":"A","qty":2}]})", "erp"), 404, "");
  EXPECT_EQ(events_of("order.update_rejected"), 0u);  // malformed is not an ownership matter
}

TEST_F(EngineOwnershipTest, NoChangesOnceTheLabelIsBought) {
  ship_ready("ORD-LATE", "SHP-LATE", "1ZLATE");  // shipping
  auto late = patch("ORD-LATE", R"({"lines":[{"sku":"B","qty":1}]})", "erp");
  expect_problem(late, 409, "status");
  EXPECT_EQ(events_of("order.updated"), 0u);
}

TEST_F(EngineOwnershipTest, AcceptedUpdateReplaysByIdempotencyKey) {
  ASSERT_EQ(post("/v1/orders", order_json("ORD-IDEM")).status, 201);
  auto first = patch("ORD-IDEM", R"({"lines":[{"sku":"C","qty":3}]})", "erp", "k-1");
  ASSERT_EQ(first.status, 200) << first.body;
  auto again = patch("ORD-IDEM", R"({"lines":[{"sku":"C","qty":3}]})", "erp", "k-1");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(events_of("order.updated"), 1u);
}

TEST(Ownership, ViolationsNameFieldAndOwner) {
  OwnershipOptions o;
  auto v = ownership_violations(o, "wms", {"packages", "lines", "carrier"});
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].field, "lines");
  EXPECT_EQ(v[0].owner, "erp");
  EXPECT_EQ(v[1].field, "carrier");
  EXPECT_EQ(v[1].owner, "waybill");
  EXPECT_TRUE(ownership_violations(o, "erp", {"ship_to", "lines", "references", "service_level"}).empty());
}

}  // namespace
}  // namespace waybill::runtime
