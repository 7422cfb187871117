#include "waybill/actors/render.hpp"
#include "waybill/actors/render_json.hpp"

#include <algorithm>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace waybill::actors {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(Writer& w, const char* key, const std::string& v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void str_opt(Writer& w, const char* key, const std::string& v) {
  if (!v.empty()) str(w, key, v);
}
void time_field(Writer& w, const char* key, int64_t us) {
  w.Key(key);
  auto s = format_rfc3339(us);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace

void party(Writer& w, const char* key, const fb::PartyT* p) {
  if (!p) return;
  w.Key(key);
  w.StartObject();
  str_opt(w, "name", p->name);
  str_opt(w, "company", p->company);
  str_opt(w, "street", p->street);
  str_opt(w, "street2", p->street2);
  str_opt(w, "city", p->city);
  str_opt(w, "state", p->state);
  str_opt(w, "postal_code", p->postal_code);
  str_opt(w, "country", p->country);
  str_opt(w, "phone", p->phone);
  str_opt(w, "email", p->email);
  w.EndObject();
}

namespace {

void money(Writer& w, const char* key, const fb::MoneyT* m) {
  if (!m) return;
  w.Key(key);
  w.StartObject();
  w.Key("amount_minor");
  w.Int64(m->amount_minor);
  str(w, "currency", m->currency);
  w.EndObject();
}

void package(Writer& w, const fb::PackageT& p) {
  w.StartObject();
  w.Key("weight_kg");
  w.Double(static_cast<double>(p.weight_g) / 1000.0);
  w.Key("length_cm");
  w.Double(static_cast<double>(p.length_mm) / 10.0);
  w.Key("width_cm");
  w.Double(static_cast<double>(p.width_mm) / 10.0);
  w.Key("height_cm");
  w.Double(static_cast<double>(p.height_mm) / 10.0);
  w.Key("hazmat");
  w.Bool(p.hazmat);
  if (p.customs) {
    w.Key("customs");
    w.StartObject();
    str_opt(w, "description", p.customs->description);
    str_opt(w, "hs_code", p.customs->hs_code);
    str_opt(w, "country_of_origin", p.customs->country_of_origin);
    money(w, "value", p.customs->value.get());
    w.EndObject();
  }
  str_opt(w, "tracking_number", p.tracking_number);
  w.EndObject();
}

}  // namespace

void proof_of_delivery(Writer& w, const fb::ProofOfDeliveryT* pod) {
  if (!pod) return;
  w.Key("proof_of_delivery");
  w.StartObject();
  str_opt(w, "signed_by", pod->signed_by);
  str_opt(w, "document_ref", pod->document_ref);
  w.EndObject();
}

void notification(Writer& w, const fb::NotificationT& n) {
  w.Key("notification");
  w.StartObject();
  str(w, "category", name(n.category));
  str(w, "status", name(n.status));
  str(w, "action", n.action);
  str_opt(w, "carrier", n.carrier);
  str_opt(w, "tracking_number", n.tracking_number);
  str_opt(w, "message", n.message);
  if (n.estimated_delivery_us > 0) time_field(w, "estimated_delivery", n.estimated_delivery_us);
  party(w, "recipient", n.recipient.get());
  w.EndObject();
}

void milestone(Writer& w, const fb::MilestoneT& m) {
  w.StartObject();
  str(w, "status", name(m.status));
  str(w, "raw_code", m.raw_code);
  time_field(w, "event_time", m.event_time_us);
  w.Key("sequence");
  w.Int64(m.sequence);
  str_opt(w, "event_id", m.event_id);
  str_opt(w, "description", m.description);
  if (m.location) {
    w.Key("location");
    w.StartObject();
    str_opt(w, "city", m.location->city);
    str_opt(w, "state", m.location->state);
    str_opt(w, "postal_code", m.location->postal_code);
    str_opt(w, "country", m.location->country);
    w.EndObject();
  }
  if (m.estimated_delivery_us > 0) time_field(w, "estimated_delivery", m.estimated_delivery_us);
  if (m.exception_category != fb::ExceptionCategory::none) str(w, "exception_category", name(m.exception_category));
  proof_of_delivery(w, m.proof_of_delivery.get());
  w.Key("applied");
  w.Bool(m.applied);
  time_field(w, "received_at", m.received_us);
  w.EndObject();
}

std::string render_order(const fb::OrderT& o, const std::vector<std::string>& shipment_ids) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  str(w, "order_id", o.order_id);
  str(w, "status", name(o.status));
  str_opt(w, "status_reason", o.status_reason);
  str_opt(w, "source_system", o.source_system);
  str(w, "service_level", name(o.service_level));
  party(w, "ship_from", o.ship_from.get());
  party(w, "ship_to", o.ship_to.get());
  w.Key("lines");
  w.StartArray();
  for (auto& l : o.lines) {
    w.StartObject();
    str(w, "sku", l->sku);
    w.Key("qty");
    w.Int64(l->qty);
    str_opt(w, "description", l->description);
    w.EndObject();
  }
  w.EndArray();
  w.Key("packages");
  w.StartArray();
  for (auto& p : o.packages) package(w, *p);
  w.EndArray();
  w.Key("references");
  w.StartObject();
  for (auto& kv : o.references) str(w, kv->key.c_str(), kv->value);
  w.EndObject();
  w.Key("shipments");
  w.StartArray();
  for (auto& id : shipment_ids) w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
  w.EndArray();
  w.Key("version");
  w.Uint64(o.version);
  time_field(w, "created_at", o.created_us);
  time_field(w, "updated_at", o.updated_us);
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

std::string render_shipment(const fb::ShipmentT& s, std::vector<fb::MilestoneT> ms) {
  std::stable_sort(ms.begin(), ms.end(), [](auto& a, auto& b) {
    return std::tie(a.event_time_us, a.sequence) < std::tie(b.event_time_us, b.sequence);
  });
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  str(w, "shipment_id", s.shipment_id);
  str(w, "order_id", s.order_id);
  str(w, "carrier", s.carrier);
  str_opt(w, "service", s.service);
  str(w, "status", name(s.status));
  w.Key("tracking_numbers");
  w.StartArray();
  for (auto& t : s.tracking_numbers) w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()));
  w.EndArray();
  if (!s.packages.empty()) {
    w.Key("packages");
    w.StartArray();
    for (auto& p : s.packages) package(w, *p);
    w.EndArray();
  }
  if (s.booking_state != fb::BookingState::none || !s.reference.empty()) {
    static const char* const states[] = {"none", "selecting", "requested", "in_doubt", "booked", "rejected", "voided"};
    w.Key("booking");
    w.StartObject();
    str(w, "state", states[static_cast<int>(s.booking_state)]);
    str_opt(w, "reference", s.reference);
    str_opt(w, "carrier_shipment_id", s.carrier_shipment_id);
    str_opt(w, "selection_reason", s.selection_reason);
    if (s.profile_version) {
      w.Key("profile_version");
      w.Uint(s.profile_version);
    }
    w.Key("rounds");
    w.Uint(s.booking_rounds);
    str_opt(w, "pickup_confirmation", s.pickup_confirmation);
    if (s.reconcile_pending) {
      w.Key("reconcile_pending");  // a doubtful booking: duplicates at the carrier still checked for
      w.Bool(true);
    }
    w.EndObject();
    str(w, "service_level", name(s.service_level));
    party(w, "ship_from", s.ship_from.get());
    party(w, "ship_to", s.ship_to.get());
  }
  if (!s.exception_reason.empty()) {
    w.Key("exception");
    w.StartObject();
    str(w, "reason", s.exception_reason);
    str_opt(w, "message", s.exception_message);
    str_opt(w, "carrier_code", s.exception_carrier_code);
    w.EndObject();
  }
  if (s.rate && s.rate->total) {
    w.Key("rate");
    w.StartObject();
    str(w, "carrier", s.rate->carrier);
    str(w, "service", s.rate->service);
    money(w, "total", s.rate->total.get());
    time_field(w, "quoted_at", s.rate->quoted_us);
    w.EndObject();
  }
  if (!s.labels.empty()) {
    w.Key("labels");
    w.StartArray();
    for (auto& l : s.labels) {
      w.StartObject();
      str(w, "tracking_number", l->tracking_number);
      str(w, "format", l->format);
      str_opt(w, "data", l->data_ref);
      w.EndObject();
    }
    w.EndArray();
  }
  if (s.estimated_delivery_us > 0) time_field(w, "estimated_delivery", s.estimated_delivery_us);
  proof_of_delivery(w, s.proof_of_delivery.get());
  bool armed = false;
  for (auto& t : s.sla) armed = armed || (t && (t->due_us || t->fired_due_us));
  if (armed) {
    w.Key("sla");
    w.StartObject();
    for (auto& t : s.sla) {
      if (!t || (!t->due_us && !t->fired_due_us)) continue;
      w.Key(name(t->kind));
      w.StartObject();
      if (t->due_us) time_field(w, "due", t->due_us);
      if (t->fired_due_us) time_field(w, "breached", t->fired_due_us);
      w.EndObject();
    }
    w.EndObject();
  }
  w.Key("milestones");
  w.StartArray();
  for (auto& m : ms) milestone(w, m);
  w.EndArray();
  w.Key("version");
  w.Uint64(s.version);
  time_field(w, "created_at", s.created_us);
  time_field(w, "updated_at", s.updated_us);
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

