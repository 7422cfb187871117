// Chaos: one run that mixes everything a crash can break, against the real binaries.
//
// waybilld books labels at the real carrier-sim and delivers every outbox event to a
// signature-checking webhook subscriber (support/webhook_receiver) while load threads
// create, release, allocate, cancel and pack orders, register shipments and post
// tracking milestones (single and NDJSON). Each cycle ends in a kill:
//
//   random        SIGKILL from the test at a random moment of the load
//   commits       fault_injection.crash_after_commits: dies after the Nth committed
//                 batch, before its answers are sent
//   booking       fault_injection.crash_after_booking_answers: dies after the carrier
//                 sold a label, before the answer is persisted
//   webhook       fault_injection.crash_after_webhook_deliveries: dies after a
//                 subscriber accepted a delivery, before the cursor is persisted
//
// An injected point that is not reached within the load window ends in a SIGKILL and
// is counted as "random (not reached)". After every kill waybilld restarts without
// fault injection and is checked against what was acknowledged (support/crash_load):
// every acknowledged order, step, shipment and milestone is there; no status read
// lower than an earlier read; carrier-sim's ledger holds no reference with two live
// labels; each subscriber's first arrivals per entity run entityseq 1, 2, 3, ... (no
// gaps; duplicates allowed, at least once). At the end, after SIGTERM and a restart:
// everything again, every packed order booked with exactly the ledger's labels, and
// every outbox event delivered, per entity, in order.
//
//   WAYBILL_CHAOS_KILLS  kills (default 20; the long run is 200, see the README)
//   WAYBILL_CHAOS_SEED   seed of the random choices (default: random, printed)
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

#include "crash_load.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "outbox.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"
#include "webhook_receiver.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;
using namespace crash;
using Clock = std::chrono::steady_clock;

constexpr int kTrackingThreads = 3;  // crash_load workers: orders, shipments, milestones
constexpr int kBookingThreads = 1;   // orders packed for booking at carrier-sim
constexpr int kEntitySample = 200;   // untouched entities re-read per kind after each kill
const char* const kHookPath = "/chaos";

enum class Mode { random, commits, booking, webhook };
const char* mode_name(Mode m) {
  switch (m) {
    case Mode::random: return "random";
    case Mode::commits: return "crash_after_commits";
    case Mode::booking: return "crash_after_booking_answers";
    case Mode::webhook: return "crash_after_webhook_deliveries";
  }
  return "?";
}

// waybilld's extra config: fast webhook retries, plus the armed crash point.
std::string waybill_extra(Mode mode, int n) {
  std::string y = "webhooks:\n  base_backoff_ms: 50\n  max_backoff_ms: 400\n  timeout_ms: 2000\n";
  if (mode != Mode::random) y += "fault_injection:\n  " + std::string(mode_name(mode)) + ": " + std::to_string(n) + "\n";
  return y;
}

