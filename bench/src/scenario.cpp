// The bench run: HTTP phases against a waybilld child, order-to-label through
// carrier-sim, the same HTTP phases in-process, then baselines, restart-to-ready and RSS per actor (see scenario_*.cpp).
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdarg>
#include <ctime>
#include <fstream>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "scenario.hpp"

#include "threads.hpp"

namespace waybill::bench {

namespace detail {

namespace fs = std::filesystem;

void Runner::log(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "[%5.1fs] %s\n", now_seconds() - t0_, buf);
}

std::string Runner::config_text(bool small_cache) const {
  if (!o_.server_config.empty()) {
    std::ifstream in(o_.server_config);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::string y = "log:\n  level: info\n";
  // RSS per actor: a small block cache keeps cache growth from passing as actor memory,
  // and a long idle timeout keeps activated actors resident while the rest activate.
  if (small_cache) y += "storage:\n  block_cache_mb: 8\nactors:\n  idle_timeout_ms: 3600000\n";
  return y;
}

std::string Runner::write_config(const std::string& name, bool small_cache) {
  std::string path = work_ + "/" + name;
  std::ofstream(path) << config_text(small_cache);
  return path;
}

DriveOptions Runner::drive_options(const Target& t, double duration) const {
  DriveOptions d;
  d.duration_s = duration;
  if (t.server) {
    d.concurrency = o_.connections;
    d.threads = o_.client_threads;
  } else {
    d.concurrency = o_.inproc_concurrency;
    d.threads = o_.inproc_threads;
  }
  return d;
}

PhaseResult Runner::phase(const Target& t, const std::string& path, const std::string& unit, const DriveOptions& d,
                          const Source& source) {
  auto before = t.snapshot();
  double cpu0 = t.engine_cpu(), self0 = self_cpu_seconds();
  auto machine0 = machine_cpu();
  DriveResult r;
  ThreadSampler sampler(t.server ? t.server->pid() : ::getpid());
  t.drive(d, source, r);
  auto profile = sampler.stop();
  auto after = t.snapshot();
  double cpu1 = t.engine_cpu(), self1 = self_cpu_seconds();
  auto machine1 = machine_cpu();
  PhaseResult p;
  p.path = path;
  p.transport = t.transport;
  p.unit = unit;
  p.concurrency = d.concurrency;
  p.elapsed_s = r.elapsed_s;
  p.units = r.units.load();
  p.requests = r.requests.load();
  p.errors = static_cast<uint64_t>(r.errors());
  p.rate = r.rate();
  p.requests_per_s = r.elapsed_s > 0 ? static_cast<double>(p.requests) / r.elapsed_s : 0;
  p.source_dry = r.source_dry && d.duration_s > 0;
  p.p50_ms = static_cast<double>(r.latency.quantile(0.5)) / 1e6;
  p.p90_ms = static_cast<double>(r.latency.quantile(0.9)) / 1e6;
  p.p99_ms = static_cast<double>(r.latency.quantile(0.99)) / 1e6;
  p.p999_ms = static_cast<double>(r.latency.quantile(0.999)) / 1e6;
  p.max_ms = static_cast<double>(r.latency.max()) / 1e6;
  p.applied = r.applied;
  p.late = r.late;
  p.duplicate = r.duplicate;
  p.rejected = r.rejected;
  p.statuses = r.statuses;
  p.first_error = r.first_error;
  p.first_rejection = r.first_rejection;
  if (before.ok && after.ok) p.commits = commit_delta(before, after);
  p.profile = std::move(profile);
  if (double wall = p.profile.seconds; wall > 0) p.machine_busy_cores = (machine1.busy - machine0.busy) / wall;
  if (r.elapsed_s > 0) {
    p.server_cpu_cores = (cpu1 - cpu0) / r.elapsed_s;
    if (t.server) p.client_cpu_cores = (self1 - self0) / r.elapsed_s;
  }
  log("%-6s %-18s %10.0f %s/s  p50 %.2f ms  p99 %.2f ms  errors %llu  batch avg %.1f%s%s%s", t.transport.c_str(),
      path.c_str(), p.rate, unit.c_str(), p.p50_ms, p.p99_ms, static_cast<unsigned long long>(p.errors),
      p.commits.mean_batch(), p.source_dry ? "  (workload ran out)" : "", p.first_error.empty() ? "" : "  first error: ",
      p.first_error.substr(0, 200).c_str());
  if (!p.first_rejection.empty()) log("       first rejected line: %s", p.first_rejection.substr(0, 200).c_str());
  log("       %s | machine %.2f cores busy", p.profile.summary().c_str(), p.machine_busy_cores);
  report_.phases.push_back(p);
  return p;
}

bool Runner::alive(const Target& t, const std::string& after_phase) {
  if (!t.server || t.server->running()) return true;
  std::string why = "waybilld ended (" + t.server->ended() + ") during the " + after_phase +
                    " phase; the remaining HTTP phases were skipped (log: " + t.server->options().log_path + ")";
  if (t.server->ended() == "exit 0")
    why += ". Exit 0 is waybilld's clean drain after SIGTERM/SIGINT: something else signalled it";
  log("%s", why.c_str());
  report_.notes.push_back(why);
  failed_ = true;
  return false;
}

size_t Runner::run_paths(const Target& t, const Workload& wl) {
  // Orders, then releases of the orders created, then shipments of those orders.
  std::atomic<size_t> next{0};
  const size_t n_orders = wl.orders().size();
  Source orders = [&](Work& w) {
    size_t i = next.fetch_add(1);
    if (i >= n_orders) return false;
    w = Work{};
    w.target = "/v1/orders";
    w.body = wl.order_json(i);
    return true;
  };
  phase(t, "orders", "orders", drive_options(t, o_.intake_duration_s), orders);
  if (!alive(t, "orders")) return 0;
  const size_t created = std::min(next.load(), n_orders);

  next = 0;
  Source release = [&](Work& w) {
    size_t i = next.fetch_add(1);
    if (i >= created) return false;
    w = Work{};
    w.target = "/v1/orders/" + wl.order_id(i) + "/release";
    return true;
  };
  phase(t, "release", "orders", drive_options(t, o_.intake_duration_s), release);
  if (!alive(t, "release")) return 0;

  const size_t n_shipments = created < n_orders ? wl.orders()[created].first_shipment : wl.shipments().size();
  next = 0;
  Source shipments = [&](Work& w) {
    size_t i = next.fetch_add(1);
    if (i >= n_shipments) return false;
    w = Work{};
    w.target = "/v1/shipments";
    w.body = wl.shipment_json(i);
    return true;
  };
  uint64_t rss0 = t.server ? rss_bytes(t.server->pid()) : 0;
  double res0 = t.snapshot().get("waybill_resident_actors{kind=\"shipment\"}");
  phase(t, "shipments", "shipments", drive_options(t, o_.intake_duration_s), shipments);
  if (!alive(t, "shipments")) return 0;
  const size_t registered = std::min(next.load(), n_shipments);
  if (t.server) {
    uint64_t rss1 = rss_bytes(t.server->pid());
    double res1 = t.snapshot().get("waybill_resident_actors{kind=\"shipment\"}");
    if (res1 > res0) report_.registration_rss_per_actor = (static_cast<double>(rss1) - rss0) / (res1 - res0);
  }

  // One milestone stream, consumed by the single-request phase and then the NDJSON one.
  auto stream = std::make_shared<std::vector<MilestoneSpec>>(wl.milestones(0, registered));
  if (t.server) {
    auto st = Workload::stats(*stream);
    report_.workload["stream_milestones"] = static_cast<double>(st.total);
    report_.workload["stream_reordered"] = static_cast<double>(st.reordered);
    report_.workload["stream_late"] = static_cast<double>(st.late);
    report_.workload["stream_duplicates"] = static_cast<double>(st.duplicates);
    report_.workload["stream_exceptions"] = static_cast<double>(st.exceptions);
  }
  std::atomic<size_t> cursor{0};
  const size_t total = stream->size();
  Source single = [&](Work& w) {
    size_t i = cursor.fetch_add(1);
    if (i >= total) return false;
    w = Work{};
    w.target = "/v1/tracking";
    w.body = wl.milestone_json((*stream)[i]);
    w.tracking = true;
    return true;
  };
  phase(t, "milestones_single", "milestones", drive_options(t, o_.duration_s), single);
  if (!alive(t, "milestones_single")) return 0;
  cursor = std::min(cursor.load(), total);
  const size_t batch = static_cast<size_t>(std::max(1, o_.ndjson_batch));
  Source ndjson = [&](Work& w) {
    size_t i = cursor.fetch_add(batch);
    if (i >= total) return false;
    size_t end = std::min(total, i + batch);
    w = Work{};
    w.target = "/v1/tracking";
    w.ndjson = true;
    w.tracking = true;
    w.units = static_cast<uint32_t>(end - i);
    w.body.reserve((end - i) * 330);
    for (size_t k = i; k < end; ++k) wl.append_milestone_line((*stream)[k], &w.body);
    return true;
  };
  DriveOptions nd_opt = drive_options(t, o_.duration_s);
  nd_opt.concurrency = std::max(1, o_.ndjson_connections);
  auto nd = phase(t, "milestones_ndjson", "milestones", nd_opt, ndjson);
  if (!alive(t, "milestones_ndjson")) return 0;
  if (t.server && nd.commits.requests > 0) report_.workload["http_ndjson_bytes_per_write"] = nd.commits.bytes / nd.commits.requests;
  return registered;
}

bool Runner::run_http() {
  log("HTTP: starting %s", o_.server.c_str());
  std::string dir = work_ + "/http-data";
  ServerOptions so;
  so.binary = o_.server;
  so.config_path = write_config("http.yaml", false);
  so.keys_file = write_bench_keys(work_);
  so.data_dir = dir;
  so.log_path = work_ + "/waybilld-http.log";
  ServerProcess server(so);
  if (!server.start()) {
    report_.notes.push_back("HTTP run: " + server.error());
    return false;
  }
  double ready = server.wait_ready(o_.ready_timeout_s);
  if (ready < 0) {
    report_.notes.push_back("HTTP run: " + server.error());
    return false;
  }
  report_.restart.empty_ready_ms = ready;
  log("HTTP: waybilld pid %d ready on port %u in %.1f ms", server.pid(), server.port(), ready);
  Target t{"http", &server, nullptr};
  size_t registered = run_paths(t, *wl_);
  if (!server.running()) {
    report_.server_exit_code = -1;
    return false;
  }

  auto m = t.snapshot();
  report_.server_rss = rss_bytes(server.pid());
  report_.server_resident_shipments = static_cast<uint64_t>(m.get("waybill_resident_actors{kind=\"shipment\"}"));
  for (const char* outcome : {"applied", "late", "duplicate", "rejected"})
    report_.server_counters[std::string("milestones_") + outcome] =
        m.get(std::string("waybill_milestones_total{outcome=\"") + outcome + "\"}");
  report_.server_counters["commands_rejected"] = m.get("waybill_commands_rejected_total");
  report_.server_counters["write_failures"] = m.get("waybill_write_failures_total");
  report_.server_counters["events_emitted"] = m.get("waybill_events_emitted_total");
  report_.server_counters["http_5xx"] = m.sum("waybill_http_requests_total", "status=\"5");
  report_.server_counters["http_4xx"] = m.sum("waybill_http_requests_total", "status=\"4");
  double stored = report_.server_counters["milestones_applied"] + report_.server_counters["milestones_late"];
  double t_stop = now_seconds();
  report_.server_exit_code = server.stop(60);
  report_.server_counters["shutdown_ms"] = 1000 * (now_seconds() - t_stop);
  report_.http_shipments = registered;
  report_.http_disk_bytes = disk_usage(dir);
  report_.http_milestones_per_shipment = registered ? stored / static_cast<double>(registered) : 0;
  std::string error;
  report_.http_compacted_bytes = compacted_disk_usage(dir, &error);
  if (!error.empty()) report_.notes.push_back("compacting the HTTP run's data dir: " + error);
  log("HTTP: server stopped (exit %d), RSS was %.1f MiB, data dir %.1f MiB", report_.server_exit_code,
      report_.server_rss / 1048576.0, report_.http_disk_bytes / 1048576.0);
  if (!o_.keep_data) fs::remove_all(dir);
  return true;
}

bool Runner::run_inproc() {
  log("in-process: starting engine");
  std::string dir = work_ + "/inproc-data", error;
  auto engine = InprocEngine::start(config_text(false), dir, &error);
  if (!engine) {
    report_.notes.push_back("in-process run: " + error);
    return false;
  }
  Target t{"inproc", nullptr, engine.get()};
  run_paths(t, *wl_);
  engine->stop();
  engine.reset();
  if (!o_.keep_data) fs::remove_all(dir);
  return true;
}

int Runner::run() {
  // Work dir on the disk under test.
  if (o_.work_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp && *tmp ? tmp : "/var/tmp";
    std::string tmpl = base + "/waybill-bench-XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
      std::fprintf(stderr, "waybill-bench: cannot create a work dir under %s\n", base.c_str());
      return 1;
    }
    work_ = tmpl;
  } else {
    work_ = fs::absolute(o_.work_dir).string();
    fs::create_directories(work_);
  }
  struct statfs sf;
  if (::statfs(work_.c_str(), &sf) == 0 && sf.f_type == 0x01021994)
    report_.notes.push_back("the work dir is on tmpfs: fsync costs nothing there, so the figures flatter every engine");
  if (!o_.server.empty()) o_.server = fs::absolute(o_.server).string();
  if (!o_.sim.empty()) o_.sim = fs::absolute(o_.sim).string();

  std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  report_.scenario = o_.scenario;
  report_.started_at = when;
  report_.seed = o_.workload.seed;
  report_.cores = std::thread::hardware_concurrency();
  report_.server_binary = o_.server;
  report_.work_dir = work_;
  report_.connections = o_.connections;
  report_.ndjson_batch = o_.ndjson_batch;
  report_.duration_s = o_.duration_s;
  log("work dir %s", work_.c_str());

  wl_ = std::make_unique<Workload>(o_.workload, o_.orders);
  auto& w = report_.workload;
  w["orders"] = static_cast<double>(wl_->orders().size());
  w["shipments"] = static_cast<double>(wl_->shipments().size());
  w["late_share"] = o_.workload.late_share;
  w["dup_share"] = o_.workload.dup_share;
  w["reorder_share"] = o_.workload.reorder_share;
  w["exception_share"] = o_.workload.exception_share;
  w["min_milestones"] = o_.workload.min_milestones;
  w["max_milestones"] = o_.workload.max_milestones;

  report_.ndjson_connections = o_.ndjson_connections;
  run_rocksdb_half("before");
  if (o_.run_http && !run_http()) failed_ = true;
  if (o_.run_o2l) {
    if (!run_order_to_label()) failed_ = true;
  } else {
    report_.o2l.note = "skipped (--skip o2l)";
  }
  if (o_.run_inproc && !run_inproc()) failed_ = true;
  run_baselines();
  if (o_.run_restart && o_.restart_shipments > 0) {
    if (!run_restart_and_memory()) failed_ = true;
  } else {
    report_.restart.note = "skipped";
    if (report_.memory.note.empty()) report_.memory.note = "skipped (it runs on the restart data set)";
  }
  if (!o_.keep_data) {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(work_, ec))
      if (e.path().extension() != ".log") fs::remove_all(e.path(), ec);
  }
  report_.total_seconds = now_seconds() - t0_;
  print_table(report_, stdout);
  std::fflush(stdout);
  std::string error;
  if (!write_json(report_, o_.out, &error)) {
    std::fprintf(stderr, "waybill-bench: %s\n", error.c_str());
    return 1;
  }
  std::fprintf(stderr, "results: %s (server logs in %s)\n", o_.out.c_str(), work_.c_str());
  return failed_ ? 1 : 0;
}

}  // namespace detail

int run_bench(BenchOptions options) { return detail::Runner(std::move(options)).run(); }

}  // namespace waybill::bench
