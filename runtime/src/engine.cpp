#include "waybill/runtime/engine.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>

#include "waybill/runtime/metrics.hpp"

namespace waybill::runtime {

struct Engine::Impl {
  EngineOptions options;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::GroupCommitWriter> writer;
  caf::actor_system_config caf_config;
  std::unique_ptr<caf::actor_system> system;
  actors::ActorStats stats;
  actors::EntityContext ctx;
  std::unique_ptr<actors::EntityRegistry> orders;
  std::unique_ptr<actors::EntityRegistry> shipments;
  std::thread sweeper;
  std::mutex sweep_mutex;
  std::condition_variable sweep_cv;
  bool stopping = false;
  std::atomic<bool> stopped{false};
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { stop(); }

Result<std::unique_ptr<Engine>> Engine::start(const EngineOptions& options, Metrics* metrics) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto store = storage::Store::open(options.store);
  if (!store) return store.status();
  impl->store = std::move(*store);

  auto writer_options = options.writer;
  if (metrics && !writer_options.observer)
    writer_options.observer = [metrics](size_t n, size_t bytes, double secs) { metrics->observe_commit(n, bytes, secs); };
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
  if (metrics) metrics->attach(&raw->stats, raw->orders.get(), raw->shipments.get(), raw->writer.get());

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
  if (s.sweeper.joinable()) s.sweeper.join();
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

}  // namespace waybill::runtime
