// Crashes and lost answers around carrier bookings, against the real carrier-sim.
//
// A label the carrier sold must end up on its shipment exactly once: waybilld persists
// the booking intent before calling the carrier, and whenever it cannot know whether a
// booking call went through (the answer was lost, or the process died after the label
// was sold but before the answer was stored) it looks the booking up by its reference
// instead of booking again. The sim's label ledger (GET /labels) is the oracle.
//
//   WAYBILL_CARRIER_SEED  seed of the kill moments and the sim (default: random, printed)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
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

// The shipped sim config, fault-free unless told otherwise, without tracking feeds
// (waybilld's port changes with every restart; webhooks are not under test here).
YAML::Node sim_config(double lost_response_share, const char* latency) {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  cfg["seed"] = test_seed();
  for (auto c : cfg["carriers"]) {
    c["latency"] = YAML::Load(latency);
    c["faults"] = YAML::Load(
        "{server_error_share: 0.0, reset_share: 0.0, rate_limited_share: 0.0, timeout_share: 0.0, timeout_ms: 10000,"
        " retry_after_s: 1}");
    c["faults"]["lost_response_share"] = lost_response_share;
    c["rejection_share"] = 0.0;
    c["tracking"]["enabled"] = false;
  }
  return cfg;
}

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

// Checks the shipments against the sim's ledger: no reference with two live bookings,
// every booked shipment holds exactly its reference's labels, no label without a
// booked shipment. Returns the number of labels booked shipments hold.
// With `late_duplicates_voided`, bookings the carrier made late under a reference that
// already holds one are allowed if they were voided (waybill reconciles doubtful bookings).
size_t check_against_ledger(const LabelLedger& ledger, std::map<std::string, BookingView>& views,
                            bool late_duplicates_voided = false) {
  for (auto& [ref, ids] : ledger.duplicates()) {
    std::string list;
    for (auto& id : ids) list += " " + id;
    ADD_FAILURE() << "duplicate labels: reference " << ref << " has " << ids.size() << " live bookings:" << list;
  }
  if (!late_duplicates_voided) EXPECT_EQ(ledger.voided_count(), 0u);
  size_t held = 0;
  for (auto& ref : ledger.references())
    EXPECT_TRUE(views.count(ref)) << "label sold under a reference no shipment of this test has: " << ref;
  for (auto& [id, v] : views) {
    auto doc = Json::parse(v.body);
    if (v.state != "booked") {
      EXPECT_TRUE(ledger.live(id).empty()) << id << " is " << v.state << " but holds labels at the carrier";
      continue;
    }
    auto tns = sorted(strings_at(doc, "/tracking_numbers"));
    held += tns.size();
    EXPECT_EQ(tns.size(), doc.size("/packages")) << id;
    EXPECT_EQ(tns, ledger.live_tracking_numbers(id)) << id << " reads " << v.describe();
    auto live = ledger.live(id);
    if (!live.empty()) {
      EXPECT_EQ(doc.str_or_empty("/booking/carrier_shipment_id"), live.front().carrier_shipment_id) << id;
    }
  }
  EXPECT_EQ(ledger.labels.size() - ledger.voided_count(), held) << "the carrier sold live labels that no booked shipment holds";
  return held;
}

