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

/// Adapter limits of one carrier profile copy (order-to-label).
struct O2LCarrierLimits {
  std::string base_url;
  double requests_per_second = 0, burst = 0;
  int max_in_flight = 0;
  size_t queue_capacity = 0;
  int timeout_ms = 0;
};

/// One carrier adapter over an order-to-label phase, from waybill_carrier_* deltas and
/// gauges sampled during the phase.
struct O2LCarrierStats {
  double calls_ok = 0, calls_rejected = 0, calls_in_doubt = 0, calls_failed = 0, calls_refused = 0;
  double attempts = 0, retries = 0;
  double attempts_per_s = 0;
  double mean_attempt_ms = 0;  // waybill's view: dispatch to answer, client pool wait included
  double max_in_flight_seen = 0, max_queue_seen = 0;
  double window_use = 0;       // attempts/s x mean attempt time / max_in_flight (Little's law)
  double rate_use = 0;         // attempts/s / requests_per_second
};

struct O2LLatency {
  uint64_t n = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // ms
};

/// What carrier-sim's GET /labels says after the run.
struct O2LLedger {
  bool ran = false;
  uint64_t labels = 0;             // labels sold (one per package), voided included
  uint64_t voided = 0;
  uint64_t carrier_shipments = 0;  // distinct (carrier, carrier_shipment_id)
  uint64_t references = 0;         // distinct booking references (= waybill shipment ids)
  uint64_t duplicate_references = 0;  // references with more than one carrier shipment
  std::string first_duplicate;
  std::map<std::string, uint64_t> labels_by_carrier;
};

/// One order-to-label phase: "max" (closed loop, as fast as the intake allows) or
/// "paced" (open loop at a fixed order rate).
struct O2LPhase {
  bool ran = false;
  int connections = 0;
  double duration_s = 0;
  double target_rate = 0;          // paced: orders started per second
  uint64_t orders = 0, packs = 0, booked = 0, errors = 0, retries = 0;
  double packs_per_s = 0;
  /// max: shipments booked / (first pack sent -> every carrier call of the phase done, pickups
  /// included), i.e. all the work per label; paced: booked events/s in the steady window.
  double labels_per_s = 0;
  /// Booked events/s in the steady window while packing. In the max phase this runs ahead of
  /// labels_per_s when pickups queue behind bookings and finish after packing stopped.
  double labels_per_s_window = 0;
  double window_s = 0;             // the steady window: first pack + min(2 s, duration / 4) -> last pack
  double work_s = 0;               // first pack sent -> carriers idle
  double backlog_at_end = 0;       // packed, not yet booked, when packing stopped
  double drain_s = 0;              // time after packing until the last booked event arrived
  double cap_wait_share = 0;       // max: share of connection time waiting on the outstanding cap
  double start_lag_p99_ms = 0;     // paced: how late orders started against their schedule
  O2LLatency latency;              // pack sent -> booked event time
  O2LLatency seen;                 // pack sent -> event received by the feed follower
  O2LLatency rated;                // latency of express orders (rated: two carriers quote)
  O2LLatency single;               // latency of ground/overnight orders (one eligible service)
  std::map<std::string, O2LCarrierStats> carriers;
  double calls_per_label = 0;      // carrier HTTP attempts (rate, book, pickup) per booked shipment
  double pool_use = 0;             // carrier connections busy / waybill's client pool per endpoint
  double max_backlog_seen = 0, max_storage_queue_seen = 0;
  double writer_busy = 0;          // share of the phase in group-commit Write()
  double server_cores = 0, sim_cores = 0, client_cores = 0, machine_busy = 0;
  double bookings_booked = 0, bookings_exception = 0, bookings_in_doubt = 0;  // waybill_bookings_total deltas
};

struct OrderToLabelResult {
  bool ran = false;
  std::string note;                // why it did not run, or what went wrong
  std::string sim_binary;
  double carrier_latency_ms = 0;
  bool tracking_feed = false;
  size_t max_outstanding = 0;
  int client_pool_per_endpoint = 0;  // waybill's carrier HTTP client: connections per host:port
  std::map<std::string, O2LCarrierLimits> limits;
  O2LPhase max, paced;
  std::vector<std::pair<std::string, double>> bounds;  // candidate bound -> utilisation (max phase)
  std::string bound;               // the verdict, one line
  O2LLedger ledger;
  uint64_t shipments_booked = 0;   // distinct shipments with a booked event, both phases
  uint64_t packages_booked = 0;    // packages of those shipments (= labels expected)
  uint64_t sold_not_booked = 0;    // references in the ledger without a booked event
  uint64_t booked_not_sold = 0;    // booked events without a label in the ledger
  uint64_t get_checked = 0, get_booked = 0;  // GET /v1/shipments/{id}: booking.state booked
  std::string first_problem;
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
  OrderToLabelResult o2l;
  std::vector<std::string> notes;
  double total_seconds = 0;

  const PhaseResult* phase(const std::string& path, const std::string& transport) const;
};

void print_table(const RunReport& report, std::FILE* out);
bool write_json(const RunReport& report, const std::string& path, std::string* error);

}  // namespace waybill::bench
