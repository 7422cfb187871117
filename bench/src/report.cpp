#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

namespace waybill::bench {

namespace {

std::string grouped(double v, int decimals = 0) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(v));
  std::string s(buf), frac;
  auto dot = s.find('.');
  if (dot != std::string::npos) {
    frac = s.substr(dot);
    s = s.substr(0, dot);
  }
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return (v < 0 ? "-" : "") + out + frac;
}

std::string ms(double v) {
  char buf[32];
  if (v <= 0) return "-";
  if (v < 10) std::snprintf(buf, sizeof buf, "%.2f", v);
  else if (v < 100) std::snprintf(buf, sizeof buf, "%.1f", v);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

std::string ratio(double a, double b) {
  if (a <= 0 || b <= 0) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", a / b);
  return buf;
}

std::string mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return buf;
}

const char* label(const std::string& path) {
  if (path == "orders") return "order intake";
  if (path == "release") return "order release";
  if (path == "shipments") return "shipment registration";
  if (path == "milestones_single") return "milestones, single";
  if (path == "milestones_ndjson") return "milestones, NDJSON";
  if (path == "o2l_max") return "order-to-label, max";
  if (path == "o2l_paced") return "order-to-label, paced";
  return path.c_str();
}

std::string num(double v) { return grouped(v); }
std::string num(uint64_t v) { return grouped(static_cast<double>(v)); }

