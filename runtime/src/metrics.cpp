#include "waybill/runtime/metrics.hpp"
#include "waybill/runtime/webhooks.hpp"

#include <array>
#include <map>
#include <mutex>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "waybill/actors/settlement.hpp"
#include "waybill/runtime/tracking_poller.hpp"
#include "waybill/runtime/visibility.hpp"

namespace waybill::runtime {

namespace {

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void add_sample(prometheus::MetricFamily& f, double value, std::map<std::string, std::string> labels = {}) {
  prometheus::ClientMetric m;
  for (auto& [k, v] : labels) m.label.push_back({k, v});
  if (f.type == prometheus::MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

// Values that live as atomics in the engine, sampled when Prometheus scrapes.
class EngineCollectable : public prometheus::Collectable {
 public:
  const actors::ActorStats* stats = nullptr;
  const actors::EntityRegistry* orders = nullptr;
  const actors::EntityRegistry* shipments = nullptr;
  const storage::GroupCommitWriter* writer = nullptr;
  const actors::CarrierDirectory* carriers = nullptr;
  const FileStats* files = nullptr;
  const storage::Store* settlement_store = nullptr;
  const actors::SettlementStats* settlement = nullptr;

  // Settlement figures come from the totals stored with every invoice, so they are exact
  // and survive restarts; rows are per carrier and lane, never per invoice or shipment.
  void collect_settlement(std::vector<prometheus::MetricFamily>& out) const {
    using prometheus::MetricType;
    auto lines = family("waybill_invoice_lines_total", "Invoice lines reconciled, by outcome.", MetricType::Counter);
    auto ratio = family("waybill_invoice_match_ratio", "Share of invoice lines that matched the booked quote.", MetricType::Gauge);
    auto open = family("waybill_freight_disputed_open_minor", "Amount in open disputes, minor units of the currency.", MetricType::Gauge);
    auto open_n = family("waybill_freight_disputes_open", "Invoice lines in the dispute queue.", MetricType::Gauge);
    auto posted = family("waybill_freight_posted_minor_total", "Freight posted to the ERP (matched lines, accepted or resolved disputes), minor units.", MetricType::Counter);
    auto cost = family("waybill_freight_cost_per_shipment_minor", "Posted freight per shipment by carrier and lane, minor units.", MetricType::Gauge);
    std::map<std::string, std::array<int64_t, actors::kLineOutcomes>> by_carrier;
    for (auto& row : actors::read_settlement_totals(*settlement_store)) {
      const auto& t = row.totals;
      if (!row.lane.empty()) {
        if (t.shipments > 0)
          add_sample(cost, static_cast<double>(t.matched_minor) / static_cast<double>(t.shipments),
                     {{"carrier", row.carrier}, {"lane", row.lane}, {"currency", row.currency}});
        continue;
      }
      auto& counts = by_carrier[row.carrier];
      for (size_t i = 0; i < actors::kLineOutcomes; ++i) counts[i] += t.lines_by_outcome[i];
      add_sample(open, static_cast<double>(t.disputed_open_minor), {{"carrier", row.carrier}, {"currency", row.currency}});
      add_sample(open_n, static_cast<double>(t.disputes_open), {{"carrier", row.carrier}, {"currency", row.currency}});
      add_sample(posted, static_cast<double>(t.matched_minor), {{"carrier", row.carrier}, {"currency", row.currency}});
    }
    for (auto& [carrier, counts] : by_carrier) {
      int64_t all = 0;
      for (size_t i = 0; i < actors::kLineOutcomes; ++i) {
        all += counts[i];
        add_sample(lines, static_cast<double>(counts[i]),
                   {{"carrier", carrier}, {"outcome", actors::name(static_cast<fb::LineOutcome>(i))}});
      }
      if (all > 0) add_sample(ratio, static_cast<double>(counts[0]) / static_cast<double>(all), {{"carrier", carrier}});
    }
    auto queued = family("waybill_settlement_queue_depth", "Invoices and dispute actions waiting for the ledger.", MetricType::Gauge);
    add_sample(queued, static_cast<double>(settlement->queued.load()));
    auto invoices = family("waybill_invoices_received_total", "Invoices received, by result.", MetricType::Counter);
    add_sample(invoices, static_cast<double>(settlement->invoices_processed.load()), {{"result", "processed"}});
    add_sample(invoices, static_cast<double>(settlement->invoices_replayed.load()), {{"result", "replayed"}});
    for (auto* f : {&lines, &ratio, &open, &open_n, &posted, &cost, &queued, &invoices}) out.push_back(std::move(*f));
  }

  void collect_files(std::vector<prometheus::MetricFamily>& out) const {
    using prometheus::MetricType;
    auto f = family("waybill_intake_files_total", "Dropped files by outcome.", MetricType::Counter);
    add_sample(f, files->files_processed.load(), {{"outcome", "processed"}});
    add_sample(f, files->files_skipped.load(), {{"outcome", "skipped"}});
    add_sample(f, files->files_retried.load(), {{"outcome", "retried"}});
    auto r = family("waybill_intake_rows_total", "Rows of dropped files by outcome.", MetricType::Counter);
    add_sample(r, files->rows_accepted.load(), {{"outcome", "accepted"}});
    add_sample(r, files->rows_duplicate.load(), {{"outcome", "duplicate"}});
    add_sample(r, files->rows_rejected.load(), {{"outcome", "rejected"}});
    auto e = family("waybill_exports_total", "Export days written, by outcome.", MetricType::Counter);
    add_sample(e, files->exports_written.load(), {{"outcome", "written"}});
    add_sample(e, files->export_failures.load(), {{"outcome", "failed"}});
    for (auto* x : {&f, &r, &e}) out.push_back(std::move(*x));
  }

  const PollStatsMap* pollers = nullptr;
  const VisibilityScanner* visibility = nullptr;

  void collect_visibility(std::vector<prometheus::MetricFamily>& out) const {
    using prometheus::MetricType;
    auto figures = visibility->figures();
    // No pass yet: no figures rather than zeros.
    if (figures.completed_us == 0) return;
    auto vis_active = family("waybill_visibility_active_shipments", "Shipments with a label or a carrier scan and not yet delivered, returned, cancelled or voided.", MetricType::Gauge);
    auto vis_fresh = family("waybill_visibility_fresh_shipments", "Active shipments whose latest carrier scan (before one: the label) is within visibility.fresh_within_h.", MetricType::Gauge);
    auto vis_ratio = family("waybill_visibility_freshness_ratio", "Share of active shipments that are fresh (1 when none is active).", MetricType::Gauge);
    auto vis_pass = family("waybill_visibility_pass_timestamp_seconds", "When the last complete visibility pass ended.", MetricType::Gauge);
    uint64_t all_active = 0, all_fresh = 0;
    for (auto& [carrier, c] : figures.carriers) {
      add_sample(vis_active, static_cast<double>(c.active), {{"carrier", carrier}});
      add_sample(vis_fresh, static_cast<double>(c.fresh), {{"carrier", carrier}});
      all_active += c.active;
      all_fresh += c.fresh;
    }
    add_sample(vis_ratio, all_active ? static_cast<double>(all_fresh) / static_cast<double>(all_active) : 1.0);
    add_sample(vis_pass, static_cast<double>(figures.completed_us) / 1e6);
    for (auto* f : {&vis_active, &vis_fresh, &vis_ratio, &vis_pass}) out.push_back(std::move(*f));
  }
  const WebhookStats* webhooks = nullptr;
  std::function<uint64_t()> webhook_backlog;

  void collect_webhooks(std::vector<prometheus::MetricFamily>& out) const {
    using prometheus::MetricType;
    auto d = family("waybill_webhook_deliveries_total", "Webhook delivery attempts by outcome.", MetricType::Counter);
    add_sample(d, webhooks->delivered.load(), {{"outcome", "delivered"}});
    add_sample(d, webhooks->failed_attempts.load(), {{"outcome", "failed"}});
    add_sample(d, webhooks->dead_lettered.load(), {{"outcome", "dead_lettered"}});
    out.push_back(std::move(d));
    if (webhook_backlog) {
      auto b = family("waybill_webhook_backlog_events", "Outbox positions enabled subscriptions have not passed yet.", MetricType::Gauge);
      add_sample(b, static_cast<double>(webhook_backlog()));
      out.push_back(std::move(b));
    }
  }

  void collect_pollers(std::vector<prometheus::MetricFamily>& out) const {
    using prometheus::MetricType;
    auto polls = family("waybill_tracking_polls_total", "Tracking polls sent to carriers, by outcome.", MetricType::Counter);
    auto events = family("waybill_tracking_poll_events_total", "Polled tracking events, by outcome.", MetricType::Counter);
    auto lag = family("waybill_tracking_poll_lag_seconds", "Age of the oldest due poll not yet sent (0: caught up).", MetricType::Gauge);
    auto lag_sum = family("waybill_tracking_poll_wait_seconds_total", "Sum over sent polls of the time they waited past their due time.", MetricType::Counter);
    auto inflight = family("waybill_tracking_poll_in_flight", "Tracking polls under way.", MetricType::Gauge);
    auto active = family("waybill_tracking_poll_shipments", "Active shipments the last complete sweep polled.", MetricType::Gauge);
    auto sweeps = family("waybill_tracking_poll_sweeps_total", "Complete walks over a carrier's poll index.", MetricType::Counter);
    for (auto& [name, st] : *pollers) {
      auto& s = *st;
      add_sample(polls, s.polls_sent.load(), {{"carrier", name}, {"outcome", "sent"}});
      add_sample(polls, s.polls_ok.load(), {{"carrier", name}, {"outcome", "ok"}});
      add_sample(polls, s.polls_failed.load(), {{"carrier", name}, {"outcome", "failed"}});
      add_sample(polls, s.polls_retried.load(), {{"carrier", name}, {"outcome", "retried"}});
      add_sample(events, s.events_received.load(), {{"carrier", name}, {"outcome", "received"}});
      add_sample(events, s.events_skipped.load(), {{"carrier", name}, {"outcome", "skipped"}});
      add_sample(events, s.events_applied.load(), {{"carrier", name}, {"outcome", "applied"}});
      add_sample(events, s.events_late.load(), {{"carrier", name}, {"outcome", "late"}});
      add_sample(events, s.events_duplicate.load(), {{"carrier", name}, {"outcome", "duplicate"}});
      add_sample(events, s.events_rejected.load(), {{"carrier", name}, {"outcome", "rejected"}});
      add_sample(lag, s.lag_us.load() / 1e6, {{"carrier", name}});
      add_sample(lag_sum, s.lag_us_sum.load() / 1e6, {{"carrier", name}});
      add_sample(inflight, s.in_flight.load(), {{"carrier", name}});
      add_sample(active, s.last_sweep_shipments.load(), {{"carrier", name}});
      add_sample(sweeps, s.sweeps_completed.load(), {{"carrier", name}});
    }
    for (auto* f : {&polls, &events, &lag, &lag_sum, &inflight, &active, &sweeps}) out.push_back(std::move(*f));
  }

  void collect_carriers(std::vector<prometheus::MetricFamily>& out) const {
    using prometheus::MetricType;
    auto calls = family("waybill_carrier_calls_total", "Carrier calls by final outcome.", MetricType::Counter);
    auto attempts = family("waybill_carrier_attempts_total", "HTTP attempts sent to carriers (retries included).", MetricType::Counter);
    auto retries = family("waybill_carrier_retries_total", "Carrier call retries after transient faults.", MetricType::Counter);
    auto opened = family("waybill_carrier_breaker_opened_total", "Times a carrier circuit breaker opened.", MetricType::Counter);
    auto breaker = family("waybill_carrier_breaker_state", "Circuit breaker: 0 closed, 1 open, 2 half-open.", MetricType::Gauge);
    auto queue = family("waybill_carrier_queue_depth", "Calls waiting in a carrier adapter.", MetricType::Gauge);
    auto inflight = family("waybill_carrier_in_flight", "Calls under way at a carrier.", MetricType::Gauge);
    auto latency = family("waybill_carrier_call_seconds_sum", "Total carrier attempt latency.", MetricType::Counter);
    auto latency_n = family("waybill_carrier_call_seconds_count", "Carrier attempts timed.", MetricType::Counter);
    for (auto& [name, st] : carriers->stats) {
      auto& s = *st;
      add_sample(calls, s.calls_ok.load(), {{"carrier", name}, {"outcome", "ok"}});
      add_sample(calls, s.calls_rejected.load(), {{"carrier", name}, {"outcome", "rejected"}});
      add_sample(calls, s.calls_in_doubt.load(), {{"carrier", name}, {"outcome", "in_doubt"}});
      add_sample(calls, s.calls_failed.load(), {{"carrier", name}, {"outcome", "failed"}});
      add_sample(calls, s.calls_refused.load(), {{"carrier", name}, {"outcome", "refused"}});
      add_sample(attempts, s.attempts.load(), {{"carrier", name}});
      add_sample(retries, s.retries.load(), {{"carrier", name}});
      add_sample(opened, s.breaker_opened.load(), {{"carrier", name}});
      add_sample(breaker, s.breaker_state.load(), {{"carrier", name}});
      add_sample(queue, s.queue_depth.load(), {{"carrier", name}});
      add_sample(inflight, s.in_flight.load(), {{"carrier", name}});
      add_sample(latency, s.latency_us_sum.load() / 1e6, {{"carrier", name}});
      add_sample(latency_n, s.latency_count.load(), {{"carrier", name}});
    }
    for (auto* f : {&calls, &attempts, &retries, &opened, &breaker, &queue, &inflight, &latency, &latency_n})
      out.push_back(std::move(*f));
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> out;
    if (carriers && !carriers->stats.empty()) collect_carriers(out);
    if (files) collect_files(out);
    if (pollers && !pollers->empty()) collect_pollers(out);
    if (visibility) collect_visibility(out);
    if (webhooks) collect_webhooks(out);
    if (settlement_store && settlement) collect_settlement(out);
    if (stats) {
      auto m = family("waybill_milestones_total", "Tracking milestones by outcome.", MetricType::Counter);
      add_sample(m, stats->milestones_applied.load(), {{"outcome", "applied"}});
      add_sample(m, stats->milestones_late.load(), {{"outcome", "late"}});
      add_sample(m, stats->milestones_duplicate.load(), {{"outcome", "duplicate"}});
      add_sample(m, stats->milestones_rejected.load(), {{"outcome", "rejected"}});
      out.push_back(std::move(m));
      auto r = family("waybill_commands_rejected_total", "Commands refused by an entity (illegal transition, conflict).", MetricType::Counter);
      add_sample(r, stats->commands_rejected.load());
      out.push_back(std::move(r));
      auto e = family("waybill_events_emitted_total", "Outbox events committed.", MetricType::Counter);
      add_sample(e, stats->events_emitted.load());
      out.push_back(std::move(e));
      auto w = family("waybill_write_failures_total", "Entity writes that failed to commit.", MetricType::Counter);
      add_sample(w, stats->write_failures.load());
      out.push_back(std::move(w));
      auto backlog = family("waybill_booking_backlog", "Shipments with a booking under way.", MetricType::Gauge);
      add_sample(backlog, stats->booking_backlog.load());
      out.push_back(std::move(backlog));
      auto bookings = family("waybill_bookings_total", "Booking outcomes committed.", MetricType::Counter);
      add_sample(bookings, stats->bookings_confirmed.load(), {{"outcome", "booked"}});
      add_sample(bookings, stats->bookings_in_doubt.load(), {{"outcome", "in_doubt"}});
      add_sample(bookings, stats->bookings_resolved_by_lookup.load(), {{"outcome", "resolved_by_lookup"}});
      add_sample(bookings, stats->exceptions_raised.load(), {{"outcome", "exception"}});
      out.push_back(std::move(bookings));
      auto sla = family("waybill_sla_breaches_total", "Shipment SLA deadlines that passed, by kind.", MetricType::Counter);
      for (size_t k = 0; k < actors::kSlaKinds; ++k)
        add_sample(sla, stats->sla_breaches[k].load(), {{"sla", actors::name(static_cast<actors::SlaKind>(k))}});
      out.push_back(std::move(sla));
      auto created = family("waybill_orders_created_total", "Orders accepted.", MetricType::Counter);
      add_sample(created, stats->orders_created.load());
      out.push_back(std::move(created));
      auto touches = family("waybill_operator_actions_total", "Manual touches: exception-queue resolutions by an operator.", MetricType::Counter);
      add_sample(touches, stats->operator_actions.load());
      out.push_back(std::move(touches));
      auto n = family("waybill_notifications_total", "Customer notification events committed.", MetricType::Counter);
      add_sample(n, stats->notifications.load());
      out.push_back(std::move(n));
    }
    if (orders && shipments) {
      auto res = family("waybill_resident_actors", "Entity actors currently in memory.", MetricType::Gauge);
      add_sample(res, orders->resident(), {{"kind", "order"}});
      add_sample(res, shipments->resident(), {{"kind", "shipment"}});
      out.push_back(std::move(res));
      auto act = family("waybill_actor_activations_total", "Entity actors activated from storage.", MetricType::Counter);
      add_sample(act, orders->activations(), {{"kind", "order"}});
      add_sample(act, shipments->activations(), {{"kind", "shipment"}});
      out.push_back(std::move(act));
      auto pas = family("waybill_actor_passivations_total", "Entity actors passivated.", MetricType::Counter);
      add_sample(pas, orders->passivations(), {{"kind", "order"}});
      add_sample(pas, shipments->passivations(), {{"kind", "shipment"}});
      out.push_back(std::move(pas));
    }
    if (writer) {
      auto q = family("waybill_storage_queue_depth", "Write requests waiting for the group-commit writer.", MetricType::Gauge);
      add_sample(q, writer->queue_depth());
      out.push_back(std::move(q));
      auto h = family("waybill_storage_healthy", "1 while the storage writer accepts writes.", MetricType::Gauge);
      add_sample(h, writer->healthy() ? 1 : 0);
      out.push_back(std::move(h));
    }
    return out;
  }
};

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<EngineCollectable> engine = std::make_shared<EngineCollectable>();
  prometheus::Family<prometheus::Counter>* http_requests = nullptr;
  prometheus::Family<prometheus::Histogram>* http_seconds = nullptr;
  prometheus::Histogram* batch_requests = nullptr;
  prometheus::Histogram* batch_bytes = nullptr;
  prometheus::Histogram* commit_seconds = nullptr;
  prometheus::Family<prometheus::Counter>* ownership_violations = nullptr;
  prometheus::Family<prometheus::Counter>* exceptions = nullptr;
  prometheus::Histogram* order_to_label = nullptr;
  prometheus::Histogram* tracking_latency = nullptr;
  prometheus::Histogram* exception_resolution = nullptr;
  prometheus::Histogram* webhook_latency = nullptr;
  // Family::Add hashes labels under a lock; cache the children per label set.
  mutable std::mutex cache_mutex;
  std::map<std::string, std::pair<prometheus::Counter*, prometheus::Histogram*>> cache;
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
  auto& r = *impl_->registry;
  impl_->http_requests = &prometheus::BuildCounter()
                              .Name("waybill_http_requests_total")
                              .Help("HTTP requests by method, route template and status code.")
                              .Register(r);
  impl_->http_seconds = &prometheus::BuildHistogram()
                             .Name("waybill_http_request_duration_seconds")
                             .Help("Time from request parsed to answer ready, by route.")
                             .Register(r);
  impl_->batch_requests = &prometheus::BuildHistogram()
                               .Name("waybill_group_commit_batch_requests")
                               .Help("Write requests merged into one committed RocksDB batch.")
                               .Register(r)
                               .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096});
  impl_->batch_bytes = &prometheus::BuildHistogram()
                            .Name("waybill_group_commit_batch_bytes")
                            .Help("Bytes in one committed RocksDB batch.")
                            .Register(r)
                            .Add({}, prometheus::Histogram::BucketBoundaries{1e3, 1e4, 1e5, 1e6, 1e7});
  impl_->commit_seconds = &prometheus::BuildHistogram()
                               .Name("waybill_group_commit_seconds")
                               .Help("RocksDB write plus WAL fsync time per batch.")
                               .Register(r)
                               .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25});
  impl_->exceptions = &prometheus::BuildCounter()
                           .Name("waybill_exceptions_total")
                           .Help("Bookings sent to the exception queue, by carrier, region (ship-to country) and reason.")
                           .Register(r);
  impl_->order_to_label = &prometheus::BuildHistogram()
                               .Name("waybill_order_to_label_seconds")
                               .Help("ERP order received to label bought at the carrier.")
                               .Register(r)
                               .Add({}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600});
  impl_->tracking_latency = &prometheus::BuildHistogram()
                                 .Name("waybill_tracking_update_latency_seconds")
                                 .Help("Carrier event time to the milestone committed and its event emitted (applied milestones).")
                                 .Register(r)
                                 .Add({}, prometheus::Histogram::BucketBoundaries{1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600});
  impl_->exception_resolution = &prometheus::BuildHistogram()
                                     .Name("waybill_exception_resolution_seconds")
                                     .Help("Time a shipment spent in the exception queue before an operator retried or cancelled it.")
                                     .Register(r)
                                     .Add({}, prometheus::Histogram::BucketBoundaries{60, 300, 900, 3600, 4 * 3600, 24 * 3600, 72 * 3600});
  impl_->webhook_latency = &prometheus::BuildHistogram()
                                .Name("waybill_webhook_delivery_latency_seconds")
                                .Help("Event committed to the outbox to delivered (2xx) at a subscriber.")
                                .Register(r)
                                .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300, 3600, 24 * 3600});
  impl_->ownership_violations = &prometheus::BuildCounter()
                                     .Name("waybill_ownership_violations_total")
                                     .Help("Order field updates refused by the system-of-record table, by source and field.")
                                     .Register(r);
}

