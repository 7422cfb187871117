// The cluster front door: every HTTP request passes here before the API when
// `cluster.members` is configured (waybilld wires it; see README "Cluster").
//
// - A request about an order or shipment goes to the key's owner (rendezvous hashing
//   of the order id over the members, cluster_routing.hpp): served here when this node
//   owns it, else forwarded to the owner's router over CAF remoting and the answer
//   relayed. When the owner is down the answer is 503 with Retry-After and nothing is
//   written anywhere: unavailability, never a second owner.
// - Tracking input is sent to every node; each applies what it holds; the answers merge.
// - A carrier's settlement (invoices, billing index, disputes, totals) lives on the owner
//   of settlement_key(carrier). An invoice goes there; that node asks every member for
//   the facts of the shipments its lines bill (gather_invoice_facts) and settles them in
//   its serial ledger. While any member is down an invoice answers 503: the shipment a
//   line bills may live on it, and "unmatched" must not be decided without it.
// - The dispute queue and the settlement summary without a carrier filter merge every
//   node's part; other node-local views (events, exceptions, metrics, ...) are served
//   where they arrive; /metrics gains the cluster series; GET /v1/cluster shows the
//   membership (served by the API, behind its key check, from status_json()).
// Every answer names the node that produced it in `X-Waybill-Node`.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/actors/settlement_facts.hpp"
#include "waybill/runtime/cluster_config.hpp"
#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/http_server.hpp"

namespace waybill::runtime {

class ClusterNode;

/// The order id a source-shaped body maps to under source `source`'s profile, or
/// nullopt when it does not map (unknown source, bad body): Api::source_order_id.
using SourceOrderKey = std::function<std::optional<std::string>(const std::string& source, const std::string& body)>;
/// The carrier a POST /v1/invoices request names (its JSON or CSV body, read as the API
/// reads it), or nullopt when it does not parse: Api::invoice_carrier.
using InvoiceCarrierKey = std::function<std::optional<std::string>(const HttpRequest& request)>;
/// Called once with every line's facts merged over all members, or why not.
using InvoiceFactsDone = std::function<void(Result<std::vector<actors::LineFacts>>)>;

/// What the cluster calls on this node. Each must stay valid until stop().
struct ClusterHooks {
  /// Serves a request here (Api::handle). Required.
  HttpHandler local;
  /// Source orders' ids (Api::source_order_id). Unset: served where they arrive.
  SourceOrderKey source_order_key;
  /// Invoices' carriers (Api::invoice_carrier). Unset: served where they arrive.
  InvoiceCarrierKey invoice_carrier;
};

class Cluster {
 public:
  /// Opens this node's middleman port and starts connecting to the peers. `options`
  /// must be valid (validate_cluster) and enabled.
  static Result<std::unique_ptr<Cluster>> start(const ClusterOptions& options, ClusterHooks hooks);
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

  /// Asks every member (this one too) for the facts of `invoice`'s lines and merges
  /// them (actors::merge_line_facts). The query carries `origin`'s credentials and
  /// correlation id; each member checks the key as for POST /v1/invoices. Fails
  /// unavailable, naming the member, when one is down or does not answer: an invoice is
  /// settled against every node's shipments or not at all. Thread-safe; `done` runs on
  /// an actor or HTTP thread.
  void gather_invoice_facts(const actors::InvoiceInput& invoice, const HttpRequest& origin, InvoiceFactsDone done);

  /// Sends the cluster-internal `request`, on behalf of `origin` as above, to every
  /// member but this one that owns the settlement of one of `carriers` (each once) and
  /// calls `done` once with their answers; a member down answers `reached == false`.
  /// Sends `request` on behalf of `origin` to every other member; `done` as above.
  void ask_others(HttpRequest request, const HttpRequest& origin, std::function<void(std::vector<NodeAnswer>)> done);

  void ask_settlement_owners(const std::vector<std::string>& carriers, HttpRequest request, const HttpRequest& origin,
                             std::function<void(std::vector<NodeAnswer>)> done);

 private:
  Cluster(ClusterOptions options, size_t self, ClusterHooks hooks);
  /// `route` with a source order resolved to its order id (kind `owner`) and an invoice
  /// to its carrier (kind `settlement`), or `local` when the body does not map.
  Route resolve(Route route, const HttpRequest& request) const;
  void serve_local(HttpRequest&& request, Responder respond);
  void serve_forwarded(HttpRequest&& request, Responder respond);
  void to_owner(size_t owner, HttpRequest&& request, Responder respond);
  void to_shipment_holder(size_t owner, HttpRequest&& request, Responder respond);
  void broadcast(HttpRequest&& request, Responder respond);
  void gather(const std::vector<size_t>& members, const HttpRequest& request,
              std::function<void(std::vector<NodeAnswer>)> then);
  void merged_view(HttpRequest&& request, Responder respond);
  HttpResponse owner_unavailable(size_t owner, const std::string& why) const;

  ClusterOptions options_;
  size_t self_;
  HttpHandler local_;
  SourceOrderKey source_key_;
  InvoiceCarrierKey invoice_carrier_;
  std::unique_ptr<ClusterNode> node_;
};

}  // namespace waybill::runtime
