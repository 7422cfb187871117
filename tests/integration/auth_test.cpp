// API keys and scopes against the real waybilld: for every route group a missing key
// and an unknown key answer 401, a key with another scope 403 naming the scope the
// route needs, the right scope gets past authorization; the generated admin key of a
// server without keys; consignee data masked for keys without `pii`; correlation ids;
// and the optional TLS listener.
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "test_keys.hpp"
#include "tls_client.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;

// No carrier profiles: carrier routes answer from the API alone (unknown carrier).
const char* kConfig = "booking:\n  carriers_dir: \"\"\n";

const std::string kShipTo =
    R"({"name":"Johanna Doemeyer","street":"17 Quillfeather Lane","street2":"Flat 9","city":"Springfield",)"
    R"("postal_code":"62701","country":"US","phone":"+1 555 867 5309","email":"johanna.d@example.net"})";

std::string order_json(const std::string& id) {
  return R"({"order_id":")" + id + R"(","service_level":"ground","ship_to":)" + kShipTo +
         R"(,"lines":[{"sku":"SKU-1","qty":1}],"packages":[{"weight_kg":1.0}]})";
}

// One request of every route group, and the scope its table line names ("" = open).
struct Route {
  const char* method;
  const char* target;
  const char* scope;
};
const Route kRoutes[] = {
    {"GET", "/healthz", ""},
    {"GET", "/readyz", ""},
    {"GET", "/metrics", ""},
    {"GET", "/openapi.json", ""},
    {"POST", "/v1/orders", "orders:write"},
    {"GET", "/v1/orders/AUTH-1", "read"},
    {"PATCH", "/v1/orders/AUTH-1", "orders:write"},
    {"POST", "/v1/orders/AUTH-1/release", "orders:write"},
    {"POST", "/v1/orders/AUTH-1/allocate", "orders:write"},
    {"POST", "/v1/orders/AUTH-1/pack", "orders:write"},
    {"POST", "/v1/orders/AUTH-1/cancel", "orders:write"},
    {"POST", "/v1/sources/sap-like/orders", "orders:write"},
    {"GET", "/v1/trace/AUTH-1", "read"},
    {"POST", "/v1/shipments", "tracking:write"},
    {"GET", "/v1/shipments/AUTH-S", "read"},
    {"POST", "/v1/shipments/AUTH-S/void", "ops"},
    {"POST", "/v1/tracking", "tracking:write"},
    {"POST", "/v1/carriers/parcelco/webhook", "carrier:webhook"},
    {"GET", "/v1/carriers", "read"},
    {"GET", "/v1/manifests/parcelco", "read"},
    {"GET", "/v1/exceptions", "read"},
    {"POST", "/v1/exceptions/AUTH-S/resolve", "ops"},
    {"POST", "/v1/exports?date=2020-01-01", "ops"},
    {"GET", "/v1/events?after=0&limit=1", "read"},
    {"POST", "/v1/subscriptions", "admin"},
    {"GET", "/v1/subscriptions", "ops"},
    {"DELETE", "/v1/subscriptions/AUTH-SUB", "ops"},
    {"POST", "/v1/subscriptions/AUTH-SUB/disable", "ops"},
    {"POST", "/v1/subscriptions/AUTH-SUB/enable", "ops"},
    {"GET", "/v1/subscriptions/AUTH-SUB/dead-letters", "ops"},
    {"POST", "/v1/subscriptions/AUTH-SUB/dead-letters/replay", "ops"},
    {"POST", "/v1/invoices", "invoices:write"},
    {"GET", "/v1/invoices/parcelco:INV-1", "read"},
    {"GET", "/v1/disputes", "read"},
    {"POST", "/v1/disputes/parcelco:INV-1:1/accept", "ops"},
    {"POST", "/v1/disputes/parcelco:INV-1:1/reject", "ops"},
    {"POST", "/v1/disputes/parcelco:INV-1:1/resolve", "ops"},
    {"GET", "/v1/settlement/summary", "read"},
    {"GET", "/v1/cluster", "read"},
};

class Auth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerProcess::Options o;
    o.config_yaml = kConfig;
    server_ = new ServerProcess(o);
    ASSERT_TRUE(server_->start());
    HttpClient admin(server_->host(), server_->port());
    ASSERT_EQ(admin.post("/v1/orders", order_json("AUTH-1")).status, 201);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  HttpResult call(const Route& r, const std::string& key, const std::string& header = "Authorization") {
    HttpClient c(server_->host(), server_->port());
    c.set_api_key("");
    HttpHeaders h;
    if (!key.empty()) h.emplace_back(header, header == "Authorization" ? "Bearer " + key : key);
    std::string method = r.method;
    bool body = method == "POST" || method == "PATCH";
    if (body) h.emplace_back("Content-Type", "application/json");
    return c.request(method, r.target, body ? "{}" : "", h);
  }
  static ServerProcess* server_;
};
ServerProcess* Auth::server_ = nullptr;

