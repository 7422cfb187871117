// Structured logs: one JSON object per line on stderr,
//   {"ts":"2026-11-28T10:15:30.123Z","level":"info","msg":"...","component":"api",
//    "correlation_id":"...","<field>":...}
// `correlation_id` is null on lines that belong to no request. Messages are constant
// text; what varies goes into fields, so lines can be filtered without parsing prose.
//
// Never put consignee data (names, addresses, phone numbers, e-mail) into a message or
// a field: mask it first (pii.hpp).
//
// This module is its own small library (waybill_log) so that the actors, which sit
// below the runtime, can log too; it depends on nothing else of the runtime.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace waybill::log {

enum class Level : int { trace = 0, debug, info, warn, error, off };

/// "trace", "debug", "info", "warn", "error", "off"; nullopt for anything else.
std::optional<Level> parse_level(std::string_view text);
const char* name(Level level);

/// One extra key of a log line. Holds views: build it in the logging call itself.
struct Field {
  using Value = std::variant<std::string_view, int64_t, uint64_t, double, bool>;
  std::string_view key;
  Value value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  template <std::signed_integral I>
    requires(!std::same_as<I, bool>)
  Field(std::string_view k, I v) : key(k), value(static_cast<int64_t>(v)) {}
  template <std::unsigned_integral I>
    requires(!std::same_as<I, bool>)
  Field(std::string_view k, I v) : key(k), value(static_cast<uint64_t>(v)) {}
};
using Fields = std::initializer_list<Field>;

/// Lines below `level` are dropped. Default: info.
void set_level(Level level);
Level level();
bool enabled(Level level);

/// Receives every line (without the trailing newline) instead of stderr; tests use it.
/// nullptr restores stderr.
void set_sink(std::function<void(std::string_view line)> sink);

/// Formats one line (exposed for tests); `correlation_id` empty renders null.
std::string format_line(int64_t time_us, Level level, std::string_view component, std::string_view correlation_id,
                        std::string_view msg, Fields fields);

/// A new correlation id (32 hex digits: a random prefix per process and a counter), for
/// work that no request names: requests without one, files dropped for intake.
std::string new_correlation_id();

/// Writes one line if `level` is enabled.
void write(Level level, std::string_view component, std::string_view correlation_id, std::string_view msg,
           Fields fields);

/// A component's logger, optionally bound to a correlation id. A view: the strings it
/// was made from must outlive it (make one where it is used).
class Logger {
 public:
  constexpr explicit Logger(std::string_view component, std::string_view correlation_id = {})
      : component_(component), correlation_id_(correlation_id) {}
  Logger with(std::string_view correlation_id) const { return Logger(component_, correlation_id); }

  void trace(std::string_view msg, Fields f = {}) const { write(Level::trace, component_, correlation_id_, msg, f); }
  void debug(std::string_view msg, Fields f = {}) const { write(Level::debug, component_, correlation_id_, msg, f); }
  void info(std::string_view msg, Fields f = {}) const { write(Level::info, component_, correlation_id_, msg, f); }
  void warn(std::string_view msg, Fields f = {}) const { write(Level::warn, component_, correlation_id_, msg, f); }
  void error(std::string_view msg, Fields f = {}) const { write(Level::error, component_, correlation_id_, msg, f); }

 private:
  std::string_view component_;
  std::string_view correlation_id_;
};

}  // namespace waybill::log
