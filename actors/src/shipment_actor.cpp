#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actor_support.hpp"
#include "waybill/actors/reads.hpp"
#include "waybill/actors/render.hpp"

namespace waybill::actors {

namespace {

using storage::Column;

struct ShipmentActorState {
  EntityContext ctx;
  std::string id;
  std::shared_ptr<EntityHandle> handle;
  std::optional<ShipmentState> shipment;
  Status load_error;
};

using ShipmentActor = caf::stateful_actor<ShipmentActorState>;

Status load(ShipmentActorState& st) {
  auto header = load_shipment(*st.ctx.store, st.id);
  if (!header) return header.status().code() == Code::not_found ? Status{} : header.status();
  auto ms = load_milestones(*st.ctx.store, st.id, header->milestone_count);
  if (!ms) return ms.status();
  if (ms->size() != header->milestone_count)
    return {Code::internal, "shipment '" + st.id + "' misses stored milestones"};
  ShipmentState s;
  s.header = std::move(*header);
  s.history.reserve(ms->size());
  for (auto& m : *ms)
    s.history.push_back({m.event_time_us, m.sequence, m.event_id.empty() ? 0 : fnv1a64(m.event_id),
                         fnv1a64(m.raw_code), m.status});
  st.shipment = std::move(s);
  return {};
}

// Tells the order about the shipment's status, after the shipment's change committed.
void notify_order(const EntityContext& ctx, const fb::ShipmentT& h) {
  if (h.order_id.empty()) return;
  auto req = std::make_shared<OrderRequest>();
  ShipmentObserved obs;
  obs.ref.shipment_id = h.shipment_id;
  obs.ref.status = h.status;
  obs.ref.carrier_confirmed = carrier_confirmed(h.status);
  req->command = std::move(obs);
  req->reply = [](Reply) {};
  // If the order cannot take it now (resident cap), it re-derives this on activation.
  (void)ctx.orders->send(h.order_id, caf::make_message(std::move(req)));
}

void handle_register(ShipmentActor* self, ShipmentRequest& r) {
  auto& st = self->state;
  auto reply = std::move(r.reply);
  if (!st.load_error.ok()) return reply(problem_reply(st.load_error));
  auto d = decide(st.shipment, r.command, now_us());
  if (!d.status.ok() || d.events.empty()) {
    if (!d.status.ok()) st.ctx.stats->commands_rejected.fetch_add(1, std::memory_order_relaxed);
    auto* store = st.ctx.store;
    std::string id = st.id;
    Status rejection = d.status;
    detail::after_commit(self, st.ctx, st.handle, [=](const Status& s) {
      if (!s.ok()) return reply(problem_reply(s));
      if (!rejection.ok()) return reply(problem_reply(rejection));
      auto stored = load_idempotency(*store, keys::idempotency("shipment.create", id));
      reply(stored ? stored->reply : problem_reply(stored.status()));
    });
    return;
  }
  auto& h = st.shipment->header;
  const int64_t now = h.updated_us;
  Reply answer{r.success_status, render_shipment(h, {}), false};
  Reply replay = answer;
  replay.status = 200;
  auto req = std::make_unique<storage::WriteRequest>();
  req->ops.push_back({Column::shipments, st.id, encode(h)});
  for (auto& tn : h.tracking_numbers) req->ops.push_back({Column::tracking_index, keys::tracking(h.carrier, tn), st.id});
  if (!h.order_id.empty()) req->ops.push_back({Column::order_shipments, keys::order_shipment(h.order_id, st.id), {}});
  req->ops.push_back({Column::idempotency, keys::idempotency("shipment.create", st.id),
                      encode_idempotency(h.request_hash, replay, now)});
  if (r.idempotency)
    req->ops.push_back({Column::idempotency, r.idempotency->record_key,
                        encode_idempotency(r.idempotency->request_hash, answer, now)});
  for (auto& ev : d.events)
    req->events.push_back(detail::encode_event(ev, fb::EntityKind::shipment, st.id, h.version, h.order_id,
                                               now, OrderStatus::received, h.status));
  auto ctx = st.ctx;
  auto header = h;
  req->on_commit = [ctx, header, reply, answer](const Status& s, uint64_t) {
    if (!s.ok()) return reply(problem_reply(s));
    ctx.stats->events_emitted.fetch_add(1, std::memory_order_relaxed);
    notify_order(ctx, header);
    reply(answer);
  };
  auto s = detail::submit_counted(st.ctx, st.handle, std::move(req));
  if (!s.ok()) {
    st.shipment.reset();
    reply(problem_reply(s));
  }
}

void handle_milestones(ShipmentActor* self, MilestoneBatch& b) {
  auto& st = self->state;
  auto& stats = *st.ctx.stats;
  auto batch = b.batch;
  if (!st.load_error.ok() || !st.shipment) {
    Status why = st.load_error.ok() ? Status{Code::not_found, "shipment '" + st.id + "' not found", "tracking_number"}
                                    : st.load_error;
    for (auto& item : b.items) batch->settle(item.line, {"rejected", why, st.id});
    return;
  }
  auto& s = *st.shipment;
  const fb::ShipmentT header_before = s.header;
  const size_t history_before = s.history.size();
  const TrackingStatus status_before = s.header.status;

  auto req = std::make_unique<storage::WriteRequest>();
  std::vector<std::pair<size_t, LineResult>> results;
  results.reserve(b.items.size());
  const int64_t now = now_us();
  for (auto& item : b.items) {
    auto d = decide(st.shipment, item.command, now);
    if (!d.status.ok()) {
      results.push_back({item.line, {"rejected", d.status, st.id}});
      continue;
    }
    results.push_back({item.line, {name(d.outcome), {}, st.id}});
    if (d.outcome == MilestoneOutcome::duplicate) continue;
    auto& h = s.header;
    req->ops.push_back({Column::milestones, keys::milestone(st.id, h.milestone_count - 1),
                        encode(item.command.milestone)});
    for (auto& ev : d.events)
      req->events.push_back(detail::encode_event(ev, fb::EntityKind::shipment, st.id, h.version, h.order_id,
                                                 now, OrderStatus::received, h.status));
  }
  const bool changed = s.history.size() != history_before;
  if (changed) req->ops.push_back({Column::shipments, st.id, encode(s.header)});
  auto ctx = st.ctx;
  const bool status_changed = s.header.status != status_before;
  std::optional<fb::ShipmentT> notify;
  if (status_changed) notify = s.header;
  size_t n_events = req->events.size();
  // Every line is settled only after the write (or, with nothing to write, a barrier)
  // commits: a "duplicate" answer must not be given for an original still in flight.
  req->on_commit = [ctx, batch, results = std::move(results), notify, n_events](const Status& st, uint64_t) {
    for (auto& [line, r] : results) {
      if (!st.ok()) {
        ctx.stats->milestones_rejected.fetch_add(1, std::memory_order_relaxed);
        batch->settle(line, {"rejected", st, r.shipment_id});
        continue;
      }
      auto& counter = r.outcome == "applied" ? ctx.stats->milestones_applied
                      : r.outcome == "late"  ? ctx.stats->milestones_late
                      : r.outcome == "duplicate" ? ctx.stats->milestones_duplicate
                                                 : ctx.stats->milestones_rejected;
      counter.fetch_add(1, std::memory_order_relaxed);
      batch->settle(line, r);
    }
    if (st.ok()) ctx.stats->events_emitted.fetch_add(n_events, std::memory_order_relaxed);
    if (st.ok() && notify) notify_order(ctx, *notify);
  };
  (void)stats;
  auto submitted = detail::submit_counted(st.ctx, st.handle, std::move(req));
  if (!submitted.ok()) {
    s.header = header_before;
    s.history.resize(history_before);
    for (auto& item : b.items) batch->settle(item.line, {"rejected", submitted, st.id});
  }
}

caf::behavior shipment_actor(ShipmentActor* self, EntityContext ctx, std::string id,
                             std::shared_ptr<EntityHandle> handle) {
  auto& st = self->state;
  st.ctx = ctx;
  st.id = std::move(id);
  st.handle = std::move(handle);
  st.load_error = load(st);
  return {
      [=](std::shared_ptr<ShipmentRequest>& r) {
        handle_register(self, *r);
        self->state.handle->done();
      },
      [=](std::shared_ptr<MilestoneBatch>& b) {
        handle_milestones(self, *b);
        self->state.handle->done();
      },
      [=](std::shared_ptr<std::function<void()>>& task) {
        (*task)();
        self->state.handle->done();
      },
      [=](passivate_atom) { self->quit(); },
  };
}

}  // namespace

caf::actor spawn_shipment_actor(caf::actor_system& sys, const EntityContext& ctx,
                                const std::string& shipment_id, std::shared_ptr<EntityHandle> handle) {
  return sys.spawn<caf::lazy_init>(shipment_actor, ctx, shipment_id, std::move(handle));
}

}  // namespace waybill::actors
