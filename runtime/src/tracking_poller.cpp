#include "waybill/runtime/tracking_poller.hpp"

#include <algorithm>
#include <chrono>
#include <deque>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include "waybill/runtime/log.hpp"

#include "waybill/actors/carrier_adapter.hpp"
#include "waybill/actors/reads.hpp"
#include "waybill/actors/tracking_poll.hpp"

namespace waybill::runtime {

namespace {

constexpr log::Logger kLog("tracking_poll");
using Clock = std::chrono::steady_clock;
using tick_atom = caf::atom_constant<caf::atom("polltick")>;

/// One shipment to poll, and how often it failed transiently in a row.
struct Unit {
  std::string shipment_id;
  int failures = 0;
};

struct PollAnswer {
  Unit unit;
  actors::CallResult result;
};
struct PollRetry {
  Unit unit;
};

}  // namespace
}  // namespace waybill::runtime

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::runtime::PollAnswer>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::runtime::PollRetry>)

namespace waybill::runtime {

namespace {

struct PollerState {
  const actors::CarrierProfile* profile = nullptr;
  TrackingPollerDeps deps;
  caf::actor adapter;
  std::shared_ptr<actors::AdapterStats> adapter_stats;
  std::shared_ptr<PollStats> stats;
  // The sweep: a walk over this carrier's index entries in key order, one page per tick.
  bool sweep_open = false;
  bool index_exhausted = false;  // the walk reached the last entry of this sweep
  std::string cursor;            // last key read in this sweep; empty: from the start
  Clock::time_point due;         // when the shipments of this sweep became due
  Clock::time_point next_sweep;
  int64_t seen_in_sweep = 0;
  bool warned_in_sweep = false;  // one warning per sweep about unmappable events
  // Bounded by batch_size each: the page holds at most one index page, retries at most
  // one page worth of failed polls.
  std::deque<Unit> page;
  std::deque<Unit> retries;
  size_t in_flight = 0;
};

using Poller = caf::stateful_actor<PollerState>;

const actors::TrackingPollOptions& options(const PollerState& st) { return st.profile->tracking_poll; }

void start_sweep_if_due(PollerState& st, Clock::time_point now) {
  if (st.sweep_open || now < st.next_sweep) return;
  st.sweep_open = true;
  st.index_exhausted = false;
  st.cursor.clear();
  st.due = st.next_sweep;
  st.next_sweep = st.due + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options(st).interval_s));
  if (st.next_sweep < now) st.next_sweep = now;  // behind schedule: no burst of catch-up sweeps
  st.seen_in_sweep = 0;
  st.warned_in_sweep = false;
}

// Reads the next page of the carrier's index entries into the page (bounded by batch_size).
void read_page(PollerState& st) {
  if (!st.sweep_open || st.index_exhausted || !st.page.empty()) return;
  const std::string prefix = actors::tracking_poll_prefix(st.profile->name);
  // The smallest key after the cursor is the cursor followed by a NUL byte.
  std::string start = st.cursor.empty() ? prefix : st.cursor + '\0';
  size_t limit = options(st).batch_size;
  size_t read = 0;
  bool past_prefix = false;
  auto status = st.deps.store->scan_from(storage::Column::tracking_poll, start, limit,
                                         [&](std::string_view key, std::string_view) {
                                           if (key.substr(0, prefix.size()) != prefix) {
                                             past_prefix = true;
                                             return false;
                                           }
                                           st.cursor.assign(key);
                                           st.page.push_back({std::string(key.substr(prefix.size())), 0});
                                           ++read;
                                           return true;
                                         });
  if (!status.ok()) {
    kLog.warn("reading the poll index failed", {{"carrier", st.profile->name}, {"error", status.message()}});
    return;  // the next tick reads from the same cursor
  }
  st.seen_in_sweep += static_cast<int64_t>(read);
  if (past_prefix || read < limit) st.index_exhausted = true;
}

void close_sweep_if_done(PollerState& st) {
  if (!st.sweep_open || !st.index_exhausted || !st.page.empty()) return;
  st.sweep_open = false;
  st.stats->sweeps_completed++;
  st.stats->last_sweep_shipments = st.seen_in_sweep;
}

