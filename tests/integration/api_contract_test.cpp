// The HTTP API contract, checked against the real waybilld binary: status codes,
// representations, problem+json errors naming the field, idempotency, NDJSON tracking,
// metrics, and process behaviour (SIGTERM, configuration errors).
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;

// ---- request bodies -------------------------------------------------------------

// An order as JSON fragments; an empty fragment leaves the member out.
struct OrderSpec {
  explicit OrderSpec(std::string order_id) : id(std::move(order_id)) {}
  std::string id;
  std::string ship_to = R"({"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"62701","country":"US"})";
  std::string service_level = R"("ground")";
  std::string lines = R"([{"sku":"SKU-1","qty":2}])";
  std::string packages = R"([{"weight_kg":1.2,"length_cm":30,"width_cm":20,"height_cm":10,"hazmat":false}])";
  std::string references = R"({"erp":"SAP-4711"})";
  std::string extra;  // raw members appended, e.g. R"("colour":"red")"

  std::string json() const {
    std::string out = "{\"order_id\":" + quote(id);
    auto member = [&](const char* name, const std::string& v) {
      if (!v.empty()) out += std::string(",\"") + name + "\":" + v;
    };
    member("ship_to", ship_to);
    member("service_level", service_level);
    member("lines", lines);
    member("packages", packages);
    member("references", references);
    if (!extra.empty()) out += "," + extra;
    return out + "}";
  }
};

std::string shipment_json(const std::string& shipment_id, const std::string& order_id, const std::string& carrier,
                          std::vector<std::string> tracking_numbers, const std::string& service = "ground") {
  std::string tns;
  for (auto& t : tracking_numbers) tns += (tns.empty() ? "" : ",") + quote(t);
  return "{\"shipment_id\":" + quote(shipment_id) + ",\"order_id\":" + quote(order_id) +
         ",\"carrier\":" + quote(carrier) + ",\"service\":" + quote(service) + ",\"tracking_numbers\":[" + tns +
         "]}";
}

std::string milestone_json(const std::string& carrier, const std::string& tn, const std::string& status,
                           const std::string& raw_code, const std::string& event_time, int64_t sequence,
                           const std::string& event_id = "") {
  std::string out = "{\"carrier\":" + quote(carrier) + ",\"tracking_number\":" + quote(tn) +
                    ",\"status\":" + quote(status) + ",\"raw_code\":" + quote(raw_code) +
                    ",\"event_time\":" + quote(event_time) + ",\"sequence\":" + std::to_string(sequence);
  if (!event_id.empty()) out += ",\"event_id\":" + quote(event_id);
  return out + "}";
}

// ---- assertions -----------------------------------------------------------------

