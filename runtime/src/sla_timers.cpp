#include "waybill/runtime/sla_timers.hpp"

#include <unordered_set>

#include <caf/message.hpp>

#include "waybill/runtime/log.hpp"

#include "waybill/actors/entity.hpp"

namespace waybill::runtime {

namespace {
int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

SlaTimerScanner::SlaTimerScanner(const storage::Store& store, actors::EntityRegistry& shipments,
                                 SlaTimerOptions options)
    : store_(store), shipments_(shipments), options_(std::move(options)) {
  if (options_.deadlines.enabled) thread_ = std::thread([this] { run(); });
}

SlaTimerScanner::~SlaTimerScanner() { stop(); }

void SlaTimerScanner::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t SlaTimerScanner::scan_once(int64_t now_us) {
  std::lock_guard<std::mutex> scan_lock(scan_mutex_);
  const int64_t now_ms = steady_ms();
  // Timers handed out and not yet deleted stay in the column; visit them plus a page of
  // new ones, no more.
  const size_t visit_limit = options_.max_fires_per_scan + dispatched_.size();
  std::unordered_set<std::string> present;
  size_t fired = 0;
  auto st = store_.scan_from(storage::Column::timers, "", visit_limit, [&](std::string_view key, std::string_view) {
    auto timer = actors::parse_sla_timer_key(key);
    if (!timer) return true;  // not ours; never written by this version
    if (timer->due_us > now_us) return false;  // sorted by deadline: nothing further is due
    std::string k(key);
    present.insert(k);
    auto it = dispatched_.find(k);
    if (it != dispatched_.end() && now_ms - it->second < options_.redispatch_after_ms) return true;
    if (fired == options_.max_fires_per_scan) return false;
    auto sent = shipments_.send(timer->shipment_id, caf::make_message(actors::SlaDue{timer->kind, timer->due_us, now_us}));
    if (!sent.ok()) return false;  // overloaded: the rest waits for the next scan
    dispatched_[k] = now_ms;
    ++fired;
    return true;
  });
  if (!st.ok()) log::Logger("sla").warn("timer scan failed", {{"error", st.message()}});
  // Keys gone from the column were fired or moved: forget them.
  for (auto it = dispatched_.begin(); it != dispatched_.end();)
    it = present.count(it->first) ? std::next(it) : dispatched_.erase(it);
  return fired;
}

void SlaTimerScanner::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.scan_interval_ms));
    if (stopping_) break;
    lock.unlock();
    scan_once(now_us());
    lock.lock();
  }
}

}  // namespace waybill::runtime
