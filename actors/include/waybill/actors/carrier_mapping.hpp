// Data-driven mapping between the canonical model and a carrier's API, so a carrier is
// onboarded by a profile file, not code.
//
// Requests are JSON templates written in YAML: a string "${path}" is replaced by the
// canonical value at `path` keeping its type (number, bool, string); "${path}" inside a
// longer string is replaced by its text; {"$each": "packages", "$item": TEMPLATE}
// renders TEMPLATE once per package, with "package.*" bound to it.
// Responses are read with JSON pointers (RFC 6901) extended with "*" to mean every
// element of an array: "/Packages/*/TrackingNumber".
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "waybill/status.hpp"

namespace YAML {
class Node;
}

namespace waybill::actors {

using MappingValue = std::variant<std::monostate, std::string, int64_t, double, bool>;

/// Resolves canonical paths ("ship_to.postal_code", "package.weight_kg") while a
/// template renders. `index` is the current element of an enclosing $each (or -1).
struct MappingSource {
  std::function<MappingValue(const std::string& path, int index)> value;
  std::function<size_t(const std::string& collection)> count;
};

class RequestTemplate {
 public:
  /// Compiles a YAML template; errors name the template path.
  static Result<RequestTemplate> compile(const YAML::Node& node, const std::string& where);
  RequestTemplate();
  ~RequestTemplate();
  RequestTemplate(const RequestTemplate&);
  RequestTemplate& operator=(const RequestTemplate&);
  RequestTemplate(RequestTemplate&&) noexcept;
  RequestTemplate& operator=(RequestTemplate&&) noexcept;

  /// Renders JSON; fails naming the canonical path that had no value.
  Result<std::string> render(const MappingSource& source) const;
  bool empty() const { return !root_; }

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
};

/// Substitutes "{name}" placeholders (percent-encoded) in a URL path template.
std::string expand_path(const std::string& path_template, const std::map<std::string, std::string>& values);

/// Values at an extended JSON pointer in a JSON document, as strings (numbers in their
/// JSON text form). Empty when the pointer matches nothing; error on malformed JSON.
Result<std::vector<std::string>> extract_all(std::string_view json, const std::string& pointer);
/// The first value at `pointer`, or nullopt.
std::optional<std::string> extract_first(std::string_view json, const std::string& pointer);
/// The raw JSON of every element matched by `pointer` (for nested mappings).
Result<std::vector<std::string>> extract_raw(std::string_view json, const std::string& pointer);

}  // namespace waybill::actors