::testing::AssertionResult IsProblem(const HttpResult& res, int status, const std::string& field) {
  if (!res.answered()) return ::testing::AssertionFailure() << res.describe();
  if (res.status != status)
    return ::testing::AssertionFailure() << "status " << res.status << ", expected " << status << ": "
                                         << res.describe();
  if (res.media_type() != "application/problem+json")
    return ::testing::AssertionFailure() << "Content-Type '" << res.header("Content-Type")
                                         << "', expected application/problem+json: " << res.describe();
  auto j = Json::parse(res.body);
  if (!j.ok()) return ::testing::AssertionFailure() << j.error() << ": " << res.body;
  if (j.int64("/status") != status)
    return ::testing::AssertionFailure() << "problem \"status\" member is not " << status << ": " << res.body;
  if (j.str_or_empty("/detail").empty())
    return ::testing::AssertionFailure() << "problem without \"detail\": " << res.body;
  if (j.str_or_empty("/type").empty() || j.str_or_empty("/title").empty())
    return ::testing::AssertionFailure() << "problem without \"type\"/\"title\": " << res.body;
  if (!field.empty() && j.str("/field") != field)
    return ::testing::AssertionFailure() << "problem \"field\" is '" << j.str_or_empty("/field") << "', expected '"
                                         << field << "': " << res.body;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsJson(const HttpResult& res, int status) {
  if (!res.answered()) return ::testing::AssertionFailure() << res.describe();
  if (res.status != status)
    return ::testing::AssertionFailure() << "status " << res.status << ", expected " << status << ": "
                                         << res.describe();
  if (res.media_type() != "application/json")
    return ::testing::AssertionFailure() << "Content-Type '" << res.header("Content-Type") << "': " << res.describe();
  auto j = Json::parse(res.body);
  if (!j.ok()) return ::testing::AssertionFailure() << j.error() << ": " << res.body;
  return ::testing::AssertionSuccess();
}

// Polls `probe` until it returns true or `timeout` passes; true if it did.
bool eventually(const std::function<bool()>& probe, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (probe()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

// ---- fixture: one server for the whole suite ------------------------------------

class ApiContract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<ServerProcess>();
    auto started = server_->start();
    ASSERT_TRUE(started);
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(server_ && server_->running()) << "the suite's server did not start";
    client_ = std::make_unique<HttpClient>(server_->host(), server_->port());
  }
  void TearDown() override {
    if (HasFailure()) {
      std::cout << "---- waybilld log ----\n";
      server_->print_log(std::cout);
    }
  }

  // Unique ids per test, so tests do not depend on each other's data.
  std::string id(const std::string& suffix) const {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string(info->name()) + "-" + suffix;
  }

  HttpResult create_order(const std::string& order_id) { return client_->post("/v1/orders", OrderSpec{order_id}.json()); }
  std::string order_status(const std::string& order_id) {
    return Json::parse(client_->get("/v1/orders/" + order_id).body).str_or_empty("/status");
  }
  std::string shipment_status(const std::string& shipment_id) {
    return Json::parse(client_->get("/v1/shipments/" + shipment_id).body).str_or_empty("/status");
  }
  // A released order with one shipment carrying `tn`.
  void released_order_with_shipment(const std::string& order_id, const std::string& shipment_id,
                                    const std::string& carrier, const std::string& tn) {
    ASSERT_TRUE(IsJson(create_order(order_id), 201));
    ASSERT_TRUE(IsJson(client_->post("/v1/orders/" + order_id + "/release", ""), 200));
    ASSERT_TRUE(IsJson(client_->post("/v1/shipments", shipment_json(shipment_id, order_id, carrier, {tn})), 201));
  }

  static std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

std::unique_ptr<ServerProcess> ApiContract::server_;

TEST_F(ApiContract, HealthReadinessAndKeepAlive) {
  for (int i = 0; i < 3; ++i) {
    auto h = client_->get("/healthz");
    ASSERT_TRUE(IsJson(h, 200));
    EXPECT_EQ(Json::parse(h.body).str("/status"), "ok");
    auto r = client_->get("/readyz");
    ASSERT_TRUE(IsJson(r, 200));
    EXPECT_EQ(Json::parse(r.body).str("/status"), "ready");
  }
  EXPECT_EQ(client_->connections_opened(), 1u) << "keep-alive connection was not reused";
  EXPECT_TRUE(IsProblem(client_->get("/v1/no-such-thing"), 404, ""));
}

TEST_F(ApiContract, CreateOrderThenReplayThenConflict) {
  OrderSpec spec{id("SO")};
  auto first = client_->post("/v1/orders", spec.json());
  ASSERT_TRUE(IsJson(first, 201));
  auto j = Json::parse(first.body);
  EXPECT_EQ(j.str("/order_id"), spec.id);
  EXPECT_EQ(j.str("/status"), "validated");
  EXPECT_EQ(j.str("/service_level"), "ground");
  EXPECT_EQ(j.str("/ship_to/country"), "US");
  EXPECT_EQ(j.str("/lines/0/sku"), "SKU-1");
  EXPECT_EQ(j.int64("/lines/0/qty"), 2);
  EXPECT_EQ(j.number("/packages/0/weight_kg"), 1.2);
  EXPECT_EQ(j.str("/references/erp"), "SAP-4711");
  EXPECT_EQ(j.size("/shipments"), 0u);

  // Same body again: 200 with the same representation.
  auto again = client_->post("/v1/orders", spec.json());
  ASSERT_TRUE(IsJson(again, 200));
  EXPECT_EQ(again.body, first.body);

  // Same order, different body: 409 naming order_id; the stored order is unchanged.
  OrderSpec other = spec;
  other.service_level = R"("express")";
  EXPECT_TRUE(IsProblem(client_->post("/v1/orders", other.json()), 409, "order_id"));
  auto get = client_->get("/v1/orders/" + spec.id);
  ASSERT_TRUE(IsJson(get, 200));
  EXPECT_EQ(Json::parse(get.body).str("/service_level"), "ground");
  EXPECT_EQ(Json::parse(get.body).str("/status"), "validated");
}

TEST_F(ApiContract, ReplayDoesNotDependOnReferenceKeyOrder) {
  OrderSpec a{id("SO")};
  a.references = R"({"erp":"SAP-1","channel":"web"})";
  OrderSpec b = a;
  b.references = R"({"channel":"web","erp":"SAP-1"})";
  ASSERT_TRUE(IsJson(client_->post("/v1/orders", a.json()), 201));
  EXPECT_TRUE(IsJson(client_->post("/v1/orders", b.json()), 200));
}

TEST_F(ApiContract, OrderLifecycleTransitions) {
  const auto order_id = id("SO");
  ASSERT_TRUE(IsJson(create_order(order_id), 201));
  const std::string base = "/v1/orders/" + order_id;

  // Packing before release is not allowed: 409 naming "status", nothing changes.
  auto before = Json::parse(client_->get(base).body);
  EXPECT_TRUE(IsProblem(client_->post(base + "/pack", ""), 409, "status"));
  auto unchanged = Json::parse(client_->get(base).body);
  EXPECT_EQ(unchanged.str("/status"), "validated");
  EXPECT_EQ(unchanged.int64("/version"), before.int64("/version"));

  auto rel = client_->post(base + "/release", "");
  ASSERT_TRUE(IsJson(rel, 200));
  EXPECT_EQ(Json::parse(rel.body).str("/status"), "released");
  // Repeating a completed step is a no-op, not an error.
  auto rel2 = client_->post(base + "/release", "");
  ASSERT_TRUE(IsJson(rel2, 200));
  EXPECT_EQ(Json::parse(rel2.body).str("/status"), "released");
  EXPECT_EQ(Json::parse(rel2.body).int64("/version"), Json::parse(rel.body).int64("/version"));

  auto alloc = client_->post(base + "/allocate", "");
  ASSERT_TRUE(IsJson(alloc, 200));
  EXPECT_EQ(Json::parse(alloc.body).str("/status"), "allocated");

  auto pack = client_->post(base + "/pack", R"({"packages":[{"weight_kg":2.5,"length_cm":40,"width_cm":30,"height_cm":20}]})");
  ASSERT_TRUE(IsJson(pack, 200));
  auto packed = Json::parse(pack.body);
  EXPECT_EQ(packed.str("/status"), "packed");
  EXPECT_EQ(packed.number("/packages/0/weight_kg"), 2.5);
  EXPECT_TRUE(IsProblem(client_->post(base + "/release", ""), 409, "status"));

  auto cancel = client_->post(base + "/cancel", R"({"reason":"customer changed their mind"})");
  ASSERT_TRUE(IsJson(cancel, 200));
  EXPECT_EQ(Json::parse(cancel.body).str("/status"), "cancelled");
  EXPECT_EQ(Json::parse(cancel.body).str("/status_reason"), "customer changed their mind");

  // A cancelled order moves nowhere.
  for (const char* action : {"release", "allocate", "pack"})
    EXPECT_TRUE(IsProblem(client_->post(base + "/" + action, ""), 409, "status")) << action;
  EXPECT_EQ(order_status(order_id), "cancelled");
}

TEST_F(ApiContract, UnknownOrderIsNotFoundProblem) {
  const auto order_id = id("missing");
  EXPECT_TRUE(IsProblem(client_->get("/v1/orders/" + order_id), 404, ""));
  for (const char* action : {"release", "allocate", "pack", "cancel"})
    EXPECT_TRUE(IsProblem(client_->post("/v1/orders/" + order_id + "/" + action, ""), 404, "")) << action;
  // Asking about it did not create it.
  EXPECT_TRUE(IsProblem(client_->get("/v1/orders/" + order_id), 404, ""));
  EXPECT_TRUE(IsProblem(client_->get("/v1/shipments/" + id("no-shipment")), 404, ""));
}

// ---- invalid input: 400 problem naming the field, nothing persisted -------------

struct BadOrderCase {
  BadOrderCase(const char* n, std::function<void(OrderSpec&)> m, std::string f, std::string raw = "")
      : name(n), mutate(std::move(m)), field(std::move(f)), raw_body(std::move(raw)) {}
  const char* name;
  std::function<void(OrderSpec&)> mutate;
  std::string field;
  std::string raw_body;  // when set, sent instead of the mutated spec
};

void PrintTo(const BadOrderCase& c, std::ostream* os) { *os << c.name; }

class BadOrderInput : public ApiContract, public ::testing::WithParamInterface<BadOrderCase> {};

TEST_P(BadOrderInput, IsRejectedNamingTheFieldAndPersistsNothing) {
  const auto& c = GetParam();
  OrderSpec spec{std::string("BAD-") + c.name};
  if (c.mutate) c.mutate(spec);
  std::string body = c.raw_body.empty() ? spec.json() : c.raw_body;
  auto res = client_->post("/v1/orders", body);
  EXPECT_TRUE(IsProblem(res, 400, c.field)) << "body: " << body;
  if (!spec.id.empty()) {
    EXPECT_TRUE(IsProblem(client_->get("/v1/orders/" + spec.id), 404, "")) << "a rejected order was stored";
  }
  // The connection stays usable after a rejected request.
  EXPECT_TRUE(IsJson(client_->get("/healthz"), 200));
}

INSTANTIATE_TEST_SUITE_P(
    ApiContract, BadOrderInput,
    ::testing::Values(
        BadOrderCase{"malformed_json", nullptr, "body", R"({"order_id":"BAD-malformed_json","lines":[)"},
        BadOrderCase{"not_an_object", nullptr, "body", R"(["BAD-not_an_object"])"},
        BadOrderCase{"empty_body", nullptr, "body", " "},
        BadOrderCase{"duplicate_key", nullptr, "order_id",
                     OrderSpec("BAD-duplicate_key").json().insert(1, R"("order_id":"BAD-other",)")},
        BadOrderCase{"nested_too_deep", nullptr, "body",
                     OrderSpec("BAD-nested_too_deep").json().insert(1, "\"references\":" + std::string(40, '[') +
                                                                          std::string(40, ']') + ",")},
        BadOrderCase{"number_out_of_range", [](OrderSpec& s) { s.packages = R"([{"weight_kg":1e400}])"; }, "body"},
        BadOrderCase{"empty_order_id", [](OrderSpec& s) { s.id.clear(); }, "order_id"},
        BadOrderCase{"missing_ship_to", [](OrderSpec& s) { s.ship_to.clear(); }, "ship_to"},
        BadOrderCase{"missing_city",
                     [](OrderSpec& s) { s.ship_to = R"({"name":"Ada","street":"1 Main St","postal_code":"1","country":"US"})"; },
                     "ship_to.city"},
        BadOrderCase{"missing_lines", [](OrderSpec& s) { s.lines.clear(); }, "lines"},
        BadOrderCase{"empty_lines", [](OrderSpec& s) { s.lines = "[]"; }, "lines"},
        BadOrderCase{"zero_qty", [](OrderSpec& s) { s.lines = R"([{"sku":"A","qty":0}])"; }, "lines[0].qty"},
        BadOrderCase{"unknown_service_level", [](OrderSpec& s) { s.service_level = R"("teleport")"; },
                     "service_level"},
        BadOrderCase{"service_level_not_a_string", [](OrderSpec& s) { s.service_level = "7"; }, "service_level"},
        BadOrderCase{"negative_weight",
                     [](OrderSpec& s) { s.packages = R"([{"weight_kg":1},{"weight_kg":-0.5}])"; },
                     "packages[1].weight_kg"},
        BadOrderCase{"three_letter_country",
                     [](OrderSpec& s) { s.ship_to = R"({"name":"A","street":"S","city":"C","postal_code":"1","country":"USA"})"; },
                     "ship_to.country"},
        BadOrderCase{"unknown_field", [](OrderSpec& s) { s.extra = R"("colour":"red")"; }, "colour"},
        BadOrderCase{"reference_not_a_string", [](OrderSpec& s) { s.references = R"({"erp":42})"; },
                     "references.erp"}),
    [](const ::testing::TestParamInfo<BadOrderCase>& info) { return std::string(info.param.name); });

TEST_F(ApiContract, RejectedActionBodyChangesNothing) {
  const auto order_id = id("SO");
  ASSERT_TRUE(IsJson(create_order(order_id), 201));
  const std::string base = "/v1/orders/" + order_id;
  ASSERT_TRUE(IsJson(client_->post(base + "/release", ""), 200));
  auto before = client_->get(base);
  EXPECT_TRUE(IsProblem(client_->post(base + "/pack", R"({"packages":[{"weight_kg":-1}]})"), 400,
                        "packages[0].weight_kg"));
  EXPECT_TRUE(IsProblem(client_->post(base + "/pack", R"({"pallets":1})"), 400, "pallets"));
  EXPECT_TRUE(IsProblem(client_->post(base + "/cancel", R"({"reason":7})"), 400, "reason"));
  EXPECT_EQ(client_->get(base).body, before.body);
}

TEST_F(ApiContract, PercentEncodedIdsInPaths) {
  const std::string order_id = id("SO/1 x");
  const std::string encoded = id("SO%2F1%20x");
  ASSERT_TRUE(IsJson(create_order(order_id), 201));
  auto get = client_->get("/v1/orders/" + encoded);
  ASSERT_TRUE(IsJson(get, 200));
  EXPECT_EQ(Json::parse(get.body).str("/order_id"), order_id);
  auto rel = client_->post("/v1/orders/" + encoded + "/release", "");
  ASSERT_TRUE(IsJson(rel, 200));
  EXPECT_EQ(Json::parse(rel.body).str("/status"), "released");
  EXPECT_TRUE(IsProblem(client_->get("/v1/orders/SO%2"), 400, "order_id"));
  EXPECT_TRUE(IsProblem(client_->get("/v1/shipments/SH%zz"), 400, "shipment_id"));
}

TEST_F(ApiContract, OverlongIdempotencyKeyIsRejected) {
  OrderSpec spec{id("SO")};
  EXPECT_TRUE(IsProblem(client_->post("/v1/orders", spec.json(), {{"Idempotency-Key", std::string(256, 'k')}}), 400,
                        "Idempotency-Key"));
  EXPECT_TRUE(IsProblem(client_->get("/v1/orders/" + spec.id), 404, ""));
  EXPECT_TRUE(IsJson(client_->post("/v1/orders", spec.json(), {{"Idempotency-Key", std::string(255, 'k')}}), 201));
}

TEST_F(ApiContract, BadShipmentAndTrackingInput) {
  const auto order_id = id("SO"), shipment_id = id("SH"), tn = id("TN");
  released_order_with_shipment(order_id, shipment_id, "ups", tn);

  // Shipment for an order that does not exist.
  auto orphan = id("SH-orphan");
  EXPECT_TRUE(IsProblem(client_->post("/v1/shipments", shipment_json(orphan, id("nope"), "ups", {id("TN2")})), 400,
                        "order_id"));
  EXPECT_TRUE(IsProblem(client_->get("/v1/shipments/" + orphan), 404, ""));
  // A tracking number belongs to one shipment.
  auto thief = id("SH-thief");
  EXPECT_TRUE(IsProblem(client_->post("/v1/shipments", shipment_json(thief, order_id, "ups", {tn})), 409,
                        "tracking_numbers[0]"));
  EXPECT_TRUE(IsProblem(client_->get("/v1/shipments/" + thief), 404, ""));
  // The same shipment id with a different body.
  EXPECT_TRUE(IsProblem(client_->post("/v1/shipments", shipment_json(shipment_id, order_id, "ups", {tn}, "express")),
                        409, "shipment_id"));
  // Replaying the registration answers 200 with the registered shipment.
  auto replay = client_->post("/v1/shipments", shipment_json(shipment_id, order_id, "ups", {tn}));
  ASSERT_TRUE(IsJson(replay, 200));
  EXPECT_EQ(Json::parse(replay.body).str("/shipment_id"), shipment_id);

  const std::string t = "2026-03-01T10:00:00Z";
  EXPECT_TRUE(IsProblem(client_->post("/v1/tracking", milestone_json("ups", id("unknown-tn"), "picked_up", "PU", t, 1)),
                        404, "tracking_number"));
  EXPECT_TRUE(IsProblem(client_->post("/v1/tracking", milestone_json("ups", tn, "teleported", "XX", t, 1)), 400,
                        "status"));
  EXPECT_TRUE(IsProblem(client_->post("/v1/tracking", milestone_json("ups", tn, "picked_up", "PU", "yesterday", 1)),
                        400, "event_time"));
  EXPECT_TRUE(IsProblem(client_->post("/v1/tracking", milestone_json("ups", tn, "picked_up", "PU", t, -1)), 400,
                        "sequence"));
  EXPECT_TRUE(IsProblem(client_->post("/v1/tracking", R"({"carrier":"ups","tracking_number":)"), 400, "body"));
  // None of it reached the shipment.
  auto sh = Json::parse(client_->get("/v1/shipments/" + shipment_id).body);
  EXPECT_EQ(sh.size("/milestones"), 0u) << sh.dump();
  EXPECT_EQ(sh.str("/status"), "label_created");
}

TEST(ApiContractLimits, OversizedBodyIs413AndPersistsNothing) {
  ServerProcess::Options opts;
  opts.config_yaml = "http:\n  max_body_bytes: 1024\n  max_ndjson_lines: 3\n";
  ServerProcess server(opts);
  ASSERT_TRUE(server.start());
  HttpClient client(server.host(), server.port());

  OrderSpec big{"BIG-1"};
  big.references = "{\"note\":" + quote(std::string(1500, 'x')) + "}";
  ASSERT_GT(big.json().size(), 1024u);
  auto res = client.post("/v1/orders", big.json());
  EXPECT_TRUE(IsProblem(res, 413, "body"));

  HttpClient fresh(server.host(), server.port());
  EXPECT_TRUE(IsProblem(fresh.get("/v1/orders/BIG-1"), 404, "")) << "an oversized order was stored";

  // Just under the limit is fine.
  OrderSpec small{"SMALL-1"};
  small.references = "{\"note\":" + quote(std::string(500, 'x')) + "}";
  ASSERT_LT(small.json().size(), 1024u);
  EXPECT_TRUE(IsJson(fresh.post("/v1/orders", small.json()), 201));

  // NDJSON is held to the same limit.
  std::string lines;
  while (lines.size() <= 1024)
    lines += milestone_json("ups", "TN-X", "in_transit", "IT", "2026-03-01T10:00:00Z", 1) + "\n";
  HttpClient third(server.host(), server.port());
  EXPECT_TRUE(IsProblem(third.post_ndjson("/v1/tracking", lines), 413, "body"));

  // So is the number of NDJSON lines (http.max_ndjson_lines); blank lines do not count.
  const std::string line = R"({"carrier":"ups"})";
  auto three = third.post_ndjson("/v1/tracking", line + "\n\n" + line + "\n" + line + "\n");
  ASSERT_TRUE(IsJson(three, 200));
  EXPECT_EQ(Json::parse(three.body).int64("/summary/rejected"), 3);
  EXPECT_TRUE(IsProblem(third.post_ndjson("/v1/tracking", line + "\n" + line + "\n" + line + "\n" + line), 413, "body"));
}

// ---- idempotency ----------------------------------------------------------------

TEST_F(ApiContract, IdempotencyKeyReplaysAndRefusesDifferentBody) {
  OrderSpec spec{id("SO")};
  const HttpHeaders key{{"Idempotency-Key", id("key-create")}};
  auto first = client_->post("/v1/orders", spec.json(), key);
  ASSERT_TRUE(IsJson(first, 201));
  auto replay = client_->post("/v1/orders", spec.json(), key);
  ASSERT_TRUE(IsJson(replay, 201)) << "the stored answer is replayed as it was";
  EXPECT_EQ(replay.body, first.body);

  // Same key, different request: 422 naming the header; the other order is not stored.
  OrderSpec other{id("SO-other")};
  EXPECT_TRUE(IsProblem(client_->post("/v1/orders", other.json(), key), 422, "Idempotency-Key"));
  EXPECT_TRUE(IsProblem(client_->get("/v1/orders/" + other.id), 404, ""));

  // An action with a key replays its stored answer even after the order moved on.
  const std::string base = "/v1/orders/" + spec.id;
  const HttpHeaders rel_key{{"Idempotency-Key", id("key-release")}};
  auto rel = client_->post(base + "/release", "", rel_key);
  ASSERT_TRUE(IsJson(rel, 200));
  ASSERT_TRUE(IsJson(client_->post(base + "/pack", ""), 200));
  EXPECT_EQ(order_status(spec.id), "packed");
  auto rel_replay = client_->post(base + "/release", "", rel_key);
  ASSERT_TRUE(IsJson(rel_replay, 200));
  EXPECT_EQ(rel_replay.body, rel.body);
  EXPECT_EQ(Json::parse(rel_replay.body).str("/status"), "released");
  EXPECT_EQ(order_status(spec.id), "packed") << "a replay must not execute the action again";
  // The same key on another route is a different request.
  EXPECT_TRUE(IsProblem(client_->post(base + "/cancel", "", rel_key), 422, "Idempotency-Key"));
  EXPECT_EQ(order_status(spec.id), "packed");
}

TEST_F(ApiContract, IdempotencyKeyOnTrackingReplaysTheOutcome) {
  const auto order_id = id("SO"), shipment_id = id("SH"), tn = id("TN");
  released_order_with_shipment(order_id, shipment_id, "fedex", tn);
  auto body = milestone_json("fedex", tn, "picked_up", "PU", "2026-03-01T08:00:00Z", 1, id("ev-1"));
  const HttpHeaders key{{"Idempotency-Key", id("key-track")}};
  auto first = client_->post("/v1/tracking", body, key);
  ASSERT_TRUE(IsJson(first, 200));
  EXPECT_EQ(Json::parse(first.body).str("/outcome"), "applied");
  auto replay = client_->post("/v1/tracking", body, key);
  ASSERT_TRUE(IsJson(replay, 200));
  EXPECT_EQ(replay.body, first.body);
  // Without the key the same milestone is recognised as a duplicate.
  auto dup = client_->post("/v1/tracking", body);
  ASSERT_TRUE(IsJson(dup, 200));
  EXPECT_EQ(Json::parse(dup.body).str("/outcome"), "duplicate");
  EXPECT_EQ(Json::parse(client_->get("/v1/shipments/" + shipment_id).body).size("/milestones"), 1u);
}

// ---- tracking -------------------------------------------------------------------

TEST_F(ApiContract, SingleMilestoneOutcomes) {
  const auto order_id = id("SO"), shipment_id = id("SH"), tn = id("TN");
  released_order_with_shipment(order_id, shipment_id, "ups", tn);
  auto post = [&](const std::string& body) {
    auto res = client_->post("/v1/tracking", body);
    EXPECT_TRUE(IsJson(res, 200)) << body;
    auto j = Json::parse(res.body);
    EXPECT_EQ(j.str("/shipment_id"), shipment_id);
    return j.str_or_empty("/outcome");
  };
  EXPECT_EQ(post(milestone_json("ups", tn, "in_transit", "IT", "2026-03-01T12:00:00Z", 2)), "applied");
  EXPECT_EQ(post(milestone_json("ups", tn, "picked_up", "PU", "2026-03-01T08:00:00Z", 1)), "late");
  EXPECT_EQ(post(milestone_json("ups", tn, "in_transit", "IT", "2026-03-01T12:00:00Z", 2)), "duplicate");
  // The same instant written with an offset is the same scan.
  EXPECT_EQ(post(milestone_json("ups", tn, "in_transit", "IT", "2026-03-01T13:00:00+01:00", 2)), "duplicate");

  auto sh = Json::parse(client_->get("/v1/shipments/" + shipment_id).body);
  EXPECT_EQ(sh.str("/status"), "in_transit");
  auto ms = sh.items("/milestones");
  ASSERT_EQ(ms.size(), 2u) << sh.dump();
  EXPECT_EQ(ms[0].str("/status"), "picked_up");  // sorted by event time
  EXPECT_EQ(ms[0].boolean("/applied"), false);
  EXPECT_EQ(ms[1].str("/status"), "in_transit");
  EXPECT_EQ(ms[1].boolean("/applied"), true);
}

TEST_F(ApiContract, NdjsonGivesPerLineResults) {
  const auto o1 = id("SO1"), s1 = id("SH1"), t1 = id("TN1");
  const auto o2 = id("SO2"), s2 = id("SH2"), t2 = id("TN2");
  released_order_with_shipment(o1, s1, "ups", t1);
  released_order_with_shipment(o2, s2, "dhl", t2);

  std::string body;
  body += milestone_json("ups", t1, "in_transit", "IT", "2026-03-02T10:00:00Z", 2) + "\n";   // 1 applied
  body += milestone_json("ups", t1, "picked_up", "PU", "2026-03-02T08:00:00Z", 1) + "\n";    // 2 late
  body += "\n";                                                                              // 3 blank, skipped
  body += "{\"carrier\":\"ups\",\n";                                                        // 4 malformed
  body += milestone_json("ups", "no-such-tn", "in_transit", "IT", "2026-03-02T10:00:00Z", 2) + "\n";  // 5 unknown
  body += milestone_json("ups", t1, "in_transit", "IT", "2026-03-02T10:00:00Z", 2) + "\r\n"; // 6 duplicate of 1
  body += milestone_json("dhl", t2, "picked_up", "PU", "2026-03-02T09:00:00Z", 1) + "\n";    // 7 other shipment
  body += milestone_json("dhl", t2, "teleported", "XX", "2026-03-02T09:00:00Z", 1);          // 8 bad status, no \n

  auto res = client_->post_ndjson("/v1/tracking", body);
  ASSERT_TRUE(IsJson(res, 200));
  auto j = Json::parse(res.body);
  auto results = j.items("/results");
  ASSERT_EQ(results.size(), 7u) << res.body;
  struct Want {
    int64_t line;
    std::string outcome, shipment_id, field;
  };
  std::vector<Want> want = {{1, "applied", s1, ""},
                            {2, "late", s1, ""},
                            {4, "rejected", "", "body"},
                            {5, "rejected", "", "tracking_number"},
                            {6, "duplicate", s1, ""},
                            {7, "applied", s2, ""},
                            {8, "rejected", "", "status"}};
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("result " + std::to_string(i) + ": " + results[i].dump());
    EXPECT_EQ(results[i].int64("/line"), want[i].line);
    EXPECT_EQ(results[i].str("/outcome"), want[i].outcome);
    if (!want[i].shipment_id.empty()) {
      EXPECT_EQ(results[i].str("/shipment_id"), want[i].shipment_id);
    }
    if (!want[i].field.empty()) {
      EXPECT_EQ(results[i].str("/field"), want[i].field);
      EXPECT_FALSE(results[i].str_or_empty("/reason").empty());
    }
  }
  EXPECT_EQ(j.int64("/summary/applied"), 2);
  EXPECT_EQ(j.int64("/summary/late"), 1);
  EXPECT_EQ(j.int64("/summary/duplicate"), 1);
  EXPECT_EQ(j.int64("/summary/rejected"), 3);

  auto sh1 = Json::parse(client_->get("/v1/shipments/" + s1).body);
  EXPECT_EQ(sh1.str("/status"), "in_transit");
  auto ms = sh1.items("/milestones");
  ASSERT_EQ(ms.size(), 2u) << sh1.dump();
  EXPECT_EQ(ms[0].str("/raw_code"), "PU");
  EXPECT_EQ(ms[1].str("/raw_code"), "IT");
  EXPECT_EQ(shipment_status(s2), "picked_up");

  // An NDJSON body without a single milestone is refused as a whole.
  EXPECT_TRUE(IsProblem(client_->post_ndjson("/v1/tracking", "\n  \n"), 400, "body"));
  // Media type parameters do not matter.
  auto with_charset = client_->post("/v1/tracking", milestone_json("dhl", t2, "in_transit", "IT", "2026-03-02T11:00:00Z", 2) + "\n",
                                    {{"Content-Type", "application/x-ndjson; charset=utf-8"}});
  ASSERT_TRUE(IsJson(with_charset, 200));
  EXPECT_EQ(Json::parse(with_charset.body).str("/results/0/outcome"), "applied");
}

TEST_F(ApiContract, OrderIsShippedOnlyAfterCarrierPickup) {
  const auto order_id = id("SO"), shipment_id = id("SH"), tn = id("TN");
  released_order_with_shipment(order_id, shipment_id, "ups", tn);
  auto order = Json::parse(client_->get("/v1/orders/" + order_id).body);
  ASSERT_EQ(order.size("/shipments"), 1u) << order.dump();
  EXPECT_EQ(order.str("/shipments/0"), shipment_id);
  // A registered shipment makes the order "shipping", never "shipped".
  EXPECT_TRUE(eventually([&] { return order_status(order_id) == "shipping"; })) << order_status(order_id);

  // A label is not carrier evidence either.
  auto label = client_->post("/v1/tracking", milestone_json("ups", tn, "label_created", "MP", "2026-03-03T07:00:00Z", 1));
  ASSERT_TRUE(IsJson(label, 200));
  EXPECT_EQ(Json::parse(label.body).str("/outcome"), "applied");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(order_status(order_id), "shipping");

  // The pickup scan is.
  auto pickup = client_->post("/v1/tracking", milestone_json("ups", tn, "picked_up", "PU", "2026-03-03T09:00:00Z", 2));
  ASSERT_TRUE(IsJson(pickup, 200));
  EXPECT_EQ(Json::parse(pickup.body).str("/outcome"), "applied");
  EXPECT_TRUE(eventually([&] { return order_status(order_id) == "shipped"; })) << order_status(order_id);
  // Once the carrier has it, the order cannot be cancelled.
  EXPECT_TRUE(IsProblem(client_->post("/v1/orders/" + order_id + "/cancel", ""), 409, "status"));
  EXPECT_EQ(order_status(order_id), "shipped");

  auto delivered = client_->post("/v1/tracking", milestone_json("ups", tn, "delivered", "DL", "2026-03-04T15:00:00Z", 3));
  ASSERT_TRUE(IsJson(delivered, 200));
  EXPECT_TRUE(eventually([&] { return order_status(order_id) == "delivered"; })) << order_status(order_id);
}

TEST_F(ApiContract, MetricsAreExposed) {
  const auto order_id = id("SO"), shipment_id = id("SH"), tn = id("TN");
  released_order_with_shipment(order_id, shipment_id, "ups", tn);
  ASSERT_TRUE(IsJson(client_->post("/v1/tracking", milestone_json("ups", tn, "picked_up", "PU", "2026-03-03T09:00:00Z", 1)), 200));
  auto m = client_->get("/metrics");
  ASSERT_EQ(m.status, 200) << m.describe();
  EXPECT_EQ(m.media_type(), "text/plain");
  EXPECT_NE(m.body.find("# TYPE waybill_http_requests_total counter"), std::string::npos);
  EXPECT_NE(m.body.find("waybill_http_requests_total{"), std::string::npos);
  EXPECT_NE(m.body.find("route=\"/v1/orders\""), std::string::npos);
  EXPECT_NE(m.body.find("waybill_milestones_total"), std::string::npos);
  // Labels carry route templates, never ids.
  EXPECT_EQ(m.body.find(order_id), std::string::npos);
}

// ---- the process ----------------------------------------------------------------

TEST(ServerProcessBehaviour, SigtermDrainsExitsZeroAndKeepsData) {
  ServerProcess server;
  ASSERT_TRUE(server.start());
  {
    HttpClient client(server.host(), server.port());
    ASSERT_TRUE(IsJson(client.post("/v1/orders", OrderSpec{"TERM-1"}.json()), 201));
    ASSERT_TRUE(IsJson(client.post("/v1/orders/TERM-1/release", ""), 200));
    // The keep-alive connection stays open across the shutdown.
    auto e = server.terminate(15s);
    EXPECT_TRUE(e.exited && e.code == 0) << e.describe();
  }
  auto log = server.current_log();
  EXPECT_NE(log.find("draining"), std::string::npos) << log;
  EXPECT_NE(log.find("stopped"), std::string::npos) << log;

  ASSERT_TRUE(server.restart());
  HttpClient client(server.host(), server.port());
  auto get = client.get("/v1/orders/TERM-1");
  ASSERT_TRUE(IsJson(get, 200));
  EXPECT_EQ(Json::parse(get.body).str("/status"), "released");
  auto e = server.terminate(15s);
  EXPECT_TRUE(e.exited && e.code == 0) << e.describe();
}

struct BadConfig {
  const char* name;
  std::string yaml;
  std::string key;  // must be named on stderr
};
void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

class ConfigErrors : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ConfigErrors, ExitWithCodeTwoNamingTheKey) {
  ServerProcess::Options opts;
  opts.config_yaml = GetParam().yaml;
  opts.split_stderr = true;
  ServerProcess server(opts);
  auto e = server.run_to_exit(15s);
  EXPECT_TRUE(e.exited && e.code == 2) << e.describe() << "\n" << server.log();
  EXPECT_NE(server.stderr_text().find(GetParam().key), std::string::npos)
      << "stderr does not name '" << GetParam().key << "':\n" << server.stderr_text();
  EXPECT_EQ(server.log().find("ready on"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    ServerProcessBehaviour, ConfigErrors,
    ::testing::Values(BadConfig{"unknown_nested_key", "http:\n  max_body_bytez: 4096\n", "http.max_body_bytez"},
                      BadConfig{"unknown_top_level_key", "listn: 127.0.0.1:0\n", "listn"},
                      BadConfig{"wrong_type", "http:\n  max_body_bytes: lots\n", "http.max_body_bytes"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace waybill::itest
