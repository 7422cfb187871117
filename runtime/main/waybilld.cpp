// waybilld: the waybill server. Runs on embedded defaults; --config FILE loads YAML,
// --listen and --data-dir override it. SIGTERM/SIGINT drain and exit cleanly.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "waybill/runtime/api.hpp"
#include "waybill/runtime/config.hpp"
#include "waybill/version.hpp"

using namespace waybill;
using namespace waybill::runtime;

int main(int argc, char** argv) {
  CLI::App app{"waybill server: order and shipment lifecycle sync between ERP and carriers"};
  std::string config_path, listen, data_dir;
  app.add_option("--config", config_path, "YAML configuration file");
  app.add_option("--listen", listen, "HOST:PORT for the HTTP API and /metrics (overrides the config)");
  app.add_option("--data-dir", data_dir, "RocksDB data directory (overrides the config)");
  app.set_version_flag("--version", build::describe("waybilld"), "Print the version and build and exit");
  CLI11_PARSE(app, argc, argv);

  auto config = config_path.empty() ? parse_config("") : load_config(config_path);
  if (!config) {
    std::fprintf(stderr, "waybilld: config error: %s: %s\n", config.status().field().c_str(),
                 config.status().message().c_str());
    return 2;
  }
  if (!listen.empty()) {
    if (auto st = apply_listen(listen, &config->http); !st.ok()) {
      std::fprintf(stderr, "waybilld: --listen: %s\n", st.message().c_str());
      return 2;
    }
  }
  if (!data_dir.empty()) config->engine.store.data_dir = data_dir;
  spdlog::set_level(spdlog::level::from_str(config->log_level));

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Metrics metrics;
  auto t0 = std::chrono::steady_clock::now();
  auto engine = Engine::start(config->engine, &metrics);
  if (!engine) {
    spdlog::error("cannot start: {}", engine.status().message());
    return 1;
  }
  Api api(**engine, metrics, config->api);
  if (auto st = api.start(); !st.ok()) {
    spdlog::error("cannot start: {}", st.message());
    (*engine)->stop();
    return 1;
  }
  HttpServer server(config->http, [&api](HttpRequest&& req, Responder respond) {
    api.handle(std::move(req), std::move(respond));
  });
  if (auto st = server.start(); !st.ok()) {
    spdlog::error("cannot start: {}", st.message());
    (*engine)->stop();
    return 1;
  }
  auto ready_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("waybilld {} ready on http://{}:{} (data dir {}, fsync {}) in {:.1f} ms", build::version,
               config->http.host, server.port(), config->engine.store.data_dir,
               config->engine.writer.sync ? "on" : "off", ready_ms);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: draining", sig);
  server.stop(10000);
  api.stop();
  (*engine)->stop();
  spdlog::info("stopped");
  return 0;
}
