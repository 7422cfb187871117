// The shipment actor's booking effects: rate, choose, book, resolve doubt by lookup,
// schedule pickup, void. Each effect is issued only for state that is already durable.
#include "shipment_actor.hpp"

#include <cstdlib>

#include "waybill/actors/reads.hpp"
#include "waybill/actors/render.hpp"
#include "waybill/runtime/log.hpp"

namespace waybill::actors::detail {

using B = fb::BookingState;

namespace {

BookingInput booking_input(const ShipmentActorState& st, const std::string& service) {
  auto& h = st.shipment->header;
  BookingInput in;
  in.reference = h.reference;
  in.service = service;
  in.carrier_shipment_id = h.carrier_shipment_id;
  if (h.ship_from) in.ship_from = *h.ship_from;
  else if (st.ctx.carriers) in.ship_from = st.ctx.carriers->default_ship_from;
  if (h.ship_to) in.ship_to = *h.ship_to;
  for (auto& p : h.packages) in.packages.push_back(*p);
  return in;
}

// Sends one carrier call; its answer comes back to this incarnation as a BookingOutcome.
bool call_carrier(ShipmentActor* self, const std::string& carrier, CallKind kind, const std::string& service,
                  size_t candidate = 0, const std::string& other_booking = {}) {
  auto& st = self->state;
  auto it = st.ctx.carriers->adapters.find(carrier);
  if (it == st.ctx.carriers->adapters.end()) return false;
  auto call = std::make_shared<CarrierCall>();
  call->kind = kind;
  call->input = booking_input(st, service);
  call->correlation_id = st.correlation_id;
  if (!other_booking.empty()) call->input.carrier_shipment_id = other_booking;  // void that one, not ours
  auto handle = st.handle;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  call->done = [handle, me, kind, candidate, other_booking](CallResult r) {
    handle->inflight.fetch_add(1, std::memory_order_acq_rel);
    caf::anon_send(me, std::make_shared<BookingOutcome>(BookingOutcome{kind, std::move(r), candidate, other_booking}));
  };
  st.handle->pending_effects.fetch_add(1, std::memory_order_acq_rel);
  caf::anon_send(it->second, std::move(call));
  return true;
}

void apply(ShipmentActor* self, ShipmentDecision d, std::optional<ShipmentState> before) {
  if (!d.status.ok() || d.events.empty()) return;
  persist(self, d, std::move(before), {}, nullptr);
}

template <class Cmd>
void apply_command(ShipmentActor* self, const Cmd& cmd) {
  auto& st = self->state;
  auto before = st.shipment;
  auto d = decide(st.shipment, cmd, context_now(st.ctx));
  apply(self, std::move(d), std::move(before));
}

void start_selection(ShipmentActor* self) {
  auto& st = self->state;
  auto& h = st.shipment->header;
  auto& dir = *st.ctx.carriers;
  if (!h.carrier.empty() && !h.service.empty()) {  // pinned by an operator
    auto* prof = dir.profile(h.carrier);
    auto* svc = prof ? prof->service(h.service) : nullptr;
    if (!svc) return apply_command(self, SelectionFailed{"invalid_service", "no service " + h.service + " at " + h.carrier});
    return apply_command(self, BookingIntent{Selection{{prof, svc}, {}, "operator choice: " + h.carrier + " " + h.service}});
  }
  std::vector<fb::PackageT> packages;
  for (auto& p : h.packages) packages.push_back(*p);
  auto cands = candidates(dir.profiles, h.service_level, h.ship_to ? h.ship_to->country : "", packages);
  if (cands.empty())
    return apply_command(self, SelectionFailed{"no_carrier_for_lane", std::string("no carrier service for ") +
                                                                          name(h.service_level) + " to " +
                                                                          (h.ship_to ? h.ship_to->country : "?")});
  if (dir.rule == SelectionRule::preferred || cands.size() == 1) {
    auto sel = choose(cands, {}, SelectionRule::preferred);
    if (cands.size() == 1) sel->reason = "only eligible service: " + cands[0].profile->name + " " + cands[0].service->code;
    return apply_command(self, BookingIntent{*sel});
  }
  Rating rating;
  rating.candidates = cands;
  rating.quotes.resize(cands.size());
  for (size_t i = 0; i < cands.size(); ++i)
    if (call_carrier(self, cands[i].profile->name, CallKind::rate, cands[i].service->code, i)) ++rating.pending;
  if (rating.pending == 0) return apply_command(self, SelectionFailed{"carrier_unavailable", "no adapter for any candidate"});
  st.rating = std::move(rating);
}

void on_rate(ShipmentActor* self, BookingOutcome& o) {
  auto& st = self->state;
  if (!st.rating) return;
  auto& rating = *st.rating;
  if (o.result.outcome == CallOutcome::ok && o.candidate < rating.candidates.size()) {
    auto& want = rating.candidates[o.candidate].service->code;
    for (auto& q : o.result.quotes)
      if (q.service == want) rating.quotes[o.candidate] = q;
  }
  if (--rating.pending > 0) return;
  auto sel = choose(rating.candidates, rating.quotes, st.ctx.carriers->rule);
  st.rating.reset();
  if (!sel) return apply_command(self, SelectionFailed{"no_quote", "no eligible carrier returned a quote"});
  apply_command(self, BookingIntent{*sel});
}

// A doubtful booking is booked: void any other booking the carrier made under the same
// reference (a lost request it processed after our lookup), so one live label remains.
void on_reconcile_lookup(ShipmentActor* self, BookingOutcome& o) {
  auto& st = self->state;
  if (o.result.outcome != CallOutcome::ok) return drive(self);  // look again later
  auto extras = extra_bookings(st.shipment->header, o.result.found);
  if (extras.empty()) return apply_command(self, ReconcileDone{});
  st.extra_voided.clear();
  st.extra_void_failed = false;
  for (auto& id : extras)
    if (call_carrier(self, st.shipment->header.carrier, CallKind::void_label, st.shipment->header.service, 0, id))
      ++st.extra_voids_pending;
  if (st.extra_voids_pending == 0) drive(self);
}

void on_extra_void(ShipmentActor* self, BookingOutcome& o) {
  auto& st = self->state;
  if (o.result.outcome == CallOutcome::ok) st.extra_voided.push_back(o.extra_booking);
  else st.extra_void_failed = true;
  if (--st.extra_voids_pending > 0) return;
  if (st.extra_void_failed) return drive(self);  // another reconciliation round later
  ReconcileDone done;
  done.voided = std::move(st.extra_voided);
  apply_command(self, done);
}

}  // namespace

void drive(ShipmentActor* self) {
  auto& st = self->state;
  if (!st.shipment || !st.ctx.carriers || !st.load_error.ok()) return;
  auto& h = st.shipment->header;
  switch (h.booking_state) {
    case B::selecting:
      st.resumed = false;  // nothing was sent for a booking still being chosen
      if (st.rating || st.call_outstanding) return;
      return start_selection(self);
    case B::requested:
      if (st.call_outstanding) return;
      if (st.resumed) {
        // After a restart nobody knows whether the booking call left: treat it as in doubt.
        st.resumed = false;
        CallResult r;
        r.outcome = CallOutcome::in_doubt;
        r.message = "process restarted with the booking under way";
        return apply_command(self, BookingOutcome{CallKind::book, r, 0});
      }
      if (!call_carrier(self, h.carrier, CallKind::book, h.service))
        return apply_command(self, BookingOutcome{CallKind::book, CallResult{CallOutcome::rejected, "unknown_carrier",
                                                                              "no adapter for " + h.carrier}, 0});
      st.call_outstanding = true;
      return;
    case B::in_doubt: {
      st.resumed = false;
      if (st.call_outstanding || st.lookup_scheduled) return;
      auto* prof = st.ctx.carriers->profile(h.carrier);
      int grace_ms = prof ? prof->limits.in_doubt_grace_ms : 1000;
      st.lookup_scheduled = true;
      st.handle->pending_effects.fetch_add(1, std::memory_order_acq_rel);
      self->delayed_send(self, std::chrono::milliseconds(grace_ms), lookup_due_atom::value);
      st.handle->inflight.fetch_add(1, std::memory_order_acq_rel);  // the timer message is counted
      return;
    }
    case B::booked: {
      st.resumed = false;
      auto* prof = st.ctx.carriers->profile(h.carrier);
      if (h.reconcile_pending && !st.lookup_scheduled && !st.call_outstanding && st.extra_voids_pending == 0) {
        // Give a late-processed lost request time to land before looking for it.
        int wait_ms = 2 * (prof ? std::max(prof->limits.in_doubt_grace_ms, prof->limits.timeout_ms) : 2000);
        st.lookup_scheduled = true;
        st.handle->pending_effects.fetch_add(1, std::memory_order_acq_rel);
        st.handle->inflight.fetch_add(1, std::memory_order_acq_rel);
        self->delayed_send(self, std::chrono::milliseconds(wait_ms), lookup_due_atom::value);
      }
      if (!prof || prof->pickup.path.empty() || !h.pickup_confirmation.empty() || st.pickup_tried || st.call_outstanding)
        return;
      st.pickup_tried = true;
      if (call_carrier(self, h.carrier, CallKind::pickup, h.service)) st.call_outstanding = true;
      return;
    }
    default:
      st.resumed = false;
      return;
  }
}

void handle_lookup_due(ShipmentActor* self) {
  auto& st = self->state;
  st.lookup_scheduled = false;
  st.handle->pending_effects.fetch_sub(1, std::memory_order_acq_rel);
  if (!st.shipment || st.call_outstanding) return;
  auto& h = st.shipment->header;
  bool reconciling = h.booking_state == B::booked && h.reconcile_pending;
  if (h.booking_state != B::in_doubt && !reconciling) return;
  if (call_carrier(self, h.carrier, CallKind::lookup, h.service)) st.call_outstanding = true;
}

void handle_booking_outcome(ShipmentActor* self, BookingOutcome& o) {
  auto& st = self->state;
  st.handle->pending_effects.fetch_sub(1, std::memory_order_acq_rel);
  auto& dir = *st.ctx.carriers;
  if (o.kind == CallKind::book && o.result.outcome == CallOutcome::ok && dir.crash_after_booking_answers > 0 &&
      dir.booking_answers.fetch_add(1) + 1 == dir.crash_after_booking_answers)
    std::_Exit(137);  // injected crash point: label sold, not yet persisted
  // The message and the request body are the carrier's words and may quote the address.
  log::Logger("shipment", st.correlation_id)
      .info("carrier call finished", {{"shipment_id", st.id},
                                      {"carrier", st.shipment ? st.shipment->header.carrier : std::string()},
                                      {"call", name(o.kind)},
                                      {"outcome", name(o.result.outcome)},
                                      {"reason", o.result.reason},
                                      {"attempts", o.result.attempts}});
  if (o.kind == CallKind::rate) return on_rate(self, o);
  if (!o.extra_booking.empty()) return on_extra_void(self, o);
  st.call_outstanding = false;
  if (!st.shipment) return;
  auto& hb = st.shipment->header;
  if (o.kind == CallKind::lookup && hb.booking_state == B::booked && hb.reconcile_pending)
    return on_reconcile_lookup(self, o);
  auto before = st.shipment;
  auto d = decide(st.shipment, o, context_now(st.ctx));
  if (o.kind == CallKind::lookup && d.status.ok() && !d.events.empty() &&
      st.shipment->header.booking_state == B::booked)
    st.ctx.stats->bookings_resolved_by_lookup++;
  auto reply = o.kind == CallKind::void_label ? std::exchange(st.void_reply, nullptr) : ReplyFn{};
  if (!d.status.ok() || d.events.empty()) {
    if (reply)
      reply(problem_reply({Code::conflict, "the carrier did not void the label: " + o.result.message, "status"}));
    return drive(self);  // e.g. a failed lookup: schedule the next one
  }
  Reply answer{200, render_shipment(st.shipment->header, {}), false};
  persist(self, d, std::move(before), {}, [reply, answer](const Status& s) {
    if (reply) reply(s.ok() ? answer : problem_reply(s));
  });
}

void handle_void(ShipmentActor* self, ReplyFn reply) {
  auto& st = self->state;
  if (!st.shipment) return reply(problem_reply({Code::not_found, "shipment '" + st.id + "' not found"}));
  auto& h = st.shipment->header;
  if (h.booking_state != B::booked || phase(h.status) > phase(TrackingStatus::label_created))
    return reply(problem_reply({Code::conflict, "only a booked label without carrier scans can be voided", "status"}));
  if (st.call_outstanding || st.void_reply)
    return reply(problem_reply({Code::in_flight, "another carrier call for this shipment is under way", "status"}));
  auto* prof = st.ctx.carriers ? st.ctx.carriers->profile(h.carrier) : nullptr;
  if (!prof || prof->void_label.path.empty())
    return reply(problem_reply({Code::conflict, "carrier " + h.carrier + " has no void endpoint", "carrier"}));
  if (!call_carrier(self, h.carrier, CallKind::void_label, h.service))
    return reply(problem_reply({Code::unavailable, "no adapter for carrier " + h.carrier}));
  st.call_outstanding = true;
  st.void_reply = std::move(reply);
}

}  // namespace waybill::actors::detail
