// The admin CLI without a server: base URLs, exit codes, where settings come from, the
// request behind each command, and the tables drawn from the API's JSON.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "waybill/cli/http.hpp"
#include "waybill/cli/render.hpp"
#include "waybill/cli/requests.hpp"
#include "waybill/cli/settings.hpp"

namespace waybill::cli {
namespace {

TEST(CliUrl, ParsesHostPortAndPrefix) {
  auto e = parse_base_url("http://127.0.0.1:8080");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 8080);
  EXPECT_EQ(e->path_prefix, "");

  e = parse_base_url("http://waybill.internal/api/");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "waybill.internal");
  EXPECT_EQ(e->port, 80);
  EXPECT_EQ(e->path_prefix, "/api");

  e = parse_base_url("https://waybill.example.com");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->port, 443);

  e = parse_base_url("http://[::1]:9000");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 9000);
}

TEST(CliUrl, RefusesWhatItCannotUse) {
  for (const char* bad : {"127.0.0.1:8080", "ftp://x", "http://", "http://:80", "http://h:0", "http://h:70000",
                          "http://h:80x", "http://user:pw@h", "http://h/?q=1", "http://[::1"}) {
    auto e = parse_base_url(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.failure().code, ExitCode::usage) << bad;
  }
}

TEST(CliExitCodes, FollowTheDocumentedTable) {
  EXPECT_EQ(exit_code_for_http_status(200), ExitCode::ok);
  EXPECT_EQ(exit_code_for_http_status(202), ExitCode::ok);
  EXPECT_EQ(exit_code_for_http_status(404), ExitCode::not_found);
  EXPECT_EQ(exit_code_for_http_status(400), ExitCode::refused);
  EXPECT_EQ(exit_code_for_http_status(409), ExitCode::refused);
  EXPECT_EQ(exit_code_for_http_status(422), ExitCode::refused);
  EXPECT_EQ(exit_code_for_http_status(429), ExitCode::refused);
  EXPECT_EQ(exit_code_for_http_status(401), ExitCode::auth);
  EXPECT_EQ(exit_code_for_http_status(403), ExitCode::auth);
  EXPECT_EQ(exit_code_for_http_status(500), ExitCode::unavailable);
  EXPECT_EQ(exit_code_for_http_status(503), ExitCode::unavailable);
  EXPECT_EQ(exit_code_for_http_status(302), ExitCode::unavailable);  // a proxy's redirect, not the API
  EXPECT_EQ(static_cast<int>(ExitCode::usage), 1);
  EXPECT_EQ(static_cast<int>(ExitCode::not_found), 2);
  EXPECT_EQ(static_cast<int>(ExitCode::refused), 3);
  EXPECT_EQ(static_cast<int>(ExitCode::auth), 4);
  EXPECT_EQ(static_cast<int>(ExitCode::unavailable), 5);
}

TEST(CliRequests, MapCommandsOntoRoutes) {
  EXPECT_EQ(requests::get_order("SO 1/2").target, "/v1/orders/SO%201%2F2");
  EXPECT_EQ(requests::get_shipment("SO-1-1").target, "/v1/shipments/SO-1-1");
  EXPECT_EQ(requests::trace("SO-1").target, "/v1/trace/SO-1");
  EXPECT_EQ(requests::list_exceptions({}).target, "/v1/exceptions");
  EXPECT_EQ(requests::list_exceptions({"ups", "US", "bad_postal_code", "", 5}).target,
            "/v1/exceptions?carrier=ups&region=US&reason=bad_postal_code&limit=5");
  EXPECT_EQ(requests::list_exceptions({"", "", "", "SO-9-1", 0}).target, "/v1/exceptions?after=SO-9-1");
  EXPECT_EQ(requests::list_disputes({"open", "", "overbilled", "", 0}).target, "/v1/disputes?state=open&outcome=overbilled");
  EXPECT_EQ(requests::list_subscriptions().target, "/v1/subscriptions");
  EXPECT_EQ(requests::list_carriers().target, "/v1/carriers");

  auto retry = requests::retry_exception("SO-2-1", "parcelco", "GND");
  EXPECT_EQ(retry.method, "POST");
  EXPECT_EQ(retry.target, "/v1/exceptions/SO-2-1/resolve");
  EXPECT_EQ(retry.body, R"({"action":"retry","carrier":"parcelco","service":"GND"})");
  EXPECT_EQ(requests::retry_exception("S", "", "").body, R"({"action":"retry"})");
  EXPECT_EQ(requests::cancel_exception("S").body, R"({"action":"cancel"})");

  auto replay = requests::replay_dead_letters("sub_1");
  EXPECT_EQ(replay.method, "POST");
  EXPECT_EQ(replay.target, "/v1/subscriptions/sub_1/dead-letters/replay");
}

