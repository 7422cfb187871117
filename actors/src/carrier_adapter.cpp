#include "waybill/actors/carrier_adapter.hpp"

#include <chrono>
#include <deque>
#include <random>

#include <caf/actor_clock.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

namespace waybill::actors {

namespace {

// Time is read from the actor system's clock (the steady clock in production, a
// virtual one under CAF's test coordinator), like the delayed sends that act on it.
using Clock = caf::actor_clock;
using pump_atom = caf::atom_constant<caf::atom("pump")>;

struct Pending {
  CarrierCall call;
  int attempts = 0;
  Clock::time_point started;
  std::string last_body;
};

struct AttemptDone {
  std::shared_ptr<Pending> pending;
  CarrierHttpResult result;
  Clock::time_point sent;
};
struct TokenDone {
  CarrierHttpResult result;
};
struct RetryDue {
  std::shared_ptr<Pending> pending;
};

}  // namespace
}  // namespace waybill::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::actors::AttemptDone>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::actors::TokenDone>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::actors::RetryDue>)

namespace waybill::actors {

const char* name(CallKind k) {
  switch (k) {
    case CallKind::rate: return "rate";
    case CallKind::book: return "book";
    case CallKind::lookup: return "lookup";
    case CallKind::void_label: return "void";
    case CallKind::pickup: return "pickup";
    case CallKind::track: return "track";
  }
  return "?";
}

const char* name(CallOutcome o) {
  switch (o) {
    case CallOutcome::ok: return "ok";
    case CallOutcome::rejected: return "rejected";
    case CallOutcome::in_doubt: return "in_doubt";
    case CallOutcome::failed: return "failed";
    case CallOutcome::refused: return "refused";
  }
  return "?";
}

MappingSource mapping_source(const BookingInput& in) {
  MappingSource src;
  src.count = [&in](const std::string& collection) -> size_t { return collection == "packages" ? in.packages.size() : 0; };
  src.value = [&in](const std::string& path, int index) -> MappingValue {
    auto party = [](const fb::PartyT& p, const std::string& f) -> MappingValue {
      if (f == "name") return p.name;
      if (f == "company") return p.company;
      if (f == "street") return p.street;
      if (f == "street2") return p.street2;
      if (f == "city") return p.city;
      if (f == "state") return p.state;
      if (f == "postal_code") return p.postal_code;
      if (f == "country") return p.country;
      if (f == "phone") return p.phone;
      if (f == "email") return p.email;
      return {};
    };
    if (path == "reference") return in.reference;
    if (path == "service") return in.service;
    if (path == "carrier_shipment_id") return in.carrier_shipment_id;
    if (path.rfind("ship_to.", 0) == 0) return party(in.ship_to, path.substr(8));
    if (path.rfind("ship_from.", 0) == 0) return party(in.ship_from, path.substr(10));
    if (path.rfind("package.", 0) == 0 && index >= 0 && static_cast<size_t>(index) < in.packages.size()) {
      auto& p = in.packages[static_cast<size_t>(index)];
      auto f = path.substr(8);
      if (f == "weight_kg") return static_cast<double>(p.weight_g) / 1000.0;
      if (f == "length_cm") return static_cast<double>(p.length_mm) / 10.0;
      if (f == "width_cm") return static_cast<double>(p.width_mm) / 10.0;
      if (f == "height_cm") return static_cast<double>(p.height_mm) / 10.0;
      if (f == "hazmat") return p.hazmat;
      if (f == "index") return static_cast<int64_t>(index);
    }
    return {};
  };
  return src;
}

AttemptClass classify(CallKind kind, const CarrierHttpResult& r) {
  if (!r.answered) {
    // A booking that may have reached the carrier must not be sent again.
    if (r.maybe_sent && kind == CallKind::book) return AttemptClass::in_doubt;
    return AttemptClass::transient;
  }
  if (r.status >= 200 && r.status < 300) return AttemptClass::ok;
  if (r.status == 429) return AttemptClass::rate_limited;
  if (r.status == 401) return AttemptClass::unauthorized;
  if (r.status == 408 || r.status >= 500) {
    // 502/503 come from gateways that did not pass the request on; 500 and 504 may come
    // after the carrier acted: for a booking those are in doubt.
    if (kind == CallKind::book && (r.status == 500 || r.status == 504)) return AttemptClass::in_doubt;
    return AttemptClass::transient;
  }
  return AttemptClass::rejected;
}

namespace {
int64_t to_i64(const std::optional<std::string>& s) {
  if (!s) return 0;
  try {
    return std::stoll(*s);
  } catch (const std::exception&) {
    return 0;
  }
}

Status parse_booking(const CarrierProfile& p, std::string_view body, BookingResult* b) {
  auto& m = p.book_response;
  auto id = extract_first(body, m.carrier_shipment_id);
  auto tns = extract_all(body, m.tracking_numbers);
  if (!tns) return tns.status();
  if (!id || tns->empty()) return {Code::invalid_argument, "carrier answer lacks shipment id or tracking numbers"};
  b->carrier_shipment_id = *id;
  b->tracking_numbers = std::move(*tns);
  if (!m.labels.empty()) {
    auto labels = extract_all(body, m.labels);
    if (labels) b->labels = std::move(*labels);
  }
  b->label_format = m.label_format;
  if (!m.total_minor.empty()) b->total_minor = to_i64(extract_first(body, m.total_minor));
  if (!m.currency.empty()) b->currency = extract_first(body, m.currency).value_or("");
  return {};
}
}  // namespace

Status parse_answer(const CarrierProfile& p, CallKind kind, const std::string& body, CallResult* out) {
  switch (kind) {
    case CallKind::rate: {
      auto& m = p.rate_response;
      auto quotes = extract_raw(body, m.quotes + "/*");
      if (!quotes) return quotes.status();
      for (auto& q : *quotes) {
        Quote quote;
        quote.service = extract_first(q, m.service).value_or("");
        quote.total_minor = to_i64(extract_first(q, m.total_minor));
        quote.currency = extract_first(q, m.currency).value_or("");
        quote.transit_days = static_cast<int>(to_i64(extract_first(q, m.transit_days)));
        if (!quote.service.empty()) out->quotes.push_back(std::move(quote));
      }
      return {};
    }
    case CallKind::book:
      return parse_booking(p, body, &out->booking);
    case CallKind::lookup: {
      auto items = extract_raw(body, p.lookup_shipments + "/*");
      if (!items) return items.status();
      for (auto& raw : *items) {
        BookingResult b;
        if (parse_booking(p, raw, &b).ok()) out->found.push_back(std::move(b));
      }
      return {};
    }
    case CallKind::void_label:
    case CallKind::pickup:
      out->booking.carrier_shipment_id = extract_first(body, "/confirmation").value_or("");
      return {};
    case CallKind::track: {
      auto events = map_tracking_answer(p.tracking_poll, p.codes, body);
      if (!events) return events.status();
      out->tracking = std::move(*events);
      return {};
    }
  }
  return {};
}

void parse_rejection(const CarrierProfile& p, const std::string& body, CallResult* out) {
  out->carrier_code = p.errors.code.empty() ? "" : extract_first(body, p.errors.code).value_or("");
  out->message = p.errors.message.empty() ? body.substr(0, 256) : extract_first(body, p.errors.message).value_or("");
  auto it = p.errors.categories.find(out->carrier_code);
  out->reason = it != p.errors.categories.end() ? it->second : "carrier_rejected";
}

namespace {

struct AdapterState {
  CarrierProfile profile;
  CarrierTransport transport;
  std::shared_ptr<AdapterStats> stats;
  std::mt19937_64 rng;
  std::deque<std::shared_ptr<Pending>> queue;
  size_t in_flight = 0;
  double tokens = 0;
  Clock::time_point refilled;
  enum class Breaker { closed, open, half_open } breaker = Breaker::closed;
  int consecutive_failures = 0;
  Clock::time_point open_until;
  bool trial_in_flight = false;
  std::string access_token;
  Clock::time_point token_expires;
  bool fetching_token = false;
  bool pump_scheduled = false;
};

using Adapter = caf::stateful_actor<AdapterState>;

void finish(Adapter* self, const std::shared_ptr<Pending>& p, CallResult r) {
  auto& st = self->state;
  r.attempts = p->attempts;
  r.profile_version = st.profile.version;
  r.request_body = p->last_body;
  auto& s = *st.stats;
  switch (r.outcome) {
    case CallOutcome::ok: s.calls_ok++; break;
    case CallOutcome::rejected: s.calls_rejected++; break;
    case CallOutcome::in_doubt: s.calls_in_doubt++; break;
    case CallOutcome::failed: s.calls_failed++; break;
    case CallOutcome::refused: s.calls_refused++; break;
  }
  if (p->call.done) p->call.done(std::move(r));
}

void schedule_pump(Adapter* self, Clock::duration_type after) {
  auto& st = self->state;
  if (st.pump_scheduled) return;
  st.pump_scheduled = true;
  self->delayed_send(self, std::max<Clock::duration_type>(after, std::chrono::milliseconds(1)), pump_atom::value);
}

CarrierHttpRequest build(const AdapterState& st, const Pending& p, std::string* body_out) {
  auto& prof = st.profile;
  const CarrierEndpoint* ep = &prof.book;
  CarrierEndpoint track;  // the tracking request has no body template
  switch (p.call.kind) {
    case CallKind::rate: ep = &prof.rate; break;
    case CallKind::book: ep = &prof.book; break;
    case CallKind::lookup: ep = &prof.lookup; break;
    case CallKind::void_label: ep = &prof.void_label; break;
    case CallKind::pickup: ep = &prof.pickup; break;
    case CallKind::track:
      track.method = prof.tracking_poll.request.method;
      track.path = prof.tracking_poll.request.path;
      ep = &track;
      break;
  }
  CarrierHttpRequest req;
  req.method = ep->method;
  req.host = prof.host;
  req.port = prof.port;
  req.timeout_ms = prof.limits.timeout_ms;
  req.target = prof.base_path + expand_path(ep->path, {{"reference", p.call.input.reference},
                                                        {"carrier_shipment_id", p.call.input.carrier_shipment_id},
                                                        {"tracking_number", p.call.input.tracking_number}});
  if (!ep->body.empty()) {
    auto body = ep->body.render(mapping_source(p.call.input));
    if (body) req.body = std::move(*body);
    else *body_out = "!" + body.status().message();  // caller turns this into a rejection
  }
  if (prof.auth.type == "api_key") req.headers.emplace_back(prof.auth.header, prof.auth.key);
  if (prof.auth.type == "oauth2") req.headers.emplace_back("Authorization", "Bearer " + st.access_token);
  if (!p.call.correlation_id.empty()) req.headers.emplace_back("X-Request-Id", p.call.correlation_id);
  if (body_out->empty()) *body_out = req.body;
  return req;
}

void fetch_token(Adapter* self) {
  auto& st = self->state;
  if (st.fetching_token) return;
  st.fetching_token = true;
  auto& a = st.profile.auth;
  CarrierHttpRequest req;
  req.method = "POST";
  req.host = st.profile.host;
  req.port = st.profile.port;
  req.target = st.profile.base_path + a.token_path;
  req.content_type = "application/x-www-form-urlencoded";
  req.body = "grant_type=client_credentials&client_id=" + a.client_id + "&client_secret=" + a.client_secret;
  req.timeout_ms = st.profile.limits.timeout_ms;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  st.transport(std::move(req), [me](CarrierHttpResult r) {
    caf::anon_send(me, std::make_shared<TokenDone>(TokenDone{std::move(r)}));
  });
}

void pump(Adapter* self);

void dispatch(Adapter* self, std::shared_ptr<Pending> p) {
  auto& st = self->state;
  std::string body;
  auto req = build(st, *p, &body);
  if (!body.empty() && body[0] == '!') {
    CallResult r;
    r.outcome = CallOutcome::rejected;
    r.reason = "mapping_failed";
    r.message = body.substr(1);
    return finish(self, p, std::move(r));
  }
  p->last_body = body;
  ++p->attempts;
  ++st.in_flight;
  st.stats->attempts++;
  st.stats->in_flight = static_cast<int64_t>(st.in_flight);
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto sent = self->clock().now();
  st.transport(std::move(req), [me, p, sent](CarrierHttpResult r) {
    caf::anon_send(me, std::make_shared<AttemptDone>(AttemptDone{p, std::move(r), sent}));
  });
}

void pump(Adapter* self) {
  auto& st = self->state;
  auto& lim = st.profile.limits;
  auto now = self->clock().now();
  st.tokens = std::min(lim.burst, st.tokens + std::chrono::duration<double>(now - st.refilled).count() * lim.requests_per_second);
  st.refilled = now;
  // Bounded: each round dispatches one queued call or stops.
  while (!st.queue.empty()) {
    if (st.breaker == AdapterState::Breaker::open) {
      if (now < st.open_until) return schedule_pump(self, st.open_until - now);
      st.breaker = AdapterState::Breaker::half_open;
      st.stats->breaker_state = 2;
    }
    if (st.breaker == AdapterState::Breaker::half_open && st.trial_in_flight) return;
    if (st.in_flight >= lim.max_in_flight) return;  // a completion pumps again
    if (st.profile.auth.type == "oauth2" &&
        (st.access_token.empty() || now + std::chrono::seconds(st.profile.auth.refresh_before_s) >= st.token_expires))
      return fetch_token(self);
    if (st.tokens < 1) {
      auto wait = std::chrono::duration<double>((1 - st.tokens) / lim.requests_per_second);
      return schedule_pump(self, std::chrono::duration_cast<Clock::duration_type>(wait));
    }
    st.tokens -= 1;
    auto p = std::move(st.queue.front());
    st.queue.pop_front();
    st.stats->queue_depth = static_cast<int64_t>(st.queue.size());
    if (st.breaker == AdapterState::Breaker::half_open) st.trial_in_flight = true;
    dispatch(self, std::move(p));
  }
}

void breaker_success(AdapterState& st) {
  st.consecutive_failures = 0;
  st.trial_in_flight = false;
  st.breaker = AdapterState::Breaker::closed;
  st.stats->breaker_state = 0;
}

void breaker_failure(AdapterState& st, Clock::time_point now) {
  st.trial_in_flight = false;
  if (st.breaker == AdapterState::Breaker::half_open ||
      ++st.consecutive_failures >= st.profile.breaker.failure_threshold) {
    if (st.breaker != AdapterState::Breaker::open) st.stats->breaker_opened++;
    st.breaker = AdapterState::Breaker::open;
    st.open_until = now + std::chrono::milliseconds(st.profile.breaker.cool_down_ms);
    st.stats->breaker_state = 1;
  }
}

void retry_or_fail(Adapter* self, const std::shared_ptr<Pending>& p, std::chrono::milliseconds hint,
                   const std::string& why) {
  auto& st = self->state;
  auto& rp = st.profile.retry;
  int max_attempts = p->call.max_attempts > 0 ? p->call.max_attempts : rp.max_attempts;
  if (p->attempts >= max_attempts) {
    CallResult r;
    r.outcome = CallOutcome::failed;
    r.reason = "carrier_unavailable";
    r.message = why;
    return finish(self, p, std::move(r));
  }
  // Full jitter: uniform in [0, min(max, base * 2^(attempt-1))], at least the hint.
  int64_t cap = std::min<int64_t>(rp.max_backoff_ms, int64_t{rp.base_backoff_ms} << std::min(p->attempts - 1, 20));
  auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(cap, 1))(st.rng));
  delay = std::max(delay, hint);
  st.stats->retries++;
  self->delayed_send(self, delay, std::make_shared<RetryDue>(RetryDue{p}));
}

