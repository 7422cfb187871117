// waybill-bench: load and benchmark harness for waybill. See bench/README.md.
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <vector>

#include <CLI/CLI.hpp>

#include "options.hpp"

using namespace waybill::bench;

namespace {

// Next to this binary in a build tree: ../runtime/waybilld.
std::string default_server() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (auto p : {self.parent_path().parent_path() / "runtime" / "waybilld", self.parent_path() / "waybilld"})
      if (std::filesystem::exists(p)) return p.string();
  }
  for (const char* p : {"build/runtime/waybilld", "build-bench/runtime/waybilld"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

// carrier-sim next to this binary's build tree (../sim/carrier-sim), else next to waybilld's.
std::string default_sim(const std::string& server) {
  std::error_code ec;
  std::vector<std::filesystem::path> candidates;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(self.parent_path().parent_path() / "sim" / "carrier-sim");
  if (!server.empty()) {
    auto dir = std::filesystem::absolute(server, ec).parent_path();
    candidates.push_back(dir.parent_path() / "sim" / "carrier-sim");
    candidates.push_back(dir / "carrier-sim");
  }
  for (auto& p : candidates)
    if (std::filesystem::exists(p, ec)) return p.string();
  return "";
}

// configs/<name> of the source tree: above the build dir holding this binary, in the
// working directory, or where the bench was built from.
std::string default_config(const std::string& name) {
  std::error_code ec;
  std::vector<std::filesystem::path> candidates;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(self.parent_path().parent_path().parent_path() / "configs" / name);
  candidates.push_back(std::filesystem::path("configs") / name);
#ifdef WAYBILL_BENCH_SOURCE_DIR
  candidates.push_back(std::filesystem::path(WAYBILL_BENCH_SOURCE_DIR) / "configs" / name);
#endif
  for (auto& p : candidates)
    if (std::filesystem::exists(p, ec)) return std::filesystem::absolute(p, ec).string();
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o;
  CLI::App app{"waybill-bench: throughput, latency, memory, disk and restart figures for waybill, with "
               "raw RocksDB and PostgreSQL baselines measured in the same run"};
  bool quick = false;
  std::string skip;
  auto& w = o.workload;
  app.add_option("--scenario", o.scenario, "standard (< 5 min on 2 cores), quick (< 60 s) or full")
      ->check(CLI::IsMember({"standard", "quick", "full"}));
  app.add_flag("--quick", quick, "Same as --scenario quick");
  app.add_option("--server", o.server, "waybilld binary (default: next to this binary's build tree)");
  app.add_option("--server-config", o.server_config, "YAML config for every engine (default: embedded defaults)");
  app.add_option("--work-dir", o.work_dir, "Directory for data dirs; must be on the disk under test");
  app.add_flag("--keep-data", o.keep_data, "Keep the data dirs afterwards");
  app.add_option("--out", o.out, "JSON results file")->capture_default_str();
  // Workload.
  app.add_option("--seed", w.seed, "Workload seed")->capture_default_str();
  app.add_option("--orders", o.orders, "Orders generated (about 1.33 shipments each)");
  app.add_option("--max-packages", w.max_packages, "Packages per order: 1..N")->capture_default_str();
  app.add_option("--max-shipments-per-order", w.max_shipments_per_order, "Shipments per order: 1..N")
      ->capture_default_str();
  app.add_option("--min-milestones", w.min_milestones, "Fewest milestones per shipment")->capture_default_str();
  app.add_option("--max-milestones", w.max_milestones, "Most milestones per shipment")->capture_default_str();
  app.add_option("--late-share", w.late_share, "Share of milestones delivered 1-3 days late")->capture_default_str();
  app.add_option("--dup-share", w.dup_share, "Share of milestones delivered twice")->capture_default_str();
  app.add_option("--reorder-share", w.reorder_share, "Share of milestones delivered after the next scan")
      ->capture_default_str();
  app.add_option("--exception-share", w.exception_share, "Share of shipments with an exception")
      ->capture_default_str();
  // Drivers.
  app.add_option("--connections", o.connections, "HTTP keep-alive connections")->capture_default_str();
  app.add_option("--client-threads", o.client_threads, "HTTP client threads")->capture_default_str();
  app.add_option("--ndjson-batch", o.ndjson_batch, "Milestones per NDJSON request")->capture_default_str();
  app.add_option("--ndjson-connections", o.ndjson_connections,
                 "Connections for NDJSON bulk (batch x connections should stay under the write queue)")
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "Seconds per milestone phase");
  app.add_option("--intake-duration", o.intake_duration_s, "Cap in seconds per intake phase");
  app.add_option("--inproc-concurrency", o.inproc_concurrency, "In-process requests in flight")
      ->capture_default_str();
  app.add_option("--inproc-threads", o.inproc_threads, "In-process feeder threads")->capture_default_str();
  app.add_option("--skip", skip, "Comma-separated parts to skip: http,o2l,inproc,rocksdb,postgres,restart,memory");
  // Order-to-label.
  app.add_option("--sim", o.sim, "carrier-sim binary (default: ../sim/carrier-sim next to this binary)");
  app.add_option("--carrier-profiles", o.carrier_profiles,
                 "Carrier profiles copied for order-to-label (default: the source tree's configs/carriers)");
  app.add_option("--sim-config", o.sim_config,
                 "carrier-sim config the test one derives from (default: configs/carrier-sim.yaml)");
  app.add_option("--o2l-duration", o.o2l_duration_s, "Seconds of the order-to-label closed loop (most labels/s)");
  app.add_option("--o2l-paced-duration", o.o2l_paced_duration_s, "Seconds of the order-to-label open loop (latency)");
  app.add_option("--o2l-connections", o.o2l_connections, "Connections of the order-to-label closed loop")
      ->capture_default_str();
  app.add_option("--o2l-max-outstanding", o.o2l_max_outstanding,
                 "Packed orders not yet booked beyond which the closed loop pauses")
      ->capture_default_str();
  app.add_option("--o2l-rate", o.o2l_rate, "Orders/s of the open loop (default: half the closed loop's labels/s)");
  app.add_option("--o2l-carrier-latency", o.o2l_carrier_latency_ms, "carrier-sim latency per call, fixed, ms")
      ->capture_default_str();
  app.add_option("--o2l-max-in-flight", o.o2l_max_in_flight, "max_in_flight in the profile copies (0: keep)")
      ->capture_default_str();
  app.add_option("--o2l-rps", o.o2l_rps, "requests_per_second in the profile copies (0: keep)")->capture_default_str();
  app.add_option("--o2l-burst", o.o2l_burst, "burst in the profile copies (0: keep)")->capture_default_str();
  app.add_flag("--o2l-tracking-feed", o.o2l_tracking_feed, "Let carrier-sim push tracking webhooks for every label");
  // Restart and memory.
  app.add_option("--shipments-for-restart", o.restart_shipments, "Stored shipments for restart-to-ready");
  app.add_option("--rss-actors", o.rss_actors, "Shipment actors activated for RSS per actor");
  app.add_option("--ready-timeout", o.ready_timeout_s, "Seconds to wait for /readyz")->capture_default_str();
  // Baselines.
  app.add_option("--baseline-duration", o.baseline_duration_s, "Seconds per baseline");
  app.add_option("--rocksdb-producers", o.rocksdb_producers, "RocksDB baseline producer threads")
      ->capture_default_str();
  app.add_option("--rocksdb-batch", o.rocksdb_batch, "Milestones per RocksDB baseline WriteBatch")
      ->capture_default_str();
  app.add_flag("!--no-rocksdb-nosync", o.rocksdb_nosync, "Skip the RocksDB sync=false diagnostic");
  app.add_option("--pg-clients", o.pg_clients, "pgbench connections")->capture_default_str();
  app.add_option("--pg-bindir", o.pg_bindir, "PostgreSQL bin dir (default: newest /usr/lib/postgresql/*/bin)");
  CLI11_PARSE(app, argc, argv);
  if (quick) o.scenario = "quick";

  // Presets fill in what the command line did not set.
  auto preset = [&](const char* flag, auto& field, auto value) {
    if (app.get_option(flag)->count() == 0) field = value;
  };
  if (o.scenario == "quick") {
    preset("--orders", o.orders, size_t{8000});
    preset("--duration", o.duration_s, 4.0);
    preset("--intake-duration", o.intake_duration_s, 4.0);
    preset("--shipments-for-restart", o.restart_shipments, size_t{20000});
    preset("--rss-actors", o.rss_actors, size_t{20000});
    preset("--baseline-duration", o.baseline_duration_s, 3.0);
    preset("--o2l-duration", o.o2l_duration_s, 3.0);
    preset("--o2l-paced-duration", o.o2l_paced_duration_s, 3.0);
    preset("--o2l-max-outstanding", o.o2l_max_outstanding, size_t{1000});
  } else if (o.scenario == "full") {
    preset("--shipments-for-restart", o.restart_shipments, size_t{1000000});
    preset("--rss-actors", o.rss_actors, size_t{100000});
  }
  if (o.rss_actors > o.restart_shipments) o.rss_actors = o.restart_shipments;
  for (const char* part : {"http", "o2l", "inproc", "rocksdb", "postgres", "restart", "memory"}) {
    if (("," + skip + ",").find(std::string(",") + part + ",") == std::string::npos) continue;
    std::map<std::string, bool*> flags = {{"http", &o.run_http},       {"o2l", &o.run_o2l},
                                          {"inproc", &o.run_inproc},   {"rocksdb", &o.run_rocksdb},
                                          {"postgres", &o.run_postgres}, {"restart", &o.run_restart},
                                          {"memory", &o.run_memory}};
    *flags[part] = false;
  }
  if (o.server.empty()) o.server = default_server();
  if ((o.run_http || o.run_restart || o.run_o2l) && (o.server.empty() || ::access(o.server.c_str(), X_OK) != 0)) {
    std::fprintf(stderr,
                 "waybill-bench: no waybilld binary%s%s; pass --server PATH (or --skip http,o2l,restart,memory)\n",
                 o.server.empty() ? "" : " at ", o.server.c_str());
    return 2;
  }
  if (o.sim.empty()) o.sim = default_sim(o.server);
  if (o.carrier_profiles.empty()) o.carrier_profiles = default_config("carriers");
  if (o.sim_config.empty()) o.sim_config = default_config("carrier-sim.yaml");
  return run_bench(std::move(o));
}
