// Tracking by polling against the real carrier-sim: freightly pushes no webhooks, so
// waybilld polls the tracking history of each of its active shipments. The sim serves
// that history as it progresses (label, pickup, in transit, out for delivery,
// delivered), lists events out of order and twice, holds some back, and fails some
// polls transiently.
//
// Oracles: the shipment's status sampled over HTTP never moves backwards; it ends
// delivered with its order delivered and every carrier event once in its history; the
// sim's count of tracking requests per booking (GET /polls) shows polling stops after
// delivery and resumes after a SIGKILL of waybilld.
//
//   WAYBILL_CARRIER_SEED  seed of the sim (default: random, printed)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
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

// The shipped sim config; freightly's served history is untidy and ~15% of its
// requests fail transiently (polls and bookings alike).
YAML::Node sim_config(int event_interval_ms) {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  cfg["seed"] = test_seed();
  auto c = sim_carrier(cfg, "freightly");
  c["latency"] = YAML::Load("{distribution: fixed, median_ms: 5}");
  c["faults"] = YAML::Load(
      "{server_error_share: 0.1, reset_share: 0.0, rate_limited_share: 0.05, timeout_share: 0.0,"
      " lost_response_share: 0.0, timeout_ms: 10000, retry_after_s: 0}");
  c["rejection_share"] = 0.0;
  auto t = c["tracking"];
  EXPECT_EQ(t["delivery"].as<std::string>(), "poll") << "the shipped sim config must play freightly without webhooks";
  t["interval_ms"] = event_interval_ms;
  t["late_share"] = 0.3;
  t["dup_share"] = 0.5;
  t["reorder_share"] = 0.8;
  return cfg;
}

// The shipped freightly profile, polled several times per event interval.
YAML::Node freightly_profile() {
  auto p = load_source_yaml("configs/carriers/freightly.yaml");
  EXPECT_TRUE(p["tracking_poll"].IsMap()) << "the shipped freightly profile must be polled";
  EXPECT_FALSE(p["webhook"].IsDefined()) << "the shipped freightly profile must not take webhooks";
  p["retry"] = YAML::Load("{max_attempts: 8, base_backoff_ms: 20, max_backoff_ms: 200}");
  p["breaker"] = YAML::Load("{failure_threshold: 50, cool_down_ms: 200}");
  p["tracking_poll"]["interval_s"] = 0.25;
  p["tracking_poll"]["tick_ms"] = 50;
  p["tracking_poll"]["max_concurrency"] = 2;
  return p;
}

OrderSpec freight_order(const std::string& id) {
  OrderSpec s;
  s.order_id = id;
  s.service_level = "freight";  // only freightly serves it
  s.weight_kg = 150;
  s.packages = 2;               // two pieces: two interleaved histories in every answer
  return s;
}

// Samples GET /v1/shipments/{id} until stopped; every answer's phase must be at least
// the highest seen before (including `floor`, the highest of an earlier sampler).
class PhaseSampler {
 public:
  PhaseSampler(std::string host, uint16_t port, std::string shipment_id, int floor)
      : host_(std::move(host)), port_(port), id_(std::move(shipment_id)), max_phase_(floor) {
    thread_ = std::thread([this] { run(); });
  }
  ~PhaseSampler() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int max_phase() const { return max_phase_; }
  size_t samples() const { return samples_; }
  std::string last_status() {
    std::lock_guard lock(mu_);
    return last_;
  }
  std::vector<std::string> statuses() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::vector<std::string> violations() {
    std::lock_guard lock(mu_);
    return violations_;
  }