std::string render_problem(int http_status, const Status& st) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  std::string type = std::string("https://waybill.dev/problems/") + to_string(st.code());
  str(w, "type", type);
  const char* title = "Error";
  switch (st.code()) {
    case Code::invalid_argument: title = "Invalid request"; break;
    case Code::not_found: title = "Not found"; break;
    case Code::conflict: title = "Conflict"; break;
    case Code::idempotency_mismatch: title = "Idempotency key reused with a different request"; break;
    case Code::in_flight: title = "Request with this idempotency key is in progress"; break;
    case Code::payload_too_large: title = "Payload too large"; break;
    case Code::unavailable: title = "Service unavailable"; break;
    case Code::overloaded: title = "Too many requests"; break;
    case Code::forbidden: title = "Forbidden"; break;
    default: title = "Internal error";
  }
  w.Key("title");
  w.String(title);
  w.Key("status");
  w.Int(http_status);
  str(w, "detail", st.message());
  if (!st.field().empty()) {
    str(w, "field", st.field());
    w.Key("errors");
    w.StartArray();
    w.StartObject();
    str(w, "field", st.field());
    str(w, "reason", st.message());
    w.EndObject();
    w.EndArray();
  }
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

std::string render_line_result(const LineResult& r) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  str(w, "outcome", r.outcome);
  str_opt(w, "shipment_id", r.shipment_id);
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

std::string render_tracking_results(const std::vector<LineResult>& results) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  size_t counts[4] = {0, 0, 0, 0};
  w.StartObject();
  w.Key("results");
  w.StartArray();
  for (size_t i = 0; i < results.size(); ++i) {
    auto& r = results[i];
    w.StartObject();
    w.Key("line");
    w.Uint64(r.line_number);
    str(w, "outcome", r.outcome);
    str_opt(w, "shipment_id", r.shipment_id);
    if (!r.status.ok()) {
      str(w, "error", to_string(r.status.code()));
      str_opt(w, "field", r.status.field());
      str(w, "reason", r.status.message());
    }
    w.EndObject();
    counts[r.outcome == "applied" ? 0 : r.outcome == "late" ? 1 : r.outcome == "duplicate" ? 2 : 3]++;
  }
  w.EndArray();
  const char* names[] = {"applied", "late", "duplicate", "rejected"};
  w.Key("summary");
  w.StartObject();
  for (int i = 0; i < 4; ++i) {
    w.Key(names[i]);
    w.Uint64(counts[i]);
  }
  w.EndObject();
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

}  // namespace waybill::actors
