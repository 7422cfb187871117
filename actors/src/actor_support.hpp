// Internal helpers shared by the order and shipment actors.
#pragma once

#include <caf/stateful_actor.hpp>

#include "waybill/actors/entity.hpp"

namespace waybill::actors::detail {

/// Encodes an outbox event for the writer.
std::string encode_event(const EventSpec& spec, fb::EntityKind kind, const std::string& entity_id,
                         uint64_t entity_seq, const std::string& order_id, int64_t now_us,
                         OrderStatus order_status, TrackingStatus shipment_status);

/// Submits `request` counting it in the handle's pending writes. On failure the caller
/// must roll its state back; the request's completion will not run.
Status submit_counted(const EntityContext& ctx, const std::shared_ptr<EntityHandle>& handle,
                      std::unique_ptr<storage::WriteRequest> request);

/// Runs `fn` in the actor once every write the actor submitted so far is committed:
/// at once when none is pending, otherwise after a barrier through the writer (the
/// writer completes requests in order). Used for answers derived from in-memory state,
/// so no client ever sees a change before it is durable. `fn` gets a failed status when
/// the writer refused the barrier or the earlier writes failed; it must then answer 503.
void after_commit(caf::event_based_actor* self, const EntityContext& ctx,
                  const std::shared_ptr<EntityHandle>& handle, std::function<void(const Status&)> fn);

}  // namespace waybill::actors::detail