 private:
  void run() {
    HttpClient client(host_, port_, 2s);
    while (!stop_) {
      auto r = client.get("/v1/shipments/" + id_);
      if (r.status == 200) {
        auto status = Json::parse(r.body).str_or_empty("/status");
        int phase = tracking_phase(status);
        std::lock_guard lock(mu_);
        ++samples_;
        last_ = status;
        if (seen_.empty() || seen_.back() != status) seen_.push_back(status);
        if (phase < max_phase_ && violations_.size() < 10)
          violations_.push_back("status went back to " + status + " (phase " + std::to_string(phase) +
                                ") after phase " + std::to_string(max_phase_.load()));
        max_phase_ = std::max(max_phase_.load(), phase);
      }
      std::this_thread::sleep_for(15ms);
    }
  }

  std::string host_;
  uint16_t port_;
  std::string id_;
  std::atomic<bool> stop_{false};
  std::atomic<int> max_phase_;
  std::atomic<size_t> samples_{0};
  std::mutex mu_;
  std::string last_;
  std::vector<std::string> seen_, violations_;
  std::thread thread_;
};

// Tracking requests the sim received for `pro_number` (GET /polls).
int64_t sim_polls(SimProcess& sim, const std::string& pro_number) {
  HttpClient client(sim.host(), sim.port(), 5s);
  auto r = client.get("/polls");
  EXPECT_EQ(r.status, 200) << r.describe();
  for (auto& p : Json::parse(r.body).items("/polls"))
    if (p.str_or_empty("/carrier") == "freightly" && p.str_or_empty("/carrier_shipment_id") == pro_number)
      return p.int64("/count").value_or(-1);
  return 0;
}

// Waits until `pred` holds on the shipment's JSON; returns the last answer.
std::string wait_for_shipment(HttpClient& client, const std::string& id, const std::function<bool(const Json&)>& pred,
                              std::chrono::milliseconds timeout) {
  std::string last;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto r = client.get("/v1/shipments/" + id);
    last = r.describe();
    if (r.status == 200 && pred(Json::parse(r.body))) return r.body;
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "shipment " << id << " did not get there in time; last answer " << last;
  return {};
}

std::string order_status(HttpClient& client, const std::string& order_id) {
  return Json::parse(client.get("/v1/orders/" + order_id).body).str_or_empty("/status");
}

// The history holds carrier events (tracking number x step) each once, the delivery
// among them. Events of other pieces still to come when one piece was delivered are not
// fetched: the shipment is delivered then, and polling ends.
void expect_clean_history(const Json& shipment, size_t steps) {
  std::vector<std::string> ids;
  for (auto& m : shipment.items("/milestones")) ids.push_back(m.str_or_empty("/event_id"));
  std::set<std::string> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), ids.size()) << "a duplicate event entered the history: " << shipment.dump();
  std::set<std::string> known;
  for (auto& tn : shipment.items("/tracking_numbers"))
    for (size_t i = 1; i <= steps; ++i) known.insert(tn.str_or_empty("") + "-" + std::to_string(i));
  for (auto& id : distinct) EXPECT_TRUE(known.count(id)) << "unknown event " << id << " in " << shipment.dump();
  bool delivery = false;
  for (auto& m : shipment.items("/milestones")) delivery = delivery || m.str_or_empty("/status") == "delivered";
  EXPECT_TRUE(delivery) << "no delivery scan in the history: " << shipment.dump();
  EXPECT_GE(distinct.size(), 3u) << shipment.dump();
  // Milestones that set the status, in the order they arrived, only ever move forward
  // (phase, then event time): the history itself records any regression, sampled or not.
  // Times are RFC 3339 UTC with microseconds, so their text orders like their value.
  using Step = std::tuple<std::string, int, std::string, int64_t>;  // received, phase, event time, sequence
  std::vector<Step> applied;
  for (auto& m : shipment.items("/milestones"))
    if (m.boolean("/applied").value_or(false))
      applied.emplace_back(m.str_or_empty("/received_at"), tracking_phase(m.str_or_empty("/status")),
                           m.str_or_empty("/event_time"), m.int64("/sequence").value_or(0));
  std::sort(applied.begin(), applied.end());
  for (size_t i = 1; i < applied.size(); ++i) {
    auto& [r0, p0, t0, s0] = applied[i - 1];
    auto& [r1, p1, t1, s1] = applied[i];
    EXPECT_TRUE(std::tie(p0, t0, s0) < std::tie(p1, t1, s1))
        << "status moved back: phase " << p1 << " at " << t1 << " (received " << r1 << ") applied after phase " << p0
        << " at " << t0 << " (received " << r0 << ")";
  }
}

