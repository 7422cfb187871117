#include "waybill/runtime/cluster.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "cluster_node.hpp"

namespace waybill::runtime {

namespace {

constexpr const char* kNodeHeader = "X-Waybill-Node";
constexpr const char* kOwnerHeader = "X-Waybill-Owner";

bool has_header(const HttpResponse& r, std::string_view name) {
  for (auto& [k, v] : r.headers)
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return true;
  return false;
}

// Names the node that produced an answer, unless a node closer to the work already did.
void name_node(HttpResponse& r, const std::string& id) {
  if (!has_header(r, kNodeHeader)) r.headers.emplace_back(kNodeHeader, id);
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;  // config values hold none; never emit raw controls
    out += c;
  }
  return out + "\"";
}

std::string_view path_of(const HttpRequest& r) {
  std::string_view t = r.target;
  return t.substr(0, t.find('?'));
}

}  // namespace

Cluster::Cluster(ClusterOptions options, size_t self, ClusterHooks hooks)
    : options_(std::move(options)),
      self_(self),
      local_(std::move(hooks.local)),
      source_key_(std::move(hooks.source_order_key)),
      invoice_carrier_(std::move(hooks.invoice_carrier)) {}

Route Cluster::resolve(Route route, const HttpRequest& req) const {
  if (route.kind == RouteKind::invoice_intake) {
    // Parsed here and again by the owner's API: the price of routing by a field of the body.
    auto carrier = invoice_carrier_ ? invoice_carrier_(req) : std::nullopt;
    if (!carrier || carrier->empty()) return {};
    return {RouteKind::settlement, std::move(*carrier)};
  }
  if (route.kind != RouteKind::source_order) return route;
  // The profile maps the body here and again on the owner: the price of routing by an
  // id that only the mapping knows (a parse of one order).
  auto id = source_key_ ? source_key_(route.key, req.body) : std::nullopt;
  if (!id || id->empty()) return {};
  return {RouteKind::owner, std::move(*id)};
}

Cluster::~Cluster() { stop(); }

Result<std::unique_ptr<Cluster>> Cluster::start(const ClusterOptions& options, ClusterHooks hooks) {
  if (auto st = validate_cluster(options); !st.ok()) return st;
  if (!options.enabled()) return Status{Code::invalid_argument, "clustering is off (no members)", "cluster.members"};
  if (!hooks.local) return Status{Code::invalid_argument, "no local handler", "cluster"};
  size_t self = 0;
  while (options.members[self].id != options.node_id) ++self;  // validated: it is a member
  std::unique_ptr<Cluster> c(new Cluster(options, self, std::move(hooks)));
  auto* raw = c.get();
  auto node = ClusterNode::start(options, self, [raw](HttpRequest&& req, Responder respond) {
    raw->serve_forwarded(std::move(req), std::move(respond));
  });
  if (!node) return node.status();
  c->node_ = std::move(*node);
  return c;
}

void Cluster::stop() {
  if (node_) node_->stop();
}

const std::string& Cluster::node_id() const { return options_.members[self_].id; }

const std::string& Cluster::owner_of(std::string_view key) const { return options_.members[hrw_owner(options_.members, key)].id; }

bool Cluster::member_up(const std::string& id) const {
  for (size_t i = 0; i < options_.members.size(); ++i)
    if (options_.members[i].id == id) return i == self_ || node_->up(i);
  return false;
}