// ---------------------------------------------------------------------------------
// The process dies right after the carrier answered the booking, before the answer is
// stored. After a restart the persisted intent is in doubt; the lookup by reference
// finds the label that was sold, and the shipment gets that label, not a second one.
TEST(CarrierCrash, CrashAfterLabelSoldResolvesByLookupToTheSameLabel) {
  CarrierStack stack({sim_config(0.0, "{distribution: fixed, median_ms: 50}"),
                      {profile("parcelco"), profile("freightly")},
                      "fault_injection:\n  crash_after_booking_answers: 1\n"});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  {
    HttpClient client(w.host(), w.port(), 10s);
    OrderSpec s;
    s.order_id = "KA-1";
    s.packages = 1;
    ASSERT_EQ(client.post("/v1/orders", order_body(s)).status, 201);
    ASSERT_EQ(client.post("/v1/orders/KA-1/release", "").status, 200);
    // The booking answer kills the process; the pack answer usually comes first.
    auto pack = client.post("/v1/orders/KA-1/pack", "");
    EXPECT_TRUE(pack.status == 200 || !pack.answered()) << pack.describe();
  }
  auto exit = wait_for_exit_without_reaping(w.pid(), 15s);
  ASSERT_FALSE(exit.timed_out) << "waybilld did not die at the injected crash point";
  EXPECT_TRUE((exit.exited && exit.code == 137) || exit.signal != 0) << exit.describe();
  EXPECT_NE(w.log().find("fault injection"), std::string::npos);
  w.kill();  // reaps it

  const std::string id = "KA-1-1";
  auto before = stack.sim().labels();
  ASSERT_TRUE(before);
  ASSERT_EQ(before->bookings(id, true).size(), 1u) << "the sim should have sold exactly one booking before the crash";
  auto sold = before->live_tracking_numbers(id);
  ASSERT_EQ(sold.size(), 1u);

  stack.set_waybill_extra_yaml("");
  ASSERT_TRUE(w.restart());
  EXPECT_EQ(w.current_log().find("fault injection"), std::string::npos) << "the restart still injects faults";
  auto v = wait_for_bookings(w.host(), w.port(), {id}, 15s)[id];
  ASSERT_EQ(v.state, "booked") << v.describe();
  auto doc = Json::parse(v.body);
  EXPECT_EQ(sorted(strings_at(doc, "/tracking_numbers")), sold);
  EXPECT_EQ(doc.str_or_empty("/booking/carrier_shipment_id"), before->live(id).front().carrier_shipment_id);
  EXPECT_EQ(doc.str_or_empty("/status"), "label_created");
  EXPECT_EQ(doc.int64("/booking/rounds").value_or(-1), 1);

  auto after = stack.sim().labels();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->bookings(id, true).size(), 1u) << "a second booking was made after the restart";
  EXPECT_EQ(after->labels.size(), 1u) << "exactly one label may exist for the one parcel";
  EXPECT_EQ(after->live_tracking_numbers(id), sold);

  HttpClient client(w.host(), w.port(), 10s);
  auto metrics = client.get("/metrics").body;
  EXPECT_EQ(metric_value(metrics, "waybill_bookings_total{outcome=\"resolved_by_lookup\"}"), 1.0);
  EXPECT_EQ(metric_value(metrics, "waybill_bookings_total{outcome=\"in_doubt\"}"), 1.0);
  EXPECT_NE(w.current_log().find("resumed"), std::string::npos);
  std::cout << "crash: " << exit.describe() << "; labels sold " << after->labels.size() << "; resolved by lookup "
            << metric_value(metrics, "waybill_bookings_total{outcome=\"resolved_by_lookup\"}").value_or(-1)
            << std::endl;
}