std::optional<double> metric(HttpClient& client, const std::string& sample) {
  return metric_value(client.get("/metrics").body, sample);
}

// ---------------------------------------------------------------------------------
// One freight shipment tracked to delivery by polling alone: the status never moves
// backwards while the sim serves a disordered, duplicated, partly late history with
// transient faults; the order follows to delivered; polling stops after delivery.
TEST(TrackingPoll, PolledShipmentReachesDeliveredWithoutRegressionAndPollingStops) {
  std::cout << "sim seed " << test_seed() << " (WAYBILL_CARRIER_SEED to replay)" << std::endl;
  CarrierStack stack({sim_config(400), {freightly_profile()}, ""});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  HttpClient client(w.host(), w.port(), 10s);

  ASSERT_TRUE(create_release_pack(client, freight_order("TP-1")));
  const std::string id = "TP-1-1";
  PhaseSampler sampler(w.host(), w.port(), id, -1);
  auto booked = wait_for_shipment(client, id, [](const Json& s) { return s.str_or_empty("/booking/state") == "booked"; }, 20s);
  ASSERT_FALSE(booked.empty());
  auto doc = Json::parse(booked);
  ASSERT_EQ(doc.str_or_empty("/carrier"), "freightly") << booked;
  const std::string pro = doc.str_or_empty("/booking/carrier_shipment_id");
  ASSERT_FALSE(pro.empty()) << booked;

  auto delivered = wait_for_shipment(client, id, [](const Json& s) { return s.str_or_empty("/status") == "delivered"; }, 30s);
  ASSERT_FALSE(delivered.empty());
  for (int i = 0; i < 100 && order_status(client, "TP-1") != "delivered"; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(order_status(client, "TP-1"), "delivered");
  expect_clean_history(Json::parse(delivered), 5);

  // The sampler saw the shipment move through the phases, never back.
  std::this_thread::sleep_for(200ms);
  sampler.stop();
  for (auto& v : sampler.violations()) ADD_FAILURE() << v;
  auto seen = sampler.statuses();
  std::string path;
  for (auto& s : seen) path += " " + s;
  EXPECT_GE(seen.size(), 3u) << "too few steps observed to show progress:" << path;
  EXPECT_EQ(sampler.last_status(), "delivered");

  // The sim's untidiness reached waybill and was absorbed by the shipment: events
  // arrived twice and behind newer ones.
  auto dup = metric(client, "waybill_tracking_poll_events_total{carrier=\"freightly\",outcome=\"duplicate\"}");
  auto late = metric(client, "waybill_tracking_poll_events_total{carrier=\"freightly\",outcome=\"late\"}");
  auto failed = metric(client, "waybill_tracking_polls_total{carrier=\"freightly\",outcome=\"failed\"}");
  auto sent = metric(client, "waybill_tracking_polls_total{carrier=\"freightly\",outcome=\"sent\"}");
  EXPECT_GT(dup.value_or(0), 0) << "no duplicate reached waybill: the test proved nothing";

  // Polling stops: the delivered shipment left the poll index in the same write.
  std::this_thread::sleep_for(300ms);  // a poll sent just before the delivering commit
  int64_t polls_at_delivery = sim_polls(stack.sim(), pro);
  EXPECT_GT(polls_at_delivery, 1);
  std::this_thread::sleep_for(1500ms);  // six poll intervals
  EXPECT_EQ(sim_polls(stack.sim(), pro), polls_at_delivery) << "the delivered shipment is still polled";
  EXPECT_EQ(metric(client, "waybill_tracking_poll_shipments{carrier=\"freightly\"}").value_or(-1), 0);
  std::cout << "statuses seen:" << path << "; " << sampler.samples() << " samples, sim polls " << polls_at_delivery
            << ", waybill polls sent " << sent.value_or(-1) << " (failed " << failed.value_or(-1) << "), duplicates "
            << dup.value_or(-1) << ", late " << late.value_or(-1) << std::endl;
  // Whether a listing reaches waybill behind a newer one depends on poll timing as
  // well as on the seed; a run where none did checked everything above but the
  // absorption of late events, so it says so as a skip rather than pass as proof.
  if (late.value_or(0) == 0) GTEST_SKIP() << "no event arrived out of order in this run (seed " << test_seed() << ")";
}

// SIGKILL of waybilld while a shipment is under way: after the restart, with nothing
// in memory, the poller finds the shipment in the durable poll index, polling resumes,
// and the shipment still ends delivered without ever reading an earlier status.
TEST(TrackingPoll, PollingResumesAfterSigkill) {
  std::cout << "sim seed " << test_seed() << " (WAYBILL_CARRIER_SEED to replay)" << std::endl;
  CarrierStack stack({sim_config(900), {freightly_profile()}, ""});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  std::string pro;
  int floor = -1;
  {
    HttpClient client(w.host(), w.port(), 10s);
    ASSERT_TRUE(create_release_pack(client, freight_order("TK-1")));
    PhaseSampler sampler(w.host(), w.port(), "TK-1-1", -1);
    // Mid-way: picked up (a carrier scan), not yet delivered.
    auto moving = wait_for_shipment(
        client, "TK-1-1", [](const Json& s) { return tracking_phase(s.str_or_empty("/status")) >= tracking_phase("picked_up"); },
        30s);
    ASSERT_FALSE(moving.empty());
    auto doc = Json::parse(moving);
    pro = doc.str_or_empty("/booking/carrier_shipment_id");
    ASSERT_NE(doc.str_or_empty("/status"), "delivered") << "too late to kill mid-way: " << moving;
    sampler.stop();
    for (auto& v : sampler.violations()) ADD_FAILURE() << v;
    floor = std::max(sampler.max_phase(), tracking_phase(doc.str_or_empty("/status")));
    w.kill();
  }
  const int64_t polls_before = sim_polls(stack.sim(), pro);
  std::this_thread::sleep_for(1500ms);  // the carrier moves on while waybilld is down
  EXPECT_EQ(sim_polls(stack.sim(), pro), polls_before) << "something polled while waybilld was down";
  ASSERT_TRUE(w.restart());

  HttpClient client(w.host(), w.port(), 10s);
  PhaseSampler sampler(w.host(), w.port(), "TK-1-1", floor);
  auto delivered = wait_for_shipment(client, "TK-1-1", [](const Json& s) { return s.str_or_empty("/status") == "delivered"; }, 30s);
  ASSERT_FALSE(delivered.empty());
  sampler.stop();
  for (auto& v : sampler.violations()) ADD_FAILURE() << v;
  EXPECT_GT(sim_polls(stack.sim(), pro), polls_before) << "no poll after the restart";
  EXPECT_GT(metric(client, "waybill_tracking_polls_total{carrier=\"freightly\",outcome=\"ok\"}").value_or(0), 0)
      << "the restarted waybilld polled nothing itself";
  for (int i = 0; i < 100 && order_status(client, "TK-1") != "delivered"; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(order_status(client, "TK-1"), "delivered");
  expect_clean_history(Json::parse(delivered), 5);
  std::cout << "killed at phase " << floor << ", sim polls before the kill " << polls_before << ", after "
            << sim_polls(stack.sim(), pro) << std::endl;
}

}  // namespace
}  // namespace waybill::itest