::testing::AssertionResult IsAuthProblem(const HttpResult& r, int status, const std::string& scope) {
  if (r.status != status) return ::testing::AssertionFailure() << "expected " << status << ", got " << r.describe();
  if (r.media_type() != "application/problem+json")
    return ::testing::AssertionFailure() << "media type " << r.media_type();
  auto j = Json::parse(r.body);
  if (j.str_or_empty("/required_scope") != scope)
    return ::testing::AssertionFailure() << "required_scope is not " << scope << ": " << r.body;
  if (j.int64("/status") != status) return ::testing::AssertionFailure() << "status member: " << r.body;
  if (status == 401 && r.header("WWW-Authenticate").rfind("Bearer", 0) != 0)
    return ::testing::AssertionFailure() << "no Bearer challenge: " << r.header("WWW-Authenticate");
  return ::testing::AssertionSuccess();
}

TEST_F(Auth, EveryRouteGroupNeedsItsScope) {
  for (auto& r : kRoutes) {
    SCOPED_TRACE(std::string(r.method) + " " + r.target);
    std::string scope = r.scope;
    if (scope.empty()) {
      EXPECT_EQ(call(r, "").status, 200) << "open route";
      continue;
    }
    EXPECT_TRUE(IsAuthProblem(call(r, ""), 401, scope)) << "missing key";
    EXPECT_TRUE(IsAuthProblem(call(r, "not-a-key-of-ours"), 401, scope)) << "unknown key";
    EXPECT_TRUE(IsAuthProblem(call(r, "not-a-key-of-ours", "X-Api-Key"), 401, scope)) << "unknown X-Api-Key";
    // Under-scoped: a key with some other scope (admin excepted, it holds all).
    std::string other = scope == "read" ? "ops" : "read";
    EXPECT_TRUE(IsAuthProblem(call(r, scoped_key(other)), 403, scope)) << "key with " << other;
    for (auto& header : {"Authorization", "X-Api-Key"}) {
      auto right = call(r, scoped_key(scope), header);
      EXPECT_TRUE(right.answered()) << right.describe();
      EXPECT_NE(right.status, 401) << header << ": " << right.describe();
      EXPECT_NE(right.status, 403) << header << ": " << right.describe();
    }
    auto admin = call(r, kAdminKey);
    EXPECT_NE(admin.status, 401) << admin.describe();
    EXPECT_NE(admin.status, 403) << admin.describe();
  }
}

TEST_F(Auth, UnlistedRoutesAreClosedToAllButAdmin) {
  for (Route r : {Route{"GET", "/v1/not-a-route", ""}, Route{"DELETE", "/v1/orders/AUTH-1", ""},
                  Route{"POST", "/v1/orders/AUTH-1/ship", ""}}) {
    SCOPED_TRACE(std::string(r.method) + " " + r.target);
    EXPECT_TRUE(IsAuthProblem(call(r, ""), 401, "admin"));
    EXPECT_TRUE(IsAuthProblem(call(r, scoped_key("orders:write")), 403, "admin"));
    auto admin = call(r, kAdminKey);
    EXPECT_TRUE(admin.status == 404 || admin.status == 405) << admin.describe();
  }
}

// Read keys without `pii` see consignee data masked in orders and the trace (the event
// feed's notifications are masked the same way, see pii_test); `pii` (and admin) see
// it as stored.
TEST_F(Auth, ConsigneeDataIsMaskedWithoutPii) {
  HttpClient c(server_->host(), server_->port());
  const std::vector<std::string> raw = {"Johanna Doemeyer", "Quillfeather", "Flat 9", "867 5309", "555 867",
                                        "johanna.d@"};
  for (std::string target : {"/v1/orders/AUTH-1", "/v1/trace/AUTH-1"}) {
    SCOPED_TRACE(target);
    c.set_api_key(scoped_key("read"));
    auto masked = c.get(target);
    ASSERT_EQ(masked.status, 200) << masked.describe();
    ASSERT_TRUE(Json::parse(masked.body).ok()) << masked.body;
    for (auto& s : raw) EXPECT_EQ(masked.body.find(s), std::string::npos) << s << " in " << masked.body;
    EXPECT_NE(masked.body.find("J****** D*******"), std::string::npos) << masked.body;
    EXPECT_NE(masked.body.find("***@example.net"), std::string::npos) << masked.body;
    EXPECT_NE(masked.body.find("Springfield"), std::string::npos) << "the city stays readable";
    for (const char* key : {kReadPiiKey, kAdminKey}) {
      c.set_api_key(key);
      auto full = c.get(target);
      ASSERT_EQ(full.status, 200);
      EXPECT_NE(full.body.find("Johanna Doemeyer"), std::string::npos) << key;
      EXPECT_NE(full.body.find("johanna.d@example.net"), std::string::npos) << key;
    }
  }
}

