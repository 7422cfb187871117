#include "waybill/runtime/visibility.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "waybill/actors/model.hpp"
#include "waybill/runtime/log.hpp"

namespace waybill::runtime {

namespace {

constexpr log::Logger kLog("visibility");
constexpr int64_t kUsPerHour = 3'600'000'000LL;

using T = TrackingStatus;

bool active_status(T s) {
  switch (s) {
    case T::pending:  // no label yet: nothing a carrier could report on
    case T::delivered:
    case T::return_to_sender:
    case T::cancelled:
      return false;
    default:
      return true;
  }
}

}  // namespace

bool classify_shipment(std::string_view bytes, int64_t now_us, int64_t fresh_within_us, std::string* carrier,
                       bool* active, bool* fresh) {
  // Read the table in place rather than unpacking it: a pass touches every header and
  // needs four fields. FlatBuffers needs aligned scalars; iterator memory may not be.
  std::vector<uint64_t> aligned((bytes.size() + sizeof(uint64_t) - 1) / sizeof(uint64_t));
  if (!bytes.empty()) std::memcpy(aligned.data(), bytes.data(), bytes.size());
  auto* data = reinterpret_cast<const uint8_t*>(aligned.data());
  flatbuffers::Verifier verifier(data, bytes.size());
  if (!verifier.VerifyBuffer<fb::Shipment>(nullptr)) return false;
  const auto* h = flatbuffers::GetRoot<fb::Shipment>(data);
  const auto booking = h->booking_state();
  *active = active_status(h->status()) && booking != fb::BookingState::voided &&
            booking != fb::BookingState::rejected;
  *carrier = h->carrier() ? h->carrier()->str() : std::string();
  // Once a carrier scanned the parcel, only its scans say we still see it; before that
  // the label is the latest news (a label recorded after a scan, as for a shipment
  // registered late, must not make it look fresh).
  const int64_t last_milestone_us = h->last_scan_us() > 0 ? h->last_scan_us() : h->label_us();
  *fresh = *active && last_milestone_us > 0 && now_us - last_milestone_us <= fresh_within_us;
  return true;
}

VisibilityScanner::VisibilityScanner(const storage::Store& store, VisibilityOptions options)
    : store_(store), options_(options) {
  if (options_.pass_interval_ms > 0) thread_ = std::thread([this] { run(); });
}

VisibilityScanner::~VisibilityScanner() { stop(); }

void VisibilityScanner::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status VisibilityScanner::pass(int64_t now_us) {
  std::lock_guard<std::mutex> pass_lock(pass_mutex_);
  const int64_t window_us = options_.fresh_within_h * kUsPerHour;
  const size_t step = std::max<size_t>(options_.headers_per_step, 1);
  VisibilityFigures next;
  std::string resume;  // first key of the next step
  for (;;) {
    size_t seen = 0;
    std::string last;
    auto st = store_.scan_from(storage::Column::shipments, resume, step, [&](std::string_view key, std::string_view value) {
      ++seen;
      last.assign(key);
      std::string carrier;
      bool active = false, fresh = false;
      if (!classify_shipment(value, now_us, window_us, &carrier, &active, &fresh) || !active) return true;
      auto& c = next.carriers[carrier];
      ++c.active;
      if (fresh) ++c.fresh;
      return true;
    });
    if (!st.ok()) return st;
    next.headers_read += seen;
    if (seen < step) break;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return Status{Code::unavailable, "stopping"};
    }
    resume = last;
    resume.push_back('\0');  // the smallest key after `last`
  }
  next.completed_us = now_us;
  std::lock_guard<std::mutex> lock(figures_mutex_);
  figures_ = std::move(next);
  return {};
}

VisibilityFigures VisibilityScanner::figures() const {
  std::lock_guard<std::mutex> lock(figures_mutex_);
  return figures_;
}

void VisibilityScanner::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    if (auto st = pass(now_us()); !st.ok() && st.code() != Code::unavailable)
      kLog.warn("visibility pass failed", {{"error", st.message()}});
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(options_.pass_interval_ms), [this] { return stopping_; });
  }
}

}  // namespace waybill::runtime