Metrics::~Metrics() = default;

void Metrics::attach_webhooks(WebhookStats* stats, std::function<uint64_t()> backlog) {
  auto* latency = impl_->webhook_latency;
  stats->observe_delivery_latency = [latency](double s) { latency->Observe(s); };
  impl_->engine->webhooks = stats;
  impl_->engine->webhook_backlog = std::move(backlog);
}

void Metrics::detach_webhooks() {
  impl_->engine->webhooks = nullptr;
  impl_->engine->webhook_backlog = nullptr;
}

void Metrics::count_ownership_violation(const std::string& source, const std::string& field) {
  // Rare by nature (a misconfigured integration): no child cache needed.
  impl_->ownership_violations->Add({{"source", source}, {"field", field}}).Increment();
}

void Metrics::attach(actors::ActorStats* stats, const actors::EntityRegistry* orders,
                     const actors::EntityRegistry* shipments, const storage::GroupCommitWriter* writer) {
  impl_->engine->stats = stats;
  if (stats) {
    auto* order_to_label = impl_->order_to_label;
    auto* tracking = impl_->tracking_latency;
    auto* resolution = impl_->exception_resolution;
    auto* exceptions = impl_->exceptions;
    stats->observe_order_to_label = [order_to_label](double s) { order_to_label->Observe(s); };
    stats->observe_tracking_latency = [tracking](double s) { tracking->Observe(s); };
    stats->observe_exception_resolution = [resolution](double s) { resolution->Observe(s); };
    // Labels of bounded cardinality: configured carriers, countries, canonical reasons.
    stats->count_exception = [exceptions](const std::string& carrier, const std::string& region,
                                          const std::string& reason) {
      exceptions->Add({{"carrier", carrier}, {"region", region}, {"reason", reason}}).Increment();
    };
  }
  impl_->engine->orders = orders;
  impl_->engine->shipments = shipments;
  impl_->engine->writer = writer;
}

