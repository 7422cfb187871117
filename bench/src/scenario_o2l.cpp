// Order-to-label in a bench run: carrier-sim and a waybilld booking through it, a
// closed-loop phase at the most the intake allows and an open-loop phase at half that,
// then the checks (GET of every shipment, carrier-sim's label ledger).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "order_to_label.hpp"
#include "scenario.hpp"
#include "threads.hpp"
#include "waybill/runtime/http_client.hpp"

namespace waybill::bench::detail {

namespace fs = std::filesystem;

namespace {

// Largest value of some gauges while a phase runs (scraped every 200 ms).
class GaugeWatcher {
 public:
  GaugeWatcher(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        auto m = scrape(host_, port_);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          for (auto& [k, v] : m.series)
            for (const char* name : {"waybill_carrier_in_flight", "waybill_carrier_queue_depth", "waybill_booking_backlog",
                                     "waybill_storage_queue_depth"})
              if (k.rfind(name, 0) == 0) max_[k] = std::max(max_[k], v);
        }
        for (int i = 0; i < 20 && !stop_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  ~GaugeWatcher() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  double max(const std::string& series) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = max_.find(series);
    return it == max_.end() ? 0 : it->second;
  }

 private:
  std::string host_;
  uint16_t port_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::map<std::string, double> max_;
  std::thread thread_;
};

O2LLatency to_latency(const Histogram& h) {
  O2LLatency l;
  l.n = h.count();
  l.p50 = static_cast<double>(h.quantile(0.5)) / 1e6;
  l.p90 = static_cast<double>(h.quantile(0.9)) / 1e6;
  l.p99 = static_cast<double>(h.quantile(0.99)) / 1e6;
  l.p999 = static_cast<double>(h.quantile(0.999)) / 1e6;
  l.max = static_cast<double>(h.max()) / 1e6;
  return l;
}

std::string carrier_label(const std::string& name, const char* key) {
  return std::string(key) + "{carrier=\"" + name + "\"}";
}

// Until no carrier call is queued or under way (pickups follow bookings), at most
// `timeout_s`. Returns the seconds waited.
bool wait_carriers_idle(ServerProcess& server, double timeout_s) {
  double t0 = now_seconds();
  while (now_seconds() - t0 < timeout_s && server.running()) {
    auto m = scrape(server.host(), server.port());
    if (m.ok && m.sum("waybill_carrier_in_flight") + m.sum("waybill_carrier_queue_depth") == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int64_t wall_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string Runner::o2l_config_text(const std::string& carriers_dir) const {
  // Any carriers_dir of the run's config gives way to the copies (YAML's last key would win).
  std::string y, in = config_text(false);
  for (size_t b = 0; b < in.size();) {
    size_t e = in.find('\n', b);
    e = e == std::string::npos ? in.size() : e + 1;
    std::string_view l(in.data() + b, e - b);
    auto k = l.find_first_not_of(' ');
    if (!(k != std::string_view::npos && k > 0 && l.substr(k).rfind("carriers_dir:", 0) == 0)) y.append(l);
    b = e;
  }
  std::string line = "  carriers_dir: " + carriers_dir + "\n";
  if (y.rfind("booking:\n", 0) == 0) return "booking:\n" + line + y.substr(9);
  auto pos = y.find("\nbooking:\n");
  if (pos != std::string::npos) return y.insert(pos + 10, line);
  if (!y.empty() && y.back() != '\n') y += '\n';
  return y + "booking:\n" + line;
}

// One phase of the flow with the server-side measurements around it.
void Runner::o2l_phase(LabelFlow& flow, ServerProcess& server, ServerProcess& sim, char phase, double rate,
                       O2LPhase& out) {
  const bool paced = phase == 'P';
  const double duration = paced ? o_.o2l_paced_duration_s : o_.o2l_duration_s;
  auto before = scrape(server.host(), server.port());
  double cpu0 = cpu_seconds(server.pid()), sim0 = cpu_seconds(sim.pid()), self0 = self_cpu_seconds();
  auto machine0 = machine_cpu();
  FlowRun run;
  double t_start = now_seconds();
  {
    GaugeWatcher gauges(server.host(), server.port());
    ThreadSampler sampler(server.pid());
    if (paced) flow.run_paced(run, phase, rate, duration, std::max(o_.o2l_connections, 64));
    else flow.run_max(run, phase, o_.o2l_connections, o_.o2l_max_outstanding, duration);
    auto profile = sampler.stop();
    auto mid = scrape(server.host(), server.port());
    double cpu1 = cpu_seconds(server.pid()), sim1 = cpu_seconds(sim.pid()), self1 = self_cpu_seconds();
    auto machine1 = machine_cpu();
    gauges.stop();
    double wall = std::max(1e-9, now_seconds() - t_start);
    double e = run.elapsed_s > 0 ? run.elapsed_s : wall;

    out.ran = true;
    out.connections = run.connections;
    out.duration_s = duration;
    out.target_rate = paced ? rate : 0;
    out.orders = run.orders_started;
    out.packs = run.packs_accepted;
    out.errors = run.http_errors + run.transport_errors;
    out.retries = run.retries;
    out.packs_per_s = static_cast<double>(run.packs_accepted) / e;
    out.cap_wait_share = run.cap_wait_share;
    out.start_lag_p99_ms = paced ? static_cast<double>(run.start_lag.quantile(0.99)) / 1e6 : 0;
    out.server_cores = (cpu1 - cpu0) / wall;
    out.sim_cores = (sim1 - sim0) / wall;
    out.client_cores = (self1 - self0) / wall;
    out.machine_busy = profile.seconds > 0 ? (machine1.busy - machine0.busy) / profile.seconds : 0;
    out.max_backlog_seen = gauges.max("waybill_booking_backlog");
    out.max_storage_queue_seen = gauges.max("waybill_storage_queue_depth");
    CommitStats commits;
    if (before.ok && mid.ok) commits = commit_delta(before, mid);
    out.writer_busy = commits.commit_seconds / e;

    // Carrier adapters while packing: call rates, attempt time, gauges.
    double busy_connections = 0;
    for (auto& [name, lim] : report_.o2l.limits) {
      O2LCarrierStats c;
      double attempts = mid.get(carrier_label(name, "waybill_carrier_attempts_total")) -
                        before.get(carrier_label(name, "waybill_carrier_attempts_total"));
      double lat_sum = mid.get(carrier_label(name, "waybill_carrier_call_seconds_sum")) -
                       before.get(carrier_label(name, "waybill_carrier_call_seconds_sum"));
      double lat_n = mid.get(carrier_label(name, "waybill_carrier_call_seconds_count")) -
                     before.get(carrier_label(name, "waybill_carrier_call_seconds_count"));
      c.attempts_per_s = attempts / e;
      c.mean_attempt_ms = lat_n > 0 ? 1000 * lat_sum / lat_n : 0;
      c.max_in_flight_seen = gauges.max(carrier_label(name, "waybill_carrier_in_flight"));
      c.max_queue_seen = gauges.max(carrier_label(name, "waybill_carrier_queue_depth"));
      if (lim.max_in_flight > 0) c.window_use = c.attempts_per_s * c.mean_attempt_ms / 1000 / lim.max_in_flight;
      if (lim.requests_per_second > 0) c.rate_use = c.attempts_per_s / lim.requests_per_second;
      busy_connections += c.attempts_per_s * o_.o2l_carrier_latency_ms / 1000;
      out.carriers[name] = c;
    }
    if (report_.o2l.client_pool_per_endpoint > 0) out.pool_use = busy_connections / report_.o2l.client_pool_per_endpoint;

    // The table row: labels per second, pack-to-booked latency (filled in after the drain).
    PhaseResult p;
    p.path = paced ? "o2l_paced" : "o2l_max";
    p.transport = "http";
    p.unit = "labels";
    p.concurrency = run.connections;
    p.elapsed_s = e;
    p.requests = run.requests;
    p.requests_per_s = static_cast<double>(run.requests) / e;
    p.errors = out.errors;
    p.statuses = run.statuses;
    p.first_error = run.first_error;
    p.commits = commits;
    p.profile = std::move(profile);
    p.machine_busy_cores = out.machine_busy;
    p.server_cpu_cores = out.server_cores;
    p.client_cpu_cores = out.client_cores;
    report_.phases.push_back(std::move(p));
  }
  log("o2l    %-6s %llu orders, %llu packed (%.0f/s), %llu requests, errors %llu, retries %llu%s%s", paced ? "paced" : "max",
      static_cast<unsigned long long>(run.orders_started), static_cast<unsigned long long>(run.packs_accepted),
      out.packs_per_s, static_cast<unsigned long long>(run.requests), static_cast<unsigned long long>(out.errors),
      static_cast<unsigned long long>(run.retries), run.first_error.empty() ? "" : "; first error: ",
      run.first_error.substr(0, 200).c_str());

  // Until every packed order has its booked event.
  uint64_t booked_at_end = flow.booked(phase, run.last_pack_us);
  out.backlog_at_end = static_cast<double>(run.packs_accepted) - static_cast<double>(booked_at_end);
  double waited = flow.drain(run, 120);
  // Pickups (and any other carrier call) of this phase finish before the next starts.
  double t_idle = now_seconds();
  bool idle_ok = wait_carriers_idle(server, 60);
  const int64_t idle_us = wall_now_us();
  double idle = now_seconds() - t_idle;
  if (!idle_ok)
    report_.o2l.note += std::string(report_.o2l.note.empty() ? "" : "; ") + (paced ? "paced" : "max") +
                        " phase: carrier calls still under way 60 s after the last booking";
  auto after = scrape(server.host(), server.port());
  out.booked = flow.booked(phase);
  if (out.booked < run.packs_accepted)
    report_.o2l.note += std::string(report_.o2l.note.empty() ? "" : "; ") + (paced ? "paced" : "max") + " phase: " +
                        std::to_string(run.packs_accepted - out.booked) + " packed orders had no booked event after " +
                        std::to_string(static_cast<int>(waited)) + " s";
  out.bookings_booked = after.get("waybill_bookings_total{outcome=\"booked\"}") -
                        before.get("waybill_bookings_total{outcome=\"booked\"}");
  out.bookings_exception = after.get("waybill_bookings_total{outcome=\"exception\"}") -
                           before.get("waybill_bookings_total{outcome=\"exception\"}");
  out.bookings_in_doubt = after.get("waybill_bookings_total{outcome=\"in_doubt\"}") -
                          before.get("waybill_bookings_total{outcome=\"in_doubt\"}");
  double all_attempts = 0;
  for (auto& [name, c] : out.carriers) {
    auto d = [&](const char* key, const char* outcome) {
      std::string s = std::string(key) + "{carrier=\"" + name + "\",outcome=\"" + outcome + "\"}";
      return after.get(s) - before.get(s);
    };
    c.calls_ok = d("waybill_carrier_calls_total", "ok");
    c.calls_rejected = d("waybill_carrier_calls_total", "rejected");
    c.calls_in_doubt = d("waybill_carrier_calls_total", "in_doubt");
    c.calls_failed = d("waybill_carrier_calls_total", "failed");
    c.calls_refused = d("waybill_carrier_calls_total", "refused");
    c.attempts = after.get(carrier_label(name, "waybill_carrier_attempts_total")) -
                 before.get(carrier_label(name, "waybill_carrier_attempts_total"));
    c.retries = after.get(carrier_label(name, "waybill_carrier_retries_total")) -
                before.get(carrier_label(name, "waybill_carrier_retries_total"));
    all_attempts += c.attempts;
  }
  if (out.booked) out.calls_per_label = all_attempts / static_cast<double>(out.booked);

  // Rates from the booked events' own times: a steady window that leaves out the ramp-up.
  int64_t first = run.first_send_us, last_pack = run.last_pack_us, last_booked = 0;
  int64_t warm = static_cast<int64_t>(std::min(2.0, 0.25 * duration) * 1e6);
  int64_t ws = first + warm, we = std::max(ws + 1, last_pack);
  uint64_t in_window = 0;
  for (size_t i = 0; i < run.orders_started && i < flow.capacity(); ++i) {
    int64_t b = flow.slot(phase, i).booked_us.load();
    if (!b) continue;
    last_booked = std::max(last_booked, b);
    in_window += b >= ws && b <= we;
  }
  out.window_s = static_cast<double>(we - ws) / 1e6;
  out.labels_per_s_window = out.window_s > 0 ? static_cast<double>(in_window) / out.window_s : 0;
  out.work_s = static_cast<double>(std::max(idle_us, last_booked) - first) / 1e6;
  if (paced) out.labels_per_s = out.labels_per_s_window;
  else if (out.work_s > 0) out.labels_per_s = static_cast<double>(out.booked) / out.work_s;
  out.drain_s = last_booked > last_pack ? static_cast<double>(last_booked - last_pack) / 1e6 : 0;

  LabelLatency lat;
  label_latency(flow, run, &lat);
  out.latency = to_latency(lat.by_event);
  out.seen = to_latency(lat.by_seen);
  out.rated = to_latency(lat.rated);
  out.single = to_latency(lat.single);
  auto& p = report_.phases.back();
  p.units = out.booked;
  p.rate = out.labels_per_s;
  p.p50_ms = out.latency.p50;
  p.p90_ms = out.latency.p90;
  p.p99_ms = out.latency.p99;
  p.p999_ms = out.latency.p999;
  p.max_ms = out.latency.max;
  log("o2l    %-6s %.0f labels/s (%llu booked in %.1f s until carriers idle; %.0f/s in the %.1f s window while "
      "packing), backlog at end %.0f, drained in %.1f s, carriers idle %.1f s later; pack->booked p50 %.1f ms p99 %.1f "
      "ms; %.2f carrier calls per label",
      paced ? "paced" : "max", out.labels_per_s, static_cast<unsigned long long>(out.booked), out.work_s,
      out.labels_per_s_window, out.window_s, out.backlog_at_end, waited, idle, out.latency.p50, out.latency.p99,
      out.calls_per_label);
  for (auto& [name, c] : out.carriers)
    log("       %s: %.0f attempts/s, mean attempt %.1f ms, in flight max %.0f, queue max %.0f", name.c_str(),
        c.attempts_per_s, c.mean_attempt_ms, c.max_in_flight_seen, c.max_queue_seen);
  log("       cpu: waybilld %.2f, carrier-sim %.2f, bench %.2f cores; machine %.2f busy; writer busy %.0f%%",
      out.server_cores, out.sim_cores, out.client_cores, out.machine_busy, 100 * out.writer_busy);
}

// What bounds the max phase: every candidate with its utilisation, and a verdict.
void Runner::o2l_bound() {
  auto& r = report_.o2l;
  auto& m = r.max;
  char buf[256];
  for (auto& [name, c] : m.carriers) {
    auto& lim = r.limits[name];
    std::snprintf(buf, sizeof buf, "%s adapter window (max_in_flight %d)", name.c_str(), lim.max_in_flight);
    r.bounds.push_back({buf, c.window_use});
    std::snprintf(buf, sizeof buf, "%s adapter token bucket (requests_per_second %.0f)", name.c_str(),
                  lim.requests_per_second);
    r.bounds.push_back({buf, c.rate_use});
  }
  std::snprintf(buf, sizeof buf, "waybill's carrier HTTP client pool (%d connections per host:port, one sim)",
                r.client_pool_per_endpoint);
  r.bounds.push_back({buf, m.pool_use});
  r.bounds.push_back({"group-commit writer (share of time in Write + fsync)", m.writer_busy});
  double ours = m.server_cores + m.sim_cores + m.client_cores;
  std::snprintf(buf, sizeof buf,
                "CPU of waybilld %.2f + carrier-sim %.2f + bench %.2f cores of %u (machine: %.2f busy, all tenants)",
                m.server_cores, m.sim_cores, m.client_cores, report_.cores, m.machine_busy);
  r.bounds.push_back({buf, report_.cores ? ours / report_.cores : 0});
  auto top = std::max_element(r.bounds.begin(), r.bounds.end(),
                              [](auto& a, auto& b) { return a.second < b.second; });
  // A full client pool also fills the adapters' windows (their in-flight count includes
  // calls waiting for a connection): name the pool then.
  auto pool = std::find_if(r.bounds.begin(), r.bounds.end(),
                           [](auto& b) { return b.first.rfind("waybill's carrier HTTP client pool", 0) == 0; });
  if (pool != r.bounds.end() && pool->second >= 0.9) top = pool;
  std::string side;
  if (m.cap_wait_share > 0.2 || m.backlog_at_end > 0.5 * static_cast<double>(r.max_outstanding))
    std::snprintf(buf, sizeof buf,
                  "booking fell behind the intake (%.0f packed orders unbooked when packing stopped, connections "
                  "waited on the %zu-order cap %.0f%% of the time)",
                  m.backlog_at_end, r.max_outstanding, 100 * m.cap_wait_share);
  else
    std::snprintf(buf, sizeof buf,
                  "booking kept up with the intake (%.0f packed orders unbooked when packing stopped): the "
                  "create/release/pack requests are the bound",
                  m.backlog_at_end);
  side = buf;
  std::snprintf(buf, sizeof buf, "; busiest resource: %s at %.0f%%", top->first.c_str(), 100 * top->second);
  r.bound = side + buf;
  double worst_attempt = 0;
  for (auto& [name, c] : m.carriers) worst_attempt = std::max(worst_attempt, c.mean_attempt_ms);
  if (worst_attempt > 1.5 * r.carrier_latency_ms) {
    std::snprintf(buf, sizeof buf,
                  "; carrier attempts took up to %.0f ms in waybill against %.0f ms at the sim: calls waited for a "
                  "connection or a CPU",
                  worst_attempt, r.carrier_latency_ms);
    r.bound += buf;
  }
}

bool Runner::run_order_to_label() {
  auto& r = report_.o2l;
  r.carrier_latency_ms = o_.o2l_carrier_latency_ms;
  r.tracking_feed = o_.o2l_tracking_feed;
  r.max_outstanding = o_.o2l_max_outstanding;
  r.client_pool_per_endpoint = static_cast<int>(runtime::HttpClientOptions{}.max_connections_per_endpoint);
  r.sim_binary = o_.sim;
  auto missing = [&](const std::string& what) {
    r.note = "skipped: " + what;
    log("order-to-label %s", r.note.c_str());
    return true;  // not a failure of the run, like a missing PostgreSQL
  };
  if (o_.sim.empty() || ::access(o_.sim.c_str(), X_OK) != 0)
    return missing("no carrier-sim binary" + (o_.sim.empty() ? std::string() : " at " + o_.sim) + " (pass --sim)");
  if (o_.carrier_profiles.empty() || !fs::is_directory(o_.carrier_profiles))
    return missing("no carrier profiles dir (pass --carrier-profiles DIR)");
  if (o_.sim_config.empty() || !fs::exists(o_.sim_config))
    return missing("no carrier-sim config (pass --sim-config FILE)");

  std::string dir = work_ + "/o2l", carriers = dir + "/carriers", error;
  fs::create_directories(dir);
  uint16_t sim_port = free_port(), server_port = free_port();
  while (server_port == sim_port) server_port = free_port();
  std::string sim_yaml = dir + "/carrier-sim.yaml";
  LimitOverrides lim{o_.o2l_rps, o_.o2l_burst, o_.o2l_max_in_flight};
  if (!write_sim_config(o_.sim_config, sim_yaml, o_.o2l_carrier_latency_ms, o_.o2l_tracking_feed, &error) ||
      !write_carrier_profiles(o_.carrier_profiles, carriers, "127.0.0.1:" + std::to_string(sim_port), lim, &r.limits,
                              &error)) {
    r.note = error;
    log("order-to-label: %s", error.c_str());
    return false;
  }

  ServerOptions so;
  so.binary = o_.sim;
  so.port = sim_port;
  so.log_path = work_ + "/carrier-sim.log";
  std::string keys_file = write_bench_keys(work_);
  so.argv = {o_.sim,           "--listen",          "127.0.0.1:" + std::to_string(sim_port),
             "--config",       sim_yaml,            "--webhook-target",
             "http://127.0.0.1:" + std::to_string(server_port), "--webhook-api-key-file", work_ + "/bench.key"};
  so.ready_path = "/healthz";
  ServerProcess sim(so);
  if (!sim.start() || sim.wait_ready(30) < 0) {
    r.note = "carrier-sim: " + sim.error();
    log("order-to-label: %s", r.note.c_str());
    return false;
  }
  ServerOptions wo;
  wo.binary = o_.server;
  wo.port = server_port;
  wo.config_path = dir + "/waybilld.yaml";
  wo.keys_file = keys_file;
  std::ofstream(wo.config_path) << o2l_config_text(carriers);
  wo.data_dir = dir + "/data";
  wo.log_path = work_ + "/waybilld-o2l.log";
  ServerProcess server(wo);
  if (!server.start() || server.wait_ready(o_.ready_timeout_s) < 0) {
    r.note = "waybilld: " + server.error();
    log("order-to-label: %s", r.note.c_str());
    return false;
  }
  log("order-to-label: carrier-sim pid %d on port %u (fixed %.0f ms, no faults, tracking feed %s), waybilld pid %d on "
      "port %u",
      sim.pid(), sim_port, o_.o2l_carrier_latency_ms, o_.o2l_tracking_feed ? "on" : "off", server.pid(), server_port);
  for (auto& [name, l] : r.limits)
    log("       profile %s -> %s: max_in_flight %d, requests_per_second %.0f, burst %.0f", name.c_str(),
        l.base_url.c_str(), l.max_in_flight, l.requests_per_second, l.burst);

  double longest = std::max(o_.o2l_duration_s, o_.o2l_paced_duration_s);
  size_t capacity = std::max<size_t>(100000, static_cast<size_t>(longest * 20000));
  LabelFlow flow("127.0.0.1", server_port, LabelOrders{o_.workload.seed}, o_.client_threads, capacity);
  flow.start_follower();
  bool ok = true;
  o2l_phase(flow, server, sim, 'M', 0, r.max);
  if (!server.running() || !sim.running()) ok = false;
  double rate = o_.o2l_rate > 0 ? o_.o2l_rate : 0.5 * r.max.labels_per_s;
  if (ok && rate > 0) {
    log("order-to-label: paced at %.0f orders/s for %.0f s", rate, o_.o2l_paced_duration_s);
    o2l_phase(flow, server, sim, 'P', rate, r.paced);
  }
  flow.stop_follower();
  if (!flow.feed_error().empty()) log("order-to-label: event feed: %s", flow.feed_error().c_str());
  o2l_bound();

  // Checks: every packed order's shipment is booked, and no label was sold twice.
  if (server.running()) {
    FlowRun dummy_m, dummy_p;  // index ranges of both phases
    dummy_m.phase = 'M';
    dummy_m.orders_started = static_cast<size_t>(r.max.orders);
    dummy_p.phase = 'P';
    dummy_p.orders_started = static_cast<size_t>(r.paced.orders);
    auto [checked, booked] = flow.verify_booked({&dummy_m, &dummy_p}, 32, &r.first_problem);
    r.get_checked = checked;
    r.get_booked = booked;
  }
  std::map<std::string, uint64_t> by_ref;
  if (!check_labels("127.0.0.1", sim_port, &r.ledger, &by_ref, &error)) {
    r.note += (r.note.empty() ? "" : "; ") + error;
    ok = false;
  }
  std::set<std::string> booked_refs;
  for (char phase : {'M', 'P'}) {
    size_t n = phase == 'M' ? r.max.orders : r.paced.orders;
    for (size_t i = 0; i < n && i < flow.capacity(); ++i) {
      if (!flow.slot(phase, i).booked_us.load()) continue;
      std::string ref = flow.orders().order_id(phase, i) + "-1";
      booked_refs.insert(ref);
      r.packages_booked += static_cast<uint64_t>(flow.orders().packages(phase, i));
      if (!by_ref.count(ref)) ++r.booked_not_sold;
    }
  }
  r.shipments_booked = booked_refs.size();
  for (auto& [ref, n] : by_ref)
    if (!booked_refs.count(ref)) ++r.sold_not_booked;
  log("order-to-label: %llu labels sold for %llu references (%llu carrier shipments), %llu duplicate references; "
      "%llu shipments booked (%llu packages); GET confirms %llu of %llu",
      static_cast<unsigned long long>(r.ledger.labels), static_cast<unsigned long long>(r.ledger.references),
      static_cast<unsigned long long>(r.ledger.carrier_shipments),
      static_cast<unsigned long long>(r.ledger.duplicate_references),
      static_cast<unsigned long long>(r.shipments_booked), static_cast<unsigned long long>(r.packages_booked),
      static_cast<unsigned long long>(r.get_booked), static_cast<unsigned long long>(r.get_checked));
  if (r.ledger.duplicate_references > 0) ok = false;

  if (!server.running()) {
    r.note += (r.note.empty() ? "" : "; ") + std::string("waybilld ended (") + server.ended() + ") during the run";
    ok = false;
  } else if (int code = server.stop(60); code != 0) {
    r.note += (r.note.empty() ? "" : "; ") + std::string("waybilld exit ") + std::to_string(code);
  }
  sim.stop(10);
  r.ran = r.max.ran;
  if (!o_.keep_data) fs::remove_all(wo.data_dir);
  return ok;
}

}  // namespace waybill::bench::detail
