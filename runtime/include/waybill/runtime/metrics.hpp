// Prometheus metrics (prometheus-cpp), rendered in the text format on the API port.
// Labels have bounded cardinality: route templates and status codes, never ids.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "waybill/actors/entity.hpp"
#include "waybill/runtime/file_stats.hpp"

namespace waybill::actors {
struct SettlementStats;
}

namespace waybill::runtime {

struct PollStats;
class VisibilityScanner;
struct WebhookStats;

class Metrics {
 public:
  Metrics();
  ~Metrics();

  /// Sources read at scrape time (counters kept as plain atomics on hot paths).
  /// Also installs the distribution observers on `stats` (before actors run).
  void attach(actors::ActorStats* stats, const actors::EntityRegistry* orders,
              const actors::EntityRegistry* shipments, const storage::GroupCommitWriter* writer);

  /// Carrier adapters to export (labels: carrier, outcome).
  void attach_carriers(const actors::CarrierDirectory* carriers);

  /// Drop-folder intake and export counters.
  void attach_files(const FileStats* files);
  /// Tracking pollers to export, by carrier (tracking_poller.hpp).
  void attach_tracking_poll(const std::map<std::string, std::shared_ptr<PollStats>>* pollers);

  /// Settlement figures read at scrape time from the stored totals, and the ledger's
  /// counters. Both must outlive scraping.
  void attach_settlement(const storage::Store* store, const actors::SettlementStats* stats);

  /// Visibility freshness gauges from the scanner's last complete pass (must outlive
  /// scraping).
  void attach_visibility(const VisibilityScanner* scanner);

  /// One HTTP request: `route` is the route template ("/v1/orders/{id}").
  void observe_http(const std::string& method, const std::string& route, int status, double seconds);
  /// One committed group-commit batch.
  void observe_commit(size_t requests, size_t bytes, double seconds);

  /// Webhook delivery counters and backlog (sets the latency observer on `stats`).
  void attach_webhooks(WebhookStats* stats, std::function<uint64_t()> backlog);
  /// Before the dispatcher goes away.
  void detach_webhooks();

  /// An order update refused because `source` does not own `field`.
  void count_ownership_violation(const std::string& source, const std::string& field);

  /// Text exposition format 0.0.4.
  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace waybill::runtime
