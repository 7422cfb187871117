// What a run measured, printed as a table and written as JSON.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "baselines.hpp"
#include "server.hpp"
#include "threads.hpp"

namespace waybill::bench {

struct PhaseResult {
  std::string path;       // "orders", "release", "shipments", "milestones_single", "milestones_ndjson"
  std::string transport;  // "http" or "inproc"
  std::string unit;       // what `rate` counts: "orders", "shipments", "milestones"
  int concurrency = 0;    // connections / requests in flight
  double rate = 0;        // units answered 2xx per second
  double requests_per_s = 0;
  double elapsed_s = 0;
  uint64_t units = 0, requests = 0, errors = 0;
  bool source_dry = false;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  uint64_t applied = 0, late = 0, duplicate = 0, rejected = 0;
  std::map<int, uint64_t> statuses;
  std::string first_error;
  std::string first_rejection;  // first rejected tracking line
  CommitStats commits;      // group commit during the phase
  double server_cpu_cores = 0;  // server (or this process, in-process) CPU seconds / elapsed
  double client_cpu_cores = 0;  // this process's CPU (HTTP runs only)
  ProcessProfile profile;       // per-thread sampling of the engine's process
  double machine_busy_cores = 0;  // every process on the machine, /proc/stat
};

struct MemoryResult {
  bool ran = false;
  std::string note;
  uint64_t actors = 0;              // resident shipment actors added
  double bytes_per_actor = 0;       // RSS slope over the second half (caches warm)
  double bytes_per_actor_all = 0;   // RSS delta over all activations / actors
  uint64_t rss_before = 0, rss_half = 0, rss_after = 0;
  uint64_t resident_before = 0, resident_half = 0, resident_after = 0;
  double activation_rate = 0;       // activations per second over HTTP
};

struct RestartResult {
  bool ran = false;
  std::string note;
  uint64_t shipments = 0, orders = 0;
  double load_seconds = 0;          // creating the data set in-process
  double load_rate = 0;             // shipments per second while loading
  uint64_t disk_bytes = 0;
  uint64_t compacted_bytes = 0;     // after a flush (SST only)
  double ready_ms = 0;              // waybilld start to /readyz 200
  double empty_ready_ms = 0;        // same on an empty data dir, for scale
  uint64_t wal_bytes = 0;           // WAL the first start had to replay
  double flushed_ready_ms = 0;      // start to ready again after a flush (no WAL backlog)
};

struct RunReport {
  std::string scenario;
  std::string started_at;
  uint64_t seed = 0;
  unsigned cores = 0;
  std::string server_binary;
  std::string work_dir;
  int connections = 0;
  int ndjson_batch = 0;
  double duration_s = 0;
  std::map<std::string, double> workload;  // sizes and shares
  std::vector<PhaseResult> phases;
  // HTTP server after its run.
  uint64_t server_rss = 0;
  uint64_t server_resident_shipments = 0;
  uint64_t http_shipments = 0;
  uint64_t http_disk_bytes = 0;
  uint64_t http_compacted_bytes = 0;
  double http_milestones_per_shipment = 0;
  double registration_rss_per_actor = 0;  // RSS delta / resident delta across the shipments phase
  int server_exit_code = 0;
  std::map<std::string, double> server_counters;  // milestones_total{outcome}, write failures, ...
  BaselineResult rocksdb, postgres;
  BaselineResult rocksdb_nosync;  // diagnostic: the RocksDB baseline without fsync
  std::vector<double> rocksdb_samples;  // rate of each half (before / after the waybill phases)
  int ndjson_connections = 0;
  RestartResult restart;
  MemoryResult memory;
  std::vector<std::string> notes;
  double total_seconds = 0;

  const PhaseResult* phase(const std::string& path, const std::string& transport) const;
};

void print_table(const RunReport& report, std::FILE* out);
bool write_json(const RunReport& report, const std::string& path, std::string* error);

}  // namespace waybill::bench
