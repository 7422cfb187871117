// Baselines measured in the same run, on the same disk, for the same durable
// transition per milestone (state update + milestone + event, fsync before "yes"):
//   * raw RocksDB: WriteBatches of `batch` milestones committed with sync=true from a
//     set of producer threads (RocksDB merges concurrent writers into one WAL write):
//     the ceiling this disk allows for the storage shape waybill uses;
//   * PostgreSQL with synchronous_commit=on: a throwaway local cluster and pgbench
//     running one UPDATE transaction per milestone from several connections.
#pragma once

#include <cstdint>
#include <string>

namespace waybill::bench {

struct BaselineResult {
  bool ran = false;
  std::string skipped;      // why it did not run
  double rate = 0;          // milestones (transactions) per second
  double elapsed_s = 0;
  uint64_t units = 0;
  double mean_latency_ms = 0;  // per commit (RocksDB) or per transaction (PostgreSQL)
  double p99_latency_ms = 0;
  std::string detail;
};

struct RocksBaselineOptions {
  /// Directory for the throwaway database (created, then removed).
  std::string dir;
  double duration_s = 10;
  /// Producer threads, each committing its own WriteBatches. Default: 2.
  int producers = 2;
  /// Milestones per WriteBatch (three puts each). Default: 500.
  int batch = 500;
  /// Value sizes of the three puts. Defaults: close to waybill's encoded records.
  size_t state_bytes = 360, milestone_bytes = 200, event_bytes = 420;
  /// Distinct shipments the state puts overwrite. Default: 100000.
  uint32_t shipments = 100000;
  /// Same RocksDB options waybill uses: LZ4, bloom filters, these sizes.
  size_t block_cache_mb = 256, write_buffer_mb = 64;
  int background_jobs = 2;
  /// fsync every commit. false is a diagnostic: what the same work costs without fsync.
  bool sync = true;
};
BaselineResult run_rocksdb_baseline(const RocksBaselineOptions& options);

struct PgBaselineOptions {
  /// Directory for the throwaway cluster (created, then removed).
  std::string dir;
  /// Directory with initdb, pg_ctl and postgres; empty: look under /usr/lib/postgresql.
  std::string bindir;
  double duration_s = 10;
  /// pgbench client connections. Default: 16.
  int clients = 16;
  /// Rows in the shipments table. Default: 100000.
  uint32_t rows = 100000;
  /// OS user to run the server as when running as root. Default: postgres.
  std::string run_as = "postgres";
  /// Where the cluster's log and pgbench's output go.
  std::string log_path;
};
BaselineResult run_postgres_baseline(const PgBaselineOptions& options);

/// Opens a stopped engine's RocksDB data dir and flushes every column family's memtable
/// (the WAL backlog becomes LZ4 SST files), then returns the bytes of the SST files.
/// Returns 0 and sets `error` if it cannot.
uint64_t compacted_disk_usage(const std::string& dir, std::string* error);

}  // namespace waybill::bench
