// Booking against the real carrier-sim: waybilld rates, books, looks up and schedules
// pickups over HTTP at simulated carriers that fail transiently, reject some bookings,
// and push disordered tracking webhooks back to waybilld.
//
// The oracle is the sim's label ledger (GET /labels): every label sold, by reference.
// A booked shipment must own exactly the labels sold under its reference, a rejected
// one none, and no reference may hold two live carrier bookings.
//
//   WAYBILL_CARRIER_SEED  seed of the sim's random faults (default: random, printed)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

uint64_t test_seed() {
  static const uint64_t seed = []() -> uint64_t {
    if (const char* env = std::getenv("WAYBILL_CARRIER_SEED"); env && *env) return std::strtoull(env, nullptr, 10);
    return static_cast<uint64_t>(std::random_device{}()) % 1000000;
  }();
  return seed;
}

// The shipped sim config with the faults of this suite: ~10% transient failures,
// 5% random business rejections, ~20 ms latency and a fast, disordered tracking feed.
YAML::Node faulty_sim_config() {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  cfg["seed"] = test_seed();
  for (auto c : cfg["carriers"]) {
    c["latency"] = YAML::Load("{distribution: lognormal, median_ms: 20, p99_ms: 60}");
    c["faults"] = YAML::Load(
        "{server_error_share: 0.05, reset_share: 0.03, rate_limited_share: 0.02, timeout_share: 0.0,"
        " lost_response_share: 0.0, timeout_ms: 10000, retry_after_s: 1}");
    c["rate_limit"] = YAML::Load("{requests_per_second: 0, burst: 0}");
    c["rejection_share"] = 0.05;
    c["tracking"]["enabled"] = true;
    c["tracking"]["interval_ms"] = 200;
    c["tracking"]["late_share"] = 0.1;
    c["tracking"]["dup_share"] = 0.1;
    c["tracking"]["reorder_share"] = 0.1;
  }
  return cfg;
}

// The shipped sim config without faults or rejections (bad postal codes still apply).
YAML::Node calm_sim_config() {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  cfg["seed"] = test_seed();
  for (auto c : cfg["carriers"]) {
    c["latency"] = YAML::Load("{distribution: fixed, median_ms: 10}");
    c["faults"] = YAML::Load(
        "{server_error_share: 0.0, reset_share: 0.0, rate_limited_share: 0.0, timeout_share: 0.0,"
        " lost_response_share: 0.0, timeout_ms: 10000, retry_after_s: 1}");
    c["rejection_share"] = 0.0;
    c["tracking"]["interval_ms"] = 200;
    c["tracking"]["late_share"] = 0.0;
    c["tracking"]["dup_share"] = 0.0;
    c["tracking"]["reorder_share"] = 0.0;
  }
  return cfg;
}

