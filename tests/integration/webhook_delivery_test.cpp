// Outbox delivery to webhook subscribers, end to end: the real waybilld delivers to a
// real HTTP receiver started by the test (support/webhook_receiver), which verifies the
// Standard Webhooks signature and timestamp of every request and records what it
// accepted. The durable outbox, read back through GET /v1/events, is the oracle.
//
// Delivery is at least once, so the receiver's view is always de-duplicated by
// webhook-id (first arrival wins) before sequences are checked; duplicates must carry
// the same body as the first arrival.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "json.hpp"
#include "outbox.hpp"
#include "server_process.hpp"
#include "webhook_receiver.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Delivery = WebhookReceiver::Delivery;

// Every step of an order's life the tests drive, and the order events each produces.
const std::vector<std::string> kFlowSteps = {"release", "allocate", "pack", "cancel"};
const std::vector<std::string> kFlowTypes = {"order.received", "order.validated", "order.released",
                                             "order.allocated", "order.packed",   "order.cancelled"};

// Fast retries; booking off (no carrier profiles), so orders only emit order events.
std::string server_config(int64_t retry_period_s) {
  return "booking:\n"
         "  carriers_dir: \"\"\n"
         "webhooks:\n"
         "  retry_period_s: " + std::to_string(retry_period_s) + "\n"
         "  base_backoff_ms: 50\n"
         "  max_backoff_ms: 400\n"
         "  timeout_ms: 2000\n";
}

ServerProcess::Options server_options(int64_t retry_period_s = 3600) {
  ServerProcess::Options o;
  o.config_yaml = server_config(retry_period_s);
  return o;
}

// ---- requests -------------------------------------------------------------------

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (auto& s : items) out += (out.size() > 1 ? "," : "") + quote(s);
  return out + "]";
}

HttpResult create_order(HttpClient& c, const std::string& id) {
  return c.post("/v1/orders", "{\"order_id\":" + quote(id) +
                                  R"(,"service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St",)"
                                  R"("city":"Springfield","postal_code":"62701","country":"US"},)"
                                  R"("lines":[{"sku":"SKU-1","qty":1}]})");
}

HttpResult order_step(HttpClient& c, const std::string& id, const std::string& action) {
  return c.post("/v1/orders/" + id + "/" + action, "");
}

// Creates a subscription; returns its id (empty on failure, with a test failure added).
std::string subscribe(HttpClient& c, const std::string& url, const std::vector<std::string>& types,
                      const std::vector<std::string>& secrets) {
  std::string body = "{\"url\":" + quote(url) + ",\"event_types\":" + json_array(types) +
                     ",\"secrets\":" + json_array(secrets) + "}";
  auto res = c.post("/v1/subscriptions", body);
  EXPECT_EQ(res.status, 201) << res.describe();
  auto j = Json::parse(res.body);
  std::string id = j.str_or_empty("/id");
  EXPECT_FALSE(id.empty()) << res.describe();
  EXPECT_EQ(j.str("/url"), url);
  return id;
}

// The subscription as GET /v1/subscriptions lists it (invalid Json when absent).
Json subscription(HttpClient& c, const std::string& id) {
  auto res = c.get("/v1/subscriptions");
  EXPECT_EQ(res.status, 200) << res.describe();
  auto j = Json::parse(res.body);
  for (auto& s : j.items("/subscriptions"))
    if (s.str("/id") == id) return s;
  ADD_FAILURE() << "subscription " << id << " not listed: " << res.describe();
  return Json::parse("");
}

uint64_t delivered_position(HttpClient& c, const std::string& id) {
  return static_cast<uint64_t>(subscription(c, id).int64("/delivered_position").value_or(0));
}

// ---- the oracle: the durable outbox -----------------------------------------------

bool is_order_event(const std::string& type) { return type.rfind("order.", 0) == 0; }

// Order events per order id, in position order.
std::map<std::string, std::vector<FeedEvent>> order_events_by_order(const std::vector<FeedEvent>& feed) {
  std::map<std::string, std::vector<FeedEvent>> out;
  for (auto& e : feed)
    if (is_order_event(e.type)) out[e.orderid].push_back(e);
  return out;
}

size_t count_order_events(const std::vector<FeedEvent>& feed) {
  return static_cast<size_t>(std::count_if(feed.begin(), feed.end(), [](auto& e) { return is_order_event(e.type); }));
}

// ---- checks -------------------------------------------------------------------------

