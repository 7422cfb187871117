// Strict reading of YAML mappings onto option structs: unknown keys and wrong types are
// errors naming the dotted key path, so a typo in a config or profile stops start-up.
#pragma once

#include <set>
#include <string>

#include <yaml-cpp/yaml.h>

#include "waybill/status.hpp"

namespace waybill {

class YamlMap {
 public:
  YamlMap(const YAML::Node& node, std::string path, std::set<std::string> allowed)
      : node_(node), path_(std::move(path)) {
    if (!node_.IsDefined() || node_.IsNull()) return;
    if (!node_.IsMap()) {
      error_ = {Code::invalid_argument, "must be a mapping", path_};
      return;
    }
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      auto key = it->first.as<std::string>();
      if (!allowed.count(key)) {
        error_ = {Code::invalid_argument, "unknown key", key_path(key)};
        return;
      }
    }
  }
  const Status& error() const { return error_; }
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  // An absent section is an invalid node, whose IsMap() throws: check IsDefined() first
  // so that absent optional sections read as empty.
  YAML::Node child(const std::string& key) const {
    return node_.IsDefined() && node_.IsMap() ? node_[key] : YAML::Node();
  }
  bool has(const std::string& key) const {
    auto v = child(key);
    return v.IsDefined() && !v.IsNull();
  }

  /// Reads `key` into `out` when present; `required` makes absence an error.
  template <class T>
  Status get(const std::string& key, T* out, bool required = false) const {
    auto v = child(key);
    if (!v.IsDefined() || v.IsNull())
      return required ? Status{Code::invalid_argument, "is required", key_path(key)} : Status{};
    try {
      *out = v.as<T>();
    } catch (const YAML::Exception&) {
      return {Code::invalid_argument, "has a value of the wrong type", key_path(key)};
    }
    return {};
  }

  /// A probability in [0, 1].
  Status share(const std::string& key, double* out) const {
    if (auto st = get(key, out); !st.ok()) return st;
    if (*out < 0 || *out > 1) return {Code::invalid_argument, "must be between 0 and 1", key_path(key)};
    return {};
  }

 private:
  YAML::Node node_;
  std::string path_;
  Status error_;
};

#define WAYBILL_TRY(expr)          \
  do {                             \
    ::waybill::Status _s = (expr); \
    if (!_s.ok()) return _s;       \
  } while (0)

}  // namespace waybill