void print_o2l(const OrderToLabelResult& o, std::FILE* out) {
  if (!o.ran) {
    std::fprintf(out, "\nOrder-to-label: not measured: %s\n", o.note.empty() ? "-" : o.note.c_str());
    return;
  }
  std::string lims;
  for (auto& [name, l] : o.limits) {
    char b[160];
    std::snprintf(b, sizeof b, "%s%s max_in_flight %d, %.0f req/s, burst %.0f", lims.empty() ? "" : "; ", name.c_str(),
                  l.max_in_flight, l.requests_per_second, l.burst);
    lims += b;
  }
  std::fprintf(out, "\nOrder-to-label (POST order, release, pack -> rated if several carriers qualify, booked at "
                    "carrier-sim,\n  shipment.booked on the event feed). carrier-sim: fixed %.0f ms per call, no faults, "
                    "tracking feed %s.\n  Profiles: %s; waybill's carrier client: %d connections per host:port.\n",
               o.carrier_latency_ms, o.tracking_feed ? "on" : "off", lims.c_str(), o.client_pool_per_endpoint);
  auto& m = o.max;
  std::fprintf(out, "  %-18s %s labels/s: %s shipments booked in %.1f s from the first pack until every carrier call "
                    "was done\n  %-18s (pickups included); %s/s booked while packing (%.1f s steady window)\n",
               "most labels/s", num(m.labels_per_s).c_str(), num(m.booked).c_str(), m.work_s, "",
               num(m.labels_per_s_window).c_str(), m.window_s);
  std::fprintf(out, "  %-18s %d connections x (create, release, pack), %s orders packed (%s/s), %s booked; %s packed but "
                    "unbooked when packing stopped\n  %-18s (cap %zu, waited on %.0f%% of the time), last booked %.1f s "
                    "after the last pack; pack->booked p50 %s ms, p99 %s ms\n",
               "", m.connections, num(m.packs).c_str(), num(m.packs_per_s).c_str(), num(m.booked).c_str(),
               num(m.backlog_at_end).c_str(), "", o.max_outstanding, 100 * m.cap_wait_share, m.drain_s,
               ms(m.latency.p50).c_str(), ms(m.latency.p99).c_str());
  auto& p = o.paced;
  if (p.ran) {
    std::fprintf(out, "  %-18s open loop at %s orders/s for %.0f s: %s booked (%s labels/s), start lag p99 %s ms, "
                      "%d connections at most\n",
                 "latency", num(p.target_rate).c_str(), p.duration_s, num(p.booked).c_str(),
                 num(p.labels_per_s).c_str(), ms(p.start_lag_p99_ms).c_str(), p.connections);
    std::fprintf(out, "  %-18s pack sent -> booked event time: p50 %s  p90 %s  p99 %s  p99.9 %s  max %s ms (n = %s)\n",
                 "", ms(p.latency.p50).c_str(), ms(p.latency.p90).c_str(), ms(p.latency.p99).c_str(),
                 ms(p.latency.p999).c_str(), ms(p.latency.max).c_str(), num(p.latency.n).c_str());
    std::fprintf(out, "  %-18s pack sent -> event received on the feed: p50 %s  p99 %s ms\n", "", ms(p.seen.p50).c_str(),
                 ms(p.seen.p99).c_str());
    std::fprintf(out, "  %-18s express, rated by 2 carriers then booked: p50 %s  p99 %s ms (n = %s); ground/overnight, "
                      "one eligible service, booked directly: p50 %s  p99 %s ms (n = %s)\n",
                 "", ms(p.rated.p50).c_str(), ms(p.rated.p99).c_str(), num(p.rated.n).c_str(), ms(p.single.p50).c_str(),
                 ms(p.single.p99).c_str(), num(p.single.n).c_str());
  } else {
    std::fprintf(out, "  %-18s not measured\n", "latency");
  }
  std::fprintf(out, "  %-18s %.2f carrier attempts per booked shipment (rate quotes, book, pickup), closed loop:\n",
               "carrier calls", m.calls_per_label);
  for (auto& [name, c] : m.carriers) {
    auto it = o.limits.find(name);
    int limit = it == o.limits.end() ? 0 : it->second.max_in_flight;
    std::fprintf(out, "  %-18s   %-10s %s attempts/s, mean attempt %s ms in waybill, in flight max %s of %d, queue max "
                      "%s; ok %s, rejected %s, in doubt %s, failed %s, refused %s, retries %s\n",
                 "", name.c_str(), num(c.attempts_per_s).c_str(), ms(c.mean_attempt_ms).c_str(),
                 num(c.max_in_flight_seen).c_str(), limit, num(c.max_queue_seen).c_str(), num(c.calls_ok).c_str(),
                 num(c.calls_rejected).c_str(), num(c.calls_in_doubt).c_str(), num(c.calls_failed).c_str(),
                 num(c.calls_refused).c_str(), num(c.retries).c_str());
  }
  std::fprintf(out, "  %-18s %s\n", "bound", o.bound.c_str());
  auto bounds = o.bounds;
  std::sort(bounds.begin(), bounds.end(), [](auto& a, auto& b) { return a.second > b.second; });
  for (auto& [what, use] : bounds) std::fprintf(out, "  %-18s   %4.0f%%  %s\n", "", 100 * use, what.c_str());
  auto& l = o.ledger;
  if (l.ran) {
    std::fprintf(out, "  %-18s %s labels sold (carrier-sim GET /labels, %s voided) for %s references in %s carrier "
                      "shipments:\n  %-18s %s duplicate references (more than one carrier shipment for one reference)%s%s\n",
                 "labels", num(l.labels).c_str(), num(l.voided).c_str(), num(l.references).c_str(),
                 num(l.carrier_shipments).c_str(), "", num(l.duplicate_references).c_str(),
                 l.first_duplicate.empty() ? "" : ", first: ", l.first_duplicate.c_str());
  }
  std::fprintf(out, "  %-18s %s shipments booked (booked events) with %s packages; sold without a booked event %s, "
                    "booked without a label %s;\n  %-18s GET /v1/shipments/{id}: %s of %s booked\n",
               "", num(o.shipments_booked).c_str(), num(o.packages_booked).c_str(), num(o.sold_not_booked).c_str(),
               num(o.booked_not_sold).c_str(), "", num(o.get_booked).c_str(), num(o.get_checked).c_str());
  std::fprintf(out, "  %-18s waybill_bookings_total over both phases: booked %s, exception %s, in doubt %s\n", "",
               num(m.bookings_booked + p.bookings_booked).c_str(), num(m.bookings_exception + p.bookings_exception).c_str(),
               num(m.bookings_in_doubt + p.bookings_in_doubt).c_str());
  if (!o.first_problem.empty()) std::fprintf(out, "  first problem: %s\n", o.first_problem.substr(0, 300).c_str());
  if (!o.note.empty()) std::fprintf(out, "  note: %s\n", o.note.c_str());
}

}  // namespace

const PhaseResult* RunReport::phase(const std::string& path, const std::string& transport) const {
  for (auto& p : phases)
    if (p.path == path && p.transport == transport) return &p;
  return nullptr;
}