// The carrier books but the answer never arrives (connection dropped) for ~30% of the
// bookings: each of those is in doubt, resolved by a lookup, never booked twice.
TEST(CarrierCrash, LostBookingAnswersResolveWithoutDuplicateLabels) {
  CarrierStack stack({sim_config(0.3, "{distribution: lognormal, median_ms: 20, p99_ms: 60}"),
                      {profile("parcelco"), profile("freightly")},
                      ""});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  std::vector<OrderSpec> specs;
  for (int i = 0; i < 40; ++i) {
    OrderSpec s;
    s.order_id = "KB-" + std::to_string(100 + i);
    s.packages = 1 + i % 3;
    if (i % 8 == 7) {
      s.service_level = "freight";  // the other carrier, dialect and auth
      s.weight_kg = 150;
    }
    specs.push_back(s);
  }
  auto failures = submit_orders(w.host(), w.port(), specs, 4);
  ASSERT_TRUE(failures.empty()) << failures.front();
  std::vector<std::string> ids;
  for (auto& s : specs) ids.push_back(s.order_id + "-1");
  auto views = wait_for_bookings(w.host(), w.port(), ids, 30s);

  size_t booked = 0;
  for (auto& [id, v] : views) {
    // Nothing here makes the carrier refuse a booking: every one must be booked.
    EXPECT_EQ(v.state, "booked") << v.describe();
    booked += v.state == "booked";
  }
  HttpClient client(w.host(), w.port(), 10s);
  auto exceptions = list_exceptions(client);
  ASSERT_TRUE(exceptions);
  EXPECT_TRUE(exceptions->empty());
  auto ledger = stack.sim().labels();
  ASSERT_TRUE(ledger);
  size_t held = check_against_ledger(*ledger, views);

  auto metrics = client.get("/metrics").body;
  auto in_doubt = metric_value(metrics, "waybill_bookings_total{outcome=\"in_doubt\"}").value_or(-1);
  auto resolved = metric_value(metrics, "waybill_bookings_total{outcome=\"resolved_by_lookup\"}").value_or(-1);
  // Every lost answer belonged to a booking the carrier made, so every doubt ends in a
  // lookup that finds it.
  EXPECT_GT(in_doubt, 0) << "no answer was lost: the test proved nothing";
  EXPECT_EQ(resolved, in_doubt);
  std::cout << "lost answers: " << booked << " booked, " << exceptions->size() << " exceptions, labels sold "
            << ledger->labels.size() << " (held " << held << "), in doubt " << in_doubt << ", resolved by lookup "
            << resolved << std::endl;
}

// The carrier is slow: ~25% of calls are held past the client's timeout, and a held
// booking is still made when the carrier gets to it (as at real carriers). Each such
// booking is in doubt for waybilld; it must not end with two live bookings under one
// reference once the carrier has finished the held work. Timings are the shipped
// profile's (in_doubt_grace_ms 500) with a shorter client timeout to keep it quick.
//
// DISABLED: fails. A lookup that finds nothing while the first booking request is
// still being worked on at the carrier is taken as "never booked": waybilld books
// again, and when the held request completes the carrier has sold a second label under
// the same reference that no shipment holds (and that nobody voids). The same happens
// when the second booking is itself held: the lookup that follows finds the first one,
// and the second is sold later. See the report of this test for a sample sequence.
TEST(CarrierCrash, BookingsHeldPastTheClientTimeoutLeaveNoDuplicateLabels) {
  auto cfg = sim_config(0.0, "{distribution: fixed, median_ms: 10}");
  for (auto c : cfg["carriers"]) {
    c["faults"]["timeout_share"] = 0.25;
    c["faults"]["timeout_ms"] = 2500;
  }
  auto slow = [](YAML::Node p) {
    p["limits"]["timeout_ms"] = 1000;  // gives up before the carrier answers
    // Keep the breaker shut: when a burst of timeouts opens it, its cool-down happens
    // to hold the lookups back until the held bookings are done, which hides the
    // outcome under test about half of the time.
    p["breaker"]["failure_threshold"] = 1000;
    return p;
  };
  CarrierStack stack({cfg, {slow(profile("parcelco")), slow(profile("freightly"))}, ""});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  std::vector<OrderSpec> specs;
  for (int i = 0; i < 40; ++i) {
    OrderSpec s;
    s.order_id = "KT-" + std::to_string(100 + i);
    s.packages = 1 + i % 2;
    specs.push_back(s);
  }
  auto failures = submit_orders(w.host(), w.port(), specs, 4);
  ASSERT_TRUE(failures.empty()) << failures.front();
  std::vector<std::string> ids;
  for (auto& s : specs) ids.push_back(s.order_id + "-1");
  auto views = wait_for_bookings(w.host(), w.port(), ids, 40s);
  for (auto& [id, v] : views) EXPECT_EQ(v.state, "booked") << id << ": " << v.describe();
  // Let the carrier finish every held request (hold 2.5 s), and waybill reconcile every
  // booking that went through doubt (it looks for late duplicates and voids them).
  std::this_thread::sleep_for(3s);
  const auto deadline = Clock::now() + 30s;
  for (;;) {
    views = wait_for_bookings(w.host(), w.port(), ids, 1s);
    size_t pending = 0;
    for (auto& [id, v] : views) pending += v.body.find("\"reconcile_pending\":true") != std::string::npos;
    if (pending == 0 || Clock::now() > deadline) {
      EXPECT_EQ(pending, 0u) << "bookings still being reconciled after 30 s";
      break;
    }
    std::this_thread::sleep_for(250ms);
  }
  auto ledger = stack.sim().labels();
  ASSERT_TRUE(ledger);
  size_t held = check_against_ledger(*ledger, views, /*late_duplicates_voided=*/true);
  HttpClient client(w.host(), w.port(), 10s);
  auto metrics = client.get("/metrics").body;
  auto in_doubt = metric_value(metrics, "waybill_bookings_total{outcome=\"in_doubt\"}").value_or(-1);
  auto resolved = metric_value(metrics, "waybill_bookings_total{outcome=\"resolved_by_lookup\"}").value_or(-1);
  EXPECT_GT(in_doubt, 0) << "no booking was held past the timeout: the test proved nothing";
  std::cout << "held answers: labels sold " << ledger->labels.size() << " (held by shipments " << held
            << ", late duplicates voided " << ledger->voided_count() << "), live duplicates "
            << ledger->duplicates().size() << ", in doubt " << in_doubt << ", resolved by lookup " << resolved << std::endl;
}