// Every accepted delivery is a well-formed order event whose headers agree with its
// body; duplicates (same webhook-id) carry the same body.
::testing::AssertionResult WellFormedOrderDeliveries(const std::vector<Delivery>& all) {
  std::map<std::string, std::string> first_body;
  for (auto& d : all) {
    if (!is_order_event(d.type))
      return ::testing::AssertionFailure() << "delivered " << d.type << " through an order.* filter: " << d.body;
    if (d.specversion != "1.0" || d.source.empty() || d.time.empty())
      return ::testing::AssertionFailure() << "not a CloudEvents 1.0 event: " << d.body;
    if (d.id != std::to_string(d.position) || d.webhook_id != "evt_" + d.id)
      return ::testing::AssertionFailure() << "webhook-id " << d.webhook_id << " does not match event id " << d.id
                                           << " / position " << d.position;
    if (d.subject != "orders/" + d.orderid || d.orderid.empty())
      return ::testing::AssertionFailure() << "subject " << d.subject << " does not name order " << d.orderid;
    if (d.type != "order." + d.data_status && d.type != "order.shipment_updated")
      return ::testing::AssertionFailure() << "type " << d.type << " with data.status " << d.data_status;
    auto [it, fresh] = first_body.emplace(d.webhook_id, d.body);
    if (!fresh && it->second != d.body)
      return ::testing::AssertionFailure() << "redelivery of " << d.webhook_id << " with another body:\n  "
                                           << it->second << "\n  " << d.body;
  }
  return ::testing::AssertionSuccess();
}

