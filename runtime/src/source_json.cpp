// Source-shaped JSON orders (POST /v1/sources/{source}/orders): fields picked by JSON
// pointer, lines and packages from the profile's arrays. Errors name the pointer of
// the source field, e.g. "/item/items/2/quantity".
#include <simdjson.h>

#include "source_draft.hpp"

namespace waybill::runtime {

namespace {

using detail::Draft;
using detail::Scope;
using detail::Slot;
using detail::SourceFailure;
using simdjson::dom::element;

Status bad(std::string field, std::string reason) { return {Code::invalid_argument, std::move(reason), std::move(field)}; }

// The scalar at `pointer` as text; nullopt when absent or null.
Result<std::optional<std::string>> scalar(element root, const std::string& pointer) {
  auto v = root.at_pointer(pointer);
  if (v.error()) return std::optional<std::string>();
  element e = v.value();
  switch (e.type()) {
    case simdjson::dom::element_type::NULL_VALUE: return std::optional<std::string>();
    case simdjson::dom::element_type::STRING: return std::optional<std::string>(std::string(e.get_string().value()));
    case simdjson::dom::element_type::BOOL: return std::optional<std::string>(e.get_bool().value() ? "true" : "false");
    case simdjson::dom::element_type::ARRAY:
    case simdjson::dom::element_type::OBJECT: return bad(pointer, "must be a single value, not an object or array");
    default: return std::optional<std::string>(simdjson::minify(e));  // numbers as written
  }
}

// Fills `slot` with every field of `scope` read relative to `base`.
std::optional<SourceFailure> fill(const SourceProfile& p, Scope scope, element base, Slot* slot) {
  for (auto& spec : p.fields) {
    if (detail::scope_of(p, spec.target, true) != scope) continue;
    std::optional<std::string> raw;
    if (!spec.json.empty()) {
      auto r = scalar(base, spec.json);
      if (!r) return SourceFailure{bad(slot->pointer + spec.json, r.status().message()), 0};
      raw = std::move(*r);
    }
    std::optional<detail::Value> v;
    if (auto f = detail::resolve(spec, raw, detail::label_of(spec, *slot, true), 0, &v)) return f;
    if (v) slot->values[spec.target] = std::move(*v);
  }
  return std::nullopt;
}

// Elements of the array at `pointer` as slots of `scope`.
Status fill_array(const SourceProfile& p, element root, const std::string& pointer, Scope scope, size_t max,
                  std::vector<Slot>* out) {
  auto v = root.at_pointer(pointer);
  if (v.error() || v.value().is_null()) return {};
  if (!v.value().is_array()) return bad(pointer, "must be an array");
  auto arr = v.value().get_array().value();
  if (arr.size() > max) return bad(pointer, "has more than " + std::to_string(max) + " entries");
  size_t i = 0;
  for (element item : arr) {
    Slot slot;
    slot.pointer = pointer + "/" + std::to_string(i++);
    if (!item.is_object()) return bad(slot.pointer, "must be an object");
    if (auto f = fill(p, scope, item, &slot)) return f->status;
    out->push_back(std::move(slot));
  }
  return {};
}

}  // namespace

Result<actors::CreateOrder> map_json_order(const SourceProfile& p, std::string_view body, const IntakeLimits& limits) {
  if (!p.has_json) return Status{Code::not_found, "source '" + p.source + "' has no JSON mapping in its profile"};
  thread_local simdjson::dom::parser parser;
  thread_local size_t depth = 0;
  if (depth != limits.max_depth) {
    if (parser.allocate(64 << 10, limits.max_depth + 1) != simdjson::SUCCESS) throw std::bad_alloc();
    depth = limits.max_depth;
  }
  if (body.empty()) return bad("body", "is empty; a JSON object is required");
  auto doc = parser.parse(body.data(), body.size());
  if (doc.error()) return bad("body", std::string("is not valid JSON: ") + simdjson::error_message(doc.error()));
  if (!doc.value().is_object()) return bad("body", "must be a JSON object");
  element root = doc.value();
  Draft d;
  d.from_json = true;
  if (auto f = fill(p, Scope::order, root, &d.order)) return f->status;
  if (!p.json.lines.empty())
    if (auto st = fill_array(p, root, p.json.lines, Scope::line, limits.max_lines, &d.lines); !st.ok()) return st;
  if (!p.json.packages.empty())
    if (auto st = fill_array(p, root, p.json.packages, Scope::package, limits.max_packages, &d.packages); !st.ok())
      return st;
  size_t line = 0;
  return detail::finish(p, d, limits, &line);
}

}  // namespace waybill::runtime
