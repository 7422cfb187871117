// The real Prometheus server (Debian's `prometheus`) scrapes a real waybilld on
// loopback with the shipped alert rules; PromQL answers must match what the test did,
// and promtool must accept the shipped config and rules.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "child_process.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;

std::string source_dir() { return WAYBILL_SOURCE_DIR; }

// A loopback port nobody listens on right now (the kernel picks it).
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

int run(const std::vector<std::string>& args, const std::string& log) {
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = spawn_child(args, fd, fd);
  ::close(fd);
  if (pid < 0) return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& dir, uint16_t target_port) : dir_(dir), port_(free_port()) {
    std::ofstream cfg(dir + "/prometheus.yml");
    cfg << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "rule_files:\n  - " << source_dir() << "/configs/prometheus/alerts.yml\n"
        << "scrape_configs:\n  - job_name: waybill\n    metrics_path: /metrics\n"
        << "    static_configs:\n      - targets: [\"127.0.0.1:" << target_port << "\"]\n";
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (::testing::Test::HasFailure()) std::cerr << "prometheus log:\n" << slurp(dir_ + "/prometheus.log");
  }
  bool start() {
    int fd = ::open((dir_ + "/prometheus.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_ = spawn_child({"/usr/bin/prometheus", "--config.file=" + dir_ + "/prometheus.yml",
                        "--storage.tsdb.path=" + dir_ + "/tsdb",
                        "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
                       fd, fd);
    ::close(fd);
    return pid_ > 0;
  }
  uint16_t port() const { return port_; }

 private:
  std::string dir_;
  uint16_t port_;
  pid_t pid_ = -1;
};

// The value of an instant PromQL query with one result, or nullopt.
// RFC 3339 UTC time `hours` before now.
std::string utc_hours_ago(int hours) {
  std::time_t t = std::time(nullptr) - hours * 3600;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<double> query(HttpClient& prom, const std::string& promql) {
  std::string q;
  for (unsigned char c : promql) {
    if (std::isalnum(c) || c == '_' || c == '.') q += static_cast<char>(c);
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      q += buf;
    }
  }
  auto r = prom.get("/api/v1/query?query=" + q);
  if (r.status != 200) return std::nullopt;
  auto doc = Json::parse(r.body);
  auto results = doc.items("/data/result");
  if (results.size() != 1) return std::nullopt;
  auto v = results[0].str("/value/1");
  return v ? std::optional<double>(std::stod(*v)) : std::nullopt;
}

std::optional<double> eventually_equal(HttpClient& prom, const std::string& promql, double want) {
  std::optional<double> last;
  for (auto deadline = std::chrono::steady_clock::now() + 40s; std::chrono::steady_clock::now() < deadline;) {
    last = query(prom, promql);
    if (last && *last == want) return last;
    std::this_thread::sleep_for(250ms);
  }
  return last;
}

TEST(Prometheus, ShippedRulesAndConfigPassPromtool) {
  ServerProcess scratch;  // only for its temporary directory
  EXPECT_EQ(run({"/usr/bin/promtool", "check", "rules", source_dir() + "/configs/prometheus/alerts.yml"},
                scratch.dir() + "/promtool.log"), 0)
      << slurp(scratch.dir() + "/promtool.log");
  EXPECT_EQ(run({"/usr/bin/promtool", "check", "config", source_dir() + "/configs/prometheus/prometheus.yml"},
                scratch.dir() + "/promtool.log"), 0)
      << slurp(scratch.dir() + "/promtool.log");
}

