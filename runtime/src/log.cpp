#include "waybill/runtime/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <mutex>
#include <random>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

namespace waybill::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_mutex;  // one line at a time, whole, and the sink itself
std::function<void(std::string_view)> g_sink;

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// RapidJSON copies bytes that are not UTF-8 as they are, which would make the line
// invalid JSON: such a string is written with its non-ASCII bytes as '?'.
void string(Writer& w, std::string_view s) {
  if (simdjson::validate_utf8(s.data(), s.size())) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return;
  }
  std::string ascii(s);
  for (auto& c : ascii)
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  w.String(ascii.data(), static_cast<rapidjson::SizeType>(ascii.size()));
}

// RFC 3339 UTC with milliseconds; written here rather than taken from the actors'
// model helpers so this library depends on nothing else of waybill.
std::string timestamp(int64_t time_us) {
  std::time_t secs = static_cast<std::time_t>(time_us / 1000000);
  int64_t ms = (time_us % 1000000) / 1000;
  if (ms < 0) {
    secs -= 1;
    ms += 1000;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// Keys that every line has: a field of the same name would make a second member.
bool reserved(std::string_view key) {
  return key == "ts" || key == "level" || key == "msg" || key == "component" || key == "correlation_id";
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report a failing stderr
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

std::optional<Level> parse_level(std::string_view text) {
  for (int l = 0; l <= static_cast<int>(Level::off); ++l)
    if (text == name(static_cast<Level>(l))) return static_cast<Level>(l);
  return std::nullopt;
}

const char* name(Level level) {
  switch (level) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::off: return "off";
  }
  return "?";
}

std::string new_correlation_id() {
  static const uint64_t prefix = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  static std::atomic<uint64_t> counter{0};
  char id[33];
  std::snprintf(id, sizeof id, "%016llx%016llx", static_cast<unsigned long long>(prefix),
                static_cast<unsigned long long>(counter.fetch_add(1, std::memory_order_relaxed)));
  return id;
}

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }
bool enabled(Level l) { return l != Level::off && static_cast<int>(l) >= g_level.load(std::memory_order_relaxed); }

void set_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sink = std::move(sink);
}

std::string format_line(int64_t time_us, Level level, std::string_view component, std::string_view correlation_id,
                        std::string_view msg, Fields fields) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("ts");
  string(w, timestamp(time_us));
  w.Key("level");
  w.String(name(level));
  w.Key("msg");
  string(w, msg);
  w.Key("component");
  string(w, component);
  w.Key("correlation_id");
  if (correlation_id.empty()) w.Null();
  else string(w, correlation_id);
  for (auto& f : fields) {
    if (reserved(f.key)) continue;
    string(w, f.key);  // Key() and String() escape alike
    std::visit(
        [&w](auto v) {
          using T = decltype(v);
          if constexpr (std::is_same_v<T, std::string_view>) string(w, v);
          else if constexpr (std::is_same_v<T, bool>) w.Bool(v);
          else if constexpr (std::is_same_v<T, int64_t>) w.Int64(v);
          else if constexpr (std::is_same_v<T, uint64_t>) w.Uint64(v);
          else if (std::isfinite(v)) w.Double(v);
          else w.Null();  // JSON has no NaN or infinity
        },
        f.value);
  }
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

void write(Level level, std::string_view component, std::string_view correlation_id, std::string_view msg,
           Fields fields) {
  if (!enabled(level)) return;
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch());
  std::string line = format_line(now.count(), level, component, correlation_id, msg, fields);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_sink) return g_sink(line);
  // RapidJSON escapes control characters, so the line has no newline of its own.
  line += '\n';
  write_all(STDERR_FILENO, line.data(), line.size());
}

}  // namespace waybill::log