// SIGKILL at random moments while ~100 orders are being packed and booked (the adapter
// is throttled so that bookings queue up and calls are in flight when the kill lands),
// three times; after the last restart every packed order's shipment is booked or in the
// exception queue and no reference holds two live bookings.
TEST(CarrierCrash, KillsDuringBookingBurstLeaveNoDuplicateLabels) {
  const auto t0 = Clock::now();
  std::cout << "seed " << test_seed() << " (WAYBILL_CARRIER_SEED to replay)" << std::endl;
  std::mt19937_64 rng(test_seed());
  auto throttled = [](YAML::Node p) {
    p["limits"]["requests_per_second"] = 40;
    p["limits"]["burst"] = 5;
    p["limits"]["max_in_flight"] = 8;
    return p;
  };
  CarrierStack stack({sim_config(0.0, "{distribution: lognormal, median_ms: 60, p99_ms: 250}"),
                      {throttled(profile("parcelco")), throttled(profile("freightly"))},
                      ""});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();

  constexpr int kOrders = 100;
  std::vector<OrderSpec> specs;
  for (int i = 0; i < kOrders; ++i) {
    OrderSpec s;
    s.order_id = "KC-" + std::to_string(1000 + i);
    s.packages = 1 + i % 3;
    if (i % 10 == 3) {
      s.service_level = "freight";
      s.weight_kg = 200;
    }
    specs.push_back(s);
  }

  // Drives each order to packed from whatever state it is in; stops at the first
  // request without an answer (the server is gone) until the next incarnation.
  std::vector<std::atomic<bool>> packed(kOrders);
  auto drive = [&](const std::atomic<bool>& stop, int thread, int threads) {
    HttpClient client(w.host(), w.port(), 3s);
    for (int i = thread; i < kOrders && !stop; i += threads) {
      if (packed[i]) continue;
      auto& s = specs[i];
      const std::string path = "/v1/orders/" + s.order_id;
      for (int step = 0; step < 6 && !stop; ++step) {
        auto g = client.get(path);
        if (!g.answered()) return;
        std::string status = g.status == 200 ? Json::parse(g.body).str_or_empty("/status") : "";
        HttpResult r;
        if (g.status == 404)
          r = client.post("/v1/orders", order_body(s));
        else if (status == "validated")
          r = client.post(path + "/release", "");
        else if (status == "released")
          r = client.post(path + "/pack", "");
        else if (g.status == 200) {
          packed[i] = true;  // packed or further
          break;
        } else {
          return;  // 503 while starting or stopping
        }
        if (!r.answered()) return;
      }
    }
  };

  constexpr int kThreads = 4;
  int kills = 0;
  for (int cycle = 0; cycle < 3; ++cycle) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> drivers;
    for (int t = 0; t < kThreads; ++t) drivers.emplace_back([&, t] { drive(stop, t, kThreads); });
    // The first kill lands while orders are still being packed (shipments being
    // created), the later ones while bookings queue in the throttled adapters.
    auto lifetime = std::chrono::milliseconds(cycle == 0 ? 30 + rng() % 300 : 200 + rng() % 1300);
    std::this_thread::sleep_for(lifetime);
    int packed_now = 0;
    for (auto& p : packed) packed_now += p;
    w.kill();
    ++kills;
    stop = true;
    for (auto& d : drivers) d.join();
    std::cout << "cycle " << cycle + 1 << ": SIGKILL after " << lifetime.count() << " ms with " << packed_now
              << " orders packed" << std::endl;
    ASSERT_TRUE(w.restart());
  }
  {
    std::atomic<bool> stop{false};
    std::vector<std::thread> drivers;
    for (int t = 0; t < kThreads; ++t) drivers.emplace_back([&, t] { drive(stop, t, kThreads); });
    for (auto& d : drivers) d.join();
  }
  for (int i = 0; i < kOrders; ++i) ASSERT_TRUE(packed[i]) << specs[i].order_id << " never got packed";

  std::vector<std::string> ids;
  for (auto& s : specs) ids.push_back(s.order_id + "-1");
  auto views = wait_for_bookings(w.host(), w.port(), ids, 40s);
  HttpClient client(w.host(), w.port(), 10s);
  auto exceptions = list_exceptions(client);
  ASSERT_TRUE(exceptions);
  size_t booked = 0;
  for (auto& [id, v] : views) {
    bool ok = v.state == "booked" || (v.state == "rejected" && exceptions->count(id));
    EXPECT_TRUE(ok) << id << " is neither booked nor in the exception queue: " << v.describe();
    booked += v.state == "booked";
  }
  // Nothing in this setup makes a carrier refuse: a queued exception means a crash
  // turned into a business outcome.
  for (auto& [id, e] : *exceptions) ADD_FAILURE() << id << " in the exception queue: " << e.reason << ": " << e.message;
  auto ledger = stack.sim().labels();
  ASSERT_TRUE(ledger);
  size_t held = check_against_ledger(*ledger, views);

  // Resumed bookings per incarnation, from the log.
  std::string log = w.log();
  static const std::regex resumed_re(R"("orders":([0-9]+),"bookings":([0-9]+))");
  std::string resumed;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), resumed_re); it != std::sregex_iterator(); ++it)
    resumed += " " + (*it)[1].str() + "/" + (*it)[2].str();
  auto metrics = client.get("/metrics").body;
  std::cout << "kills " << kills << ", booked " << booked << "/" << kOrders << ", exceptions " << exceptions->size()
            << ", labels sold " << ledger->labels.size() << " (held " << held
            << "), resumed orders/bookings per restart:" << resumed << ", last incarnation: in doubt "
            << metric_value(metrics, "waybill_bookings_total{outcome=\"in_doubt\"}").value_or(-1)
            << ", resolved by lookup "
            << metric_value(metrics, "waybill_bookings_total{outcome=\"resolved_by_lookup\"}").value_or(-1)
            << ", total " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count() << " ms"
            << std::endl;
}

}  // namespace
}  // namespace waybill::itest
