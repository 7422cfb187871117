// The bench run as one object: each part of the run is a member, spread over
// scenario.cpp (HTTP and in-process phases), scenario_o2l.cpp (order-to-label),
// scenario_baselines.cpp and scenario_restart.cpp. Internal to waybill-bench.
#pragma once

#include <sys/resource.h>

#include <memory>
#include <string>

#include "baselines.hpp"
#include "driver.hpp"
#include "inproc.hpp"
#include "options.hpp"
#include "order_to_label.hpp"
#include "report.hpp"
#include "server.hpp"
#include "workload.hpp"

namespace waybill::bench::detail {

inline double self_cpu_seconds() {
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// One place to run phases against: a waybilld child over HTTP or an engine in-process.
struct Target {
  std::string transport;  // "http" or "inproc"
  ServerProcess* server = nullptr;
  InprocEngine* engine = nullptr;

  MetricsSnapshot snapshot() const {
    return server ? scrape(server->host(), server->port()) : engine->snapshot();
  }
  double engine_cpu() const { return server ? cpu_seconds(server->pid()) : self_cpu_seconds(); }
  void drive(const DriveOptions& d, const Source& s, DriveResult& r) const {
    if (server) drive_http(HttpEndpoint{server->host(), server->port()}, d, s, r);
    else drive_inproc(*engine, d, s, r);
  }
};

class Runner {
 public:
  explicit Runner(BenchOptions o) : o_(std::move(o)), t0_(now_seconds()) {}
  int run();

 private:
  void log(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  std::string config_text(bool small_cache) const;
  std::string write_config(const std::string& name, bool small_cache);
  PhaseResult phase(const Target& t, const std::string& path, const std::string& unit, const DriveOptions& d,
                    const Source& source);
  // The intake and milestone phases on one target; returns shipments registered.
  size_t run_paths(const Target& t, const Workload& wl);
  bool run_http();
  bool run_inproc();
  void run_baselines();
  RocksBaselineOptions rocks_options() const;
  void run_rocksdb_half(const char* when);
  bool run_restart_and_memory();
  // Order-to-label against carrier-sim (scenario_o2l.cpp).
  bool run_order_to_label();
  std::string o2l_config_text(const std::string& carriers_dir) const;
  void o2l_phase(LabelFlow& flow, ServerProcess& server, ServerProcess& sim, char phase, double rate, O2LPhase& out);
  void o2l_bound();
  DriveOptions drive_options(const Target& t, double duration) const;
  /// False (and a note) once the server under test is gone: later phases are skipped.
  bool alive(const Target& t, const std::string& after_phase);

  BenchOptions o_;
  RunReport report_;
  double t0_;
  std::string work_;
  std::unique_ptr<Workload> wl_;
  bool failed_ = false;
};

}  // namespace waybill::bench::detail
