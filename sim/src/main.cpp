// carrier-sim --listen HOST:PORT --config FILE [--webhook-target URL]
// Plays the carriers of its config over HTTP for waybill's tests, bench and demo.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "carrier_sim.hpp"
#include "waybill/runtime/config.hpp"
#include "waybill/version.hpp"

using namespace waybill;

int main(int argc, char** argv) {
  CLI::App app{"carrier-sim: simulated parcel and freight carriers"};
  std::string config_path, listen, webhook_target;
  app.add_option("--config", config_path, "YAML file with the carriers to play")->required();
  app.add_option("--listen", listen, "HOST:PORT (overrides the config)");
  app.add_option("--webhook-target", webhook_target, "waybill base URL for tracking webhooks (overrides the config)");
  // Handled before the required --config is checked, so it works on its own.
  app.set_version_flag("--version", build::describe("carrier-sim"), "Print the version and build and exit");
  CLI11_PARSE(app, argc, argv);

  auto config = sim::load_sim_config(config_path);
  if (!config) {
    std::fprintf(stderr, "carrier-sim: config error: %s: %s\n", config.status().field().c_str(),
                 config.status().message().c_str());
    return 2;
  }
  if (!listen.empty()) config->listen = listen;
  if (!webhook_target.empty()) config->webhook_target = webhook_target;
  runtime::HttpServerOptions http;
  if (auto st = runtime::apply_listen(config->listen, &http); !st.ok()) {
    std::fprintf(stderr, "carrier-sim: listen: %s\n", st.message().c_str());
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
    std::fprintf(stderr, "carrier-sim: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("carrier-sim ready on http://%s:%u with %zu carriers\n", http.host.c_str(), server.port(), carriers);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  server.stop(2000);
  client.stop();
  return 0;
}
