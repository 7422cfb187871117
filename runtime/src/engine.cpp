#include "waybill/runtime/engine.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>
#include <caf/atom.hpp>

#include <filesystem>


#include "waybill/actors/carrier_adapter.hpp"
#include "waybill/runtime/http_client.hpp"
#include "waybill/runtime/log.hpp"
#include "waybill/runtime/membership.hpp"
#include "waybill/runtime/metrics.hpp"
#include "waybill/runtime/tracking_poller.hpp"

namespace waybill::runtime {

struct Engine::Impl {
  // (declared public in the header so the helpers below can take it)
  EngineOptions options;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::GroupCommitWriter> writer;
  caf::actor_system_config caf_config;
  std::unique_ptr<caf::actor_system> system;
  actors::ActorStats stats;
  actors::EntityContext ctx;
  std::unique_ptr<actors::EntityRegistry> orders;
  std::unique_ptr<actors::EntityRegistry> shipments;
  actors::CarrierDirectory carriers;
  std::unique_ptr<HttpClient> client;
  std::unique_ptr<SlaTimerScanner> sla_timers;
  std::unique_ptr<VisibilityScanner> visibility;
  std::unique_ptr<TrackingPoller> poller;  // carriers without webhooks
  actors::SettlementStats settlement_stats;
  caf::actor settlement;                   // the ledger (settlement.hpp)
  std::shared_ptr<std::function<void()>> commit_listener;  // accessed with std::atomic_load/store
  std::thread sweeper;
  std::thread resumer;
  std::mutex sweep_mutex;
  std::condition_variable sweep_cv;
  // Written under sweep_mutex (the sweeper waits on it), but resume_work() reads it
  // without the lock while stop() may be setting it: atomic, or that read is a race.
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

namespace {

constexpr log::Logger kLog("engine");

std::string request_id_of(const actors::CarrierHttpRequest& r) {
  for (auto& [k, v] : r.headers)
    if (k == "X-Request-Id") return v;
  return {};
}

// Every exchange with a carrier is logged at debug level under the correlation id of
// the request that caused it (never the body: it carries the consignee's address).
actors::CarrierTransport transport_over(HttpClient* client) {
  return [client](actors::CarrierHttpRequest in, std::function<void(actors::CarrierHttpResult)> done) {
    if (log::enabled(log::Level::debug)) {
      auto started = std::chrono::steady_clock::now();
      done = [done = std::move(done), started, id = request_id_of(in), method = in.method, host = in.host,
              port = in.port, target = in.target](actors::CarrierHttpResult r) {
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        log::Logger("carrier_http", id)
            .debug("carrier exchange", {{"method", method},
                                        {"host", host},
                                        {"port", port},
                                        {"target", target},
                                        {"status", r.status},
                                        {"error", r.error},
                                        {"latency_ms", ms}});
        done(std::move(r));
      };
    }
    ClientRequest req;
    req.method = std::move(in.method);
    req.host = std::move(in.host);
    req.port = in.port;
    req.target = std::move(in.target);
    req.content_type = std::move(in.content_type);
    req.body = std::move(in.body);
    req.headers = std::move(in.headers);
    req.timeout_ms = in.timeout_ms;
    client->send(std::move(req), [done = std::move(done)](ClientResult r) {
      actors::CarrierHttpResult out;
      out.answered = r.status.ok();
      out.maybe_sent = r.failure == TransportFailure::maybe_sent;
      out.status = r.response.status;
      out.body = std::move(r.response.body);
      out.headers = std::move(r.response.headers);
      out.error = r.status.message();
      done(std::move(out));
    });
  };
}

Status start_carriers(Engine::Impl& s) {
  auto& b = s.options.booking;
  if (b.carriers_dir.empty() || !std::filesystem::is_directory(b.carriers_dir)) {
    kLog.info("no carrier profiles: carrier booking is off", {{"carriers_dir", b.carriers_dir}});
    return {};
  }
  auto profiles = actors::load_carrier_profiles(b.carriers_dir);
  if (!profiles) return profiles.status();
  auto& dir = s.carriers;
  dir.profiles = std::move(*profiles);
  if (b.selection == "cheapest") dir.rule = actors::SelectionRule::cheapest;
  else if (b.selection == "fastest") dir.rule = actors::SelectionRule::fastest;
  else if (b.selection == "preferred") dir.rule = actors::SelectionRule::preferred;
  else return {Code::invalid_argument, "must be cheapest, fastest or preferred", "booking.selection"};
  dir.book_on_release = b.book_on_release;
  dir.default_ship_from = b.default_ship_from;
  dir.crash_after_booking_answers = b.crash_after_booking_answers;
  if (b.crash_after_booking_answers > 0)
    kLog.warn("fault injection: the process dies on a booking answer",
              {{"crash_after_booking_answers", b.crash_after_booking_answers}});
  HttpClientOptions client_options;
  client_options.threads = b.client_threads;
  client_options.max_connections_per_endpoint = b.client_max_connections;
  s.client = std::make_unique<HttpClient>(client_options);
  uint64_t seed = 1;
  for (auto& p : dir.profiles) {
    auto stats = std::make_shared<actors::AdapterStats>();
    dir.stats[p.name] = stats;
    dir.adapters[p.name] = actors::spawn_carrier_adapter(*s.system, p, transport_over(s.client.get()), stats, seed++);
    kLog.info("carrier profile loaded", {{"carrier", p.name},
                                         {"version", p.version},
                                         {"host", p.host},
                                         {"port", p.port},
                                         {"base_path", p.base_path},
                                         {"services", p.services.size()}});
  }
  return {};
}

// Sends ResumeWork to every entity with outstanding work, in the background so that
// readiness does not wait for it (bounded by the work outstanding, not by the store).
void resume_work(Engine::Impl& s) {
  constexpr size_t kMaxResumed = 1000000;
  size_t orders = 0, bookings = 0;
  (void)s.store->scan_prefix(storage::Column::work, "", kMaxResumed, [&](std::string_view key, std::string_view) {
    if (s.stopping) return false;
    std::string id(key.substr(2));
    if (key.rfind("o/", 0) == 0 && s.orders->send(id, caf::make_message(actors::ResumeWork{})).ok()) ++orders;
    if (key.rfind("b/", 0) == 0) {
      ++bookings;
      (void)s.shipments->send(id, caf::make_message(actors::ResumeWork{}));
    }
    return true;
  });
  if (orders + bookings > 0) kLog.info("resumed orders and bookings under way", {{"orders", orders}, {"bookings", bookings}});
}

}  // namespace

Engine::~Engine() { stop(); }

Result<std::unique_ptr<Engine>> Engine::start(const EngineOptions& options, Metrics* metrics) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto store = storage::Store::open(options.store);
  if (!store) return store.status();
  impl->store = std::move(*store);
  if (options.membership) {
    // Before the writer and the work resumer: data of another membership is not served.
    auto record = claim_membership(*impl->store, *options.membership);
    if (!record) return record.status();
    kLog.info("membership", {{"members", describe_members(record->member_ids)}, {"epoch", record->epoch}});
  }

