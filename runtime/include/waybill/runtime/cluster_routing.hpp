// Cluster routing decisions as pure functions (no I/O): which member owns a key
// (rendezvous hashing), which key a request is about, and how the answers of several
// nodes to one broadcast request become one answer. cluster.hpp applies them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/runtime/cluster_config.hpp"
#include "waybill/runtime/http_server.hpp"

namespace waybill::runtime {

/// Rendezvous (highest random weight) score of `key` on member `member_id`: a 64-bit
/// FNV-1a of both, finished with a bit mixer so that close ids and keys spread. Stable
/// across builds and runs: it decides where data lives.
uint64_t hrw_score(std::string_view member_id, std::string_view key);

/// Index into `members` of the owner of `key`: the highest score, ties (astronomically
/// rare) broken by the smaller id. Adding a member moves only the keys it wins, about
/// 1/N of them; removing one moves only its own. `members` must not be empty.
size_t hrw_owner(const std::vector<ClusterMember>& members, std::string_view key);

/// The order a shipment id belongs to, for routing: waybill books "<order_id>-<n>", so
/// a trailing "-<digits>" is cut; any other id is returned whole. Registered shipments
/// with other ids are found by asking every node (RouteKind::shipment).
std::string routing_order_of_shipment(std::string_view shipment_id);

/// The routing key of carrier `carrier`'s settlement: its invoices, billing index,
/// disputes and totals live together on hrw_owner(members, settlement_key(carrier)),
/// so that whether a shipment was billed before is decided by one serial ledger. The
/// prefix holds a control character no order id may contain, so it never names an order.
std::string settlement_key(std::string_view carrier);

/// The path of the facts query the settling node sends every member (POST, an
/// InvoiceFactsQuery flatbuffer; see actors/settlement_facts.hpp). Served only for
/// requests a peer forwarded: the front door answers it from outside as an unknown route.
inline constexpr std::string_view kInvoiceFactsPath = "/_cluster/invoice-facts";

enum class RouteKind {
  /// Served where it arrives: node-local views (events, exceptions, disputes, metrics,
  /// carriers, subscriptions, manifests, exports), health, and unknown routes.
  local,
  /// About one order (`key` = order id): served by the owner of the key.
  owner,
  /// About one shipment (`key` = its routing order id): served by that key's owner;
  /// if the owner does not know the shipment, by whichever node does.
  shipment,
  /// Tracking input (POST /v1/tracking, carrier webhooks): sent to every node; each
  /// applies the milestones of the shipments it holds, the answers are merged.
  broadcast,
  /// A source-shaped order (`key` = the source name): its order id is known only once
  /// the source's profile has mapped the body (Cluster's SourceOrderKey); then as
  /// `owner`. A body that does not map is answered here (4xx, nothing written).
  source_order,
  /// About one carrier's settlement (`key` = the carrier): served by the owner of
  /// settlement_key(key). GET /v1/invoices/{id} and dispute decisions (ids begin with
  /// the carrier), lists filtered by carrier.
  settlement,
  /// POST /v1/invoices: the carrier is known once the body is parsed (Cluster's
  /// InvoiceCarrierKey); then as `settlement`. A body that does not parse is answered
  /// here (4xx, nothing written).
  invoice_intake,
  /// A cluster-wide list (GET /v1/disputes, GET /v1/settlement/summary, without a
  /// carrier): every node's part, merged (merge_disputes, merge_settlement_summary).
  merged_view,
};

struct Route {
  RouteKind kind = RouteKind::local;
  /// The routing key for `owner` and `shipment` (an order id); the source name for
  /// `source_order`.
  std::string key;
};

/// The route of a request, from its method, path and (for POST /v1/orders and POST
/// /v1/shipments) the body's "order_id". A request whose key cannot be read (bad JSON,
/// bad percent-encoding) is `local`: this node's validation answers it with a 4xx and
/// writes nothing.
Route classify_request(const HttpRequest& request);

/// One node's answer to a broadcast request.
struct NodeAnswer {
  std::string node_id;
  /// False when the node could not be asked or did not answer in time.
  bool reached = false;
  HttpResponse response;
};

/// Merges the answers to a broadcast tracking request into the client's answer.
/// - Single milestone or webhook (`ndjson` false): the first answer that is not a 404
///   (the node holding the tracking number; a validation error every node gives alike);
///   if all reached nodes say 404: that 404 when every node was reached, else 503 (the
///   unreachable node may hold the number).
/// - NDJSON (`ndjson` true): per line, the outcome of the node that knew the number;
///   a line nobody knew is "rejected" as not_found, or as unavailable if a node was not
///   reached - and then the whole answer is 503 with the per-line detail, as a single
///   node answers when it could not store some lines. A node answering other than 200
///   or 503 with per-line results (e.g. 413, 422) decides the whole answer.
/// `served_by` is set to the id of the node whose answer was chosen (empty if merged).
HttpResponse merge_broadcast(const std::vector<NodeAnswer>& answers, bool ndjson, std::string* served_by);

/// One page of the dispute queue from every node's page of at most `limit` disputes
/// after the same cursor: in dispute-key order, cut at the earliest point any node's
/// page stopped (its next_after), so that the next page, asked from every node after
/// the merged next_after, misses nothing. A node not reached: 503; a node's 4xx or 5xx
/// (a bad parameter every node refuses alike) is the answer.
HttpResponse merge_disputes(const std::vector<NodeAnswer>& answers, size_t limit);

/// The settlement summary from every node's: each carrier's rows live on one node, so
/// the carrier and lane rows are put together, sorted by carrier, lane and currency.
HttpResponse merge_settlement_summary(const std::vector<NodeAnswer>& answers);

}  // namespace waybill::runtime
