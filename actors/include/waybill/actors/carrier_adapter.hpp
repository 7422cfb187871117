// Carrier adapter actor: one per carrier account. It owns the backpressure toward the
// carrier - a bounded queue, a token bucket (rate limit), a concurrency window and a
// circuit breaker - retries transient faults with exponential backoff and full jitter,
// never retries business rejections, and never resends a booking that may have reached
// the carrier (that one is reported in doubt and resolved by lookup).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "waybill/actors/carrier_profile.hpp"

namespace waybill::actors {

/// The network seen by adapters (implemented over the HTTP client in runtime; a fake in
/// deterministic tests).
struct CarrierHttpRequest {
  std::string method;
  std::string host;
  uint16_t port = 0;
  std::string target;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int timeout_ms = 5000;
};
struct CarrierHttpResult {
  bool answered = false;    // an HTTP answer arrived (any status)
  bool maybe_sent = false;  // no answer, and the request may have reached the carrier
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;
};
using CarrierTransport = std::function<void(CarrierHttpRequest, std::function<void(CarrierHttpResult)>)>;

/// Canonical data a carrier request is rendered from.
struct BookingInput {
  std::string reference;  // shipper reference: the booking's idempotency key at the carrier
  std::string service;
  std::string carrier_shipment_id;  // void, pickup, track
  std::string tracking_number;      // track, when the poll path names one piece
  fb::PartyT ship_from;
  fb::PartyT ship_to;
  std::vector<fb::PackageT> packages;
};
MappingSource mapping_source(const BookingInput& input);

enum class CallKind { rate, book, lookup, void_label, pickup, track };
const char* name(CallKind k);

struct Quote {
  std::string service;
  int64_t total_minor = 0;
  std::string currency;
  int transit_days = 0;
};
struct BookingResult {
  std::string carrier_shipment_id;
  std::vector<std::string> tracking_numbers;
  std::vector<std::string> labels;  // base64, one per package
  std::string label_format;
  int64_t total_minor = 0;
  std::string currency;
};

enum class CallOutcome {
  ok,        // done; results below
  rejected,  // business rejection: `reason` is a canonical category, no retry
  in_doubt,  // booking may have been made: resolve by lookup, never book again blindly
  failed,    // transient faults outlasted the retry budget (request never processed or idempotent)
  refused,   // adapter queue full: nothing was sent
};
const char* name(CallOutcome o);

struct CallResult {
  CallOutcome outcome = CallOutcome::failed;
  std::string reason;        // canonical rejection category or failure kind
  std::string message;       // carrier's message or transport error
  std::string carrier_code;  // carrier's own error code
  int attempts = 0;
  uint32_t profile_version = 0;
  std::string request_body;  // last rendered request (for the audit trail)
  std::vector<Quote> quotes;             // rate
  BookingResult booking;                 // book, pickup (carrier_shipment_id = confirmation)
  std::vector<BookingResult> found;      // lookup
  PolledEvents tracking;                 // track: events mapped with the profile's tracking_poll
};

struct CarrierCall {
  CallKind kind = CallKind::book;
  BookingInput input;
  std::function<void(CallResult)> done;  // exactly once, from the adapter
  /// Attempts for this call; 0: the profile's retry.max_attempts. Tracking polls use 1:
  /// the poller retries at its next tick instead of holding a window slot in backoff.
  int max_attempts = 0;
  /// Sent as X-Request-Id with every attempt, so the carrier's logs can be matched
  /// with ours; empty: no header (calls no request caused, e.g. after a restart).
  std::string correlation_id;
};

/// Live figures of one adapter, read by the metrics module.
struct AdapterStats {
  std::atomic<uint64_t> calls_ok{0}, calls_rejected{0}, calls_in_doubt{0}, calls_failed{0}, calls_refused{0};
  std::atomic<uint64_t> attempts{0}, retries{0}, breaker_opened{0};
  std::atomic<int64_t> queue_depth{0}, in_flight{0};
  std::atomic<int> breaker_state{0};  // 0 closed, 1 open, 2 half-open
  std::atomic<uint64_t> latency_us_sum{0}, latency_count{0};
};

/// Classifies one HTTP exchange (pure; exposed for tests).
enum class AttemptClass { ok, rejected, transient, rate_limited, in_doubt, unauthorized };
AttemptClass classify(CallKind kind, const CarrierHttpResult& r);

/// Parses a 2xx answer of `kind` with the profile's response map.
Status parse_answer(const CarrierProfile& p, CallKind kind, const std::string& body, CallResult* out);
/// Canonical category and carrier code of a 4xx answer.
void parse_rejection(const CarrierProfile& p, const std::string& body, CallResult* out);

caf::actor spawn_carrier_adapter(caf::actor_system& sys, CarrierProfile profile, CarrierTransport transport,
                                 std::shared_ptr<AdapterStats> stats, uint64_t seed);

}  // namespace waybill::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::actors::CarrierCall>)