// The calls one shipment's poll needs: one per piece when the path names a tracking
// number, else one for the whole shipment. Empty when the shipment is not to be polled.
std::vector<actors::BookingInput> poll_inputs(const PollerState& st, const fb::ShipmentT& h) {
  std::vector<actors::BookingInput> out;
  // An entry can outlive its reason only across profile changes (a carrier that stopped
  // being polled while the shipment finished, then was polled again): skip it. It costs
  // one read per sweep; the index is the shipment actor's to write, not the poller's.
  if (h.carrier != st.profile->name || !actors::tracking_poll_wanted(h)) return out;
  const auto& path = options(st).request.path;
  if (path.find("{carrier_shipment_id}") != std::string::npos && h.carrier_shipment_id.empty()) return out;
  actors::BookingInput base;
  base.reference = h.reference;
  base.carrier_shipment_id = h.carrier_shipment_id;
  if (path.find("{tracking_number}") == std::string::npos) {
    out.push_back(std::move(base));
    return out;
  }
  for (auto& tn : h.tracking_numbers) {
    if (out.size() >= options(st).max_concurrency) break;  // one shipment never exceeds the window
    out.push_back(base);
    out.back().tracking_number = tn;
  }
  return out;
}

// Sends the polls of one shipment; false when they do not fit the window now.
//
// Polls go through the carrier's adapter rather than around it with a bucket of their
// own: the rate limit and the breaker belong to the carrier account, and bookings and
// polls draw on the same budget, so two budgets could together exceed the contract.
// The adapter also brings the auth (OAuth tokens), timeouts and call metrics. The cost
// is that polls share the adapter's FIFO queue with bookings; the poller keeps at most
// max_concurrency of them there, and one attempt each (max_attempts = 1) keeps failed
// polls out of the adapter's backoff, where they would hold window slots.
bool poll(Poller* self, const Unit& unit) {
  auto& st = self->state;
  auto header = actors::load_shipment(*st.deps.store, unit.shipment_id);
  if (!header) return true;  // gone (or unreadable): nothing to poll
  auto inputs = poll_inputs(st, *header);
  if (inputs.empty()) return true;
  if (st.in_flight + inputs.size() > options(st).max_concurrency) return false;
  auto now = Clock::now();
  auto lag = std::chrono::duration_cast<std::chrono::microseconds>(now - st.due).count();
  st.stats->lag_us_sum += static_cast<uint64_t>(std::max<int64_t>(lag, 0));
  caf::actor me = caf::actor_cast<caf::actor>(self);
  for (auto& in : inputs) {
    auto call = std::make_shared<actors::CarrierCall>();
    call->kind = actors::CallKind::track;
    call->input = std::move(in);
    call->max_attempts = 1;
    call->done = [me, unit](actors::CallResult r) {
      caf::anon_send(me, std::make_shared<PollAnswer>(PollAnswer{unit, std::move(r)}));
    };
    ++st.in_flight;
    st.stats->polls_sent++;
    caf::anon_send(st.adapter, std::move(call));
  }
  st.stats->in_flight = static_cast<int64_t>(st.in_flight);
  return true;
}

// Sends due polls while the window has room. While the carrier's breaker is open the
// adapter would only hold the calls until its cool-down; they wait here instead, so that
// bookings queued at the adapter are not stuck behind them when it closes.
void pump(Poller* self) {
  auto& st = self->state;
  while (!st.page.empty() && st.in_flight < options(st).max_concurrency) {
    if (st.adapter_stats && st.adapter_stats->breaker_state.load() == 1) break;
    Unit unit = std::move(st.page.front());
    st.page.pop_front();
    if (!poll(self, unit)) {
      st.page.push_front(std::move(unit));
      break;
    }
  }
  close_sweep_if_done(st);
  bool behind = st.sweep_open && (!st.page.empty() || !st.index_exhausted);
  st.stats->lag_us = behind ? std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - st.due).count() : 0;
}

void retry_later(PollerState& st, Unit unit) {
  if (unit.failures >= options(st).max_retries) return;  // the next sweep polls it again
  if (st.retries.size() >= options(st).batch_size) return;
  for (auto& r : st.retries)
    if (r.shipment_id == unit.shipment_id) return;  // another piece of it failed already
  ++unit.failures;
  st.stats->polls_retried++;
  st.retries.push_back(std::move(unit));
}

