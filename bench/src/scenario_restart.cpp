// Restart-to-ready on a stored data set and RSS per resident shipment actor.
#include <atomic>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "scenario.hpp"

namespace waybill::bench::detail {

namespace fs = std::filesystem;

bool Runner::run_restart_and_memory() {
  auto& rr = report_.restart;
  const size_t n = o_.restart_shipments;
  // Enough orders for n shipments, under their own id prefix.
  WorkloadOptions wo = o_.workload;
  wo.id_prefix = "R";
  auto wl = std::make_unique<Workload>(wo, n);
  while (wl->shipments().size() < n) wl = std::make_unique<Workload>(wo, wl->orders().size() * 2);
  const size_t n_orders = wl->shipments()[n - 1].order + 1;
  std::string dir = work_ + "/restart-data", error;
  log("restart: loading %zu orders and %zu shipments in-process", n_orders, n);
  double t_load = now_seconds();
  {
    auto engine = InprocEngine::start(config_text(false), dir, &error);
    if (!engine) {
      rr.note = error;
      return false;
    }
    DriveOptions d{std::max(o_.inproc_concurrency, 256), o_.inproc_threads, 0};
    std::atomic<size_t> next{0};
    DriveResult ro, rs;
    drive_inproc(*engine, d, [&](Work& w) {
      size_t i = next.fetch_add(1);
      if (i >= n_orders) return false;
      w = Work{};
      w.target = "/v1/orders";
      w.body = wl->order_json(i);
      return true;
    }, ro);
    next = 0;
    drive_inproc(*engine, d, [&](Work& w) {
      size_t i = next.fetch_add(1);
      if (i >= n) return false;
      w = Work{};
      w.target = "/v1/shipments";
      w.body = wl->shipment_json(i);
      return true;
    }, rs);
    if (ro.errors() + rs.errors() > 0)
      report_.notes.push_back("restart data set: " + std::to_string(static_cast<uint64_t>(ro.errors() + rs.errors())) +
                              " failed requests; first: " + (ro.first_error.empty() ? rs.first_error : ro.first_error));
    rr.orders = ro.units;
    rr.shipments = rs.units;
    engine->stop();
  }
  rr.load_seconds = now_seconds() - t_load;
  rr.load_rate = rr.load_seconds > 0 ? static_cast<double>(rr.shipments) / rr.load_seconds : 0;
  rr.disk_bytes = disk_usage(dir);
  rr.wal_bytes = wal_bytes(dir);
  log("restart: loaded %llu shipments in %.1f s (%.0f/s), %.1f MiB on disk", static_cast<unsigned long long>(rr.shipments),
      rr.load_seconds, rr.load_rate, rr.disk_bytes / 1048576.0);

  ServerOptions so;
  so.binary = o_.server;
  so.config_path = write_config("restart.yaml", true);
  so.keys_file = write_bench_keys(work_);
  so.data_dir = dir;
  so.log_path = work_ + "/waybilld-restart.log";
  ServerProcess server(so);
  if (!server.start()) {
    rr.note = server.error();
    return false;
  }
  rr.ready_ms = server.wait_ready(o_.ready_timeout_s);
  if (rr.ready_ms < 0) {
    rr.note = server.error();
    return false;
  }
  rr.ran = true;
  log("restart: waybilld ready in %.1f ms with %llu stored shipments", rr.ready_ms,
      static_cast<unsigned long long>(rr.shipments));

  if (o_.run_memory && o_.rss_actors > 1) {
    // Activate stored shipments by re-sending their registrations (an idempotent replay:
    // it wakes the actor, which loads its state, and writes nothing).
    auto& mr = report_.memory;
    const std::string resident_key = "waybill_resident_actors{kind=\"shipment\"}";
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    mr.rss_before = rss_bytes(server.pid());
    mr.resident_before = static_cast<uint64_t>(scrape(server.host(), server.port()).get(resident_key));
    const size_t m = std::min(o_.rss_actors, static_cast<size_t>(rr.shipments));
    DriveOptions d{o_.connections, o_.client_threads, 0};
    double t_act = now_seconds();
    uint64_t errors = 0;
    auto activate = [&](size_t from, size_t to) {
      std::atomic<size_t> next{from};
      DriveResult r;
      drive_http(HttpEndpoint{server.host(), server.port()}, d, [&](Work& w) {
        size_t i = next.fetch_add(1);
        if (i >= to) return false;
        w = Work{};
        w.target = "/v1/shipments";
        w.body = wl->shipment_json(i);
        return true;
      }, r);
      errors += static_cast<uint64_t>(r.errors());
      if (!r.first_error.empty() && mr.note.empty()) mr.note = "first error: " + r.first_error;
    };
    activate(0, m / 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    mr.rss_half = rss_bytes(server.pid());
    mr.resident_half = static_cast<uint64_t>(scrape(server.host(), server.port()).get(resident_key));
    activate(m / 2, m);
    double secs = now_seconds() - t_act;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    mr.rss_after = rss_bytes(server.pid());
    mr.resident_after = static_cast<uint64_t>(scrape(server.host(), server.port()).get(resident_key));
    mr.actors = mr.resident_after - std::min(mr.resident_after, mr.resident_before);
    mr.activation_rate = secs > 0 ? static_cast<double>(m) / secs : 0;
    if (mr.resident_after > mr.resident_half)
      mr.bytes_per_actor = (static_cast<double>(mr.rss_after) - static_cast<double>(mr.rss_half)) /
                           static_cast<double>(mr.resident_after - mr.resident_half);
    if (mr.actors > 0)
      mr.bytes_per_actor_all =
          (static_cast<double>(mr.rss_after) - static_cast<double>(mr.rss_before)) / static_cast<double>(mr.actors);
    mr.ran = mr.actors > 0 && mr.resident_after > mr.resident_half && mr.resident_half > mr.resident_before;
    if (!mr.ran)
      mr.note = "resident actors did not grow in both halves (" + std::to_string(mr.resident_before) + " -> " +
                std::to_string(mr.resident_half) + " -> " + std::to_string(mr.resident_after) +
                "): actors were passivated during the test";
    if (errors) mr.note = std::to_string(errors) + " activation requests failed; " + mr.note;
    log("memory: %llu resident shipment actors, RSS %.1f -> %.1f -> %.1f MiB, %.0f B per actor (second half)",
        static_cast<unsigned long long>(mr.resident_after), mr.rss_before / 1048576.0, mr.rss_half / 1048576.0,
        mr.rss_after / 1048576.0, mr.bytes_per_actor);
  }
  server.stop(120);
  std::string error2;
  rr.compacted_bytes = compacted_disk_usage(dir, &error2);
  if (!error2.empty()) report_.notes.push_back("compacting the restart data dir: " + error2);
  // Same data without a WAL backlog: what a shutdown that flushed would give.
  ServerProcess again(so);
  if (again.start()) {
    rr.flushed_ready_ms = again.wait_ready(o_.ready_timeout_s);
    log("restart: after a flush, ready in %.1f ms", rr.flushed_ready_ms);
    again.stop(60);
  }
  if (!o_.keep_data) fs::remove_all(dir);
  return true;
}

}  // namespace waybill::bench::detail