// The shipped sim, fault-free, without tracking feeds (waybilld's port changes with
// every restart; milestones come from the load instead).
YAML::Node sim_config(uint64_t seed) {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  cfg["seed"] = seed % 1000000;
  for (auto c : cfg["carriers"]) {
    c["latency"] = YAML::Load("{distribution: lognormal, median_ms: 15, p99_ms: 60}");
    c["faults"] = YAML::Load(
        "{server_error_share: 0.0, reset_share: 0.0, rate_limited_share: 0.0, timeout_share: 0.0, timeout_ms: 10000,"
        " retry_after_s: 1, lost_response_share: 0.0}");
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

// ---- orders packed for booking --------------------------------------------------

struct BookingRecord {
  OrderSpec spec;
  int acked_rank = -1;  // validated (1), released (2), packed (4)
  bool pack_attempted = false;
  int touched = 0;
};

struct Bookings {
  std::mutex mu;
  std::map<std::string, BookingRecord> orders;
  uint64_t acked = 0;
};

// Creates, releases and packs fresh orders (US addresses the sim's carriers serve) until
// the server goes away; 429/503 answers skip to the next order.
void booking_load(const LoadContext& ctx, Bookings& b, int index, uint64_t seed) {
  std::mt19937_64 rng(seed);
  HttpClient client(ctx.host, ctx.port, 5s);
  for (int n = 1; !ctx.stop->load(); ++n) {
    OrderSpec s;
    s.order_id = "B-c" + std::to_string(ctx.cycle) + "-t" + std::to_string(index) + "-" + std::to_string(n);
    s.packages = 1 + static_cast<int>(rng() % 2);
    if (rng() % 8 == 0) {
      s.service_level = "freight";  // the other carrier
      s.weight_kg = 150;
    }
    {
      std::lock_guard lock(b.mu);
      b.orders[s.order_id] = BookingRecord{s, -1, false, ctx.cycle};
    }
    const std::string base = "/v1/orders/" + s.order_id;
    struct Step {
      std::string target, body;
      int status, rank;
    } steps[] = {{"/v1/orders", order_body(s), 201, 1}, {base + "/release", "", 200, 2}, {base + "/pack", "", 200, 4}};
    for (auto& step : steps) {
      if (step.rank == 4) {
        std::lock_guard lock(b.mu);
        b.orders[s.order_id].pack_attempted = true;
      }
      auto res = client.post(step.target, step.body);
      if (!res.answered()) return;  // the server is gone: this request is unknown
      if (res.status == 429 || res.status == 503) {
        std::this_thread::sleep_for(20ms);
        break;
      }
      if (res.status != step.status) {
        ctx.oracle->note_unexpected("POST " + step.target + " -> " + res.describe());
        break;
      }
      std::lock_guard lock(b.mu);
      b.orders[s.order_id].acked_rank = step.rank;
      ++b.acked;
    }
  }
}

// Acknowledged booking orders are there at their acknowledged step or further, with
// their shipment once packed; statuses never read lower than before.
std::vector<std::string> check_bookings(HttpClient& c, Oracle& oracle, Bookings& b, int cycle, size_t sample,
                                        std::mt19937_64& rng) {
  std::vector<std::string> out;
  std::vector<std::string> ids, rest;
  for (auto& [id, r] : b.orders) {
    if (r.acked_rank < 1) continue;
    (cycle == 0 || r.touched == cycle ? ids : rest).push_back(id);
  }
  std::shuffle(rest.begin(), rest.end(), rng);
  for (size_t i = 0; i < rest.size() && i < sample; ++i) ids.push_back(rest[i]);
  for (auto& id : ids) {
    auto& r = b.orders.at(id);
    auto res = c.get("/v1/orders/" + id);
    if (res.status != 200) {
      out.push_back("acknowledged booking order " + id + ": GET -> " + res.describe());
      continue;
    }
    auto status = Json::parse(res.body).str_or_empty("/status");
    if (auto v = oracle.observe_order(id, status); !v.empty()) out.push_back(v);
    if (order_rank(status) < r.acked_rank)
      out.push_back("order " + id + " is '" + status + "' below its acknowledged rank " + std::to_string(r.acked_rank));
    if (r.acked_rank < 4) continue;
    // The shipment of a packed order is created right after the pack; after a crash the
    // order resumes it at start-up.
    BookingView v;
    const auto deadline = Clock::now() + 10s;
    do {
      v = read_booking(c, id + "-1");
      if (v.http_status == 200) break;
      std::this_thread::sleep_for(20ms);
    } while (Clock::now() < deadline);
    if (v.http_status != 200) {
      out.push_back("packed order " + id + " has no shipment: " + v.describe());
      continue;
    }
    auto shipment_status = Json::parse(v.body).str_or_empty("/status");
    if (auto viol = oracle.observe_shipment(id + "-1", shipment_status); !viol.empty()) out.push_back(viol);
  }
  return out;
}

// No reference at the carrier holds two live bookings.
std::vector<std::string> check_ledger_duplicates(const LabelLedger& ledger) {
  std::vector<std::string> out;
  for (auto& [ref, ids] : ledger.duplicates()) {
    std::string list;
    for (auto& id : ids) list += " " + id;
    out.push_back("duplicate labels: reference " + ref + " has " + std::to_string(ids.size()) +
                  " live bookings:" + list);
  }
  return out;
}

// ---- webhook deliveries ---------------------------------------------------------

// First arrivals (by webhook-id) per entity must run entityseq 1, 2, 3, ... in arrival
// order: a gap means an event was skipped, and delivery after it cannot fill it in order.
std::vector<std::string> delivery_gaps(const std::vector<WebhookReceiver::Delivery>& unique,
                                       std::map<std::string, uint64_t>* per_subject) {
  std::vector<std::string> out;
  per_subject->clear();
  for (auto& d : unique) {
    uint64_t& have = (*per_subject)[d.subject];
    if (d.entityseq != have + 1 && out.size() < 20)
      out.push_back("subscriber gap: " + d.subject + " received entityseq " + std::to_string(d.entityseq) +
                    " (position " + std::to_string(d.position) + ") after " + std::to_string(have));
    have = std::max(have, d.entityseq);
  }
  return out;
}

// At the end: every outbox event reached the subscriber, per entity in outbox order,
// and every delivered position is the outbox's event (positions are never reused).
std::vector<std::string> deliveries_match_outbox(const std::vector<WebhookReceiver::Delivery>& unique,
                                                 const std::vector<FeedEvent>& feed) {
  std::vector<std::string> out;
  std::map<std::string, std::vector<uint64_t>> want, got;
  std::map<uint64_t, const FeedEvent*> by_position;
  for (auto& e : feed) {
    auto& seqs = want[e.subject];
    if (e.entityseq != seqs.size() + 1 && out.size() < 20)
      out.push_back("outbox gap: " + e.subject + " has entityseq " + std::to_string(e.entityseq) + " after " +
                    std::to_string(seqs.size()));
    seqs.push_back(e.entityseq);
    by_position[e.position] = &e;
  }
  for (auto& d : unique) {
    got[d.subject].push_back(d.entityseq);
    auto it = by_position.find(d.position);
    if (it == by_position.end() || it->second->subject != d.subject || it->second->entityseq != d.entityseq ||
        it->second->type != d.type)
      if (out.size() < 40)
        out.push_back("delivered position " + std::to_string(d.position) + " (" + d.subject + " #" +
                      std::to_string(d.entityseq) + ") is not that event in the outbox");
  }
  for (auto& [subject, seqs] : want)
    if (got[subject] != seqs && out.size() < 40)
      out.push_back("subscriber received " + std::to_string(got[subject].size()) + " event(s) of " + subject +
                    ", the outbox has " + std::to_string(seqs.size()));
  return out;
}

// ---- one cycle: load until the kill ----------------------------------------------

struct KillOutcome {
  bool not_reached = false;  // an armed crash point did not fire within the window
  std::string violation;     // the process ended otherwise than at the crash point
};

// Runs the load against the current incarnation until it dies: SIGKILL at a random
// moment, or the armed crash point (SIGKILL after 4 s if it is not reached). Joins
// the load threads; the process is reaped.
KillOutcome load_until_killed(ServerProcess& w, Oracle& oracle, Bookings& bookings, int cycle, Mode mode, int armed_n,
                              std::mt19937_64& rng) {
  std::atomic<bool> stop{false};
  LoadContext ctx{w.host(), w.port(), cycle, &oracle, &stop};
  ctx.pack = false;  // packing is the booking threads' job (addresses the carriers serve)
  std::vector<std::thread> threads;
  for (int t = 0; t < kTrackingThreads; ++t) {
    uint64_t s = rng();
    threads.emplace_back([ctx, t, s] { Worker(ctx, t, s).run(); });
  }
  for (int t = 0; t < kBookingThreads; ++t) {
    uint64_t s = rng();
    threads.emplace_back([ctx, t, s, &bookings] { booking_load(ctx, bookings, t, s); });
  }
  KillOutcome out;
  if (mode == Mode::random) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(200, 1500)(rng)));
  } else {
    auto e = wait_for_exit_without_reaping(w.pid(), 4s);
    if (e.timed_out)
      out.not_reached = true;
    else if (!(e.exited && e.code == 137))
      out.violation = "waybilld ended with " + e.describe() + " instead of the injected crash #" +
                      std::to_string(armed_n) + " of " + mode_name(mode);
  }
  w.kill();  // SIGKILL, or reaps the process that died at its crash point
  stop = true;
  for (auto& t : threads) t.join();
  return out;
}

