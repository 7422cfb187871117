// The admin CLI (`waybill`) as an operator runs it: the real binary against the real
// waybilld on a loopback port. Checks the tables, --json, the documented exit codes and
// where the API key comes from (environment, config file), the latter against a small
// HTTP listener that records the Authorization header it receives.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "child_process.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "test_keys.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;

// Runs the CLI with `args`, output captured, bounded in time.
CommandRun run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), WAYBILL_CLI_PATH);
  return run_command(std::move(args), 30s);
}

// A port nobody listens on: bound, then closed, so the kernel refuses connections.
uint16_t unused_port() {
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// Answers every request with 200 {"subscriptions":[]} and records the Authorization
// header of each, so the key plumbing is checked without a server that enforces keys.
// With a TLS context it speaks https only.
class HeaderRecorder {
 public:
  explicit HeaderRecorder(boost::asio::ssl::context* tls = nullptr)
      : tls_(tls), acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~HeaderRecorder() {
    stopping_ = true;
    boost::system::error_code ec;
    // Wake the blocking accept with one last connection.
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket s(ioc);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port()}, ec);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> authorizations() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

 private:
  void serve() {
    namespace http = boost::beast::http;
    while (!stopping_) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) continue;
      if (!tls_) {
        answer(socket);
        continue;
      }
      boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(std::move(socket), *tls_);
      stream.handshake(boost::asio::ssl::stream_base::server, ec);
      if (ec) continue;  // e.g. the client refused the certificate
      answer(stream);
    }
  }

  template <class Stream>
  void answer(Stream& stream) {
    namespace http = boost::beast::http;
    boost::system::error_code ec;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(stream, buffer, req, ec);
    if (ec) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      seen_.emplace_back(req[http::field::authorization]);
    }
    http::response<http::string_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = R"({"subscriptions":[]})";
    res.prepare_payload();
    http::write(stream, res, ec);
  }

  boost::asio::ssl::context* tls_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<std::string> seen_;
};

const char* const kOrder = R"({"order_id":"CLI-1","service_level":"ground",
  "ship_to":{"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"62701","country":"US"},
  "lines":[{"sku":"SKU-1","qty":2}]})";

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The operator's own settings must not leak into the test: no default config file
    // (HOME points at an empty directory), no URL or key from the environment.
    char home_template[] = "/tmp/waybill-cli-home-XXXXXX";
    home_ = mkdtemp(home_template);
    setenv("HOME", home_.c_str(), 1);
    for (const char* v : {"XDG_CONFIG_HOME", "WAYBILL_URL", "WAYBILL_API_KEY", "WAYBILL_CONFIG"}) unsetenv(v);
    server_ = new ServerProcess();
    ASSERT_TRUE(server_->start());
    // The test servers are configured with the test admin key (test_keys.hpp).
    server_key_ = kAdminKey;
    HttpHeaders auth;
    if (!server_key_.empty()) auth.emplace_back("Authorization", "Bearer " + server_key_);
    HttpClient http(server_->host(), server_->port());
    auto created = http.post("/v1/orders", kOrder, auth);
    ASSERT_EQ(created.status, 201) << created.describe();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    std::filesystem::remove_all(home_);
  }
  static std::string url() { return server_->base_url(); }
  // The CLI against the real server, with its key when it has one.
  static CommandRun run_server_cli(std::vector<std::string> args) {
    if (!server_key_.empty()) setenv("WAYBILL_API_KEY", server_key_.c_str(), 1);
    auto r = run_cli(std::move(args));
    unsetenv("WAYBILL_API_KEY");
    return r;
  }

  static inline ServerProcess* server_ = nullptr;
  static inline std::string home_, server_key_;
};

