// The OpenAPI contract (docs/openapi.json) against the real waybilld:
// - GET /openapi.json serves the committed document, without a key;
// - every operation the document describes is routed by the server: sent with the
//   admin key and placeholder values it is never answered "no such route" or 405, and
//   its answer is one the document lists for it;
// - the answers of a real flow (an order booked at carrier-sim and tracked, a shipment
//   booked elsewhere, NDJSON tracking, an invoice with disputes, subscriptions, exports,
//   the console's files) have the status, media type and shape the document describes:
//   required members present, no undocumented members, JSON types and enumerations.
// The route table's side (nothing routed is undescribed) is tests/unit/openapi_test.cpp.
#include <chrono>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "json.hpp"
#include "openapi_contract.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;
using simdjson::dom::element;

constexpr const char* kNoSuchRoute = "https://waybill.dev/problems/no_such_route";

// Structural equality: objects compare member by member whatever their order.
bool same_json(element a, element b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object oa = a.get_object().value(), ob = b.get_object().value();
      if (oa.size() != ob.size()) return false;
      for (auto [key, value] : oa) {
        auto other = ob[key];
        if (other.error() || !same_json(value, other.value())) return false;
      }
      return true;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array aa = a.get_array().value(), ab = b.get_array().value();
      if (aa.size() != ab.size()) return false;
      for (size_t i = 0; i < aa.size(); ++i)
        if (!same_json(aa.at(i).value(), ab.at(i).value())) return false;
      return true;
    }
    default:
      return simdjson::minify(a) == simdjson::minify(b);
  }
}

// Every {placeholder} replaced by a value that is well-formed for routing.
std::string fill_placeholders(std::string path) {
  for (size_t open; (open = path.find('{')) != std::string::npos;)
    path.replace(open, path.find('}', open) - open + 1, "openapi-probe-1");
  return path;
}

// ---- one plain server: the document is served and every operation routed -------------

class OpenApiServed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    ASSERT_TRUE(server_->start());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_ && server_->running()) << "the suite's server did not start"; }
  static ServerProcess* server_;
};
ServerProcess* OpenApiServed::server_ = nullptr;

TEST_F(OpenApiServed, IsTheCommittedDocumentWithoutAKey) {
  HttpClient c(server_->host(), server_->port());
  c.set_api_key("");
  auto r = c.get("/openapi.json");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.media_type(), "application/json");
  auto served = Json::parse(r.body);
  auto committed = Json::parse(OpenApiContract::document_text());
  ASSERT_TRUE(served.ok()) << served.error();
  ASSERT_TRUE(committed.ok()) << committed.error();
  EXPECT_TRUE(same_json(served.element(), committed.element()))
      << "GET /openapi.json is not docs/openapi.json: rebuild waybilld";
  // Only GET: another method is closed to all but admin keys (no line in the table), then 405.
  EXPECT_EQ(c.request("POST", "/openapi.json", "{}", {{"Content-Type", "application/json"}}).status, 401);
  HttpClient admin(server_->host(), server_->port());
  EXPECT_EQ(admin.request("POST", "/openapi.json", "{}", {{"Content-Type", "application/json"}}).status, 405);
}

// The check below rests on telling "no such route" apart; it must see one when there is.
TEST_F(OpenApiServed, AnUnknownRouteIsToldApart) {
  HttpClient c(server_->host(), server_->port());
  for (const char* target : {"/v1/no-such-thing", "/v1/orders/x/ship", "/v1/subscriptions/x/y/z",
                             "/v1/disputes/parcelco:INV-1:1/pay"}) {
    auto r = c.post(target, "{}");
    EXPECT_EQ(r.status, 404) << target << ": " << r.describe();
    EXPECT_EQ(Json::parse(r.body).str_or_empty("/type"), kNoSuchRoute) << target << ": " << r.body;
  }
  // An entity that does not exist on a route that does is another problem.
  auto missing = c.get("/v1/orders/openapi-no-such-order");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(Json::parse(missing.body).str_or_empty("/type"), kNoSuchRoute) << missing.body;
}

