// Messages, shared context and spawn functions of the order and shipment actors.
//
// An actor is a thin shell around a pure decide() function: it applies a command to its
// in-memory state, turns the decision into ONE write request (state + outbox events +
// idempotency record) for the group-commit writer, and answers only from that write's
// commit callback. Reads of entities do not go through actors at all: they read
// committed state from storage (see reads.hpp), which can never show an unacknowledged
// change.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "waybill/actors/booking_logic.hpp"
#include "waybill/actors/order_logic.hpp"
#include "waybill/actors/registry.hpp"
#include "waybill/actors/shipment_logic.hpp"
#include "waybill/actors/sla_logic.hpp"
#include "waybill/storage/group_commit.hpp"

namespace waybill::actors {

using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
inline constexpr passivate_atom passivate_atom_v{};

/// An answer to a client: HTTP status and a JSON (or problem+json) body.
struct Reply {
  int status = 200;
  std::string body;
  bool problem = false;  // body is application/problem+json
};
/// Called exactly once per request, from any thread.
using ReplyFn = std::function<void(Reply)>;

/// Maps a Status onto an HTTP status and an RFC 9457 problem body naming the field.
Reply problem_reply(const Status& status);

/// The idempotency record an accepted command must write with its state.
struct IdempotencyClaim {
  std::string record_key;  // key in Column::idempotency
  uint64_t request_hash = 0;
};

struct OrderRequest {
  OrderCommand command;
  ReplyFn reply;
  std::optional<IdempotencyClaim> idempotency;
  int success_status = 200;  // 201 for creation
  /// The request's correlation id (logs, and X-Request-Id of the carrier calls it
  /// causes); empty when the command has no request behind it.
  std::string correlation_id;
};

/// Asks a booked shipment's carrier to void its unused label.
struct VoidShipment {};

struct ShipmentRequest {
  std::variant<RegisterShipment, CreateForBooking, ResolveException, VoidShipment> command;
  ReplyFn reply;
  std::optional<IdempotencyClaim> idempotency;
  int success_status = 201;
  /// As OrderRequest::correlation_id.
  std::string correlation_id;
};

/// Per-line outcome of a tracking batch.
struct LineResult {
  std::string outcome;  // "applied", "late", "duplicate", "rejected"
  Status status;        // why, when rejected
  std::string shipment_id;
  size_t line_number = 0;  // 1-based line of the request body
};

/// Collects the answers of one tracking request (possibly split over many shipment
/// actors) and replies once the last line is settled.
class TrackingBatch {
 public:
  /// `line_numbers[i]` is the body line that item i came from (kept in the results).
  TrackingBatch(const std::vector<size_t>& line_numbers, std::function<void(std::vector<LineResult>&)> finish)
      : results_(line_numbers.size()), remaining_(line_numbers.size()), finish_(std::move(finish)) {
    for (size_t i = 0; i < line_numbers.size(); ++i) results_[i].line_number = line_numbers[i];
  }
  /// Settles one line; each line exactly once. The last one runs `finish`.
  void settle(size_t line, LineResult result);

 private:
  std::vector<LineResult> results_;
  std::atomic<size_t> remaining_;
  std::function<void(std::vector<LineResult>&)> finish_;
};

struct MilestoneItem {
  AddMilestone command;
  size_t line = 0;
};
/// All milestones of one request for one shipment: one actor message per shipment.
struct MilestoneBatch {
  std::vector<MilestoneItem> items;
  std::shared_ptr<TrackingBatch> batch;
};

/// Counters the actors bump; exported by the metrics module at scrape time.
struct ActorStats {
  std::atomic<uint64_t> milestones_applied{0};
  std::atomic<uint64_t> milestones_late{0};
  std::atomic<uint64_t> milestones_duplicate{0};
  std::atomic<uint64_t> milestones_rejected{0};
  std::atomic<uint64_t> commands_rejected{0};
  std::atomic<uint64_t> events_emitted{0};
  std::atomic<uint64_t> write_failures{0};
  std::atomic<int64_t> booking_backlog{0};  // shipments between creation and booked/rejected
  std::atomic<uint64_t> bookings_confirmed{0};
  std::atomic<uint64_t> bookings_in_doubt{0};
  std::atomic<uint64_t> bookings_resolved_by_lookup{0};
  std::atomic<uint64_t> exceptions_raised{0};
  std::atomic<uint64_t> sla_breaches[kSlaKinds] = {};  // by SlaKind
  std::atomic<uint64_t> notifications{0};              // notification.* events committed
  std::atomic<uint64_t> orders_created{0};
  std::atomic<uint64_t> operator_actions{0};           // exception resolutions (manual touches)

