// A carrier profile (configs/carriers/*.yaml): everything waybill needs to work with
// one carrier account - endpoints, auth, lanes, limits, retry and breaker policy, the
// request/response mapping and the tracking code table. Its version is recorded on
// every booking made with it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "waybill/actors/carrier_mapping.hpp"
#include "waybill/actors/model.hpp"
#include "waybill/actors/tracking_poll.hpp"

namespace waybill::actors {

struct CarrierService {
  std::string code;                    // carrier service code
  ServiceLevel level = ServiceLevel::ground;  // canonical level it fulfils
  double max_weight_kg = 70;           // per package
  std::vector<std::string> countries;  // destination countries; empty = any
  bool hazmat_allowed = false;
  int transit_days = 3;
};

struct CarrierAuth {
  std::string type = "none";           // none | api_key | oauth2
  std::string header = "X-Api-Key";    // api_key: header carrying the key
  std::string key;
  std::string token_path = "/oauth/token";  // oauth2: client-credentials token endpoint
  std::string client_id;
  std::string client_secret;
  int refresh_before_s = 60;           // refresh a token this long before it expires
};

struct CarrierLimits {
  double requests_per_second = 100;  // token bucket rate
  double burst = 20;                 // token bucket depth
  size_t max_in_flight = 16;         // concurrent calls
  size_t queue_capacity = 10000;     // calls waiting in the adapter; beyond: refused
  int timeout_ms = 5000;             // per call
  /// After an in-doubt booking, wait this long before looking it up: the carrier may
  /// still be processing the lost request. Default: 2000.
  int in_doubt_grace_ms = 2000;
};

struct RetryPolicy {
  int max_attempts = 5;        // including the first
  int base_backoff_ms = 100;   // doubled per attempt, with full jitter
  int max_backoff_ms = 5000;
};

struct BreakerPolicy {
  int failure_threshold = 5;   // consecutive transient failures that open it
  int cool_down_ms = 5000;     // open time before one trial call (half-open)
};

struct CarrierEndpoint {
  std::string method = "POST";
  std::string path;            // relative to base_url; {reference}, {carrier_shipment_id}
  RequestTemplate body;
};

/// Where the fields of a carrier answer are (extended JSON pointers).
struct BookingResponseMap {
  std::string carrier_shipment_id, tracking_numbers, labels, total_minor, currency;
  std::string label_format = "ZPL";
};
struct RateResponseMap {
  std::string quotes, service, total_minor, currency, transit_days;
};
struct ErrorResponseMap {
  std::string code, message;
  std::map<std::string, std::string> categories;  // carrier code -> canonical reason
};
struct WebhookMap {
  std::string secret;
  std::string signature_header = "x-carrier-signature";  // value "sha256=<hex HMAC>"
  std::string tracking_number, code, event_time, sequence, event_id;
  // Optional JSON pointers: free text, the carrier's delivery estimate (RFC 3339) and
  // proof of delivery on delivered scans.
  std::string description, estimated_delivery, signed_by, pod_document;
};

struct CarrierProfile {
  std::string name;
  uint32_t version = 1;
  std::string host = "127.0.0.1";
  uint16_t port = 80;
  std::string base_path;  // e.g. "/parcelco"
  CarrierAuth auth;
  CarrierLimits limits;
  RetryPolicy retry;
  BreakerPolicy breaker;
  std::vector<CarrierService> services;
  CarrierEndpoint rate, book, lookup, void_label, pickup;
  RateResponseMap rate_response;
  BookingResponseMap book_response;
  std::string lookup_shipments;  // pointer to the list of bookings in a lookup answer
  ErrorResponseMap errors;
  WebhookMap webhook;
  std::map<std::string, TrackingStatus> codes;  // raw tracking code -> canonical
  /// Raw code -> why a delivery went wrong (weather_delay, refused, ...), for notifications.
  std::map<std::string, fb::ExceptionCategory> exception_codes;
  TrackingPollOptions tracking_poll;  // enabled: tracking is polled (carrier without webhooks)

  const CarrierService* service(const std::string& code) const;
};

Result<CarrierProfile> parse_carrier_profile(const std::string& yaml_text, const std::string& source);
/// Every *.yaml in `dir`, sorted by file name; names must be unique.
Result<std::vector<CarrierProfile>> load_carrier_profiles(const std::string& dir);

}  // namespace waybill::actors