TEST_F(Auth, RequestIdsAreEchoedOrGenerated) {
  HttpClient c(server_->host(), server_->port());
  auto given = c.request("GET", "/v1/orders/AUTH-1", "", {{"X-Request-Id", "req-auth-42"}});
  EXPECT_EQ(given.header("X-Request-Id"), "req-auth-42");
  auto correlation = c.request("GET", "/v1/orders/AUTH-1", "", {{"X-Correlation-Id", "corr-7"}});
  EXPECT_EQ(correlation.header("X-Request-Id"), "corr-7");
  auto a = c.get("/healthz"), b = c.get("/healthz");
  EXPECT_FALSE(a.header("X-Request-Id").empty());
  EXPECT_NE(a.header("X-Request-Id"), b.header("X-Request-Id"));
  // Not usable as an id (space, too long): a fresh one instead.
  auto odd = c.request("GET", "/healthz", "", {{"X-Request-Id", "has space"}});
  EXPECT_NE(odd.header("X-Request-Id"), "has space");
  EXPECT_FALSE(odd.header("X-Request-Id").empty());
  // Denials carry it too.
  c.set_api_key("");
  auto denied = c.request("GET", "/v1/orders/AUTH-1", "", {{"X-Request-Id", "req-denied"}});
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.header("X-Request-Id"), "req-denied");
}

// The default local run: no key configured, so waybilld generates an admin key once,
// keeps it in <data_dir>/admin.key (0600), logs the file and never the key.
TEST(AuthGeneratedKey, FirstStartWritesAnAdminKeyFileAndNeverLogsTheKey) {
  ServerProcess::Options o;
  o.config_yaml = kConfig;
  o.keys_yaml.clear();
  ServerProcess server(o);
  ASSERT_TRUE(server.start());
  std::string path = server.data_dir() + "/admin.key";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string key;
  std::ifstream(path) >> key;
  ASSERT_FALSE(key.empty());
  EXPECT_NE(server.log().find(path), std::string::npos) << "the log names the key file";
  EXPECT_EQ(server.log().find(key), std::string::npos) << "the key itself is logged";

  HttpClient c(server.host(), server.port());
  EXPECT_EQ(c.get("/v1/carriers").status, 401) << "the test admin key is not configured here";
  c.set_api_key(key);
  EXPECT_EQ(c.get("/v1/carriers").status, 200);
  c.set_api_key("");
  EXPECT_EQ(c.get("/metrics").status, 200) << "scraping needs no key";

  server.kill();
  ASSERT_TRUE(server.restart());
  std::string again;
  std::ifstream(path) >> again;
  EXPECT_EQ(again, key) << "a restart keeps the key";
  HttpClient c2(server.host(), server.port());
  c2.set_api_key(key);
  EXPECT_EQ(c2.get("/v1/carriers").status, 200);
  EXPECT_EQ(server.log().find(key), std::string::npos);
}

// TLS on the listener, with a self-signed certificate made by the openssl tool.
TEST(AuthTls, ListenerSpeaksTlsWithTheConfiguredCertificate) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl binary";
  char tmpl[] = "/tmp/waybill-tls-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, cert = dir + "/cert.pem", key = dir + "/key.pem";
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
                    "subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  ServerProcess::Options o;
  o.config_yaml = std::string(kConfig) + "http:\n  tls:\n    cert_file: " + cert + "\n    key_file: " + key + "\n";
  o.tls_ca_file = cert;
  ServerProcess server(o);
  ASSERT_TRUE(server.start());
  EXPECT_NE(server.log().find("ready on https://"), std::string::npos);

  auto health = tls_request(server.host(), server.port(), cert, "GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health.describe();
  auto denied = tls_request(server.host(), server.port(), cert, "GET", "/v1/carriers");
  EXPECT_EQ(denied.status, 401) << denied.describe();
  auto allowed = tls_request(server.host(), server.port(), cert, "GET", "/v1/carriers",
                             {{"Authorization", std::string("Bearer ") + kAdminKey}});
  EXPECT_EQ(allowed.status, 200) << allowed.describe();
  // Plain HTTP to the TLS port gets no HTTP answer.
  HttpClient plain(server.host(), server.port(), 3s);
  EXPECT_FALSE(plain.get("/healthz").answered());
  EXPECT_EQ(tls_request(server.host(), server.port(), cert, "GET", "/healthz").status, 200) << "still serving";
  server.terminate();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace waybill::itest
