// carrier-sim configuration: the carriers it plays and how each misbehaves.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "waybill/status.hpp"

namespace waybill::sim {

struct SimService {
  std::string code;                    // carrier service code, e.g. "GND"
  double max_weight_kg = 70;           // heavier packages are rejected (overweight)
  std::vector<std::string> countries;  // destination countries served; empty = all
  bool hazmat_allowed = false;
  int64_t base_minor = 900;            // price: base + per started kg, minor units
  int64_t per_kg_minor = 100;
  int transit_days = 3;
};

struct SimLatency {
  /// "fixed" (always median_ms), "uniform" (0..2*median_ms) or "lognormal" (median_ms
  /// and p99_ms shape the tail). Default: fixed 0 ms.
  std::string distribution = "fixed";
  double median_ms = 0;
  double p99_ms = 0;
};

struct SimFaults {
  double server_error_share = 0;   // answer 500/502/503
  double reset_share = 0;          // drop the connection before doing anything
  double timeout_share = 0;        // hold the answer for timeout_ms (client gives up)
  double rate_limited_share = 0;   // answer 429 with Retry-After
  double lost_response_share = 0;  // book, then drop the connection (in-doubt booking)
  int timeout_ms = 10000;
  int retry_after_s = 1;
};

struct SimAuth {
  std::string type = "api_key";  // "api_key" or "oauth2" (client credentials)
  std::string header = "X-Api-Key";
  std::string key;
  std::string client_id;
  std::string client_secret;
  int token_ttl_s = 3600;
};

struct SimTracking {
  bool enabled = true;
  /// How waybill hears of events: "webhook" (pushed, signed) or "poll" (no pushes; the
  /// history is served at GET /<carrier>/shipments/{id}/tracking). Default: webhook.
  std::string delivery = "webhook";
  /// Canonical statuses the parcel goes through, in order.
  std::vector<std::string> events = {"picked_up", "in_transit", "in_transit", "out_for_delivery", "delivered"};
  int interval_ms = 1000;       // event time and send spacing
  // With delivery "poll" the shares apply to the served history instead: a late event
  // shows up 3 intervals after its event time, a duplicated one is listed twice in an
  // answer, and reordering swaps neighbours in an answer (decided per poll).
  double late_share = 0;        // event sent after the next one
  double dup_share = 0;         // event sent twice
  double reorder_share = 0;     // adjacent events swapped
  std::string secret;           // HMAC-SHA256 key for X-Carrier-Signature
  std::map<std::string, std::string> codes;  // canonical status -> carrier raw code
};

struct SimCarrier {
  std::string name;
  std::string dialect = "alpha";  // request/response shape: "alpha" or "beta"
  std::string currency = "USD";
  std::string tracking_prefix = "1Z";
  SimAuth auth;
  SimLatency latency;
  SimFaults faults;
  double rate_limit_rps = 0;  // 0 = unlimited
  double rate_limit_burst = 0;
  double rejection_share = 0;  // random business rejections on booking
  std::vector<SimService> services;
  std::vector<std::string> bad_postal_codes;
  SimTracking tracking;
};

struct SimConfig {
  std::string listen = "127.0.0.1:9090";
  /// Base URL of the waybill instance tracking webhooks go to; empty = none.
  std::string webhook_target;
  /// File holding the waybill API key (scope carrier:webhook) sent with each webhook as
  /// "Authorization: Bearer <key>"; read when a webhook goes out, so it may appear
  /// after the sim started (waybilld writes its generated admin key on first start).
  /// Empty: no key is sent.
  std::string webhook_api_key_file;
  uint64_t seed = 42;
  std::vector<SimCarrier> carriers;
};

Result<SimConfig> load_sim_config(const std::string& path);
Result<SimConfig> parse_sim_config(const std::string& yaml_text);

}  // namespace waybill::sim