// The mapped events go to the shipment actor as one batch, as an inbound webhook's would.
void deliver(Poller* self, const Unit& unit, std::vector<fb::MilestoneT> milestones) {
  auto& st = self->state;
  auto msg = std::make_shared<actors::MilestoneBatch>();
  std::vector<size_t> lines;
  const int64_t received = now_us();
  for (auto& m : milestones) {
    m.received_us = received;
    msg->items.push_back({actors::AddMilestone{std::move(m)}, lines.size()});
    lines.push_back(lines.size() + 1);
  }
  auto stats = st.stats;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  msg->batch = std::make_shared<actors::TrackingBatch>(lines, [stats, me, unit](std::vector<actors::LineResult>& r) {
    bool overloaded = false;
    for (auto& line : r) {
      if (line.outcome == "applied") stats->events_applied++;
      else if (line.outcome == "late") stats->events_late++;
      else if (line.outcome == "duplicate") stats->events_duplicate++;
      else stats->events_rejected++;
      overloaded = overloaded || line.status.code() == Code::unavailable;
    }
    // Not stored for lack of capacity: poll again at the next tick.
    if (overloaded) caf::anon_send(me, std::make_shared<PollRetry>(PollRetry{unit}));
  });
  size_t n = msg->items.size();
  auto sent = st.deps.shipments->send(unit.shipment_id, caf::make_message(std::move(msg)));
  if (!sent.ok()) {
    st.stats->events_rejected += n;
    retry_later(st, unit);
  }
}

void on_answer(Poller* self, PollAnswer& a) {
  auto& st = self->state;
  --st.in_flight;
  st.stats->in_flight = static_cast<int64_t>(st.in_flight);
  auto& r = a.result;
  if (r.outcome == actors::CallOutcome::ok) {
    st.stats->polls_ok++;
    st.stats->events_received += r.tracking.total;
    st.stats->events_skipped += r.tracking.skipped.size();
    if (!r.tracking.skipped.empty() && !st.warned_in_sweep) {
      st.warned_in_sweep = true;
      auto& why = r.tracking.skipped.front();
      kLog.warn("events skipped", {{"carrier", st.profile->name},
                                   {"shipment_id", a.unit.shipment_id},
                                   {"skipped", r.tracking.skipped.size()},
                                   {"example_field", why.field()},
                                   {"example_reason", why.message()}});
    }
    if (!r.tracking.milestones.empty()) deliver(self, a.unit, std::move(r.tracking.milestones));
  } else {
    st.stats->polls_failed++;
    // A business rejection (say 404 for a shipment the carrier forgot) is not retried
    // before the next sweep; everything else is transient.
    if (r.outcome != actors::CallOutcome::rejected) retry_later(st, std::move(a.unit));
    else kLog.debug("poll refused", {{"carrier", st.profile->name}, {"shipment_id", a.unit.shipment_id}, {"reason", r.reason}});
  }
  pump(self);
}

void on_tick(Poller* self) {
  auto& st = self->state;
  self->delayed_send(self, std::chrono::milliseconds(options(st).tick_ms), tick_atom::value);
  auto now = Clock::now();
  start_sweep_if_due(st, now);
  read_page(st);
  // Retries of the last ticks go first: they were due before anything on the page.
  while (!st.retries.empty()) {
    st.page.push_front(std::move(st.retries.back()));
    st.retries.pop_back();
  }
  pump(self);
}

caf::behavior poller(Poller* self, const actors::CarrierProfile* profile, TrackingPollerDeps deps,
                     std::shared_ptr<PollStats> stats) {
  auto& st = self->state;
  st.profile = profile;
  st.deps = deps;
  st.stats = std::move(stats);
  st.adapter = deps.carriers->adapters.at(profile->name);
  if (auto it = deps.carriers->stats.find(profile->name); it != deps.carriers->stats.end()) st.adapter_stats = it->second;
  st.next_sweep = Clock::now();
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) { on_tick(self); },
      [=](std::shared_ptr<PollAnswer>& a) { on_answer(self, *a); },
      [=](std::shared_ptr<PollRetry>& r) { retry_later(self->state, std::move(r->unit)); },
  };
}

}  // namespace

std::unique_ptr<TrackingPoller> TrackingPoller::start(caf::actor_system& system, TrackingPollerDeps deps) {
  std::unique_ptr<TrackingPoller> p(new TrackingPoller());
  for (auto& profile : deps.carriers->profiles) {
    auto& o = profile.tracking_poll;
    if (!o.enabled || !deps.carriers->adapters.count(profile.name)) continue;
    auto stats = std::make_shared<PollStats>();
    p->stats_[profile.name] = stats;
    p->actors_.push_back(system.spawn(poller, &profile, deps, stats));
    kLog.info("polling carrier", {{"carrier", profile.name},
                                  {"interval_s", o.interval_s},
                                  {"max_concurrency", o.max_concurrency},
                                  {"batch_size", o.batch_size},
                                  {"tick_ms", o.tick_ms}});
  }
  return p;
}

TrackingPoller::~TrackingPoller() { stop(); }

void TrackingPoller::stop() {
  for (auto& a : actors_) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  actors_.clear();
}

}  // namespace waybill::runtime
