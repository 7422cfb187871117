#include "waybill/actors/sla_logic.hpp"

#include <cassert>

#include "waybill/storage/store.hpp"

namespace waybill::actors {

using T = TrackingStatus;

namespace {

constexpr int64_t kUsPerS = 1'000'000;

bool terminal(T s) { return s == T::delivered || s == T::return_to_sender || s == T::cancelled; }

// Keeps one entry per kind, in kind order, so `h.sla[k]` is the timer of kind k.
void ensure_slots(fb::ShipmentT& h) {
  while (h.sla.size() < kSlaKinds) {
    auto t = std::make_unique<fb::SlaTimerT>();
    t->kind = static_cast<SlaKind>(h.sla.size());
    h.sla.push_back(std::move(t));
  }
}

std::string describe(SlaKind k, const fb::ShipmentT& h, const SlaOptions& o) {
  auto hours = [](int64_t s) { return std::to_string(s / 3600) + "h" + (s % 3600 ? std::to_string(s % 3600 / 60) + "m" : ""); };
  switch (k) {
    case SlaKind::no_pickup:
      return "no pickup scan within " + hours(o.no_pickup_after_s) + " of the label at " + format_rfc3339(h.label_us);
    case SlaKind::stale:
      return "no carrier scan for " + hours(o.stale_after_s) + " since " + format_rfc3339(h.last_scan_us) +
             " (status " + name(h.status) + ")";
    case SlaKind::eta_missed:
      return "estimated delivery " + format_rfc3339(h.estimated_delivery_us) + " passed by " + hours(o.eta_grace_s) +
             " without delivery (status " + name(h.status) + ")";
  }
  return "?";
}

}  // namespace

const char* name(SlaKind k) {
  switch (k) {
    case SlaKind::no_pickup: return "no_pickup";
    case SlaKind::stale: return "stale";
    case SlaKind::eta_missed: return "eta_missed";
  }
  return "?";
}

std::array<int64_t, kSlaKinds> sla_deadlines(const fb::ShipmentT& h, const SlaOptions& o) {
  std::array<int64_t, kSlaKinds> due{0, 0, 0};
  if (!o.enabled || terminal(h.status) || h.booking_state == fb::BookingState::voided) return due;
  if (h.status == T::label_created && h.label_us > 0)
    due[static_cast<size_t>(SlaKind::no_pickup)] = h.label_us + o.no_pickup_after_s * kUsPerS;
  if (carrier_confirmed(h.status) || h.status == T::stale) {
    if (h.last_scan_us > 0) due[static_cast<size_t>(SlaKind::stale)] = h.last_scan_us + o.stale_after_s * kUsPerS;
  }
  if (h.estimated_delivery_us > 0)
    due[static_cast<size_t>(SlaKind::eta_missed)] = h.estimated_delivery_us + o.eta_grace_s * kUsPerS;
  for (size_t k = 0; k < kSlaKinds; ++k)
    if (k < h.sla.size() && h.sla[k] && h.sla[k]->fired_due_us == due[k]) due[k] = 0;
  return due;
}

void rearm_sla(fb::ShipmentT& h, const SlaOptions& o, std::vector<storage::WriteOp>* ops) {
  auto due = sla_deadlines(h, o);
  bool any = false;
  for (auto d : due) any = any || d != 0;
  if (!any && h.sla.empty()) return;  // never armed: keep the header small
  ensure_slots(h);
  for (size_t k = 0; k < kSlaKinds; ++k) {
    auto& t = *h.sla[k];
    if (t.due_us == due[k]) continue;
    auto kind = static_cast<SlaKind>(k);
    if (t.due_us != 0) ops->push_back({storage::Column::timers, sla_timer_key(t.due_us, kind, h.shipment_id), {}, true});
    if (due[k] != 0) ops->push_back({storage::Column::timers, sla_timer_key(due[k], kind, h.shipment_id), {}});
    t.due_us = due[k];
  }
}

std::string sla_timer_key(int64_t due_us, SlaKind kind, const std::string& shipment_id) {
  assert(due_us > 0);
  std::string k = storage::be64(static_cast<uint64_t>(due_us));
  k += static_cast<char>(kind);
  k += shipment_id;
  return k;
}

std::optional<SlaTimerKey> parse_sla_timer_key(std::string_view key) {
  if (key.size() < 10) return std::nullopt;
  auto kind = static_cast<uint8_t>(key[8]);
  if (kind >= kSlaKinds) return std::nullopt;
  SlaTimerKey out;
  out.due_us = static_cast<int64_t>(storage::read_be64(key.substr(0, 8)));
  out.kind = static_cast<SlaKind>(kind);
  out.shipment_id = std::string(key.substr(9));
  return out;
}

ShipmentDecision decide(std::optional<ShipmentState>& state, const SlaDue& due, const SlaOptions& options,
                        int64_t now) {
  if (!state) return {};
  auto& h = state->header;
  auto k = static_cast<size_t>(due.kind);
  // Only the deadline the header still holds fires; anything else is a leftover key.
  if (k >= h.sla.size() || !h.sla[k] || h.sla[k]->due_us != due.due_us || due.due_us > due.scanned_us) return {};
  auto& t = *h.sla[k];
  t.fired_due_us = t.due_us;  // rearm_sla() then disarms it and deletes its key
  ShipmentDecision d;
  ++h.version;
  h.updated_us = now;
  EventSpec ev{"shipment.sla_breached", describe(due.kind, h, options), std::nullopt};
  ev.sla = t;
  d.events.push_back(std::move(ev));
  return d;
}

}  // namespace waybill::actors