TEST_F(CliTest, OrdersGetPrintsATableWithTheOrder) {
  auto r = run_server_cli({"--url", url(), "orders", "get", "CLI-1"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("CLI-1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("validated"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SKU-1 x2"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(CliTest, JsonPrintsTheServersAnswer) {
  auto r = run_server_cli({"orders", "get", "CLI-1", "--json", "--url", url()});  // options after the command too
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto j = Json::parse(r.out);
  ASSERT_TRUE(j.ok()) << j.error() << "\n" << r.out;
  EXPECT_EQ(j.str_or_empty("/order_id"), "CLI-1");
  EXPECT_EQ(j.str_or_empty("/status"), "validated");
}

TEST_F(CliTest, UrlFromTheEnvironment) {
  setenv("WAYBILL_URL", url().c_str(), 1);
  auto r = run_server_cli({"trace", "CLI-1"});
  unsetenv("WAYBILL_URL");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("order.validated"), std::string::npos) << r.out;
}

TEST_F(CliTest, UnknownOrderExitsTwo) {
  auto r = run_server_cli({"--url", url(), "orders", "get", "NO-SUCH-ORDER"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("404"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  // With --json the problem document is printed for scripts, and the code is the same.
  auto j = run_server_cli({"--url", url(), "--json", "shipments", "get", "NO-SUCH-SHIPMENT"});
  EXPECT_EQ(j.exit_code, 2) << j.describe();
  EXPECT_EQ(Json::parse(j.out).int64("/status"), 404) << j.out;
}

TEST_F(CliTest, RefusedRequestExitsThree) {
  // A filter value the server does not know: 400, named in the message.
  auto r = run_server_cli({"--url", url(), "disputes", "list", "--state", "bogus"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_NE(r.err.find("state"), std::string::npos) << r.err;
}

TEST_F(CliTest, NobodyListeningExitsFive) {
  auto r = run_cli({"--url", "http://127.0.0.1:" + std::to_string(unused_port()), "orders", "get", "CLI-1"});
  EXPECT_EQ(r.exit_code, 5) << r.describe();
  EXPECT_NE(r.err.find("cannot connect"), std::string::npos) << r.err;
}

TEST_F(CliTest, BadUsageExitsOne) {
  EXPECT_EQ(run_cli({}).exit_code, 1);
  EXPECT_EQ(run_cli({"orders"}).exit_code, 1);
  EXPECT_EQ(run_cli({"orders", "get"}).exit_code, 1);
  EXPECT_EQ(run_cli({"orders", "frobnicate", "X"}).exit_code, 1);
  EXPECT_EQ(run_cli({"disputes", "resolve", "parcelco:INV-1:1"}).exit_code, 1);  // no decision
  EXPECT_EQ(run_cli({"disputes", "resolve", "parcelco:INV-1:1", "--accept", "--reject"}).exit_code, 1);
  EXPECT_EQ(run_cli({"--url", "ftp://127.0.0.1:1", "carriers", "list"}).exit_code, 1);
  EXPECT_EQ(run_cli({"--url", "http://127.0.0.1:99999", "carriers", "list"}).exit_code, 1);
  EXPECT_EQ(run_cli({"--config", home_ + "/missing.yaml", "carriers", "list"}).exit_code, 1);
  auto help = run_cli({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("exceptions"), std::string::npos) << help.out;
}

TEST_F(CliTest, VersionNamesTheBuild) {
  auto r = run_cli({"--version"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.rfind("waybill ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("commit"), std::string::npos) << r.out;
}

TEST_F(CliTest, ListsAgainstTheRealServer) {
  for (std::vector<std::string> cmd : {std::vector<std::string>{"exceptions", "list", "--reason", "bad_postal_code"},
                                       {"disputes", "list"},
                                       {"subscriptions", "list"},
                                       {"carriers", "list"},
                                       {"carriers", "health"}}) {
    cmd.insert(cmd.begin(), {"--url", url()});
    auto r = run_server_cli(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[2] << " " << cmd[3] << ": " << r.describe();
    EXPECT_FALSE(r.out.empty()) << cmd[2];
  }
  auto missing = run_server_cli({"--url", url(), "exceptions", "cancel", "NO-SUCH-SHIPMENT"});
  EXPECT_EQ(missing.exit_code, 2) << missing.describe();
}

TEST_F(CliTest, ApiKeyIsSentAsBearerFromEnvironmentOrConfigFile) {
  HeaderRecorder recorder;
  std::string recorder_url = "http://127.0.0.1:" + std::to_string(recorder.port());

  setenv("WAYBILL_API_KEY", "key-from-env", 1);
  auto from_env = run_cli({"--url", recorder_url, "subscriptions", "list"});
  unsetenv("WAYBILL_API_KEY");
  EXPECT_EQ(from_env.exit_code, 0) << from_env.describe();

  std::string config = home_ + "/cli.yaml";
  std::ofstream(config) << "url: " << recorder_url << "\napi_key: key-from-file\n";
  ::chmod(config.c_str(), 0600);
  auto from_file = run_cli({"--config", config, "subscriptions", "list"});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.describe();

  // The default location, ~/.config/waybill/cli.yaml.
  std::filesystem::create_directories(home_ + "/.config/waybill");
  std::filesystem::copy_file(config, home_ + "/.config/waybill/cli.yaml");
  auto from_default = run_cli({"subscriptions", "list"});
  EXPECT_EQ(from_default.exit_code, 0) << from_default.describe();
  std::filesystem::remove_all(home_ + "/.config");

  auto seen = recorder.authorizations();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "Bearer key-from-env");
  EXPECT_EQ(seen[1], "Bearer key-from-file");
  EXPECT_EQ(seen[2], "Bearer key-from-file");

  std::ofstream(config) << "url: " << recorder_url << "\ncolour: blue\n";
  auto unknown_key = run_cli({"--config", config, "subscriptions", "list"});
  EXPECT_EQ(unknown_key.exit_code, 1) << unknown_key.describe();
  EXPECT_NE(unknown_key.err.find("colour"), std::string::npos) << unknown_key.err;
}

TEST_F(CliTest, HttpsVerifiesTheServerCertificate) {
  // A self-signed certificate for 127.0.0.1, made with the openssl tool.
  std::string cert = home_ + "/cert.pem", key = home_ + "/key.pem";
  std::string make = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
                     " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert +
                     " >/dev/null 2>&1";
  ASSERT_EQ(std::system(make.c_str()), 0) << make;
  boost::asio::ssl::context tls(boost::asio::ssl::context::tls_server);
  tls.use_certificate_chain_file(cert);
  tls.use_private_key_file(key, boost::asio::ssl::context::pem);
  HeaderRecorder recorder(&tls);
  std::string https_url = "https://127.0.0.1:" + std::to_string(recorder.port());

  setenv("WAYBILL_API_KEY", "key-over-tls", 1);
  auto trusted = run_cli({"--url", https_url, "--cacert", cert, "subscriptions", "list"});
  auto untrusted = run_cli({"--url", https_url, "subscriptions", "list"});  // the system CAs do not know it
  auto plain = run_cli({"--url", "http://127.0.0.1:" + std::to_string(recorder.port()), "subscriptions", "list"});
  unsetenv("WAYBILL_API_KEY");

  EXPECT_EQ(trusted.exit_code, 0) << trusted.describe();
  EXPECT_NE(trusted.out.find("0 subscriptions"), std::string::npos) << trusted.out;
  EXPECT_EQ(untrusted.exit_code, 5) << untrusted.describe();
  EXPECT_NE(untrusted.err.find("TLS handshake"), std::string::npos) << untrusted.err;
  EXPECT_EQ(plain.exit_code, 5) << plain.describe();
  auto seen = recorder.authorizations();
  ASSERT_EQ(seen.size(), 1u) << "only the verified connection carried the request";
  EXPECT_EQ(seen[0], "Bearer key-over-tls");
}

}  // namespace
}  // namespace waybill::itest
