// waybill-rebalance-bench: how fast an offline membership change moves entities.
//
// Seeds the stores of a cluster's nodes through the real engine and API in process
// (each order: created, released with an Idempotency-Key, a registered shipment with
// a tracking number, two milestones - about 30 records with its events and indexes),
// each node holding the orders rendezvous hashing gives it, then moves them to a list
// with more members with the same code waybill-rebalance runs (fsync on), and reports
// orders and records moved per second. --seed-only leaves the seeded stores and the
// nodes' configs, and prints the waybill-rebalance command to time by hand.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <CLI/CLI.hpp>

#include "waybill/runtime/api.hpp"
#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/engine.hpp"
#include "waybill/runtime/log.hpp"
#include "waybill/runtime/metrics.hpp"
#include "waybill/runtime/rebalance.hpp"

namespace {

using namespace waybill;
using namespace waybill::runtime;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kKey = "rebalance-bench-admin-key";

struct Options {
  size_t orders = 30000;
  int from_nodes = 3;
  int to_nodes = 4;
  size_t batch_records = 4096;
  std::string work_dir;
  std::string out = "bench-results/rebalance.json";
  bool keep = false;
  bool seed_only = false;
};

std::string node_id(int k) { return "node" + std::to_string(k + 1); }

std::vector<ClusterMember> members(int n) {
  std::vector<ClusterMember> m;
  for (int k = 0; k < n; ++k) m.push_back({node_id(k), "127.0.0.1", static_cast<uint16_t>(7101 + k)});
  return m;
}

// Requests in flight against the in-process API, at most `window` at a time.
class Pipeline {
 public:
  Pipeline(Api& api, size_t window) : api_(api), window_(window) {}
  void send(const std::string& method, const std::string& target, const std::string& body, const std::string& key = "") {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ < window_; });
    ++in_flight_;
    lock.unlock();
    HttpRequest req{method, target, "application/json", key, body, {}};
    req.headers.emplace_back("authorization", std::string("Bearer ") + kKey);
    api_.handle(std::move(req), [this](HttpResponse r) {
      std::lock_guard l(mu_);
      if (r.status / 100 != 2) ++failures_;
      --in_flight_;
      cv_.notify_all();
    });
  }
  size_t drain() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
    return failures_;
  }

 private:
  Api& api_;
  size_t window_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0, failures_ = 0;
};

std::string order_body(const std::string& id) {
  return R"({"order_id":")" + id + R"(","service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St",)"
         R"("city":"Springfield","postal_code":"62701","country":"US"},"lines":[{"sku":"SKU-1","qty":1}]})";
}

Status seed_node(const std::string& dir, const std::vector<std::string>& ids, std::vector<std::string> member_ids) {
  EngineOptions e;
  e.store.data_dir = dir;
  e.writer.sync = false;  // setup, not measured
  e.booking.carriers_dir.clear();
  e.membership = std::move(member_ids);
  Metrics metrics;
  auto engine = Engine::start(e, &metrics);
  if (!engine) return engine.status();
  ApiOptions a;
  a.intake.watch = false;
  a.invoices.watch = false;
  a.exports.nightly = false;
  a.auth.keys.push_back({"bench", key_digest(kKey), static_cast<ScopeSet>(Scope::admin)});
  Api api(**engine, metrics, a);
  if (auto st = api.start(); !st.ok()) return st;
  Pipeline p(api, 512);
  size_t failures = 0;
  // Phase by phase, so that each request finds what the one before it made.
  for (auto& id : ids) p.send("POST", "/v1/orders", order_body(id));
  failures += p.drain();
  for (auto& id : ids) p.send("POST", "/v1/orders/" + id + "/release", "", "release-" + id);
  for (auto& id : ids)
    p.send("POST", "/v1/shipments",
           R"({"shipment_id":")" + id + R"(-1","order_id":")" + id + R"(","carrier":"ups","tracking_numbers":["1Z)" + id + R"("]})");
  failures += p.drain();
  for (const char* status : {"picked_up", "in_transit"}) {
    for (auto& id : ids)
      p.send("POST", "/v1/tracking",
             R"({"carrier":"ups","tracking_number":"1Z)" + id + R"(","status":")" + status + R"(","raw_code":"X","event_time":"2026-11-28T)" +
                 (std::string(status) == "picked_up" ? "08" : "09") + R"(:00:00Z"})");
    failures += p.drain();
  }
  api.stop();
  (*engine)->stop();
  if (failures) return Status{Code::internal, std::to_string(failures) + " seeding requests failed"};
  return {};
}

