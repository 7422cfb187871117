// Merging every node's part of a cluster-wide list: the dispute queue and the
// settlement summary (cluster_routing.hpp).
#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include <simdjson.h>

#include "waybill/actors/render_json.hpp"
#include "waybill/actors/settlement.hpp"
#include "waybill/runtime/cluster_routing.hpp"

namespace waybill::runtime {

namespace {

// The first answer that decides the whole list: a node not reached (503), or a node's
// refusal (4xx: a bad parameter every node refuses alike; 5xx: a fault). Null if all
// answered 200.
std::optional<HttpResponse> deciding_answer(const std::vector<NodeAnswer>& answers, const char* what) {
  for (auto& a : answers)
    if (!a.reached)
      return problem_response(503, {Code::unavailable, "node " + a.node_id + " holds part of the " + what +
                                                           " and is unreachable; retry later"});
  for (auto& a : answers)
    if (a.response.status != 200) return a.response;
  return std::nullopt;
}

// The storage order of a dispute id (carrier \0 invoice \0 be32 line): the order every
// node lists in; a plain string compare of the ids would put line 10 before line 9.
std::optional<std::string> dispute_sort_key(std::string_view id) {
  std::string carrier, number;
  uint32_t line = 0;
  if (!actors::parse_dispute_id(id, &carrier, &number, &line).ok()) return std::nullopt;
  return actors::keys::dispute(carrier, number, line);
}

HttpResponse malformed(const NodeAnswer& a, const char* what) {
  return problem_response(500, {Code::internal, "node " + a.node_id + " answered a " + what + " that cannot be read"});
}

}  // namespace

HttpResponse merge_disputes(const std::vector<NodeAnswer>& answers, size_t limit) {
  if (auto d = deciding_answer(answers, "dispute queue")) return std::move(*d);
  simdjson::dom::parser parser;
  std::map<std::string, std::pair<std::string, std::string>> items;  // sort key -> (id, minified item)
  std::optional<std::string> cut;  // the earliest sort key at which a node's page stopped
  for (auto& a : answers) {
    simdjson::dom::element doc;
    simdjson::dom::array list;
    if (parser.parse(a.response.body).get(doc) != simdjson::SUCCESS || doc["disputes"].get_array().get(list) != simdjson::SUCCESS)
      return malformed(a, "dispute list");
    for (auto item : list) {
      std::string_view id;
      if (item["dispute_id"].get_string().get(id) != simdjson::SUCCESS) return malformed(a, "dispute list");
      auto key = dispute_sort_key(id);
      if (!key) return malformed(a, "dispute list");
      items.emplace(std::move(*key), std::make_pair(std::string(id), std::string(simdjson::minify(item))));
    }
    std::string_view next;
    if (doc["next_after"].get_string().get(next) == simdjson::SUCCESS) {
      auto key = dispute_sort_key(next);
      if (!key) return malformed(a, "dispute list");
      if (!cut || *key < *cut) cut = std::move(*key);
    }
  }
  rapidjson::StringBuffer sb;
  actors::JsonWriter w(sb);
  w.StartObject();
  w.Key("disputes");
  w.StartArray();
  size_t returned = 0;
  std::string last_id;
  bool more = false;
  for (auto& [key, item] : items) {
    // Past a node's stop, that node may hold disputes not listed yet: stop there too.
    if ((cut && key > *cut) || returned == limit) {
      more = true;
      break;
    }
    w.RawValue(item.second.data(), item.second.size(), rapidjson::kObjectType);
    last_id = item.first;
    ++returned;
  }
  w.EndArray();
  if ((more || cut) && !last_id.empty()) {
    w.Key("next_after");
    w.String(last_id.data(), static_cast<rapidjson::SizeType>(last_id.size()));
  }
  w.EndObject();
  return HttpResponse{200, "application/json", std::string(sb.GetString(), sb.GetSize()), {}};
}

HttpResponse merge_settlement_summary(const std::vector<NodeAnswer>& answers) {
  if (auto d = deciding_answer(answers, "settlement summary")) return std::move(*d);
  simdjson::dom::parser parser;
  using Row = std::tuple<std::string, std::string, std::string, std::string>;  // carrier, lane, currency, json
  std::vector<Row> sections[2];
  const char* names[2] = {"carriers", "lanes"};
  for (auto& a : answers) {
    simdjson::dom::element doc;
    if (parser.parse(a.response.body).get(doc) != simdjson::SUCCESS) return malformed(a, "settlement summary");
    for (int s = 0; s < 2; ++s) {
      simdjson::dom::array rows;
      if (doc[names[s]].get_array().get(rows) != simdjson::SUCCESS) return malformed(a, "settlement summary");
      for (auto row : rows) {
        std::string_view carrier, lane, currency;
        if (row["carrier"].get_string().get(carrier) != simdjson::SUCCESS ||
            row["currency"].get_string().get(currency) != simdjson::SUCCESS)
          return malformed(a, "settlement summary");
        if (s == 1 && row["lane"].get_string().get(lane) != simdjson::SUCCESS) return malformed(a, "settlement summary");
        sections[s].emplace_back(std::string(carrier), std::string(lane), std::string(currency),
                                 std::string(simdjson::minify(row)));
      }
    }
  }
  std::string body = "{";
  for (int s = 0; s < 2; ++s) {
    std::sort(sections[s].begin(), sections[s].end());
    body += std::string(s ? "," : "") + "\"" + names[s] + "\":[";
    for (size_t i = 0; i < sections[s].size(); ++i) body += (i ? "," : "") + std::get<3>(sections[s][i]);
    body += "]";
  }
  body += "}";
  return HttpResponse{200, "application/json", std::move(body), {}};
}

}  // namespace waybill::runtime