  // Distributions, observed by the metrics module (set once before the engine starts;
  // empty: not observed). Called on commit threads: must be thread-safe and cheap.
  /// ERP order received -> label bought, seconds.
  std::function<void(double)> observe_order_to_label;
  /// Carrier event time -> milestone committed (and its event emitted), seconds.
  std::function<void(double)> observe_tracking_latency;
  /// A booking went to the exception queue: carrier, region (ship-to country), reason.
  std::function<void(const std::string&, const std::string&, const std::string&)> count_exception;
  /// An exception left the queue (retry or cancel) this many seconds after it entered.
  std::function<void(double)> observe_exception_resolution;
};

/// Carriers known to this node and how shipments are booked with them.
struct CarrierDirectory {
  std::vector<CarrierProfile> profiles;
  std::map<std::string, caf::actor> adapters;                    // by carrier name
  std::map<std::string, std::shared_ptr<AdapterStats>> stats;    // by carrier name
  SelectionRule rule = SelectionRule::cheapest;
  /// Book at release when the order already has its packages (no pack step).
  bool book_on_release = false;
  /// Used when an order names no ship-from party (the shipper's warehouse).
  fb::PartyT default_ship_from;
  /// Fault injection for crash tests: when > 0, the process dies (as by SIGKILL) on the
  /// Nth successful booking answer, after the carrier sold the label and before
  /// waybill persisted it. 0 in production.
  int crash_after_booking_answers = 0;
  mutable std::atomic<int> booking_answers{0};

  const CarrierProfile* profile(const std::string& name) const {
    for (auto& p : profiles)
      if (p.name == name) return &p;
    return nullptr;
  }
};

struct EntityContext {
  storage::Store* store = nullptr;
  storage::GroupCommitWriter* writer = nullptr;
  EntityRegistry* orders = nullptr;
  EntityRegistry* shipments = nullptr;
  ActorStats* stats = nullptr;
  const CarrierDirectory* carriers = nullptr;  // null: no carrier booking on this node
  const SlaOptions* sla = nullptr;             // null: no SLA timers
  /// Microseconds since the epoch that decisions are stamped with; null: now_us().
  /// Deterministic simulation sets a virtual clock.
  int64_t (*clock)() = nullptr;
};

/// The time an actor of `ctx` decides at.
inline int64_t context_now(const EntityContext& ctx) { return ctx.clock ? ctx.clock() : now_us(); }

/// Sent at start-up to entities with outstanding work ("work" column): an order waiting
/// for its shipment, a shipment with a booking under way when the process stopped.
struct ResumeWork {};

/// Spawners for EntityRegistry: the actor loads its state when it starts.
caf::actor spawn_order_actor(caf::actor_system& sys, const EntityContext& ctx,
                             const std::string& order_id, std::shared_ptr<EntityHandle> handle);
caf::actor spawn_shipment_actor(caf::actor_system& sys, const EntityContext& ctx,
                                const std::string& shipment_id, std::shared_ptr<EntityHandle> handle);

/// Storage keys, shared by actors and readers.
namespace keys {
std::string milestone(const std::string& shipment_id, uint32_t index);
std::string milestone_prefix(const std::string& shipment_id);
/// carrier \0 number \0 be32(ship day since the epoch): a recycled number gets a second key.
std::string tracking(const std::string& carrier, const std::string& tracking_number, int64_t ship_date_us);
std::string tracking_prefix(const std::string& carrier, const std::string& tracking_number);
/// Whole UTC days since the epoch (floor, also before 1970).
int64_t day_of(int64_t time_us);
std::string order_shipment(const std::string& order_id, const std::string& shipment_id);
std::string order_shipment_prefix(const std::string& order_id);
std::string idempotency(std::string_view scope, std::string_view key);
std::string work_order(const std::string& order_id);        // order waiting for its shipment
std::string work_booking(const std::string& shipment_id);   // booking under way
std::string manifest(const std::string& carrier, int64_t day_us, const std::string& shipment_id);
std::string manifest_prefix(const std::string& carrier, int64_t day_us);
/// Deterministic id of the shipment waybill books for an order.
std::string booked_shipment_id(const std::string& order_id);
}  // namespace keys

}  // namespace waybill::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::actors::OrderRequest>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::actors::ShipmentRequest>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::actors::MilestoneBatch>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<std::function<void()>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::actors::BookingOutcome>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(waybill::actors::ResumeWork)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(waybill::actors::SlaDue)