TEST(CliRequests, DisputeDecisions) {
  using Kind = requests::DisputeDecision::Kind;
  auto accept = requests::decide_dispute("parcelco:INV-1:3", {Kind::accept, 0, ""});
  EXPECT_EQ(accept.target, "/v1/disputes/parcelco%3AINV-1%3A3/accept");
  EXPECT_EQ(accept.body, "{}");
  auto reject = requests::decide_dispute("parcelco:INV-1:3", {Kind::reject, 0, "no \"failed\" attempt"});
  EXPECT_EQ(reject.target, "/v1/disputes/parcelco%3AINV-1%3A3/reject");
  EXPECT_EQ(reject.body, R"({"note":"no \"failed\" attempt"})");
  auto resolve = requests::decide_dispute("parcelco:INV-1:3", {Kind::resolve, 1250, "agreed"});
  EXPECT_EQ(resolve.target, "/v1/disputes/parcelco%3AINV-1%3A3/resolve");
  EXPECT_EQ(resolve.body, R"({"amount_minor":1250,"note":"agreed"})");
}

class CliSettings : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("waybill-cli-unit-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / ".config/waybill");
    env_["HOME"] = dir_.string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Getenv getenv() {
    return [this](const char* name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  std::string write(const std::string& name, const std::string& text) {
    auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0600);
    return path;
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(CliSettings, DefaultsWithoutAnyFile) {
  auto s = resolve_settings({}, getenv());
  ASSERT_TRUE(s.ok()) << s.failure().message;
  EXPECT_EQ(s->url, "http://127.0.0.1:8080");
  EXPECT_EQ(s->api_key, "");
  EXPECT_EQ(s->config_path, "");
}

TEST_F(CliSettings, PrecedenceFlagThenEnvironmentThenFile) {
  write(".config/waybill/cli.yaml", "url: http://from-file:1\napi_key: file-key\n");
  auto s = resolve_settings({}, getenv());
  ASSERT_TRUE(s.ok()) << s.failure().message;
  EXPECT_EQ(s->url, "http://from-file:1");
  EXPECT_EQ(s->api_key, "file-key");

  EXPECT_EQ(s->ca_file, "");
  write(".config/waybill/cli.yaml", "url: http://from-file:1\napi_key: file-key\nca_file: /etc/ssl/waybill.pem\n");
  EXPECT_EQ(resolve_settings({}, getenv())->ca_file, "/etc/ssl/waybill.pem");

  env_["WAYBILL_URL"] = "http://from-env:2";
  env_["WAYBILL_API_KEY"] = "env-key";
  s = resolve_settings({}, getenv());
  EXPECT_EQ(s->url, "http://from-env:2");
  EXPECT_EQ(s->api_key, "env-key");

  SettingsFlags flags;
  flags.url = "http://from-flag:3";
  s = resolve_settings(flags, getenv());
  EXPECT_EQ(s->url, "http://from-flag:3");
}

TEST_F(CliSettings, XdgConfigHomeAndExplicitFile) {
  std::filesystem::create_directories(dir_ / "xdg/waybill");
  write("xdg/waybill/cli.yaml", "url: http://xdg:1\n");
  env_["XDG_CONFIG_HOME"] = (dir_ / "xdg").string();
  EXPECT_EQ(resolve_settings({}, getenv())->url, "http://xdg:1");

  SettingsFlags flags;
  flags.config_path = write("other.yaml", "url: http://other:1\n");
  EXPECT_EQ(resolve_settings(flags, getenv())->url, "http://other:1");
  env_["WAYBILL_CONFIG"] = write("env.yaml", "url: http://env-config:1\n");
  EXPECT_EQ(resolve_settings({}, getenv())->url, "http://env-config:1");
}

TEST_F(CliSettings, BadFilesAreUsageErrorsNamingTheProblem) {
  SettingsFlags flags;
  flags.config_path = (dir_ / "absent.yaml").string();
  auto s = resolve_settings(flags, getenv());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.failure().code, ExitCode::usage);

  flags.config_path = write("unknown.yaml", "url: http://x:1\napi_token: k\n");
  s = resolve_settings(flags, getenv());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.failure().message.find("api_token"), std::string::npos) << s.failure().message;

  flags.config_path = write("list.yaml", "- url\n");
  EXPECT_FALSE(resolve_settings(flags, getenv()).ok());
  flags.config_path = write("nested.yaml", "url: {a: b}\n");
  EXPECT_FALSE(resolve_settings(flags, getenv()).ok());
  flags.config_path = write("broken.yaml", "url: [unclosed\n");
  EXPECT_FALSE(resolve_settings(flags, getenv()).ok());

  SettingsFlags timeout;
  timeout.timeout_ms = 0;
  EXPECT_FALSE(resolve_settings(timeout, getenv()).ok());
}

TEST(CliTable, PadsColumnsWithoutTrailingSpace) {
  Table t{{"ID", "STATUS"}, {{"SO-1", "delivered"}, {"SO-10000", "new\nline"}}};
  EXPECT_EQ(t.format(), "ID        STATUS\nSO-1      delivered\nSO-10000  new line\n");
  Table empty{{"A", "B"}, {}};
  EXPECT_EQ(empty.format(), "A  B\n");
}

TEST(CliRender, OrderAndShipment) {
  auto order = render_order(R"({"order_id":"SO-1","status":"shipped","service_level":"ground",
    "ship_to":{"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"62701","country":"US"},
    "lines":[{"sku":"SKU-1","qty":2},{"sku":"SKU-2","qty":1}],"packages":[{},{}],"shipments":["SO-1-1"]})");
  ASSERT_TRUE(order.ok());
  EXPECT_NE(order->find("order          SO-1\n"), std::string::npos) << *order;
  EXPECT_NE(order->find("Ada, 1 Main St, Springfield 62701 US"), std::string::npos) << *order;
  EXPECT_NE(order->find("SKU-1 x2, SKU-2 x1"), std::string::npos) << *order;
  EXPECT_NE(order->find("packages       2\n"), std::string::npos) << *order;
  EXPECT_EQ(order->find("status reason"), std::string::npos) << "absent fields are left out: " << *order;

  auto shipment = render_shipment(R"({"shipment_id":"SO-1-1","order_id":"SO-1","carrier":"parcelco","status":"in_transit",
    "tracking_numbers":["1Z1","1Z2"],"booking":{"state":"booked"},"rate":{"total":{"amount_minor":1400,"currency":"USD"}},
    "milestones":[{"event_time":"2026-11-28T08:00:00Z","status":"picked_up","raw_code":"PU","applied":true}]})");
  ASSERT_TRUE(shipment.ok());
  EXPECT_NE(shipment->find("1Z1, 1Z2"), std::string::npos) << *shipment;
  EXPECT_NE(shipment->find("1400 USD (minor units)"), std::string::npos) << *shipment;
  EXPECT_NE(shipment->find("EVENT TIME"), std::string::npos) << *shipment;
  EXPECT_NE(shipment->find("picked_up"), std::string::npos) << *shipment;
}

