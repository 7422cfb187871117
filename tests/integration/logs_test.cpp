// The logs of a real waybilld run booking at carrier-sim (debug level, so everything is
// written): every line is a JSON object with ts, level, msg, component and
// correlation_id; no consignee name, street, phone or e-mail appears anywhere, not
// even after a carrier rejected the address; a request's correlation id follows it
// through the order and shipment actors to the carrier, which received it as
// X-Request-Id.
#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"
#include "test_keys.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;

struct Person {
  std::string order_id, name, street, street2, phone, email, postal_code;
};

const Person kBooked{"LOG-1", "Wilhelmina Quartermaine", "42 Zephyrine Boulevard", "Suite 1701", "+1 415 555 0199",
                     "wilhelmina.q@mailbox.example", "62701"};
// 00000 is a postal code carrier-sim refuses: the rejection path logs too.
const Person kRejected{"LOG-2", "Bartholomew Oyelaran", "7 Marigold Crescent", "Unit 3", "+44 20 7946 0958",
                       "b.oyelaran@post.example", "00000"};

std::string order_body(const Person& p) {
  return R"({"order_id":")" + p.order_id + R"(","service_level":"ground","ship_to":{"name":)" + quote(p.name) +
         R"(,"street":)" + quote(p.street) + R"(,"street2":)" + quote(p.street2) +
         R"(,"city":"Springfield","postal_code":)" + quote(p.postal_code) + R"(,"country":"US","phone":)" +
         quote(p.phone) + R"(,"email":)" + quote(p.email) +
         R"(},"lines":[{"sku":"SKU-1","qty":1}],"packages":[{"weight_kg":1.5,"length_cm":30,"width_cm":20,"height_cm":10}]})";
}

std::vector<std::string> pii_of(const Person& p) {
  // Whole values and telling parts of them.
  return {p.name, p.street, p.street2, p.phone, p.email, "Wilhelmina", "Quartermaine", "Zephyrine", "555 0199",
          "Bartholomew", "Oyelaran", "Marigold", "7946 0958", "wilhelmina.q", "b.oyelaran"};
}

std::vector<std::string> lines_of(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.rfind("==== incarnation", 0) != 0) out.push_back(line);  // test support's markers
  return out;
}

TEST(Logs, JsonLinesWithoutPiiCarryingCorrelationIds) {
  auto sim_config = load_source_yaml("configs/carrier-sim.yaml");
  for (auto c : sim_config["carriers"]) {
    c["latency"] = YAML::Load("{distribution: fixed, median_ms: 5}");
    c["tracking"]["interval_ms"] = 100;
  }
  CarrierStack stack({sim_config,
                      {load_source_yaml("configs/carriers/parcelco.yaml"), load_source_yaml("configs/carriers/freightly.yaml")},
                      "",
                      "debug"});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  HttpClient c(w.host(), w.port());

  for (auto* p : {&kBooked, &kRejected}) {
    std::string id = "req-" + p->order_id;
    ASSERT_EQ(c.request("POST", "/v1/orders", order_body(*p),
                        {{"Content-Type", "application/json"}, {"X-Request-Id", id + "-create"}})
                  .status,
              201);
    ASSERT_EQ(c.request("POST", "/v1/orders/" + p->order_id + "/release", "", {{"X-Request-Id", id + "-release"}}).status,
              200);
    auto pack = c.request("POST", "/v1/orders/" + p->order_id + "/pack", "", {{"X-Request-Id", id + "-pack"}});
    ASSERT_EQ(pack.status, 200) << pack.describe();
    EXPECT_EQ(pack.header("X-Request-Id"), id + "-pack");
  }
  auto views = wait_for_bookings(w.host(), w.port(), {"LOG-1-1", "LOG-2-1"}, 30s);
  ASSERT_EQ(views["LOG-1-1"].state, "booked") << views["LOG-1-1"].describe();
  ASSERT_EQ(views["LOG-2-1"].state, "rejected") << views["LOG-2-1"].describe();
  // Reads with and without pii, a refused update and a denied request also log.
  c.set_api_key(scoped_key("read"));
  EXPECT_EQ(c.get("/v1/trace/LOG-1").status, 200);
  c.set_api_key(kAdminKey);
  EXPECT_EQ(c.get("/v1/trace/LOG-2").status, 200);
  EXPECT_EQ(c.get("/v1/exceptions").status, 200);
  c.request("PATCH", "/v1/orders/LOG-1", R"({"ship_to":{"name":"Someone Else"}})",
            {{"Content-Type", "application/json"}, {"X-Source-System", "wms"}});
  c.set_api_key("wrong");
  EXPECT_EQ(c.get("/v1/orders/LOG-1").status, 401);
  // The carrier received the pack's correlation id with the booking.
  auto ledger = stack.sim().labels();
  ASSERT_TRUE(ledger);
  auto sold = ledger->live("LOG-1-1");
  ASSERT_FALSE(sold.empty());
  for (auto& l : sold) EXPECT_EQ(l.request_id, "req-LOG-1-pack");
  EXPECT_EQ(w.terminate(15s).code, 0);

  auto lines = lines_of(w.log());
  ASSERT_GT(lines.size(), 20u);
  std::set<std::string> ids_by_shipment_actor, ids_by_carrier_http, ids_by_order_actor, ids_by_api;
  for (auto& line : lines) {
    auto j = Json::parse(line);
    ASSERT_TRUE(j.ok() && j.is_object("")) << "not a JSON object: " << line;
    for (auto key : {"/ts", "/level", "/msg", "/component"}) EXPECT_TRUE(j.str(key)) << key << " missing: " << line;
    ASSERT_TRUE(j.has("/correlation_id")) << line;
    for (auto& raw : pii_of(kBooked)) EXPECT_EQ(line.find(raw), std::string::npos) << raw << " in " << line;
    for (auto& raw : pii_of(kRejected)) EXPECT_EQ(line.find(raw), std::string::npos) << raw << " in " << line;
    auto id = j.str_or_empty("/correlation_id");
    auto component = j.str_or_empty("/component");
    if (component == "shipment") ids_by_shipment_actor.insert(id);
    if (component == "carrier_http") ids_by_carrier_http.insert(id);
    if (component == "order") ids_by_order_actor.insert(id);
    if (component == "api") ids_by_api.insert(id);
  }
  for (auto* p : {&kBooked, &kRejected}) {
    std::string pack = "req-" + p->order_id + "-pack";
    EXPECT_TRUE(ids_by_api.count(pack)) << "access log of " << pack;
    EXPECT_TRUE(ids_by_order_actor.count(pack)) << "order actor under " << pack;
    EXPECT_TRUE(ids_by_shipment_actor.count(pack)) << "shipment actor's carrier calls under " << pack;
    EXPECT_TRUE(ids_by_carrier_http.count(pack)) << "carrier exchanges under " << pack;
  }
}

}  // namespace
}  // namespace waybill::itest
