#include "waybill/actors/booking_logic.hpp"

#include <algorithm>

namespace waybill::actors {

using B = fb::BookingState;
using T = TrackingStatus;

std::vector<Candidate> candidates(const std::vector<CarrierProfile>& profiles, ServiceLevel level,
                                  const std::string& country, const std::vector<fb::PackageT>& packages) {
  std::vector<Candidate> out;
  bool hazmat = std::any_of(packages.begin(), packages.end(), [](auto& p) { return p.hazmat; });
  int64_t heaviest_g = 0;
  for (auto& p : packages) heaviest_g = std::max(heaviest_g, p.weight_g);
  for (auto& prof : profiles)
    for (auto& s : prof.services) {
      if (s.level != level) continue;
      if (hazmat && !s.hazmat_allowed) continue;
      if (static_cast<double>(heaviest_g) / 1000.0 > s.max_weight_kg) continue;
      if (!s.countries.empty() && std::find(s.countries.begin(), s.countries.end(), country) == s.countries.end())
        continue;
      out.push_back({&prof, &s});
    }
  return out;
}

std::optional<Selection> choose(const std::vector<Candidate>& cands, const std::vector<std::optional<Quote>>& quotes,
                                SelectionRule rule) {
  if (cands.empty()) return std::nullopt;
  if (rule == SelectionRule::preferred) {
    Selection s{cands[0], quotes.empty() || !quotes[0] ? Quote{} : *quotes[0], {}};
    s.reason = "preferred: " + cands[0].profile->name + " " + cands[0].service->code + " is first of " +
               std::to_string(cands.size()) + " eligible";
    return s;
  }
  std::optional<size_t> best;
  auto better = [&](size_t a, size_t b) {
    auto& qa = *quotes[a];
    auto& qb = *quotes[b];
    if (rule == SelectionRule::cheapest)
      return std::tie(qa.total_minor, qa.transit_days) < std::tie(qb.total_minor, qb.transit_days);
    return std::tie(qa.transit_days, qa.total_minor) < std::tie(qb.transit_days, qb.total_minor);
  };
  size_t quoted = 0;
  for (size_t i = 0; i < cands.size() && i < quotes.size(); ++i) {
    if (!quotes[i]) continue;
    ++quoted;
    if (!best || better(i, *best)) best = i;
  }
  if (!best) return std::nullopt;
  auto& q = *quotes[*best];
  Selection s{cands[*best], q, {}};
  s.reason = std::string(rule == SelectionRule::cheapest ? "cheapest" : "fastest") + " of " + std::to_string(quoted) +
             " quote(s): " + cands[*best].profile->name + " " + q.service + " " + std::to_string(q.total_minor) + " " +
             q.currency + " minor units, " + std::to_string(q.transit_days) + " day(s)";
  return s;
}

namespace {

ShipmentDecision event(ShipmentState& s, std::string type, std::string reason, int64_t now) {
  ShipmentDecision d;
  ++s.header.version;
  s.header.updated_us = now;
  d.events.push_back({std::move(type), std::move(reason), std::nullopt});
  return d;
}

void to_exception(ShipmentState& s, ShipmentDecision& d, const std::string& reason, const std::string& message,
                  const std::string& code, int64_t now) {
  auto& h = s.header;
  h.booking_state = B::rejected;
  h.exception_us = now;
  h.exception_reason = reason;
  h.exception_message = message;
  h.exception_carrier_code = code;
  d.status_changed = h.status != T::exception;
  h.status = T::exception;
  ++h.version;
  h.updated_us = now;
  d.events.push_back({"shipment.exception", reason + (message.empty() ? "" : ": " + message), std::nullopt});
}

}  // namespace

ShipmentDecision decide(std::optional<ShipmentState>& state, const CreateForBooking& c, int64_t now) {
  if (state) {
    if (state->header.request_hash == c.shipment.request_hash) return {};
    return {Status{Code::conflict, "shipment '" + c.shipment.shipment_id + "' exists with other data", "shipment_id"}, {}};
  }
  ShipmentState s;
  s.header = c.shipment;
  auto& h = s.header;
  h.carrier.clear();  // chosen by selection
  h.service.clear();
  h.status = T::pending;
  h.booking_state = B::selecting;
  h.reference = h.shipment_id;  // deterministic: the same shipment always books under one key
  h.created_us = h.updated_us = now;
  h.current_event_time_us = INT64_MIN;
  h.current_sequence = INT64_MIN;
  h.version = 0;
  auto d = event(s, "shipment.created", "created for booking, " + std::to_string(h.packages.size()) + " package(s)", now);
  d.status_changed = true;
  state = std::move(s);
  return d;
}

ShipmentDecision decide(std::optional<ShipmentState>& state, const BookingIntent& c, int64_t now) {
  if (!state) return {Status{Code::not_found, "shipment not found"}, {}};
  auto& h = state->header;
  if (h.booking_state != B::selecting) return {};  // a stale selection: ignore
  if (h.booking_rounds >= kMaxBookingRounds) {
    ShipmentDecision d;
    to_exception(*state, d, "carrier_unavailable", "booking rounds exhausted", "", now);
    return d;
  }
  auto& sel = c.selection;
  h.carrier = sel.chosen.profile->name;
  h.service = sel.chosen.service->code;
  h.profile_version = sel.chosen.profile->version;
  h.selection_reason = sel.reason;
  h.booking_state = B::requested;
  h.requested_us = now;
  ++h.booking_rounds;
  if (sel.quote.total_minor > 0) {
    auto rate = std::make_unique<fb::RateSnapshotT>();
    rate->carrier = h.carrier;
    rate->service = sel.quote.service;
    rate->total = std::make_unique<fb::MoneyT>();
    rate->total->amount_minor = sel.quote.total_minor;
    rate->total->currency = sel.quote.currency;
    rate->quoted_us = now;
    h.rate = std::move(rate);
  }
  return event(*state, "shipment.booking_requested",
               sel.reason + " (profile " + h.carrier + " v" + std::to_string(h.profile_version) + ")", now);
}

ShipmentDecision decide(std::optional<ShipmentState>& state, const BookingOutcome& c, int64_t now) {
  if (!state) return {Status{Code::not_found, "shipment not found"}, {}};
  auto& s = *state;
  auto& h = s.header;
  auto& r = c.result;
  const bool awaiting = h.booking_state == B::requested || h.booking_state == B::in_doubt;
  ShipmentDecision d;
  auto book = [&](const BookingResult& b, const std::string& how) {
    h.booking_state = B::booked;
    if (h.label_us == 0) h.label_us = now;
    if (h.ship_date_us == 0) h.ship_date_us = now;
    h.carrier_shipment_id = b.carrier_shipment_id;
    h.tracking_numbers = b.tracking_numbers;
    h.labels.clear();
    for (size_t i = 0; i < b.tracking_numbers.size(); ++i) {
      auto label = std::make_unique<fb::LabelT>();
      label->format = b.label_format;
      label->tracking_number = b.tracking_numbers[i];
      label->data_ref = i < b.labels.size() ? b.labels[i] : "";
      h.labels.push_back(std::move(label));
    }
    for (size_t i = 0; i < h.packages.size() && i < b.tracking_numbers.size(); ++i)
      h.packages[i]->tracking_number = b.tracking_numbers[i];
    if (b.total_minor > 0 && !h.rate) {
      h.rate = std::make_unique<fb::RateSnapshotT>();
      h.rate->carrier = h.carrier;
      h.rate->service = h.service;
      h.rate->total = std::make_unique<fb::MoneyT>();
      h.rate->total->amount_minor = b.total_minor;
      h.rate->total->currency = b.currency;
      h.rate->quoted_us = now;
    }
    h.exception_reason.clear();
    h.exception_message.clear();
    h.exception_carrier_code.clear();
    std::string reason = how + ": " + std::to_string(b.tracking_numbers.size()) + " label(s), carrier shipment " +
                         b.carrier_shipment_id + " (profile v" + std::to_string(r.profile_version) + ")";
    ++h.version;
    d.events.push_back({"shipment.booked", reason, std::nullopt});
    // label_created only moves a shipment that no carrier scan has moved further.
    if (phase(h.status) <= phase(T::label_created) || h.status == T::exception) {
      d.status_changed = h.status != T::label_created;
      h.status = T::label_created;
      h.current_event_time_us = INT64_MIN;
      h.current_sequence = INT64_MIN;
      ++h.version;
      d.events.push_back({"shipment.label_created", reason, std::nullopt});
    }
    h.updated_us = now;
  };

  switch (c.kind) {
    case CallKind::book:
      if (!awaiting) return {};
      switch (r.outcome) {
        case CallOutcome::ok: book(r.booking, "booked after " + std::to_string(r.attempts) + " attempt(s)"); return d;
        case CallOutcome::rejected: to_exception(s, d, r.reason, r.message, r.carrier_code, now); return d;
        case CallOutcome::in_doubt:
          if (h.booking_state == B::in_doubt) return {};
          h.booking_state = B::in_doubt;
          h.reconcile_pending = true;  // once booked, look for a late duplicate to void
          return event(s, "shipment.booking_in_doubt", "no answer from the carrier (" + r.message + "); will look up by reference", now);
        case CallOutcome::failed:
        case CallOutcome::refused:
          // Nothing reached the carrier: choose again in a new round (bounded).
          if (h.booking_rounds >= kMaxBookingRounds) {
            to_exception(s, d, "carrier_unavailable", r.message, "", now);
            return d;
          }
          h.booking_state = B::selecting;
          h.carrier.clear();  // choose afresh: that carrier may be the problem
          h.service.clear();
          return event(s, "shipment.booking_retry", std::string(name(r.outcome)) + ": " + r.message, now);
      }
      return {};
    case CallKind::lookup:
      if (h.booking_state != B::in_doubt) return {};
      if (r.outcome != CallOutcome::ok) return {};  // try the lookup again later
      if (!r.found.empty()) {
        book(r.found.front(), "found at the carrier by reference " + h.reference);
        return d;
      }
      h.booking_state = B::requested;  // the carrier never booked it: safe to send again
      h.requested_us = now;
      return event(s, "shipment.booking_requested", "lookup found no booking under " + h.reference + "; booking again", now);
    case CallKind::pickup:
      if (h.booking_state != B::booked || r.outcome != CallOutcome::ok || !h.pickup_confirmation.empty()) return {};
      h.pickup_confirmation = r.booking.carrier_shipment_id.empty() ? "scheduled" : r.booking.carrier_shipment_id;
      return event(s, "shipment.pickup_scheduled", "pickup confirmation " + h.pickup_confirmation, now);
    case CallKind::void_label:
      if (h.booking_state != B::booked || r.outcome != CallOutcome::ok) return {};
      h.booking_state = B::voided;
      d.status_changed = h.status != T::cancelled;
      h.status = T::cancelled;
      ++h.version;
      h.updated_us = now;
      d.events.push_back({"shipment.voided", "label voided at " + h.carrier, std::nullopt});
      d.events.push_back({"shipment.cancelled", "label voided", std::nullopt});
      h.version++;
      return d;
    case CallKind::rate:
    case CallKind::track:  // tracking polls answer the poller, not the shipment
      return {};
  }
  return {};
}

ShipmentDecision decide(std::optional<ShipmentState>& state, const ResolveException& c, int64_t now) {
  if (!state) return {Status{Code::not_found, "shipment not found"}, {}};
  auto& s = *state;
  auto& h = s.header;
  if (h.booking_state != B::rejected)
    return {Status{Code::conflict, "shipment is not in the exception queue", "status"}, {}};
  if (c.action == "cancel") {
    ShipmentDecision d;
    h.booking_state = B::none;
    d.status_changed = true;
    h.status = T::cancelled;
    ++h.version;
    h.updated_us = now;
    d.events.push_back({"shipment.cancelled", "cancelled by an operator from the exception queue", std::nullopt});
    return d;
  }
  if (c.action != "retry") return {Status{Code::invalid_argument, "must be retry or cancel", "action"}, {}};
  if (c.ship_to) h.ship_to = std::make_unique<fb::PartyT>(*c.ship_to);
  // A carrier named by the operator pins the next selection; otherwise choose afresh.
  h.carrier = c.carrier;
  h.service = c.carrier.empty() ? std::string() : c.service;
  h.booking_state = B::selecting;
  h.booking_rounds = 0;  // an operator's correction starts a fresh budget
  h.status = T::pending;
  auto d = event(s, "shipment.exception_resolved",
                 "operator retry" + (c.carrier.empty() ? std::string() : " with " + c.carrier + " " + c.service) +
                     (c.ship_to ? ", corrected address" : ""),
                 now);
  d.status_changed = true;
  return d;
}

ShipmentDecision decide(std::optional<ShipmentState>& state, const SelectionFailed& c, int64_t now) {
  if (!state) return {Status{Code::not_found, "shipment not found"}, {}};
  if (state->header.booking_state != B::selecting) return {};
  ShipmentDecision d;
  to_exception(*state, d, c.reason, c.message, "", now);
  return d;
}

ShipmentDecision decide(std::optional<ShipmentState>& state, const ReconcileDone& c, int64_t now) {
  if (!state || !state->header.reconcile_pending || state->header.booking_state != B::booked) return {};
  auto& h = state->header;
  h.reconcile_pending = false;
  std::string reason = "carrier bookings under " + h.reference + " reconciled";
  if (!c.voided.empty()) {
    reason += "; voided late duplicate(s):";
    for (auto& id : c.voided) reason += " " + id;
  }
  return event(*state, c.voided.empty() ? "shipment.reconciled" : "shipment.duplicate_voided", reason, now);
}

std::vector<std::string> extra_bookings(const fb::ShipmentT& h, const std::vector<BookingResult>& found) {
  std::vector<std::string> out;
  for (auto& b : found)
    if (b.carrier_shipment_id != h.carrier_shipment_id &&
        std::find(out.begin(), out.end(), b.carrier_shipment_id) == out.end())
      out.push_back(b.carrier_shipment_id);
  return out;
}

bool booking_open(fb::BookingState s) { return s == B::selecting || s == B::requested || s == B::in_doubt; }

}  // namespace waybill::actors
