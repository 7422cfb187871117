// Hostile input against the real waybilld: malformed and truncated JSON, deep nesting,
// huge numbers, invalid UTF-8, duplicate keys, wrong types, oversized bodies and heads,
// slow clients, and floods beyond the server's bounds. Every case must get a clear 4xx
// (application/problem+json naming the field where there is one) or a closed
// connection; afterwards the server is still healthy and nothing was persisted: the
// order the bad request named reads 404 and the outbox (GET /v1/events) has no new
// events.
//
// waybilld has no per-client request rate limit; "floods" are the bounds it has:
// http.max_connections, the NDJSON line cap, the body limit under a burst of bad
// requests, and booking.max_backlog (429 with Retry-After).
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "http_client.hpp"
#include "json.hpp"
#include "outbox.hpp"
#include "raw_connection.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"

namespace waybill::itest {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kReadTimeoutMs = 1000;  // http.read_timeout_ms and idle_timeout_ms below
constexpr int kMaxBodyBytes = 65536;
constexpr int kMaxHeaderBytes = 4096;
constexpr int kMaxConnections = 24;

std::string server_config() {
  return "booking:\n  carriers_dir: \"\"\n"
         "http:\n"
         "  read_timeout_ms: " + std::to_string(kReadTimeoutMs) + "\n"
         "  idle_timeout_ms: " + std::to_string(kReadTimeoutMs) + "\n"
         "  max_body_bytes: " + std::to_string(kMaxBodyBytes) + "\n"
         "  max_header_bytes: " + std::to_string(kMaxHeaderBytes) + "\n"
         "  max_connections: " + std::to_string(kMaxConnections) + "\n"
         "  max_ndjson_lines: 50\n";
}

// ---- bodies -----------------------------------------------------------------------

const std::string kShipTo =
    R"({"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"62701","country":"US"})";
const std::string kLines = R"([{"sku":"SKU-1","qty":1}])";
const std::string kPackages = R"([{"weight_kg":1.5,"length_cm":30,"width_cm":20,"height_cm":10}])";

struct Order {
  std::string id, ship_to = kShipTo, lines = kLines, packages = kPackages, extra;
  std::string json() const {
    return "{\"order_id\":" + quote(id) + ",\"service_level\":\"ground\",\"ship_to\":" + ship_to +
           ",\"lines\":" + lines + ",\"packages\":" + packages + (extra.empty() ? "" : "," + extra) + "}";
  }
};

std::string milestone(const std::string& extra = "", const std::string& sequence = "1") {
  return R"({"carrier":"ups","tracking_number":"1ZHOSTILE","status":"in_transit","raw_code":"IT",)"
         R"("event_time":"2026-03-01T10:00:00Z","sequence":)" + sequence + (extra.empty() ? "" : "," + extra) + "}";
}

