// Fires durable SLA timers: reads the timers column (sorted by deadline) and hands each
// due one to its shipment actor, which fires it at most once and deletes its key in the
// same batch as the event. Nothing lives only in memory, so timers survive restarts:
// after a crash the next scan finds every deadline that passed meanwhile.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "waybill/actors/registry.hpp"
#include "waybill/actors/sla_logic.hpp"
#include "waybill/storage/store.hpp"

namespace waybill::runtime {

struct SlaTimerOptions {
  /// The deadlines themselves (enabled, no_pickup_after_s, stale_after_s, eta_grace_s).
  actors::SlaOptions deadlines;
  /// How often the timers column is scanned for due deadlines, in ms. Default: 1000.
  int scan_interval_ms = 1000;
  /// Most due timers handed to actors per scan (bounds a burst after downtime). Default: 1000.
  size_t max_fires_per_scan = 1000;
  /// A timer handed out but still present after this long is handed out again (the
  /// actor was passivated or the node overloaded before it fired), in ms. Default: 30000.
  int redispatch_after_ms = 30000;
};

class SlaTimerScanner {
 public:
  SlaTimerScanner(const storage::Store& store, actors::EntityRegistry& shipments, SlaTimerOptions options);
  ~SlaTimerScanner();
  SlaTimerScanner(const SlaTimerScanner&) = delete;
  SlaTimerScanner& operator=(const SlaTimerScanner&) = delete;

  /// One scan at `now_us`; returns the timers handed out. The thread calls it; tests may too.
  size_t scan_once(int64_t now_us);
  void stop();

 private:
  void run();

  const storage::Store& store_;
  actors::EntityRegistry& shipments_;
  SlaTimerOptions options_;
  // Timer key -> steady time (ms) it was handed out; only keys still due and present.
  std::unordered_map<std::string, int64_t> dispatched_;  // guarded by scan_mutex_
  std::mutex scan_mutex_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace waybill::runtime