// De-duplicated deliveries, per order, in arrival order: entityseq runs 1, 2, 3, ...
// without gaps, and the events are exactly the outbox's order events of that order.
::testing::AssertionResult GapFreePerOrder(const std::vector<Delivery>& unique,
                                           const std::map<std::string, std::vector<FeedEvent>>& expected) {
  std::map<std::string, std::vector<const Delivery*>> by_order;
  for (auto& d : unique) by_order[d.orderid].push_back(&d);
  for (auto& [order, got] : by_order) {
    for (size_t i = 0; i < got.size(); ++i)
      if (got[i]->entityseq != i + 1)
        return ::testing::AssertionFailure() << "order " << order << ": delivery #" << i + 1 << " ("
                                             << got[i]->webhook_id << ", " << got[i]->type << ") has entityseq "
                                             << got[i]->entityseq << ", expected " << i + 1;
    auto it = expected.find(order);
    if (it == expected.end())
      return ::testing::AssertionFailure() << "order " << order << " was delivered but has no events in the outbox";
  }
  for (auto& [order, want] : expected) {
    auto it = by_order.find(order);
    size_t have = it == by_order.end() ? 0 : it->second.size();
    if (have != want.size())
      return ::testing::AssertionFailure() << "order " << order << ": " << have << " events delivered, the outbox has "
                                           << want.size();
    for (size_t i = 0; i < want.size(); ++i) {
      const Delivery& d = *it->second[i];
      if (d.position != want[i].position || d.type != want[i].type || d.entityseq != want[i].entityseq)
        return ::testing::AssertionFailure()
               << "order " << order << " event #" << i + 1 << ": delivered (" << d.position << ", " << d.type << ", "
               << d.entityseq << "), outbox has (" << want[i].position << ", " << want[i].type << ", "
               << want[i].entityseq << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// First arrivals are in outbox order (one request in flight per subscription).
::testing::AssertionResult InOutboxOrder(const std::vector<Delivery>& unique) {
  for (size_t i = 1; i < unique.size(); ++i)
    if (unique[i].position <= unique[i - 1].position)
      return ::testing::AssertionFailure() << "position " << unique[i].position << " arrived after "
                                           << unique[i - 1].position;
  return ::testing::AssertionSuccess();
}

// The signature header carries one signature per secret and each verifies on its own.
::testing::AssertionResult SignedWithEach(const Delivery& d, const std::vector<std::string>& secrets) {
  int64_t ts = std::stoll(d.webhook_timestamp);
  std::string header = WebhookReceiver::sign(secrets, d.webhook_id, ts, d.body);
  if (header != d.webhook_signature)
    return ::testing::AssertionFailure() << "webhook-signature '" << d.webhook_signature << "', expected '" << header
                                         << "'";
  return ::testing::AssertionSuccess();
}

// Drives `orders` through create, release, allocate, pack and cancel, step by step
// across all of them (so their events interleave in the outbox).
void drive_orders(HttpClient& c, const std::vector<std::string>& orders) {
  for (auto& id : orders) {
    auto res = create_order(c, id);
    EXPECT_EQ(res.status, 201) << id << ": " << res.describe();
  }
  for (auto& step : kFlowSteps)
    for (auto& id : orders) {
      auto res = order_step(c, id, step);
      EXPECT_EQ(res.status, 200) << id << " " << step << ": " << res.describe();
    }
}

class WebhookDelivery : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(receiver_.start()); }

  ::testing::AssertionResult start_server(int64_t retry_period_s = 3600) {
    server_ = std::make_unique<ServerProcess>(server_options(retry_period_s));
    auto started = server_->start();
    if (started) client_ = std::make_unique<HttpClient>(server_->host(), server_->port());
    return started;
  }

  void TearDown() override {
    // A failing test prints waybilld's log through ServerProcess; add the receiver's view.
    if (HasFailure()) {
      std::cout << "---- webhook receiver attempts (last 40) ----\n";
      auto all = receiver_.attempts();
      for (size_t i = all.size() > 40 ? all.size() - 40 : 0; i < all.size(); ++i)
        std::cout << all[i].path << " " << all[i].webhook_id << " -> " << all[i].status << " " << all[i].reason << "\n";
    }
  }

  WebhookReceiver receiver_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

// The receiver itself: only correctly signed, fresh requests are accepted.
TEST_F(WebhookDelivery, ReceiverRejectsForgedStaleAndUnsignedRequests) {
  std::string secret = WebhookReceiver::new_secret();
  receiver_.set_endpoint("/self", {secret});
  HttpClient c("127.0.0.1", receiver_.port());
  const std::string body = R"({"specversion":"1.0","id":"7","type":"order.received","position":7,"entityseq":1})";
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto send = [&](const std::string& id, int64_t ts, const std::string& sig, const std::string& b) {
    return c.post("/self", b, {{"webhook-id", id}, {"webhook-timestamp", std::to_string(ts)}, {"webhook-signature", sig}});
  };
  EXPECT_EQ(send("evt_7", now, WebhookReceiver::sign({secret}, "evt_7", now, body), body).status, 200);
  EXPECT_EQ(send("evt_7", now, WebhookReceiver::sign({WebhookReceiver::new_secret()}, "evt_7", now, body), body).status, 401);
  EXPECT_EQ(send("evt_7", now, WebhookReceiver::sign({secret}, "evt_7", now, body), body + " ").status, 401);
  EXPECT_EQ(send("evt_8", now, WebhookReceiver::sign({secret}, "evt_7", now, body), body).status, 401);
  EXPECT_EQ(send("evt_7", now - 600, WebhookReceiver::sign({secret}, "evt_7", now - 600, body), body).status, 401);
  EXPECT_EQ(send("evt_7", now, "v1,AAAA", body).status, 401);
  EXPECT_EQ(c.post("/self", body).status, 400);
  EXPECT_EQ(receiver_.deliveries("/self").size(), 1u);
  // Two signatures, the second one valid (rotation): accepted.
  std::string two = WebhookReceiver::sign({WebhookReceiver::new_secret(), secret}, "evt_9", now, body);
  EXPECT_EQ(send("evt_9", now, two, body).status, 200);
  ASSERT_EQ(receiver_.deliveries("/self").size(), 2u);
  EXPECT_EQ(receiver_.deliveries("/self")[1].signatures, 2u);
  // Stopped: refused; started again on the same port: accepted.
  uint16_t port = receiver_.port();
  receiver_.stop();
  EXPECT_FALSE(send("evt_10", now, WebhookReceiver::sign({secret}, "evt_10", now, body), body).answered());
  ASSERT_TRUE(receiver_.start());
  EXPECT_EQ(receiver_.port(), port);
  c.close();
  EXPECT_EQ(send("evt_10", now, WebhookReceiver::sign({secret}, "evt_10", now, body), body).status, 200);
}

// (1) Several orders driven concurrently: each order's events arrive with entityseq
// 1, 2, 3, ... and only order events pass the "order.*" filter.
TEST_F(WebhookDelivery, OrderedPerEntityAndFilteredByType) {
  ASSERT_TRUE(start_server());
  std::string secret = WebhookReceiver::new_secret();
  receiver_.set_endpoint("/orders", {secret});
  std::string sub = subscribe(*client_, receiver_.url("/orders"), {"order.*"}, {secret});
  ASSERT_FALSE(sub.empty());

  constexpr int kThreads = 4, kOrdersPerThread = 6, kNoiseOrders = 3;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      HttpClient c(server_->host(), server_->port());
      std::vector<std::string> orders;
      for (int i = 0; i < kOrdersPerThread; ++i) orders.push_back("SO-" + std::to_string(t) + "-" + std::to_string(i));
      drive_orders(c, orders);
    });
  // Shipment and tracking events (not order.*) interleaved with the order events.
  threads.emplace_back([&] {
    HttpClient c(server_->host(), server_->port());
    for (int i = 0; i < kNoiseOrders; ++i) {
      std::string order = "SN-" + std::to_string(i), shipment = "WMS-" + std::to_string(i),
                  tn = "1ZWH" + std::to_string(i);
      EXPECT_EQ(create_order(c, order).status, 201);
      auto reg = c.post("/v1/shipments", "{\"shipment_id\":" + quote(shipment) + ",\"order_id\":" + quote(order) +
                                             R"(,"carrier":"ups","service":"ground","tracking_numbers":[)" + quote(tn) +
                                             "]}");
      EXPECT_EQ(reg.status, 201) << reg.describe();
      const char* steps[][3] = {{"picked_up", "PU", "2026-03-02T08:00:00Z"},
                                {"in_transit", "IT", "2026-03-02T10:00:00Z"},
                                {"delivered", "DL", "2026-03-02T15:00:00Z"}};
      int seq = 0;
      for (auto& s : steps) {
        auto res = c.post("/v1/tracking", "{\"carrier\":\"ups\",\"tracking_number\":" + quote(tn) +
                                              ",\"status\":\"" + s[0] + "\",\"raw_code\":\"" + s[1] +
                                              "\",\"event_time\":\"" + s[2] + "\",\"sequence\":" + std::to_string(++seq) +
                                              "}");
        EXPECT_TRUE(res.is_2xx()) << res.describe();
      }
    }
  });
  for (auto& t : threads) t.join();

  auto feed = read_feed(*client_);
  size_t want = count_order_events(feed);
  size_t others = feed.size() - want;
  EXPECT_GT(others, 0u) << "no shipment events to filter out";
  ASSERT_TRUE(WebhookReceiver::eventually([&] { return receiver_.unique_deliveries("/orders").size() >= want; }, 20s))
      << receiver_.unique_deliveries("/orders").size() << " of " << want << " order events delivered";
  std::this_thread::sleep_for(300ms);  // anything beyond the expected would show up now

  auto all = receiver_.deliveries("/orders");
  auto unique = receiver_.unique_deliveries("/orders");
  EXPECT_EQ(unique.size(), want);
  EXPECT_TRUE(WellFormedOrderDeliveries(all));
  EXPECT_TRUE(GapFreePerOrder(unique, order_events_by_order(feed)));
  EXPECT_TRUE(InOutboxOrder(unique));
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kOrdersPerThread; ++i) {
      std::vector<std::string> types;
      for (auto& d : unique)
        if (d.orderid == "SO-" + std::to_string(t) + "-" + std::to_string(i)) types.push_back(d.type);
      EXPECT_EQ(types, kFlowTypes) << "order SO-" << t << "-" << i;
    }
  for (auto& d : all) EXPECT_TRUE(SignedWithEach(d, {secret}));
  EXPECT_EQ(receiver_.count_answered("/orders", 401), 0u);
  EXPECT_EQ(receiver_.count_answered("/orders", 400), 0u);
  EXPECT_TRUE(WebhookReceiver::eventually([&] { return delivered_position(*client_, sub) >= unique.back().position; }, 5s));
  std::cout << "[ counts ] outbox " << feed.size() << " events (" << want << " order, " << others
            << " other); delivered " << all.size() << " (" << unique.size() << " unique)\n";
}

