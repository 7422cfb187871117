#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actor_support.hpp"
#include "waybill/actors/reads.hpp"
#include "waybill/actors/render.hpp"
#include "waybill/runtime/log.hpp"

namespace waybill::actors {

namespace {

using storage::Column;

// Most shipments one order reconciles on activation (bounded work per activation).
constexpr size_t kMaxShipmentsPerOrder = 256;

struct OrderActorState {
  EntityContext ctx;
  std::string id;
  std::shared_ptr<EntityHandle> handle;
  std::optional<fb::OrderT> order;
  Status load_error;
  // Of the last request that carried one: a booking it starts goes out under it.
  std::string correlation_id;
};

using OrderActor = caf::stateful_actor<OrderActorState>;

// The shipment waybill books for an order, from the order's current data.
std::shared_ptr<ShipmentRequest> booking_request(const EntityContext& ctx, const fb::OrderT& o,
                                                 const std::string& correlation_id) {
  auto req = std::make_shared<ShipmentRequest>();
  req->correlation_id = correlation_id;
  CreateForBooking c;
  auto& s = c.shipment;
  s.shipment_id = keys::booked_shipment_id(o.order_id);
  s.order_id = o.order_id;
  s.service_level = o.service_level;
  s.ship_from = std::make_unique<fb::PartyT>(o.ship_from ? *o.ship_from : ctx.carriers->default_ship_from);
  if (o.ship_to) s.ship_to = std::make_unique<fb::PartyT>(*o.ship_to);
  for (auto& p : o.packages) s.packages.push_back(std::make_unique<fb::PackageT>(*p));
  s.request_hash = fnv1a64(encode(s));
  s.order_created_us = o.created_us;  // after the hash: not part of the booking's identity
  req->command = std::move(c);
  req->reply = [](Reply) {};
  return req;
}

// Booking starts when the warehouse confirms the pack, or at release when the order
// already carries its packages and the policy says so.
bool starts_booking(const EntityContext& ctx, const Decision& d, const fb::OrderT& o) {
  if (!ctx.carriers || ctx.carriers->adapters.empty() || o.packages.empty()) return false;
  for (auto& ev : d.events) {
    if (ev.type == "order.packed") return true;
    if (ev.type == "order.released" && ctx.carriers->book_on_release) return true;
  }
  return false;
}

// Turns an accepted decision into one write: state, events and the idempotency record.
// `records` are idempotency records (key, request hash) that answer `reply` on replay.
void persist(OrderActor* self, const Decision& d, const std::vector<IdempotencyClaim>& records,
             Reply reply, ReplyFn done, std::optional<fb::OrderT> rollback) {
  auto& st = self->state;
  auto& o = *st.order;
  const int64_t now = o.updated_us;
  auto req = std::make_unique<storage::WriteRequest>();
  req->ops.push_back({Column::orders, st.id, encode(o)});
  uint64_t seq = o.version - d.events.size();
  req->event_index_key = st.id;
  for (auto& ev : d.events) {
    // "order.released" carries the status it reports, not the decision's final one.
    auto at = parse_order_status(std::string_view(ev.type).substr(6));
    req->events.push_back(detail::encode_event(ev, fb::EntityKind::order, st.id, ++seq, st.id, now,
                                               at.value_or(o.status), TrackingStatus::pending));
  }
  for (auto& rec : records) {
    // A replayed create answers 200 where the first answered 201.
    Reply stored = reply;
    if (rec.record_key.rfind("order.create", 0) == 0) stored.status = 200;
    req->ops.push_back({Column::idempotency, rec.record_key,
                        encode_idempotency(rec.request_hash, stored, now)});
  }
  std::shared_ptr<ShipmentRequest> booking;
  if (starts_booking(st.ctx, d, o)) {
    // The work item makes the shipment's creation survive a crash before it happens.
    req->ops.push_back({Column::work, keys::work_order(st.id), {}});
    booking = booking_request(st.ctx, o, st.correlation_id);
  }
  auto* stats = st.ctx.stats;
  auto* shipments = st.ctx.shipments;
  size_t n_events = d.events.size();
  bool created = !d.events.empty() && d.events.front().type == "order.received";
  req->on_commit = [reply = std::move(reply), done, stats, n_events, booking, shipments, created](const Status& s,
                                                                                                uint64_t) {
    if (!s.ok()) stats->write_failures.fetch_add(1, std::memory_order_relaxed);
    else stats->events_emitted.fetch_add(n_events, std::memory_order_relaxed);
    if (s.ok() && created) stats->orders_created.fetch_add(1, std::memory_order_relaxed);
    if (s.ok() && booking) {
      auto id = std::get<CreateForBooking>(booking->command).shipment.shipment_id;
      // Refused only at the resident cap; the work item resumes it at the next start.
      (void)shipments->send(id, caf::make_message(booking));
    }
    if (done) done(s.ok() ? reply : problem_reply(s));
  };
  auto s = detail::submit_counted(st.ctx, st.handle, std::move(req));
  if (!s.ok()) {
    st.order = std::move(rollback);
    if (done) done(problem_reply(s));
  }
}

// Brings the order's view of its shipments up to date from the shipments' own records:
// a notification lost to a crash between a shipment's commit and the order's is
// recovered here, the next time the order is activated.
void reconcile(OrderActor* self) {
  auto& st = self->state;
  auto ids = load_order_shipment_ids(*st.ctx.store, st.id, kMaxShipmentsPerOrder);
  if (!ids) return;
  for (auto& sid : *ids) {
    auto sh = load_shipment(*st.ctx.store, sid);
    if (!sh) continue;
    ShipmentObserved obs;
    obs.ref.shipment_id = sid;
    obs.ref.status = sh->status;
    obs.ref.carrier_confirmed = carrier_confirmed(*sh);
    auto before = st.order;
    auto d = decide(st.order, OrderCommand{obs}, context_now(st.ctx));
    if (d.status.ok() && !d.events.empty()) persist(self, d, {}, Reply{}, nullptr, std::move(before));
  }
}

void handle_request(OrderActor* self, OrderRequest& r) {
  auto& st = self->state;
  if (!st.load_error.ok()) return r.reply(problem_reply(st.load_error));
  if (!r.correlation_id.empty()) st.correlation_id = r.correlation_id;
  auto before = st.order;
  auto d = decide(st.order, r.command, context_now(st.ctx));
  auto reply = std::move(r.reply);
  if (!d.status.ok()) {
    st.ctx.stats->commands_rejected.fetch_add(1, std::memory_order_relaxed);
    log::Logger("order", r.correlation_id)
        .debug("command refused", {{"order_id", st.id}, {"code", to_string(d.status.code())}, {"field", d.status.field()}});
    detail::after_commit(self, st.ctx, st.handle, [reply, status = d.status](const Status& s) {
      reply(problem_reply(s.ok() ? status : s));
    });
    return;
  }
  if (d.events.empty()) {
    // Accepted as a no-op (a replayed create, a repeated step): answer with what the
    // original request answered, once everything before it is durable.
    bool is_create = std::holds_alternative<CreateOrder>(r.command);
    auto* store = st.ctx.store;
    auto* writer = st.ctx.writer;
    std::string id = st.id;
    auto claim = r.idempotency;
    auto* clock = st.ctx.clock;
    detail::after_commit(self, st.ctx, st.handle, [=](const Status& s) {
      if (!s.ok()) return reply(problem_reply(s));
      Reply answer;
      std::optional<StoredReply> stored;
      if (is_create) {
        auto rec = load_idempotency(*store, keys::idempotency("order.create", id));
        if (rec) stored = std::move(*rec);
      }
      if (stored) {
        answer = stored->reply;
      } else {
        auto fresh = read_order_json(*store, id);
        answer = fresh ? Reply{200, *fresh} : problem_reply(fresh.status());
      }
      if (!claim || answer.problem) return reply(answer);
      // The caller's Idempotency-Key must replay this answer too, even though the
      // state did not change: store it before answering.
      auto req = std::make_unique<storage::WriteRequest>();
      req->ops.push_back({Column::idempotency, claim->record_key,
                          encode_idempotency(claim->request_hash, answer, clock ? clock() : now_us())});
      req->on_commit = [reply, answer](const Status& st2, uint64_t) { reply(st2.ok() ? answer : problem_reply(st2)); };
      if (auto st3 = writer->submit(std::move(req)); !st3.ok()) reply(problem_reply(st3));
    });
    return;
  }
  std::vector<std::string> shipment_ids;
  for (auto& ref : st.order->shipments) shipment_ids.push_back(ref->shipment_id);
  std::sort(shipment_ids.begin(), shipment_ids.end());  // same order as GET (key order)
  Reply answer{r.success_status, render_order(*st.order, shipment_ids), false};
  std::vector<IdempotencyClaim> records;
  // The create record makes a retried POST answer exactly what the first one did.
  if (auto* create = std::get_if<CreateOrder>(&r.command))
    records.push_back({keys::idempotency("order.create", st.id), create->order.request_hash});
  if (r.idempotency) records.push_back(*r.idempotency);
  log::Logger("order", r.correlation_id)
      .debug("command accepted", {{"order_id", st.id}, {"status", name(st.order->status)}, {"events", d.events.size()}});
  persist(self, d, records, std::move(answer), reply, std::move(before));
}

caf::behavior order_actor(OrderActor* self, EntityContext ctx, std::string id,
                          std::shared_ptr<EntityHandle> handle) {
  auto& st = self->state;
  st.ctx = ctx;
  st.id = std::move(id);
  st.handle = std::move(handle);
  auto loaded = load_order(*ctx.store, st.id);
  if (loaded) {
    st.order = std::move(*loaded);
    reconcile(self);
  } else if (loaded.status().code() != Code::not_found) {
    st.load_error = loaded.status();
  }
  return {
      [=](std::shared_ptr<OrderRequest>& r) {
        handle_request(self, *r);
        self->state.handle->done();
      },
      [=](std::shared_ptr<std::function<void()>>& task) {
        (*task)();
        self->state.handle->done();
      },
      [=](ResumeWork) {
        // Start-up found this order waiting for its booked shipment: create it (again;
        // creation is idempotent on the deterministic shipment id).
        auto& s = self->state;
        if (s.order && s.ctx.carriers && !s.order->packages.empty()) {
          auto req = booking_request(s.ctx, *s.order, {});
          (void)s.ctx.shipments->send(keys::booked_shipment_id(s.id), caf::make_message(std::move(req)));
        }
        s.handle->done();
      },
      [=](passivate_atom) { self->quit(); },
  };
}

}  // namespace

caf::actor spawn_order_actor(caf::actor_system& sys, const EntityContext& ctx,
                             const std::string& order_id, std::shared_ptr<EntityHandle> handle) {
  return sys.spawn<caf::lazy_init>(order_actor, ctx, order_id, std::move(handle));
}

}  // namespace waybill::actors