// ---- the end ----------------------------------------------------------------------

struct LabelTally {
  size_t packs_acked = 0, sold = 0, live = 0, voided = 0, duplicates = 0;
};

// Every order whose pack might have been stored: booked with exactly the labels the
// carrier sold under its reference, or never booked and without labels; no label that
// no shipment holds.
std::vector<std::string> check_final_bookings(CarrierStack& stack, HttpClient& c, const Bookings& b, LabelTally* t) {
  std::vector<std::string> out;
  std::vector<std::string> packed, maybe;
  for (auto& [id, r] : b.orders) {
    if (r.acked_rank >= 4) {
      packed.push_back(id + "-1");
      ++t->packs_acked;
    } else if (r.pack_attempted) {
      maybe.push_back(id + "-1");
    }
  }
  auto& w = stack.waybill();
  auto views = wait_for_bookings(w.host(), w.port(), packed, 60s);
  for (auto& id : maybe)
    if (read_booking(c, id).http_status == 200) views[id] = wait_for_bookings(w.host(), w.port(), {id}, 30s)[id];
  auto ledger = stack.sim().labels();
  if (!ledger) return {"carrier-sim did not list its labels"};
  out = check_ledger_duplicates(*ledger);
  size_t held = 0;
  for (auto& [id, v] : views) {
    if (v.state != "booked") {
      out.push_back("shipment " + id + " is not booked: " + v.describe());
      continue;
    }
    std::vector<std::string> tns;
    for (auto& tn : Json::parse(v.body).items("/tracking_numbers")) tns.push_back(tn.str().value_or("?"));
    std::sort(tns.begin(), tns.end());
    held += tns.size();
    if (tns != ledger->live_tracking_numbers(id))
      out.push_back("shipment " + id + " holds other labels than the carrier sold: " + v.describe());
  }
  for (auto& ref : ledger->references())
    if (!views.count(ref)) out.push_back("label sold under " + ref + ", which no packed order has");
  t->sold = ledger->labels.size();
  t->voided = ledger->voided_count();
  t->live = t->sold - t->voided;
  t->duplicates = ledger->duplicates().size();
  if (t->live != held)
    out.push_back(std::to_string(t->live) + " live labels at the carrier, shipments hold " + std::to_string(held));
  return out;
}

