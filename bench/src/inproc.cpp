#include "inproc.hpp"

#include <chrono>
#include <semaphore>
#include <thread>
#include <vector>

#include "server.hpp"
#include "waybill/runtime/api.hpp"
#include "waybill/runtime/config.hpp"
#include "waybill/runtime/log.hpp"

namespace waybill::bench {

using Clock = std::chrono::steady_clock;

struct InprocEngine::Impl {
  runtime::Metrics metrics;
  std::unique_ptr<runtime::Engine> engine;
  std::unique_ptr<runtime::Api> api;
};

InprocEngine::InprocEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InprocEngine::~InprocEngine() { stop(); }

std::unique_ptr<InprocEngine> InprocEngine::start(const std::string& yaml, const std::string& data_dir,
                                                  std::string* error) {
  auto config = runtime::parse_config(yaml);
  if (!config) {
    *error = "config: " + config.status().field() + ": " + config.status().message();
    return nullptr;
  }
  config->engine.store.data_dir = data_dir;
  // This process prints the table on stdout: keep the engine's info lines out of it.
  log::set_level(std::max(log::Level::warn, log::parse_level(config->log_level).value_or(log::Level::info)));
  config->api.auth.keys.push_back(
      {"bench", runtime::key_digest(bench_api_key()), static_cast<runtime::ScopeSet>(runtime::Scope::admin)});
  auto impl = std::make_unique<Impl>();
  auto engine = runtime::Engine::start(config->engine, &impl->metrics);
  if (!engine) {
    *error = "engine: " + engine.status().message();
    return nullptr;
  }
  impl->engine = std::move(*engine);
  impl->api = std::make_unique<runtime::Api>(*impl->engine, impl->metrics, config->api);
  return std::unique_ptr<InprocEngine>(new InprocEngine(std::move(impl)));
}

void InprocEngine::stop() {
  if (!impl_ || !impl_->engine) return;
  impl_->engine->stop();
  impl_->api.reset();
  impl_->engine.reset();
}

MetricsSnapshot InprocEngine::snapshot() const { return MetricsSnapshot::parse(impl_->metrics.render()); }

size_t InprocEngine::resident_shipments() const { return impl_->engine->shipments().resident(); }

void drive_inproc(InprocEngine& eng, const DriveOptions& opt, const Source& source, DriveResult& result) {
  auto& api = *eng.impl_->api;
  const int slots = std::max(1, opt.concurrency);
  std::counting_semaphore<1 << 20> permits(slots);
  std::atomic<bool> dry{false};
  std::atomic<int64_t> last_answer{0};
  auto start = Clock::now();
  const bool timed = opt.duration_s > 0;
  const auto deadline = start + std::chrono::microseconds(static_cast<int64_t>(opt.duration_s * 1e6));
  last_answer = start.time_since_epoch().count();

  auto feeder = [&] {
    Work w;
    for (;;) {
      while (!permits.try_acquire_for(std::chrono::milliseconds(50))) {
        if (timed && Clock::now() >= deadline) return;
      }
      if ((timed && Clock::now() >= deadline) || dry.load(std::memory_order_relaxed) || !source(w)) {
        if (!(timed && Clock::now() >= deadline)) dry = true;
        permits.release();
        return;
      }
      runtime::HttpRequest req;
      req.method = w.method;
      req.target = std::move(w.target);
      req.content_type = w.ndjson ? "application/x-ndjson" : "application/json";
      req.body = std::move(w.body);
      req.headers.emplace_back("authorization", "Bearer " + bench_api_key());
      auto sent = Clock::now();
      Work meta;
      meta.units = w.units;
      meta.tracking = w.tracking;
      api.handle(std::move(req), [&, sent, meta](runtime::HttpResponse res) {
        auto now = Clock::now();
        result.latency.record(
            static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent).count()));
        result.on_answer(meta, res.status, res.body);
        int64_t ns = now.time_since_epoch().count();
        int64_t prev = last_answer.load(std::memory_order_relaxed);
        while (ns > prev && !last_answer.compare_exchange_weak(prev, ns, std::memory_order_relaxed)) {
        }
        permits.release();
      });
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, opt.threads); ++i) threads.emplace_back(feeder);
  for (auto& t : threads) t.join();
  // Wait for every request in flight to be answered.
  for (int i = 0; i < slots; ++i) permits.acquire();
  result.elapsed_s =
      std::chrono::duration<double>(Clock::duration(last_answer.load()) - start.time_since_epoch()).count();
  result.source_dry = dry.load();
}

}  // namespace waybill::bench
