#include "waybill/actors/registry.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <list>

#include <caf/send.hpp>
#include <caf/atom.hpp>

#include "waybill/actors/entity.hpp"

namespace waybill::actors {

namespace {
int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

struct EntityRegistry::Entry {
  caf::actor actor;
  std::shared_ptr<EntityHandle> handle;
  int64_t last_used_ms = 0;
  std::list<std::string>::iterator lru;  // position in the shard's recency list
};

struct EntityRegistry::Shard {
  std::mutex mutex;
  std::unordered_map<std::string, Entry> entries;
  std::list<std::string> lru;  // front: most recently used
  size_t max_resident = 0;
};

EntityRegistry::EntityRegistry(std::string kind, RegistryOptions options, Spawner spawner)
    : kind_(std::move(kind)), options_(options), spawner_(std::move(spawner)) {
  assert(options_.shards > 0 && options_.max_resident > 0);
  // Every shard holds at least one actor, so no more shards than the cap allows.
  options_.shards = std::min(options_.shards, options_.max_resident);
  for (size_t i = 0; i < options_.shards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->max_resident = std::max<size_t>(1, options_.max_resident / options_.shards);
  }
}

EntityRegistry::~EntityRegistry() = default;

EntityRegistry::Shard& EntityRegistry::shard_for(const std::string& id) {
  return *shards_[std::hash<std::string>{}(id) % shards_.size()];
}

Status EntityRegistry::send(const std::string& id, caf::message msg) {
  auto& shard = shard_for(id);
  std::lock_guard<std::mutex> lock(shard.mutex);
  auto it = shard.entries.find(id);
  if (it == shard.entries.end()) {
    if (shard.entries.size() >= shard.max_resident && !evict_one(shard))
      return {Code::unavailable, kind_ + " actors are all busy (resident cap reached)"};
    auto handle = std::make_shared<EntityHandle>();
    Entry entry;
    entry.actor = spawner_(id, handle);
    entry.handle = std::move(handle);
    shard.lru.push_front(id);
    entry.lru = shard.lru.begin();
    it = shard.entries.emplace(id, std::move(entry)).first;
    resident_.fetch_add(1, std::memory_order_relaxed);
    activations_.fetch_add(1, std::memory_order_relaxed);
  } else {
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second.lru);
  }
  auto& e = it->second;
  e.last_used_ms = options_.clock_ms ? options_.clock_ms() : steady_ms();
  e.handle->inflight.fetch_add(1, std::memory_order_acq_rel);
  caf::anon_send(e.actor, std::move(msg));
  return {};
}

// Passivates the least recently used idle entry of `shard`. Caller holds the lock.
bool EntityRegistry::evict_one(Shard& shard) {
  size_t looked = 0;
  // Bounded walk from the cold end: busy entries near it are skipped, not waited for.
  for (auto it = shard.lru.rbegin(); it != shard.lru.rend() && looked < 64; ++it, ++looked) {
    auto e = shard.entries.find(*it);
    assert(e != shard.entries.end());
    if (!e->second.handle->idle()) continue;
    caf::anon_send(e->second.actor, passivate_atom_v);
    shard.lru.erase(e->second.lru);
    shard.entries.erase(e);
    resident_.fetch_sub(1, std::memory_order_relaxed);
    passivations_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  return false;
}

size_t EntityRegistry::sweep_shard(Shard& shard, int64_t idle_before_ms) {
  std::lock_guard<std::mutex> lock(shard.mutex);
  size_t n = 0;
  // Walk from the cold end; `it` stays valid because only the element before it is erased.
  for (auto it = shard.lru.end(); it != shard.lru.begin();) {
    auto cur = std::prev(it);
    auto e = shard.entries.find(*cur);
    assert(e != shard.entries.end());
    if (e->second.last_used_ms >= idle_before_ms) break;  // the rest is more recent
    if (!e->second.handle->idle()) {
      it = cur;
      continue;
    }
    caf::anon_send(e->second.actor, passivate_atom_v);
    shard.entries.erase(e);
    shard.lru.erase(cur);
    ++n;
  }
  resident_.fetch_sub(n, std::memory_order_relaxed);
  passivations_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

size_t EntityRegistry::sweep(int64_t now_ms) {
  size_t n = 0;
  for (auto& s : shards_) n += sweep_shard(*s, now_ms - options_.idle_timeout_ms);
  return n;
}

void EntityRegistry::stop_all() {
  for (auto& s : shards_) {
    std::lock_guard<std::mutex> lock(s->mutex);
    for (auto& [id, e] : s->entries) caf::anon_send_exit(e.actor, caf::exit_reason::user_shutdown);
    resident_.fetch_sub(s->entries.size(), std::memory_order_relaxed);
    s->entries.clear();
    s->lru.clear();
  }
}

size_t EntityRegistry::passivate_all() {
  size_t n = 0;
  for (auto& s : shards_) n += sweep_shard(*s, INT64_MAX);
  return n;
}

}  // namespace waybill::actors
