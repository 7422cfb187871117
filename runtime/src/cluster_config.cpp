#include "waybill/runtime/cluster_config.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "cluster_yaml.hpp"
#include "waybill/actors/model.hpp"

namespace waybill::runtime {

namespace {

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

Status read_cluster_members(const YAML::Node& node, const std::string& key, std::vector<ClusterMember>* members) {
  if (!node.IsSequence()) return {Code::invalid_argument, "must be a list of {id, host, port}", key};
  members->clear();
  size_t i = 0;
  for (auto item : node) {
    const std::string at = key + "[" + std::to_string(i++) + "]";
    if (!item.IsMap()) return {Code::invalid_argument, "must be a mapping with id, host and port", at};
    ClusterMember m;
    for (auto kv : item) {
      auto k = kv.first.as<std::string>();
      if (!kv.second.IsScalar()) return {Code::invalid_argument, "must be a scalar", at + "." + k};
      const std::string v = kv.second.Scalar();
      if (k == "id") {
        m.id = v;
      } else if (k == "host") {
        m.host = v;
      } else if (k == "port") {
        int port = 0;
        try {
          port = kv.second.as<int>();
        } catch (const YAML::Exception&) {
          return {Code::invalid_argument, "must be a port number 1..65535", at + ".port"};
        }
        if (port < 1 || port > 65535) return {Code::invalid_argument, "must be a port number 1..65535", at + ".port"};
        m.port = static_cast<uint16_t>(port);
      } else {
        return {Code::invalid_argument, "unknown key", at + "." + k};
      }
    }
    members->push_back(std::move(m));
  }
  return {};
}

Status validate_cluster(const ClusterOptions& o) {
  if (o.members.empty()) {
    if (!o.node_id.empty()) return {Code::invalid_argument, "is required when cluster.node_id is set", "cluster.members"};
    return {};
  }
  if (o.members.size() > ClusterOptions::kMaxMembers)
    return {Code::invalid_argument, "at most " + std::to_string(ClusterOptions::kMaxMembers) + " members", "cluster.members"};
  std::set<std::string> ids, endpoints;
  for (size_t i = 0; i < o.members.size(); ++i) {
    auto& m = o.members[i];
    const std::string at = "cluster.members[" + std::to_string(i) + "]";
    if (!valid_id(m.id))
      return {Code::invalid_argument, "must be 1..64 letters, digits, '-', '_' or '.'", at + ".id"};
    if (!ids.insert(m.id).second) return {Code::invalid_argument, "duplicate member id '" + m.id + "'", at + ".id"};
    if (m.host.empty()) return {Code::invalid_argument, "must not be empty", at + ".host"};
    if (m.port == 0) return {Code::invalid_argument, "is required", at + ".port"};
    if (!endpoints.insert(m.host + ":" + std::to_string(m.port)).second)
      return {Code::invalid_argument, "another member has the same host and port", at + ".port"};
  }
  if (o.reconnect_max_ms < o.reconnect_base_ms)
    return {Code::invalid_argument, "must be at least cluster.reconnect_base_ms", "cluster.reconnect_max_ms"};
  if (o.node_id.empty()) return {Code::invalid_argument, "is required when cluster.members is set", "cluster.node_id"};
  if (!ids.count(o.node_id))
    return {Code::invalid_argument, "'" + o.node_id + "' is not one of cluster.members", "cluster.node_id"};
  return {};
}

// Only the ids decide owners, so only they are compared: one node may reach a peer as
// "localhost" and another as "127.0.0.1" without disagreeing on anything that matters.
uint64_t membership_digest(const std::vector<ClusterMember>& members) {
  std::vector<std::string> parts;
  for (auto& m : members) parts.push_back(m.id);
  std::sort(parts.begin(), parts.end());
  uint64_t h = fnv1a64("waybill-membership-v1");
  for (auto& p : parts) h = fnv1a64(p + '\n', h);  // ids hold no newline: no ambiguity
  return h;
}

}  // namespace waybill::runtime