  auto writer_options = options.writer;
  auto* listener = &impl->commit_listener;
  auto user_observer = writer_options.observer;
  // The observer runs on the writer thread after the batch is durable and before its
  // completions are handed on, so this crash point loses answers, never data.
  auto crash_after = options.crash_after_commits;
  auto commits = std::make_shared<std::atomic<int64_t>>(0);
  if (crash_after > 0)
    kLog.warn("fault injection: the process dies after a number of committed batches", {{"crash_after_commits", crash_after}});
  writer_options.observer = [metrics, listener, user_observer, crash_after, commits](size_t n, size_t bytes,
                                                                                     double secs) {
    if (crash_after > 0 && commits->fetch_add(1) + 1 == crash_after) std::_Exit(137);
    if (metrics) metrics->observe_commit(n, bytes, secs);
    if (user_observer) user_observer(n, bytes, secs);
    if (auto fn = std::atomic_load(listener)) (*fn)();
  };
  impl->writer = std::make_unique<storage::GroupCommitWriter>(*impl->store, writer_options);

  if (options.scheduler_policy != "stealing" && options.scheduler_policy != "sharing")
    return Status{Code::invalid_argument, "must be 'stealing' or 'sharing'", "actors.scheduler_policy"};
  impl->caf_config.set("scheduler.policy", caf::atom_from_string(options.scheduler_policy));
  if (options.scheduler_threads > 0)
    impl->caf_config.set("scheduler.max-threads", static_cast<size_t>(options.scheduler_threads));
  impl->caf_config.set("logger.verbosity", caf::atom("quiet"));
  impl->system = std::make_unique<caf::actor_system>(impl->caf_config);

  auto* raw = impl.get();
  raw->ctx.store = raw->store.get();
  raw->ctx.writer = raw->writer.get();
  raw->ctx.stats = &raw->stats;
  raw->orders = std::make_unique<actors::EntityRegistry>(
      "order", options.orders, [raw](const std::string& id, std::shared_ptr<actors::EntityHandle> h) {
        return actors::spawn_order_actor(*raw->system, raw->ctx, id, std::move(h));
      });
  raw->shipments = std::make_unique<actors::EntityRegistry>(
      "shipment", options.shipments, [raw](const std::string& id, std::shared_ptr<actors::EntityHandle> h) {
        return actors::spawn_shipment_actor(*raw->system, raw->ctx, id, std::move(h));
      });
  raw->ctx.orders = raw->orders.get();
  raw->ctx.shipments = raw->shipments.get();
  if (options.sla.deadlines.enabled) raw->ctx.sla = &raw->options.sla.deadlines;
  raw->sla_timers = std::make_unique<SlaTimerScanner>(*raw->store, *raw->shipments, options.sla);
  raw->visibility = std::make_unique<VisibilityScanner>(*raw->store, options.visibility);
  if (metrics && options.visibility.pass_interval_ms > 0) metrics->attach_visibility(raw->visibility.get());
  if (auto st = start_carriers(*raw); !st.ok()) return st;
  if (!raw->carriers.adapters.empty()) raw->ctx.carriers = &raw->carriers;
  if (metrics) metrics->attach_carriers(&raw->carriers);
  if (raw->ctx.carriers) {
    raw->poller = TrackingPoller::start(*raw->system, {raw->store.get(), raw->shipments.get(), &raw->carriers});
    if (metrics) metrics->attach_tracking_poll(&raw->poller->stats());
  }
  if (metrics) metrics->attach(&raw->stats, raw->orders.get(), raw->shipments.get(), raw->writer.get());
  for (auto& t : raw->options.settlement.tolerances)
    if (t.percent_bp < 0 || t.percent_bp > 100000 || t.abs_minor < 0)
      return Status{Code::invalid_argument, "tolerances need abs_minor >= 0 and percent 0..1000", "settlement.tolerances"};
  actors::SettlementContext settlement_ctx;
  settlement_ctx.store = raw->store.get();
  settlement_ctx.writer = raw->writer.get();
  settlement_ctx.options = &raw->options.settlement;
  settlement_ctx.tracking = raw->options.tracking;
  settlement_ctx.stats = &raw->settlement_stats;
  raw->settlement = actors::spawn_settlement_ledger(*raw->system, settlement_ctx);
  if (metrics) metrics->attach_settlement(raw->store.get(), &raw->settlement_stats);

