// Log-linear latency histogram (HdrHistogram-style, fixed precision): values are
// nanoseconds; each power of two is split into 32 linear sub-buckets, so a reported
// percentile is within ~3% of the true value. Recording is lock-free (relaxed atomic
// counters), so any number of driver threads may share one histogram.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace waybill::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr uint64_t kSub = 1u << kSubBits;  // sub-buckets per power of two
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  Histogram() { reset(); }

  void reset() {
    for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
    total_.store(0, std::memory_order_relaxed);
    max_.store(0, std::memory_order_relaxed);
    sum_.store(0, std::memory_order_relaxed);
  }

  void record(uint64_t ns) {
    counts_[index(ns)].fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(ns, std::memory_order_relaxed);
    uint64_t m = max_.load(std::memory_order_relaxed);
    while (ns > m && !max_.compare_exchange_weak(m, ns, std::memory_order_relaxed)) {
    }
  }

  uint64_t count() const { return total_.load(std::memory_order_relaxed); }
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }
  double mean() const {
    uint64_t n = count();
    return n ? static_cast<double>(sum_.load(std::memory_order_relaxed)) / n : 0.0;
  }

  /// Value at quantile q in [0,1] (upper edge of its bucket, capped at the maximum).
  uint64_t quantile(double q) const {
    uint64_t n = count();
    if (n == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(n));
    if (rank >= n) rank = n - 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i].load(std::memory_order_relaxed);
      if (seen > rank) {
        uint64_t v = upper(i);
        return v < max() ? v : max();
      }
    }
    return max();
  }

 private:
  static int index(uint64_t v) {
    if (v < kSub) return static_cast<int>(v);
    int msb = 63 - std::countl_zero(v);  // >= kSubBits
    int shift = msb - kSubBits;
    return static_cast<int>((shift + 1) * kSub + ((v >> shift) - kSub));
  }
  static uint64_t upper(int i) {
    if (i < static_cast<int>(kSub)) return static_cast<uint64_t>(i);
    int shift = i / static_cast<int>(kSub) - 1;
    uint64_t sub = static_cast<uint64_t>(i % kSub) + kSub;
    return ((sub + 1) << shift) - 1;
  }

  std::array<std::atomic<uint64_t>, kBuckets> counts_;
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> max_{0};
  std::atomic<uint64_t> sum_{0};
};

}  // namespace waybill::bench