void Metrics::attach_carriers(const actors::CarrierDirectory* carriers) { impl_->engine->carriers = carriers; }

void Metrics::attach_files(const FileStats* files) { impl_->engine->files = files; }
void Metrics::attach_settlement(const storage::Store* store, const actors::SettlementStats* stats) {
  impl_->engine->settlement_store = store;
  impl_->engine->settlement = stats;
}
void Metrics::attach_tracking_poll(const PollStatsMap* pollers) { impl_->engine->pollers = pollers; }

void Metrics::attach_visibility(const VisibilityScanner* scanner) { impl_->engine->visibility = scanner; }

void Metrics::observe_http(const std::string& method, const std::string& route, int status, double seconds) {
  std::string key = method + ' ' + route + ' ' + std::to_string(status);
  prometheus::Counter* counter;
  prometheus::Histogram* hist;
  {
    std::lock_guard<std::mutex> lock(impl_->cache_mutex);
    auto it = impl_->cache.find(key);
    if (it == impl_->cache.end()) {
      auto* c = &impl_->http_requests->Add({{"method", method}, {"route", route}, {"status", std::to_string(status)}});
      auto* h = &impl_->http_seconds->Add({{"method", method}, {"route", route}},
                                          prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
      it = impl_->cache.emplace(key, std::make_pair(c, h)).first;
    }
    counter = it->second.first;
    hist = it->second.second;
  }
  counter->Increment();
  hist->Observe(seconds);
}

void Metrics::observe_commit(size_t requests, size_t bytes, double seconds) {
  impl_->batch_requests->Observe(static_cast<double>(requests));
  impl_->batch_bytes->Observe(static_cast<double>(bytes));
  impl_->commit_seconds->Observe(seconds);
}

std::string Metrics::render() const {
  auto families = impl_->registry->Collect();
  for (auto& f : impl_->engine->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace waybill::runtime
