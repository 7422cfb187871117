// Internal: reading the `cluster.members` list of the YAML config (config.cpp binds it).
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "waybill/runtime/cluster_config.hpp"

namespace waybill::runtime {

/// `node` must be a sequence of {id, host, port} mappings; errors name the element and
/// key ("cluster.members[2].port"). Replaces `members`.
Status read_cluster_members(const YAML::Node& node, const std::string& key, std::vector<ClusterMember>* members);

}  // namespace waybill::runtime
