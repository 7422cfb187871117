// Internal: state and shared functions of the shipment actor (split over two files:
// registration/tracking and booking).
#pragma once

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actor_support.hpp"

namespace waybill::actors::detail {

struct Rating {
  std::vector<Candidate> candidates;
  std::vector<std::optional<Quote>> quotes;
  size_t pending = 0;
};

struct ShipmentActorState {
  EntityContext ctx;
  std::string id;
  std::shared_ptr<EntityHandle> handle;
  std::optional<ShipmentState> shipment;
  Status load_error;
  // Booking effects under way. In memory only: the actor stays resident while they are
  // out (EntityHandle::pending_effects), and a restart resumes from the durable state.
  bool call_outstanding = false;
  bool lookup_scheduled = false;
  bool pickup_tried = false;
  bool resumed = false;  // activated by start-up recovery: a "requested" booking may be out
  std::optional<Rating> rating;
  // Reconciliation: extra bookings being voided, and those voided so far.
  size_t extra_voids_pending = 0;
  std::vector<std::string> extra_voided;
  bool extra_void_failed = false;
  ReplyFn void_reply;
  // Of the last request that carried one: carrier calls go out under it.
  std::string correlation_id;
};

using ShipmentActor = caf::stateful_actor<ShipmentActorState>;

/// Continue with the next booking step (sent after each booking state commit).
using drive_atom = caf::atom_constant<caf::atom("drive")>;
/// The grace time of an in-doubt booking is over: look it up at the carrier.
using lookup_due_atom = caf::atom_constant<caf::atom("lookupdue")>;

/// Commits `d` (state before it in `before`), deriving index writes (work, exceptions,
/// tracking numbers, manifest, order link) from the change. On failure to submit, the
/// state is rolled back and `after` gets the failure. `after` runs on commit.
void persist(ShipmentActor* self, const ShipmentDecision& d, std::optional<ShipmentState> before,
             std::vector<storage::WriteOp> extra, std::function<void(const Status&)> after);

/// Sends a message to this actor from any thread, counted like a registry send.
void poke(ShipmentActor* self, caf::message msg);

/// Issues the next carrier effect the durable state calls for (idempotent).
void drive(ShipmentActor* self);

void handle_booking_outcome(ShipmentActor* self, BookingOutcome& outcome);
void handle_lookup_due(ShipmentActor* self);
void handle_void(ShipmentActor* self, ReplyFn reply);

/// Applies a decision and answers `reply` once committed (or the rejection after
/// everything before it committed).
void decide_and_reply(ShipmentActor* self, ShipmentDecision d, std::optional<ShipmentState> before, ReplyFn reply,
                      int success_status);

}  // namespace waybill::actors::detail