void Cluster::handle(HttpRequest&& req, Responder respond) {
  // One correlation id for every node that serves a part of this request, and on the
  // answer even when it is merged from several nodes' answers.
  std::string request_id = correlation_id_of(req);
  if (req.header("x-request-id") != request_id) {
    std::erase_if(req.headers, [](auto& h) { return h.first == "x-request-id" || h.first == "x-correlation-id"; });
    req.headers.emplace_back("x-request-id", request_id);
  }
  respond = [request_id, respond = std::move(respond)](HttpResponse r) {
    if (!has_header(r, "X-Request-Id")) r.headers.emplace_back("X-Request-Id", request_id);
    respond(std::move(r));
  };
  // GET /v1/cluster is a local route: the API serves status_json() after its key check.
  auto path = path_of(req);
  if (path == "/metrics" && req.method == "GET") {
    // This node's series plus the cluster's; each node is scraped on its own.
    return serve_local(std::move(req), [this, respond = std::move(respond)](HttpResponse r) {
      if (r.status == 200) r.body += node_->render_metrics();
      respond(std::move(r));
    });
  }
  auto route = resolve(classify_request(req), req);
  switch (route.kind) {
    case RouteKind::local:
    case RouteKind::source_order:  // resolved above; kept for the switch's completeness
      return serve_local(std::move(req), std::move(respond));
    case RouteKind::owner:
      return to_owner(hrw_owner(options_.members, route.key), std::move(req), std::move(respond));
    case RouteKind::shipment:
      return to_shipment_holder(hrw_owner(options_.members, route.key), std::move(req), std::move(respond));
    case RouteKind::broadcast:
      return broadcast(std::move(req), std::move(respond));
    case RouteKind::settlement:
    case RouteKind::invoice_intake:  // resolved above: to `settlement`, or `local` when it does not parse
      if (route.kind == RouteKind::settlement)
        return to_owner(hrw_owner(options_.members, settlement_key(route.key)), std::move(req), std::move(respond));
      return serve_local(std::move(req), std::move(respond));
    case RouteKind::merged_view:
      return merged_view(std::move(req), std::move(respond));
  }
}

void Cluster::serve_local(HttpRequest&& req, Responder respond) {
  local_(std::move(req), [this, respond = std::move(respond)](HttpResponse r) {
    name_node(r, node_id());
    respond(std::move(r));
  });
}

// A request a peer forwarded: served here, never forwarded again (no loops). An
// owner-routed key this node does not own means the two disagree on the membership,
// which the handshake rules out; refuse rather than write under a second owner.
void Cluster::serve_forwarded(HttpRequest&& req, Responder respond) {
  auto route = resolve(classify_request(req), req);
  const size_t owner = route.kind == RouteKind::owner        ? hrw_owner(options_.members, route.key)
                       : route.kind == RouteKind::settlement ? hrw_owner(options_.members, settlement_key(route.key))
                                                             : self_;
  if (owner != self_) {
    HttpResponse r = problem_response(421, {Code::conflict, "node " + node_id() + " does not own '" + route.key + "'"});
    name_node(r, node_id());
    return respond(std::move(r));
  }
  serve_local(std::move(req), std::move(respond));
}

HttpResponse Cluster::owner_unavailable(size_t owner, const std::string& why) const {
  auto& id = options_.members[owner].id;
  HttpResponse r = problem_response(503, {Code::unavailable, "owner node " + id + " " + why + "; nothing was written, retry later"});
  r.headers.emplace_back("Retry-After", std::to_string(options_.retry_after_s));
  r.headers.emplace_back(kOwnerHeader, id);
  r.headers.emplace_back(kNodeHeader, node_id());
  return r;
}

void Cluster::to_owner(size_t owner, HttpRequest&& req, Responder respond) {
  if (owner == self_) return serve_local(std::move(req), std::move(respond));
  if (!node_->up(owner)) {
    node_->count_refused("owner_down");
    return respond(owner_unavailable(owner, "is unreachable"));
  }
  node_->forward(owner, std::move(req), [this, owner, respond = std::move(respond)](NodeAnswer a) {
    if (!a.reached) {
      node_->count_refused("owner_down");
      return respond(owner_unavailable(owner, "did not answer (the request may have been applied: retry with the same key)"));
    }
    name_node(a.response, a.node_id);
    respond(std::move(a.response));
  });
}

