// waybilld: the waybill server. Runs on embedded defaults; --config FILE loads YAML,
// --listen, --data-dir and --keys-file override it. SIGTERM/SIGINT drain and exit
// cleanly. Logs are JSON lines on stderr (log.hpp).
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "waybill/runtime/api.hpp"
#include "waybill/runtime/auth_keys.hpp"
#include "waybill/runtime/cluster.hpp"
#include "waybill/runtime/config.hpp"
#include "waybill/runtime/crash_report.hpp"
#include "waybill/runtime/log.hpp"
#include "waybill/version.hpp"

using namespace waybill;
using namespace waybill::runtime;

namespace {

constexpr log::Logger kLog("waybilld");

// Start-up refused for a bad setting: exit code 2, naming the key.
int config_error(const Status& st) {
  kLog.error("config error", {{"key", st.field()}, {"reason", st.message()}});
  return 2;
}

// Announces where the generated admin key is. The key itself is never logged.
void report_keys(const KeySetup& keys) {
  if (keys.admin_key_file.empty()) {
    kLog.info("API keys loaded", {{"keys", keys.keys.size()}});
  } else if (keys.generated) {
    kLog.warn("no API keys configured: generated an admin key (mode 0600); send it as 'Authorization: Bearer <key>'",
              {{"admin_key_file", keys.admin_key_file}});
  } else {
    kLog.info("no API keys configured: using the generated admin key", {{"admin_key_file", keys.admin_key_file}});
  }
}

}  // namespace

int main(int argc, char** argv) {
  install_crash_report();
  CLI::App app{"waybill server: order and shipment lifecycle sync between ERP and carriers"};
  std::string config_path, listen, data_dir, keys_file;
  app.add_option("--config", config_path, "YAML configuration file");
  app.add_option("--listen", listen, "HOST:PORT for the HTTP API and /metrics (overrides the config)");
  app.add_option("--data-dir", data_dir, "RocksDB data directory (overrides the config)");
  app.add_option("--keys-file", keys_file, "YAML file of API keys (overrides auth.keys_file)");
  app.set_version_flag("--version", build::describe("waybilld"), "Print the version and build and exit");
  CLI11_PARSE(app, argc, argv);

  auto config = config_path.empty() ? parse_config("") : load_config(config_path);
  if (!config) return config_error(config.status());
  if (!listen.empty()) {
    if (auto st = apply_listen(listen, &config->http); !st.ok()) return config_error(st);
  }
  if (!data_dir.empty()) config->engine.store.data_dir = data_dir;
  if (!keys_file.empty()) config->api.auth.keys_file = keys_file;
  log::set_level(*log::parse_level(config->log_level));  // validated by parse_config
  auto keys = setup_api_keys(config->api.auth, config->engine.store.data_dir);
  if (!keys) return config_error(keys.status());
  report_keys(*keys);
  config->api.auth.keys = std::move(keys->keys);

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // The store must hold the data of exactly these members (membership.hpp).
  config->engine.membership.emplace();
  for (auto& m : config->cluster.members) config->engine.membership->push_back(m.id);

  Metrics metrics;
  auto t0 = std::chrono::steady_clock::now();
  auto engine = Engine::start(config->engine, &metrics);
  if (!engine) {
    kLog.error("cannot start", {{"error", engine.status().message()}});
    return 1;
  }
  Api api(**engine, metrics, config->api);
  if (auto st = api.start(); !st.ok()) {
    kLog.error("cannot start", {{"error", st.message()}, {"field", st.field()}});
    (*engine)->stop();
    return 1;
  }
  // With a `cluster:` section every request passes the cluster's front door, which
  // serves it here, forwards it to its owner or refuses it (cluster.hpp).
  std::unique_ptr<Cluster> cluster;
  if (config->cluster.enabled()) {
    ClusterHooks hooks;
    hooks.local = [&api](HttpRequest&& req, Responder respond) { api.handle(std::move(req), std::move(respond)); };
    hooks.source_order_key = [&api](const std::string& source, const std::string& body) {
      return api.source_order_id(source, body);
    };
    hooks.invoice_carrier = [&api](const HttpRequest& req) { return api.invoice_carrier(req); };
    auto started = Cluster::start(config->cluster, std::move(hooks));
    if (!started) {
      kLog.error("cannot start", {{"error", started.status().message()}, {"field", started.status().field()}});
      api.stop();
      (*engine)->stop();
      return 1;
    }
    cluster = std::move(*started);
    api.set_cluster_view([c = cluster.get()] { return c->status_json(); });
    api.set_invoice_facts_source([c = cluster.get()](const actors::InvoiceInput& invoice, const HttpRequest& origin,
                                                     InvoiceFactsDone done) {
      c->gather_invoice_facts(invoice, origin, std::move(done));
    });
    api.set_settlement_peers([c = cluster.get()](const std::vector<std::string>& carriers, HttpRequest request,
                                                 const HttpRequest& origin, std::function<void(std::vector<NodeAnswer>)> done) {
      c->ask_settlement_owners(carriers, std::move(request), origin, std::move(done));
    });
    api.set_other_nodes([c = cluster.get()](HttpRequest request, const HttpRequest& origin,
                                            std::function<void(std::vector<NodeAnswer>)> done) {
      c->ask_others(std::move(request), origin, std::move(done));
    });
  }
  HttpServer server(config->http, [&api, &cluster](HttpRequest&& req, Responder respond) {
    if (cluster) return cluster->handle(std::move(req), std::move(respond));
    api.handle(std::move(req), std::move(respond));
  });
  if (auto st = server.start(); !st.ok()) {
    kLog.error("cannot start", {{"error", st.message()}, {"field", st.field()}});
    if (cluster) cluster->stop();
    (*engine)->stop();
    return 1;
  }
  auto ready_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const bool tls = !config->http.tls_cert_file.empty();
  // Tests and tools read the address from this message: keep "ready on <url>" in it.
  std::string url = std::string(tls ? "https" : "http") + "://" + config->http.host + ":" + std::to_string(server.port());
  kLog.info("waybilld ready on " + url, {{"url", url},
                                         {"version", build::version},
                                                            {"cluster_node", cluster ? cluster->node_id() : std::string()},
                                                            {"data_dir", config->engine.store.data_dir},
                                                            {"fsync", config->engine.writer.sync},
                                                            {"tls", tls},
                                                            {"ready_ms", ready_ms}});

  int sig = 0;
  sigwait(&stop_signals, &sig);
  kLog.info("signal received: draining", {{"signal", sig}});
  server.stop(10000);
  if (cluster) cluster->stop();  // peers' forwarded requests still waiting get no answer: they retry
  api.stop();
  (*engine)->stop();
  kLog.info("stopped");
  return 0;
}
