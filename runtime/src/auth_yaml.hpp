// Internal: API key lists in YAML, shared by the config (auth.keys) and keys files.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "waybill/runtime/auth.hpp"

namespace waybill::runtime {

/// Appends the keys of `list` - a sequence of {partner, key_sha256, scopes} - to `out`;
/// errors name `field` and the entry ("auth.keys[2].scopes").
Status read_api_keys(const YAML::Node& list, const std::string& field, std::vector<ApiKey>* out);

}  // namespace waybill::runtime
