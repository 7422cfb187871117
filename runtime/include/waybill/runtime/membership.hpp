// The membership a node's data belongs to, recorded in its store, and the marker of a
// rebalance under way (waybill-rebalance, rebalance.hpp).
//
// Which entities a node holds follows from the member ids (rendezvous hashing): data
// written under one member list is in the wrong places for another. So the store keeps
// the member ids it serves under, with an epoch counting the rebalances, and waybilld
// refuses to start when its configured members differ from the record, or while a
// rebalance is recorded as under way: an entity is never served by two owners, nor by
// a node that does not hold it. Both records live in Column::meta as short text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/status.hpp"
#include "waybill/storage/store.hpp"

namespace waybill::runtime {

/// Column::meta keys of the two records.
inline constexpr const char* kMembershipKey = "cluster/membership";
inline constexpr const char* kRebalanceMarkerKey = "cluster/rebalance";

struct MembershipRecord {
  /// 1 when a node first recorded its membership; each rebalance sets one more than
  /// the highest epoch among its nodes.
  uint64_t epoch = 0;
  /// Sorted member ids; empty for a single node (no `cluster:` members).
  std::vector<std::string> member_ids;
};

/// Written on every node of a rebalance before it moves anything, removed after the
/// new membership is recorded everywhere.
struct RebalanceMarker {
  /// The epoch the new membership is recorded with.
  uint64_t epoch = 0;
  /// Sorted member ids before and after.
  std::vector<std::string> from_ids, to_ids;
};

std::string encode_membership(const MembershipRecord& record);
Result<MembershipRecord> decode_membership(std::string_view text);
std::string encode_rebalance_marker(const RebalanceMarker& marker);
Result<RebalanceMarker> decode_rebalance_marker(std::string_view text);

/// The records in `store`; nullopt when absent.
Result<std::optional<MembershipRecord>> read_membership(const storage::Store& store);
Result<std::optional<RebalanceMarker>> read_rebalance_marker(const storage::Store& store);

/// "members [node1, node2]" or "a single node (no cluster members)", for messages.
std::string describe_members(const std::vector<std::string>& sorted_ids);

/// Sorted copy of `ids`.
std::vector<std::string> sorted_ids(std::vector<std::string> ids);

/// At start-up, before anything runs: refuses (Code::conflict, saying what to do) when
/// a rebalance is under way or the recorded members differ from `member_ids`;
/// records them (epoch 1) when the store has no record yet (a new node, or data from
/// before the record existed). Returns the record the node serves under.
Result<MembershipRecord> claim_membership(storage::Store& store, std::vector<std::string> member_ids);

}  // namespace waybill::runtime
