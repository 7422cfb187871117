// waybill-rebalance-bench: how fast an offline membership change moves entities.
//
// Seeds the stores of a cluster's nodes through the real engine and API in process
// (each order: created, released with an Idempotency-Key, a registered shipment with
// a tracking number, two milestones - about 30 records with its events and indexes),
// each node holding the orders rendezvous hashing gives it, then moves them to a list
// with more members with the same code waybill-rebalance runs (fsync on), and reports
// orders and records moved per second. With --carriers N the shipments spread over N
// carriers and each carrier's settlement node bills the shipments of the carrier it
// holds (invoices of --invoice-lines lines: a dispute, a billing, a freight event and
// its index entry per line), so that the carriers whose settlement owner changes move
// too; the invoices and settlement records moved are reported apart. --seed-only
// leaves the seeded stores and the nodes' configs, and prints the waybill-rebalance
// command to time by hand.
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
  /// Carriers the shipments spread over, each with its invoices; 0: every shipment is
  /// ups's and nothing is invoiced.
  int carriers = 0;
  size_t invoice_lines = 500;
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

std::string carrier_name(const Options& o, size_t order_index) {
  return o.carriers == 0 ? "ups" : "carrier-" + std::to_string(order_index % static_cast<size_t>(o.carriers));
}

// The order's index in the seeding ("RBB-<i>").
size_t order_index(const std::string& id) { return std::stoul(id.substr(4)); }

std::string invoice_body(const std::string& carrier, size_t number, const std::vector<std::string>& ids, size_t from,
                         size_t to) {
  std::string s = R"({"carrier":")" + carrier + R"(","invoice_number":"INV-)" + std::to_string(number) +
                  R"(","invoice_date":"2026-11-30","currency":"USD","lines":[)";
  for (size_t i = from; i < to; ++i)
    s += std::string(i > from ? "," : "") + R"({"tracking_number":"1Z)" + ids[i] + R"(","billed_weight_g":1500,"base_minor":1000})";
  return s + "]}";
}

Status seed_node(const Options& o, const std::string& dir, const std::vector<std::string>& ids,
                 std::vector<std::string> member_ids, const std::vector<std::string>& settled_carriers) {
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
           R"({"shipment_id":")" + id + R"(-1","order_id":")" + id + R"(","carrier":")" + carrier_name(o, order_index(id)) +
               R"(","tracking_numbers":["1Z)" + id + R"("]})");
  failures += p.drain();
  for (const char* status : {"picked_up", "in_transit"}) {
    for (auto& id : ids)
      p.send("POST", "/v1/tracking",
             R"({"carrier":")" + carrier_name(o, order_index(id)) + R"(","tracking_number":"1Z)" + id + R"(","status":")" +
                 status + R"(","raw_code":"X","event_time":"2026-11-28T)" + (std::string(status) == "picked_up" ? "08" : "09") +
                 R"(:00:00Z"})");
    failures += p.drain();
  }
  // The carriers settled here bill the shipments of theirs this node holds. One ledger
  // per node takes one invoice at a time: a small window.
  Pipeline invoices(api, 4);
  for (auto& carrier : settled_carriers) {
    std::vector<std::string> billed;
    for (auto& id : ids)
      if (carrier_name(o, order_index(id)) == carrier) billed.push_back(id);
    const size_t per = std::max<size_t>(1, o.invoice_lines);
    for (size_t from = 0; from < billed.size(); from += per)
      invoices.send("POST", "/v1/invoices", invoice_body(carrier, from / per + 1, billed, from, std::min(billed.size(), from + per)));
  }
  failures += invoices.drain();
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
  app.add_option("--carriers", o.carriers, "Carriers the shipments spread over, each invoiced on its settlement node (default 0: ups, no invoices)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--invoice-lines", o.invoice_lines, "Lines per invoice with --carriers (default 500)")->check(CLI::Range(1, 10000));
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
  std::vector<std::vector<std::string>> settled(static_cast<size_t>(o.from_nodes));  // carriers by settlement node
  for (int c = 0; c < o.carriers; ++c) {
    const std::string carrier = "carrier-" + std::to_string(c);
    settled[hrw_owner(old_members, settlement_key(carrier))].push_back(carrier);
  }
  auto t0 = Clock::now();
  for (int k = 0; k < o.from_nodes; ++k) {
    auto st = seed_node(o, o.work_dir + "/" + node_id(k), per_node[k], o.from_nodes > 1 ? old_ids : std::vector<std::string>{},
                        settled[k]);
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
  uint64_t orders = 0, invoices = 0, settlement = 0, records = 0;
  for (auto& [pair, c] : report->moves) {
    orders += c.orders;
    invoices += c.invoices;
    settlement += c.settlement_records;
    records += c.records;
  }
  const double s = report->seconds;
  std::string json = "{\"orders_seeded\":" + std::to_string(o.orders) + ",\"from_nodes\":" + std::to_string(o.from_nodes) +
                     ",\"to_nodes\":" + std::to_string(o.to_nodes) + ",\"carriers\":" + std::to_string(o.carriers) +
                     ",\"orders_moved\":" + std::to_string(orders) + ",\"invoices_moved\":" + std::to_string(invoices) +
                     ",\"settlement_records_moved\":" + std::to_string(settlement) +
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
