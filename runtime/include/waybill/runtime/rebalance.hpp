// Offline membership change (waybill-rebalance): with every node stopped, moves each
// order whose rendezvous owner differs between the old and the new member list - the
// order and everything recorded for it and its shipments - from its old owner's RocksDB
// to its new owner's, and likewise each carrier's settlement, owned by the member
// settlement_key(carrier) hashes to; then records the new membership on every node.
//
// Nothing runs while it works, so no entity ever has two live owners: waybilld refuses
// to start on a store whose recorded membership differs from its configuration or that
// carries the rebalance marker (membership.hpp). Each step copies a bounded batch of
// records to the destinations (one fsynced WriteBatch per destination) and only then
// deletes them from the source (one fsynced WriteBatch): a kill at any point leaves
// every record on its source, on its destination, or on both, and a rerun with the
// same configs converges - copies are idempotent (equal records are rewritten, moved
// events are found through a mapping written with them) and nothing is duplicated.
//
// Per column family (README, Cluster, has the table):
// - moved with the order: orders, order_shipments, shipments, milestones,
//   tracking_index, exceptions, manifests, timers, tracking_poll, work, the
//   idempotency records of the order, its shipments and the Idempotency-Key requests
//   whose stored answer names the order, and the order's events with their event_index
//   entries - appended to the destination's outbox under new positions, in their old
//   order, with the node and position they had (Event.moved_from_*).
// - moved with the carrier's settlement (rebalance_settlement.cpp): invoices, disputes,
//   settlement_totals, the billings naming one of the carrier's invoices, and the
//   freight events of its invoices with their event_index entries - appended to the
//   destination's outbox like an order's events.
// - dead letters of a moved event follow it, under the destination's subscription to
//   the same URL; a subscription is copied to a destination that has none for its URL
//   and receives events, starting at the destination's outbox end before the move.
// - stay on their node: meta (export day, intake checksums), subscriptions and their
//   cursors: these are the node's, not an order's or a carrier's.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "waybill/status.hpp"
#include "waybill/storage/store.hpp"

namespace waybill::runtime {

/// One node of a member list: its id and its store.
struct RebalanceNode {
  std::string id;
  /// The node's data dir and RocksDB tuning, from its config.
  storage::StoreOptions store;
};

/// A member list and the store of every member.
struct RebalanceSide {
  /// Sorted member ids as the nodes record them; empty for a single node without
  /// cluster members (then `nodes` holds that node, named after the member of the
  /// other list that has its data dir).
  std::vector<std::string> member_ids;
  std::vector<RebalanceNode> nodes;
};

struct MembershipChange {
  RebalanceSide from, to;
};

/// Reads one config per node of the old and of the new member list (waybilld configs:
/// `cluster:` and `data_dir`) and checks that they describe one change: each list is
/// complete and agreed on by its configs, a node in both lists keeps its data dir, no
/// two nodes share one, and the lists differ. The error names the file and the reason.
Result<MembershipChange> membership_change_from_configs(const std::vector<std::string>& from_paths,
                                                        const std::vector<std::string>& to_paths);

struct RebalanceOptions {
  /// Records read from a source per step; the step's copies commit on their
  /// destinations, then the deletions on the source. Bounds memory and what a crash
  /// makes the rerun repeat; each step costs two fsyncs. Default: 4096.
  size_t batch_records = 4096;
  /// fsync every write. Off only for measurements: a power loss could then lose a copy
  /// whose source is already deleted. Default: true.
  bool sync = true;
  /// Plan and check only: counts and conflicts; nothing written, no store created.
  /// Default: false.
  bool dry_run = false;
  /// Crash tests: called after each committed write with the number so far; returning
  /// false stops the run there, as a crash would. Default: none.
  std::function<bool(uint64_t writes)> after_write;
  /// One line per finished step, for the operator. Default: none.
  std::function<void(const std::string&)> progress;
};

/// What moved (or would move) from one node to another.
struct MoveCounts {
  uint64_t orders = 0;
  uint64_t shipments = 0;
  uint64_t milestones = 0;
  /// Outbox events: an order's and its shipments', and freight events.
  uint64_t events = 0;
  /// Carrier invoices (one record each, its lines inside).
  uint64_t invoices = 0;
  /// Records of carriers' settlement: invoices, disputes, totals, billings, freight
  /// events and their index entries.
  uint64_t settlement_records = 0;
  /// Every record, the above included.
  uint64_t records = 0;
};

struct RebalanceReport {
  enum class Outcome {
    moved,         // the change is done and recorded on every node
    already_done,  // every node records the new membership: nothing was done
    planned,       // dry run
  };
  Outcome outcome = Outcome::moved;
  /// The epoch the new membership is recorded with.
  uint64_t epoch = 0;
  /// By (from node, to node).
  std::map<std::pair<std::string, std::string>, MoveCounts> moves;
  /// Subscriptions copied to destinations that had none for their URL.
  uint64_t subscriptions_copied = 0;
  /// Idempotency-Key records left on their source: the destination already holds
  /// another request under the same key (keys are per node in a cluster).
  uint64_t idempotency_kept = 0;
  /// Records naming a shipment whose header is not on their node, or settlement
  /// records whose carrier cannot be read: left in place.
  uint64_t orphans_kept = 0;
  /// Why the change cannot be made as planned (a dry run lists them; a run refuses).
  std::vector<std::string> conflicts;
  /// Committed writes and the wall time of the run.
  uint64_t writes = 0;
  double seconds = 0;
};

/// Runs (or resumes, or with dry_run plans) the change. Refuses, writing nothing, when
/// a store is locked (a waybilld runs on it), when a store records another membership
/// or another rebalance, or when a record would overwrite a different one on its
/// destination. A failure midway leaves the marker: rerun to finish.
Result<RebalanceReport> rebalance(const MembershipChange& change, const RebalanceOptions& options);

// ---- planning pieces, pure (exposed for tests) ----------------------------------

/// The member of `to_ids` owning `key` (an order id, or settlement_key(carrier)) when it
/// is not `from_id`'s anymore under `to_ids`; nullopt when it stays. (Rendezvous
/// hashing, cluster_routing.hpp.)
std::optional<std::string> new_owner_if_moved(const std::vector<std::string>& to_ids, const std::string& from_id,
                                              std::string_view key);

/// Whom a record belongs to.
struct RecordEntity {
  enum class Kind {
    node,     // the node's own (stays)
    order,    // moves with `order_id`
    carrier,  // `carrier`'s settlement: moves with settlement_key(carrier)
    orphan,   // names a shipment whose header is not on the node, or a settlement
              // record without a readable carrier (stays, reported)
  };
  Kind kind = Kind::node;
  std::string order_id;
  std::string carrier;
};

/// The key the owner of `entity` is chosen by: its order id, or settlement_key(carrier)
/// of a carrier's settlement. Empty for the node's own records and orphans.
std::string routing_key(const RecordEntity& entity);

/// The order of a shipment held on the same node; nullopt when it has no header there.
using ShipmentOrderLookup = std::function<std::optional<std::string>(std::string_view shipment_id)>;

/// Classifies one record of `column` by its key layout (store.hpp) and, where the key
/// does not name it, its value (events, shipments, tracking index, Idempotency-Key
/// answers, billings).
RecordEntity record_entity(storage::Column column, std::string_view key, std::string_view value,
                           const ShipmentOrderLookup& shipment_order);

}  // namespace waybill::runtime
