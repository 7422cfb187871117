// Baselines in a bench run: raw RocksDB (half before, half after the waybill phases),
// its sync=false diagnostic, and PostgreSQL.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "scenario.hpp"

namespace waybill::bench::detail {

RocksBaselineOptions Runner::rocks_options() const {
  RocksBaselineOptions ro;
  ro.dir = work_ + "/rocksdb-baseline";
  ro.duration_s = o_.baseline_duration_s;
  ro.producers = o_.rocksdb_producers;
  ro.batch = o_.rocksdb_batch;
  // Fixed sizes (about what waybill writes per milestone; see group_commit bytes in the
  // JSON) so that both halves, and runs, do the same work.
  return ro;
}

// Half of the RocksDB baseline's time runs before the waybill phases and half after,
// so a disk that got faster or slower in between shows up as two different figures.
void Runner::run_rocksdb_half(const char* when) {
  if (!o_.run_rocksdb) return;
  auto ro = rocks_options();
  ro.duration_s = std::max(1.0, o_.baseline_duration_s / 2);
  log("baseline (%s): raw RocksDB, %d producers, batches of %d, %.0f s", when, ro.producers, ro.batch, ro.duration_s);
  auto r = run_rocksdb_baseline(ro);
  if (!r.ran) {
    log("baseline: raw RocksDB skipped: %s", r.skipped.c_str());
    if (!report_.rocksdb.ran) report_.rocksdb = r;
    return;
  }
  log("baseline (%s): raw RocksDB %.0f milestones/s", when, r.rate);
  report_.rocksdb_samples.push_back(r.rate);
  if (!report_.rocksdb.ran) {
    report_.rocksdb = r;
    return;
  }
  auto& b = report_.rocksdb;
  double total_s = b.elapsed_s + r.elapsed_s;
  b.units += r.units;
  b.mean_latency_ms = (b.mean_latency_ms * b.elapsed_s + r.mean_latency_ms * r.elapsed_s) / total_s;
  b.p99_latency_ms = std::max(b.p99_latency_ms, r.p99_latency_ms);
  b.elapsed_s = total_s;
  b.rate = static_cast<double>(b.units) / total_s;
  b.detail = r.detail;
}

void Runner::run_baselines() {
  if (o_.run_rocksdb) {
    run_rocksdb_half("after");
    auto ro = rocks_options();
    if (o_.rocksdb_nosync) {
      ro.sync = false;
      ro.duration_s = std::max(1.0, o_.baseline_duration_s / 2);
      report_.rocksdb_nosync = run_rocksdb_baseline(ro);
      log("diagnostic: raw RocksDB without fsync %.0f milestones/s", report_.rocksdb_nosync.rate);
    }
  } else {
    report_.rocksdb.skipped = "--skip rocksdb";
  }
  if (o_.run_postgres) {
    PgBaselineOptions po;
    po.dir = work_ + "/pg-baseline";
    po.bindir = o_.pg_bindir;
    po.duration_s = o_.baseline_duration_s;
    po.clients = o_.pg_clients;
    po.log_path = work_ + "/postgres-baseline.log";
    log("baseline: PostgreSQL, %d clients, %.0f s", po.clients, po.duration_s);
    report_.postgres = run_postgres_baseline(po);
    if (report_.postgres.ran) log("baseline: PostgreSQL %.0f tx/s", report_.postgres.rate);
    else log("baseline: PostgreSQL skipped: %s", report_.postgres.skipped.c_str());
  } else {
    report_.postgres.skipped = "--skip postgres";
  }
}

}  // namespace waybill::bench::detail