// A shipment lives with its order. Shipments registered under ids that do not start
// with their order id are found by asking the other nodes when the order's owner does
// not know the id; that fallback is read-safe and write-safe, since a node without the
// shipment answers 404 and writes nothing.
void Cluster::to_shipment_holder(size_t owner, HttpRequest&& req, Responder respond) {
  if (owner != self_ && !node_->up(owner)) {
    node_->count_refused("owner_down");
    return respond(owner_unavailable(owner, "is unreachable"));
  }
  auto copy = std::make_shared<HttpRequest>(req);
  auto first = [this, owner, copy, respond = std::move(respond)](NodeAnswer a) mutable {
    if (!a.reached) return respond(owner_unavailable(owner, "did not answer (the request may have been applied: retry)"));
    if (a.response.status != 404 || options_.members.size() == 1) {
      name_node(a.response, a.node_id);
      return respond(std::move(a.response));
    }
    std::vector<size_t> others;
    for (size_t i = 0; i < options_.members.size(); ++i)
      if (i != owner) others.push_back(i);
    gather(others, *copy, [this, not_found = std::move(a), respond = std::move(respond)](std::vector<NodeAnswer> all) {
      all.push_back(not_found);
      std::string served_by;
      auto r = merge_broadcast(all, false, &served_by);
      name_node(r, served_by.empty() ? node_id() : served_by);
      respond(std::move(r));
    });
  };
  if (owner == self_) {
    return local_(std::move(req), [this, first = std::move(first)](HttpResponse r) mutable {
      first(NodeAnswer{node_id(), true, std::move(r)});
    });
  }
  node_->forward(owner, std::move(req), std::move(first));
}

void Cluster::broadcast(HttpRequest&& req, Responder respond) {
  std::vector<size_t> all;
  for (size_t i = 0; i < options_.members.size(); ++i) all.push_back(i);
  const bool ndjson = req.content_type == "application/x-ndjson" && path_of(req) == "/v1/tracking";
  gather(all, req, [this, ndjson, respond = std::move(respond)](std::vector<NodeAnswer> answers) {
    std::string served_by;
    auto r = merge_broadcast(answers, ndjson, &served_by);
    if (served_by.empty()) {
      std::string ids;
      for (auto& a : answers)
        if (a.reached) ids += (ids.empty() ? "" : ",") + a.node_id;
      served_by = ids.empty() ? node_id() : ids;
    }
    if (r.status == 503 && !has_header(r, "Retry-After")) r.headers.emplace_back("Retry-After", std::to_string(options_.retry_after_s));
    name_node(r, served_by);
    respond(std::move(r));
  });
}

// Sends `req` to every member in `members` (this node through the local handler) and
// calls `then` once with every answer, in any order.
void Cluster::gather(const std::vector<size_t>& members, const HttpRequest& req,
                     std::function<void(std::vector<NodeAnswer>)> then) {
  struct State {
    std::mutex mu;
    std::vector<NodeAnswer> answers;
    size_t remaining = 0;
    std::function<void(std::vector<NodeAnswer>)> then;
  };
  auto st = std::make_shared<State>();
  st->remaining = members.size();
  st->then = std::move(then);
  auto add = [st](NodeAnswer a) {
    std::unique_lock lock(st->mu);
    st->answers.push_back(std::move(a));
    if (--st->remaining > 0) return;
    auto answers = std::move(st->answers);
    lock.unlock();
    st->then(std::move(answers));
  };
  if (members.empty()) return st->then({});
  for (size_t m : members) {
    HttpRequest copy = req;
    if (m == self_) {
      local_(std::move(copy), [this, add](HttpResponse r) { add(NodeAnswer{node_id(), true, std::move(r)}); });
    } else {
      node_->forward(m, std::move(copy), add);
    }
  }
}

std::string Cluster::status_json() const {
  std::string out = "{\"node_id\":" + json_string(node_id()) + ",\"members\":[";
  for (size_t i = 0; i < options_.members.size(); ++i) {
    auto& m = options_.members[i];
    const bool up = i == self_ || node_->up(i);
    out += (i ? "," : "") + std::string("{\"id\":") + json_string(m.id) + ",\"host\":" + json_string(m.host) +
           ",\"port\":" + std::to_string(m.port) + ",\"up\":" + (up ? "true" : "false") +
           ",\"self\":" + (i == self_ ? "true" : "false") + "}";
  }
  return out + "],\"forwards_in_flight\":" + std::to_string(node_->in_flight()) + "}";
}

}  // namespace waybill::runtime
