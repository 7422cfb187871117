// Tracking by polling, for carriers that push no webhooks (profiles with a
// `tracking_poll:` section). One actor per such carrier walks the durable poll index
// (actors/tracking_poll.hpp) in bounded pages: every `interval_s` a sweep starts, and
// each tick reads at most `batch_size` index entries and sends their polls, with at most
// `max_concurrency` in flight. A poll is one carrier call through the carrier's adapter,
// so it shares the account's token bucket, concurrency window and circuit breaker with
// bookings. Mapped events go to the shipment actor exactly as a webhook's would (one
// MilestoneBatch per answer); the actor dedupes and orders them.
//
// Nothing is kept across restarts but the index itself: after a restart the first sweep
// polls every active shipment again, and duplicates are dropped by the shipment actor.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "waybill/actors/entity.hpp"

namespace waybill::runtime {

/// Live figures of one carrier's poller, read by the metrics module.
struct PollStats {
  std::atomic<uint64_t> polls_sent{0};       // carrier calls sent (one per shipment or per piece)
  std::atomic<uint64_t> polls_ok{0};
  std::atomic<uint64_t> polls_failed{0};     // transport faults, 5xx, 429, rejections, unreadable answers
  std::atomic<uint64_t> polls_retried{0};    // failed polls queued for the next tick
  std::atomic<uint64_t> events_received{0};  // events in answers
  std::atomic<uint64_t> events_skipped{0};   // events that could not be mapped (unknown code, bad time)
  std::atomic<uint64_t> events_applied{0};   // moved the shipment's status
  std::atomic<uint64_t> events_late{0};      // entered history only
  std::atomic<uint64_t> events_duplicate{0};
  std::atomic<uint64_t> events_rejected{0};  // refused by the shipment (full history, overload)
  std::atomic<uint64_t> sweeps_completed{0};
  std::atomic<uint64_t> lag_us_sum{0};       // sum over sent polls of (sent - due)
  std::atomic<int64_t> lag_us{0};            // age of the oldest due poll not yet sent; 0 when caught up
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> last_sweep_shipments{0};  // index entries the last complete sweep saw
};
using PollStatsMap = std::map<std::string, std::shared_ptr<PollStats>>;

struct TrackingPollerDeps {
  storage::Store* store = nullptr;
  actors::EntityRegistry* shipments = nullptr;
  const actors::CarrierDirectory* carriers = nullptr;  // profiles, adapters, adapter stats
};

class TrackingPoller {
 public:
  /// Spawns one poller actor per carrier whose profile enables tracking_poll (none: an
  /// idle object). `deps` must outlive the poller.
  static std::unique_ptr<TrackingPoller> start(caf::actor_system& system, TrackingPollerDeps deps);
  ~TrackingPoller();
  /// Stops the actors; answers still under way are dropped (the next sweep polls again).
  void stop();
  const PollStatsMap& stats() const { return stats_; }

 private:
  TrackingPoller() = default;
  std::vector<caf::actor> actors_;
  PollStatsMap stats_;
};

}  // namespace waybill::runtime
