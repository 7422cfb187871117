// Read access to JSON answers for tests, on simdjson's DOM. Fields are addressed with
// JSON Pointers (RFC 6901): "/status", "/ship_to/country", "/results/0/outcome".
// Nothing here throws; a missing field or a wrong type gives an empty optional.
//
// Also: quoting of strings for request bodies the tests build.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

namespace waybill::itest {

class Json {
 public:
  /// Parses `text`; check ok() / error().
  static Json parse(std::string_view text);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  /// The value at `pointer` ("" is this value); an invalid Json when absent.
  Json at(std::string_view pointer) const;
  bool has(std::string_view pointer) const;

  std::optional<std::string> str(std::string_view pointer = "") const;
  std::optional<int64_t> int64(std::string_view pointer = "") const;
  std::optional<double> number(std::string_view pointer = "") const;
  std::optional<bool> boolean(std::string_view pointer = "") const;
  /// String at `pointer`, or "" when absent (convenient in EXPECT_EQ).
  std::string str_or_empty(std::string_view pointer) const { return str(pointer).value_or(""); }

  bool is_array(std::string_view pointer = "") const;
  bool is_object(std::string_view pointer = "") const;
  /// Elements of the array at `pointer` (empty when it is not an array).
  std::vector<Json> items(std::string_view pointer = "") const;
  /// Number of elements of the array or object at `pointer`, 0 otherwise.
  size_t size(std::string_view pointer = "") const;

  /// Minified JSON of this value, for messages.
  std::string dump() const;

  simdjson::dom::element element() const { return element_; }

 private:
  std::shared_ptr<simdjson::dom::parser> parser_;  // owns the document `element_` points into
  simdjson::dom::element element_;
  std::string error_ = "not parsed";
};

/// `s` as a JSON string literal, quotes included.
std::string quote(std::string_view s);

}  // namespace waybill::itest