// The shipped waybill profile of `name` with generous retries.
YAML::Node profile(const std::string& name) {
  auto p = load_source_yaml("configs/carriers/" + name + ".yaml");
  p["retry"] = YAML::Load("{max_attempts: 8, base_backoff_ms: 50, max_backoff_ms: 1000}");
  return p;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> strings_at(const Json& doc, const char* pointer) {
  std::vector<std::string> out;
  for (auto& item : doc.items(pointer)) out.push_back(item.str().value_or("?"));
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// Highest tracking phase among a shipment's milestones (-1 without milestones).
int best_milestone_phase(const Json& shipment) {
  int best = -1;
  for (auto& m : shipment.items("/milestones")) best = std::max(best, tracking_phase(m.str_or_empty("/status")));
  return best;
}

// Watches orders while bookings and tracking run: an order may only read "shipped" or
// "delivered" when its shipment, read right after, holds a carrier scan (picked_up or
// later). Orders only move forward, so the shipment read after the order read can only
// be further along, never behind.
class ShippedWatcher {
 public:
  ShippedWatcher(std::string host, uint16_t port, std::vector<std::string> order_ids)
      : host_(std::move(host)), port_(port), order_ids_(std::move(order_ids)) {
    thread_ = std::thread([this] { run(); });
  }
  ~ShippedWatcher() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t checks() const { return checks_; }
  size_t rounds() const { return rounds_; }
  std::vector<std::string> violations() {
    std::lock_guard lock(mu_);
    return violations_;
  }

 private:
  void run() {
    HttpClient client(host_, port_, 5s);
    while (!stop_) {
      for (auto& id : order_ids_) {
        if (stop_) break;
        auto o = client.get("/v1/orders/" + id);
        if (o.status != 200) continue;  // not created yet
        auto order = Json::parse(o.body);
        auto status = order.str_or_empty("/status");
        if (status != "shipped" && status != "delivered") continue;
        auto s = client.get("/v1/shipments/" + id + "-1");
        auto shipment = Json::parse(s.body);
        ++checks_;
        if (s.status != 200 || best_milestone_phase(shipment) < tracking_phase("picked_up") ||
            tracking_phase(shipment.str_or_empty("/status")) < tracking_phase("picked_up")) {
          std::lock_guard lock(mu_);
          if (violations_.size() < 20)
            violations_.push_back("order " + id + " is " + status + " but its shipment reads " + s.describe());
        }
      }
      ++rounds_;
      std::this_thread::sleep_for(20ms);
    }
  }

  std::string host_;
  uint16_t port_;
  std::vector<std::string> order_ids_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> checks_{0}, rounds_{0};
  std::mutex mu_;
  std::vector<std::string> violations_;
  std::thread thread_;
};

// Waits until every order in `order_ids` reads `want`; returns the ones that do not.
std::map<std::string, std::string> wait_for_order_status(HttpClient& client, const std::vector<std::string>& order_ids,
                                                         const std::string& want, std::chrono::milliseconds timeout) {
  std::map<std::string, std::string> pending;
  for (auto& id : order_ids) pending[id] = "?";
  const auto deadline = Clock::now() + timeout;
  while (!pending.empty()) {
    for (auto it = pending.begin(); it != pending.end();) {
      auto r = client.get("/v1/orders/" + it->first);
      auto status = Json::parse(r.body).str_or_empty("/status");
      if (r.status == 200 && status == want) {
        it = pending.erase(it);
      } else {
        it->second = r.status == 200 ? status : r.describe();
        ++it;
      }
    }
    if (pending.empty() || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(100ms);
  }
  return pending;
}

// ---------------------------------------------------------------------------------
// ~150 orders through faulty carriers: every shipment ends booked or in the exception
// queue, the sim sold exactly one booking per booked shipment and none per rejected
// one, no order reads shipped before a carrier scan, and booked orders get delivered.
TEST(CarrierFlow, BookingUnderFaultsLabelsOnceAndTracksToDelivery) {
  const auto t0 = Clock::now();
  std::cout << "sim seed " << test_seed() << " (WAYBILL_CARRIER_SEED to replay)" << std::endl;
  CarrierStack stack({faulty_sim_config(), {profile("parcelco"), profile("freightly")}, ""});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();

  // 150 orders: ground parcels (1-3 packages) to US addresses, every tenth a freight
  // shipment (played by the other carrier and dialect), and six to a postal code the
  // parcel carrier always refuses.
  constexpr int kOrders = 150;
  std::vector<OrderSpec> specs;
  std::set<std::string> bad_postal, freight;
  std::mt19937 rng(static_cast<unsigned>(test_seed()));
  for (int i = 0; i < kOrders; ++i) {
    OrderSpec s;
    s.order_id = "CF-" + std::to_string(1000 + i);
    s.packages = 1 + i % 3;
    s.weight_kg = 0.5 + static_cast<double>(rng() % 150) / 10.0;
    s.postal_code = std::to_string(10000 + rng() % 89000);
    if (i % 10 == 9) {
      s.service_level = "freight";
      s.weight_kg = 120 + i;
      s.packages = 1 + i % 2;
      freight.insert(s.order_id + "-1");
    }
    if (i % 25 == 7) {
      s.postal_code = "99999";  // in parcelco's bad_postal_codes
      bad_postal.insert(s.order_id + "-1");
    }
    specs.push_back(s);
  }
  std::vector<std::string> order_ids, shipment_ids;
  for (auto& s : specs) {
    order_ids.push_back(s.order_id);
    shipment_ids.push_back(s.order_id + "-1");
  }

  ShippedWatcher watcher(w.host(), w.port(), order_ids);
  auto failures = submit_orders(w.host(), w.port(), specs, 6);
  ASSERT_TRUE(failures.empty()) << failures.size() << " order(s) not packed, first: " << failures.front();
  std::cout << "packed " << kOrders << " orders in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count() << " ms" << std::endl;

  // Every booking settles: booked or rejected.
  auto views = wait_for_bookings(w.host(), w.port(), shipment_ids, 45s);
  std::vector<std::string> booked, rejected, unsettled;
  for (auto& [id, v] : views) {
    if (v.state == "booked")
      booked.push_back(id);
    else if (v.state == "rejected")
      rejected.push_back(id);
    else
      unsettled.push_back(id + " (" + std::to_string(v.http_status) + " " + v.state + ")");
  }
  ASSERT_TRUE(unsettled.empty()) << unsettled.size() << " booking(s) did not settle in time, e.g. " << unsettled.front()
                                 << "\n"
                                 << views[unsettled.front().substr(0, unsettled.front().find(' '))].describe();
  std::cout << "settled after " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
            << " ms: " << booked.size() << " booked, " << rejected.size() << " rejected" << std::endl;

  HttpClient client(w.host(), w.port(), 10s);
  auto exceptions = list_exceptions(client);
  ASSERT_TRUE(exceptions);
  auto ledger = stack.sim().labels();
  ASSERT_TRUE(ledger);

  // The exception queue holds exactly the rejected shipments, for the right reasons.
  std::set<std::string> queued;
  for (auto& [id, e] : *exceptions) queued.insert(id);
  EXPECT_EQ(queued, std::set<std::string>(rejected.begin(), rejected.end()));
  for (auto& id : bad_postal) {
    ASSERT_TRUE(exceptions->count(id)) << id << " was sent to a refused postal code but reads " << views[id].describe();
    EXPECT_EQ(exceptions->at(id).reason, "bad_postal_code") << id;
    EXPECT_EQ(exceptions->at(id).carrier_code, "120100") << id;
    EXPECT_EQ(exceptions->at(id).carrier, "parcelco") << id;
  }
  size_t random_rejections = 0;
  for (auto& [id, e] : *exceptions) {
    if (bad_postal.count(id)) continue;
    // The only other rejection the sim makes here is its random address check.
    EXPECT_EQ(e.reason, "address_unverifiable") << id << ": " << e.message;
    EXPECT_TRUE(e.carrier_code == "190100" || e.carrier_code == "ADDRESS_UNVERIFIED") << id << ": " << e.carrier_code;
    ++random_rejections;
  }
  EXPECT_EQ(rejected.size(), bad_postal.size() + random_rejections);

  // No duplicate labels; each booked shipment owns exactly the labels of its reference.
  auto dups = ledger->duplicates();
  for (auto& [ref, ids] : dups)
    ADD_FAILURE() << "reference " << ref << " has " << ids.size()
                  << " live bookings: " << join({ids.begin(), ids.end()});
  EXPECT_EQ(ledger->voided_count(), 0u);
  size_t booked_labels = 0;
  std::set<std::string> known(shipment_ids.begin(), shipment_ids.end());
  for (auto& ref : ledger->references()) EXPECT_TRUE(known.count(ref)) << "label sold under unknown reference " << ref;
  for (auto& id : booked) {
    auto doc = Json::parse(views[id].body);
    auto tns = sorted(strings_at(doc, "/tracking_numbers"));
    booked_labels += tns.size();
    EXPECT_EQ(tns, ledger->live_tracking_numbers(id)) << id << " reads " << views[id].describe();
    auto live = ledger->live(id);
    ASSERT_FALSE(live.empty()) << id;
    EXPECT_EQ(doc.str_or_empty("/booking/carrier_shipment_id"), live.front().carrier_shipment_id) << id;
    EXPECT_EQ(doc.str_or_empty("/carrier"), live.front().carrier) << id;
    EXPECT_EQ(doc.str_or_empty("/booking/reference"), id);
    EXPECT_EQ(doc.str_or_empty("/carrier"), freight.count(id) ? "freightly" : "parcelco") << id;
    size_t packages = doc.size("/packages");
    EXPECT_EQ(tns.size(), packages) << id;
  }
  for (auto& id : rejected) EXPECT_TRUE(ledger->live(id).empty()) << "rejected " << id << " has labels at the carrier";
  EXPECT_EQ(ledger->labels.size(), booked_labels) << "labels sold that no booked shipment owns";

  // Tracking: booked orders reach delivered once the feed has run; rejected ones stay
  // in exception (no carrier ever scanned them).
  std::vector<std::string> booked_orders, rejected_orders;
  for (auto& id : booked) booked_orders.push_back(id.substr(0, id.size() - 2));
  for (auto& id : rejected) rejected_orders.push_back(id.substr(0, id.size() - 2));
  auto not_delivered = wait_for_order_status(client, booked_orders, "delivered", 20s);
  for (auto& [id, status] : not_delivered)
    ADD_FAILURE() << "order " << id << " is not delivered: " << status << "; shipment "
                  << client.get("/v1/shipments/" + id + "-1").body;
  auto not_exception = wait_for_order_status(client, rejected_orders, "exception", 1s);
  for (auto& [id, status] : not_exception)
    ADD_FAILURE() << "order " << id << " of a rejected shipment reads " << status;
  for (auto& id : booked) {
    auto doc = Json::parse(client.get("/v1/shipments/" + id).body);
    EXPECT_EQ(doc.str_or_empty("/status"), "delivered") << id;
    EXPECT_FALSE(doc.str_or_empty("/booking/pickup_confirmation").empty()) << id << ": no pickup scheduled";
    if (doc.str_or_empty("/carrier") == "parcelco") {  // its webhooks carry POD and estimates
      auto tn = doc.str_or_empty("/tracking_numbers/0");
      EXPECT_EQ(doc.str_or_empty("/proof_of_delivery/signed_by"), "J. RECEIVER") << id;
      EXPECT_EQ(doc.str_or_empty("/proof_of_delivery/document_ref").rfind("POD-", 0), 0u) << id;
      EXPECT_FALSE(doc.str_or_empty("/estimated_delivery").empty()) << id;
    }
  }

  watcher.stop();
  for (auto& v : watcher.violations()) ADD_FAILURE() << v;
  EXPECT_GT(watcher.checks(), 0u) << "the watcher never saw a shipped order: the check proved nothing";

  // Counters for the record.
  auto carriers = Json::parse(client.get("/v1/carriers").body);
  auto metrics = client.get("/metrics").body;
  // Distributions operations watch: every booked label and every applied scan observed.
  auto sample = [&](const std::string& series) -> double {
    auto at = metrics.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(metrics.substr(at + series.size() + 2));
  };
  EXPECT_EQ(sample("waybill_order_to_label_seconds_count"), static_cast<double>(booked.size())) << metrics;
  EXPECT_GT(sample("waybill_tracking_update_latency_seconds_count"), 0) << metrics;
  if (!rejected.empty()) EXPECT_NE(metrics.find("waybill_exceptions_total{carrier="), std::string::npos) << metrics;
  for (auto& c : carriers.items("/carriers"))
    std::cout << "carrier " << c.str_or_empty("/name") << ": ok " << c.int64("/calls_ok").value_or(-1) << ", rejected "
              << c.int64("/calls_rejected").value_or(-1) << ", in doubt " << c.int64("/calls_in_doubt").value_or(-1)
              << ", failed " << c.int64("/calls_failed").value_or(-1) << ", retries "
              << c.int64("/retries").value_or(-1) << std::endl;
  std::cout << "labels sold " << ledger->labels.size() << ", booked shipments " << booked.size() << ", exceptions "
            << rejected.size() << " (" << bad_postal.size() << " bad postal code, " << random_rejections
            << " random), in doubt "
            << metric_value(metrics, "waybill_bookings_total{outcome=\"in_doubt\"}").value_or(-1)
            << ", resolved by lookup "
            << metric_value(metrics, "waybill_bookings_total{outcome=\"resolved_by_lookup\"}").value_or(-1)
            << ", shipped checks " << watcher.checks() << " in " << watcher.rounds() << " rounds, total "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count() << " ms" << std::endl;
}

// A shipment refused for its postal code lands in the exception queue; a retry without
// a correction is refused again, a retry with a corrected address books it.
TEST(CarrierFlow, RejectedShipmentResolvedWithCorrectedAddressIsBooked) {
  CarrierStack stack({calm_sim_config(), {profile("parcelco"), profile("freightly")}, ""});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  HttpClient client(w.host(), w.port(), 10s);

  OrderSpec s;
  s.order_id = "CX-1";
  s.postal_code = "00000";  // in bad_postal_codes
  s.packages = 2;
  ASSERT_TRUE(create_release_pack(client, s));
  const std::string id = "CX-1-1";
  auto v = wait_for_bookings(w.host(), w.port(), {id}, 10s)[id];
  ASSERT_EQ(v.state, "rejected") << v.describe();
  auto doc = Json::parse(v.body);
  EXPECT_EQ(doc.str_or_empty("/status"), "exception");
  EXPECT_EQ(doc.str_or_empty("/exception/reason"), "bad_postal_code");
  EXPECT_EQ(doc.str_or_empty("/exception/carrier_code"), "120100");
  EXPECT_EQ(doc.str_or_empty("/carrier"), "parcelco");
  auto ex = list_exceptions(client);
  ASSERT_TRUE(ex);
  ASSERT_EQ(ex->size(), 1u);
  ASSERT_TRUE(ex->count(id));
  EXPECT_EQ(ex->at(id).reason, "bad_postal_code");
  EXPECT_EQ(Json::parse(client.get("/v1/orders/CX-1").body).str_or_empty("/status"), "exception");
  EXPECT_TRUE(stack.sim().labels()->live(id).empty());

  // Retry as is: the carrier refuses the same address again.
  auto r = client.post("/v1/exceptions/" + id + "/resolve", R"({"action":"retry"})");
  ASSERT_EQ(r.status, 200) << r.describe();
  v = wait_for_bookings(w.host(), w.port(), {id}, 10s)[id];
  ASSERT_EQ(v.state, "rejected") << v.describe();
  EXPECT_EQ(Json::parse(v.body).str_or_empty("/exception/reason"), "bad_postal_code");
  EXPECT_TRUE(list_exceptions(client)->count(id));

  // Retry with the corrected address.
  r = client.post("/v1/exceptions/" + id + "/resolve",
                  R"({"action":"retry","ship_to":{"name":"Test Recipient","street":"1 Main St","city":"Springfield",)"
                  R"("postal_code":"62701","country":"US"}})");
  ASSERT_EQ(r.status, 200) << r.describe();
  v = wait_for_bookings(w.host(), w.port(), {id}, 10s)[id];
  ASSERT_EQ(v.state, "booked") << v.describe();
  doc = Json::parse(v.body);
  EXPECT_EQ(doc.str_or_empty("/status"), "label_created");
  EXPECT_EQ(doc.str_or_empty("/ship_to/postal_code"), "62701");
  EXPECT_FALSE(doc.has("/exception")) << v.describe();
  EXPECT_EQ(doc.str_or_empty("/carrier"), "parcelco");
  EXPECT_EQ(doc.str_or_empty("/service"), "GND");
  auto ledger = stack.sim().labels();
  ASSERT_TRUE(ledger);
  EXPECT_EQ(ledger->bookings(id, true).size(), 1u);
  EXPECT_EQ(sorted(strings_at(doc, "/tracking_numbers")), ledger->live_tracking_numbers(id));
  EXPECT_EQ(ledger->live_tracking_numbers(id).size(), 2u);
  EXPECT_TRUE(list_exceptions(client)->empty());
  // Resolved: it is no longer in the queue.
  r = client.post("/v1/exceptions/" + id + "/resolve", R"({"action":"retry"})");
  EXPECT_EQ(r.status, 404) << r.describe();
  // The carrier scans the parcel: the order follows to delivered.
  auto left = wait_for_order_status(client, {"CX-1"}, "delivered", 10s);
  EXPECT_TRUE(left.empty()) << "order CX-1 reads " << left["CX-1"];
}

// A new carrier joins with nothing but a profile file: waybilld lists it, rates it
// against the existing carrier, books with it over its API and takes its webhooks.
TEST(CarrierFlow, NewCarrierOnboardedFromProfileFileAlone) {
  auto sim_cfg = calm_sim_config();
  YAML::Node newco = YAML::Clone(sim_carrier(sim_cfg, "parcelco"));
  newco["name"] = "newco";
  newco["tracking_prefix"] = "NC";
  newco["auth"]["key"] = "newco-test-key";
  newco["services"] = YAML::Load(
      "[{code: ECO, max_weight_kg: 30, countries: [US, CA], hazmat_allowed: false, base_minor: 499, per_kg_minor: 50,"
      " transit_days: 5}]");
  newco["tracking"]["secret"] = "newco-webhook-secret";
  sim_cfg["carriers"].push_back(newco);

  YAML::Node newco_profile = YAML::Clone(profile("parcelco"));
  newco_profile["name"] = "newco";
  newco_profile["version"] = 1;
  newco_profile["base_url"] = "http://127.0.0.1:9090/newco";
  newco_profile["auth"]["key"] = "newco-test-key";
  newco_profile["services"] = YAML::Load(
      "[{code: ECO, service_level: ground, max_weight_kg: 30, countries: [US, CA], hazmat_allowed: false,"
      " transit_days: 5}]");
  newco_profile["webhook"]["secret"] = "newco-webhook-secret";

  CarrierStack stack({sim_cfg, {profile("parcelco"), profile("freightly"), newco_profile}, ""});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  HttpClient client(w.host(), w.port(), 10s);

  auto carriers = Json::parse(client.get("/v1/carriers").body);
  bool listed = false;
  for (auto& c : carriers.items("/carriers"))
    if (c.str_or_empty("/name") == "newco") {
      listed = true;
      EXPECT_EQ(c.int64("/profile_version").value_or(-1), 1);
      EXPECT_EQ(strings_at(c, "/services"), std::vector<std::string>{"ECO"});
    }
  ASSERT_TRUE(listed) << carriers.dump();

  // Canada by ground: only newco serves it. US by ground: newco is cheaper than
  // parcelco. US express: only parcelco.
  std::vector<OrderSpec> specs;
  for (int i = 0; i < 4; ++i) {
    OrderSpec ca;
    ca.order_id = "NC-CA-" + std::to_string(i);
    ca.country = "CA";
    ca.city = "Toronto";
    ca.postal_code = "M5V 2T6";
    ca.packages = 1 + i % 2;
    specs.push_back(ca);
    OrderSpec us;
    us.order_id = "NC-US-" + std::to_string(i);
    us.packages = 1 + i % 3;
    specs.push_back(us);
  }
  OrderSpec express;
  express.order_id = "NC-EX-0";
  express.service_level = "express";
  specs.push_back(express);
  auto failures = submit_orders(w.host(), w.port(), specs, 3);
  ASSERT_TRUE(failures.empty()) << failures.front();

  std::vector<std::string> ids;
  for (auto& s : specs) ids.push_back(s.order_id + "-1");
  auto views = wait_for_bookings(w.host(), w.port(), ids, 15s);
  auto ledger = stack.sim().labels();
  ASSERT_TRUE(ledger);
  EXPECT_TRUE(ledger->duplicates().empty());
  for (auto& id : ids) {
    auto& v = views[id];
    ASSERT_EQ(v.state, "booked") << v.describe();
    auto doc = Json::parse(v.body);
    const bool is_express = id.rfind("NC-EX", 0) == 0;
    EXPECT_EQ(doc.str_or_empty("/carrier"), is_express ? "parcelco" : "newco") << v.describe();
    EXPECT_EQ(doc.str_or_empty("/service"), is_express ? "2DA" : "ECO") << v.describe();
    if (id.rfind("NC-US", 0) == 0) {
      EXPECT_EQ(doc.str_or_empty("/booking/selection_reason").rfind("cheapest of 2 quote(s): newco ECO", 0), 0u)
          << v.describe();
    }
    if (id.rfind("NC-CA", 0) == 0) {
      EXPECT_EQ(doc.str_or_empty("/booking/selection_reason"), "only eligible service: newco ECO") << v.describe();
    }
    auto live = ledger->live(id);
    ASSERT_FALSE(live.empty()) << id;
    EXPECT_EQ(live.front().carrier, is_express ? "parcelco" : "newco");
    EXPECT_EQ(sorted(strings_at(doc, "/tracking_numbers")), ledger->live_tracking_numbers(id));
    for (auto& tn : strings_at(doc, "/tracking_numbers")) EXPECT_EQ(tn.rfind(is_express ? "1Z" : "NC", 0), 0u) << tn;
  }
  // newco's signed webhooks are taken through the new profile's mapping.
  std::vector<std::string> order_ids;
  for (auto& s : specs) order_ids.push_back(s.order_id);
  auto left = wait_for_order_status(client, order_ids, "delivered", 15s);
  for (auto& [id, status] : left)
    ADD_FAILURE() << "order " << id << " reads " << status << "; shipment "
                  << client.get("/v1/shipments/" + id + "-1").body;
}

}  // namespace
}  // namespace waybill::itest
