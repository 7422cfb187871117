#include "waybill/actors/entity.hpp"

#include <caf/send.hpp>
#include <caf/event_based_actor.hpp>

#include "actor_support.hpp"
#include "waybill/actors/render.hpp"

namespace waybill::actors {

namespace keys {
std::string milestone(const std::string& shipment_id, uint32_t index) {
  return milestone_prefix(shipment_id) + storage::be32(index);
}
std::string milestone_prefix(const std::string& shipment_id) { return shipment_id + '\0'; }
std::string tracking_prefix(const std::string& carrier, const std::string& tn) { return carrier + '\0' + tn + '\0'; }
std::string tracking(const std::string& carrier, const std::string& tn, int64_t ship_date_us) {
  return tracking_prefix(carrier, tn) + storage::be32(static_cast<uint32_t>(std::max<int64_t>(0, day_of(ship_date_us))));
}
int64_t day_of(int64_t us) {
  constexpr int64_t kUsPerDay = 86'400'000'000LL;
  return us >= 0 ? us / kUsPerDay : -((-us + kUsPerDay - 1) / kUsPerDay);
}
std::string order_shipment(const std::string& order_id, const std::string& shipment_id) {
  return order_shipment_prefix(order_id) + shipment_id;
}
std::string order_shipment_prefix(const std::string& order_id) { return order_id + '\0'; }
std::string idempotency(std::string_view scope, std::string_view key) {
  std::string k(scope);
  k += '\0';
  k += key;
  return k;
}
std::string work_order(const std::string& order_id) { return "o/" + order_id; }
std::string work_booking(const std::string& shipment_id) { return "b/" + shipment_id; }
std::string manifest_prefix(const std::string& carrier, int64_t day_us) {
  return carrier + '\0' + format_rfc3339(day_us).substr(0, 10) + '\0';
}
std::string manifest(const std::string& carrier, int64_t day_us, const std::string& shipment_id) {
  return manifest_prefix(carrier, day_us) + shipment_id;
}
std::string booked_shipment_id(const std::string& order_id) { return order_id + "-1"; }
}  // namespace keys

Reply problem_reply(const Status& st) {
  int http = 500;
  switch (st.code()) {
    case Code::ok: http = 200; break;
    case Code::invalid_argument: http = 400; break;
    case Code::not_found: http = 404; break;
    case Code::conflict: http = 409; break;
    case Code::idempotency_mismatch: http = 422; break;
    case Code::in_flight: http = 409; break;
    case Code::payload_too_large: http = 413; break;
    case Code::unavailable: http = 503; break;
    case Code::overloaded: http = 429; break;
    case Code::forbidden: http = 403; break;
    case Code::internal: http = 500; break;
  }
  return Reply{http, render_problem(http, st), true};
}

void TrackingBatch::settle(size_t line, LineResult result) {
  result.line_number = results_[line].line_number;
  results_[line] = std::move(result);
  if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) finish_(results_);
}

namespace detail {

std::string encode_event(const EventSpec& spec, fb::EntityKind kind, const std::string& entity_id,
                         uint64_t entity_seq, const std::string& order_id, int64_t now,
                         OrderStatus order_status, TrackingStatus shipment_status) {
  fb::EventT ev;
  ev.type = spec.type;
  ev.kind = kind;
  ev.entity_id = entity_id;
  ev.entity_seq = entity_seq;
  ev.order_id = order_id;
  ev.time_us = now;
  ev.order_status = order_status;
  ev.shipment_status = shipment_status;
  ev.reason = spec.reason;
  if (spec.milestone) ev.milestone = std::make_unique<fb::MilestoneT>(*spec.milestone);
  if (spec.sla) ev.sla = std::make_unique<fb::SlaTimerT>(*spec.sla);
  if (spec.notification) ev.notification = std::make_unique<fb::NotificationT>(*spec.notification);
  return encode(ev);
}

Status submit_counted(const EntityContext& ctx, const std::shared_ptr<EntityHandle>& handle,
                      std::unique_ptr<storage::WriteRequest> request) {
  handle->pending_writes.fetch_add(1, std::memory_order_acq_rel);
  auto inner = std::move(request->on_commit);
  request->on_commit = [handle, inner = std::move(inner)](const Status& s, uint64_t pos) {
    if (inner) inner(s, pos);
    handle->pending_writes.fetch_sub(1, std::memory_order_acq_rel);
  };
  auto st = ctx.writer->submit(std::move(request));
  if (!st.ok()) handle->pending_writes.fetch_sub(1, std::memory_order_acq_rel);
  return st;
}

void after_commit(caf::event_based_actor* self, const EntityContext& ctx,
                  const std::shared_ptr<EntityHandle>& handle, std::function<void(const Status&)> fn) {
  if (handle->pending_writes.load(std::memory_order_acquire) == 0) {
    fn(Status{});
    return;
  }
  // The continuation re-enters the actor as a message, counted like any other so the
  // registry cannot passivate the actor while it is outstanding.
  handle->inflight.fetch_add(1, std::memory_order_acq_rel);
  auto request = std::make_unique<storage::WriteRequest>();
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto shared_fn = std::make_shared<std::function<void(const Status&)>>(std::move(fn));
  request->on_commit = [me, shared_fn](const Status& s, uint64_t) {
    caf::anon_send(me, std::make_shared<std::function<void()>>([shared_fn, s] { (*shared_fn)(s); }));
  };
  auto st = ctx.writer->submit(std::move(request));
  if (!st.ok()) {
    handle->done();
    (*shared_fn)(st);
  }
}

}  // namespace detail
}  // namespace waybill::actors
