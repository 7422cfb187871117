// carrier-sim --listen HOST:PORT --config FILE [--webhook-target URL] [--webhook-api-key-file FILE]
// Plays the carriers of its config over HTTP for waybill's tests, bench and demo.
// Logs are JSON lines on stderr, like waybilld's.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "carrier_sim.hpp"
#include "waybill/runtime/config.hpp"
#include "waybill/runtime/log.hpp"
#include "waybill/version.hpp"

using namespace waybill;

namespace {
constexpr log::Logger kLog("carrier-sim");
}

int main(int argc, char** argv) {
  CLI::App app{"carrier-sim: simulated parcel and freight carriers"};
  std::string config_path, listen, webhook_target, key_file;
  app.add_option("--config", config_path, "YAML file with the carriers to play")->required();
  app.add_option("--listen", listen, "HOST:PORT (overrides the config)");
  app.add_option("--webhook-target", webhook_target, "waybill base URL for tracking webhooks (overrides the config)");
  app.add_option("--webhook-api-key-file", key_file,
                 "file with the waybill API key sent with tracking webhooks (overrides the config)");
  // Handled before the required --config is checked, so it works on its own.
  app.set_version_flag("--version", build::describe("carrier-sim"), "Print the version and build and exit");
  CLI11_PARSE(app, argc, argv);

  auto config = sim::load_sim_config(config_path);
  if (!config) {
    kLog.error("config error", {{"key", config.status().field()}, {"reason", config.status().message()}});
    return 2;
  }
  if (!listen.empty()) config->listen = listen;
  if (!webhook_target.empty()) config->webhook_target = webhook_target;
  if (!key_file.empty()) config->webhook_api_key_file = key_file;
  runtime::HttpServerOptions http;
  if (auto st = runtime::apply_listen(config->listen, &http); !st.ok()) {
    kLog.error("config error", {{"key", "listen"}, {"reason", st.message()}});
    return 2;
  }

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  runtime::HttpClient client;
  size_t carriers = config->carriers.size();
  sim::CarrierSim sim(std::move(*config), &client);
  runtime::HttpServer server(http, [&sim](runtime::HttpRequest&& req, runtime::Responder respond) {
    sim.handle(std::move(req), std::move(respond));
  });
  if (auto st = server.start(); !st.ok()) {
    kLog.error("cannot start", {{"error", st.message()}});
    return 1;
  }
  // Tests read the address from this message: keep "ready on <url>" in it.
  std::string url = "http://" + http.host + ":" + std::to_string(server.port());
  kLog.info("carrier-sim ready on " + url, {{"url", url}, {"carriers", carriers}});
  int sig = 0;
  sigwait(&stop_signals, &sig);
  server.stop(2000);
  client.stop();
  return 0;
}
