// Visibility freshness: the share of active shipments whose latest milestone is recent.
// A shipper's control tower asks "of the parcels out there, how many have we heard of
// lately?"; a carrier that stops sending scans shows up here before customers call.
//
// Computed from the stored shipment headers by repeated passes in bounded steps (a
// fresh iterator per step), so it costs one read of the shipments column per pass and
// holds nothing per shipment in memory. The figures are those of the last complete pass.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "waybill/storage/store.hpp"

namespace waybill::runtime {

struct VisibilityOptions {
  /// A shipment is fresh when its latest carrier scan (before any scan: its label) is
  /// at most this old, in hours. Default: 24.
  int64_t fresh_within_h = 24;
  /// Pause between the end of one pass over the shipments and the next, in ms.
  /// Default: 60000. 0 turns the passes (and the gauges) off.
  int pass_interval_ms = 60000;
  /// Shipment headers read per step of a pass (one iterator each). Default: 2000.
  size_t headers_per_step = 2000;
};

/// Counts of one pass, by carrier.
struct VisibilityFigures {
  struct Carrier {
    uint64_t active = 0;  // has a label or a carrier scan, not delivered/returned/cancelled/voided
    uint64_t fresh = 0;   // active with a milestone within fresh_within_h
  };
  std::map<std::string, Carrier> carriers;
  int64_t completed_us = 0;  // when the pass ended; 0: no pass completed yet
  uint64_t headers_read = 0;
};

/// Whether a stored shipment header is active and, if so, fresh at `now_us`. Exposed
/// for tests. Returns false for bytes that are not a shipment header.
bool classify_shipment(std::string_view header_bytes, int64_t now_us, int64_t fresh_within_us, std::string* carrier,
                       bool* active, bool* fresh);

class VisibilityScanner {
 public:
  VisibilityScanner(const storage::Store& store, VisibilityOptions options);
  ~VisibilityScanner();
  VisibilityScanner(const VisibilityScanner&) = delete;
  VisibilityScanner& operator=(const VisibilityScanner&) = delete;

  /// One complete pass at `now_us`; publishes its figures. The thread calls it; tests may.
  Status pass(int64_t now_us);
  /// The last complete pass.
  VisibilityFigures figures() const;
  const VisibilityOptions& options() const { return options_; }
  void stop();

 private:
  void run();

  const storage::Store& store_;
  VisibilityOptions options_;
  mutable std::mutex figures_mutex_;
  VisibilityFigures figures_;  // guarded by figures_mutex_
  std::mutex pass_mutex_;      // one pass at a time
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace waybill::runtime
