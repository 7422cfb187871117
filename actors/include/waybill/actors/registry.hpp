// Virtual actors: an entity's actor is spawned on its first message (it loads its state
// from storage) and passivated when idle or when the resident set passes its cap.
//
// Safety of passivation: every send goes through send() under the entity's shard lock
// and counts itself in `inflight`; the actor uncounts a message only after handling it
// (including submitting its writes, counted in `pending_writes` until committed). An
// entry is erased, and its actor told to quit, only under the same lock with both
// counters at zero, so no message can reach a passivating actor and no actor can be
// re-activated from storage while a write of its previous incarnation is in flight.
// An actor waiting for a carrier answer or a timer counts it in `pending_effects` and
// stays resident until it arrives, so the answer reaches the incarnation that asked.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/message.hpp>

#include "waybill/status.hpp"

namespace waybill::actors {

/// Shared between the registry and one actor incarnation.
struct EntityHandle {
  std::atomic<int64_t> inflight{0};        // messages sent, not yet fully handled
  std::atomic<int64_t> pending_writes{0};  // writes submitted, not yet committed
  std::atomic<int64_t> pending_effects{0}; // carrier calls and timers whose answer comes back here
  /// True when the actor holds nothing that passivation would lose.
  bool idle() const { return inflight.load() == 0 && pending_writes.load() == 0 && pending_effects.load() == 0; }
  /// Called by the actor when it finished a message.
  void done() { inflight.fetch_sub(1, std::memory_order_acq_rel); }
};

struct RegistryOptions {
  /// Most resident actors of this kind; beyond it idle ones are passivated first and,
  /// if none is idle, the send fails with `unavailable`. Default: 200000.
  size_t max_resident = 200000;
  /// An actor untouched this long is passivated by sweep(). Default: 60000 (1 minute).
  int64_t idle_timeout_ms = 60000;
  /// Lock shards; more shards, less contention. Default: 64.
  size_t shards = 64;
  /// Milliseconds that last-use times are stamped with (compared by sweep()); null: the
  /// steady clock. Deterministic simulation sets a virtual clock.
  int64_t (*clock_ms)() = nullptr;
};

class EntityRegistry {
 public:
  using Spawner = std::function<caf::actor(const std::string& id, std::shared_ptr<EntityHandle>)>;

  EntityRegistry(std::string kind, RegistryOptions options, Spawner spawner);
  ~EntityRegistry();

  /// Delivers `msg` to the entity's actor, activating it if needed.
  Status send(const std::string& id, caf::message msg);
  /// Passivates actors idle for longer than the idle timeout; returns how many.
  size_t sweep(int64_t now_ms);
  /// Passivates every idle actor (shutdown, tests).
  size_t passivate_all();
  /// Stops every actor, idle or not (last step of a shutdown, after writes drained).
  void stop_all();

  size_t resident() const { return resident_.load(std::memory_order_relaxed); }
  uint64_t activations() const { return activations_.load(std::memory_order_relaxed); }
  uint64_t passivations() const { return passivations_.load(std::memory_order_relaxed); }
  const std::string& kind() const { return kind_; }

 private:
  struct Entry;
  struct Shard;
  Shard& shard_for(const std::string& id);
  bool evict_one(Shard& shard);
  size_t sweep_shard(Shard& shard, int64_t idle_before_ms);

  std::string kind_;
  RegistryOptions options_;
  Spawner spawner_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<size_t> resident_{0};
  std::atomic<uint64_t> activations_{0};
  std::atomic<uint64_t> passivations_{0};
};

}  // namespace waybill::actors
