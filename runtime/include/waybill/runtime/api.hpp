// The HTTP API: routing, validation, idempotency and fan-out to entity actors.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "waybill/actors/reads.hpp"
#include "waybill/runtime/auth.hpp"
#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/daily_export.hpp"
#include "waybill/runtime/drop_folder.hpp"
#include "waybill/runtime/engine.hpp"
#include "waybill/runtime/event_feed.hpp"
#include "waybill/runtime/webhooks.hpp"
#include "waybill/runtime/http_server.hpp"
#include "waybill/runtime/intake.hpp"
#include "waybill/runtime/invoice_folder.hpp"
#include "waybill/runtime/key_locks.hpp"
#include "waybill/runtime/metrics.hpp"
#include "waybill/runtime/ownership.hpp"

namespace waybill::runtime {

struct ApiOptions {
  IntakeLimits limits;
  /// Most milestones in one NDJSON tracking request; more gets 413. Default: 10000.
  size_t max_ndjson_lines = 10000;
  /// Retry-After seconds suggested with 503 answers. Default: 1.
  int retry_after_s = 1;
  WebhookOptions webhooks;
  /// How tracking numbers are matched to shipments (recycled numbers).
  actors::TrackingLookupOptions tracking;
  /// Which system owns which order field (PATCH /v1/orders/{id}).
  OwnershipOptions ownership;
  /// Source profiles, drop-folder intake and nightly exports (flat files).
  IntakeOptions intake;
  ExportOptions exports;
  /// Carrier invoice CSV drop folder (freight settlement).
  InvoiceFolderOptions invoices;
  /// API keys; without any, every route but the open ones answers 401.
  AuthOptions auth;
  /// One log line per answered request (method, route, status, duration, partner,
  /// correlation id). Default: true.
  bool access_log = true;
};

class Api {
 public:
  struct Call;
  using CallPtr = std::shared_ptr<Call>;
  Api(Engine& engine, Metrics& metrics, ApiOptions options);
  ~Api();
  /// Starts background delivery (webhooks); call once before serving.
  Status start();
  /// Stops the background work that feeds or reads the engine (file intake, exports,
  /// webhook delivery, event-feed waits); call before Engine::stop(), which closes the
  /// store. Idempotent.
  void stop();
  void handle(HttpRequest&& request, Responder respond);
  /// The order id a source-shaped JSON body maps to under source `source`'s profile;
  /// nullopt when there is no such source or the body does not map (the cluster routes
  /// source orders by it; handle() answers those with the 4xx). Thread-safe.
  std::optional<std::string> source_order_id(const std::string& source, const std::string& body) const;
  /// In a cluster: the body of GET /v1/cluster (the membership as this node sees it,
  /// JSON). Set once, before serving. Without it the route answers 404: not a cluster.
  void set_cluster_view(std::function<std::string()> view) { cluster_view_ = std::move(view); }
  /// The carrier a POST /v1/invoices request names, or nullopt when its body does not
  /// parse (the cluster routes invoices by it; handle() answers those with the 4xx).
  /// Thread-safe.
  std::optional<std::string> invoice_carrier(const HttpRequest& request) const;
  /// Asks every cluster member for the facts of an invoice's lines (the caller's
  /// request gives the credentials) and calls back once with them merged.
  using InvoiceFactsSource = std::function<void(const actors::InvoiceInput&, const HttpRequest&,
                                                std::function<void(Result<std::vector<actors::LineFacts>>)>)>;
  /// In a cluster: where invoices get their facts (Cluster::gather_invoice_facts), and
  /// the facts query route (POST /_cluster/invoice-facts, peers only) is served. Set
  /// once, before serving. Without it invoices are matched against this node's store.
  void set_invoice_facts_source(InvoiceFactsSource source) { invoice_facts_source_ = std::move(source); }
  /// Sends a cluster-internal `request` (with the credentials and correlation id of
  /// `origin`) to every node but this one that holds the settlement of one of
  /// `carriers`, and calls back once with their answers (Cluster::ask_settlement_owners).
  using SettlementPeers = std::function<void(const std::vector<std::string>& carriers, HttpRequest request,
                                             const HttpRequest& origin, std::function<void(std::vector<NodeAnswer>)>)>;
  /// In a cluster: how an order's trace finds the freight.* events of the invoices that
  /// billed it, which live in their carriers' nodes' feeds. Set once, before serving.
  void set_settlement_peers(SettlementPeers peers) { settlement_peers_ = std::move(peers); }
  /// Sends a cluster-internal `request` on behalf of `origin` to every other member and
  /// calls back once with their answers (Cluster::ask_others).
  using OtherNodes =
      std::function<void(HttpRequest request, const HttpRequest& origin, std::function<void(std::vector<NodeAnswer>)>)>;
  /// In a cluster: how a registered shipment's tracking numbers are checked on every
  /// other member (api_tracking_check.cpp). Set once, before serving.
  void set_other_nodes(OtherNodes others) { other_nodes_ = std::move(others); }

