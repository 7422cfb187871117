// Deterministic simulation of the order and shipment actors.
//
// One seed drives one "world": a CAF actor system on the test coordinator (one thread,
// virtual clock), a RocksDB store, a group-commit writer in manual mode, entity
// registries with small resident caps, carrier adapters whose transport is a seeded fake
// carrier, and a client that creates, releases and packs orders, delivers reordered,
// duplicated and late milestones, sweeps idle actors, scans SLA timers and crashes the
// node (every in-memory actor and uncommitted write is dropped, the store survives).
// Every choice - which actor runs next, when the writer commits, when an answer
// arrives, which fault the carrier plays - comes from one std::mt19937_64 seeded with
// the seed, so a failing seed replays exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "waybill/status.hpp"
#include "waybill/storage/store.hpp"

namespace waybill::sim {

struct SimOptions {
  uint64_t seed = 1;
  int orders_min = 2, orders_max = 4;
  int crashes_max = 2;           // crashes during the scenario
  int64_t scenario_ms = 40000;   // virtual time with faults, crashes and passivations
  size_t max_steps = 200000;     // liveness bound per seed
  bool trace = false;            // print the step trace to stderr
};

struct SimResult {
  std::vector<std::string> failures;  // oracle violations, empty when the seed passed
  uint64_t digest = 0;                // hash of the trace and the final store: determinism
  size_t steps = 0;
  size_t crashes = 0;
  size_t commits = 0;
  size_t milestones_acked = 0;
  size_t carrier_calls = 0;
  size_t in_doubt = 0;
  size_t sla_fired = 0;
  size_t passivations = 0;
  size_t stranded = 0;  // work items only a restart picked up again
};

/// Runs one seed against `store`, which must be empty (see wipe()).
SimResult run_seed(const SimOptions& options, storage::Store& store, const std::string& carriers_dir);

/// Deletes every record of every column: a store reused across seeds starts each one
/// empty (opening a fresh RocksDB per seed costs more than the seed itself).
Status wipe(storage::Store& store);

}  // namespace waybill::sim
