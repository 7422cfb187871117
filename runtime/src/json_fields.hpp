// Internal: reading JSON request bodies field by field with simdjson. Every error names
// the field path ("lines[2].charges[0].amount_minor") and the reason; unknown and
// duplicate keys are errors, so a typo is reported instead of silently dropping data.
#pragma once

#include <cmath>
#include <initializer_list>
#include <new>
#include <string>
#include <string_view>
#include <unordered_set>

#include <simdjson.h>

#include "waybill/runtime/intake.hpp"

namespace waybill::runtime::json {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

inline Status bad(std::string field, std::string reason) {
  return {Code::invalid_argument, std::move(reason), std::move(field)};
}

inline std::string join(const std::string& prefix, std::string_view key) {
  // An empty key still needs a name in the error: written as it appears, `""`.
  const std::string name = key.empty() ? std::string("\"\"") : std::string(key);
  return prefix.empty() ? name : prefix + "." + name;
}

// A JSON object whose fields are read by name; unknown and duplicate keys are errors so
// that a typo is reported instead of silently dropping data.
class Fields {
 public:
  Fields(object obj, std::string path, std::initializer_list<std::string_view> allowed)
      : obj_(obj), path_(std::move(path)) {
    std::unordered_set<std::string_view> seen;
    for (auto [key, value] : obj_) {
      if (!seen.insert(key).second) { error_ = bad(join(path_, key), "duplicate key"); return; }
      bool known = false;
      for (auto a : allowed) known = known || a == key;
      if (!known) { error_ = bad(join(path_, key), "unknown field"); return; }
    }
  }
  const Status& error() const { return error_; }
  std::string path(std::string_view key) const { return join(path_, key); }

  bool has(std::string_view key) {
    auto v = obj_[key];
    return !v.error() && !v.value().is_null();
  }
  element get(std::string_view key) { return obj_[key].value(); }

  Status string(std::string_view key, std::string* out, bool required, size_t max_bytes) {
    if (!has(key)) return required ? bad(path(key), "is required") : Status{};
    auto v = get(key);
    if (!v.is_string()) return bad(path(key), "must be a string");
    std::string_view s = v.get_string().value();
    if (required && s.empty()) return bad(path(key), "must not be empty");
    if (s.size() > max_bytes) return bad(path(key), "is longer than " + std::to_string(max_bytes) + " bytes");
    out->assign(s);
    return {};
  }

  Status number(std::string_view key, double* out, bool required) {
    if (!has(key)) return required ? bad(path(key), "is required") : Status{};
    auto v = get(key);
    if (!v.is_number()) return bad(path(key), "must be a number");
    double d = v.get_double().value();
    if (!std::isfinite(d)) return bad(path(key), "must be finite");
    *out = d;
    return {};
  }

  Status integer(std::string_view key, int64_t* out, bool required) {
    if (!has(key)) return required ? bad(path(key), "is required") : Status{};
    auto v = get(key);
    if (!v.is_int64()) return bad(path(key), "must be an integer");
    *out = v.get_int64().value();
    return {};
  }

  Status boolean(std::string_view key, bool* out) {
    if (!has(key)) return {};
    auto v = get(key);
    if (!v.is_bool()) return bad(path(key), "must be true or false");
    *out = v.get_bool().value();
    return {};
  }

 private:
  object obj_;
  std::string path_;
  Status error_;
};

#define WB_TRY(expr)                      \
  do {                                    \
    ::waybill::Status _st = (expr);       \
    if (!_st.ok()) return _st;            \
  } while (0)

inline Result<object> parse_object(simdjson::dom::parser& parser, std::string_view body, const IntakeLimits& lim) {
  if (body.empty()) return bad("body", "is empty; a JSON object is required");
  auto doc = parser.parse(body.data(), body.size());
  if (doc.error()) {
    auto code = doc.error();
    if (code == simdjson::DEPTH_ERROR)
      return bad("body", "JSON nesting is deeper than " + std::to_string(lim.max_depth));
    if (code == simdjson::UTF8_ERROR) return bad("body", "is not valid UTF-8");
    if (code == simdjson::NUMBER_OUT_OF_RANGE || code == simdjson::NUMBER_ERROR)
      return bad("body", "contains a number out of range");
    return bad("body", std::string("is not valid JSON: ") + simdjson::error_message(code));
  }
  if (!doc.value().is_object()) return bad("body", "must be a JSON object");
  return doc.value().get_object().value();
}

inline simdjson::dom::parser& thread_parser(const IntakeLimits& lim) {
  // One parser per thread: it reuses its buffers across requests.
  thread_local simdjson::dom::parser parser;
  thread_local size_t depth = 0;
  if (depth != lim.max_depth) {
    // Growing the capacity later keeps this depth limit.
    // simdjson counts the document itself as a level: one more accepts max_depth nestings.
    if (parser.allocate(64 << 10, lim.max_depth + 1) != simdjson::SUCCESS) throw std::bad_alloc();
    depth = lim.max_depth;
  }
  return parser;
}

}  // namespace waybill::runtime::json
