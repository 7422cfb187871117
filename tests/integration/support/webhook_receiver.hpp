// A webhook subscriber for integration tests: a real HTTP/1.1 server (Boost.Beast on
// Asio, one I/O thread, keep-alive) on a free 127.0.0.1 port that checks every request
// the way a careful Standard Webhooks consumer would:
//
//   - webhook-id, webhook-timestamp and webhook-signature must be present (else 400);
//   - the timestamp must be within `tolerance` of now (else 401: replay protection);
//   - one of the space-separated "v1,<base64>" signatures must equal
//     HMAC-SHA256(key, id + "." + timestamp + "." + body) for one of the endpoint's
//     secrets (key = base64-decoded part after "whsec_"), compared in constant time
//     (else 401);
//   - the body must be a CloudEvent JSON object (else 400).
//
// Each path is its own endpoint with its own secrets; an unknown path answers 404.
// Every accepted delivery is recorded with its headers and parsed CloudEvent fields;
// every request (accepted or not) is recorded as an attempt. An endpoint can be told to
// answer an error status (e.g. 500) after verification, and the whole receiver can be
// stopped (listener and every open connection closed) and started again on the same
// port to simulate downtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace waybill::itest {

class WebhookReceiver {
 public:
  using Clock = std::chrono::steady_clock;

  /// One accepted (2xx-answered) delivery.
  struct Delivery {
    std::string path;
    std::string webhook_id, webhook_timestamp, webhook_signature;
    std::string body;
    size_t signatures = 0;       // "v1,..." entries in webhook-signature
    int matched_secret = -1;     // index into the endpoint's secrets that verified
    Clock::time_point received_at;
    // CloudEvent attributes
    std::string id, type, source, subject, time, orderid, specversion;
    uint64_t position = 0, entityseq = 0;
    std::string data_status;     // data.status
  };

  /// One request, whatever the answer.
  struct Attempt {
    std::string path, webhook_id;
    int status = 0;              // what the receiver answered
    std::string reason;          // "ok", "bad signature", "stale timestamp", "forced", ...
    Clock::time_point at;
  };

  struct Options {
    /// Oldest (and furthest in the future) webhook-timestamp accepted.
    std::chrono::seconds tolerance{300};
  };

  WebhookReceiver();
  explicit WebhookReceiver(Options options);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  /// Listens on 127.0.0.1: a free port the first time, the same port afterwards.
  ::testing::AssertionResult start();
  /// Closes the listener and every connection; recorded data is kept.
  void stop();
  bool running() const;
  uint16_t port() const { return port_; }
  /// "http://127.0.0.1:PORT" + path.
  std::string url(const std::string& path) const;

  /// Adds (or replaces the secrets of) the endpoint at `path`.
  void set_endpoint(const std::string& path, std::vector<std::string> secrets);
  /// Answer `status` to requests on `path` after verifying them (0: answer normally).
  void fail_with(const std::string& path, int status);

  /// Accepted deliveries on `path`, in arrival order (duplicates included).
  std::vector<Delivery> deliveries(const std::string& path) const;
  /// Accepted deliveries on `path`, first arrival per webhook-id, in arrival order.
  std::vector<Delivery> unique_deliveries(const std::string& path) const;
  /// Every request on `path` (all paths when empty), in arrival order.
  std::vector<Attempt> attempts(const std::string& path = {}) const;
  /// Requests on `path` answered with `status`.
  size_t count_answered(const std::string& path, int status) const;

  /// Polls `probe` (called without the receiver's lock) until true or `timeout`.
  static bool eventually(const std::function<bool()>& probe, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds interval = std::chrono::milliseconds(20));

  /// "whsec_" + base64 of `bytes` random bytes.
  static std::string new_secret(size_t bytes = 24);
  /// webhook-signature value for `secrets` (one "v1,<base64>" per secret).
  static std::string sign(const std::vector<std::string>& secrets, const std::string& id, int64_t timestamp,
                          const std::string& body);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace waybill::itest
