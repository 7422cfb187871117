// Cluster membership and its tuning, as plain data (the `cluster:` config section).
//
// A cluster is a static list of members; every node runs with the same list and its
// own `node_id`. Without members (the default) waybilld is a single node exactly as
// before: no middleman port is opened and every request is served locally.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "waybill/status.hpp"

namespace waybill::runtime {

struct ClusterMember {
  /// Stable name of the node ("node1"). It is hashed into ownership: renaming a member
  /// moves its entities. Letters, digits, '-', '_' and '.', at most 64 characters.
  std::string id;
  /// Host of the node's middleman (CAF remoting) endpoint. Default: "127.0.0.1".
  std::string host = "127.0.0.1";
  /// TCP port of the node's middleman endpoint (not the HTTP port). Required.
  uint16_t port = 0;
};

struct ClusterOptions {
  /// This node's id; must name one of `members`. Required when `members` is set.
  std::string node_id;
  /// Every node of the cluster, this one included, in any order (ownership does not
  /// depend on the order). Empty: clustering is off. At most `kMaxMembers`.
  std::vector<ClusterMember> members;
  /// How long a forwarded request may wait for the owner's answer, in ms. Past it the
  /// client gets 503 with Retry-After (the owner may still apply it: retries are safe
  /// through natural keys and Idempotency-Key). Default: 10000.
  int forward_timeout_ms = 10000;
  /// Bound on one connection attempt to a peer, in ms. Default: 2000.
  int connect_timeout_ms = 2000;
  /// First delay before reconnecting to a lost peer, in ms; doubled per failed attempt
  /// up to `reconnect_max_ms`. Default: 100.
  int reconnect_base_ms = 100;
  /// Largest delay between reconnect attempts, in ms. Default: 2000.
  int reconnect_max_ms = 2000;
  /// CAF heartbeat between connected nodes, in ms; lets a hung (not crashed) peer be
  /// detected. Default: 1000.
  int heartbeat_interval_ms = 1000;
  /// A peer silent for this long is dropped (then reconnected), in ms. Default: 5000.
  int connection_timeout_ms = 5000;
  /// Requests this node forwards and still awaits, plus forwarded requests it serves
  /// for peers; beyond it new ones get 503 with Retry-After. Default: 4096.
  size_t max_in_flight = 4096;
  /// Retry-After seconds on 503 answers for keys whose owner is down. Default: 1.
  int retry_after_s = 1;
  /// CAF scheduler threads of the cluster's actor system (routing only: the entities
  /// run in the engine's system). Default: 2.
  int threads = 2;

  static constexpr size_t kMaxMembers = 64;

  bool enabled() const { return !members.empty(); }
};

/// Checks ids, hosts, ports and that `node_id` is a member; the error names the key
/// ("cluster.members[1].port").
Status validate_cluster(const ClusterOptions& options);

/// Order-independent digest of the member ids (what ownership depends on). Peers compare it
/// when they connect: nodes that disagree on the members would disagree on owners.
uint64_t membership_digest(const std::vector<ClusterMember>& members);

}  // namespace waybill::runtime