struct DeliveryTally {
  size_t events = 0, entities = 0, deliveries = 0, redelivered = 0;
};

// Every outbox event delivered, per entity in order, correctly signed. Events keep
// coming (SLA timers fire for shipments whose last scan is old), so the comparison
// stops at the last position of this read of the outbox.
std::vector<std::string> check_final_deliveries(HttpClient& c, WebhookReceiver& receiver, const std::string& secret,
                                                DeliveryTally* t) {
  auto feed = read_feed(c);
  const uint64_t last = feed.empty() ? 0 : feed.back().position;
  auto up_to_last = [&] {
    auto u = receiver.unique_deliveries(kHookPath);
    u.erase(std::remove_if(u.begin(), u.end(), [&](auto& d) { return d.position > last; }), u.end());
    return u;
  };
  WebhookReceiver::eventually([&] { return up_to_last().size() >= feed.size(); }, 90s, 50ms);
  auto all = receiver.deliveries(kHookPath);
  t->redelivered = all.size() - receiver.unique_deliveries(kHookPath).size();
  t->deliveries = all.size();
  t->events = feed.size();
  auto unique = up_to_last();
  std::map<std::string, uint64_t> per_subject;
  auto out = delivery_gaps(unique, &per_subject);
  t->entities = per_subject.size();
  for (auto& v : deliveries_match_outbox(unique, feed)) out.push_back(v);
  size_t bad_signatures = 0;
  for (auto& d : all)
    bad_signatures += WebhookReceiver::sign({secret}, d.webhook_id, std::stoll(d.webhook_timestamp), d.body) !=
                      d.webhook_signature;
  if (bad_signatures) out.push_back(std::to_string(bad_signatures) + " deliveries with a bad signature");
  return out;
}

