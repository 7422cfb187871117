#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actor_support.hpp"
#include "waybill/actors/reads.hpp"
#include "waybill/actors/render.hpp"

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
};

using OrderActor = caf::stateful_actor<OrderActorState>;

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
  for (auto& ev : d.events)
    req->events.push_back(detail::encode_event(ev, fb::EntityKind::order, st.id, ++seq, st.id, now,
                                               o.status, TrackingStatus::pending));
  for (auto& rec : records) {
    // A replayed create answers 200 where the first answered 201.
    Reply stored = reply;
    if (rec.record_key.rfind("order.create", 0) == 0) stored.status = 200;
    req->ops.push_back({Column::idempotency, rec.record_key,
                        encode_idempotency(rec.request_hash, stored, now)});
  }
  auto* stats = st.ctx.stats;
  size_t n_events = d.events.size();
  req->on_commit = [reply = std::move(reply), done, stats, n_events](const Status& s, uint64_t) {
    if (!s.ok()) stats->write_failures.fetch_add(1, std::memory_order_relaxed);
    else stats->events_emitted.fetch_add(n_events, std::memory_order_relaxed);
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
    obs.ref.carrier_confirmed = carrier_confirmed(sh->status);
    auto before = st.order;
    auto d = decide(st.order, OrderCommand{obs}, now_us());
    if (d.status.ok() && !d.events.empty()) persist(self, d, {}, Reply{}, nullptr, std::move(before));
  }
}

void handle_request(OrderActor* self, OrderRequest& r) {
  auto& st = self->state;
  if (!st.load_error.ok()) return r.reply(problem_reply(st.load_error));
  auto before = st.order;
  auto d = decide(st.order, r.command, now_us());
  auto reply = std::move(r.reply);
  if (!d.status.ok()) {
    st.ctx.stats->commands_rejected.fetch_add(1, std::memory_order_relaxed);
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
    std::string id = st.id;
    detail::after_commit(self, st.ctx, st.handle, [=](const Status& s) {
      if (!s.ok()) return reply(problem_reply(s));
      if (is_create) {
        auto stored = load_idempotency(*store, keys::idempotency("order.create", id));
        if (stored) return reply(stored->reply);
      }
      auto fresh = read_order_json(*store, id);
      reply(fresh ? Reply{200, *fresh} : problem_reply(fresh.status()));
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
      [=](passivate_atom) { self->quit(); },
  };
}

}  // namespace

caf::actor spawn_order_actor(caf::actor_system& sys, const EntityContext& ctx,
                             const std::string& order_id, std::shared_ptr<EntityHandle> handle) {
  return sys.spawn<caf::lazy_init>(order_actor, ctx, order_id, std::move(handle));
}

}  // namespace waybill::actors