// (2) Signatures: with two secrets (rotation) a receiver knowing either one accepts
// every delivery; a receiver knowing only a wrong secret answers 401 and the
// subscription retries the same event without advancing until the receiver learns it.
TEST_F(WebhookDelivery, SignaturesRotationAndWrongSecret) {
  ASSERT_TRUE(start_server());
  std::string old_secret = WebhookReceiver::new_secret(), new_secret = WebhookReceiver::new_secret(32);
  std::string sub_secret = WebhookReceiver::new_secret(), receiver_secret = WebhookReceiver::new_secret();
  receiver_.set_endpoint("/knows-old", {old_secret});
  receiver_.set_endpoint("/knows-new", {new_secret});
  receiver_.set_endpoint("/wrong", {receiver_secret});
  std::string sub_old = subscribe(*client_, receiver_.url("/knows-old"), {"order.*"}, {old_secret, new_secret});
  std::string sub_new = subscribe(*client_, receiver_.url("/knows-new"), {"order.*"}, {old_secret, new_secret});
  std::string sub_wrong = subscribe(*client_, receiver_.url("/wrong"), {"order.*"}, {sub_secret});
  ASSERT_FALSE(sub_old.empty() || sub_new.empty() || sub_wrong.empty());
  const uint64_t wrong_start = delivered_position(*client_, sub_wrong);

  std::vector<std::string> orders = {"SG-1", "SG-2", "SG-3", "SG-4"};
  for (auto& id : orders) {
    ASSERT_EQ(create_order(*client_, id).status, 201);
    ASSERT_EQ(order_step(*client_, id, "release").status, 200);
  }
  const size_t want = orders.size() * 3;
  for (const char* path : {"/knows-old", "/knows-new"})
    ASSERT_TRUE(WebhookReceiver::eventually([&] { return receiver_.unique_deliveries(path).size() >= want; }, 10s))
        << path << ": " << receiver_.unique_deliveries(path).size() << " of " << want;

  auto feed = read_feed(*client_);
  for (const char* path : {"/knows-old", "/knows-new"}) {
    auto all = receiver_.deliveries(path);
    EXPECT_EQ(receiver_.unique_deliveries(path).size(), want) << path;
    EXPECT_EQ(receiver_.count_answered(path, 401), 0u) << path;
    EXPECT_TRUE(WellFormedOrderDeliveries(all)) << path;
    EXPECT_TRUE(GapFreePerOrder(receiver_.unique_deliveries(path), order_events_by_order(feed))) << path;
    for (auto& d : all) {
      EXPECT_EQ(d.signatures, 2u) << d.webhook_signature;
      EXPECT_TRUE(SignedWithEach(d, {old_secret, new_secret})) << path;
    }
  }

  // The wrong secret: refused again and again, always the first event, cursor still.
  ASSERT_TRUE(WebhookReceiver::eventually([&] { return receiver_.count_answered("/wrong", 401) >= 4; }, 10s))
      << receiver_.count_answered("/wrong", 401) << " attempts refused";
  EXPECT_TRUE(receiver_.deliveries("/wrong").empty());
  const std::string first_id = receiver_.unique_deliveries("/knows-old").front().webhook_id;
  std::set<std::string> refused_ids;
  for (auto& a : receiver_.attempts("/wrong")) {
    EXPECT_EQ(a.status, 401);
    EXPECT_EQ(a.reason, "bad signature");
    refused_ids.insert(a.webhook_id);
  }
  EXPECT_EQ(refused_ids, std::set<std::string>{first_id}) << "the subscription moved on past a refused event";
  EXPECT_EQ(delivered_position(*client_, sub_wrong), wrong_start);
  const size_t refused = receiver_.count_answered("/wrong", 401);

  // The receiver learns the subscription's secret: everything arrives, nothing lost.
  receiver_.set_endpoint("/wrong", {receiver_secret, sub_secret});
  ASSERT_TRUE(WebhookReceiver::eventually([&] { return receiver_.unique_deliveries("/wrong").size() >= want; }, 10s))
      << receiver_.unique_deliveries("/wrong").size() << " of " << want;
  auto wrong = receiver_.unique_deliveries("/wrong");
  EXPECT_EQ(wrong.front().webhook_id, first_id);
  EXPECT_TRUE(GapFreePerOrder(wrong, order_events_by_order(feed)));
  for (auto& d : wrong) EXPECT_EQ(d.matched_secret, 1);
  EXPECT_TRUE(WebhookReceiver::eventually(
      [&] { return delivered_position(*client_, sub_wrong) >= wrong.back().position; }, 5s));
  std::cout << "[ counts ] " << want << " events to each of 3 subscribers; " << refused
            << " deliveries refused for a wrong secret before the receiver learned it\n";
}

