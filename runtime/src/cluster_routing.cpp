#include "waybill/runtime/cluster_routing.hpp"

#include <optional>

#include <simdjson.h>

#include "waybill/actors/model.hpp"
#include "waybill/runtime/url.hpp"

namespace waybill::runtime {

namespace {

// splitmix64's finaliser: FNV-1a alone changes few high bits for keys that differ in
// their last characters ("SO-1", "SO-2"), which would skew the highest-score choice.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// The body's top-level "order_id" string, or empty when there is none to be read.
std::string body_order_id(const std::string& body) {
  // A parser per thread: HTTP threads call this for every POST of an order.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return {};
  std::string_view id;
  if (doc["order_id"].get_string().get(id) != simdjson::SUCCESS) return {};
  return std::string(id);
}

Route keyed(RouteKind kind, std::optional<std::string> key) {
  if (!key || key->empty()) return {};  // the local validation answers (4xx, no write)
  return {kind, std::move(*key)};
}

// Invoice ids are "carrier:invoice_number", dispute ids "carrier:invoice_number:line".
std::optional<std::string> carrier_of_id(const std::optional<std::string>& id) {
  if (!id) return std::nullopt;
  auto colon = id->find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  return id->substr(0, colon);
}

// A list filtered by carrier is that carrier's node's; otherwise every node's, merged.
Route by_carrier_or_merged(const HttpRequest& req) {
  if (req.method != "GET") return {};
  if (auto carrier = query_param(req.target, "carrier"); carrier && !carrier->empty())
    return {RouteKind::settlement, std::move(*carrier)};
  return {RouteKind::merged_view, {}};
}

}  // namespace

std::string settlement_key(std::string_view carrier) { return "\x1esettlement\x1e" + std::string(carrier); }

uint64_t hrw_score(std::string_view member_id, std::string_view key) {
  // The member id is hashed first and seeds the key's hash; a separator keeps
  // ("ab", "c") and ("a", "bc") apart.
  uint64_t seed = fnv1a64("\x1f", fnv1a64(member_id));
  return mix64(fnv1a64(key, seed));
}

size_t hrw_owner(const std::vector<ClusterMember>& members, std::string_view key) {
  size_t best = 0;
  uint64_t best_score = hrw_score(members[0].id, key);
  for (size_t i = 1; i < members.size(); ++i) {
    uint64_t s = hrw_score(members[i].id, key);
    if (s > best_score || (s == best_score && members[i].id < members[best].id)) {
      best = i;
      best_score = s;
    }
  }
  return best;
}

std::string routing_order_of_shipment(std::string_view shipment_id) {
  auto dash = shipment_id.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == shipment_id.size()) return std::string(shipment_id);
  for (size_t i = dash + 1; i < shipment_id.size(); ++i)
    if (shipment_id[i] < '0' || shipment_id[i] > '9') return std::string(shipment_id);
  return std::string(shipment_id.substr(0, dash));
}

Route classify_request(const HttpRequest& req) {
  std::string_view target = req.target;
  auto parts = split_path(target.substr(0, target.find('?')));
  if (parts.size() < 2 || parts[0] != "v1") return {};
  const bool post = req.method == "POST";
  auto segment = [&](size_t i) { return percent_decode(parts[i]); };
  const auto& what = parts[1];
  const size_t n = parts.size();
  if (what == "orders") {
    if (n == 2) return post ? keyed(RouteKind::owner, body_order_id(req.body)) : Route{};
    if (n == 3 || n == 4) return keyed(RouteKind::owner, segment(2));
  } else if (what == "trace" && n == 3) {
    return keyed(RouteKind::owner, segment(2));
  } else if (what == "shipments") {
    // A registered shipment lives with its order (the body names it).
    if (n == 2) return post ? keyed(RouteKind::owner, body_order_id(req.body)) : Route{};
    if (n == 3 || (n == 4 && parts[3] == "void")) {
      auto id = segment(2);
      return keyed(RouteKind::shipment, id ? std::optional(routing_order_of_shipment(*id)) : std::nullopt);
    }
  } else if (what == "exceptions" && n == 4 && parts[3] == "resolve") {
    auto id = segment(2);
    return keyed(RouteKind::shipment, id ? std::optional(routing_order_of_shipment(*id)) : std::nullopt);
  } else if (what == "tracking" && n == 2 && post) {
    return {RouteKind::broadcast, {}};
  } else if (what == "carriers" && n == 4 && parts[3] == "webhook" && post) {
    return {RouteKind::broadcast, {}};
  } else if (what == "sources" && n == 4 && parts[3] == "orders" && post) {
    return keyed(RouteKind::source_order, segment(2));
  } else if (what == "invoices") {
    if (n == 2 && post) return {RouteKind::invoice_intake, {}};
    if (n == 3) return keyed(RouteKind::settlement, carrier_of_id(segment(2)));
  } else if (what == "disputes") {
    if (n == 4 && post) return keyed(RouteKind::settlement, carrier_of_id(segment(2)));
    if (n == 2) return by_carrier_or_merged(req);
  } else if (what == "settlement" && n == 3 && parts[2] == "summary") {
    return by_carrier_or_merged(req);
  }
  return {};
}

}  // namespace waybill::runtime
