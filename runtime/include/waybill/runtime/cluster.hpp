// The cluster front door: every HTTP request passes here before the API when
// `cluster.members` is configured (waybilld wires it; see README "Cluster").
//
// - A request about an order or shipment goes to the key's owner (rendezvous hashing
//   of the order id over the members, cluster_routing.hpp): served here when this node
//   owns it, else forwarded to the owner's router over CAF remoting and the answer
//   relayed. When the owner is down the answer is 503 with Retry-After and nothing is
//   written anywhere: unavailability, never a second owner.
// - Tracking input is sent to every node; each applies what it holds; the answers merge.
// - Node-local views (events, exceptions, disputes, metrics, ...) are served where they
//   arrive; /metrics gains the cluster series; GET /v1/cluster shows the membership
//   (served by the API, behind its key check, from status_json()).
// Every answer names the node that produced it in `X-Waybill-Node`.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/runtime/cluster_config.hpp"
#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/http_server.hpp"

namespace waybill::runtime {

class ClusterNode;

/// The order id a source-shaped body maps to under source `source`'s profile, or
/// nullopt when it does not map (unknown source, bad body): Api::source_order_id.
using SourceOrderKey = std::function<std::optional<std::string>(const std::string& source, const std::string& body)>;

class Cluster {
 public:
  /// Opens this node's middleman port and starts connecting to the peers. `local`
  /// serves a request on this node (Api::handle); it must stay valid until stop(), and
  /// so must `source_key` (without it, source-shaped orders are served where they arrive).
  /// `options` must be valid (validate_cluster) and enabled.
  static Result<std::unique_ptr<Cluster>> start(const ClusterOptions& options, HttpHandler local,
                                                SourceOrderKey source_key = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  /// The front door (an HttpHandler): serves, forwards, broadcasts or refuses.
  void handle(HttpRequest&& request, Responder respond);

  /// Closes the middleman port and drops the peer connections; forwards still waiting
  /// answer 503. Call after the HTTP server stopped, before the API stops. Idempotent.
  void stop();

  const std::string& node_id() const;
  /// Id of the member owning `key` (an order id).
  const std::string& owner_of(std::string_view key) const;
  /// Whether member `id` is reachable now (this node: always).
  bool member_up(const std::string& id) const;
  /// The membership as this node sees it, the body of GET /v1/cluster:
  /// {"node_id","members":[{"id","host","port","up","self"}],"forwards_in_flight"}.
  std::string status_json() const;

 private:
  Cluster(ClusterOptions options, size_t self, HttpHandler local, SourceOrderKey source_key);
  /// `route` with a source order resolved to its order id (kind `owner`), or `local`
  /// when the body does not map.
  Route resolve(Route route, const HttpRequest& request) const;
  void serve_local(HttpRequest&& request, Responder respond);
  void serve_forwarded(HttpRequest&& request, Responder respond);
  void to_owner(size_t owner, HttpRequest&& request, Responder respond);
  void to_shipment_holder(size_t owner, HttpRequest&& request, Responder respond);
  void broadcast(HttpRequest&& request, Responder respond);
  void gather(const std::vector<size_t>& members, const HttpRequest& request,
              std::function<void(std::vector<NodeAnswer>)> then);
  HttpResponse owner_unavailable(size_t owner, const std::string& why) const;

  ClusterOptions options_;
  size_t self_;
  HttpHandler local_;
  SourceOrderKey source_key_;
  std::unique_ptr<ClusterNode> node_;
};

}  // namespace waybill::runtime