// (3) Downtime: the receiver is down (connections refused) while events are produced;
// started again on the same port it receives all of them, in order. A disabled
// subscription holds its events back and delivers them when enabled.
TEST_F(WebhookDelivery, RedeliveryAfterReceiverDowntimeAndDisable) {
  ASSERT_TRUE(start_server());
  std::string secret = WebhookReceiver::new_secret();
  receiver_.set_endpoint("/down", {secret});
  std::string sub = subscribe(*client_, receiver_.url("/down"), {"order.*"}, {secret});
  ASSERT_FALSE(sub.empty());

  ASSERT_EQ(create_order(*client_, "SD-1").status, 201);
  ASSERT_TRUE(WebhookReceiver::eventually([&] { return receiver_.unique_deliveries("/down").size() >= 2; }, 10s));
  const uint64_t before_downtime = receiver_.unique_deliveries("/down").back().position;

  receiver_.stop();
  for (auto& step : {"release", "allocate"}) ASSERT_EQ(order_step(*client_, "SD-1", step).status, 200);
  for (auto& id : {"SD-2", "SD-3", "SD-4"}) {
    ASSERT_EQ(create_order(*client_, id).status, 201);
    ASSERT_EQ(order_step(*client_, id, "release").status, 200);
  }
  std::this_thread::sleep_for(1s);  // several refused attempts with backoff
  EXPECT_EQ(delivered_position(*client_, sub), before_downtime) << "the cursor moved while the receiver was down";
  ASSERT_TRUE(receiver_.start());

  auto feed = read_feed(*client_);
  size_t want = count_order_events(feed);
  ASSERT_TRUE(WebhookReceiver::eventually([&] { return receiver_.unique_deliveries("/down").size() >= want; }, 10s))
      << receiver_.unique_deliveries("/down").size() << " of " << want;

  // Disabled: nothing is delivered; enabled: everything held back arrives.
  auto dis = client_->post("/v1/subscriptions/" + sub + "/disable", "");
  ASSERT_EQ(dis.status, 200) << dis.describe();
  EXPECT_EQ(subscription(*client_, sub).boolean("/disabled"), true);
  for (auto& step : {"pack", "cancel"}) ASSERT_EQ(order_step(*client_, "SD-1", step).status, 200);
  ASSERT_EQ(order_step(*client_, "SD-2", "cancel").status, 200);
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(receiver_.unique_deliveries("/down").size(), want) << "delivered while disabled";
  auto en = client_->post("/v1/subscriptions/" + sub + "/enable", "");
  ASSERT_EQ(en.status, 200) << en.describe();

  feed = read_feed(*client_);
  want = count_order_events(feed);
  ASSERT_TRUE(WebhookReceiver::eventually([&] { return receiver_.unique_deliveries("/down").size() >= want; }, 10s))
      << receiver_.unique_deliveries("/down").size() << " of " << want;
  auto all = receiver_.deliveries("/down");
  auto unique = receiver_.unique_deliveries("/down");
  EXPECT_EQ(unique.size(), want);
  EXPECT_TRUE(WellFormedOrderDeliveries(all));
  EXPECT_TRUE(GapFreePerOrder(unique, order_events_by_order(feed)));
  EXPECT_TRUE(InOutboxOrder(unique));
  for (auto& d : all) EXPECT_TRUE(SignedWithEach(d, {secret}));

  // Deleted: no longer listed, nothing more delivered.
  auto del = client_->request("DELETE", "/v1/subscriptions/" + sub);
  EXPECT_EQ(del.status, 204) << del.describe();
  auto list = Json::parse(client_->get("/v1/subscriptions").body);
  for (auto& s : list.items("/subscriptions")) EXPECT_NE(s.str("/id"), sub) << "deleted subscription still listed";
  ASSERT_EQ(order_step(*client_, "SD-3", "cancel").status, 200);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(receiver_.deliveries("/down").size(), all.size()) << "delivered after DELETE";
  std::cout << "[ counts ] " << want << " order events, " << all.size() << " deliveries accepted across downtime\n";
}