int env_or(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// ---- the test -------------------------------------------------------------------

TEST(Chaos, MixedLoadSurvivesKillsAtRandomAndInjectedPoints) {
  const auto t0 = Clock::now();
  const int kills_wanted = std::max(1, env_or("WAYBILL_CHAOS_KILLS", 20));
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WAYBILL_CHAOS_SEED"); s && *s) seed = std::strtoull(s, nullptr, 10);
  std::cout << "chaos: " << kills_wanted << " kill(s), seed " << seed << " (WAYBILL_CHAOS_SEED=" << seed
            << " to repeat)" << std::endl;
  std::mt19937_64 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

  WebhookReceiver receiver;
  ASSERT_TRUE(receiver.start());
  const std::string secret = WebhookReceiver::new_secret();
  receiver.set_endpoint(kHookPath, {secret});

  // Every block of four kills uses each kind once, in random order.
  std::vector<Mode> modes;
  while (static_cast<int>(modes.size()) < kills_wanted) {
    std::vector<Mode> block = {Mode::random, Mode::commits, Mode::booking, Mode::webhook};
    std::shuffle(block.begin(), block.end(), rng);
    modes.insert(modes.end(), block.begin(), block.end());
  }
  modes.resize(static_cast<size_t>(kills_wanted));
  auto armed_count = [&](Mode m) {
    switch (m) {
      case Mode::commits: return uniform(20, 400);
      case Mode::booking: return uniform(1, 6);
      case Mode::webhook: return uniform(5, 300);
      default: return 0;
    }
  };

  int armed_n = armed_count(modes[0]);
  CarrierStack stack({sim_config(seed), {profile("parcelco"), profile("freightly")}, waybill_extra(modes[0], armed_n)});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  {
    HttpClient c(w.host(), w.port(), 10s);
    auto res = c.post("/v1/subscriptions", "{\"url\":" + quote(receiver.url(kHookPath)) + ",\"secrets\":[" +
                                               quote(secret) + "]}");
    ASSERT_EQ(res.status, 201) << res.describe();
  }

  Oracle oracle;
  Bookings bookings;
  std::vector<std::string> violations;
  std::map<std::string, int> kills_by;
  int not_reached = 0;
  size_t entity_checks = 0;
  // A violation stays visible in every later check (e.g. a delivery gap); report it once.
  std::set<std::string> reported;
  auto add = [&](int cycle, const std::vector<std::string>& found) {
    size_t added = 0;
    for (auto& v : found)
      if (reported.insert(v).second) {
        violations.push_back("kill " + std::to_string(cycle) + ": " + v);
        ++added;
      }
    return added;
  };

  for (int cycle = 1; cycle <= kills_wanted; ++cycle) {
    const Mode mode = modes[static_cast<size_t>(cycle - 1)];
    auto kill = load_until_killed(w, oracle, bookings, cycle, mode, armed_n, rng);
    if (!kill.violation.empty()) violations.push_back("kill " + std::to_string(cycle) + ": " + kill.violation);
    not_reached += kill.not_reached;
    ++kills_by[kill.not_reached ? "random" : mode_name(mode)];
    const std::string how = kill.not_reached ? "random (" + std::string(mode_name(mode)) + " #" +
                                                   std::to_string(armed_n) + " not reached)"
                                             : mode_name(mode);

    // Restart without fault injection and check.
    stack.set_waybill_extra_yaml(waybill_extra(Mode::random, 0));
    ASSERT_TRUE(w.restart()) << "restart after kill " << cycle;
    Verifier verifier(w, oracle, Scope{cycle, kEntitySample, rng()});
    size_t found = add(cycle, verifier.run());
    HttpClient c(w.host(), w.port(), 30s);
    found += add(cycle, check_bookings(c, oracle, bookings, cycle, kEntitySample, rng));
    auto ledger = stack.sim().labels();
    ASSERT_TRUE(ledger);
    found += add(cycle, check_ledger_duplicates(*ledger));
    std::map<std::string, uint64_t> per_subject;
    auto unique = receiver.unique_deliveries(kHookPath);
    found += add(cycle, delivery_gaps(unique, &per_subject));
    entity_checks += verifier.orders_checked() + verifier.shipments_checked();
    std::cout << "kill " << cycle << ": " << how << ", restart, checked " << verifier.orders_checked() << " orders, "
              << verifier.shipments_checked() << " shipments, " << bookings.orders.size() << " booking orders, "
              << ledger->labels.size() << " labels, " << unique.size() << " deliveries over " << per_subject.size()
              << " entities: " << found << " new violation(s)" << std::endl;
    if (violations.size() > 50) break;

    // Arm the next kill's crash point: the checked incarnation is replaced by one that
    // dies there (an idle SIGKILL, not counted).
    if (cycle < kills_wanted && modes[static_cast<size_t>(cycle)] != Mode::random) {
      armed_n = armed_count(modes[static_cast<size_t>(cycle)]);
      w.kill();
      stack.set_waybill_extra_yaml(waybill_extra(modes[static_cast<size_t>(cycle)], armed_n));
      ASSERT_TRUE(w.restart()) << "restart with " << mode_name(modes[static_cast<size_t>(cycle)]);
    }
  }
  const double load_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  // The end: a clean stop keeps everything too; then everything is checked.
  stack.set_waybill_extra_yaml(waybill_extra(Mode::random, 0));
  auto e = w.terminate(15s);
  EXPECT_TRUE(e.exited && e.code == 0) << "SIGTERM: " << e.describe();
  ASSERT_TRUE(w.restart());
  Verifier final_check(w, oracle, Scope{});
  for (auto& v : final_check.run()) violations.push_back("final: " + v);
  HttpClient c(w.host(), w.port(), 30s);
  for (auto& v : check_bookings(c, oracle, bookings, 0, 0, rng)) violations.push_back("final: " + v);

  LabelTally labels;
  for (auto& v : check_final_bookings(stack, c, bookings, &labels)) violations.push_back("final: " + v);
  DeliveryTally events;
  for (auto& v : check_final_deliveries(c, receiver, secret, &events)) violations.push_back("final: " + v);

  auto& k = oracle.counters;
  uint64_t milestones = 0;
  for (auto& [id, s] : oracle.shipments) milestones += s.acked_steps.size();
  const uint64_t acked_ops = k.orders + k.releases + k.allocations + k.packs + k.cancels + k.shipments + k.applied +
                             k.late + k.duplicate + bookings.acked;
  int kills = 0;
  std::string kinds;
  for (auto& [name, n] : kills_by) {
    kills += n;
    kinds += " " + name + "=" + std::to_string(n);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << "chaos summary: kills=" << kills << " (" << kinds.substr(1) << "; injected not reached=" << not_reached
            << ") | acknowledged ops checked=" << acked_ops << " (orders=" << k.orders + 0 << " steps="
            << k.releases + k.allocations + k.cancels << " shipments=" << k.shipments
            << " milestone answers=" << k.applied + k.late + k.duplicate << " distinct milestones=" << milestones
            << " booking orders steps=" << bookings.acked << " packs=" << labels.packs_acked
            << ") entity checks=" << entity_checks + final_check.orders_checked() + final_check.shipments_checked()
            << " status reads=" << oracle.reads_checked << " | labels=" << labels.sold << " live=" << labels.live
            << " voided=" << labels.voided << " duplicates=" << labels.duplicates << " | events checked=" << events.events
            << " entities=" << events.entities << " deliveries=" << events.deliveries
            << " redelivered=" << events.redelivered << " | unknown=" << k.unknown
            << " 503=" << k.unavailable << " unexpected=" << oracle.unexpected.size()
            << " | violations=" << violations.size() << " | " << seconds << " s (load and checks " << load_seconds
            << " s)" << std::endl;

  EXPECT_GE(kills, std::min(kills_wanted, 20));
  EXPECT_GT(k.orders, 0u);
  EXPECT_GT(labels.packs_acked, 0u);
  EXPECT_GT(events.events, 0u);
  for (auto& u : oracle.unexpected) ADD_FAILURE() << "unexpected answer: " << u;
  for (auto& v : violations) ADD_FAILURE() << v;
}

}  // namespace
}  // namespace waybill::itest