void print_table(const RunReport& r, std::FILE* out) {
  std::fprintf(out, "\nwaybill-bench: scenario %s, seed %llu, %u cores, %d connections (NDJSON: %d x %d lines), "
                    "%.0f s per milestone phase, fsync on every commit\n",
               r.scenario.c_str(), static_cast<unsigned long long>(r.seed), r.cores, r.connections,
               r.ndjson_connections, r.ndjson_batch, r.duration_s);
  std::fprintf(out, "Figures are from one run on a shared machine: compare them as ratios to the baselines "
                    "measured in the same run.\n\n");
  std::fprintf(out, "%-22s %-6s %4s %9s %8s %7s %7s %7s %8s %6s %9s %13s %9s %7s %5s %5s\n", "path", "via", "conc",
               "units/s", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors", "commits/s", "batch avg/p99",
               "commit ms", "wr busy", "cpu s", "cpu c");
  for (auto& p : r.phases) {
    double commits_per_s = p.elapsed_s > 0 ? p.commits.batches / p.elapsed_s : 0;
    char batch[32];
    std::snprintf(batch, sizeof batch, "%.0f/%.0f", p.commits.mean_batch(), p.commits.batch_quantile(0.99));
    char cpu_s[16], cpu_c[16];
    std::snprintf(cpu_s, sizeof cpu_s, "%.2f", p.server_cpu_cores);
    if (p.transport == "http") std::snprintf(cpu_c, sizeof cpu_c, "%.2f", p.client_cpu_cores);
    else std::snprintf(cpu_c, sizeof cpu_c, "-");
    char busy[16];
    std::snprintf(busy, sizeof busy, "%.0f%%", p.elapsed_s > 0 ? 100 * p.commits.commit_seconds / p.elapsed_s : 0.0);
    std::fprintf(out, "%-22s %-6s %4d %9s %8s %7s %7s %7s %8s %6s %9s %13s %9s %7s %5s %5s%s\n", label(p.path),
                 p.transport.c_str(), p.concurrency, grouped(p.rate).c_str(), grouped(p.requests_per_s).c_str(),
                 ms(p.p50_ms).c_str(), ms(p.p90_ms).c_str(), ms(p.p99_ms).c_str(), ms(p.p999_ms).c_str(),
                 grouped(static_cast<double>(p.errors)).c_str(), grouped(commits_per_s).c_str(), batch,
                 ms(p.commits.mean_commit_ms()).c_str(), busy, cpu_s, cpu_c, p.source_dry ? "  (workload ran out)" : "");
  }
  std::fprintf(out, "  units/s counts requests answered 2xx (milestones: lines applied, late or duplicate); errors = "
                    "failed requests + rejected lines.\n  commits/s, batch (write requests per RocksDB WriteBatch), "
                    "commit ms (Write + fsync) and wr busy (share of the\n  phase the writer spent inside Write) come "
                    "from the engine's metrics. cpu s = cores used by the server (in-process:\n  by this whole process), "
                    "cpu c = cores used by the HTTP client.\n");
  if (std::any_of(r.phases.begin(), r.phases.end(), [](auto& p) { return p.unit == "labels"; }))
    std::fprintf(out, "  order-to-label rows: units/s = shipments booked per second, req/s = create + release + pack "
                      "requests,\n  p50 ... p99.9 = pack request sent -> shipment.booked event time (max: under "
                      "saturation; paced: the latency figure).\n");
  for (auto& p : r.phases) {
    if (!p.first_error.empty())
      std::fprintf(out, "  first error, %s %s: %s\n", label(p.path), p.transport.c_str(), p.first_error.substr(0, 200).c_str());
    if (!p.first_rejection.empty())
      std::fprintf(out, "  first rejected line, %s %s: %s\n", label(p.path), p.transport.c_str(),
                   p.first_rejection.substr(0, 200).c_str());
  }

  bool any_inproc = false;
  for (auto& p : r.phases) any_inproc = any_inproc || p.transport == "inproc";
  if (any_inproc) {
    std::fprintf(out, "\nHTTP / in-process throughput (1.00x = HTTP costs nothing):\n");
    for (const char* path : {"orders", "release", "shipments", "milestones_single", "milestones_ndjson"}) {
      auto* h = r.phase(path, "http");
      auto* i = r.phase(path, "inproc");
      if (h && i) std::fprintf(out, "  %-22s %s\n", label(path), ratio(h->rate, i->rate).c_str());
    }
  }

  std::fprintf(out, "\nWhere the engine's time goes (per-thread /proc sampling every 10 ms; in-process rows include "
                    "the driver's threads under 'other'):\n");
  for (auto& p : r.phases)
    if (!p.profile.threads.empty())
      std::fprintf(out, "  %-22s %-6s %s | machine %.2f of %u cores busy, %.2f of them ours\n", label(p.path),
                   p.transport.c_str(), p.profile.summary().c_str(), p.machine_busy_cores, r.cores,
                   p.server_cpu_cores + p.client_cpu_cores);

  std::fprintf(out, "\nMilestone outcomes (applied / late / duplicate / rejected):\n");
  for (auto& p : r.phases) {
    if (p.unit != "milestones") continue;
    std::fprintf(out, "  %-22s %-6s %s / %s / %s / %s\n", label(p.path), p.transport.c_str(),
                 grouped(static_cast<double>(p.applied)).c_str(), grouped(static_cast<double>(p.late)).c_str(),
                 grouped(static_cast<double>(p.duplicate)).c_str(), grouped(static_cast<double>(p.rejected)).c_str());
  }

  print_o2l(r.o2l, out);

  std::fprintf(out, "\nBaselines (same disk, same run; one durable state + milestone + event transition per milestone):\n");
  auto base = [&](const char* name, const BaselineResult& b) {
    if (!b.ran) {
      std::fprintf(out, "  %-34s skipped: %s\n", name, b.skipped.c_str());
      return;
    }
    std::fprintf(out, "  %-34s %11s milestones/s  (mean %s ms, %s)\n", name, grouped(b.rate).c_str(),
                 ms(b.mean_latency_ms).c_str(), b.detail.c_str());
  };
  base("raw RocksDB group commit, fsync", r.rocksdb);
  if (r.rocksdb_samples.size() > 1) {
    std::string s;
    for (double v : r.rocksdb_samples) s += (s.empty() ? "" : " / ") + grouped(v);
    std::fprintf(out, "  %-34s %s milestones/s (before / after the waybill phases: the disk's drift)\n", "", s.c_str());
  }
  base("PostgreSQL, synchronous_commit=on", r.postgres);
  if (r.rocksdb_nosync.ran || !r.rocksdb_nosync.skipped.empty())
    base("(diagnostic) raw RocksDB, no fsync", r.rocksdb_nosync);
  std::fprintf(out, "\n%-34s %11s %14s %14s\n", "waybill milestones/s", "", "/ RocksDB raw", "/ PostgreSQL");
  for (const char* tr : {"http", "inproc"}) {
    for (const char* path : {"milestones_ndjson", "milestones_single"}) {
      auto* p = r.phase(path, tr);
      if (!p) continue;
      std::string name = std::string(label(path)) + " (" + tr + ")";
      std::fprintf(out, "  %-32s %11s %14s %14s\n", name.c_str(), grouped(p->rate).c_str(),
                   r.rocksdb.ran ? ratio(p->rate, r.rocksdb.rate).c_str() : "skipped",
                   r.postgres.ran ? ratio(p->rate, r.postgres.rate).c_str() : "skipped");
    }
  }

  std::fprintf(out, "\nMemory and disk:\n");
  if (r.server_rss)
    std::fprintf(out, "  server RSS after the HTTP run       %s with %s resident shipment actors\n",
                 mib(static_cast<double>(r.server_rss)).c_str(),
                 grouped(static_cast<double>(r.server_resident_shipments)).c_str());
  if (r.memory.ran)
    std::fprintf(out, "  RSS per resident shipment actor     %s B  (activating %s stored shipments: slope over the "
                      "second half %s B, whole delta / actors %s B)\n",
                 grouped(r.memory.bytes_per_actor).c_str(), grouped(static_cast<double>(r.memory.actors)).c_str(),
                 grouped(r.memory.bytes_per_actor).c_str(), grouped(r.memory.bytes_per_actor_all).c_str());
  else if (!r.memory.note.empty())
    std::fprintf(out, "  RSS per resident shipment actor     not measured: %s\n", r.memory.note.c_str());
  if (r.registration_rss_per_actor > 0)
    std::fprintf(out, "  RSS growth per registered shipment  %s B  (during HTTP registration; includes memtables)\n",
                 grouped(r.registration_rss_per_actor).c_str());
  if (r.http_shipments)
    std::fprintf(out, "  disk per shipment (HTTP run)        %s B  (%s shipments with %.1f milestones each on average, "
                      "their orders and outbox events; %s in all)\n",
                 grouped(static_cast<double>(r.http_disk_bytes) / static_cast<double>(r.http_shipments)).c_str(),
                 grouped(static_cast<double>(r.http_shipments)).c_str(), r.http_milestones_per_shipment,
                 mib(static_cast<double>(r.http_disk_bytes)).c_str());
  if (r.http_compacted_bytes && r.http_shipments)
    std::fprintf(out, "    same, after a flush               %s B  (SST files only, LZ4; %s)\n",
                 grouped(static_cast<double>(r.http_compacted_bytes) / static_cast<double>(r.http_shipments)).c_str(),
                 mib(static_cast<double>(r.http_compacted_bytes)).c_str());
  if (r.restart.ran && r.restart.shipments) {
    std::fprintf(out, "  disk per shipment (restart set)     %s B  (%s registered shipments and their orders, no "
                      "milestones; %s in all, mostly WAL)\n",
                 grouped(static_cast<double>(r.restart.disk_bytes) / static_cast<double>(r.restart.shipments)).c_str(),
                 grouped(static_cast<double>(r.restart.shipments)).c_str(),
                 mib(static_cast<double>(r.restart.disk_bytes)).c_str());
    if (r.restart.compacted_bytes && r.restart.shipments)
      std::fprintf(out, "    same, after a flush               %s B  (SST files only, LZ4; %s)\n",
                   grouped(static_cast<double>(r.restart.compacted_bytes) / static_cast<double>(r.restart.shipments)).c_str(),
                   mib(static_cast<double>(r.restart.compacted_bytes)).c_str());
    std::fprintf(out, "\nRestart-to-ready: %s ms with %s stored shipments (%s ms on an empty data dir); the data set was "
                      "loaded in-process at %s shipments/s.\n",
                 ms(r.restart.ready_ms).c_str(), grouped(static_cast<double>(r.restart.shipments)).c_str(),
                 ms(r.restart.empty_ready_ms).c_str(), grouped(r.restart.load_rate).c_str());
    std::fprintf(out, "  The engine left %s of write-ahead log to replay. After a flush of the same data: "
                      "%s ms.\n",
                 mib(static_cast<double>(r.restart.wal_bytes)).c_str(), ms(r.restart.flushed_ready_ms).c_str());
  } else if (!r.restart.note.empty()) {
    std::fprintf(out, "\nRestart-to-ready: not measured: %s\n", r.restart.note.c_str());
  }
  for (auto& n : r.notes) std::fprintf(out, "note: %s\n", n.c_str());
  std::fprintf(out, "\nTotal %.0f s.\n", r.total_seconds);
}

namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void kv(Writer& w, const char* k, double v) {
  w.Key(k);
  if (std::isfinite(v)) w.Double(v);
  else w.Null();
}
void kv(Writer& w, const char* k, uint64_t v) { w.Key(k); w.Uint64(v); }
void kv(Writer& w, const char* k, int v) { w.Key(k); w.Int(v); }
void kv(Writer& w, const char* k, bool v) { w.Key(k); w.Bool(v); }
void kv(Writer& w, const char* k, const std::string& v) { w.Key(k); w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size())); }

void latency(Writer& w, const char* key, const O2LLatency& l) {
  w.Key(key);
  w.StartObject();
  kv(w, "n", l.n);
  kv(w, "p50_ms", l.p50);
  kv(w, "p90_ms", l.p90);
  kv(w, "p99_ms", l.p99);
  kv(w, "p999_ms", l.p999);
  kv(w, "max_ms", l.max);
  w.EndObject();
}

void o2l_phase(Writer& w, const char* key, const O2LPhase& p) {
  w.Key(key);
  w.StartObject();
  kv(w, "ran", p.ran);
  kv(w, "connections", p.connections);
  kv(w, "duration_s", p.duration_s);
  kv(w, "target_orders_per_s", p.target_rate);
  kv(w, "orders", p.orders);
  kv(w, "packs", p.packs);
  kv(w, "booked", p.booked);
  kv(w, "errors", p.errors);
  kv(w, "retries", p.retries);
  kv(w, "packs_per_s", p.packs_per_s);
  kv(w, "labels_per_s", p.labels_per_s);
  kv(w, "labels_per_s_while_packing", p.labels_per_s_window);
  kv(w, "work_s", p.work_s);
  kv(w, "steady_window_s", p.window_s);
  kv(w, "backlog_at_end", p.backlog_at_end);
  kv(w, "drain_s", p.drain_s);
  kv(w, "cap_wait_share", p.cap_wait_share);
  kv(w, "start_lag_p99_ms", p.start_lag_p99_ms);
  latency(w, "pack_to_booked_event", p.latency);
  latency(w, "pack_to_event_received", p.seen);
  latency(w, "rated_express", p.rated);
  latency(w, "single_service", p.single);
  kv(w, "carrier_attempts_per_label", p.calls_per_label);
  kv(w, "client_pool_use", p.pool_use);
  kv(w, "max_booking_backlog", p.max_backlog_seen);
  kv(w, "max_storage_queue", p.max_storage_queue_seen);
  kv(w, "writer_busy_share", p.writer_busy);
  kv(w, "server_cpu_cores", p.server_cores);
  kv(w, "sim_cpu_cores", p.sim_cores);
  kv(w, "client_cpu_cores", p.client_cores);
  kv(w, "machine_busy_cores", p.machine_busy);
  w.Key("bookings_total");
  w.StartObject();
  kv(w, "booked", p.bookings_booked);
  kv(w, "exception", p.bookings_exception);
  kv(w, "in_doubt", p.bookings_in_doubt);
  w.EndObject();
  w.Key("carriers");
  w.StartObject();
  for (auto& [name, c] : p.carriers) {
    w.Key(name.c_str());
    w.StartObject();
    kv(w, "calls_ok", c.calls_ok);
    kv(w, "calls_rejected", c.calls_rejected);
    kv(w, "calls_in_doubt", c.calls_in_doubt);
    kv(w, "calls_failed", c.calls_failed);
    kv(w, "calls_refused", c.calls_refused);
    kv(w, "attempts", c.attempts);
    kv(w, "retries", c.retries);
    kv(w, "attempts_per_s", c.attempts_per_s);
    kv(w, "mean_attempt_ms", c.mean_attempt_ms);
    kv(w, "max_in_flight_seen", c.max_in_flight_seen);
    kv(w, "max_queue_seen", c.max_queue_seen);
    kv(w, "window_use", c.window_use);
    kv(w, "rate_use", c.rate_use);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
}

void o2l(Writer& w, const OrderToLabelResult& o) {
  w.Key("order_to_label");
  w.StartObject();
  kv(w, "ran", o.ran);
  if (!o.note.empty()) kv(w, "note", o.note);
  kv(w, "sim_binary", o.sim_binary);
  kv(w, "carrier_latency_ms", o.carrier_latency_ms);
  kv(w, "tracking_feed", o.tracking_feed);
  kv(w, "max_outstanding", static_cast<uint64_t>(o.max_outstanding));
  kv(w, "client_pool_per_endpoint", o.client_pool_per_endpoint);
  w.Key("profiles");
  w.StartObject();
  for (auto& [name, l] : o.limits) {
    w.Key(name.c_str());
    w.StartObject();
    kv(w, "base_url", l.base_url);
    kv(w, "requests_per_second", l.requests_per_second);
    kv(w, "burst", l.burst);
    kv(w, "max_in_flight", l.max_in_flight);
    kv(w, "queue_capacity", static_cast<uint64_t>(l.queue_capacity));
    kv(w, "timeout_ms", l.timeout_ms);
    w.EndObject();
  }
  w.EndObject();
  o2l_phase(w, "max", o.max);
  o2l_phase(w, "paced", o.paced);
  kv(w, "bound", o.bound);
  w.Key("utilisation");
  w.StartObject();
  for (auto& [what, use] : o.bounds) kv(w, what.c_str(), use);
  w.EndObject();
  w.Key("labels");
  w.StartObject();
  kv(w, "checked", o.ledger.ran);
  kv(w, "labels_sold", o.ledger.labels);
  kv(w, "voided", o.ledger.voided);
  kv(w, "carrier_shipments", o.ledger.carrier_shipments);
  kv(w, "references", o.ledger.references);
  kv(w, "duplicate_references", o.ledger.duplicate_references);
  if (!o.ledger.first_duplicate.empty()) kv(w, "first_duplicate", o.ledger.first_duplicate);
  w.Key("labels_by_carrier");
  w.StartObject();
  for (auto& [c, n] : o.ledger.labels_by_carrier) kv(w, c.c_str(), n);
  w.EndObject();
  kv(w, "shipments_booked", o.shipments_booked);
  kv(w, "packages_booked", o.packages_booked);
  kv(w, "sold_not_booked", o.sold_not_booked);
  kv(w, "booked_not_sold", o.booked_not_sold);
  kv(w, "get_checked", o.get_checked);
  kv(w, "get_booked", o.get_booked);
  if (!o.first_problem.empty()) kv(w, "first_problem", o.first_problem);
  w.EndObject();
  w.EndObject();
}

void baseline(Writer& w, const char* key, const BaselineResult& b) {
  w.Key(key);
  w.StartObject();
  kv(w, "ran", b.ran);
  if (!b.ran) kv(w, "skipped", b.skipped);
  kv(w, "milestones_per_s", b.rate);
  kv(w, "elapsed_s", b.elapsed_s);
  kv(w, "units", b.units);
  kv(w, "mean_latency_ms", b.mean_latency_ms);
  kv(w, "p99_latency_ms", b.p99_latency_ms);
  kv(w, "detail", b.detail);
  w.EndObject();
}

}  // namespace