 private:
  void create_order(const CallPtr& call);
  void order_action(const CallPtr& call, const std::string& order_id, const std::string& action);
  void register_shipment(const CallPtr& call);
  // Tracking numbers unique across a cluster (api_tracking_check.cpp).
  void check_tracking_elsewhere(const CallPtr& call, const fb::ShipmentT& shipment, std::function<void()> then);
  void tracking_check(const CallPtr& call);  // a peer's check
  void update_order(const CallPtr& call, const std::string& order_id);  // api_ownership.cpp
  void trace(const CallPtr& call, const std::string& order_id);         // api_trace.cpp
  void freight_trail(const CallPtr& call, const std::string& order_id);  // a peer's part of a trace (cluster)
  void track(const CallPtr& call);
  void track_ndjson(const CallPtr& call);
  void finish_tracking(const CallPtr& call, actors::Reply reply);
  void route_milestone(const CallPtr& call, const std::string& shipment_id, actors::AddMilestone command);
  // Carrier-facing routes (api_carriers.cpp).
  void void_shipment(const CallPtr& call, const std::string& shipment_id);
  void list_exceptions(const CallPtr& call);
  void resolve_exception(const CallPtr& call, const std::string& shipment_id);
  void list_carriers(const CallPtr& call);
  void carrier_webhook(const CallPtr& call, const std::string& carrier);
  void manifest(const CallPtr& call, const std::string& carrier);
  void events(const CallPtr& call);
  void subscriptions(const CallPtr& call, const std::vector<std::string>& parts);
  bool begin_idempotent(const CallPtr& call);
  // Flat-file side (api_files.cpp).
  Status start_files();
  void source_order(const CallPtr& call, const std::string& source);
  void run_export(const CallPtr& call);
  // Freight settlement (api_settlement.cpp).
  void submit_invoice(const CallPtr& call);
  Result<actors::InvoiceInput> parse_invoice_request(const HttpRequest& request) const;
  void invoice_facts(const CallPtr& call);  // a peer's facts query (cluster)
  void get_invoice(const CallPtr& call, const std::string& invoice_id);
  void list_disputes(const CallPtr& call);
  void decide_dispute(const CallPtr& call, const std::string& dispute_id, const std::string& action);
  void settlement_summary(const CallPtr& call);

  Engine& engine_;
  Metrics& metrics_;
  ApiOptions options_;
  KeyRing keys_;
  KeyLocks locks_;
  EventFeed feed_;
  HttpClient webhook_client_;
  WebhookDispatcher webhooks_;
  std::vector<SourceProfile> sources_;
  FileStats file_stats_;
  std::unique_ptr<DropFolder> drop_;
  std::unique_ptr<DailyExporter> exporter_;
  std::unique_ptr<InvoiceFolder> invoice_folder_;
  std::function<std::string()> cluster_view_;
  InvoiceFactsSource invoice_facts_source_;
  SettlementPeers settlement_peers_;
  OtherNodes other_nodes_;
};

}  // namespace waybill::runtime
