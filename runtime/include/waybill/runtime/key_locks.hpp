// A striped set of keys being processed right now (Idempotency-Keys, tracking numbers
// being registered). It makes "check stored record, then act" atomic per key without
// a global lock: a second request for a key already in flight is refused, not queued.
#pragma once

#include <array>
#include <mutex>
#include <string>
#include <unordered_set>

namespace waybill::runtime {

class KeyLocks {
 public:
  /// True if `key` was free and is now held by the caller.
  bool try_acquire(const std::string& key) {
    auto& s = stripe(key);
    std::lock_guard<std::mutex> lock(s.mutex);
    return s.keys.insert(key).second;
  }
  void release(const std::string& key) {
    auto& s = stripe(key);
    std::lock_guard<std::mutex> lock(s.mutex);
    s.keys.erase(key);
  }

 private:
  struct Stripe {
    std::mutex mutex;
    std::unordered_set<std::string> keys;
  };
  Stripe& stripe(const std::string& key) { return stripes_[std::hash<std::string>{}(key) % stripes_.size()]; }
  std::array<Stripe, 64> stripes_;
};

}  // namespace waybill::runtime