std::string write_config(const std::string& path, int k, int n, const std::string& data_dir) {
  std::string y = "data_dir: " + data_dir + "\nintake: {watch: false}\nsettlement: {watch: false}\ncluster:\n  node_id: " +
                  node_id(k) + "\n  members:\n";
  for (auto& m : members(n)) y += "    - {id: " + m.id + ", host: 127.0.0.1, port: " + std::to_string(m.port) + "}\n";
  std::ofstream(path) << y;
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"waybill-rebalance-bench: entities moved per second by an offline membership change"};
  Options o;
  app.add_option("--orders", o.orders, "Orders seeded across the old members (default 30000)");
  app.add_option("--from-nodes", o.from_nodes, "Members before (default 3)")->check(CLI::Range(1, 32));
  app.add_option("--to-nodes", o.to_nodes, "Members after (default 4)")->check(CLI::Range(1, 32));
  app.add_option("--batch-records", o.batch_records, "Records per step (default 4096)");
  app.add_option("--work-dir", o.work_dir, "Where the stores go (default: a new directory under /tmp)");
  app.add_option("--out", o.out, "JSON result file (default bench-results/rebalance.json)");
  app.add_flag("--keep", o.keep, "Keep the stores");
  app.add_flag("--seed-only", o.seed_only, "Seed, write the configs, print the waybill-rebalance command, keep everything");
  CLI11_PARSE(app, argc, argv);
  if (o.from_nodes == o.to_nodes) {
    std::fprintf(stderr, "--from-nodes and --to-nodes must differ\n");
    return 1;
  }
  log::set_level(log::Level::warn);
  if (o.work_dir.empty()) {
    char tmpl[] = "/tmp/waybill-rebalance-bench-XXXXXX";
    o.work_dir = mkdtemp(tmpl);
  }
  std::vector<std::string> old_ids;
  for (int k = 0; k < o.from_nodes; ++k) old_ids.push_back(node_id(k));
  std::vector<std::vector<std::string>> per_node(static_cast<size_t>(o.from_nodes));
  auto old_members = members(o.from_nodes);
  for (size_t i = 0; i < o.orders; ++i) {
    std::string id = "RBB-" + std::to_string(i);
    per_node[hrw_owner(old_members, id)].push_back(std::move(id));
  }
  auto t0 = Clock::now();
  for (int k = 0; k < o.from_nodes; ++k) {
    auto st = seed_node(o.work_dir + "/" + node_id(k), per_node[k], o.from_nodes > 1 ? old_ids : std::vector<std::string>{});
    if (!st.ok()) {
      std::fprintf(stderr, "seeding %s: %s\n", node_id(k).c_str(), st.message().c_str());
      return 1;
    }
  }
  std::printf("seeded %zu orders on %d nodes in %.1f s (%s)\n", o.orders, o.from_nodes,
              std::chrono::duration<double>(Clock::now() - t0).count(), o.work_dir.c_str());
  std::vector<std::string> from, to;
  for (int k = 0; k < o.from_nodes; ++k)
    from.push_back(write_config(o.work_dir + "/from-" + node_id(k) + ".yaml", k, o.from_nodes, o.work_dir + "/" + node_id(k)));
  for (int k = 0; k < o.to_nodes; ++k)
    to.push_back(write_config(o.work_dir + "/to-" + node_id(k) + ".yaml", k, o.to_nodes, o.work_dir + "/" + node_id(k)));
  if (o.seed_only) {
    std::printf("waybill-rebalance --from");
    for (auto& f : from) std::printf(" %s", f.c_str());
    std::printf(" --to");
    for (auto& t : to) std::printf(" %s", t.c_str());
    std::printf("\n");
    return 0;
  }
  auto change = membership_change_from_configs(from, to);
  if (!change) {
    std::fprintf(stderr, "%s\n", change.status().message().c_str());
    return 1;
  }
  RebalanceOptions ro;
  ro.batch_records = o.batch_records;
  auto report = rebalance(*change, ro);
  if (!report) {
    std::fprintf(stderr, "rebalance: %s\n", report.status().message().c_str());
    return 1;
  }
  uint64_t orders = 0, records = 0;
  for (auto& [pair, c] : report->moves) {
    orders += c.orders;
    records += c.records;
  }
  const double s = report->seconds;
  std::string json = "{\"orders_seeded\":" + std::to_string(o.orders) + ",\"from_nodes\":" + std::to_string(o.from_nodes) +
                     ",\"to_nodes\":" + std::to_string(o.to_nodes) + ",\"orders_moved\":" + std::to_string(orders) +
                     ",\"records_moved\":" + std::to_string(records) + ",\"seconds\":" + std::to_string(s) +
                     ",\"orders_per_s\":" + std::to_string(orders / s) + ",\"records_per_s\":" + std::to_string(records / s) +
                     ",\"writes\":" + std::to_string(report->writes) + "}";
  std::printf("%s\n", json.c_str());
  std::error_code ec;
  fs::create_directories(fs::path(o.out).parent_path(), ec);
  std::ofstream(o.out) << json << "\n";
  if (!o.keep) fs::remove_all(o.work_dir, ec);
  return 0;
}
