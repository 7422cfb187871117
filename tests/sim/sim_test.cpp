// Deterministic simulation runs (see sim_world.hpp). Seeds are split over a few test
// cases so that CTest can run them in parallel. Environment:
//   WAYBILL_SIM_SEED=N      run only seed N (prints its trace with WAYBILL_SIM_TRACE=1)
//   WAYBILL_SIM_SEEDS=K     seeds per run (default 1000), WAYBILL_SIM_FIRST=F first seed (default 1)
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "sim_world.hpp"
#include "test_support.hpp"

namespace waybill::sim {
namespace {

constexpr int kShards = 4;

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string carriers_dir() { return std::string(WAYBILL_SOURCE_DIR) + "/configs/carriers"; }

std::string rerun_hint(uint64_t seed) {
  return "seed=" + std::to_string(seed) + "  rerun: WAYBILL_SIM_SEED=" + std::to_string(seed) +
         " WAYBILL_SIM_TRACE=1 ./waybill_sim_tests --gtest_filter='Sim.Seeds0'  (or: WAYBILL_SIM_SEED=" +
         std::to_string(seed) + " ctest -R Sim.Seeds0)";
}

// One store per test case, emptied before every seed.
struct SimStore {
  testing_support::TempDir dir{"sim"};
  std::unique_ptr<storage::Store> store;
  SimStore() {
    storage::StoreOptions so;
    so.data_dir = dir.str();
    so.block_cache_mb = 4;
    so.write_buffer_mb = 2;
    so.background_jobs = 1;
    auto s = storage::Store::open(so);
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (s) store = std::move(*s);
  }
};

SimResult run_one(SimStore& db, uint64_t seed, bool trace) {
  auto w = wipe(*db.store);
  EXPECT_TRUE(w.ok()) << w.message();
  SimOptions o;
  o.seed = seed;
  o.trace = trace;
  return run_seed(o, *db.store, carriers_dir());
}

void run_shard(int shard) {
  uint64_t only = env_u64("WAYBILL_SIM_SEED", 0);
  uint64_t first = env_u64("WAYBILL_SIM_FIRST", 1);
  uint64_t count = env_u64("WAYBILL_SIM_SEEDS", 1000);
  bool trace = env_u64("WAYBILL_SIM_TRACE", 0) != 0;
  if (only != 0) {
    if (shard != 0) GTEST_SKIP() << "WAYBILL_SIM_SEED runs in shard 0";
    first = only;
    count = 1;
  }
  SimStore db;
  ASSERT_TRUE(db.store);
  auto t0 = std::chrono::steady_clock::now();
  size_t ran = 0, failed = 0, steps = 0, crashes = 0, acked = 0, calls = 0, doubt = 0, sla = 0, passivated = 0, stranded = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    if (only == 0 && static_cast<int>(seed % kShards) != shard) continue;
    auto r = run_one(db, seed, trace);
    ++ran;
    steps += r.steps;
    crashes += r.crashes;
    acked += r.milestones_acked;
    calls += r.carrier_calls;
    doubt += r.in_doubt;
    sla += r.sla_fired;
    passivated += r.passivations;
    stranded += r.stranded;
    if (r.failures.empty()) continue;
    ++failed;
    std::string what;
    for (auto& f : r.failures) what += "\n    " + f;
    ADD_FAILURE() << rerun_hint(seed) << what;
    if (failed >= 5) break;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("sim shard %d: %zu seed(s) in %.2f s, %zu failed; steps %zu, crashes %zu, milestones acked %zu, "
              "carrier calls %zu, bookings in doubt %zu, SLA fired %zu, passivations %zu, restarts for stranded work %zu\n",
              shard, ran, secs, failed, steps, crashes, acked, calls, doubt, sla, passivated, stranded);
}

TEST(Sim, Seeds0) { run_shard(0); }
TEST(Sim, Seeds1) { run_shard(1); }
TEST(Sim, Seeds2) { run_shard(2); }
TEST(Sim, Seeds3) { run_shard(3); }

// A seed replays exactly: same trace, same store.
TEST(Sim, SameSeedSameRun) {
  SimStore db;
  ASSERT_TRUE(db.store);
  for (uint64_t seed : {3u, 17u, 4242u}) {
    auto a = run_one(db, seed, false);
    auto b = run_one(db, seed, false);
    EXPECT_EQ(a.digest, b.digest) << "seed=" << seed << " is not deterministic";
    EXPECT_EQ(a.steps, b.steps) << "seed=" << seed;
  }
}

}  // namespace
}  // namespace waybill::sim