TEST(Prometheus, ScrapesWaybillAndAnswersPromQL) {
  ServerProcess::Options o;
  // Visibility passes every 200 ms, so the gauges catch up with the shipments below.
  o.config_yaml = "booking:\n  carriers_dir: \"\"\nvisibility:\n  pass_interval_ms: 200\n";
  ServerProcess server(o);
  ASSERT_TRUE(server.start());
  HttpClient c(server.host(), server.port());
  for (int i = 0; i < 3; ++i) {
    auto r = c.post("/v1/orders", "{\"order_id\":\"PROM-" + std::to_string(i) +
                                      R"(","service_level":"ground","ship_to":{"name":"Ada","street":"1 Main St",)"
                                      R"("city":"Springfield","postal_code":"62701","country":"US"},)"
                                      R"("lines":[{"sku":"SKU-1","qty":1}]})");
    ASSERT_EQ(r.status, 201) << r.describe();
  }
  ASSERT_EQ(c.post("/v1/orders/PROM-0/release", "").status, 200);
  ASSERT_EQ(c.post("/v1/orders/PROM-404/release", "").status, 404);
  // Two shipments booked elsewhere: one scanned an hour ago (fresh), one three days ago
  // (not fresh within the default 24 h).
  for (int i = 1; i <= 2; ++i) {
    std::string n = std::to_string(i);
    auto r = c.post("/v1/shipments", R"({"shipment_id":"PROM-S)" + n + R"(","order_id":"PROM-)" + n +
                                         R"(","carrier":"ups","service":"ground","tracking_numbers":["1ZPROM)" + n + "\"]}");
    ASSERT_EQ(r.status, 201) << r.describe();
    auto m = c.post("/v1/tracking", R"({"carrier":"ups","tracking_number":"1ZPROM)" + n +
                                        R"(","status":"in_transit","raw_code":"IT","event_time":")" +
                                        utc_hours_ago(i == 1 ? 1 : 72) + R"(","sequence":1})");
    ASSERT_EQ(m.status / 100, 2) << m.describe();
  }

  PrometheusProcess prom(server.dir(), server.port());
  ASSERT_TRUE(prom.start());
  HttpClient p("127.0.0.1", prom.port(), 5s);
  auto up = eventually_equal(p, "up{job=\"waybill\"}", 1);
  ASSERT_EQ(up.value_or(-1), 1) << "Prometheus never scraped waybilld";
  EXPECT_EQ(eventually_equal(p, "waybill_orders_created_total", 3).value_or(-1), 3);
  EXPECT_EQ(eventually_equal(p, "sum(waybill_http_requests_total{route=\"/v1/orders\",status=\"201\"})", 3).value_or(-1), 3);
  EXPECT_EQ(
      eventually_equal(p, "sum(waybill_http_requests_total{route=\"/v1/orders/{order_id}/release\",status=\"404\"})", 1)
          .value_or(-1),
      1);
  EXPECT_EQ(eventually_equal(p, "waybill_storage_healthy", 1).value_or(-1), 1);
  EXPECT_EQ(eventually_equal(p, "sum(waybill_visibility_active_shipments)", 2).value_or(-1), 2);
  EXPECT_EQ(eventually_equal(p, "sum(waybill_visibility_fresh_shipments)", 1).value_or(-1), 1);
  EXPECT_EQ(eventually_equal(p, "waybill_visibility_freshness_ratio", 0.5).value_or(-1), 0.5);
  // The counter agrees with the outbox: 3 x (received + validated) + released, and what
  // the two shipments and their scans raised.
  auto feed = Json::parse(c.get("/v1/events?after=0&limit=1000").body);
  const double outbox = static_cast<double>(feed.size("/events"));
  EXPECT_GT(outbox, 7);
  EXPECT_EQ(eventually_equal(p, "waybill_events_emitted_total", outbox).value_or(-1), outbox);

  // The shipped rules are loaded and evaluate without errors; none fires on a healthy node.
  bool rules_ok = false;
  std::string last;
  for (auto deadline = std::chrono::steady_clock::now() + 30s; !rules_ok && std::chrono::steady_clock::now() < deadline;) {
    auto r = p.get("/api/v1/rules");
    last = r.body;
    auto doc = Json::parse(r.body);
    size_t evaluated = 0, total = 0;
    for (auto& g : doc.items("/data/groups"))
      for (auto& rule : g.items("/rules")) {
        ++total;
        if (rule.str_or_empty("/health") == "ok") ++evaluated;
        EXPECT_NE(rule.str_or_empty("/health"), "err") << rule.dump();
      }
    rules_ok = total == 9 && evaluated == total;
    if (!rules_ok) std::this_thread::sleep_for(250ms);
  }
  EXPECT_TRUE(rules_ok) << last;
  auto alerts = Json::parse(p.get("/api/v1/alerts").body);
  EXPECT_EQ(alerts.size("/data/alerts"), 0u) << alerts.dump();
}

}  // namespace
}  // namespace waybill::itest
