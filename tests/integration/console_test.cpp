// The operations console (/console/) against the real waybilld and carrier-sim.
//
// The queue holds bookings refused for different causes - parcelco in the US and
// freightly in Canada refusing a postal code, and orders to Germany no carrier serves -
// so filters by carrier, region and reason each pick a different set. The tests check
// the server side the console relies on (the queue's filters, paging and validation;
// the embedded pages, open without a key and with their security headers), then drive
// the pages in headless Chromium: tests/node/console.e2e.js with playwright-core, which
// saves a screenshot of each step under <build>/tests/console-screenshots.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "child_process.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"
#include "test_keys.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kRecipient = "Test Recipient";  // order_body()'s consignee name
constexpr auto kBrowserRunTimeout = 150s;

// Fast, fault-free carriers: every refusal in the queue is a business rule.
YAML::Node quiet_sim_config() {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  for (auto c : cfg["carriers"]) {
    c["latency"] = YAML::Load("{distribution: fixed, median_ms: 5}");
    c["faults"] = YAML::Load(
        "{server_error_share: 0.0, reset_share: 0.0, rate_limited_share: 0.0, timeout_share: 0.0,"
        " lost_response_share: 0.0, timeout_ms: 10000, retry_after_s: 1}");
    c["rejection_share"] = 0.0;
    c["tracking"]["interval_ms"] = 200;
  }
  return cfg;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ids_of(const Json& page) {
  std::vector<std::string> ids;
  for (auto& x : page.items("/exceptions")) ids.push_back(x.str_or_empty("/shipment_id"));
  return ids;
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<CarrierStack>(CarrierStack::Options{
        quiet_sim_config(),
        {load_source_yaml("configs/carriers/parcelco.yaml"), load_source_yaml("configs/carriers/freightly.yaml")},
        ""});
    ASSERT_TRUE(stack_->start());
    client_ = std::make_unique<HttpClient>(stack_->waybill().host(), stack_->waybill().port(), 10s);
  }

  // Eight parcelco and two freightly bookings refused for the postal code "00000", one
  // order to Germany that no carrier serves; waits until all eleven are in the queue.
  void fill_queue() {
    std::vector<OrderSpec> specs;
    auto add = [&](const std::string& id, const std::string& level, const std::string& postal,
                   const std::string& country, std::vector<std::string>* group) {
      OrderSpec s;
      s.order_id = id;
      s.service_level = level;
      s.postal_code = postal;
      s.country = country;
      specs.push_back(s);
      group->push_back(id + "-1");
    };
    for (int i = 1; i <= 8; ++i) add("CQ-P" + std::to_string(i), "ground", "00000", "US", &parcelco_us_);
    for (int i = 1; i <= 2; ++i) add("CQ-F" + std::to_string(i), "freight", "00000", "CA", &freightly_ca_);
    add("CQ-D1", "ground", "10115", "DE", &no_lane_de_);
    auto& w = stack_->waybill();
    auto failures = submit_orders(w.host(), w.port(), specs, 2);
    ASSERT_TRUE(failures.empty()) << failures.front();
    auto views = wait_for_bookings(w.host(), w.port(), all(), 30s);
    for (auto& id : all()) ASSERT_EQ(views[id].state, "rejected") << id << ": " << views[id].describe();
  }

  std::vector<std::string> all() const {
    std::vector<std::string> v = parcelco_us_;
    v.insert(v.end(), freightly_ca_.begin(), freightly_ca_.end());
    v.insert(v.end(), no_lane_de_.begin(), no_lane_de_.end());
    return v;
  }

  Json queue(const std::string& query) {
    auto r = client_->get("/v1/exceptions" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.describe();
    return Json::parse(r.body);
  }

  void expect_refused(const std::string& query, const std::string& field) {
    auto r = client_->get("/v1/exceptions" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.describe();
    EXPECT_EQ(r.media_type(), "application/problem+json") << query;
    EXPECT_EQ(Json::parse(r.body).str_or_empty("/field"), field) << query << ": " << r.body;
  }

  std::unique_ptr<CarrierStack> stack_;
  std::unique_ptr<HttpClient> client_;
  std::vector<std::string> parcelco_us_, freightly_ca_, no_lane_de_;
};

TEST_F(ConsoleTest, QueueFiltersPagesAndRefusesBadFilters) {
  ASSERT_NO_FATAL_FAILURE(fill_queue());
  EXPECT_EQ(as_set(ids_of(queue(""))), as_set(all()));
  EXPECT_EQ(as_set(ids_of(queue("?carrier=freightly"))), as_set(freightly_ca_));
  EXPECT_EQ(as_set(ids_of(queue("?region=CA"))), as_set(freightly_ca_));
  EXPECT_EQ(as_set(ids_of(queue("?region=DE"))), as_set(no_lane_de_));
  EXPECT_EQ(as_set(ids_of(queue("?reason=no_carrier_for_lane"))), as_set(no_lane_de_));
  EXPECT_EQ(as_set(ids_of(queue("?carrier=parcelco&region=US&reason=bad_postal_code"))), as_set(parcelco_us_));
  auto none = queue("?carrier=parcelco&region=CA");
  EXPECT_EQ(none.int64("/count"), 0);
  EXPECT_FALSE(none.has("/next_after"));
  auto de = queue("?region=DE").items("/exceptions");
  ASSERT_EQ(de.size(), 1u);
  EXPECT_EQ(de[0].str_or_empty("/carrier"), "");  // no carrier was chosen
  EXPECT_EQ(de[0].str_or_empty("/reason"), "no_carrier_for_lane");

  // Pages of four: every entry once, in key order, and the last page says it is last.
  std::vector<std::string> paged;
  std::string after;
  int pages = 0;
  for (; pages < 10; ++pages) {
    auto page = queue("?limit=4" + (after.empty() ? "" : "&after=" + after));
    auto ids = ids_of(page);
    EXPECT_LE(ids.size(), 4u);
    EXPECT_EQ(page.int64("/count"), static_cast<int64_t>(ids.size()));
    paged.insert(paged.end(), ids.begin(), ids.end());
    if (!page.has("/next_after")) break;
    after = page.str_or_empty("/next_after");
    EXPECT_EQ(after, ids.back());
  }
  EXPECT_EQ(pages + 1, 3);
  auto sorted = all();
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(paged, sorted);
  // A page holding exactly the rest is the last one: no cursor to an empty page.
  EXPECT_FALSE(queue("?limit=11").has("/next_after"));
  EXPECT_TRUE(queue("?limit=10").has("/next_after"));
  // Filters and paging together.
  auto first = queue("?carrier=parcelco&limit=5");
  ASSERT_TRUE(first.has("/next_after"));
  auto rest = ids_of(queue("?carrier=parcelco&limit=5&after=" + first.str_or_empty("/next_after")));
  EXPECT_EQ(rest.size(), 3u);

  // A misspelt filter is refused naming it, not answered with an empty queue.
  expect_refused("?carrier=parcleco", "carrier");
  expect_refused("?region=usa", "region");
  expect_refused("?region=U", "region");
  expect_refused("?region=us", "region");
  expect_refused("?reason=Bad-Postal-Code", "reason");
  expect_refused("?reason=" + std::string(65, 'a'), "reason");
  expect_refused("?after=%01", "after");
  expect_refused("?limit=many", "limit");
}

TEST(ConsolePages, ServedWithoutKeyWithSecurityHeaders) {
  ServerProcess server;
  ASSERT_TRUE(server.start());
  HttpClient anonymous(server.host(), server.port());
  anonymous.set_api_key("");

  auto redirect = anonymous.get("/console");
  EXPECT_EQ(redirect.status, 301) << redirect.describe();
  EXPECT_EQ(redirect.header("Location"), "console/");

  const std::pair<const char*, const char*> files[] = {
      {"index.html", "text/html"},  {"console.css", "text/css"},       {"console.js", "text/javascript"},
      {"api.js", "text/javascript"}, {"queue.js", "text/javascript"},   {"resolve.js", "text/javascript"},
      {"trace.js", "text/javascript"}, {"counters.js", "text/javascript"}, {"metrics_text.js", "text/javascript"},
      {"favicon.svg", "image/svg+xml"}};
  for (auto [name, type] : files) {
    auto r = anonymous.get(std::string("/console/") + name);
    ASSERT_EQ(r.status, 200) << name << ": " << r.describe();
    EXPECT_EQ(r.media_type(), type) << name;
    // The bytes compiled into waybilld are the files of the source tree.
    EXPECT_EQ(r.body, slurp(source_dir() + "/runtime/console/" + name)) << name;
    auto csp = r.header("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << name << ": " << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << name << ": " << csp;
    EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << name << ": " << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << name << ": " << csp;
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff") << name;
    EXPECT_FALSE(r.header("X-Request-Id").empty()) << name;
  }
  auto index = anonymous.get("/console/");
  ASSERT_EQ(index.status, 200) << index.describe();
  EXPECT_EQ(index.body, slurp(source_dir() + "/runtime/console/index.html"));
  // No external assets: nothing in the pages names another origin (the SVG namespace
  // is a name, never fetched).
  for (auto [name, type] : files) {
    auto body = slurp(source_dir() + "/runtime/console/" + name);
    if (auto ns = body.find("xmlns=\"http://www.w3.org/2000/svg\""); ns != std::string::npos) body.erase(ns, 34);
    EXPECT_EQ(body.find("://"), std::string::npos) << name;
  }

  for (const char* missing : {"/console/nope.js", "/console/a/index.html", "/console/..%2Fmetrics", "/console/package.json"}) {
    auto r = anonymous.get(missing);
    EXPECT_EQ(r.status, 404) << missing << ": " << r.describe();
    EXPECT_EQ(r.media_type(), "application/problem+json") << missing;
  }
  // Only GET is open; the API behind the pages still needs its key.
  EXPECT_EQ(anonymous.post("/console/", "{}").status, 401);
  HttpClient admin(server.host(), server.port());
  EXPECT_EQ(admin.post("/console/", "{}").status, 405);
  EXPECT_EQ(anonymous.get("/v1/exceptions").status, 401);
  EXPECT_EQ(anonymous.get("/v1/carriers").status, 401);
}

// Runs `args` with stdout and stderr in `log_path`, bounded in time; the exit code, or
// -1 when it did not end by itself in time (it is killed then).
int run_bounded(std::vector<std::string> args, const std::string& log_path, std::chrono::seconds timeout) {
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  pid_t pid = spawn_child(std::move(args), fd, fd);
  ::close(fd);
  if (pid <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(50ms);
  }
}

TEST_F(ConsoleTest, BrowserDrivesQueueActionsTraceAndCounters) {
  // The tools are installed by scripts/install-deps.sh; without them this test fails.
  ASSERT_EQ(::access(WAYBILL_NODE_PATH, X_OK), 0) << "Node not found (" << WAYBILL_NODE_PATH
                                                  << "): scripts/install-deps.sh installs it";
  ASSERT_EQ(::access(kChromium, X_OK), 0) << kChromium << " not found: scripts/install-deps.sh installs chromium";
  const std::string script = source_dir() + "/tests/node/console.e2e.js";
  ASSERT_TRUE(fs::exists(source_dir() + "/tests/node/node_modules/playwright-core/package.json"))
      << "playwright-core is not installed: scripts/install-deps.sh runs npm ci in tests/node";
  ASSERT_NO_FATAL_FAILURE(fill_queue());

  const std::string resolve = parcelco_us_[0], cancel = parcelco_us_[1], retry = parcelco_us_[2];
  TempDir work("waybill-console");
  const std::string fixture_path = work.path() + "/fixture.json";
  {
    auto list = [](const std::vector<std::string>& v) {
      std::string s = "[";
      for (auto& id : v) s += (s.size() > 1 ? "," : "") + quote(id);
      return s + "]";
    };
    OrderSpec fresh;
    fresh.order_id = "CQ-NEW-1";
    std::ofstream out(fixture_path);
    out << "{\"parcelco_us\":" << list(parcelco_us_) << ",\"freightly_ca\":" << list(freightly_ca_)
        << ",\"no_lane_de\":" << list(no_lane_de_) << ",\"resolve\":" << quote(resolve)
        << ",\"cancel\":" << quote(cancel) << ",\"retry\":" << quote(retry)
        << ",\"retry_order\":" << quote(retry.substr(0, retry.size() - 2)) << ",\"recipient_name\":" << quote(kRecipient)
        << ",\"good_postal_code\":\"62701\",\"new_order\":" << order_body(fresh) << "}";
  }
  fs::remove_all(WAYBILL_CONSOLE_SCREENSHOTS);
  fs::create_directories(WAYBILL_CONSOLE_SCREENSHOTS);
  const std::string log_path = work.path() + "/node.log";
  int code = run_bounded({WAYBILL_NODE_PATH, script, "--url", stack_->waybill().base_url(), "--key", kAdminKey,
                          "--read-key", scoped_key("read"), "--fixture", fixture_path, "--screenshots",
                          WAYBILL_CONSOLE_SCREENSHOTS, "--chromium", kChromium},
                         log_path, kBrowserRunTimeout);
  std::cout << slurp(log_path);
  std::cout << "console screenshots: " << WAYBILL_CONSOLE_SCREENSHOTS << std::endl;
  ASSERT_EQ(code, 0) << (code < 0 ? "the browser run did not finish in time" : "the browser run failed (log above)");

  // What the page did, as the server sees it.
  auto queued = as_set(ids_of(queue("?limit=1000")));
  EXPECT_FALSE(queued.count(resolve)) << resolve;
  EXPECT_FALSE(queued.count(cancel)) << cancel;
  EXPECT_TRUE(queued.count(retry)) << retry;
  EXPECT_EQ(read_booking(*client_, resolve).state, "booked");
  EXPECT_EQ(Json::parse(client_->get("/v1/shipments/" + cancel).body).str_or_empty("/status"), "cancelled");
  EXPECT_EQ(client_->get("/v1/orders/CQ-NEW-1").status, 200);
}

}  // namespace
}  // namespace waybill::itest