TEST_F(OpenApiServed, EveryDocumentedOperationIsRouted) {
  auto contract = OpenApiContract::load();
  ASSERT_TRUE(contract.ok()) << contract.error();
  HttpClient c(server_->host(), server_->port());
  auto operations = contract.operations();
  EXPECT_GT(operations.size(), 30u) << "the document describes fewer operations than the server has";
  for (auto& [method, path] : operations) {
    SCOPED_TRACE(method + " " + path);
    // A JSON body where the operation takes one: an empty object, refused or not.
    HttpHeaders headers;
    std::string body;
    if (contract.operation(method, path).has("/requestBody")) {
      headers.emplace_back("Content-Type", "application/json");
      body = "{}";
    }
    auto r = c.request(method, fill_placeholders(path), body, headers);
    ASSERT_TRUE(r.answered()) << r.describe();
    EXPECT_NE(r.status, 405) << "the server does not take this method here: " << r.describe();
    if (r.status == 404) {
      EXPECT_NE(Json::parse(r.body).str_or_empty("/type"), kNoSuchRoute)
          << "described but not routed by the server: " << r.describe();
    }
    EXPECT_TRUE(contract.conforms(method, path, r));
  }
}

// ---- a real flow: answers have the documented shapes ---------------------------------

// No faults, quick tracking pushes in order: the flow is the same on every run.
YAML::Node calm_sim_config() {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  for (auto c : cfg["carriers"]) {
    c["latency"] = YAML::Load("{distribution: fixed, median_ms: 2}");
    c["rejection_share"] = 0.0;
    c["tracking"]["interval_ms"] = 100;
    c["tracking"]["late_share"] = 0.0;
    c["tracking"]["dup_share"] = 0.0;
    c["tracking"]["reorder_share"] = 0.0;
  }
  return cfg;
}

class OpenApiFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(contract_.ok()) << contract_.error();
    stack_ = std::make_unique<CarrierStack>(CarrierStack::Options{
        calm_sim_config(),
        {load_source_yaml("configs/carriers/parcelco.yaml")},
        "intake:\n  sources_dir: " + source_dir() + "/configs/sources\n"});
    ASSERT_TRUE(stack_->start());
    client_ = std::make_unique<HttpClient>(stack_->waybill().host(), stack_->waybill().port(), 10s);
  }

  // Sends a request of the operation `method route` and checks the answer against it.
  HttpResult call(const char* method, const char* route, const std::string& target, const std::string& body = {},
                  HttpHeaders headers = {}) {
    bool typed = false;
    for (auto& [k, v] : headers) typed = typed || k == "Content-Type";
    if (!body.empty() && !typed) headers.emplace_back("Content-Type", "application/json");
    auto r = client_->request(method, target, body, headers);
    EXPECT_TRUE(contract_.conforms(method, route, r)) << method << " " << target;
    return r;
  }

  OpenApiContract contract_ = OpenApiContract::load();
  std::unique_ptr<CarrierStack> stack_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(OpenApiFlow, RealAnswersHaveTheDocumentedShapes) {
  // An order booked at carrier-sim, then tracked by its webhooks.
  OrderSpec spec;
  spec.order_id = "OA-1";
  EXPECT_EQ(call("POST", "/v1/orders", "/v1/orders", order_body(spec)).status, 201);
  EXPECT_EQ(call("POST", "/v1/orders", "/v1/orders", order_body(spec)).status, 200);
  EXPECT_EQ(call("POST", "/v1/orders/{order_id}/release", "/v1/orders/OA-1/release").status, 200);
  EXPECT_EQ(call("POST", "/v1/orders/{order_id}/allocate", "/v1/orders/OA-1/allocate").status, 200);
  EXPECT_EQ(call("POST", "/v1/orders/{order_id}/pack", "/v1/orders/OA-1/pack").status, 200);
  auto& w = stack_->waybill();
  auto booked = wait_for_bookings(w.host(), w.port(), {"OA-1-1"}, 30s)["OA-1-1"];
  ASSERT_EQ(booked.state, "booked") << booked.describe();
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  Json shipment;
  while (std::chrono::steady_clock::now() < deadline) {
    shipment = Json::parse(client_->get("/v1/shipments/OA-1-1").body);
    if (shipment.str_or_empty("/status") == "delivered") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(shipment.str_or_empty("/status"), "delivered") << shipment.dump();
  const std::string tn = shipment.str_or_empty("/tracking_numbers/0");
  EXPECT_EQ(call("GET", "/v1/shipments/{shipment_id}", "/v1/shipments/OA-1-1").status, 200);
  EXPECT_EQ(call("GET", "/v1/orders/{order_id}", "/v1/orders/OA-1").status, 200);
  EXPECT_EQ(call("GET", "/v1/trace/{order_id}", "/v1/trace/OA-1?limit=100").status, 200);
  EXPECT_EQ(call("GET", "/v1/manifests/{carrier}", "/v1/manifests/parcelco").status, 200);
  EXPECT_EQ(call("GET", "/v1/carriers", "/v1/carriers").status, 200);
  EXPECT_EQ(call("POST", "/v1/orders/{order_id}/cancel", "/v1/orders/OA-1/cancel", R"({"reason":"late"})").status, 409);
  EXPECT_EQ(call("POST", "/v1/shipments/{shipment_id}/void", "/v1/shipments/OA-1-1/void").status, 409);

  // An order changed by its owner, then by a system that does not own the field.
  spec.order_id = "OA-2";
  EXPECT_EQ(call("POST", "/v1/orders", "/v1/orders", order_body(spec)).status, 201);
  EXPECT_EQ(call("PATCH", "/v1/orders/{order_id}", "/v1/orders/OA-2", R"({"references":{"erp":"SAP-1"}})",
                 {{"X-Source-System", "erp"}}).status, 200);
  EXPECT_EQ(call("PATCH", "/v1/orders/{order_id}", "/v1/orders/OA-2", R"({"carrier":"ups"})",
                 {{"X-Source-System", "erp"}}).status, 403);
  EXPECT_EQ(call("POST", "/v1/orders/{order_id}/release", "/v1/orders/OA-2/release", "",
                 {{"Idempotency-Key", "openapi-release-2"}}).status, 200);

  // A shipment booked elsewhere, tracked by single and NDJSON milestones.
  const std::string shipment_body = R"({"shipment_id":"OA-2-W","order_id":"OA-2","carrier":"ups","service":"GND",)"
                                    R"("tracking_numbers":["OA2TN1"],"packages":[{"weight_kg":2,"customs":)"
                                    R"({"description":"Books","value_minor":2500,"currency":"USD"}}],"ship_date":")" +
                                    date_in_days() + "\"}";
  EXPECT_EQ(call("POST", "/v1/shipments", "/v1/shipments", shipment_body).status, 201);
  EXPECT_EQ(call("POST", "/v1/shipments", "/v1/shipments", shipment_body).status, 200);
  const std::string milestone = R"({"carrier":"ups","tracking_number":"OA2TN1","status":"picked_up","raw_code":"PU",)"
                                R"("event_time":")" + date_in_days() + R"(T08:00:00Z","sequence":1,"location":{"city":)"
                                R"("Springfield","country":"US"}})";
  EXPECT_EQ(call("POST", "/v1/tracking", "/v1/tracking", milestone).status, 200);
  const std::string ndjson = milestone + "\n" +
                             R"({"carrier":"ups","tracking_number":"OA2TN1","status":"exception","raw_code":"X1",)"
                             R"("event_time":")" + date_in_days() + R"(T09:00:00Z","sequence":2,)"
                             R"("exception_category":"weather_delay","estimated_delivery":")" + date_in_days() +
                             R"(T18:00:00Z"})" + "\n" + R"({"carrier":"ups","tracking_number":"OA2TN1","status":"teleported"})";
  auto lines = call("POST", "/v1/tracking", "/v1/tracking", ndjson, {{"Content-Type", "application/x-ndjson"}});
  EXPECT_EQ(lines.status, 200);
  EXPECT_EQ(Json::parse(lines.body).str_or_empty("/results/2/outcome"), "rejected") << lines.body;
  EXPECT_EQ(call("GET", "/v1/shipments/{shipment_id}", "/v1/shipments/OA-2-W").status, 200);
  EXPECT_EQ(call("POST", "/v1/exceptions/{shipment_id}/resolve", "/v1/exceptions/OA-2-W/resolve",
                 R"({"action":"retry"})").status, 404);
  EXPECT_EQ(call("GET", "/v1/exceptions", "/v1/exceptions?limit=10&after=OA-0").status, 200);
  EXPECT_EQ(call("GET", "/v1/exceptions", "/v1/exceptions?region=usa").status, 400);

  // A source-shaped order.
  EXPECT_EQ(call("POST", "/v1/sources/{source}/orders", "/v1/sources/netsuite/orders",
                 R"({"id":"9001","tranId":"OA-NS-1","shipMethod":"UPS 2nd Day Air","email":"ada@example.com",)"
                 R"("shippingAddress":{"addressee":"Ada","addr1":"1 Main St","city":"Springfield","state":"IL",)"
                 R"("zip":"62701","country":"United States"},"item":{"items":[{"item":"WIDGET-1","quantity":2}]},)"
                 R"("custbody_weight_lb":10,"custbody_length_in":20})").status, 201);

  // A carrier invoice: an overbilled line and an unknown tracking number, then disputes.
  const std::string invoice = R"({"carrier":"parcelco","invoice_number":"INV-OA-1","invoice_date":")" + date_in_days() +
                              R"(","currency":"USD","lines":[{"tracking_number":")" + tn +
                              R"(","billed_weight_g":1500,"base_minor":99999,"accessorials":[{"code":"fuel",)"
                              R"("amount_minor":150}]},{"tracking_number":"1ZUNKNOWN","base_minor":700}]})";
  EXPECT_EQ(call("POST", "/v1/invoices", "/v1/invoices", invoice).status, 201);
  EXPECT_EQ(call("POST", "/v1/invoices", "/v1/invoices", invoice).status, 200);
  const std::string csv = "carrier,invoice_number,invoice_date,currency,tracking_number,base,fuel\n"
                          "parcelco,INV-OA-2," + date_in_days() + ",USD,1ZUNKNOWN2,7.00,0.50\n";
  EXPECT_EQ(call("POST", "/v1/invoices", "/v1/invoices", csv, {{"Content-Type", "text/csv"}}).status, 201);
  EXPECT_EQ(call("GET", "/v1/invoices/{invoice_id}", "/v1/invoices/parcelco:INV-OA-1").status, 200);
  EXPECT_EQ(call("GET", "/v1/disputes", "/v1/disputes?limit=1").status, 200);
  EXPECT_EQ(call("POST", "/v1/disputes/{dispute_id}/accept", "/v1/disputes/parcelco:INV-OA-1:1/accept",
                 R"({"note":"fine"})", {{"X-Actor", "ada"}}).status, 200);
  EXPECT_EQ(call("POST", "/v1/disputes/{dispute_id}/resolve", "/v1/disputes/parcelco:INV-OA-1:2/resolve",
                 R"({"amount_minor":100})").status, 200);
  EXPECT_EQ(call("POST", "/v1/disputes/{dispute_id}/reject", "/v1/disputes/parcelco:INV-OA-2:1/reject").status, 200);
  EXPECT_EQ(call("POST", "/v1/disputes/{dispute_id}/reject", "/v1/disputes/parcelco:INV-OA-1:1/reject").status, 409);
  EXPECT_EQ(call("GET", "/v1/disputes", "/v1/disputes?state=any").status, 200);
  EXPECT_EQ(call("GET", "/v1/settlement/summary", "/v1/settlement/summary").status, 200);
  EXPECT_EQ(call("GET", "/v1/trace/{order_id}", "/v1/trace/OA-1").status, 200);

  // The outbox and webhook subscribers.
  auto events = call("GET", "/v1/events", "/v1/events?after=0&limit=1000");
  EXPECT_EQ(events.status, 200);
  EXPECT_GT(Json::parse(events.body).size("/events"), 20u);
  auto created = call("POST", "/v1/subscriptions", "/v1/subscriptions",
                      R"({"url":"http://127.0.0.1:9/hook","event_types":["order.*"]})");
  EXPECT_EQ(created.status, 201);
  const std::string sub = "/v1/subscriptions/" + Json::parse(created.body).str_or_empty("/id");
  EXPECT_EQ(call("GET", "/v1/subscriptions", "/v1/subscriptions").status, 200);
  EXPECT_EQ(call("POST", "/v1/subscriptions/{id}/disable", sub + "/disable").status, 200);
  EXPECT_EQ(call("POST", "/v1/subscriptions/{id}/enable", sub + "/enable").status, 200);
  EXPECT_EQ(call("GET", "/v1/subscriptions/{id}/dead-letters", sub + "/dead-letters").status, 200);
  EXPECT_EQ(call("POST", "/v1/subscriptions/{id}/dead-letters/replay", sub + "/dead-letters/replay").status, 202);
  EXPECT_EQ(call("DELETE", "/v1/subscriptions/{id}", sub).status, 204);

  // Operations and probes.
  EXPECT_EQ(call("POST", "/v1/exports", "/v1/exports?date=" + date_in_days()).status, 200);
  EXPECT_EQ(call("GET", "/healthz", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz", "/readyz").status, 200);
  EXPECT_EQ(call("GET", "/metrics", "/metrics").status, 200);
  EXPECT_EQ(call("GET", "/openapi.json", "/openapi.json").status, 200);
  EXPECT_EQ(call("GET", "/console", "/console").status, 301);
  EXPECT_EQ(call("GET", "/console/{file}", "/console/index.html").status, 200);
  EXPECT_EQ(call("GET", "/console/{file}", "/console/console.js").status, 200);
  EXPECT_EQ(call("GET", "/v1/cluster", "/v1/cluster").status, 404);
}

}  // namespace
}  // namespace waybill::itest
