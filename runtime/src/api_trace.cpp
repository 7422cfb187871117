// GET /v1/trace/{order_id}: from the ERP order id to its shipments, packages and
// tracking numbers (lineage), plus the audit trail of every change and decision made on
// the way, in commit order (the order's and its shipments' outbox events, each with the
// reason it happened: validation, carrier selection and its reason, booking with the
// profile version, retries resolved by lookup, exceptions, ownership rejections, late
// milestones, SLA breaches, notifications).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "api_call.hpp"
#include <map>

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

void Api::trace(const CallPtr& call, const std::string& order_id) {
  if (auto st = validate_id(order_id, "order_id"); !st.ok()) return call->fail(st);
  size_t limit = kMaxTraceEvents;
  if (auto l = query_param(call->req.target, "limit")) {
    try {
      limit = std::min<size_t>(kMaxTraceEvents, std::stoul(*l));
    } catch (const std::exception&) {
      return call->fail({Code::invalid_argument, "must be a positive integer", "limit"});
    }
    if (limit == 0) return call->fail({Code::invalid_argument, "must be a positive integer", "limit"});
  }
  auto& store = engine_.store();
  auto order = actors::read_order_json(store, order_id);
  if (!order) return call->fail(order.status());
  auto ids = actors::load_order_shipment_ids(store, order_id, kMaxTraceShipments);
  if (!ids) return call->fail(ids.status());
  // Assembled as text: each piece is already a rendered JSON document.
  std::string body = "{\"order_id\":" + json_string(order_id) + ",\"order\":" + *order + ",\"shipments\":[";
  for (size_t i = 0; i < ids->size(); ++i) {
    auto shipment = actors::read_shipment_json(store, (*ids)[i]);
    if (!shipment) return call->fail(shipment.status());
    body += (i ? "," : "") + *shipment;
  }
  body += "],\"audit\":[";
  size_t n = 0;
  Status bad;
  // Lineage down to the carrier's invoice lines: the latest state of each line that
  // billed this order, from its freight.* events.
  std::map<std::string, std::string> invoice_lines;
  std::string prefix = order_id + '\0';
  auto st = store.scan_prefix(storage::Column::event_index, prefix, limit, [&](std::string_view key, std::string_view) {
    uint64_t pos = storage::read_be64(key.substr(prefix.size()));
    std::string stored;
    auto got = store.get(storage::Column::events, storage::be64(pos), &stored);
    if (!got.ok()) {
      bad = got;
      return false;
    }
    body += (n++ ? "," : "") + render_cloudevent(pos, stored, options_.webhooks.source);
    if (auto ev = decode<fb::EventT>(stored); ev && ev->kind == fb::EntityKind::invoice && ev->freight && ev->freight->line) {
      rapidjson::StringBuffer sb;
      actors::JsonWriter w(sb);
      w.StartObject();
      actors::freight_posting(w, *ev->freight);
      w.EndObject();
      invoice_lines[actors::dispute_id(ev->freight->carrier, ev->freight->invoice_number, ev->freight->line->line_no)] =
          std::string(sb.GetString(), sb.GetSize());
    }
    return true;
  });
  if (!st.ok()) return call->fail(st);
  if (!bad.ok()) return call->fail(bad);
  body += "],\"invoice_lines\":[";
  size_t k = 0;
  for (auto& [id, rendered] : invoice_lines) body += (k++ ? "," : "") + rendered;
  body += "],\"audit_truncated\":" + std::string(n == limit ? "true" : "false") + "}";
  call->finish(HttpResponse{200, "application/json", std::move(body), {}});
}

}  // namespace waybill::runtime