  raw->sweeper = std::thread([raw] {
    std::unique_lock<std::mutex> lock(raw->sweep_mutex);
    while (!raw->stopping) {
      raw->sweep_cv.wait_for(lock, std::chrono::milliseconds(raw->options.sweep_interval_ms));
      if (raw->stopping) break;
      auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now().time_since_epoch()).count();
      lock.unlock();
      raw->orders->sweep(now_ms);
      raw->shipments->sweep(now_ms);
      lock.lock();
    }
  });
  if (raw->ctx.carriers) raw->resumer = std::thread([raw] { resume_work(*raw); });
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

void Engine::stop() {
  auto& s = *impl_;
  if (s.stopped.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(s.sweep_mutex);
    s.stopping = true;
  }
  s.sweep_cv.notify_all();
  if (s.sla_timers) s.sla_timers->stop();
  if (s.visibility) s.visibility->stop();
  if (s.sweeper.joinable()) s.sweeper.join();
  if (s.resumer.joinable()) s.resumer.join();
  if (s.poller) s.poller->stop();  // no new polls; the first sweep after a restart polls again
  // No new carrier answers from here on: calls under way resume after the restart.
  if (s.client) s.client->stop();
  for (auto& [name, adapter] : s.carriers.adapters) caf::anon_send_exit(adapter, caf::exit_reason::user_shutdown);
  // The ledger answers what it holds once its write commits; requests after this point
  // are dropped with the actor (their HTTP calls end with the server).
  if (s.settlement) caf::anon_send_exit(s.settlement, caf::exit_reason::user_shutdown);
  // The ledger runs on its own thread, which the actor system joins only once the last
  // handle to the actor is gone.
  s.settlement = nullptr;
  // Let actors finish what they hold, then commit what is queued.
  for (int i = 0; i < 200 && s.writer->queue_depth() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // Busy actors become idle once their writes commit; bounded wait, then stop anyway.
  for (int i = 0; i < 200; ++i) {
    s.orders->passivate_all();
    s.shipments->passivate_all();
    if (s.orders->resident() == 0 && s.shipments->resident() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  s.writer->stop();
  s.orders->stop_all();
  s.shipments->stop_all();
  s.system.reset();  // joins CAF workers once every actor has quit
  s.orders.reset();
  s.shipments.reset();
  s.writer.reset();
  s.store.reset();
}

storage::Store& Engine::store() { return *impl_->store; }
storage::GroupCommitWriter& Engine::writer() { return *impl_->writer; }
actors::EntityRegistry& Engine::orders() { return *impl_->orders; }
actors::EntityRegistry& Engine::shipments() { return *impl_->shipments; }
actors::ActorStats& Engine::stats() { return impl_->stats; }
caf::actor_system& Engine::system() { return *impl_->system; }
bool Engine::ready() const { return !impl_->stopped.load() && impl_->writer->healthy(); }
void Engine::set_commit_listener(std::function<void()> fn) {
  // An empty function clears the listener (the writer may still commit afterwards).
  std::atomic_store(&impl_->commit_listener,
                    fn ? std::make_shared<std::function<void()>>(std::move(fn)) : nullptr);
}
const actors::CarrierDirectory& Engine::carriers() const { return impl_->carriers; }
const BookingOptions& Engine::booking_options() const { return impl_->options.booking; }
SlaTimerScanner& Engine::sla_timers() { return *impl_->sla_timers; }
VisibilityScanner& Engine::visibility() { return *impl_->visibility; }
caf::actor Engine::settlement() { return impl_->settlement; }
const actors::SettlementOptions& Engine::settlement_options() const { return impl_->options.settlement; }
actors::SettlementStats& Engine::settlement_stats() { return impl_->settlement_stats; }

}  // namespace waybill::runtime