bool write_json(const RunReport& r, const std::string& path, std::string* error) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.SetMaxDecimalPlaces(3);
  w.StartObject();
  kv(w, "scenario", r.scenario);
  kv(w, "started_at", r.started_at);
  kv(w, "seed", r.seed);
  kv(w, "cores", static_cast<uint64_t>(r.cores));
  kv(w, "server_binary", r.server_binary);
  kv(w, "connections", r.connections);
  kv(w, "ndjson_batch", r.ndjson_batch);
  kv(w, "ndjson_connections", r.ndjson_connections);
  kv(w, "duration_s", r.duration_s);
  kv(w, "total_seconds", r.total_seconds);
  w.Key("workload");
  w.StartObject();
  for (auto& [k, v] : r.workload) kv(w, k.c_str(), v);
  w.EndObject();
  w.Key("phases");
  w.StartArray();
  for (auto& p : r.phases) {
    w.StartObject();
    kv(w, "path", p.path);
    kv(w, "transport", p.transport);
    kv(w, "unit", p.unit);
    kv(w, "concurrency", p.concurrency);
    kv(w, "rate_per_s", p.rate);
    kv(w, "requests_per_s", p.requests_per_s);
    kv(w, "elapsed_s", p.elapsed_s);
    kv(w, "units", p.units);
    kv(w, "requests", p.requests);
    kv(w, "errors", p.errors);
    kv(w, "workload_ran_out", p.source_dry);
    w.Key("latency_ms");
    w.StartObject();
    kv(w, "p50", p.p50_ms);
    kv(w, "p90", p.p90_ms);
    kv(w, "p99", p.p99_ms);
    kv(w, "p999", p.p999_ms);
    kv(w, "max", p.max_ms);
    w.EndObject();
    if (p.unit == "milestones") {
      w.Key("outcomes");
      w.StartObject();
      kv(w, "applied", p.applied);
      kv(w, "late", p.late);
      kv(w, "duplicate", p.duplicate);
      kv(w, "rejected", p.rejected);
      w.EndObject();
    }
    w.Key("http_statuses");
    w.StartObject();
    for (auto& [st, n] : p.statuses) kv(w, std::to_string(st).c_str(), n);
    w.EndObject();
    if (!p.first_error.empty()) kv(w, "first_error", p.first_error);
    if (!p.first_rejection.empty()) kv(w, "first_rejected_line", p.first_rejection);
    w.Key("group_commit");
    w.StartObject();
    kv(w, "batches", p.commits.batches);
    kv(w, "requests", p.commits.requests);
    kv(w, "bytes", p.commits.bytes);
    kv(w, "commit_seconds", p.commits.commit_seconds);
    kv(w, "mean_batch_requests", p.commits.mean_batch());
    kv(w, "p50_batch_requests", p.commits.batch_quantile(0.5));
    kv(w, "p99_batch_requests", p.commits.batch_quantile(0.99));
    kv(w, "mean_commit_ms", p.commits.mean_commit_ms());
    kv(w, "writer_busy_share", p.elapsed_s > 0 ? p.commits.commit_seconds / p.elapsed_s : 0.0);
    w.Key("batch_size_histogram");
    w.StartObject();
    for (auto& [bound, n] : p.commits.batch_size_buckets)
      kv(w, bound > 1e299 ? "+Inf" : grouped(bound).c_str(), n);
    w.EndObject();
    w.EndObject();
    w.Key("threads");
    w.StartArray();
    for (auto& t : p.profile.threads) {
      if (t.cpu_cores < 0.005 && t.role != "writer") continue;
      w.StartObject();
      kv(w, "tid", static_cast<uint64_t>(t.tid));
      kv(w, "comm", t.comm);
      kv(w, "role", t.role);
      kv(w, "cpu_cores", t.cpu_cores);
      kv(w, "runnable", t.running);
      kv(w, "in_fsync", t.in_fsync);
      kv(w, "in_write", t.in_write);
      kv(w, "waiting", t.blocked_other);
      w.EndObject();
    }
    w.EndArray();
    kv(w, "machine_busy_cores", p.machine_busy_cores);
    kv(w, "server_cpu_cores", p.server_cpu_cores);
    kv(w, "client_cpu_cores", p.client_cpu_cores);
    w.EndObject();
  }
  w.EndArray();
  w.Key("ratios");
  w.StartObject();
  for (const char* path : {"orders", "release", "shipments", "milestones_single", "milestones_ndjson"}) {
    auto* h = r.phase(path, "http");
    auto* i = r.phase(path, "inproc");
    if (h && i && i->rate > 0) kv(w, (std::string(path) + "_http_over_inproc").c_str(), h->rate / i->rate);
    for (const char* tr : {"http", "inproc"}) {
      auto* p = r.phase(path, tr);
      if (!p || p->unit != "milestones") continue;
      std::string base = std::string(path) + "_" + tr;
      if (r.rocksdb.ran) kv(w, (base + "_over_rocksdb").c_str(), p->rate / r.rocksdb.rate);
      if (r.postgres.ran) kv(w, (base + "_over_postgres").c_str(), p->rate / r.postgres.rate);
    }
  }
  w.EndObject();
  w.Key("baselines");
  w.StartObject();
  baseline(w, "rocksdb", r.rocksdb);
  baseline(w, "postgres", r.postgres);
  baseline(w, "rocksdb_nosync_diagnostic", r.rocksdb_nosync);
  w.Key("rocksdb_samples");
  w.StartArray();
  for (double v : r.rocksdb_samples) w.Double(v);
  w.EndArray();
  w.EndObject();
  w.Key("server");
  w.StartObject();
  kv(w, "rss_bytes", r.server_rss);
  kv(w, "resident_shipments", r.server_resident_shipments);
  kv(w, "shipments", r.http_shipments);
  kv(w, "disk_bytes", r.http_disk_bytes);
  kv(w, "disk_bytes_per_shipment",
     r.http_shipments ? static_cast<double>(r.http_disk_bytes) / static_cast<double>(r.http_shipments) : 0.0);
  kv(w, "milestones_per_shipment", r.http_milestones_per_shipment);
  kv(w, "compacted_bytes", r.http_compacted_bytes);
  kv(w, "compacted_bytes_per_shipment",
     r.http_shipments ? static_cast<double>(r.http_compacted_bytes) / static_cast<double>(r.http_shipments) : 0.0);
  kv(w, "registration_rss_bytes_per_shipment", r.registration_rss_per_actor);
  kv(w, "exit_code", r.server_exit_code);
  w.Key("counters");
  w.StartObject();
  for (auto& [k, v] : r.server_counters) kv(w, k.c_str(), v);
  w.EndObject();
  w.EndObject();
  o2l(w, r.o2l);
  w.Key("memory");
  w.StartObject();
  kv(w, "ran", r.memory.ran);
  if (!r.memory.note.empty()) kv(w, "note", r.memory.note);
  kv(w, "actors", r.memory.actors);
  kv(w, "rss_bytes_per_shipment_actor", r.memory.bytes_per_actor);
  kv(w, "rss_bytes_per_shipment_actor_whole_delta", r.memory.bytes_per_actor_all);
  kv(w, "rss_before", r.memory.rss_before);
  kv(w, "rss_half", r.memory.rss_half);
  kv(w, "rss_after", r.memory.rss_after);
  kv(w, "resident_before", r.memory.resident_before);
  kv(w, "resident_half", r.memory.resident_half);
  kv(w, "resident_after", r.memory.resident_after);
  kv(w, "activations_per_s", r.memory.activation_rate);
  w.EndObject();
  w.Key("restart");
  w.StartObject();
  kv(w, "ran", r.restart.ran);
  if (!r.restart.note.empty()) kv(w, "note", r.restart.note);
  kv(w, "shipments", r.restart.shipments);
  kv(w, "orders", r.restart.orders);
  kv(w, "load_seconds", r.restart.load_seconds);
  kv(w, "load_shipments_per_s", r.restart.load_rate);
  kv(w, "disk_bytes", r.restart.disk_bytes);
  kv(w, "disk_bytes_per_shipment",
     r.restart.shipments ? static_cast<double>(r.restart.disk_bytes) / static_cast<double>(r.restart.shipments) : 0.0);
  kv(w, "compacted_bytes", r.restart.compacted_bytes);
  kv(w, "ready_ms", r.restart.ready_ms);
  kv(w, "empty_ready_ms", r.restart.empty_ready_ms);
  kv(w, "wal_bytes_replayed", r.restart.wal_bytes);
  kv(w, "ready_ms_after_flush", r.restart.flushed_ready_ms);
  w.EndObject();
  w.Key("notes");
  w.StartArray();
  for (auto& n : r.notes) w.String(n.c_str());
  w.EndArray();
  w.EndObject();

  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    *error = "cannot write " + path;
    return false;
  }
  std::fwrite(sb.GetString(), 1, sb.GetSize(), f);
  std::fputc('\n', f);
  std::fclose(f);
  return true;
}

}  // namespace waybill::bench
