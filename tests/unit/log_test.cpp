// Structured logs: one valid JSON object per line with the fixed keys, strings escaped
// (quotes, control characters, bytes that are not UTF-8), levels filtered.
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include <rapidjson/document.h>

#include "waybill/runtime/log.hpp"

namespace waybill::log {
namespace {

rapidjson::Document parse(const std::string& line) {
  rapidjson::Document d;
  d.Parse(line.c_str(), line.size());
  EXPECT_FALSE(d.HasParseError()) << line;
  return d;
}

TEST(Log, LineHasTheFixedKeysAndFields) {
  auto line = format_line(1767225600123456, Level::warn, "api", "req-1", "request",
                          {{"status", 403}, {"partner", "erp"}, {"ok", false}, {"ms", 1.5}, {"n", size_t{7}}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto d = parse(line);
  EXPECT_STREQ(d["ts"].GetString(), "2026-01-01T00:00:00.123Z");
  EXPECT_STREQ(d["level"].GetString(), "warn");
  EXPECT_STREQ(d["msg"].GetString(), "request");
  EXPECT_STREQ(d["component"].GetString(), "api");
  EXPECT_STREQ(d["correlation_id"].GetString(), "req-1");
  EXPECT_EQ(d["status"].GetInt(), 403);
  EXPECT_STREQ(d["partner"].GetString(), "erp");
  EXPECT_FALSE(d["ok"].GetBool());
  EXPECT_DOUBLE_EQ(d["ms"].GetDouble(), 1.5);
  EXPECT_EQ(d["n"].GetUint64(), 7u);
}

TEST(Log, StringsAreEscapedAndReservedKeysKept) {
  std::string hostile = "a\"b\\c\nd\te\x01 \xff\xfe end";
  auto line = format_line(0, Level::info, "x", "", hostile, {{"v", hostile}, {"level", "spoofed"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto d = parse(line);
  EXPECT_TRUE(d["correlation_id"].IsNull());
  EXPECT_STREQ(d["level"].GetString(), "info") << "a field cannot override a fixed key";
  std::string msg = d["msg"].GetString();
  EXPECT_EQ(msg.substr(0, 11), "a\"b\\c\nd\te\x01 ");
  EXPECT_EQ(msg.find('\xff'), std::string::npos) << "bytes that are not UTF-8 are replaced";
}

TEST(Log, LevelsFilterAndTheSinkGetsWholeLines) {
  std::mutex m;
  std::vector<std::string> lines;
  set_sink([&](std::string_view l) {
    std::lock_guard lock(m);
    lines.emplace_back(l);
  });
  set_level(Level::info);
  Logger log("test", "cid-9");
  log.debug("hidden");
  log.info("shown", {{"k", 1}});
  Logger("test").with("cid-10").error("also shown");
  set_level(Level::off);
  log.error("hidden too");
  set_level(Level::info);
  set_sink(nullptr);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_STREQ(parse(lines[0])["correlation_id"].GetString(), "cid-9");
  EXPECT_STREQ(parse(lines[1])["correlation_id"].GetString(), "cid-10");
  EXPECT_EQ(parse_level("warn"), Level::warn);
  EXPECT_FALSE(parse_level("verbose"));
}

}  // namespace
}  // namespace waybill::log
