#include "waybill/runtime/membership.hpp"

#include <algorithm>
#include <charconv>
#include <map>

namespace waybill::runtime {

namespace {

std::string join(const std::vector<std::string>& ids) {
  std::string out;
  for (auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

std::vector<std::string> split_ids(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

// "name=value" lines; unknown names are kept for newer versions and ignored here.
Result<std::map<std::string, std::string>> parse_lines(std::string_view text, const char* what) {
  std::map<std::string, std::string> out;
  for (size_t lines = 0; !text.empty() && lines < 64; ++lines) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return Status{Code::internal, std::string("corrupt ") + what + " record"};
    out.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  return out;
}

Result<uint64_t> parse_epoch(const std::map<std::string, std::string>& fields, const char* what) {
  auto it = fields.find("epoch");
  uint64_t v = 0;
  if (it == fields.end() ||
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), v).ec != std::errc())
    return Status{Code::internal, std::string("corrupt ") + what + " record: no epoch"};
  return v;
}

}  // namespace

std::vector<std::string> sorted_ids(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string describe_members(const std::vector<std::string>& ids) {
  if (ids.empty()) return "a single node (no cluster members)";
  std::string out = "members [";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + ids[i];
  return out + "]";
}

std::string encode_membership(const MembershipRecord& r) {
  return "epoch=" + std::to_string(r.epoch) + "\nmembers=" + join(r.member_ids) + "\n";
}

Result<MembershipRecord> decode_membership(std::string_view text) {
  auto fields = parse_lines(text, "membership");
  if (!fields) return fields.status();
  MembershipRecord r;
  auto epoch = parse_epoch(*fields, "membership");
  if (!epoch) return epoch.status();
  r.epoch = *epoch;
  r.member_ids = split_ids((*fields)["members"]);
  return r;
}

std::string encode_rebalance_marker(const RebalanceMarker& m) {
  return "epoch=" + std::to_string(m.epoch) + "\nfrom=" + join(m.from_ids) + "\nto=" + join(m.to_ids) + "\n";
}

Result<RebalanceMarker> decode_rebalance_marker(std::string_view text) {
  auto fields = parse_lines(text, "rebalance marker");
  if (!fields) return fields.status();
  RebalanceMarker m;
  auto epoch = parse_epoch(*fields, "rebalance marker");
  if (!epoch) return epoch.status();
  m.epoch = *epoch;
  m.from_ids = split_ids((*fields)["from"]);
  m.to_ids = split_ids((*fields)["to"]);
  return m;
}

Result<std::optional<MembershipRecord>> read_membership(const storage::Store& store) {
  std::string text;
  auto st = store.get(storage::Column::meta, kMembershipKey, &text);
  if (st.code() == Code::not_found) return std::optional<MembershipRecord>();
  if (!st.ok()) return st;
  auto r = decode_membership(text);
  if (!r) return r.status();
  return std::optional<MembershipRecord>(std::move(*r));
}

Result<std::optional<RebalanceMarker>> read_rebalance_marker(const storage::Store& store) {
  std::string text;
  auto st = store.get(storage::Column::meta, kRebalanceMarkerKey, &text);
  if (st.code() == Code::not_found) return std::optional<RebalanceMarker>();
  if (!st.ok()) return st;
  auto m = decode_rebalance_marker(text);
  if (!m) return m.status();
  return std::optional<RebalanceMarker>(std::move(*m));
}

Result<MembershipRecord> claim_membership(storage::Store& store, std::vector<std::string> member_ids) {
  member_ids = sorted_ids(std::move(member_ids));
  auto marker = read_rebalance_marker(store);
  if (!marker) return marker.status();
  if (*marker)
    return Status{Code::conflict, "a rebalance from " + describe_members((*marker)->from_ids) + " to " +
                                      describe_members((*marker)->to_ids) + " is under way on " +
                                      store.options().data_dir +
                                      "; run waybill-rebalance again with the same configs to finish it"};
  auto recorded = read_membership(store);
  if (!recorded) return recorded.status();
  if (*recorded) {
    if ((*recorded)->member_ids == member_ids) return std::move(**recorded);
    return Status{Code::conflict,
                  "the data in " + store.options().data_dir + " belongs to " + describe_members((*recorded)->member_ids) +
                      " (epoch " + std::to_string((*recorded)->epoch) + ") but this configuration has " +
                      describe_members(member_ids) +
                      ": entities would be served by the wrong node. Move them first with waybill-rebalance "
                      "(README, Cluster), or start with the configuration the data belongs to",
                  "cluster.members"};
  }
  MembershipRecord fresh{1, std::move(member_ids)};
  auto st = store.write({{storage::Column::meta, kMembershipKey, encode_membership(fresh)}}, true);
  if (!st.ok()) return st;
  return fresh;
}

}  // namespace waybill::runtime
