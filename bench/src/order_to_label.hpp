// Order-to-label: carrier booking measured end to end against a waybilld whose carrier
// profiles point at a real carrier-sim. Per order the client sends POST /v1/orders,
// /release and /pack; waybill then rates (when several carriers qualify), books and
// commits shipment "{order_id}-1" as booked, and a `shipment.booked` event appears on
// the event feed, which one follower thread long-polls. Latency runs from the pack
// request's send time to the event's "time" (same host clock).
//
// This file holds the pieces that do not depend on the bench run: the test files
// (carrier-sim config, profile copies), the order generator, the flow driver with its
// feed follower, and the checks at the end. scenario_o2l.cpp puts them together.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "histogram.hpp"
#include "report.hpp"

namespace waybill::bench {

/// Adapter limits written into the profile copies; 0 keeps the profile's own value.
struct LimitOverrides {
  double requests_per_second = 5000;
  double burst = 500;
  int max_in_flight = 256;
};

/// Copies every *.yaml profile of `from_dir` into `to_dir` with base_url's host:port
/// replaced by `sim_hostport` and the limits overridden; validates the copies with
/// waybill's own profile loader. Fills `limits` with what the copies say.
bool write_carrier_profiles(const std::string& from_dir, const std::string& to_dir, const std::string& sim_hostport,
                            const LimitOverrides& overrides, std::map<std::string, O2LCarrierLimits>* limits,
                            std::string* error);

/// carrier-sim config from `from` (configs/carrier-sim.yaml): every carrier with a fixed
/// latency of `latency_ms`, no faults, no rate limit, no random rejections, and its
/// tracking feed on or off.
bool write_sim_config(const std::string& from, const std::string& to, double latency_ms, bool tracking_feed,
                      std::string* error);

/// Orders of the flow, derived from (seed, phase, index) alone: 1..3 packages of
/// 0.2..20 kg, US destinations, service levels ground/express/overnight 3:1:1.
/// Express is the level two carriers serve, so its shipments are rated first.
struct LabelOrders {
  uint64_t seed = 42;
  std::string order_id(char phase, size_t i) const;   // "O2L-M-00000012"
  std::string order_json(char phase, size_t i) const;
  int packages(char phase, size_t i) const;
  /// 0 ground, 1 express, 2 overnight.
  int level(char phase, size_t i) const;
};

/// Per-order timestamps (system clock, µs since the epoch; 0 = not yet).
struct LabelSlot {
  std::atomic<int64_t> pack_sent_us{0};  // the accepted pack request was sent
  std::atomic<int64_t> booked_us{0};     // the shipment.booked event's "time"
  std::atomic<int64_t> seen_us{0};       // the follower received that event
};

/// What the client side of one flow run saw.
struct FlowRun {
  char phase = 'M';
  size_t orders_started = 0;
  uint64_t packs_accepted = 0;
  uint64_t requests = 0;       // HTTP requests answered (create, release, pack, retries)
  uint64_t http_errors = 0;    // non-2xx answers that ended an order (after retries)
  uint64_t transport_errors = 0;
  uint64_t retries = 0;        // 429/503 answers retried
  std::map<int, uint64_t> statuses;
  std::string first_error;
  int64_t first_send_us = 0;   // system clock
  int64_t last_pack_us = 0;    // last pack answer
  double elapsed_s = 0;        // first request to last answer
  double cap_wait_share = 0;   // share of connection-time spent waiting on the outstanding cap
  int connections = 0;         // connections used (paced: most open at once)
  Histogram start_lag;         // paced: how late an order started against its schedule, ns
  Histogram request_latency;   // every request, send to answer, ns
};

/// Drives the flow against one server and follows its event feed.
class LabelFlow {
 public:
  LabelFlow(std::string host, uint16_t port, LabelOrders orders, int threads, size_t capacity_per_phase);
  ~LabelFlow();

  /// Long-polls GET /v1/events?type=shipment.booked from position 0 until stop().
  void start_follower();
  void stop_follower();

  /// Closed loop: `connections` connections each run create -> release -> pack for the next
  /// order, for `duration_s`, pausing while `max_outstanding` packed orders are not yet
  /// booked.
  void run_max(FlowRun& run, char phase, int connections, size_t max_outstanding, double duration_s);
  /// Open loop: order i starts (create -> release -> pack) at start + i / rate, on any idle
  /// connection (a new one if none is idle, up to `max_connections`).
  void run_paced(FlowRun& run, char phase, double rate, double duration_s, int max_connections);
  /// Waits until every order of `run` that was packed has its booked event, at most
  /// `timeout_s` (or `stall_s` without progress). Returns the seconds waited.
  double drain(const FlowRun& run, double timeout_s, double stall_s = 15);

  /// Booked events received for `phase` (all, or with event time <= until_us).
  uint64_t booked(char phase, int64_t until_us = INT64_MAX) const;
  const LabelSlot& slot(char phase, size_t i) const;
  size_t capacity() const { return capacity_; }
  uint64_t foreign_events() const { return foreign_.load(); }
  uint64_t feed_polls() const { return polls_.load(); }
  const std::string& feed_error() const { return feed_error_; }
  const LabelOrders& orders() const { return orders_; }

  /// GET /v1/shipments/{order_id}-1 for every packed order of `runs`; counts those whose
  /// booking.state is "booked". Returns {checked, booked}.
  std::pair<uint64_t, uint64_t> verify_booked(const std::vector<const FlowRun*>& runs, int connections,
                                              std::string* first_problem);

  struct Impl;

 private:
  std::string host_;
  uint16_t port_;
  LabelOrders orders_;
  int threads_;
  size_t capacity_;
  std::vector<LabelSlot> max_slots_, paced_slots_;
  std::atomic<uint64_t> booked_max_{0}, booked_paced_{0}, foreign_{0}, polls_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> follower_fd_{-1};
  std::string feed_error_;
  std::unique_ptr<std::thread> follower_;
  void follow();
  std::vector<LabelSlot>& slots(char phase) { return phase == 'M' ? max_slots_ : paced_slots_; }
  const std::vector<LabelSlot>& slots(char phase) const { return phase == 'M' ? max_slots_ : paced_slots_; }
};

/// Percentiles of order-to-label latency over the booked orders of `run`.
struct LabelLatency {
  Histogram by_event;   // booked event time - pack send time, ns
  Histogram by_seen;    // follower received the event - pack send time, ns
  Histogram rated;      // by_event, express orders (two carriers quote first)
  Histogram single;     // by_event, ground and overnight (one eligible service, no rating)
};
void label_latency(const LabelFlow& flow, const FlowRun& run, LabelLatency* out);

/// GET /labels on carrier-sim and the duplicate check: at most one carrier shipment per
/// reference. `labels_by_reference` (optional) gets the labels sold per reference.
bool check_labels(const std::string& host, uint16_t sim_port, O2LLedger* out,
                  std::map<std::string, uint64_t>* labels_by_reference, std::string* error);

}  // namespace waybill::bench