void on_attempt(Adapter* self, AttemptDone& d) {
  auto& st = self->state;
  --st.in_flight;
  st.stats->in_flight = static_cast<int64_t>(st.in_flight);
  st.stats->latency_us_sum += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(self->clock().now() - d.sent).count());
  st.stats->latency_count++;
  auto& r = d.result;
  auto kind = d.pending->call.kind;
  CallResult out;
  switch (classify(kind, r)) {
    case AttemptClass::ok: {
      breaker_success(st);
      auto parsed = parse_answer(st.profile, kind, r.body, &out);
      if (!parsed.ok()) {
        // 2xx we cannot read: for a booking the label may exist, so it is in doubt.
        out.outcome = kind == CallKind::book ? CallOutcome::in_doubt : CallOutcome::failed;
        out.reason = "unreadable_answer";
        out.message = parsed.message();
      } else {
        out.outcome = CallOutcome::ok;
      }
      finish(self, d.pending, std::move(out));
      break;
    }
    case AttemptClass::rejected:
      breaker_success(st);  // the carrier is healthy; it said no
      out.outcome = CallOutcome::rejected;
      parse_rejection(st.profile, r.body, &out);
      finish(self, d.pending, std::move(out));
      break;
    case AttemptClass::in_doubt:
      breaker_failure(st, self->clock().now());
      out.outcome = CallOutcome::in_doubt;
      out.reason = "no_answer";
      out.message = r.answered ? "HTTP " + std::to_string(r.status) : r.error;
      finish(self, d.pending, std::move(out));
      break;
    case AttemptClass::rate_limited: {
      // The carrier asks us to slow down: honour Retry-After, drain the bucket.
      st.trial_in_flight = false;
      st.tokens = 0;
      int retry_after_s = 1;
      if (auto it = r.headers.find("retry-after"); it != r.headers.end()) {
        try {
          retry_after_s = std::clamp(std::stoi(it->second), 0, 300);
        } catch (const std::exception&) {
        }
      }
      retry_or_fail(self, d.pending, std::chrono::seconds(retry_after_s), "rate limited (HTTP 429)");
      break;
    }
    case AttemptClass::unauthorized:
      st.access_token.clear();  // refreshed before the retry
      retry_or_fail(self, d.pending, std::chrono::milliseconds(0), "unauthorized (HTTP 401)");
      break;
    case AttemptClass::transient:
      breaker_failure(st, self->clock().now());
      retry_or_fail(self, d.pending, std::chrono::milliseconds(0),
                    r.answered ? "HTTP " + std::to_string(r.status) : r.error);
      break;
  }
  pump(self);
}

