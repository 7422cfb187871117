// Three real waybilld nodes on loopback forming a cluster (configs like
// configs/cluster/node*.yaml), with their middleman ports reserved for the whole test.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"  // PortReservation

namespace waybill::itest {

using namespace std::chrono_literals;

inline constexpr int kNodes = 3;

inline std::string node_name(int k) { return "node" + std::to_string(k + 1); }

class ClusterFixture {
 public:
  /// `with_carrier_sim`: a carrier-sim (quiet_sim_config) serves carrier parcelco to
  /// every node (start_sim() before the nodes book); without it booking is off and
  /// shipments are registered.
  explicit ClusterFixture(bool with_carrier_sim = false) {
    if (with_carrier_sim) {
      write_profile(profiles_.path(), "parcelco.yaml", load_source_yaml("configs/carriers/parcelco.yaml"),
                    "127.0.0.1:" + std::to_string(sim_port_.port()));
      SimProcess::Options so;
      so.config_yaml = to_yaml(quiet_sim_config());
      so.port = sim_port_.port();
      so.webhook_target = "http://127.0.0.1:9";  // no tracking pushes
      sim_ = std::make_unique<SimProcess>(std::move(so));
    }
    for (int k = 0; k < kNodes; ++k) {
      ServerProcess::Options o;
      o.config_yaml = config_for(k);
      nodes_[k] = std::make_unique<ServerProcess>(o);
    }
  }

  std::string config_for(int k) const {
    std::string y =
        "intake: {watch: false, sources_dir: \"" + std::string(WAYBILL_SOURCE_DIR) + "/configs/sources\"}\n"
        "settlement: {watch: false}\n"
        "booking: {carriers_dir: \"" + (sim_ ? profiles_.path() : std::string()) + "\"}\n"
        "cluster:\n"
        "  node_id: " + node_name(k) + "\n"
        "  reconnect_base_ms: 50\n"
        "  reconnect_max_ms: 250\n"
        "  forward_timeout_ms: 5000\n"
        "  members:\n";
    for (int m = 0; m < kNodes; ++m)
      y += "    - {id: " + node_name(m) + ", host: 127.0.0.1, port: " + std::to_string(ports_[m].port()) + "}\n";
    return y;
  }

  ::testing::AssertionResult start_sim() {
    if (!sim_) return ::testing::AssertionFailure() << "built without a carrier-sim";
    auto r = sim_->start();
    sim_port_.release();
    return r;
  }

  ServerProcess& node(int k) { return *nodes_[k]; }
  HttpClient client(int k) { return HttpClient(nodes_[k]->host(), nodes_[k]->port(), 10s); }
  bool ports_ok() const {
    for (auto& p : ports_)
      if (!p.ok()) return false;
    return sim_port_.ok();
  }

  // Waits, bounded, until node `k` sees every member in `want_up` up and the others down.
  ::testing::AssertionResult wait_view(int k, const std::set<std::string>& want_up, std::chrono::milliseconds timeout = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto c = client(k);
      auto r = c.get("/v1/cluster");
      last = r.describe();
      if (r.status == 200) {
        auto j = Json::parse(r.body);
        bool match = true;
        for (auto& m : j.items("/members")) {
          const bool up = m.boolean("/up").value_or(false);
          match = match && up == (want_up.count(m.str_or_empty("/id")) > 0);
        }
        if (match && j.size("/members") == kNodes) return ::testing::AssertionSuccess();
      }
      std::this_thread::sleep_for(50ms);
    }
    return ::testing::AssertionFailure() << node_name(k) << " did not reach the expected view; last: " << last;
  }

 private:
  PortReservation ports_[kNodes];  // middleman ports, held for the whole test
  PortReservation sim_port_;
  TempDir profiles_{"waybill-cluster-profiles"};
  std::unique_ptr<SimProcess> sim_;
  std::unique_ptr<ServerProcess> nodes_[kNodes];
};

}  // namespace waybill::itest
