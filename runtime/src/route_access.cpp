// THE table of who may call which route. A new route adds its line here; a route
// without a line needs `admin` (auth.cpp), so forgetting the line closes the route
// rather than opening it. Templates are the ones the router reports in metrics.
//
// The rule of thumb: GETs need `read` (subscriptions aside), changes need their group's write scope, the
// operator's levers need `ops`. Subscriptions are `ops` because they steer where
// events go; creating one needs `admin` since deliveries carry unmasked consignee data.
#include <vector>

#include "waybill/runtime/auth.hpp"
#include "waybill/runtime/url.hpp"

namespace waybill::runtime {

namespace {

using S = Scope;

constexpr RouteAccess no_key(std::string_view method, std::string_view route) { return {method, route, true, S::admin}; }
constexpr RouteAccess needs(std::string_view method, std::string_view route, Scope scope) {
  return {method, route, false, scope};
}

constexpr RouteAccess kTable[] = {
    // Probes and scraping stay open: orchestrators and Prometheus hold no keys.
    no_key("GET", "/healthz"),
    no_key("GET", "/readyz"),
    no_key("GET", "/metrics"),
    // The operations console's static files: they hold no data; the pages call the
    // API with the key the operator enters.
    no_key("GET", "/console"),
    no_key("GET", "/console/{file...}"),
    // The API's own contract: clients are generated from it before they hold a key.
    no_key("GET", "/openapi.json"),
    // Orders
    needs("POST", "/v1/orders", S::orders_write),
    needs("GET", "/v1/orders/{order_id}", S::read),
    needs("PATCH", "/v1/orders/{order_id}", S::orders_write),
    needs("POST", "/v1/orders/{order_id}/release", S::orders_write),
    needs("POST", "/v1/orders/{order_id}/allocate", S::orders_write),
    needs("POST", "/v1/orders/{order_id}/pack", S::orders_write),
    needs("POST", "/v1/orders/{order_id}/cancel", S::orders_write),
    needs("POST", "/v1/sources/{source}/orders", S::orders_write),
    needs("GET", "/v1/trace/{order_id}", S::read),
    // Shipments and tracking
    needs("POST", "/v1/shipments", S::tracking_write),
    needs("GET", "/v1/shipments/{shipment_id}", S::read),
    needs("POST", "/v1/shipments/{shipment_id}/void", S::ops),
    needs("POST", "/v1/tracking", S::tracking_write),
    needs("POST", "/v1/carriers/{carrier}/webhook", S::carrier_webhook),
    needs("GET", "/v1/carriers", S::read),
    needs("GET", "/v1/manifests/{carrier}", S::read),
    // Operations
    needs("GET", "/v1/exceptions", S::read),
    needs("POST", "/v1/exceptions/{shipment_id}/resolve", S::ops),
    needs("POST", "/v1/exports", S::ops),
    // Event feed and subscriptions
    needs("GET", "/v1/events", S::read),
    needs("POST", "/v1/subscriptions", S::admin),
    needs("GET", "/v1/subscriptions", S::ops),
    needs("DELETE", "/v1/subscriptions/{id}", S::ops),
    needs("POST", "/v1/subscriptions/{id}/disable", S::ops),
    needs("POST", "/v1/subscriptions/{id}/enable", S::ops),
    needs("GET", "/v1/subscriptions/{id}/dead-letters", S::ops),
    needs("POST", "/v1/subscriptions/{id}/dead-letters/replay", S::ops),
    // Freight audit: invoices, disputes, settlement
    needs("POST", "/v1/invoices", S::invoices_write),
    needs("GET", "/v1/invoices/{invoice_id}", S::read),
    needs("GET", "/v1/disputes", S::read),
    needs("POST", "/v1/disputes/{dispute_id}/accept", S::ops),
    needs("POST", "/v1/disputes/{dispute_id}/reject", S::ops),
    needs("POST", "/v1/disputes/{dispute_id}/resolve", S::ops),
    needs("GET", "/v1/settlement/summary", S::read),
    // Cluster membership as this node sees it
    needs("GET", "/v1/cluster", S::read),
    // Cluster-internal, served only for members' requests (Api::handle): the facts a
    // settling member matches an invoice against, asked with the invoice's sender's key.
    needs("POST", "/_cluster/invoice-facts", S::invoices_write),
    // ... and the freight.* events of an order on the nodes of its carriers' invoices,
    // asked for its trace with the trace's caller's key.
    needs("GET", "/_cluster/freight-trail/{order_id}", S::read),
    // ... and whether a registered shipment's tracking numbers are free on a member.
    needs("POST", "/_cluster/tracking-check", S::tracking_write),
};

struct Compiled {
  const RouteAccess* entry;
  std::vector<std::string_view> segments;
  bool rest = false;  // the last segment takes one or more segments
};

std::vector<Compiled> compile() {
  std::vector<Compiled> out;
  for (auto& e : kTable) {
    Compiled c{&e, split_path(e.route)};
    if (!c.segments.empty() && c.segments.back().ends_with("...}")) {
      c.rest = true;
      c.segments.pop_back();
    }
    out.push_back(std::move(c));
  }
  return out;
}

bool is_placeholder(std::string_view s) { return s.size() >= 2 && s.front() == '{' && s.back() == '}'; }

// Number of literal segments matched, or -1 when `c` does not match.
int match(const Compiled& c, const std::vector<std::string_view>& segments) {
  if (c.rest ? segments.size() <= c.segments.size() : segments.size() != c.segments.size()) return -1;
  int literal = 0;
  for (size_t i = 0; i < c.segments.size(); ++i) {
    if (is_placeholder(c.segments[i])) continue;
    if (c.segments[i] != segments[i]) return -1;
    ++literal;
  }
  return literal;
}

}  // namespace

std::span<const RouteAccess> route_access_table() { return kTable; }

const RouteAccess* find_route_access(std::string_view method, const std::vector<std::string_view>& segments) {
  static const std::vector<Compiled> compiled = compile();
  const RouteAccess* best = nullptr;
  int best_literal = -1;
  for (auto& c : compiled) {
    if (c.entry->method != method) continue;
    int literal = match(c, segments);
    if (literal > best_literal) {
      best = c.entry;
      best_literal = literal;
    }
  }
  return best;
}

}  // namespace waybill::runtime
