#include "shipment_actor.hpp"

#include "waybill/actors/reads.hpp"
#include "waybill/actors/render.hpp"
#include "waybill/actors/tracking_poll.hpp"

namespace waybill::actors::detail {

using storage::Column;
using B = fb::BookingState;

namespace {

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

// What an order derives from a shipment: open, moving (carrier has it), exception,
// delivered, cancelled. Moves within a class (in_transit -> out_for_delivery) do not
// concern the order, so they cost it no write.
int order_class(TrackingStatus s) {
  if (s == TrackingStatus::cancelled) return 0;
  if (s == TrackingStatus::delivered) return 1;
  if (s == TrackingStatus::exception) return 2;
  if (carrier_confirmed(s)) return 3;
  return 4;
}

// Tells the order about the shipment's status, after the shipment's change committed.
void notify_order(const EntityContext& ctx, const fb::ShipmentT& h) {
  if (h.order_id.empty()) return;
  auto req = std::make_shared<OrderRequest>();
  ShipmentObserved obs;
  obs.ref.shipment_id = h.shipment_id;
  obs.ref.status = h.status;
  obs.ref.carrier_confirmed = carrier_confirmed(h);
  req->command = std::move(obs);
  req->reply = [](Reply) {};
  // If the order cannot take it now (resident cap), it re-derives this on activation.
  (void)ctx.orders->send(h.order_id, caf::make_message(std::move(req)));
}

std::string exception_record(const fb::ShipmentT& h, int64_t now) {
  fb::ShipmentT rec;  // the queue entry: just what filters and operators need
  rec.shipment_id = h.shipment_id;
  rec.order_id = h.order_id;
  rec.carrier = h.carrier;
  rec.service = h.service;
  rec.exception_reason = h.exception_reason;
  rec.exception_message = h.exception_message;
  rec.exception_carrier_code = h.exception_carrier_code;
  if (h.ship_to) rec.ship_to = std::make_unique<fb::PartyT>(*h.ship_to);
  rec.updated_us = now;
  return encode(rec);
}

// Index writes implied by a change of the header (same batch as the state).
void index_ops(const fb::ShipmentT* before, const fb::ShipmentT& after, int64_t now,
               const CarrierDirectory* carriers, std::vector<storage::WriteOp>* ops) {
  const std::string& id = after.shipment_id;
  // Outstanding carrier work survives a restart through the "work" index: an open
  // booking, or a booked one still to be reconciled.
  auto needs_work = [](const fb::ShipmentT& h) {
    return booking_open(h.booking_state) || (h.booking_state == B::booked && h.reconcile_pending);
  };
  bool had_work = before && needs_work(*before);
  bool has_work = needs_work(after);
  if (has_work && !had_work) ops->push_back({Column::work, keys::work_booking(id), {}});
  if (!has_work && had_work) ops->push_back({Column::work, keys::work_booking(id), {}, true});
  bool was_exc = before && before->booking_state == B::rejected;
  bool is_exc = after.booking_state == B::rejected;
  if (is_exc) ops->push_back({Column::exceptions, id, exception_record(after, now)});
  if (was_exc && !is_exc) ops->push_back({Column::exceptions, id, {}, true});
  for (auto& tn : after.tracking_numbers) {
    bool known = before && std::find(before->tracking_numbers.begin(), before->tracking_numbers.end(), tn) !=
                               before->tracking_numbers.end();
    if (!known) ops->push_back({Column::tracking_index, keys::tracking(after.carrier, tn, after.ship_date_us), id});
  }
  // Manifest day: the day the booking was requested (stable, so a void finds the entry).
  if (after.booking_state == B::booked && (!before || before->booking_state != B::booked)) {
    std::string tns;
    for (auto& tn : after.tracking_numbers) tns += (tns.empty() ? "" : ",") + tn;
    ops->push_back({Column::manifests, keys::manifest(after.carrier, after.requested_us, id), tns});
  }
  if (after.booking_state == B::voided && before && before->booking_state == B::booked)
    ops->push_back({Column::manifests, keys::manifest(after.carrier, after.requested_us, id), {}, true});
  if (!before && !after.order_id.empty()) {
    ops->push_back({Column::order_shipments, keys::order_shipment(after.order_id, id), {}});
    // The order's "create my shipment" work item is done once the shipment exists.
    ops->push_back({Column::work, keys::work_order(after.order_id), {}, true});
  }
  // Shipments of carriers without webhooks are polled while active (tracking_poll.hpp).
  tracking_poll_index_ops(carriers, before, after, ops);
}

}  // namespace

void poke(ShipmentActor* self, caf::message msg) {
  self->state.handle->inflight.fetch_add(1, std::memory_order_acq_rel);
  caf::anon_send(caf::actor_cast<caf::actor>(self), std::move(msg));
}

void persist(ShipmentActor* self, const ShipmentDecision& d, std::optional<ShipmentState> before,
             std::vector<storage::WriteOp> extra, std::function<void(const Status&)> after) {
  auto& st = self->state;
  auto& h = st.shipment->header;
  const int64_t now = h.updated_us;
  auto req = std::make_unique<storage::WriteRequest>();
  if (st.ctx.sla) rearm_sla(h, *st.ctx.sla, &req->ops);
  req->ops.push_back({Column::shipments, st.id, encode(h)});
  index_ops(before ? &before->header : nullptr, h, now, st.ctx.carriers, &req->ops);
  for (auto& op : extra) req->ops.push_back(std::move(op));
  uint64_t seq = h.version - d.events.size();
  req->event_index_key = h.order_id;
  for (auto& ev : d.events)
    req->events.push_back(encode_event(ev, fb::EntityKind::shipment, st.id, ++seq, h.order_id, now,
                                       OrderStatus::received, h.status));
  auto ctx = st.ctx;
  bool was_open = before && booking_open(before->header.booking_state);
  bool is_open = booking_open(h.booking_state);
  bool booking_changed = !before || before->header.booking_state != h.booking_state;
  std::optional<fb::ShipmentT> notify;
  if (!before || order_class(before->header.status) != order_class(h.status)) notify = h;
  size_t n_events = d.events.size();
  B state_now = h.booking_state;
  // Distributions for the metrics module, decided now, observed once committed.
  double label_s = -1, resolved_s = -1;
  std::string exc_carrier, exc_region, exc_reason;
  if (booking_changed && state_now == B::booked && h.order_created_us > 0)
    label_s = static_cast<double>(now - h.order_created_us) / 1e6;
  if (booking_changed && state_now == B::rejected) {
    exc_carrier = h.carrier.empty() ? "none" : h.carrier;
    exc_region = h.ship_to && !h.ship_to->country.empty() ? h.ship_to->country : "unknown";
    exc_reason = h.exception_reason;
  }
  bool resolved = before && before->header.booking_state == B::rejected && state_now != B::rejected;
  if (resolved && before->header.exception_us > 0)
    resolved_s = static_cast<double>(now - before->header.exception_us) / 1e6;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto handle = st.handle;
  req->on_commit = [=](const Status& s, uint64_t) {
    if (s.ok()) {
      ctx.stats->events_emitted.fetch_add(n_events, std::memory_order_relaxed);
      auto& stats = *ctx.stats;
      if (label_s >= 0 && stats.observe_order_to_label) stats.observe_order_to_label(label_s);
      if (!exc_reason.empty() && stats.count_exception) stats.count_exception(exc_carrier, exc_region, exc_reason);
      if (resolved) stats.operator_actions.fetch_add(1, std::memory_order_relaxed);
      if (resolved_s >= 0 && stats.observe_exception_resolution) stats.observe_exception_resolution(resolved_s);
      if (is_open && !was_open) ctx.stats->booking_backlog++;
      if (was_open && !is_open) ctx.stats->booking_backlog--;
      if (booking_changed && state_now == B::booked) ctx.stats->bookings_confirmed++;
      if (booking_changed && state_now == B::rejected) ctx.stats->exceptions_raised++;
      if (booking_changed && state_now == B::in_doubt) ctx.stats->bookings_in_doubt++;
      if (notify) notify_order(ctx, *notify);
      // The committed state may call for the next carrier call (booking, lookup,
      // pickup, reconciliation): drive it in the actor. drive() is idempotent.
      if (ctx.carriers && (is_open || state_now == B::booked)) {
        handle->inflight.fetch_add(1, std::memory_order_acq_rel);
        caf::anon_send(me, drive_atom::value);
      }
    } else {
      ctx.stats->write_failures.fetch_add(1, std::memory_order_relaxed);
    }
    if (after) after(s);
  };
  auto submitted = submit_counted(st.ctx, st.handle, std::move(req));
  if (!submitted.ok()) {
    st.shipment = std::move(before);
    if (after) after(submitted);
  }
}

void decide_and_reply(ShipmentActor* self, ShipmentDecision d, std::optional<ShipmentState> before, ReplyFn reply,
                      int success_status) {
  auto& st = self->state;
  if (!d.status.ok() || d.events.empty()) {
    if (!d.status.ok()) st.ctx.stats->commands_rejected.fetch_add(1, std::memory_order_relaxed);
    auto* store = st.ctx.store;
    std::string id = st.id;
    Status rejection = d.status;
    after_commit(self, st.ctx, st.handle, [=](const Status& s) {
      if (!reply) return;
      if (!s.ok()) return reply(problem_reply(s));
      if (!rejection.ok()) return reply(problem_reply(rejection));
      auto json = read_shipment_json(*store, id);
      reply(json ? Reply{200, *json} : problem_reply(json.status()));
    });
    return;
  }
  Reply answer{success_status, render_shipment(st.shipment->header, {}), false};
  persist(self, d, std::move(before), {}, [reply, answer](const Status& s) {
    if (reply) reply(s.ok() ? answer : problem_reply(s));
  });
}

namespace {

void handle_register(ShipmentActor* self, ShipmentRequest& r, const RegisterShipment& cmd) {
  auto& st = self->state;
  auto reply = std::move(r.reply);
  auto before = st.shipment;
  auto d = decide(st.shipment, cmd, context_now(st.ctx));
  if (!d.status.ok() || d.events.empty()) {
    if (!d.status.ok()) st.ctx.stats->commands_rejected.fetch_add(1, std::memory_order_relaxed);
    auto* store = st.ctx.store;
    std::string id = st.id;
    Status rejection = d.status;
    after_commit(self, st.ctx, st.handle, [=](const Status& s) {
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
  std::vector<storage::WriteOp> extra;
  extra.push_back({Column::idempotency, keys::idempotency("shipment.create", st.id),
                   encode_idempotency(h.request_hash, replay, now)});
  if (r.idempotency)
    extra.push_back({Column::idempotency, r.idempotency->record_key,
                     encode_idempotency(r.idempotency->request_hash, answer, now)});
  persist(self, d, std::move(before), std::move(extra), [reply, answer](const Status& s) {
    reply(s.ok() ? answer : problem_reply(s));
  });
}

void handle_milestones(ShipmentActor* self, MilestoneBatch& b) {
  auto& st = self->state;
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
  req->event_index_key = s.header.order_id;
  std::vector<std::pair<size_t, LineResult>> results;
  results.reserve(b.items.size());
  size_t n_notifications = 0;
  std::vector<int64_t> applied_times;  // carrier event times, for tracking latency
  const int64_t now = context_now(st.ctx);
  for (auto& item : b.items) {
    auto d = decide(st.shipment, item.command, now);
    if (!d.status.ok()) {
      results.push_back({item.line, {"rejected", d.status, st.id}});
      continue;
    }
    results.push_back({item.line, {name(d.outcome), {}, st.id}});
    if (d.outcome == MilestoneOutcome::duplicate) continue;
    if (d.outcome == MilestoneOutcome::applied) applied_times.push_back(item.command.milestone.event_time_us);
    auto& h = s.header;
    req->ops.push_back({Column::milestones, keys::milestone(st.id, h.milestone_count - 1),
                        encode(item.command.milestone)});
    uint64_t seq = h.version - d.events.size();
    for (auto& ev : d.events) {
      if (ev.notification) ++n_notifications;
      req->events.push_back(encode_event(ev, fb::EntityKind::shipment, st.id, ++seq, h.order_id, now,
                                         OrderStatus::received, h.status));
    }
  }
  if (s.history.size() != history_before) {
    if (st.ctx.sla) rearm_sla(s.header, *st.ctx.sla, &req->ops);
    req->ops.push_back({Column::shipments, st.id, encode(s.header)});
    // Delivered (or returned) ends polling in the same batch as the milestone.
    tracking_poll_index_ops(st.ctx.carriers, &header_before, s.header, &req->ops);
  }
  auto ctx = st.ctx;
  std::optional<fb::ShipmentT> notify;
  if (order_class(s.header.status) != order_class(status_before)) notify = s.header;
  size_t n_events = req->events.size();
  // Every line is settled only after the write (or, with nothing to write, a barrier)
  // commits: a "duplicate" answer must not be given for an original still in flight.
  req->on_commit = [ctx, batch, results = std::move(results), notify, n_events, n_notifications,
                    applied_times = std::move(applied_times)](const Status& st, uint64_t) {
    for (auto& [line, r] : results) {
      if (!st.ok()) {
        ctx.stats->milestones_rejected.fetch_add(1, std::memory_order_relaxed);
        batch->settle(line, {"rejected", st, r.shipment_id});
        continue;
      }
      auto& counter = r.outcome == "applied"     ? ctx.stats->milestones_applied
                      : r.outcome == "late"      ? ctx.stats->milestones_late
                      : r.outcome == "duplicate" ? ctx.stats->milestones_duplicate
                                                 : ctx.stats->milestones_rejected;
      counter.fetch_add(1, std::memory_order_relaxed);
      batch->settle(line, r);
    }
    if (st.ok()) ctx.stats->events_emitted.fetch_add(n_events, std::memory_order_relaxed);
    if (st.ok()) ctx.stats->notifications.fetch_add(n_notifications, std::memory_order_relaxed);
    if (st.ok() && ctx.stats->observe_tracking_latency && !applied_times.empty()) {
      const int64_t committed = now_us();
      for (auto t : applied_times)  // carrier clocks run ahead at times: clamp at zero
        ctx.stats->observe_tracking_latency(static_cast<double>(std::max<int64_t>(0, committed - t)) / 1e6);
    }
    if (st.ok() && notify) notify_order(ctx, *notify);
  };
  auto submitted = submit_counted(st.ctx, st.handle, std::move(req));
  if (!submitted.ok()) {
    s.header = header_before;
    s.history.resize(history_before);
    for (auto& item : b.items) batch->settle(item.line, {"rejected", submitted, st.id});
  }
}

// A due SLA timer: fire it if the header still holds that deadline, else drop the
// leftover key (the deadline moved or was already fired and rewritten).
void handle_sla_due(ShipmentActor* self, const SlaDue& due) {
  auto& st = self->state;
  if (!st.load_error.ok() || !st.ctx.sla) return;
  auto before = st.shipment;
  auto d = decide(st.shipment, due, *st.ctx.sla, context_now(st.ctx));
  if (d.events.empty()) {
    auto& h = st.shipment;
    auto k = static_cast<size_t>(due.kind);
    bool held = h && k < h->header.sla.size() && h->header.sla[k] && h->header.sla[k]->due_us == due.due_us;
    if (held) return;  // armed, not yet due at the scan time: the scanner comes back
    auto req = std::make_unique<storage::WriteRequest>();
    req->ops.push_back({Column::timers, sla_timer_key(due.due_us, due.kind, st.id), {}, true});
    (void)submit_counted(st.ctx, st.handle, std::move(req));
    return;
  }
  auto ctx = st.ctx;
  persist(self, d, std::move(before), {}, [ctx, kind = due.kind](const Status& s) {
    if (s.ok()) ctx.stats->sla_breaches[static_cast<size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
  });
}

void handle_request(ShipmentActor* self, ShipmentRequest& r) {
  auto& st = self->state;
  if (!st.load_error.ok()) return r.reply(problem_reply(st.load_error));
  if (!r.correlation_id.empty()) st.correlation_id = r.correlation_id;
  std::visit(
      [&](auto& cmd) {
        using C = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<C, RegisterShipment>) {
          handle_register(self, r, cmd);
        } else if constexpr (std::is_same_v<C, VoidShipment>) {
          handle_void(self, std::move(r.reply));
        } else {
          auto before = st.shipment;
          auto d = decide(st.shipment, cmd, context_now(st.ctx));
          decide_and_reply(self, std::move(d), std::move(before), std::move(r.reply), r.success_status);
        }
      },
      r.command);
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
        handle_request(self, *r);
        self->state.handle->done();
      },
      [=](std::shared_ptr<MilestoneBatch>& b) {
        handle_milestones(self, *b);
        self->state.handle->done();
      },
      [=](std::shared_ptr<BookingOutcome>& o) {
        handle_booking_outcome(self, *o);
        self->state.handle->done();
      },
      [=](ResumeWork) {
        auto& s = self->state;
        // Open bookings found at start-up count in the backlog until they settle.
        if (s.shipment && booking_open(s.shipment->header.booking_state)) s.ctx.stats->booking_backlog++;
        s.resumed = true;  // a "requested" booking may have been sent before the restart
        drive(self);
        self->state.handle->done();
      },
      [=](SlaDue due) {
        handle_sla_due(self, due);
        self->state.handle->done();
      },
      [=](drive_atom) {
        drive(self);
        self->state.handle->done();
      },
      [=](lookup_due_atom) {
        handle_lookup_due(self);
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
}  // namespace waybill::actors::detail

namespace waybill::actors {

caf::actor spawn_shipment_actor(caf::actor_system& sys, const EntityContext& ctx,
                                const std::string& shipment_id, std::shared_ptr<EntityHandle> handle) {
  return sys.spawn<caf::lazy_init>(detail::shipment_actor, ctx, shipment_id, std::move(handle));
}

}  // namespace waybill::actors
