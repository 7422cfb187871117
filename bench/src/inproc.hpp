// The engine in this process: runtime::Engine + runtime::Api with the same YAML config
// the server would get, driven by calling Api::handle directly (no sockets).
#pragma once

#include <memory>
#include <string>

#include "driver.hpp"
#include "server.hpp"

namespace waybill::bench {

class InprocEngine {
 public:
  /// Starts an engine on `data_dir` with `config_yaml` (waybilld's format).
  static std::unique_ptr<InprocEngine> start(const std::string& config_yaml, const std::string& data_dir,
                                             std::string* error);
  ~InprocEngine();
  /// Drains writes, passivates actors, closes the store.
  void stop();

  /// The engine's metrics, parsed (same series as the server's /metrics).
  MetricsSnapshot snapshot() const;
  size_t resident_shipments() const;

  struct Impl;

 private:
  friend void drive_inproc(InprocEngine&, const DriveOptions&, const Source&, DriveResult&);
  explicit InprocEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Keeps `options.concurrency` requests in flight on `engine` from `options.threads`
/// feeder threads; answers come back on the engine's threads.
void drive_inproc(InprocEngine& engine, const DriveOptions& options, const Source& source, DriveResult& result);

}  // namespace waybill::bench
