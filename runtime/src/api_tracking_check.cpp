// Tracking numbers unique across a cluster. A registered shipment's numbers are checked
// on its order's owner, like on one node, and then on every other member: each looks in
// its own tracking index and at its own registrations in flight. Why that is enough:
// a registration holds its node's lock on each number from before its checks until its
// commit, and a member answers "in flight" while its lock is held. Of two registrations
// of one number racing on two nodes, each asks the other's node while holding its own
// lock; whichever asks second sees the first one's lock or, after its commit, its index
// entry, so at most one of them passes.
#include <simdjson.h>

#include "api_call.hpp"
#include "waybill/actors/render_json.hpp"

namespace waybill::runtime {

namespace {

constexpr const char* kTrackingCheckPath = "/_cluster/tracking-check";

std::string lock_key(const std::string& carrier, const std::string& number) {
  return "tracking:" + actors::keys::tracking_prefix(carrier, number);
}

std::string check_body(const fb::ShipmentT& s) {
  rapidjson::StringBuffer sb;
  actors::JsonWriter w(sb);
  w.StartObject();
  w.Key("carrier");
  w.String(s.carrier.c_str());
  w.Key("shipment_id");
  w.String(s.shipment_id.c_str());
  w.Key("ship_date_us");
  w.Int64(s.ship_date_us);
  w.Key("tracking_numbers");
  w.StartArray();
  for (auto& n : s.tracking_numbers) w.String(n.c_str());
  w.EndArray();
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

// The first number another member refuses, as the status this registration fails with;
// ok when every member was reached and refuses none.
Status verdict(const std::vector<NodeAnswer>& answers) {
  for (auto& a : answers)
    if (!a.reached)
      return {Code::unavailable, "cluster node " + a.node_id +
                                     " is unreachable and may hold these tracking numbers; nothing was stored, retry later"};
  simdjson::dom::parser parser;
  for (auto& a : answers) {
    simdjson::dom::element doc;
    simdjson::dom::array refused;
    if (a.response.status != 200 || parser.parse(a.response.body).get(doc) != simdjson::SUCCESS ||
        doc["refused"].get_array().get(refused) != simdjson::SUCCESS)
      return {a.response.status == 503 ? Code::unavailable : Code::internal,
              "cluster node " + a.node_id + " answered " + std::to_string(a.response.status) + " to the tracking check"};
    for (auto r : refused) {
      uint64_t index = 0;
      std::string_view code, shipment;
      if (r["index"].get_uint64().get(index) != simdjson::SUCCESS || r["code"].get_string().get(code) != simdjson::SUCCESS)
        return {Code::internal, "cluster node " + a.node_id + " answered a tracking check that cannot be read"};
      const std::string field = "tracking_numbers[" + std::to_string(index) + "]";
      if (code == "in_flight")
        return {Code::in_flight, "tracking number is being registered by another request (on " + a.node_id + ")", field};
      if (r["shipment_id"].get_string().get(shipment) != simdjson::SUCCESS) shipment = "?";
      return {Code::conflict, "tracking number already belongs to shipment '" + std::string(shipment) + "'", field};
    }
  }
  return {};
}

}  // namespace

void Api::check_tracking_elsewhere(const CallPtr& call, const fb::ShipmentT& shipment, std::function<void()> then) {
  HttpRequest ask;
  ask.method = "POST";
  ask.target = kTrackingCheckPath;
  ask.content_type = "application/json";
  ask.body = check_body(shipment);
  other_nodes_(std::move(ask), call->req, [call, then = std::move(then)](std::vector<NodeAnswer> answers) {
    if (auto st = verdict(answers); !st.ok()) return call->fail(st);
    then();
  });
}

void Api::tracking_check(const CallPtr& call) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view carrier, shipment_id;
  int64_t ship_date_us = 0;
  simdjson::dom::array numbers;
  if (parser.parse(call->req.body).get(doc) != simdjson::SUCCESS || doc["carrier"].get_string().get(carrier) ||
      doc["shipment_id"].get_string().get(shipment_id) || doc["ship_date_us"].get_int64().get(ship_date_us) ||
      doc["tracking_numbers"].get_array().get(numbers))
    return call->fail({Code::invalid_argument, "not a tracking check"});
  if (numbers.size() > options_.limits.max_tracking_numbers)
    return call->fail({Code::invalid_argument, "too many tracking numbers", "tracking_numbers"});
  rapidjson::StringBuffer sb;
  actors::JsonWriter w(sb);
  w.StartObject();
  w.Key("refused");
  w.StartArray();
  size_t index = 0;
  for (auto item : numbers) {
    std::string_view number;
    if (item.get_string().get(number)) return call->fail({Code::invalid_argument, "not a tracking check"});
    const std::string c(carrier), n(number);
    // Held only while looking: a registration here holds it until its commit.
    const std::string key = lock_key(c, n);
    std::string holder, code;
    if (!locks_.try_acquire(key)) {
      code = "in_flight";
    } else {
      auto owner = actors::tracking_in_use(engine_.store(), c, n, ship_date_us, options_.tracking);
      locks_.release(key);
      if (owner && *owner != shipment_id) code = "conflict", holder = *owner;
      else if (!owner && owner.status().code() != Code::not_found) return call->fail(owner.status());
    }
    if (!code.empty()) {
      w.StartObject();
      w.Key("index");
      w.Uint64(index);
      w.Key("code");
      w.String(code.c_str());
      if (!holder.empty()) {
        w.Key("shipment_id");
        w.String(holder.c_str());
      }
      w.EndObject();
    }
    ++index;
  }
  w.EndArray();
  w.EndObject();
  call->finish(HttpResponse{200, "application/json", std::string(sb.GetString(), sb.GetSize()), {}});
}

}  // namespace waybill::runtime
