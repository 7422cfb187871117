// The two member lists of a rebalance, from the nodes' waybilld configs, checked to
// describe one change (rebalance.hpp, membership_change_from_configs).
#include <filesystem>
#include <map>
#include <set>

#include "waybill/runtime/config.hpp"
#include "waybill/runtime/membership.hpp"
#include "waybill/runtime/rebalance.hpp"

namespace waybill::runtime {

namespace {

namespace fs = std::filesystem;

struct ReadSide {
  RebalanceSide side;
  bool single = false;              // one config without cluster members
  std::vector<std::string> paths;   // parallel to side.nodes
};

std::string canonical_dir(const std::string& dir) {
  std::error_code ec;
  auto p = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  return ec ? dir : p.lexically_normal().string();
}

Result<ReadSide> read_side(const std::vector<std::string>& paths, const std::string& flag) {
  if (paths.empty()) return Status{Code::invalid_argument, "needs one config per node", flag};
  ReadSide out;
  std::vector<std::string> agreed;  // member ids of the first config
  for (auto& path : paths) {
    auto config = load_config(path);
    if (!config)
      return Status{Code::invalid_argument, path + ": " + config.status().field() + ": " + config.status().message(), flag};
    auto& c = config->cluster;
    std::vector<std::string> ids;
    for (auto& m : c.members) ids.push_back(m.id);
    ids = sorted_ids(std::move(ids));
    if (!c.enabled()) {
      if (paths.size() > 1)
        return Status{Code::invalid_argument,
                      path + " has no cluster members: only a single node's config may lack them", flag};
      out.single = true;
    } else if (out.side.nodes.empty()) {
      agreed = ids;
    } else if (ids != agreed) {
      return Status{Code::invalid_argument,
                    path + " lists " + describe_members(ids) + ", " + out.paths.front() + " lists " +
                        describe_members(agreed) + ": the configs of one list must agree",
                    flag};
    }
    for (size_t i = 0; i < out.side.nodes.size(); ++i)
      if (!c.node_id.empty() && out.side.nodes[i].id == c.node_id)
        return Status{Code::invalid_argument, path + " and " + out.paths[i] + " are both node " + c.node_id, flag};
    out.side.nodes.push_back({c.node_id, config->engine.store});
    out.paths.push_back(path);
  }
  out.side.member_ids = agreed;
  if (!out.single && out.side.nodes.size() != agreed.size()) {
    std::set<std::string> have;
    for (auto& n : out.side.nodes) have.insert(n.id);
    std::string missing;
    for (auto& id : agreed)
      if (!have.count(id)) missing += (missing.empty() ? "" : ", ") + id;
    return Status{Code::invalid_argument, "no config for member(s) " + missing + ": every member's data must take part",
                  flag};
  }
  return out;
}

// A single node has no id of its own: it is the member of the other list that keeps its
// data dir (growing from one node, or shrinking to one).
Status name_single(ReadSide& single, const ReadSide& other, const std::string& flag) {
  auto& node = single.side.nodes.front();
  const auto dir = canonical_dir(node.store.data_dir);
  for (auto& n : other.side.nodes)
    if (canonical_dir(n.store.data_dir) == dir) {
      node.id = n.id;
      return {};
    }
  return {Code::invalid_argument,
          single.paths.front() + " has no cluster members and its data_dir " + node.store.data_dir +
              " is no member's of the other list: name that node in the other list with the same data_dir",
          flag};
}

}  // namespace

Result<MembershipChange> membership_change_from_configs(const std::vector<std::string>& from_paths,
                                                        const std::vector<std::string>& to_paths) {
  auto from = read_side(from_paths, "--from");
  if (!from) return from.status();
  auto to = read_side(to_paths, "--to");
  if (!to) return to.status();
  if (from->single && to->single)
    return Status{Code::invalid_argument, "both lists are a single node: nothing to move", "--to"};
  if (from->single)
    if (auto st = name_single(*from, *to, "--from"); !st.ok()) return st;
  if (to->single)
    if (auto st = name_single(*to, *from, "--to"); !st.ok()) return st;
  if (!from->single && !to->single && from->side.member_ids == to->side.member_ids)
    return Status{Code::invalid_argument, "both lists have " + describe_members(to->side.member_ids) + ": nothing to move",
                  "--to"};

  // One data dir per node id, across both lists.
  std::map<std::string, std::pair<std::string, std::string>> dir_of;  // id -> (canonical dir, config path)
  std::map<std::string, std::string> id_of;                           // canonical dir -> id
  for (const ReadSide* s : {&*from, &*to})
    for (size_t i = 0; i < s->side.nodes.size(); ++i) {
      auto& n = s->side.nodes[i];
      const auto dir = canonical_dir(n.store.data_dir);
      auto [it, fresh] = dir_of.emplace(n.id, std::make_pair(dir, s->paths[i]));
      if (!fresh && it->second.first != dir)
        return Status{Code::invalid_argument,
                      "node " + n.id + " has data_dir " + it->second.first + " in " + it->second.second + " but " + dir +
                          " in " + s->paths[i] + ": a node keeps its data dir",
                      "data_dir"};
      auto [jt, new_dir] = id_of.emplace(dir, n.id);
      if (!new_dir && jt->second != n.id)
        return Status{Code::invalid_argument, "nodes " + jt->second + " and " + n.id + " share data_dir " + dir,
                      "data_dir"};
    }
  return MembershipChange{std::move(from->side), std::move(to->side)};
}

}  // namespace waybill::runtime
