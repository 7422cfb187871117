// Merging the answers of every node to one broadcast tracking request.
#include <map>
#include <optional>

#include <simdjson.h>

#include "waybill/runtime/cluster_routing.hpp"

namespace waybill::runtime {

namespace {

// Lower is better: the node that applied the input, then an error every node gives
// alike (bad input), then a server-side failure; "not found here" last.
int rank(const HttpResponse& r) {
  if (r.status >= 200 && r.status < 300) return 0;
  if (r.status == 404) return 3;
  if (r.status >= 400 && r.status < 500) return 1;
  return 2;
}

HttpResponse unreachable_owner(const char* what) {
  return problem_response(503, {Code::unavailable, std::string("a cluster node that may hold this ") + what +
                                                       " is unreachable; nothing was stored, retry later"});
}

HttpResponse merge_single(const std::vector<NodeAnswer>& answers, std::string* served_by) {
  const NodeAnswer* best = nullptr;
  bool all_reached = true;
  for (auto& a : answers) {
    if (!a.reached) {
      all_reached = false;
      continue;
    }
    if (!best || rank(a.response) < rank(best->response)) best = &a;
  }
  if (!best || (best->response.status == 404 && !all_reached)) return unreachable_owner("tracking number");
  *served_by = best->node_id;
  return best->response;
}

// One line's result as the nodes reported it.
struct LineEntry {
  std::string json;       // the result object, minified
  std::string outcome;    // applied | late | duplicate | rejected
  std::string error;      // Code name when rejected
};

// A node's per-line results; nullopt when its body holds none (then it is treated as
// not reached: it could not say what it holds).
std::optional<std::map<uint64_t, LineEntry>> read_results(const std::string& body) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::array results;
  if (parser.parse(body)["results"].get_array().get(results) != simdjson::SUCCESS) return std::nullopt;
  std::map<uint64_t, LineEntry> out;
  for (auto item : results) {
    uint64_t line = 0;
    if (item["line"].get_uint64().get(line) != simdjson::SUCCESS) return std::nullopt;
    LineEntry e;
    e.json = simdjson::minify(item);
    std::string_view v;
    if (item["outcome"].get_string().get(v) == simdjson::SUCCESS) e.outcome = v;
    if (item["error"].get_string().get(v) == simdjson::SUCCESS) e.error = v;
    out.emplace(line, std::move(e));
  }
  return out;
}

bool not_found_here(const LineEntry& e) { return e.outcome == "rejected" && e.error == "not_found"; }

HttpResponse merge_ndjson(const std::vector<NodeAnswer>& answers, std::string* served_by) {
  std::map<uint64_t, LineEntry> merged;
  bool all_reached = true;
  for (auto& a : answers) {
    if (!a.reached) {
      all_reached = false;
      continue;
    }
    // The body as a whole was refused (too many lines, idempotency conflict, ...):
    // every node refuses it alike, so this node's answer is the answer.
    if (a.response.status != 200 && a.response.status != 503) {
      *served_by = a.node_id;
      return a.response;
    }
    auto lines = read_results(a.response.body);
    if (!lines) {
      all_reached = false;
      continue;
    }
    for (auto& [line, entry] : *lines) {
      auto it = merged.find(line);
      if (it == merged.end()) merged.emplace(line, std::move(entry));
      else if (not_found_here(it->second) && !not_found_here(entry)) it->second = std::move(entry);
    }
  }
  if (merged.empty()) return unreachable_owner("tracking number");
  size_t counts[4] = {0, 0, 0, 0};
  bool unavailable = false;
  std::string body = "{\"results\":[";
  bool first = true;
  for (auto& [line, e] : merged) {
    if (!all_reached && not_found_here(e)) {
      e.outcome = "rejected";
      e.error = "unavailable";
      e.json = "{\"line\":" + std::to_string(line) +
               ",\"outcome\":\"rejected\",\"error\":\"unavailable\",\"field\":\"tracking_number\",\"reason\":"
               "\"a cluster node that may hold this tracking number is unreachable; not stored, retry later\"}";
    }
    unavailable = unavailable || e.error == "unavailable";
    counts[e.outcome == "applied" ? 0 : e.outcome == "late" ? 1 : e.outcome == "duplicate" ? 2 : 3]++;
    body += first ? "" : ",";
    body += e.json;
    first = false;
  }
  body += "],\"summary\":{\"applied\":" + std::to_string(counts[0]) + ",\"late\":" + std::to_string(counts[1]) +
          ",\"duplicate\":" + std::to_string(counts[2]) + ",\"rejected\":" + std::to_string(counts[3]) + "}}";
  served_by->clear();
  return HttpResponse{unavailable ? 503 : 200, "application/json", std::move(body), {}};
}

}  // namespace

HttpResponse merge_broadcast(const std::vector<NodeAnswer>& answers, bool ndjson, std::string* served_by) {
  served_by->clear();
  return ndjson ? merge_ndjson(answers, served_by) : merge_single(answers, served_by);
}

}  // namespace waybill::runtime