// Polls `probe` until true or 5 s pass.
bool eventually(const std::function<bool()>& probe) {
  const auto deadline = Clock::now() + 5s;
  while (Clock::now() < deadline) {
    if (probe()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// ---- assertions -------------------------------------------------------------------

::testing::AssertionResult IsProblem(const HttpResult& res, int status, const std::string& field) {
  if (!res.answered()) return ::testing::AssertionFailure() << res.describe();
  if (res.status != status)
    return ::testing::AssertionFailure() << "status " << res.status << ", expected " << status << ": "
                                         << res.describe();
  if (res.media_type() != "application/problem+json")
    return ::testing::AssertionFailure() << "Content-Type '" << res.header("Content-Type") << "': " << res.describe();
  auto j = Json::parse(res.body);
  if (!j.ok()) return ::testing::AssertionFailure() << "problem is not JSON (" << j.error() << "): " << res.body;
  if (j.int64("/status") != status || j.str_or_empty("/detail").empty())
    return ::testing::AssertionFailure() << "problem without status/detail: " << res.body;
  if (!field.empty() && j.str("/field") != field)
    return ::testing::AssertionFailure() << "problem field '" << j.str_or_empty("/field") << "', expected '" << field
                                         << "': " << res.body;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsRawProblem(const RawResponse& res, int status, const std::string& field) {
  if (res.status != status)
    return ::testing::AssertionFailure() << "status " << res.status << ", expected " << status
                                         << (res.closed ? " (connection closed)" : "") << ": " << res.head;
  HttpResult r;
  r.status = res.status;
  r.body = res.body;
  r.headers = {{"Content-Type", res.header("Content-Type")}};
  return IsProblem(r, status, field);
}

// One hostile request: POST `target` with `body`; expects `status` and a problem naming
// `field` (any field when empty); `order_id`, when set, must not exist afterwards.
struct Case {
  std::string name, target, body;
  int status = 400;
  std::string field;
  std::string order_id;
  std::string content_type = "application/json";
};

Case order_case(const std::string& name, const std::string& field, const std::function<void(Order&)>& mutate,
                int status = 400) {
  Order o{"H-" + name};
  mutate(o);
  return {name, "/v1/orders", o.json(), status, field, o.id};
}

Case raw_order_case(const std::string& name, const std::string& field, const std::string& body) {
  return {name, "/v1/orders", body, 400, field, "H-" + name};
}

// ---- fixture: one server for the suite ---------------------------------------------

class HostileInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerProcess::Options o;
    o.config_yaml = server_config();
    server_ = std::make_unique<ServerProcess>(o);
    ASSERT_TRUE(server_->start());
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(server_ && server_->running()) << "the suite's server did not start";
    client_ = std::make_unique<HttpClient>(server_->host(), server_->port());
    events_before_ = read_feed(*client_).size();
  }

  // After every test: still healthy, and the outbox did not grow.
  void TearDown() override {
    HttpClient fresh(server_->host(), server_->port());
    auto health = fresh.get("/healthz");
    EXPECT_EQ(health.status, 200) << "server unhealthy after the test: " << health.describe();
    EXPECT_EQ(read_feed(fresh).size(), events_before_) << "hostile input produced outbox events";
    if (HasFailure()) server_->print_log(std::cout);
  }

  void run(const std::vector<Case>& cases) {
    for (auto& c : cases) {
      SCOPED_TRACE(c.name);
      auto res = client_->post(c.target, c.body, {{"Content-Type", c.content_type}});
      EXPECT_TRUE(IsProblem(res, c.status, c.field)) << c.name << ": " << c.body.substr(0, 300);
      if (!res.answered()) client_->close();
      if (!c.order_id.empty()) {
        auto get = client_->get("/v1/orders/" + c.order_id);
        EXPECT_EQ(get.status, 404) << c.name << ": the rejected order was stored: " << get.describe();
      }
      EXPECT_EQ(client_->get("/healthz").status, 200) << c.name;
    }
  }

  // Status of GET `target` on a new connection (the suite's keep-alive connection may
  // have been closed by the idle timeout meanwhile).
  int fresh_status(const std::string& target) const {
    HttpClient c(server_->host(), server_->port());
    return c.get(target).status;
  }

  std::string raw_request(const std::string& method, const std::string& target, const std::string& body,
                          const std::string& extra_headers = "") const {
    return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
           "Authorization: Bearer " + kAdminKey + "\r\n" + extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  static std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
  size_t events_before_ = 0;
};

std::unique_ptr<ServerProcess> HostileInput::server_;

// ---- malformed and truncated JSON -------------------------------------------------

TEST_F(HostileInput, MalformedAndTruncatedJson) {
  const std::string full = Order{"H-truncated"}.json();
  std::vector<Case> cases = {
      raw_order_case("truncated_object", "body", full.substr(0, full.size() / 2)),
      raw_order_case("truncated_in_string", "body", R"({"order_id":"H-truncated_in_string","service_level":"gro)"),
      raw_order_case("truncated_after_colon", "body", R"({"order_id":"H-truncated_after_colon","lines":)"),
      raw_order_case("trailing_garbage", "body", Order{"H-trailing_garbage"}.json() + " x"),
      raw_order_case("two_documents", "body", Order{"H-two_documents"}.json() + Order{"H-two_documents"}.json()),
      raw_order_case("single_quotes", "body", R"({'order_id':'H-single_quotes'})"),
      raw_order_case("unquoted_key", "body", R"({order_id:"H-unquoted_key"})"),
      raw_order_case("trailing_comma", "body", Order{"H-trailing_comma"}.json().insert(Order{"H-trailing_comma"}.json().size() - 1, ",")),
      raw_order_case("comment", "body", "/* hi */" + Order{"H-comment"}.json()),
      raw_order_case("nan_literal", "body", Order{"H-nan_literal", kShipTo, R"([{"sku":"S","qty":NaN}])"}.json()),
      raw_order_case("nul_byte", "body", std::string(R"({"order_id":"H-nul_byte")") + '\0' + "}"),
      raw_order_case("empty", "body", ""),
      raw_order_case("whitespace_only", "body", " \n\t "),
      raw_order_case("null", "body", "null"),
      raw_order_case("array", "body", R"(["H-array"])"),
      raw_order_case("string", "body", R"("H-string")"),
      {"tracking_truncated", "/v1/tracking", milestone().substr(0, 40), 400, "body"},
      {"shipment_truncated", "/v1/shipments", R"({"shipment_id":"H-S1","order_id":)", 400, "body"},
      {"subscription_truncated", "/v1/subscriptions", R"({"url":"http://127.0.0.1:1/x")", 400, "body"},
  };
  run(cases);
}

// ---- deep nesting -----------------------------------------------------------------

TEST_F(HostileInput, DeepNesting) {
  auto nest = [](int depth) { return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']'); };
  std::string objects;
  for (int i = 0; i < 10000; ++i) objects += "{\"a\":";
  std::vector<Case> cases = {
      order_case("nested_40", "body", [&](Order& o) { o.extra = "\"references\":" + nest(40); }),
      order_case("nested_30000_arrays", "body", [&](Order& o) { o.extra = "\"references\":" + nest(30000); }),
      raw_order_case("nested_10000_objects_unclosed", "body", "{\"order_id\":\"H-nested_20000_objects_unclosed\",\"x\":" + objects),
      {"tracking_nested", "/v1/tracking", milestone("\"event_id\":" + nest(60)), 400, "body"},
      {"pack_nested", "/v1/orders/H-none/pack", "{\"packages\":" + nest(5000) + "}", 400, "body"},
  };
  run(cases);
}

// ---- huge and odd numbers ---------------------------------------------------------

TEST_F(HostileInput, HugeNumbers) {
  auto qty = [](const std::string& v) { return [v](Order& o) { o.lines = R"([{"sku":"S","qty":)" + v + "}]"; }; };
  auto weight = [](const std::string& v) { return [v](Order& o) { o.packages = R"([{"weight_kg":)" + v + "}]"; }; };
  std::vector<Case> cases = {
      order_case("qty_1e400", "body", qty("1e400")),
      order_case("qty_bigint", "body", qty("123456789012345678901234567890")),
      order_case("qty_int64_max", "lines[0].qty", qty("9223372036854775807")),
      order_case("qty_uint64_max", "lines[0].qty", qty("18446744073709551615")),
      order_case("qty_negative_huge", "lines[0].qty", qty("-9223372036854775808")),
      order_case("qty_fraction", "lines[0].qty", qty("1.5")),
      order_case("qty_exponent", "lines[0].qty", qty("1e3")),
      order_case("weight_1e308", "packages[0].weight_kg", weight("1e308")),
      order_case("weight_denormal", "packages[0].weight_kg", weight("4.9e-324")),
      order_case("weight_negative_zero", "packages[0].weight_kg", weight("-0.0")),
      order_case("weight_1000_digits", "body", weight(std::string(1000, '9'))),
      {"sequence_1e30", "/v1/tracking", milestone("", "1e30"), 400, "sequence"},
      {"sequence_bigint", "/v1/tracking", milestone("", "99999999999999999999999"), 400, "body"},
      {"sequence_negative", "/v1/tracking", milestone("", "-1"), 400, "sequence"},
  };
  run(cases);
}

// ---- invalid UTF-8 ----------------------------------------------------------------

TEST_F(HostileInput, InvalidUtf8) {
  auto name = [](const std::string& v) {
    return [v](Order& o) {
      o.ship_to = "{\"name\":\"" + v + R"(","street":"1 Main St","city":"Springfield","postal_code":"62701","country":"US"})";
    };
  };
  std::vector<Case> cases = {
      order_case("byte_ff", "body", name("Ad\xFF")),
      order_case("overlong_slash", "body", name("\xC0\xAF")),
      order_case("utf8_surrogate", "body", name("\xED\xA0\x80")),
      order_case("truncated_sequence", "body", name("caf\xC3")),
      order_case("above_u10ffff", "body", name("\xF4\x90\x80\x80")),
      order_case("continuation_only", "body", name("\x80\x80")),
      order_case("escaped_lone_high_surrogate", "", name("\\ud800")),
      order_case("escaped_lone_low_surrogate", "", name("\\udc00x")),
      {"escaped_nul_in_id", "/v1/orders", Order{std::string("H-nul") + '\0'}.json(), 400, "order_id"},
      raw_order_case("invalid_in_key", "body", "{\"order_id\":\"H-invalid_in_key\",\"\xFF\":1}"),
      {"tracking_invalid", "/v1/tracking", milestone("\"event_id\":\"E\xFE\""), 400, "body"},
  };
  run(cases);
  // In the request target and in header values: a clear 4xx, never a 5xx or a crash,
  // and the answer is still valid JSON.
  for (std::string target : {"/v1/orders/%FF%FE", "/v1/orders/%C0%AF", "/v1/shipments/%ED%A0%80"}) {
    auto res = client_->get(target);
    EXPECT_GE(res.status, 400) << target << ": " << res.describe();
    EXPECT_LT(res.status, 500) << target << ": " << res.describe();
    EXPECT_TRUE(Json::parse(res.body).ok()) << target << " answered a body that is not JSON: " << res.body;
  }
  RawConnection raw;
  ASSERT_TRUE(raw.connect(server_->host(), server_->port()));
  ASSERT_TRUE(raw.send("GET /v1/orders/\xFF\xFE HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = raw.read_response(3s);
  EXPECT_TRUE(r.closed || (r.status >= 400 && r.status < 500)) << r.status << " " << r.head;
  auto keyed = client_->post("/v1/orders", Order{"H-bad-key"}.json(), {{"Idempotency-Key", "k\xFF\xFE"}});
  EXPECT_TRUE(IsProblem(keyed, 400, "Idempotency-Key"));
  EXPECT_EQ(client_->get("/v1/orders/H-bad-key").status, 404);
}

// ---- duplicate keys ---------------------------------------------------------------

TEST_F(HostileInput, DuplicateKeys) {
  std::vector<Case> cases = {
      raw_order_case("top_level", "order_id",
                     Order{"H-top_level"}.json().insert(1, R"("order_id":"H-top_level",)")),
      raw_order_case("top_level_other_value", "order_id",
                     Order{"H-top_level_other_value"}.json().insert(1, R"("order_id":"H-elsewhere",)")),
      order_case("nested_city", "ship_to.city", [](Order& o) { o.ship_to.insert(1, R"("city":"Elsewhere",)"); }),
      order_case("line_qty", "lines[0].qty", [](Order& o) { o.lines = R"([{"sku":"S","qty":1,"qty":1000}])"; }),
      order_case("package_weight", "packages[0].weight_kg",
                 [](Order& o) { o.packages = R"([{"weight_kg":1,"weight_kg":2}])"; }),
      order_case("reference", "references.erp",
                 [](Order& o) { o.extra = R"("references":{"erp":"A","erp":"B"})"; }),
      order_case("escaped_spelling", "order_id", [](Order& o) { o.extra = R"("order\u005fid":"H-other")"; }),
      {"milestone_status", "/v1/tracking", milestone(R"("status":"delivered")"), 400, "status"},
      {"shipment_order", "/v1/shipments",
       R"({"shipment_id":"H-S2","order_id":"A","order_id":"B","carrier":"ups","tracking_numbers":["1Z"]})", 400,
       "order_id"},
      {"subscription_url", "/v1/subscriptions",
       R"({"url":"http://127.0.0.1:1/a","url":"http://127.0.0.1:1/b","secrets":["0123456789abcdef0123"]})", 400,
       "url"},
  };
  run(cases);
  EXPECT_EQ(client_->get("/v1/orders/H-elsewhere").status, 404);
  EXPECT_EQ(client_->get("/v1/orders/H-other").status, 404);
  EXPECT_EQ(client_->get("/v1/shipments/H-S2").status, 404);
}

// ---- wrong types ------------------------------------------------------------------

TEST_F(HostileInput, WrongTypes) {
  std::vector<Case> cases = {
      raw_order_case("order_id_number", "order_id", R"({"order_id":42})"),
      raw_order_case("order_id_null", "order_id", R"({"order_id":null,"lines":[]})"),
      order_case("lines_object", "lines", [](Order& o) { o.lines = R"({"sku":"S","qty":1})"; }),
      order_case("line_not_object", "lines[0]", [](Order& o) { o.lines = R"(["S"])"; }),
      order_case("qty_string", "lines[0].qty", [](Order& o) { o.lines = R"([{"sku":"S","qty":"2"}])"; }),
      order_case("qty_bool", "lines[0].qty", [](Order& o) { o.lines = R"([{"sku":"S","qty":true}])"; }),
      order_case("sku_number", "lines[0].sku", [](Order& o) { o.lines = R"([{"sku":7,"qty":1}])"; }),
      order_case("packages_string", "packages", [](Order& o) { o.packages = R"("big")"; }),
      order_case("hazmat_string", "packages[0].hazmat",
                 [](Order& o) { o.packages = R"([{"weight_kg":1,"hazmat":"yes"}])"; }),
      order_case("ship_to_array", "ship_to", [](Order& o) { o.ship_to = "[]"; }),
      order_case("postal_code_number", "ship_to.postal_code", [](Order& o) {
        o.ship_to = R"({"name":"A","street":"S","city":"C","postal_code":62701,"country":"US"})";
      }),
      order_case("references_array", "references", [](Order& o) { o.extra = R"("references":["a"])"; }),
      {"milestone_sequence_string", "/v1/tracking", milestone("", "\"1\""), 400, "sequence"},
      {"milestone_time_number", "/v1/tracking",
       R"({"carrier":"ups","tracking_number":"1Z","status":"in_transit","raw_code":"IT","event_time":5,"sequence":1})",
       400, "event_time"},
      {"shipment_tracking_numbers_string", "/v1/shipments",
       R"({"shipment_id":"H-S3","order_id":"A","carrier":"ups","tracking_numbers":"1Z"})", 400, "tracking_numbers"},
      {"subscription_types_string", "/v1/subscriptions",
       R"({"url":"http://127.0.0.1:1/a","event_types":"order.*"})", 400, "event_types"},
      {"cancel_reason_number", "/v1/orders/H-none/cancel", R"({"reason":7})", 400, "reason"},
  };
  run(cases);
}

// ---- oversized bodies and heads ---------------------------------------------------

TEST_F(HostileInput, OversizedBodiesAndHeaders) {
  std::string long_name(2000, 'x');
  std::vector<Case> cases = {
      order_case("body_over_limit", "body",
                 [](Order& o) { o.extra = "\"references\":{\"note\":" + quote(std::string(kMaxBodyBytes, 'x')) + "}"; },
                 413),
      order_case("string_over_limit", "ship_to.name", [&](Order& o) {
        o.ship_to = "{\"name\":" + quote(long_name) + R"(,"street":"S","city":"C","postal_code":"1","country":"US"})";
      }),
      order_case("too_many_lines", "lines", [](Order& o) {
        o.lines = "[";
        for (int i = 0; i < 1001; ++i) o.lines += std::string(i ? "," : "") + R"({"sku":"S","qty":1})";
        o.lines += "]";
      }),
      order_case("too_many_packages", "packages", [](Order& o) {
        o.packages = "[";
        for (int i = 0; i < 101; ++i) o.packages += std::string(i ? "," : "") + R"({"weight_kg":1})";
        o.packages += "]";
      }),
  };
  run(cases);

  std::string ndjson;
  for (int i = 0; i < 51; ++i) ndjson += milestone() + "\n";
  EXPECT_TRUE(IsProblem(client_->post_ndjson("/v1/tracking", ndjson), 413, "body")) << "NDJSON beyond the line cap";

  auto raw_expect = [&](const std::string& name, const std::string& request, int status, const std::string& field) {
    SCOPED_TRACE(name);
    RawConnection c;
    ASSERT_TRUE(c.connect(server_->host(), server_->port()));
    c.send(request);  // the server may answer and close before it has read everything
    auto r = c.read_response(5s);
    EXPECT_TRUE(IsRawProblem(r, status, field)) << name;
    EXPECT_TRUE(c.wait_closed(3s)) << name << ": connection left open after the error";
  };
  // Declared far beyond the limit: refused from the head, without reading the body.
  raw_expect("content_length_huge",
             "POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{",
             413, "body");
  // Chunked: the limit counts what arrives.
  std::string chunked = "POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) chunked += "1000\r\n" + std::string(4096, ' ') + "\r\n";
  chunked += "0\r\n\r\n";
  raw_expect("chunked_over_limit", chunked, 413, "body");
  raw_expect("one_long_header",
             "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(kMaxHeaderBytes + 10, 'a') + "\r\n\r\n", 431,
             "headers");
  std::string many;
  for (int i = 0; i < 400; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  raw_expect("many_headers", "GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + "\r\n", 431, "headers");
  raw_expect("long_target", "GET /v1/orders/" + std::string(kMaxHeaderBytes + 10, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
             431, "headers");
  EXPECT_EQ(fresh_status("/v1/orders/H-body_over_limit"), 404);
}

// ---- malformed HTTP framing ---------------------------------------------------------

// Requests a parser must not guess about (conflicting lengths are how requests get
// smuggled past proxies): a 400 problem and a closed connection, or just the close.
TEST_F(HostileInput, MalformedHttpFraming) {
  const std::string order = Order{"H-framing"}.json();
  struct Raw {
    std::string name, bytes;
  };
  const std::vector<Raw> cases = {
      {"two_content_lengths", "POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: " +
                                  std::to_string(order.size()) + "\r\n\r\n" + order},
      {"length_and_chunked", "POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(order.size()) +
                                 "\r\nTransfer-Encoding: chunked\r\n\r\n" + order},
      {"bad_chunk_size", "POST /v1/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n" + order +
                             "\r\n0\r\n\r\n"},
      {"negative_length", "POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + order},
      {"header_without_colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n"},
      {"tls_client_hello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)},
      {"http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
      {"space_in_method", "GE T /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    RawConnection raw;
    ASSERT_TRUE(raw.connect(server_->host(), server_->port()));
    raw.send(c.bytes);
    auto r = raw.read_response(std::chrono::milliseconds(kReadTimeoutMs) + 2s);
    if (r.status != 0) {
      EXPECT_TRUE(IsRawProblem(r, 400, "")) << c.name;
      EXPECT_TRUE(raw.wait_closed(3s)) << c.name << ": connection left open after the error";
    } else {
      EXPECT_TRUE(r.closed) << c.name << ": neither answered nor closed";
    }
  }
  EXPECT_EQ(fresh_status("/v1/orders/H-framing"), 404) << "an order from a malformed request was stored";
}

// ---- NDJSON: hostile lines are rejected one by one ----------------------------------

// A bulk tracking request answers per line; each hostile line is "rejected" naming its
// field, the answer stays valid JSON whatever the line held, and nothing is stored.
TEST_F(HostileInput, HostileNdjsonLinesAreRejectedOneByOne) {
  struct Line {
    std::string text, field;
  };
  const std::vector<Line> lines = {
      {milestone().substr(0, 30), "body"},
      {milestone("\"event_id\":\"E\xFF\xFE\""), "body"},
      {milestone("\"status\":\"delivered\""), "status"},
      {milestone("\"location\":" + std::string(40, '[') + std::string(40, ']')), "body"},
      {milestone("", "1e400"), "body"},
      {milestone("", "\"7\""), "sequence"},
      {"[1,2,3]", "body"},
      {"\xFF\xFE\xFD", "body"},
  };
  std::string body;
  for (auto& l : lines) body += l.text + "\n";
  auto res = client_->post_ndjson("/v1/tracking", body);
  ASSERT_EQ(res.status, 200) << res.describe();
  auto j = Json::parse(res.body);
  ASSERT_TRUE(j.ok()) << "the answer is not valid JSON: " << res.body;
  auto results = j.items("/results");
  ASSERT_EQ(results.size(), lines.size()) << res.body;
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1) + ": " + results[i].dump());
    EXPECT_EQ(results[i].int64("/line"), static_cast<int64_t>(i + 1));
    EXPECT_EQ(results[i].str("/outcome"), "rejected");
    EXPECT_EQ(results[i].str("/field"), lines[i].field);
  }
}

// ---- slow clients -----------------------------------------------------------------

TEST_F(HostileInput, SlowClientsAreCut) {
  const auto limit = std::chrono::milliseconds(kReadTimeoutMs) + 1500ms;  // timeout plus scheduling slack
  // Connected, silent.
  {
    RawConnection c;
    ASSERT_TRUE(c.connect(server_->host(), server_->port()));
    auto t0 = Clock::now();
    EXPECT_TRUE(c.wait_closed(limit)) << "a silent connection was held open";
    EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(kReadTimeoutMs) - 100ms);
  }
  // Slowloris: a header byte every 100 ms never completes the head. The read timeout
  // bounds the whole request, not the gap between bytes.
  {
    RawConnection c;
    ASSERT_TRUE(c.connect(server_->host(), server_->port()));
    const std::string head = "POST /v1/orders HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a');
    auto t0 = Clock::now();
    bool closed = false;
    for (size_t i = 0; i < head.size() && Clock::now() - t0 < 3 * limit; ++i) {
      if (!c.send(head.substr(i, 1))) {
        closed = true;
        break;
      }
      if (c.wait_closed(100ms)) {
        closed = true;
        break;
      }
    }
    EXPECT_TRUE(closed) << "a trickling client was held open";
    EXPECT_LT(Clock::now() - t0, limit) << "closed only after " << (Clock::now() - t0).count() / 1000000 << " ms";
  }
  // Truncated body: the head promises more than ever arrives.
  {
    RawConnection c;
    ASSERT_TRUE(c.connect(server_->host(), server_->port()));
    std::string body = Order{"H-slow_body"}.json();
    ASSERT_TRUE(c.send("POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size() + 100) + "\r\n\r\n" + body));
    auto r = c.read_response(limit);
    EXPECT_TRUE(r.closed && r.status == 0) << "answered a truncated body: " << r.status << " " << r.head;
  }
  // Truncated body, then end of stream: a 400 or a close, never a stored order.
  {
    RawConnection c;
    ASSERT_TRUE(c.connect(server_->host(), server_->port()));
    std::string body = Order{"H-half_closed"}.json();
    ASSERT_TRUE(c.send("POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size() + 100) + "\r\n\r\n" + body));
    c.shutdown_write();
    auto r = c.read_response(limit);
    EXPECT_TRUE(r.closed || r.status == 400) << r.status << " " << r.head;
    if (r.status) EXPECT_TRUE(IsRawProblem(r, 400, ""));
  }
  // A keep-alive connection idle after its request is closed after the idle timeout.
  {
    RawConnection c;
    ASSERT_TRUE(c.connect(server_->host(), server_->port()));
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(c.read_response(3s).status, 200);
    EXPECT_TRUE(c.wait_closed(limit)) << "an idle keep-alive connection was held open";
  }
  // Many slow clients at once do not hold up others.
  {
    std::vector<std::unique_ptr<RawConnection>> slow;
    for (int i = 0; i < kMaxConnections / 2; ++i) {
      slow.push_back(std::make_unique<RawConnection>());
      ASSERT_TRUE(slow.back()->connect(server_->host(), server_->port()));
      slow.back()->send("POST /v1/orders HTTP/1.1\r\nHost: x\r\n");
    }
    HttpClient other(server_->host(), server_->port(), 2s);
    auto t0 = Clock::now();
    EXPECT_EQ(other.get("/healthz").status, 200);
    // Held up, it would wait for the slow ones' read timeout (1 s).
    EXPECT_LT(Clock::now() - t0, 800ms) << "slow clients held up a healthy one";
    for (auto& c : slow) EXPECT_TRUE(c->wait_closed(limit));
  }
  EXPECT_EQ(fresh_status("/v1/orders/H-slow_body"), 404);
  EXPECT_EQ(fresh_status("/v1/orders/H-half_closed"), 404);
}

// ---- floods -----------------------------------------------------------------------

TEST_F(HostileInput, FloodsBeyondTheBounds) {
  // Connections beyond http.max_connections are closed at once; the server keeps
  // serving and takes new connections once the flood is gone.
  {
    client_->close();
    std::vector<std::unique_ptr<RawConnection>> flood;
    for (int i = 0; i < kMaxConnections + 16; ++i) {
      flood.push_back(std::make_unique<RawConnection>());
      ASSERT_TRUE(flood.back()->connect(server_->host(), server_->port())) << i;  // the kernel accepts
    }
    // Well before the read timeout, so only the refused ones are closed.
    std::this_thread::sleep_for(200ms);
    size_t cut = 0;
    for (auto& c : flood) cut += c->wait_closed(20ms);  // 24 open ones: ~0.5 s in all
    EXPECT_GE(cut, 16u) << "connections beyond max_connections were kept";
    EXPECT_LT(cut, flood.size()) << "every connection was cut";
    flood.clear();
    EXPECT_TRUE(eventually([&] {
      HttpClient c(server_->host(), server_->port(), 1s);
      return c.get("/healthz").status == 200;
    }));
  }
  // A burst of bad requests on keep-alive connections: each answered 400, no crash.
  {
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        HttpClient c(server_->host(), server_->port(), 5s);
        for (int i = 0; i < 300; ++i) {
          auto res = c.post("/v1/orders", "{\"order_id\":\"H-flood-" + std::to_string(t) + "\",\"lines\":[");
          if (res.status != 400) ++wrong;
        }
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(wrong.load(), 0);
  }
  // Pipelined: many requests in one write, answered in order.
  {
    RawConnection c;
    ASSERT_TRUE(c.connect(server_->host(), server_->port()));
    std::string burst;
    for (int i = 0; i < 200; ++i) burst += raw_request("POST", "/v1/orders", "{\"order_id\":7}");
    ASSERT_TRUE(c.send(burst));
    int answered = 0;
    for (int i = 0; i < 200; ++i) {
      auto r = c.read_response(5s);
      if (r.status != 400) break;
      ++answered;
    }
    EXPECT_EQ(answered, 200);
  }
}

// The booking backlog: with carrier calls slower than packs arrive, packs beyond
// booking.max_backlog answer 429 with Retry-After and change nothing.
TEST(HostileInputBacklog, PacksBeyondTheBookingBacklogAre429) {
  auto cfg = load_source_yaml("configs/carrier-sim.yaml");
  for (auto c : cfg["carriers"]) {
    c["latency"] = YAML::Load("{distribution: fixed, median_ms: 4000}");
    c["tracking"]["enabled"] = false;
  }
  std::vector<YAML::Node> profiles = {load_source_yaml("configs/carriers/parcelco.yaml"),
                                      load_source_yaml("configs/carriers/freightly.yaml")};
  CarrierStack stack({cfg, profiles, "  max_backlog: 2\n"});
  ASSERT_TRUE(stack.start());
  auto& w = stack.waybill();
  HttpClient c(w.host(), w.port(), 10s);
  int refused = 0, packed = 0;
  std::string refused_order;
  std::vector<OrderSpec> specs(6);
  for (size_t i = 0; i < specs.size(); ++i) {
    specs[i].order_id = "H-BL-" + std::to_string(i);
    ASSERT_EQ(c.post("/v1/orders", order_body(specs[i])).status, 201);
    ASSERT_EQ(c.post("/v1/orders/" + specs[i].order_id + "/release", "").status, 200);
  }
  for (auto& s : specs) {
    auto res = c.post("/v1/orders/" + s.order_id + "/pack", "");
    if (res.status == 200) {
      ++packed;
      // The backlog counts the shipment once the order has created it.
      EXPECT_TRUE(eventually([&] { return c.get("/v1/shipments/" + s.order_id + "-1").status == 200; }));
    } else {
      EXPECT_TRUE(IsProblem(res, 429, "")) << res.describe();
      EXPECT_FALSE(res.header("Retry-After").empty()) << res.describe();
      ++refused;
      refused_order = s.order_id;
    }
  }
  EXPECT_EQ(packed, 2);
  EXPECT_EQ(refused, 4);
  ASSERT_FALSE(refused_order.empty());
  EXPECT_EQ(Json::parse(c.get("/v1/orders/" + refused_order).body).str_or_empty("/status"), "released")
      << "a refused pack changed the order";
  EXPECT_EQ(c.get("/v1/shipments/" + refused_order + "-1").status, 404) << "a refused pack created a shipment";
  EXPECT_EQ(c.get("/healthz").status, 200);
}

}  // namespace
}  // namespace waybill::itest
