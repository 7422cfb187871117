#include "waybill/cli/requests.hpp"

#include <utility>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace waybill::cli::requests {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

ApiRequest get(std::string target) { return {"GET", std::move(target), {}}; }

// "?a=1&b=2" from the non-empty values, in the given order.
std::string query(const std::vector<std::pair<const char*, std::string>>& params) {
  std::string out;
  for (auto& [name, value] : params) {
    if (value.empty()) continue;
    out += out.empty() ? '?' : '&';
    out += name;
    out += '=';
    out += percent_encode(value);
  }
  return out;
}

std::string limit_text(int limit) { return limit > 0 ? std::to_string(limit) : std::string(); }

void string_member(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string resolve_body(const char* action, const std::string& carrier, const std::string& service) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  string_member(w, "action", action);
  if (!carrier.empty()) string_member(w, "carrier", carrier);
  if (!service.empty()) string_member(w, "service", service);
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

}  // namespace

ApiRequest get_order(const std::string& order_id) { return get("/v1/orders/" + percent_encode(order_id)); }

ApiRequest get_shipment(const std::string& shipment_id) {
  return get("/v1/shipments/" + percent_encode(shipment_id));
}

ApiRequest trace(const std::string& order_id) { return get("/v1/trace/" + percent_encode(order_id)); }

ApiRequest list_exceptions(const ExceptionFilter& f) {
  return get("/v1/exceptions" + query({{"carrier", f.carrier},
                                       {"region", f.region},
                                       {"reason", f.reason},
                                       {"after", f.after},
                                       {"limit", limit_text(f.limit)}}));
}

ApiRequest retry_exception(const std::string& shipment_id, const std::string& carrier, const std::string& service) {
  return {"POST", "/v1/exceptions/" + percent_encode(shipment_id) + "/resolve", resolve_body("retry", carrier, service)};
}

ApiRequest cancel_exception(const std::string& shipment_id) {
  return {"POST", "/v1/exceptions/" + percent_encode(shipment_id) + "/resolve", resolve_body("cancel", "", "")};
}

ApiRequest list_disputes(const DisputeFilter& f) {
  return get("/v1/disputes" + query({{"state", f.state},
                                         {"carrier", f.carrier},
                                         {"outcome", f.outcome},
                                         {"after", f.after},
                                         {"limit", limit_text(f.limit)}}));
}

ApiRequest decide_dispute(const std::string& dispute_id, const DisputeDecision& d) {
  using Kind = DisputeDecision::Kind;
  const char* action = d.kind == Kind::accept ? "accept" : d.kind == Kind::reject ? "reject" : "resolve";
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  if (d.kind == Kind::resolve) {
    w.Key("amount_minor");
    w.Int64(d.amount_minor);
  }
  if (!d.note.empty()) string_member(w, "note", d.note);
  w.EndObject();
  // The id holds ':' (carrier:invoice:line); encoded, the server decodes it back.
  return {"POST", "/v1/disputes/" + percent_encode(dispute_id) + "/" + action, {sb.GetString(), sb.GetSize()}};
}

ApiRequest list_subscriptions() { return get("/v1/subscriptions"); }

ApiRequest replay_dead_letters(const std::string& subscription_id) {
  return {"POST", "/v1/subscriptions/" + percent_encode(subscription_id) + "/dead-letters/replay", {}};
}

ApiRequest list_carriers() { return get("/v1/carriers"); }

}  // namespace waybill::cli::requests