// (4) SIGKILL of waybilld while events are produced and delivered; restarted on the
// same data dir, it goes on delivering. In the end, every order's events reached the
// receiver exactly as the durable outbox has them: complete, gap-free, in order.
TEST_F(WebhookDelivery, NoGapsAcrossSigkillOfServer) {
  ASSERT_TRUE(start_server());
  std::string secret = WebhookReceiver::new_secret();
  receiver_.set_endpoint("/crash", {secret});
  std::string sub = subscribe(*client_, receiver_.url("/crash"), {"order.*"}, {secret});
  ASSERT_FALSE(sub.empty());

  // The server's current address, for producers to follow it across the restart.
  std::mutex addr_mutex;
  std::string host = server_->host();
  uint16_t port = server_->port();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked{0}, unknown{0}, refused{0};
  std::mutex orders_mutex;
  std::set<std::string> attempted_orders;

  constexpr int kProducers = 3;
  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t)
    producers.emplace_back([&, t] {
      std::string h;
      uint16_t p = 0;
      std::unique_ptr<HttpClient> c;
      auto refresh = [&] {
        std::lock_guard<std::mutex> lock(addr_mutex);
        if (!c || h != host || p != port) {
          h = host;
          p = port;
          c = std::make_unique<HttpClient>(h, p, 2s);
        }
      };
      // Two orders in progress at a time, so their steps interleave.
      for (int i = 0; !stop; i += 2) {
        std::string a = "SK-" + std::to_string(t) + "-" + std::to_string(i), b = "SK-" + std::to_string(t) + "-" + std::to_string(i + 1);
        {
          std::lock_guard<std::mutex> lock(orders_mutex);
          attempted_orders.insert(a);
          attempted_orders.insert(b);
        }
        for (size_t step = 0; step <= kFlowSteps.size() && !stop; ++step)
          for (auto& id : {a, b}) {
            refresh();
            auto res = step == 0 ? create_order(*c, id) : order_step(*c, id, kFlowSteps[step - 1]);
            if (res.is_2xx()) {
              ++acked;
            } else if (!res.answered()) {
              ++unknown;  // the server is down or was killed mid-request
              c->close();
              std::this_thread::sleep_for(20ms);
            } else {
              ++refused;  // e.g. 409 after an unknown step, 503 while starting
            }
          }
      }
    });

  // Kill while delivery is under way.
  bool mid_stream = WebhookReceiver::eventually([&] { return receiver_.unique_deliveries("/crash").size() >= 300; }, 10s);
  EXPECT_TRUE(mid_stream) << "delivery did not get going";
  const size_t delivered_before_kill = receiver_.unique_deliveries("/crash").size();
  server_->kill();
  std::this_thread::sleep_for(200ms);  // producers hit a dead server
  ASSERT_TRUE(server_->restart());
  {
    std::lock_guard<std::mutex> lock(addr_mutex);
    host = server_->host();
    port = server_->port();
  }
  client_ = std::make_unique<HttpClient>(server_->host(), server_->port());
  std::this_thread::sleep_for(1500ms);
  stop = true;
  for (auto& t : producers) t.join();

  auto feed = read_feed(*client_);
  const size_t want = count_order_events(feed);
  ASSERT_TRUE(WebhookReceiver::eventually([&] { return receiver_.unique_deliveries("/crash").size() >= want; }, 20s))
      << receiver_.unique_deliveries("/crash").size() << " of " << want;
  std::this_thread::sleep_for(300ms);
  auto all = receiver_.deliveries("/crash");
  auto unique = receiver_.unique_deliveries("/crash");

  // The oracle per order: GET /v1/events?order_id=... from the restarted server.
  std::map<std::string, std::vector<FeedEvent>> expected;
  std::set<std::string> orders;
  {
    std::lock_guard<std::mutex> lock(orders_mutex);
    orders = attempted_orders;
  }
  for (auto& [id, events] : order_events_by_order(feed)) orders.insert(id);
  for (auto& id : orders) {
    std::vector<FeedEvent> mine;
    for (auto& e : read_feed(*client_, id))
      if (is_order_event(e.type) && e.subject == "orders/" + id) mine.push_back(e);
    if (!mine.empty()) expected[id] = std::move(mine);
  }
  EXPECT_EQ(expected, order_events_by_order(feed)) << "per-order feed disagrees with the full feed";
  EXPECT_EQ(unique.size(), want);
  EXPECT_TRUE(WellFormedOrderDeliveries(all));
  EXPECT_TRUE(GapFreePerOrder(unique, expected));
  for (auto& d : all) EXPECT_TRUE(SignedWithEach(d, {secret}));
  // Every position ever delivered is in the outbox, with the same event (positions
  // are not reused after the crash).
  std::map<uint64_t, const FeedEvent*> by_position;
  for (auto& e : feed) by_position[e.position] = &e;
  for (auto& d : unique) {
    auto it = by_position.find(d.position);
    ASSERT_NE(it, by_position.end()) << "delivered position " << d.position << " is not in the outbox";
    EXPECT_EQ(it->second->type, d.type);
    EXPECT_EQ(it->second->subject, d.subject);
    EXPECT_EQ(it->second->entityseq, d.entityseq);
  }
  EXPECT_EQ(subscription(*client_, sub).str("/url"), receiver_.url("/crash")) << "subscription lost in the crash";
  EXPECT_TRUE(WebhookReceiver::eventually([&] { return delivered_position(*client_, sub) >= unique.back().position; }, 5s));
  std::cout << "[ counts ] " << orders.size() << " orders, " << acked << " requests acknowledged, " << unknown
            << " unknown, " << refused << " refused; outbox " << want << " order events; delivered " << all.size()
            << " (" << unique.size() << " unique, " << all.size() - unique.size() << " redelivered); "
            << delivered_before_kill << " delivered before the kill\n";
}

