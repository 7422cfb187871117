// Carrier-facing routes: exception queue, void, manifest, carrier list and inbound
// carrier tracking webhooks.
#include <cctype>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "api_call.hpp"
#include "waybill/actors/reads.hpp"
#include "waybill/actors/render.hpp"
#include "waybill/runtime/crypto.hpp"
#include "waybill/runtime/url.hpp"

namespace waybill::runtime {

namespace {

using actors::Reply;
using storage::Column;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void send_shipment_command(Engine& engine, const Api::CallPtr& call, const std::string& id,
                           std::shared_ptr<actors::ShipmentRequest> req) {
  req->reply = [call](Reply r) { call->finish(r); };
  req->correlation_id = call->correlation_id;
  auto st = engine.shipments().send(id, caf::make_message(std::move(req)));
  if (!st.ok()) call->fail(st);
}

}  // namespace

void Api::void_shipment(const CallPtr& call, const std::string& shipment_id) {
  if (auto st = validate_id(shipment_id, "shipment_id"); !st.ok()) return call->fail(st);
  std::string ignored;
  auto exists = engine_.store().get(Column::shipments, shipment_id, &ignored);
  if (exists.code() == Code::not_found) return call->fail({Code::not_found, "shipment '" + shipment_id + "' not found"});
  if (!exists.ok()) return call->fail(exists);
  auto req = std::make_shared<actors::ShipmentRequest>();
  req->command = actors::VoidShipment{};
  send_shipment_command(engine_, call, shipment_id, std::move(req));
}

namespace {

// What GET /v1/exceptions was asked for, validated: a filter that cannot match anything
// because it is misspelt answers 400 naming it, rather than an empty queue.
struct ExceptionQuery {
  std::string carrier, region, reason;
  std::string after;  // page cursor: the last shipment id of the previous page
  size_t limit = 100;
};

bool is_reason(std::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  for (unsigned char c : v)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

Result<ExceptionQuery> parse_exception_query(std::string_view target, const actors::CarrierDirectory& carriers) {
  ExceptionQuery q;
  q.carrier = query_param(target, "carrier").value_or("");
  q.region = query_param(target, "region").value_or("");
  q.reason = query_param(target, "reason").value_or("");
  q.after = query_param(target, "after").value_or("");
  if (!q.carrier.empty() && !carriers.profile(q.carrier))
    return Status{Code::invalid_argument, "is not a configured carrier", "carrier"};
  if (!q.region.empty() && (q.region.size() != 2 || !std::isupper(static_cast<unsigned char>(q.region[0])) ||
                            !std::isupper(static_cast<unsigned char>(q.region[1]))))
    return Status{Code::invalid_argument, "must be an ISO 3166-1 alpha-2 code such as \"US\"", "region"};
  if (!q.reason.empty() && !is_reason(q.reason))
    return Status{Code::invalid_argument, "must be a reason code: a-z, 0-9 and _, at most 64 characters", "reason"};
  if (!q.after.empty())
    if (auto st = validate_id(q.after, "after"); !st.ok()) return st;
  if (auto l = query_param(target, "limit")) {
    try {
      q.limit = std::clamp<size_t>(std::stoul(*l), 1, 1000);
    } catch (const std::exception&) {
      return Status{Code::invalid_argument, "must be a number 1..1000", "limit"};
    }
  }
  return q;
}

}  // namespace

void Api::list_exceptions(const CallPtr& call) {
  auto q = parse_exception_query(call->req.target, engine_.carriers());
  if (!q) return call->fail(q.status());
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("exceptions");
  w.StartArray();
  size_t n = 0;
  std::string last;
  bool more = false;
  auto matches = [&](const fb::ShipmentT& rec, const std::string& country) {
    return (q->carrier.empty() || rec.carrier == q->carrier) && (q->region.empty() || country == q->region) &&
           (q->reason.empty() || rec.exception_reason == q->reason);
  };
  // Keys are shipment ids: a page starts right after the cursor (the id plus a NUL is
  // the least key above it). Scan bounded: the queue is for humans, filters narrow it,
  // `limit` caps the answer.
  std::string start = q->after.empty() ? std::string() : q->after + '\0';
  auto st = engine_.store().scan_from(Column::exceptions, start, 100000, [&](std::string_view, std::string_view v) {
    auto rec = decode<fb::ShipmentT>(v);
    if (!rec) return true;
    std::string country = rec->ship_to ? rec->ship_to->country : "";
    if (!matches(*rec, country)) return true;
    if (n == q->limit) {  // one more match exists: the page is not the last
      more = true;
      return false;
    }
    w.StartObject();
    w.Key("shipment_id"); w.String(rec->shipment_id.c_str());
    w.Key("order_id"); w.String(rec->order_id.c_str());
    w.Key("carrier"); w.String(rec->carrier.c_str());
    w.Key("service"); w.String(rec->service.c_str());
    w.Key("region"); w.String(country.c_str());
    w.Key("reason"); w.String(rec->exception_reason.c_str());
    w.Key("message"); w.String(rec->exception_message.c_str());
    w.Key("carrier_code"); w.String(rec->exception_carrier_code.c_str());
    w.Key("since"); w.String(format_rfc3339(rec->updated_us).c_str());
    w.EndObject();
    last = rec->shipment_id;
    ++n;
    return true;
  });
  if (!st.ok()) return call->fail(st);
  w.EndArray();
  w.Key("count");
  w.Uint64(n);
  // Present only when another page follows: pass it back as `after`.
  if (more) {
    w.Key("next_after");
    w.String(last.c_str());
  }
  w.EndObject();
  call->finish(HttpResponse{200, "application/json", sb.GetString(), {}});
}

void Api::resolve_exception(const CallPtr& call, const std::string& shipment_id) {
  if (auto st = validate_id(shipment_id, "shipment_id"); !st.ok()) return call->fail(st);
  auto cmd = parse_resolve_exception(call->req.body, options_.limits);
  if (!cmd) return call->fail(cmd.status());
  if (!cmd->carrier.empty()) {
    auto* prof = engine_.carriers().profile(cmd->carrier);
    if (!prof) return call->fail({Code::invalid_argument, "unknown carrier", "carrier"});
    if (!prof->service(cmd->service)) return call->fail({Code::invalid_argument, "unknown service for " + cmd->carrier, "service"});
  }
  std::string ignored;
  auto queued = engine_.store().get(Column::exceptions, shipment_id, &ignored);
  if (queued.code() == Code::not_found)
    return call->fail({Code::not_found, "shipment '" + shipment_id + "' is not in the exception queue"});
  if (!queued.ok()) return call->fail(queued);
  auto req = std::make_shared<actors::ShipmentRequest>();
  req->command = std::move(*cmd);
  req->success_status = 200;
  send_shipment_command(engine_, call, shipment_id, std::move(req));
}

void Api::list_carriers(const CallPtr& call) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  auto& dir = engine_.carriers();
  w.StartObject();
  w.Key("carriers");
  w.StartArray();
  static const char* const breaker[] = {"closed", "open", "half_open"};
  for (auto& p : dir.profiles) {
    auto& s = *dir.stats.at(p.name);
    w.StartObject();
    w.Key("name"); w.String(p.name.c_str());
    w.Key("profile_version"); w.Uint(p.version);
    w.Key("breaker"); w.String(breaker[std::clamp(s.breaker_state.load(), 0, 2)]);
    w.Key("queue_depth"); w.Int64(s.queue_depth.load());
    w.Key("in_flight"); w.Int64(s.in_flight.load());
    w.Key("calls_ok"); w.Uint64(s.calls_ok.load());
    w.Key("calls_rejected"); w.Uint64(s.calls_rejected.load());
    w.Key("calls_in_doubt"); w.Uint64(s.calls_in_doubt.load());
    w.Key("calls_failed"); w.Uint64(s.calls_failed.load());
    w.Key("retries"); w.Uint64(s.retries.load());
    w.Key("services");
    w.StartArray();
    for (auto& svc : p.services) w.String(svc.code.c_str());
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("booking_backlog");
  w.Int64(engine_.stats().booking_backlog.load());
  w.EndObject();
  call->finish(HttpResponse{200, "application/json", sb.GetString(), {}});
}

void Api::carrier_webhook(const CallPtr& call, const std::string& carrier) {
  auto* prof = engine_.carriers().profile(carrier);
  if (!prof) return call->fail({Code::not_found, "unknown carrier '" + carrier + "'", "carrier"});
  auto& wh = prof->webhook;
  if (wh.secret.empty() || wh.tracking_number.empty())
    return call->fail({Code::not_found, "carrier '" + carrier + "' has no webhook mapping", "carrier"});
  // Reject unsigned or forged pushes before reading them.
  if (!carrier_signature_matches(wh.secret, call->req.body, call->req.header(wh.signature_header)))
    return call->finish(HttpResponse{401, "application/problem+json",
                                     actors::render_problem(401, {Code::invalid_argument, "signature does not match", wh.signature_header}),
                                     {}});
  auto tn = actors::extract_first(call->req.body, wh.tracking_number);
  auto code = actors::extract_first(call->req.body, wh.code);
  auto when = actors::extract_first(call->req.body, wh.event_time);
  if (!tn) return call->fail({Code::invalid_argument, "is missing", "tracking_number"});
  if (!code) return call->fail({Code::invalid_argument, "is missing", "code"});
  auto mapped = prof->codes.find(*code);
  if (mapped == prof->codes.end())
    return call->fail({Code::invalid_argument, "carrier code '" + *code + "' is not in the profile's code table", "code"});
  auto event_us = when ? parse_rfc3339_us(*when) : std::nullopt;
  if (!event_us) return call->fail({Code::invalid_argument, "must be an RFC 3339 date-time", "event_time"});
  actors::AddMilestone cmd;
  auto& m = cmd.milestone;
  m.status = mapped->second;
  m.raw_code = *code;
  m.event_time_us = *event_us;
  if (!wh.sequence.empty()) {
    try {
      m.sequence = std::stoll(actors::extract_first(call->req.body, wh.sequence).value_or("0"));
    } catch (const std::exception&) {
      return call->fail({Code::invalid_argument, "must be an integer", "sequence"});
    }
  }
  if (!wh.event_id.empty()) m.event_id = actors::extract_first(call->req.body, wh.event_id).value_or("");
  auto optional_field = [&](const std::string& pointer) {
    return pointer.empty() ? std::string() : actors::extract_first(call->req.body, pointer).value_or("");
  };
  m.description = optional_field(wh.description);
  if (auto eta = optional_field(wh.estimated_delivery); !eta.empty()) {
    auto eta_us = parse_rfc3339_us(eta);
    if (!eta_us) return call->fail({Code::invalid_argument, "must be an RFC 3339 date-time", "estimated_delivery"});
    m.estimated_delivery_us = *eta_us;
  }
  if (auto c = prof->exception_codes.find(*code); c != prof->exception_codes.end()) m.exception_category = c->second;
  auto signed_by = optional_field(wh.signed_by);
  auto pod_document = optional_field(wh.pod_document);
  if (m.status == TrackingStatus::delivered && (!signed_by.empty() || !pod_document.empty())) {
    m.proof_of_delivery = std::make_unique<fb::ProofOfDeliveryT>();
    m.proof_of_delivery->signed_by = std::move(signed_by);
    m.proof_of_delivery->document_ref = std::move(pod_document);
  }
  cmd.tracking_number = *tn;
  auto shipment_id = actors::lookup_tracking(engine_.store(), carrier, *tn, m.event_time_us, options_.tracking);
  if (!shipment_id) return call->fail(shipment_id.status());
  route_milestone(call, *shipment_id, std::move(cmd));
}

void Api::manifest(const CallPtr& call, const std::string& carrier) {
  if (!engine_.carriers().profile(carrier)) return call->fail({Code::not_found, "unknown carrier '" + carrier + "'"});
  auto date = query_param(call->req.target, "date").value_or(format_rfc3339(now_us()).substr(0, 10));
  auto day = parse_rfc3339_us(date + "T00:00:00Z");
  if (!day) return call->fail({Code::invalid_argument, "must be YYYY-MM-DD", "date"});
  auto prefix = actors::keys::manifest_prefix(carrier, *day);
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("carrier"); w.String(carrier.c_str());
  w.Key("date"); w.String(date.c_str());
  w.Key("shipments");
  w.StartArray();
  size_t n = 0, pieces = 0;
  auto st = engine_.store().scan_prefix(Column::manifests, prefix, 1000000, [&](std::string_view k, std::string_view v) {
    w.StartObject();
    std::string id(k.substr(prefix.size()));
    w.Key("shipment_id"); w.String(id.c_str());
    w.Key("tracking_numbers");
    w.StartArray();
    size_t pos = 0;
    while (pos <= v.size()) {
      auto comma = v.find(',', pos);
      auto tn = v.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
      if (!tn.empty()) {
        w.String(tn.data(), static_cast<rapidjson::SizeType>(tn.size()));
        ++pieces;
      }
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    w.EndArray();
    w.EndObject();
    ++n;
    return true;
  });
  if (!st.ok()) return call->fail(st);
  w.EndArray();
  w.Key("shipment_count"); w.Uint64(n);
  w.Key("package_count"); w.Uint64(pieces);
  w.EndObject();
  call->finish(HttpResponse{200, "application/json", sb.GetString(), {}});
}

}  // namespace waybill::runtime
