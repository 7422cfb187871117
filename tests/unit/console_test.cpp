// The operations console's serving (console.hpp), alone and through Api::handle on an
// in-process engine.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine_fixture.hpp"
#include "waybill/runtime/console.hpp"

namespace waybill::runtime::testing_engine {
namespace {

std::string source_file(const std::string& name) {
  std::ifstream in(std::string(WAYBILL_SOURCE_DIR) + "/runtime/console/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string header(const HttpResponse& r, std::string_view name) {
  for (auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

TEST(Console, PathsBelongingToTheConsole) {
  EXPECT_TRUE(is_console_path("/console"));
  EXPECT_TRUE(is_console_path("/console/"));
  EXPECT_TRUE(is_console_path("/console/queue.js"));
  EXPECT_FALSE(is_console_path("/consoles"));
  EXPECT_FALSE(is_console_path("/v1/console"));
  EXPECT_FALSE(is_console_path("/"));
}

TEST(Console, ServesTheEmbeddedFilesAsTheyAreInTheTree) {
  auto index = console_response("GET", "/console/");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index.body, source_file("index.html"));
  EXPECT_EQ(console_response("GET", "/console/index.html").body, index.body);
  auto js = console_response("GET", "/console/queue.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js.body, source_file("queue.js"));
  EXPECT_EQ(console_response("GET", "/console/console.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(console_response("GET", "/console/favicon.svg").content_type, "image/svg+xml");
}

TEST(Console, RedirectsRefusesAndAlwaysSendsTheSecurityHeaders) {
  auto redirect = console_response("GET", "/console");
  EXPECT_EQ(redirect.status, 301);
  EXPECT_EQ(header(redirect, "Location"), "console/");
  auto missing = console_response("GET", "/console/../waybilld.yaml");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/problem+json");
  // Only the listed files: not the package.json beside them, nothing below them.
  EXPECT_EQ(console_response("GET", "/console/package.json").status, 404);
  EXPECT_EQ(console_response("GET", "/console/x/index.html").status, 404);
  auto post = console_response("POST", "/console/");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(header(post, "Allow"), "GET");
  for (auto* r : {&redirect, &missing, &post}) {
    EXPECT_NE(header(*r, "Content-Security-Policy").find("default-src 'none'"), std::string::npos);
    EXPECT_EQ(header(*r, "X-Content-Type-Options"), "nosniff");
  }
}

TEST_F(EngineTest, ConsoleIsServedByTheApi) {
  HttpRequest req{"GET", "/console/", "", "", ""};  // no key: the pages are open
  std::promise<HttpResponse> answer;
  api_->handle(std::move(req), [&](HttpResponse r) { answer.set_value(std::move(r)); });
  auto r = answer.get_future().get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, source_file("index.html"));
  EXPECT_FALSE(header(r, "X-Request-Id").empty());
}

}  // namespace
}  // namespace waybill::runtime::testing_engine