TEST(CliRender, ListsCountTheirRows) {
  auto ex = render_exceptions(R"({"exceptions":[{"shipment_id":"SO-2-1","reason":"bad_postal_code"}],"count":1})");
  ASSERT_TRUE(ex.ok());
  EXPECT_NE(ex->find("SO-2-1"), std::string::npos);
  EXPECT_NE(ex->find("1 exception\n"), std::string::npos) << *ex;
  EXPECT_EQ(ex->find("more:"), std::string::npos) << "no next page: " << *ex;
  auto paged = render_exceptions(R"({"exceptions":[],"count":0,"next_after":"SO-2-1"})");
  ASSERT_TRUE(paged.ok());
  EXPECT_NE(paged->find("more: --after SO-2-1"), std::string::npos) << *paged;

  auto disputes = render_disputes(R"({"disputes":[],"next_after":"parcelco:INV-1:7"})");
  ASSERT_TRUE(disputes.ok());
  EXPECT_NE(disputes->find("0 disputes\n"), std::string::npos) << *disputes;
  EXPECT_NE(disputes->find("more: --after parcelco:INV-1:7"), std::string::npos) << *disputes;
}

TEST(CliRender, CarrierHealthFromTheBreaker) {
  auto h = render_carrier_health(R"({"carriers":[
    {"name":"parcelco","breaker":"closed","queue_depth":0,"in_flight":1,"calls_ok":9,"calls_rejected":0,"calls_in_doubt":0,"calls_failed":1},
    {"name":"freightly","breaker":"open","queue_depth":4,"in_flight":0,"calls_ok":0,"calls_rejected":0,"calls_in_doubt":0,"calls_failed":0}],
    "booking_backlog":4})");
  ASSERT_TRUE(h.ok());
  EXPECT_NE(h->find("parcelco   ok"), std::string::npos) << *h;
  EXPECT_NE(h->find("10.0%"), std::string::npos) << *h;
  EXPECT_NE(h->find("freightly  down"), std::string::npos) << *h;
  EXPECT_EQ(*render_carrier_health(R"({"carriers":[],"booking_backlog":0})"), "no carriers configured: booking is off\n");
}

