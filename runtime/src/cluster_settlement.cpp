// Settlement across the cluster: the facts an invoice is matched against, gathered from
// every member, and the cluster-wide dispute queue and summary (cluster.hpp).
#include <algorithm>

#include "cluster_node.hpp"
#include "waybill/runtime/cluster.hpp"
#include "waybill/runtime/url.hpp"

namespace waybill::runtime {

namespace {

// Most disputes one page lists, as the API bounds `limit` (1..1000, default 100); a
// value the API refuses is refused by every node alike, and that answer is relayed.
size_t page_limit(const HttpRequest& req) {
  auto l = query_param(req.target, "limit");
  if (!l) return 100;
  size_t n = 0;
  for (char c : *l) {
    if (c < '0' || c > '9' || n > 1000) return 1000;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n == 0 ? 1 : std::min<size_t>(n, 1000);
}

// A cluster-internal request on behalf of `origin`: each member checks the caller's key
// for the internal route and logs under the caller's correlation id.
HttpRequest on_behalf_of(const HttpRequest& origin, HttpRequest request) {
  request.from_peer = true;
  for (auto& [name, value] : origin.headers)
    if (name == "authorization" || name == "x-api-key" || name == "x-request-id" || name == "x-correlation-id")
      request.headers.emplace_back(name, value);
  return request;
}

}  // namespace

void Cluster::ask_others(HttpRequest request, const HttpRequest& origin,
                         std::function<void(std::vector<NodeAnswer>)> done) {
  std::vector<size_t> others;
  for (size_t i = 0; i < options_.members.size(); ++i)
    if (i != self_) others.push_back(i);
  gather(others, on_behalf_of(origin, std::move(request)), std::move(done));
}

void Cluster::ask_settlement_owners(const std::vector<std::string>& carriers, HttpRequest request,
                                    const HttpRequest& origin, std::function<void(std::vector<NodeAnswer>)> done) {
  std::vector<size_t> owners;
  for (auto& carrier : carriers) {
    size_t owner = hrw_owner(options_.members, settlement_key(carrier));
    if (owner != self_ && std::find(owners.begin(), owners.end(), owner) == owners.end()) owners.push_back(owner);
  }
  // A member that is down answers `reached == false` at once (ClusterNode::forward).
  gather(owners, on_behalf_of(origin, std::move(request)), std::move(done));
}

void Cluster::merged_view(HttpRequest&& req, Responder respond) {
  std::vector<size_t> all;
  for (size_t i = 0; i < options_.members.size(); ++i) all.push_back(i);
  const bool disputes = req.target.rfind("/v1/disputes", 0) == 0;
  const size_t limit = page_limit(req);
  gather(all, req, [this, disputes, limit, respond = std::move(respond)](std::vector<NodeAnswer> answers) {
    auto r = disputes ? merge_disputes(answers, limit) : merge_settlement_summary(answers);
    if (r.status == 503 && !std::any_of(r.headers.begin(), r.headers.end(), [](auto& h) { return h.first == "Retry-After"; }))
      r.headers.emplace_back("Retry-After", std::to_string(options_.retry_after_s));
    std::string ids;
    for (auto& a : answers) ids += (ids.empty() ? "" : ",") + a.node_id;
    r.headers.emplace_back("X-Waybill-Node", ids);
    respond(std::move(r));
  });
}

void Cluster::gather_invoice_facts(const actors::InvoiceInput& invoice, const HttpRequest& origin,
                                   InvoiceFactsDone done) {
  std::vector<size_t> all;
  for (size_t i = 0; i < options_.members.size(); ++i) {
    // Refused before asking anyone: a down member may hold a billed shipment.
    if (i != self_ && !node_->up(i))
      return done(Status{Code::unavailable, "cluster node " + options_.members[i].id +
                                                " is unreachable and may hold the shipments this invoice bills; "
                                                "nothing was stored, retry later"});
    all.push_back(i);
  }
  HttpRequest query;
  query.method = "POST";
  query.target = std::string(kInvoiceFactsPath);
  query.content_type = "application/x-flatbuffers";
  query.body = actors::encode_facts_query(invoice);
  const size_t lines = invoice.lines.size();
  gather(all, on_behalf_of(origin, std::move(query)), [lines, done = std::move(done)](std::vector<NodeAnswer> answers) {
    std::vector<std::vector<actors::LineFacts>> per_node;
    for (auto& a : answers) {
      if (!a.reached)
        return done(Status{Code::unavailable, "cluster node " + a.node_id +
                                                  " did not answer the invoice facts query; nothing was stored, retry later"});
      if (a.response.status != 200)
        return done(Status{a.response.status == 503 ? Code::unavailable : Code::internal,
                           "cluster node " + a.node_id + " answered " + std::to_string(a.response.status) +
                               " to the invoice facts query: " + a.response.body.substr(0, 300)});
      auto facts = actors::decode_facts_answer(a.response.body, lines);
      if (!facts) return done(Status{Code::internal, "cluster node " + a.node_id + ": " + facts.status().message()});
      per_node.push_back(std::move(*facts));
    }
    std::vector<actors::LineFacts> merged;
    merged.reserve(lines);
    for (size_t line = 0; line < lines; ++line) {
      std::vector<actors::LineFacts> answers_for_line;
      answers_for_line.reserve(per_node.size());
      for (auto& node : per_node) answers_for_line.push_back(std::move(node[line]));
      merged.push_back(actors::merge_line_facts(std::move(answers_for_line)));
    }
    done(std::move(merged));
  });
}

}  // namespace waybill::runtime
