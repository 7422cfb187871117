// Crash consistency of the real binary: a mixed load from several keep-alive clients,
// SIGKILL in the middle of it, restart on the same data dir, then every acknowledged
// (2xx) change must be there, exactly once, and no status may have gone backwards.
//
// The load, the oracle and the verifier live in support/crash_load.hpp (shared with
// chaos_test, which adds carrier bookings, webhooks and injected crash points).
//
//   WAYBILL_CRASH_CYCLES  kill/restart cycles (default 3)
//   WAYBILL_CRASH_SEED    seed of the random choices (default: random, printed)
//   WAYBILL_CRASH_CONFIG  YAML file for the server (default: embedded defaults)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "crash_load.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;
using namespace crash;

constexpr int kThreads = 4;

// ---- the test -------------------------------------------------------------------

TEST(CrashConsistency, AcknowledgedWorkSurvivesSigkill) {
  const int cycles = std::max(1, env_int("WAYBILL_CRASH_CYCLES", 3));
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WAYBILL_CRASH_SEED"); s && *s) seed = std::strtoull(s, nullptr, 10);
  std::cout << "crash test: " << cycles << " cycle(s), " << kThreads << " clients, seed " << seed
            << " (WAYBILL_CRASH_SEED=" << seed << " to repeat)" << std::endl;
  std::mt19937_64 rng(seed);

  ServerProcess::Options options;
  if (const char* path = std::getenv("WAYBILL_CRASH_CONFIG"); path && *path) {
    std::ifstream in(path);
    ASSERT_TRUE(in) << "cannot read WAYBILL_CRASH_CONFIG " << path;
    std::stringstream text;
    text << in.rdbuf();
    options.config_yaml = text.str();
    std::cout << "server config from " << path << ":\n" << options.config_yaml << std::endl;
  }
  ServerProcess server(options);
  ASSERT_TRUE(server.start());
  Oracle oracle;
  std::vector<std::string> violations;
  double load_seconds = 0;

  for (int cycle = 1; cycle <= cycles; ++cycle) {
    const auto load_for = std::chrono::milliseconds(std::uniform_int_distribution<int>(1000, 3000)(rng));
    std::atomic<bool> stop{false};
    LoadContext ctx{server.host(), server.port(), cycle, &oracle, &stop};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      uint64_t thread_seed = rng();
      threads.emplace_back([ctx, t, thread_seed] { Worker(ctx, t, thread_seed).run(); });
    }
    std::this_thread::sleep_for(load_for);
    server.kill();  // SIGKILL, requests in flight
    stop = true;
    for (auto& t : threads) t.join();
    load_seconds += std::chrono::duration<double>(load_for).count();

    ASSERT_TRUE(server.restart()) << "restart after kill " << cycle;
    Verifier verifier(server, oracle, Scope{cycle, 300, rng()});
    auto found = verifier.run();
    for (auto& v : found) violations.push_back("cycle " + std::to_string(cycle) + ": " + v);
    std::cout << "cycle " << cycle << ": load " << load_for.count() << " ms, SIGKILL, restart, verified "
              << verifier.orders_checked() << "/" << oracle.orders.size() << " orders and "
              << verifier.shipments_checked() << "/" << oracle.shipments.size() << " shipments: " << found.size()
              << " violation(s)" << std::endl;
    if (violations.size() > 50) break;
  }

  // A clean stop keeps everything too.
  auto e = server.terminate(15s);
  EXPECT_TRUE(e.exited && e.code == 0) << "SIGTERM: " << e.describe();
  ASSERT_TRUE(server.restart());
  Verifier final_check(server, oracle, Scope{});
  for (auto& v : final_check.run()) violations.push_back("after SIGTERM: " + v);
  std::cout << "after SIGTERM and restart: verified all " << final_check.orders_checked() << " orders and "
            << final_check.shipments_checked() << " shipments" << std::endl;

  auto& c = oracle.counters;
  uint64_t milestones = 0;
  for (auto& [id, s] : oracle.shipments) milestones += s.acked_steps.size();
  std::cout << "crash test summary: cycles=" << cycles << " load=" << load_seconds << "s"
            << " | acknowledged: orders=" << c.orders << " releases=" << c.releases
            << " allocations=" << c.allocations << " packs=" << c.packs << " cancels=" << c.cancels
            << " shipments=" << c.shipments << " milestone_answers(applied=" << c.applied << " late=" << c.late
            << " duplicate=" << c.duplicate << ") distinct_milestones=" << milestones
            << " single_posts=" << c.single_posts << " ndjson_posts=" << c.ndjson_posts
            << " keyed_requests=" << oracle.keyed.size() << " create_replays=" << c.create_replays
            << " milestone_replays=" << c.duplicate_replays << " | unknown(in flight at kill)=" << c.unknown
            << " 503=" << c.unavailable << " unexpected=" << oracle.unexpected.size()
            << " violations=" << violations.size() << std::endl;

  EXPECT_GT(c.orders, 0u);
  EXPECT_GT(milestones, 0u);
  for (auto& u : oracle.unexpected) ADD_FAILURE() << "unexpected answer: " << u;
  for (auto& v : violations) ADD_FAILURE() << v;
}

}  // namespace
}  // namespace waybill::itest