// (5) A failing subscriber: after retry_period_s the event is dead-lettered and the
// cursor moves on; replay delivers it once the receiver is healthy again.
TEST_F(WebhookDelivery, DeadLetterAfterRetryPeriodThenReplay) {
  ASSERT_TRUE(start_server(/*retry_period_s=*/2));
  std::string secret = WebhookReceiver::new_secret();
  receiver_.set_endpoint("/dl", {secret});
  std::string sub = subscribe(*client_, receiver_.url("/dl"), {"order.cancelled"}, {secret});
  ASSERT_FALSE(sub.empty());
  ASSERT_EQ(create_order(*client_, "SL-1").status, 201);
  ASSERT_EQ(create_order(*client_, "SL-2").status, 201);

  receiver_.fail_with("/dl", 500);
  ASSERT_EQ(order_step(*client_, "SL-1", "cancel").status, 200);
  auto feed = read_feed(*client_, "SL-1");
  ASSERT_FALSE(feed.empty());
  const FeedEvent cancelled = feed.back();
  ASSERT_EQ(cancelled.type, "order.cancelled");
  const std::string dead_id = "evt_" + std::to_string(cancelled.position);

  const std::string letters_url = "/v1/subscriptions/" + sub + "/dead-letters";
  Json letters;
  ASSERT_TRUE(WebhookReceiver::eventually(
      [&] {
        letters = Json::parse(client_->get(letters_url).body);
        return letters.size("/dead_letters") > 0;
      },
      15s, 50ms))
      << "not dead-lettered";
  const auto attempts = receiver_.attempts("/dl");
  ASSERT_GE(attempts.size(), 3u) << "too few retries";
  for (auto& a : attempts) {
    EXPECT_EQ(a.webhook_id, dead_id);
    EXPECT_EQ(a.status, 500);
  }
  auto retried_for = std::chrono::duration_cast<std::chrono::milliseconds>(attempts.back().at - attempts.front().at);
  EXPECT_GE(retried_for, 1500ms) << "gave up before retry_period_s";
  EXPECT_LE(retried_for, 6000ms) << "kept retrying long after retry_period_s";
  ASSERT_EQ(letters.size("/dead_letters"), 1u) << letters.dump();
  EXPECT_EQ(letters.int64("/dead_letters/0/position"), static_cast<int64_t>(cancelled.position));
  EXPECT_EQ(letters.str("/dead_letters/0/last_error"), "HTTP 500");
  EXPECT_EQ(letters.int64("/dead_letters/0/attempts"), static_cast<int64_t>(attempts.size()));
  EXPECT_TRUE(receiver_.deliveries("/dl").empty());
  EXPECT_TRUE(WebhookReceiver::eventually([&] { return delivered_position(*client_, sub) >= cancelled.position; }, 5s))
      << "the cursor did not move past the dead letter";

  // Healthy again: later events flow; the dead letter waits for a replay.
  receiver_.fail_with("/dl", 0);
  ASSERT_EQ(order_step(*client_, "SL-2", "cancel").status, 200);
  ASSERT_TRUE(WebhookReceiver::eventually([&] { return receiver_.deliveries("/dl").size() >= 1; }, 10s));
  std::this_thread::sleep_for(300ms);
  auto got = receiver_.unique_deliveries("/dl");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].orderid, "SL-2");

  auto replay = client_->post("/v1/subscriptions/" + sub + "/dead-letters/replay", "");
  ASSERT_EQ(replay.status, 202) << replay.describe();
  EXPECT_EQ(Json::parse(replay.body).int64("/replaying"), 1);
  ASSERT_TRUE(WebhookReceiver::eventually([&] { return receiver_.unique_deliveries("/dl").size() >= 2; }, 10s))
      << "replay not delivered";
  got = receiver_.unique_deliveries("/dl");
  EXPECT_EQ(got[1].webhook_id, dead_id);
  EXPECT_EQ(got[1].orderid, "SL-1");
  EXPECT_EQ(got[1].type, "order.cancelled");
  EXPECT_EQ(got[1].entityseq, cancelled.entityseq);
  EXPECT_TRUE(SignedWithEach(got[1], {secret}));
  EXPECT_TRUE(WebhookReceiver::eventually(
      [&] { return Json::parse(client_->get(letters_url).body).size("/dead_letters") == 0; }, 5s))
      << "dead letter still listed after a successful replay";
  std::cout << "[ counts ] dead-lettered after " << attempts.size() << " attempts in " << retried_for.count()
            << " ms; replayed 1\n";
}

}  // namespace
}  // namespace waybill::itest