TEST(CliRender, NotJsonIsAServerFailure) {
  auto r = render_order("<html>proxy error</html>");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure().code, ExitCode::unavailable);
}

TEST(CliRender, ErrorsFromProblemDocuments) {
  EXPECT_EQ(describe_error(404, R"({"type":"x","title":"Not found","status":404,"detail":"order 'X' not found"})"),
            "404 Not found: order 'X' not found");
  EXPECT_EQ(describe_error(400, R"({"title":"Invalid request","status":400,"detail":"must be open","field":"state"})"),
            "400 Invalid request: must be open (field state)");
  EXPECT_EQ(describe_error(502, "Bad Gateway"), "502: Bad Gateway");
  EXPECT_EQ(describe_error(503, ""), "503");
}

TEST(CliRender, DisputeDecisionShowsTheDecidedLine) {
  const char* invoice = R"({"invoice_id":"parcelco:INV-1","currency":"USD","lines":[
    {"line":1,"outcome":"matched"},
    {"line":2,"outcome":"overbilled","dispute":{"state":"resolved","disputed_minor":300,"resolved_minor":250,
     "note":"agreed","resolved_by":"ops","resolved_at":"2026-12-02T10:00:00Z"}}]})";
  auto r = render_dispute_decision(invoice, "parcelco:INV-1:2");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r,
            "dispute   parcelco:INV-1:2\n"
            "state     resolved\n"
            "outcome   overbilled\n"
            "disputed  300 USD (minor units)\n"
            "paid      250 USD (minor units)\n"
            "note      agreed\n"
            "by        ops\n"
            "at        2026-12-02T10:00:00Z\n");
  EXPECT_FALSE(render_dispute_decision(invoice, "parcelco:INV-1:9").ok());
}

TEST(CliRender, ActionResults) {
  EXPECT_EQ(*render_action_result(R"({"replaying":3})"), "replaying 3 dead letters\n");
  EXPECT_EQ(*render_action_result(""), "done\n");
  auto r = render_action_result(R"({"shipment_id":"S","status":"cancelled","milestones":[]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "shipment_id  S\nstatus       cancelled\n");
}

}  // namespace
}  // namespace waybill::cli
