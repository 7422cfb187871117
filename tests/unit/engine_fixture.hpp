// In-process engine fixture: runtime::Engine on a temporary store, driven through
// runtime::Api::handle with hand-made requests (no sockets). Shared by the engine tests.
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include <rapidjson/document.h>

#include "test_support.hpp"
#include "waybill/runtime/api.hpp"
#include "waybill/runtime/engine.hpp"
#include "waybill/runtime/metrics.hpp"

namespace waybill::runtime::testing_engine {

using testing_support::eventually;
using testing_support::TempDir;

/// The engine tests call as admin (the API's authorization has its own tests).
inline constexpr const char* kTestAdminKey = "unit-test-admin-key";

inline std::string order_json(const std::string& id, int qty = 1) {
  return R"({"order_id":")" + id +
         R"(","ship_to":{"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"12345","country":"US"},)"
         R"("service_level":"ground","lines":[{"sku":"SKU-1","qty":)" +
         std::to_string(qty) + R"(}],"packages":[{"weight_kg":1.5}]})";
}

inline std::string shipment_json(const std::string& id, const std::string& order_id, const std::string& tracking) {
  std::string tn = tracking.empty() ? "" : R"(,"tracking_numbers":[)" + tracking + "]";
  return R"({"shipment_id":")" + id + R"(","order_id":")" + order_id + R"(","carrier":"ups")" + tn + "}";
}

inline std::string milestone_json(const std::string& tracking, const std::string& status, const std::string& time,
                           const std::string& event_id = "", const std::string& raw = "RC") {
  std::string s = R"({"carrier":"ups","tracking_number":")" + tracking + R"(","status":")" + status +
                  R"(","event_time":")" + time + R"(","raw_code":")" + raw + "\"";
  if (!event_id.empty()) s += R"(,"event_id":")" + event_id + "\"";
  return s + "}";
}

inline rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  EXPECT_FALSE(d.HasParseError()) << body;
  return d;
}

inline std::string field(const std::string& body, const char* key) {
  auto d = parse(body);
  if (!d.IsObject() || !d.HasMember(key) || !d[key].IsString()) return "<absent>";
  return d[key].GetString();
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    api_options_.auth.keys.push_back({"unit-test", key_digest(kTestAdminKey), static_cast<ScopeSet>(Scope::admin)});
  }

  void SetUp() override { start(); }
  void TearDown() override { stop(); }

  // Tests adjust options (SLA deadlines, ...) before start().
  void start() {
    EngineOptions o = options_;
    o.store.data_dir = dir_.str();
    o.store.block_cache_mb = 8;
    o.store.write_buffer_mb = 4;
    o.store.background_jobs = 1;
    o.writer.sync = false;
    o.booking.carriers_dir.clear();  // core behaviour only: no carrier booking
    o.scheduler_threads = 2;
    o.orders = actors::RegistryOptions{1000, 60000, 4};
    o.shipments = actors::RegistryOptions{1000, 60000, 4};
    auto e = Engine::start(o, &metrics_);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(*e);
    api_ = std::make_unique<Api>(*engine_, metrics_, api_options_);
  }
  void stop() {
    api_.reset();
    if (engine_) engine_->stop();
    engine_.reset();
  }
  void restart() {
    stop();
    start();
  }

  HttpResponse call(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& idempotency_key = "", const std::string& content_type = "application/json") {
    auto promise = std::make_shared<std::promise<HttpResponse>>();
    auto future = promise->get_future();
    auto calls = std::make_shared<std::atomic<int>>(0);
    HttpRequest req{method, target, content_type, idempotency_key, body};
    req.headers.emplace_back("authorization", std::string("Bearer ") + kTestAdminKey);
    api_->handle(std::move(req), [promise, calls](HttpResponse res) {
      if (calls->fetch_add(1) == 0) promise->set_value(std::move(res));
      else ADD_FAILURE() << "responder called twice";
    });
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << method << " " << target << ": no answer within 10 s";
      return HttpResponse{0, "", "", {}};
    }
    return future.get();
  }
  HttpResponse post(const std::string& target, const std::string& body = "", const std::string& key = "") {
    return call("POST", target, body, key);
  }
  HttpResponse get(const std::string& target) { return call("GET", target); }
  HttpResponse track_ndjson(const std::string& body, const std::string& key = "") {
    return call("POST", "/v1/tracking", body, key, "application/x-ndjson");
  }

  std::string order_status(const std::string& id) {
    auto r = get("/v1/orders/" + id);
    return r.status == 200 ? field(r.body, "status") : "<" + std::to_string(r.status) + ">";
  }
  bool order_reaches(const std::string& id, const std::string& status) {
    return eventually([&] { return order_status(id) == status; });
  }
  // A created, released and packed order with one registered shipment.
  void ship_ready(const std::string& order, const std::string& shipment, const std::string& tracking) {
    ASSERT_EQ(post("/v1/orders", order_json(order)).status, 201);
    ASSERT_EQ(post("/v1/orders/" + order + "/release").status, 200);
    ASSERT_EQ(post("/v1/orders/" + order + "/pack").status, 200);
    auto r = post("/v1/shipments", shipment_json(shipment, order, "\"" + tracking + "\""));
    ASSERT_EQ(r.status, 201) << r.body;
    ASSERT_TRUE(order_reaches(order, "shipping"));
  }

  void expect_problem(const HttpResponse& r, int status, const std::string& field_name) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/problem+json");
    auto d = parse(r.body);
    ASSERT_TRUE(d.IsObject());
    ASSERT_TRUE(d.HasMember("status"));
    EXPECT_EQ(d["status"].GetInt(), status);
    if (!field_name.empty()) {
      ASSERT_TRUE(d.HasMember("field")) << r.body;
      EXPECT_EQ(std::string(d["field"].GetString()), field_name);
    }
  }

  EngineOptions options_;
  ApiOptions api_options_;
  TempDir dir_{"engine"};
  Metrics metrics_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Api> api_;
};

}  // namespace waybill::runtime::testing_engine