void on_token(Adapter* self, TokenDone& t) {
  auto& st = self->state;
  st.fetching_token = false;
  auto& r = t.result;
  if (r.answered && r.status / 100 == 2) {
    auto token = extract_first(r.body, "/access_token");
    auto ttl = extract_first(r.body, "/expires_in");
    if (token) {
      st.access_token = *token;
      st.token_expires = self->clock().now() + std::chrono::seconds(ttl ? std::max(1, std::stoi(*ttl)) : 300);
      breaker_success(st);
      return pump(self);
    }
  }
  breaker_failure(st, self->clock().now());
  schedule_pump(self, std::chrono::milliseconds(st.profile.retry.base_backoff_ms));
}

caf::behavior adapter(Adapter* self, CarrierProfile profile, CarrierTransport transport,
                      std::shared_ptr<AdapterStats> stats, uint64_t seed) {
  auto& st = self->state;
  st.profile = std::move(profile);
  st.transport = std::move(transport);
  st.stats = std::move(stats);
  st.rng.seed(seed);
  st.tokens = st.profile.limits.burst;
  st.refilled = self->clock().now();
  return {
      [=](std::shared_ptr<CarrierCall>& call) {
        auto& s = self->state;
        auto p = std::make_shared<Pending>();
        p->call = std::move(*call);
        p->started = self->clock().now();
        if (s.queue.size() >= s.profile.limits.queue_capacity) {
          CallResult r;
          r.outcome = CallOutcome::refused;
          r.reason = "adapter_queue_full";
          r.message = "carrier adapter queue is full";
          return finish(self, p, std::move(r));
        }
        s.queue.push_back(std::move(p));
        s.stats->queue_depth = static_cast<int64_t>(s.queue.size());
        pump(self);
      },
      [=](std::shared_ptr<AttemptDone>& d) { on_attempt(self, *d); },
      [=](std::shared_ptr<TokenDone>& t) { on_token(self, *t); },
      [=](std::shared_ptr<RetryDue>& r) {
        // Retries go first: they are older than anything queued behind them.
        self->state.queue.push_front(std::move(r->pending));
        pump(self);
      },
      [=](pump_atom) {
        self->state.pump_scheduled = false;
        pump(self);
      },
  };
}

}  // namespace

caf::actor spawn_carrier_adapter(caf::actor_system& sys, CarrierProfile profile, CarrierTransport transport,
                                 std::shared_ptr<AdapterStats> stats, uint64_t seed) {
  return sys.spawn(adapter, std::move(profile), std::move(transport), std::move(stats), seed);
}

}  // namespace waybill::actors
