// Outbox delivery to webhook subscribers, signed the Standard Webhooks way
// (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of
// "id.timestamp.body">; one signature per active secret during a rotation).
//
// Each subscription has a durable cursor (the outbox position delivered up to) and at
// most one request in flight, so events reach it in outbox order - hence in order per
// entity - at least once. A failing endpoint is retried with exponential backoff and
// full jitter for `retry_period_s`, then the event is dead-lettered (visible and
// replayable) and the cursor moves on. A disabled or failing subscriber loses nothing.
#pragma once

#include <atomic>
#include <functional>

#include <memory>
#include <string>
#include <vector>

#include <waybill/schemas/webhooks_generated.h>

#include "waybill/runtime/http_client.hpp"
#include "waybill/storage/group_commit.hpp"

namespace waybill::runtime {

struct WebhookOptions {
  /// Give up on an event (dead-letter it) after failing this long, in s. Default: 72 h.
  int64_t retry_period_s = 72 * 3600;
  /// First retry delay, doubled per attempt (full jitter), in ms. Default: 500.
  int base_backoff_ms = 500;
  /// Longest retry delay, in ms. Default: 300000 (5 min).
  int max_backoff_ms = 300000;
  /// Per-request timeout, in ms. Default: 10000.
  int timeout_ms = 10000;
  /// Most subscriptions. Default: 1000.
  size_t max_subscriptions = 1000;
  /// Outbox events scanned per subscription per round when filtering. Default: 2000.
  size_t max_scan = 2000;
  /// CloudEvents "source". Default: "/waybill".
  std::string source = "/waybill";
  /// Crash tests only: die right after the Nth successful delivery, before the cursor
  /// move is written. Default: 0 (off).
  int crash_after_deliveries = 0;
};

/// Delivery counters and observers for the metrics module (observers set before start()).
struct WebhookStats {
  std::atomic<uint64_t> delivered{0};       // 2xx answers (replays included)
  std::atomic<uint64_t> failed_attempts{0}; // non-2xx or transport failures (retried)
  std::atomic<uint64_t> dead_lettered{0};
  /// Event committed -> delivered to a subscriber, seconds.
  std::function<void(double)> observe_delivery_latency;
};

/// Standard Webhooks signature header value for `secrets` ("whsec_..." or raw keys).
std::string sign_webhook(const std::vector<std::string>& secrets, const std::string& id, int64_t timestamp_s,
                         const std::string& body);

class WebhookDispatcher {
 public:
  WebhookDispatcher(storage::Store& store, storage::GroupCommitWriter& writer, HttpClient& client,
                    WebhookOptions options);
  ~WebhookDispatcher();

  /// Loads subscriptions and cursors and starts delivering.
  Status start();
  void stop();
  /// Wakes the dispatcher after an outbox commit (cheap).
  void notify_commit();

  Result<fb::SubscriptionT> create(fb::SubscriptionT sub);
  Status remove(const std::string& id);
  Status set_disabled(const std::string& id, bool disabled);
  std::vector<std::pair<fb::SubscriptionT, uint64_t>> list() const;  // with cursors
  Result<std::vector<fb::DeadLetterT>> dead_letters(const std::string& id, size_t limit) const;
  /// Redelivers the subscription's dead letters (in position order), then removes them.
  Result<size_t> replay_dead_letters(const std::string& id);
  /// Outbox positions enabled subscriptions have not passed yet, summed (events of
  /// types a subscription filters out count until its cursor passes them).
  uint64_t backlog() const;
  WebhookStats& stats();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace waybill::runtime
