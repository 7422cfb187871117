#include "waybill/actors/tracking_poll.hpp"

#include <algorithm>

#include "waybill/actors/carrier_mapping.hpp"
#include "waybill/actors/entity.hpp"
#include "waybill/actors/yaml_reader.hpp"

namespace waybill::actors {

namespace {

// Counts read as signed so that "-1" is a range error, not a huge unsigned value.
Status get_count(const YamlMap& m, const std::string& key, long long min, long long max, size_t* out) {
  long long v = static_cast<long long>(*out);
  WAYBILL_TRY(m.get(key, &v));
  if (v < min || v > max)
    return {Code::invalid_argument, "must be " + std::to_string(min) + ".." + std::to_string(max), m.key_path(key)};
  *out = static_cast<size_t>(v);
  return {};
}

Status get_int(const YamlMap& m, const std::string& key, int min, int max, int* out) {
  size_t v = static_cast<size_t>(*out);
  WAYBILL_TRY(get_count(m, key, min, max, &v));
  *out = static_cast<int>(v);
  return {};
}

Status parse_request(const YamlMap& parent, TrackingPollRequest* r) {
  if (!parent.has("request")) return {Code::invalid_argument, "is required", parent.key_path("request")};
  YamlMap m(parent.child("request"), parent.key_path("request"), {"method", "path"});
  WAYBILL_TRY(m.error());
  WAYBILL_TRY(m.get("method", &r->method));
  WAYBILL_TRY(m.get("path", &r->path, true));
  if (r->method != "GET" && r->method != "POST")
    return {Code::invalid_argument, "must be GET or POST", m.key_path("method")};
  if (r->path.empty() || r->path[0] != '/') return {Code::invalid_argument, "must start with /", m.key_path("path")};
  // A path that names no shipment would poll the same thing for every shipment.
  if (r->path.find("{tracking_number}") == std::string::npos &&
      r->path.find("{carrier_shipment_id}") == std::string::npos)
    return {Code::invalid_argument, "must contain {tracking_number} or {carrier_shipment_id}", m.key_path("path")};
  return {};
}

Status parse_response(const YamlMap& parent, TrackingPollResponseMap* r) {
  if (!parent.has("response")) return {Code::invalid_argument, "is required", parent.key_path("response")};
  YamlMap m(parent.child("response"), parent.key_path("response"),
            {"events", "code", "event_time", "sequence", "event_id", "description", "location"});
  WAYBILL_TRY(m.error());
  WAYBILL_TRY(m.get("events", &r->events, true));
  WAYBILL_TRY(m.get("code", &r->code, true));
  WAYBILL_TRY(m.get("event_time", &r->event_time, true));
  WAYBILL_TRY(m.get("sequence", &r->sequence));
  WAYBILL_TRY(m.get("event_id", &r->event_id));
  WAYBILL_TRY(m.get("description", &r->description));
  YamlMap loc(m.child("location"), m.key_path("location"), {"city", "state", "postal_code", "country"});
  WAYBILL_TRY(loc.error());
  WAYBILL_TRY(loc.get("city", &r->city));
  WAYBILL_TRY(loc.get("state", &r->state));
  WAYBILL_TRY(loc.get("postal_code", &r->postal_code));
  WAYBILL_TRY(loc.get("country", &r->country));
  const std::pair<const char*, const std::string*> pointers[] = {
      {"events", &r->events},       {"code", &r->code},         {"event_time", &r->event_time},
      {"sequence", &r->sequence},   {"event_id", &r->event_id}, {"description", &r->description},
      {"location.city", &r->city},  {"location.state", &r->state},
      {"location.postal_code", &r->postal_code}, {"location.country", &r->country}};
  for (auto& [key, value] : pointers)
    if (!value->empty() && (*value)[0] != '/')
      return {Code::invalid_argument, "must be a JSON pointer starting with /", m.key_path(key)};
  return {};
}

// One event of an answer onto a milestone; the status names the field that is wrong.
Status map_event(const TrackingPollResponseMap& r, const std::map<std::string, TrackingStatus>& codes,
                 std::string_view event, const std::string& where, fb::MilestoneT* m) {
  auto field = [&](const char* name) { return where + "." + name; };
  auto text = [&](const std::string& pointer, const char* name, size_t max, std::string* out) -> Status {
    if (pointer.empty()) return {};
    *out = extract_first(event, pointer).value_or("");
    if (out->size() > max)
      return {Code::invalid_argument, "is longer than " + std::to_string(max) + " bytes", field(name)};
    return {};
  };
  auto code = extract_first(event, r.code);
  if (!code || code->empty()) return {Code::invalid_argument, "is missing", field("code")};
  auto mapped = codes.find(*code);
  if (mapped == codes.end())
    return {Code::invalid_argument, "carrier code '" + code->substr(0, 64) + "' is not in the profile's code table",
            field("code")};
  if (code->size() > 64) return {Code::invalid_argument, "is longer than 64 bytes", field("code")};
  m->status = mapped->second;
  m->raw_code = *code;
  auto when = extract_first(event, r.event_time);
  if (!when) return {Code::invalid_argument, "is missing", field("event_time")};
  auto us = parse_rfc3339_us(*when);
  if (!us) return {Code::invalid_argument, "must be an RFC 3339 date-time", field("event_time")};
  m->event_time_us = *us;
  if (!r.sequence.empty()) {
    auto seq = extract_first(event, r.sequence);
    if (seq) {
      if (seq->empty() || seq->size() > 18 || seq->find_first_not_of("0123456789") != std::string::npos)
        return {Code::invalid_argument, "must be a non-negative integer", field("sequence")};
      m->sequence = std::stoll(*seq);
    }
  }
  WAYBILL_TRY(text(r.event_id, "event_id", 128, &m->event_id));
  WAYBILL_TRY(text(r.description, "description", 1024, &m->description));
  auto loc = std::make_unique<fb::LocationT>();
  WAYBILL_TRY(text(r.city, "location.city", 128, &loc->city));
  WAYBILL_TRY(text(r.state, "location.state", 64, &loc->state));
  WAYBILL_TRY(text(r.postal_code, "location.postal_code", 32, &loc->postal_code));
  WAYBILL_TRY(text(r.country, "location.country", 2, &loc->country));
  if (!loc->city.empty() || !loc->state.empty() || !loc->postal_code.empty() || !loc->country.empty())
    m->location = std::move(loc);
  return {};
}

}  // namespace

Status parse_tracking_poll(const YAML::Node& node, const std::string& path, TrackingPollOptions* out) {
  YamlMap m(node, path, {"enabled", "interval_s", "max_concurrency", "batch_size", "tick_ms", "max_retries",
                         "max_events", "request", "response"});
  WAYBILL_TRY(m.error());
  out->enabled = true;
  WAYBILL_TRY(m.get("enabled", &out->enabled));
  WAYBILL_TRY(m.get("interval_s", &out->interval_s));
  if (!(out->interval_s >= 0.05 && out->interval_s <= 86400 * 30))
    return {Code::invalid_argument, "must be 0.05..2592000 seconds", m.key_path("interval_s")};
  WAYBILL_TRY(get_count(m, "max_concurrency", 1, 1024, &out->max_concurrency));
  WAYBILL_TRY(get_count(m, "batch_size", 1, 100000, &out->batch_size));
  WAYBILL_TRY(get_int(m, "tick_ms", 10, 3600000, &out->tick_ms));
  WAYBILL_TRY(get_int(m, "max_retries", 0, 100, &out->max_retries));
  WAYBILL_TRY(get_count(m, "max_events", 1, 1000, &out->max_events));
  // A disabled section may be left incomplete; what is there is still checked.
  if (out->enabled || m.has("request")) WAYBILL_TRY(parse_request(m, &out->request));
  if (out->enabled || m.has("response")) WAYBILL_TRY(parse_response(m, &out->response));
  return {};
}

Result<PolledEvents> map_tracking_answer(const TrackingPollOptions& poll,
                                         const std::map<std::string, TrackingStatus>& codes, std::string_view body) {
  auto& r = poll.response;
  auto array = extract_raw(body, r.events);
  if (!array) return array.status();
  if (array->empty() || array->front().empty() || array->front()[0] != '[')
    return Status{Code::invalid_argument, "the answer has no events array at " + r.events, "events"};
  auto items = extract_raw(body, r.events + "/*");
  if (!items) return items.status();
  PolledEvents out;
  out.total = items->size();
  for (size_t i = 0; i < items->size(); ++i) {
    std::string where = "events[" + std::to_string(i) + "]";
    if (out.milestones.size() >= poll.max_events) {
      // One report for the rest, if there is room: `skipped` stays within max_events.
      if (out.skipped.size() < poll.max_events)
        out.skipped.push_back({Code::payload_too_large, "more than " + std::to_string(poll.max_events) + " events", where});
      break;
    }
    fb::MilestoneT m;
    auto st = map_event(r, codes, (*items)[i], where, &m);
    if (!st.ok()) {
      if (out.skipped.size() < poll.max_events) out.skipped.push_back(std::move(st));
      continue;
    }
    out.milestones.push_back(std::move(m));
  }
  return out;
}

bool tracking_poll_wanted(const fb::ShipmentT& h) {
  if (h.tracking_numbers.empty() || h.booking_state == fb::BookingState::voided) return false;
  return h.status != TrackingStatus::delivered && h.status != TrackingStatus::return_to_sender &&
         h.status != TrackingStatus::cancelled;
}

std::string tracking_poll_prefix(const std::string& carrier) { return carrier + '\0'; }
std::string tracking_poll_key(const std::string& carrier, const std::string& shipment_id) {
  return tracking_poll_prefix(carrier) + shipment_id;
}

void tracking_poll_index_ops(const CarrierDirectory* carriers, const fb::ShipmentT* before,
                             const fb::ShipmentT& after, std::vector<storage::WriteOp>* ops) {
  if (!carriers) return;
  auto polled = [carriers](const fb::ShipmentT& h) {
    auto* p = h.carrier.empty() ? nullptr : carriers->profile(h.carrier);
    if (!p || !p->tracking_poll.enabled || !tracking_poll_wanted(h)) return false;
    // A shipment booked elsewhere may lack the carrier's shipment id the request needs.
    return !h.carrier_shipment_id.empty() ||
           p->tracking_poll.request.path.find("{carrier_shipment_id}") == std::string::npos;
  };
  bool was = before && polled(*before);
  bool is = polled(after);
  if (is && !was) ops->push_back({storage::Column::tracking_poll, tracking_poll_key(after.carrier, after.shipment_id), {}});
  // A carrier change (an operator re-routing a rejected booking) moves the entry.
  if (was && (!is || before->carrier != after.carrier))
    ops->push_back({storage::Column::tracking_poll, tracking_poll_key(before->carrier, after.shipment_id), {}, true});
  if (was && is && before->carrier != after.carrier)
    ops->push_back({storage::Column::tracking_poll, tracking_poll_key(after.carrier, after.shipment_id), {}});
}

}  // namespace waybill::actors
