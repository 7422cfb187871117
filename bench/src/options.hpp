// Everything a bench run can be told, with the defaults of the standard scenario.
// Scenario presets (standard, quick, full) only fill in options the command line left alone.
#pragma once

#include <cstddef>
#include <string>

#include "workload.hpp"

namespace waybill::bench {

struct BenchOptions {
  /// standard (< 5 min on 2 cores), quick (< 60 s) or full (1,000,000 shipments for the restart figure).
  std::string scenario = "standard";
  /// waybilld binary.
  std::string server;
  /// YAML config for every engine in the run (waybilld's format); empty: a generated
  /// one with the embedded defaults and log level warn.
  std::string server_config;
  /// Where data dirs go; must be on the disk being measured (not tmpfs). Default: a
  /// fresh directory under $TMPDIR or /var/tmp.
  std::string work_dir;
  bool keep_data = false;
  /// JSON results.
  std::string out = "bench-results/run.json";

  WorkloadOptions workload;
  /// Orders generated (shipments follow, about 1.33 per order, 8-15 milestones each).
  size_t orders = 80000;

  /// HTTP driver.
  int connections = 64;
  int client_threads = 2;
  int ndjson_batch = 500;
  /// Connections (in-process: requests in flight) for NDJSON bulk; with `ndjson_batch`
  /// lines each, keep it under the server's write queue (storage.queue_capacity). Default: 16.
  int ndjson_connections = 16;
  /// Seconds per milestone phase (single and NDJSON, for each transport).
  double duration_s = 20;
  /// Cap in seconds on each intake phase (orders, release, shipments).
  double intake_duration_s = 15;

  /// In-process driver.
  int inproc_concurrency = 64;
  int inproc_threads = 2;

  bool run_http = true, run_inproc = true, run_rocksdb = true, run_postgres = true, run_restart = true,
       run_memory = true, run_o2l = true;

  /// Order-to-label: carrier-sim binary, the carrier profiles copied for it and the
  /// carrier-sim config the test one is derived from (defaults: found next to the bench
  /// binary and in the source tree's configs/).
  std::string sim;
  std::string carrier_profiles;
  std::string sim_config;
  /// Seconds of the closed-loop phase (packing as fast as the intake allows).
  double o2l_duration_s = 12;
  /// Seconds of the open-loop phase.
  double o2l_paced_duration_s = 12;
  /// Connections of the closed-loop phase (each runs create -> release -> pack).
  int o2l_connections = 128;
  /// Packed orders not yet booked beyond which the closed loop pauses (keeps the backlog,
  /// and the drain after the phase, bounded).
  size_t o2l_max_outstanding = 2000;
  /// Orders per second of the open-loop phase; 0: half the closed loop's labels/s.
  double o2l_rate = 0;
  /// carrier-sim latency, fixed, per call (rate, book, pickup).
  double o2l_carrier_latency_ms = 50;
  /// Limits written into the profile copies (0 keeps the profile's value).
  int o2l_max_in_flight = 256;
  double o2l_rps = 5000;
  double o2l_burst = 500;
  /// Let carrier-sim push tracking webhooks for every label (off: booking alone).
  bool o2l_tracking_feed = false;

  /// Stored shipments for the restart-to-ready test.
  size_t restart_shipments = 200000;
  /// Stored shipments activated for the RSS-per-actor figure (at most restart_shipments).
  size_t rss_actors = 100000;
  double ready_timeout_s = 900;

  double baseline_duration_s = 10;
  int rocksdb_producers = 4;
  int rocksdb_batch = 500;
  /// Also run the RocksDB baseline with sync=false (what the disk's fsync costs).
  bool rocksdb_nosync = true;
  int pg_clients = 16;
  std::string pg_bindir;
};

/// Runs what `options` asks for, prints the table and writes the JSON. Returns the
/// process exit code (0 ok, 1 something failed to run).
int run_bench(BenchOptions options);

}  // namespace waybill::bench
