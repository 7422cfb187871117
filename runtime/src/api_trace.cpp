// GET /v1/trace/{order_id}: from the ERP order id to its shipments, packages and
// tracking numbers (lineage), plus the audit trail of every change and decision made on
// the way, in commit order (the order's and its shipments' outbox events, each with the
// reason it happened: validation, carrier selection and its reason, booking with the
// profile version, retries resolved by lookup, exceptions, ownership rejections, late
// milestones, SLA breaches, notifications).
#include <algorithm>
#include <map>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include "api_call.hpp"

#include "waybill/actors/reads.hpp"
#include "waybill/actors/settlement.hpp"
#include "waybill/runtime/api.hpp"
#include "waybill/runtime/event_feed.hpp"
#include "waybill/runtime/url.hpp"

namespace waybill::runtime {

namespace {
/// Most audit entries one trace returns (older ones first); `limit` may lower it.
constexpr size_t kMaxTraceEvents = 10000;
constexpr size_t kMaxTraceShipments = 100;

std::string json_string(const std::string& s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return {sb.GetString(), sb.GetSize()};
}
}  // namespace

namespace {

// The order's audit entries in this node's feed (all of them, or only the freight.*
// events of invoices that billed it), each rendered as a CloudEvent, and the latest
// state of each invoice line that billed it, by dispute id.
struct Trail {
  std::string audit;  // comma-separated CloudEvents
  size_t entries = 0;
  std::map<std::string, std::string> invoice_lines;
};

Status collect_trail(const storage::Store& store, const std::string& order_id, size_t limit, bool freight_only,
                     const std::string& source, Trail* out) {
  Status bad;
  std::string prefix = order_id + '\0';
  auto st = store.scan_prefix(storage::Column::event_index, prefix, limit, [&](std::string_view key, std::string_view) {
    uint64_t pos = storage::read_be64(key.substr(prefix.size()));
    std::string stored;
    auto got = store.get(storage::Column::events, storage::be64(pos), &stored);
    if (!got.ok()) {
      bad = got;
      return false;
    }
    auto ev = decode<fb::EventT>(stored);
    const bool freight = ev && ev->kind == fb::EntityKind::invoice && ev->freight && ev->freight->line;
    if (freight_only && !freight) return true;
    out->audit += (out->entries++ ? "," : "") + render_cloudevent(pos, stored, source);
    if (freight) {
      rapidjson::StringBuffer sb;
      actors::JsonWriter w(sb);
      w.StartObject();
      actors::freight_posting(w, *ev->freight);
      w.EndObject();
      out->invoice_lines[actors::dispute_id(ev->freight->carrier, ev->freight->invoice_number, ev->freight->line->line_no)] =
          std::string(sb.GetString(), sb.GetSize());
    }
    return true;
  });
  return st.ok() ? bad : st;
}

Result<size_t> trace_limit(const std::string& target) {
  size_t limit = kMaxTraceEvents;
  if (auto l = query_param(target, "limit")) {
    try {
      limit = std::min<size_t>(kMaxTraceEvents, std::stoul(*l));
    } catch (const std::exception&) {
      return Status{Code::invalid_argument, "must be a positive integer", "limit"};
    }
    if (limit == 0) return Status{Code::invalid_argument, "must be a positive integer", "limit"};
  }
  return limit;
}

// Adds a peer's freight trail ({"audit":[...],"invoice_lines":{id: line}}) to `trail`.
Status add_peer_trail(const NodeAnswer& a, Trail* trail) {
  if (!a.reached)
    return Status{Code::unavailable, "cluster node " + a.node_id + " holds invoices that may bill this order and is unreachable"};
  if (a.response.status != 200)
    return Status{a.response.status == 503 ? Code::unavailable : Code::internal,
                  "cluster node " + a.node_id + " answered " + std::to_string(a.response.status) + " for the freight trail"};
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array audit;
  simdjson::dom::object lines;
  if (parser.parse(a.response.body).get(doc) != simdjson::SUCCESS || doc["audit"].get_array().get(audit) != simdjson::SUCCESS ||
      doc["invoice_lines"].get_object().get(lines) != simdjson::SUCCESS)
    return Status{Code::internal, "cluster node " + a.node_id + " answered a freight trail that cannot be read"};
  for (auto entry : audit) trail->audit += (trail->entries++ ? "," : "") + simdjson::minify(entry);
  for (auto field : lines) trail->invoice_lines[std::string(field.key)] = simdjson::minify(field.value);
  return {};
}

}  // namespace

void Api::trace(const CallPtr& call, const std::string& order_id) {
  if (auto st = validate_id(order_id, "order_id"); !st.ok()) return call->fail(st);
  auto limit = trace_limit(call->req.target);
  if (!limit) return call->fail(limit.status());
  auto& store = engine_.store();
  auto order = actors::read_order_json(store, order_id);
  if (!order) return call->fail(order.status());
  auto ids = actors::load_order_shipment_ids(store, order_id, kMaxTraceShipments);
  if (!ids) return call->fail(ids.status());
  // Assembled as text: each piece is already a rendered JSON document.
  auto body = std::make_shared<std::string>("{\"order_id\":" + json_string(order_id) + ",\"order\":" + *order +
                                            ",\"shipments\":[");
  std::vector<std::string> carriers;
  for (size_t i = 0; i < ids->size(); ++i) {
    auto shipment = actors::load_shipment(store, (*ids)[i]);
    if (!shipment) return call->fail(shipment.status());
    if (std::find(carriers.begin(), carriers.end(), shipment->carrier) == carriers.end() && !shipment->carrier.empty())
      carriers.push_back(shipment->carrier);
    auto rendered = actors::read_shipment_json(store, (*ids)[i]);
    if (!rendered) return call->fail(rendered.status());
    *body += (i ? "," : "") + *rendered;
  }
  // Lineage down to the carrier's invoice lines: the latest state of each line that
  // billed this order, from its freight.* events.
  auto trail = std::make_shared<Trail>();
  if (auto st = collect_trail(store, order_id, *limit, false, options_.webhooks.source, trail.get()); !st.ok())
    return call->fail(st);
  auto finish = [call, body, trail, limit = *limit] {
    *body += "],\"audit\":[" + trail->audit + "],\"invoice_lines\":[";
    size_t k = 0;
    for (auto& [id, rendered] : trail->invoice_lines) *body += (k++ ? "," : "") + rendered;
    *body += "],\"audit_truncated\":" + std::string(trail->entries >= limit ? "true" : "false") + "}";
    call->finish(HttpResponse{200, "application/json", std::move(*body), {}});
  };
  // In a cluster the invoices billing this order settled on their carriers' nodes, and
  // their freight.* events are in those nodes' feeds.
  if (!settlement_peers_ || carriers.empty()) return finish();
  HttpRequest ask;
  ask.method = "GET";
  ask.target = "/_cluster/freight-trail/" + percent_encode(order_id) + "?limit=" + std::to_string(*limit);
  settlement_peers_(carriers, std::move(ask), call->req, [call, trail, finish](std::vector<NodeAnswer> answers) {
    for (auto& a : answers)
      if (auto st = add_peer_trail(a, trail.get()); !st.ok()) return call->fail(st);
    finish();
  });
}

void Api::freight_trail(const CallPtr& call, const std::string& order_id) {
  if (auto st = validate_id(order_id, "order_id"); !st.ok()) return call->fail(st);
  auto limit = trace_limit(call->req.target);
  if (!limit) return call->fail(limit.status());
  Trail trail;
  if (auto st = collect_trail(engine_.store(), order_id, *limit, true, options_.webhooks.source, &trail); !st.ok())
    return call->fail(st);
  std::string body = "{\"audit\":[" + trail.audit + "],\"invoice_lines\":{";
  size_t k = 0;
  for (auto& [id, rendered] : trail.invoice_lines) body += (k++ ? "," : "") + json_string(id) + ":" + rendered;
  call->finish(HttpResponse{200, "application/json", body + "}}", {}});
}

}  // namespace waybill::runtime
