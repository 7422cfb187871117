// Internal: an order on its way from a source shape (CSV rows or a JSON document) to the
// canonical command. Every value remembers where it came from, so that a validation
// error of the canonical parser can be reported against the source field and line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "waybill/runtime/source_profile.hpp"

namespace waybill::runtime::detail {

/// An error located in the source: `status.field()` is the source field (column name or
/// JSON pointer), `line` the file line (0 for JSON).
struct SourceFailure {
  Status status;
  size_t line = 0;
};

struct Value {
  std::string text;
  std::string label;  // source field
  size_t line = 0;
};

/// One order, one line or one package: canonical target -> value.
struct Slot {
  std::map<std::string, Value> values;
  size_t line = 0;      // file line of the row it came from
  std::string pointer;  // JSON pointer of the array element it came from
};

struct Draft {
  Slot order;
  std::vector<Slot> lines;
  std::vector<Slot> packages;
  bool from_json = false;
};

enum class Scope { order, line, package };
/// Where `target` lives for `profile` (package fields are order-level when the profile
/// takes one package per order).
Scope scope_of(const SourceProfile& profile, const std::string& target, bool from_json);

/// Source field name of `spec` within `slot`: the column, or the element's pointer
/// followed by the field's pointer.
std::string label_of(const FieldSpec& spec, const Slot& slot, bool from_json);

/// Runs a raw source value through the field's steps (trim, default, case, table).
/// nullopt result: no value.
std::optional<SourceFailure> resolve(const FieldSpec& spec, std::optional<std::string> raw, const std::string& label,
                                     size_t line, std::optional<Value>* out);

/// Renders the canonical JSON and validates it with the POST /v1/orders parser; errors
/// are translated back to the source field that fed the failing canonical field.
Result<actors::CreateOrder> finish(const SourceProfile& profile, const Draft& draft, const IntakeLimits& limits,
                                   size_t* failed_line);

}  // namespace waybill::runtime::detail
