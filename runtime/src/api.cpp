#include "api_call.hpp"

#include <chrono>
#include <unordered_map>

#include "waybill/actors/reads.hpp"
#include "waybill/actors/render.hpp"
#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/console.hpp"
#include "waybill/runtime/openapi.hpp"
#include "waybill/runtime/url.hpp"

namespace waybill::runtime {

namespace {

using actors::Reply;
using storage::Column;

}  // namespace

Api::Api(Engine& engine, Metrics& metrics, ApiOptions options)
    : engine_(engine),
      metrics_(metrics),
      options_(options),
      keys_(options.auth.keys),
      feed_(engine.store(), EventFeedOptions{}),
      webhooks_(engine.store(), engine.writer(), webhook_client_, options.webhooks) {}

Status Api::start() {
  metrics_.attach_webhooks(&webhooks_.stats(), [this] { return webhooks_.backlog(); });
  if (auto st = webhooks_.start(); !st.ok()) return st;
  engine_.set_commit_listener([this] {
    feed_.notify_commit();
    webhooks_.notify_commit();
  });
  return start_files();
}

Api::~Api() {
  metrics_.detach_webhooks();
  stop();
  engine_.set_commit_listener(nullptr);
  webhooks_.stop();
  webhook_client_.stop();
  feed_.stop();
}

void Api::events(const CallPtr& call) {
  EventQuery q;
  auto& t = call->req.target;
  try {
    if (auto v = query_param(t, "after")) q.after = std::stoull(*v);
    if (auto v = query_param(t, "limit")) q.limit = std::clamp<size_t>(std::stoul(*v), 1, 1000);
    if (auto v = query_param(t, "wait")) q.wait_ms = std::clamp(std::stoi(*v), 0, 30) * 1000;
    if (auto v = query_param(t, "wait_ms")) q.wait_ms = std::clamp(std::stoi(*v), 0, 30000);
  } catch (const std::exception&) {
    return call->fail({Code::invalid_argument, "after, limit and wait must be non-negative integers", "query"});
  }
  q.type = query_param(t, "type").value_or("");
  q.order_id = query_param(t, "order_id").value_or("");
  feed_.read_or_wait(q, [call](Result<EventPage> page) {
    if (!page) return call->fail(page.status());
    call->finish(HttpResponse{200, "application/json", std::move(page->json), {}});
  });
}

void Api::handle(HttpRequest&& request, Responder respond) {
  auto call = std::make_shared<Call>();
  call->req = std::move(request);
  call->respond = std::move(respond);
  call->metrics = &metrics_;
  call->locks = &locks_;
  call->retry_after_s = options_.retry_after_s;
  call->access_log = options_.access_log;
  call->correlation_id = correlation_id_of(call->req);
  auto& req = call->req;
  std::string_view target = req.target;
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  auto parts = split_path(path);
  // Cluster-internal routes exist only for the members' own requests: from outside
  // they are unknown, as they are on a node outside a cluster.
  const bool internal = !parts.empty() && parts[0] == "_cluster";
  if (internal && (!req.from_peer || !cluster_view_)) {
    call->route = "{unknown}";
    return call->no_route("no such route: " + std::string(path));
  }
  // Before anything reads the body or touches state: who calls, and may they.
  auto auth = authorize(keys_, req, parts);
  if (auth.denial) {
    call->route = auth.access ? std::string(auth.access->route) : "{unknown}";
    return call->finish(std::move(*auth.denial));
  }
  if (auth.key) {
    call->partner = auth.key->partner;
    call->mask_pii = !has_scope(auth.key->scopes, Scope::pii);
  }
  const bool get = req.method == "GET", post = req.method == "POST";
  auto method_not_allowed = [&] {
    call->finish(HttpResponse{405, "application/problem+json",
                              actors::render_problem(405, {Code::invalid_argument, "method " + req.method + " not allowed here"}),
                              {}});
  };

  bool decoded_ok = true;
  auto segment = [&](size_t i) {
    auto v = percent_decode(parts[i]);
    decoded_ok = v.has_value();
    return v.value_or(std::string());
  };

  if (parts.size() == 1 && parts[0] == "openapi.json") {
    call->route = "/openapi.json";
    if (!get) return method_not_allowed();
    // The contract is the same document for every caller and holds no consignee data;
    // masking would rewrite its examples.
    call->mask_pii = false;
    return call->finish(HttpResponse{200, "application/json", std::string(openapi_json()), {}});
  }
  if (parts.size() == 1 && (parts[0] == "healthz" || parts[0] == "readyz" || parts[0] == "metrics")) {
    call->route = "/" + std::string(parts[0]);
    if (!get) return method_not_allowed();
    if (parts[0] == "healthz") return call->finish(HttpResponse{200, "application/json", R"({"status":"ok"})", {}});
    if (parts[0] == "readyz") {
      if (engine_.ready()) return call->finish(HttpResponse{200, "application/json", R"({"status":"ready"})", {}});
      return call->fail({Code::unavailable, "not ready: storage writer unavailable"});
    }
    return call->finish(HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render(), {}});
  }
  if (internal && parts.size() == 2 && parts[1] == "invoice-facts") {
    call->route = std::string(kInvoiceFactsPath);
    return post ? invoice_facts(call) : method_not_allowed();
  }
  if (internal && parts.size() == 2 && parts[1] == "tracking-check") {
    call->route = "/_cluster/tracking-check";
    return post ? tracking_check(call) : method_not_allowed();
  }
  if (internal && parts.size() == 3 && parts[1] == "freight-trail") {
    call->route = "/_cluster/freight-trail/{order_id}";
    std::string id = segment(2);
    if (!decoded_ok) return call->fail({Code::invalid_argument, "bad percent-encoding", "order_id"});
    return get ? freight_trail(call, id) : method_not_allowed();
  }
  if (is_console_path(path)) {
    call->route = parts.size() <= 1 ? "/console" : "/console/{file...}";
    return call->finish(console_response(req.method, path));
  }
  if (parts.size() >= 2 && parts[0] == "v1") {
    if (parts[1] == "orders") {
      if (parts.size() == 2) {
        call->route = "/v1/orders";
        return post ? create_order(call) : method_not_allowed();
      }
      std::string id = segment(2);
      if (!decoded_ok) return call->fail({Code::invalid_argument, "bad percent-encoding or not valid UTF-8", "order_id"});
      if (parts.size() == 3) {
        call->route = "/v1/orders/{order_id}";
        if (req.method == "PATCH") return update_order(call, id);
        if (!get) return method_not_allowed();
        auto json = actors::read_order_json(engine_.store(), id);
        return json ? call->finish(HttpResponse{200, "application/json", *json, {}}) : call->fail(json.status());
      }
      if (parts.size() == 4) {
        std::string action(parts[3]);
        call->route = "/v1/orders/{order_id}/" + action;
        if (action != "release" && action != "allocate" && action != "pack" && action != "cancel") {
          call->route = "/v1/orders/{order_id}/{unknown}";
          return call->no_route("no such route: the order steps are release, allocate, pack and cancel");
        }
        return post ? order_action(call, id, action) : method_not_allowed();
      }
    } else if (parts[1] == "trace" && parts.size() == 3) {
      call->route = "/v1/trace/{order_id}";
      std::string id = segment(2);
      if (!decoded_ok) return call->fail({Code::invalid_argument, "bad percent-encoding", "order_id"});
      return get ? trace(call, id) : method_not_allowed();
    } else if (parts[1] == "shipments") {
      if (parts.size() == 2) {
        call->route = "/v1/shipments";
        return post ? register_shipment(call) : method_not_allowed();
      }
      if (parts.size() == 4 && parts[3] == "void") {
        call->route = "/v1/shipments/{shipment_id}/void";
        std::string id = segment(2);
        if (!decoded_ok) return call->fail({Code::invalid_argument, "bad percent-encoding or not valid UTF-8", "shipment_id"});
        return post ? void_shipment(call, id) : method_not_allowed();
      }
      if (parts.size() == 3) {
        call->route = "/v1/shipments/{shipment_id}";
        if (!get) return method_not_allowed();
        std::string id = segment(2);
        if (!decoded_ok) return call->fail({Code::invalid_argument, "bad percent-encoding or not valid UTF-8", "shipment_id"});
        auto json = actors::read_shipment_json(engine_.store(), id);
        return json ? call->finish(HttpResponse{200, "application/json", *json, {}}) : call->fail(json.status());
      }
    } else if (parts[1] == "tracking" && parts.size() == 2) {
      call->route = "/v1/tracking";
      return post ? track(call) : method_not_allowed();
    } else if (parts[1] == "exceptions") {
      if (parts.size() == 2) {
        call->route = "/v1/exceptions";
        return get ? list_exceptions(call) : method_not_allowed();
      }
      if (parts.size() == 4 && parts[3] == "resolve") {
        call->route = "/v1/exceptions/{shipment_id}/resolve";
        std::string id = segment(2);
        if (!decoded_ok) return call->fail({Code::invalid_argument, "bad percent-encoding or not valid UTF-8", "shipment_id"});
        return post ? resolve_exception(call, id) : method_not_allowed();
      }
    } else if (parts[1] == "carriers") {
      if (parts.size() == 2) {
        call->route = "/v1/carriers";
        return get ? list_carriers(call) : method_not_allowed();
      }
      if (parts.size() == 4 && parts[3] == "webhook") {
        call->route = "/v1/carriers/{carrier}/webhook";
        return post ? carrier_webhook(call, std::string(parts[2])) : method_not_allowed();
      }
    } else if (parts[1] == "subscriptions") {
      std::vector<std::string> p;
      for (auto& x : parts) p.emplace_back(x);
      return subscriptions(call, p);
    } else if (parts[1] == "events" && parts.size() == 2) {
      call->route = "/v1/events";
      return get ? events(call) : method_not_allowed();
    } else if (parts[1] == "sources" && parts.size() == 4 && parts[3] == "orders") {
      call->route = "/v1/sources/{source}/orders";
      return post ? source_order(call, std::string(parts[2])) : method_not_allowed();
    } else if (parts[1] == "exports" && parts.size() == 2) {
      call->route = "/v1/exports";
      return post ? run_export(call) : method_not_allowed();
    } else if (parts[1] == "invoices") {
      if (parts.size() == 2) {
        call->route = "/v1/invoices";
        return post ? submit_invoice(call) : method_not_allowed();
      }
      if (parts.size() == 3) {
        call->route = "/v1/invoices/{invoice_id}";
        std::string id = segment(2);
        if (!decoded_ok) return call->fail({Code::invalid_argument, "bad percent-encoding or not valid UTF-8", "invoice_id"});
        return get ? get_invoice(call, id) : method_not_allowed();
      }
    } else if (parts[1] == "disputes") {
      if (parts.size() == 2) {
        call->route = "/v1/disputes";
        return get ? list_disputes(call) : method_not_allowed();
      }
      if (parts.size() == 4) {
        std::string action(parts[3]);
        if (action != "accept" && action != "reject" && action != "resolve") {
          call->route = "/v1/disputes/{dispute_id}/{unknown}";
          return call->no_route("no such route: the actions are accept, reject and resolve");
        }
        call->route = "/v1/disputes/{dispute_id}/" + action;
        std::string id = segment(2);
        if (!decoded_ok) return call->fail({Code::invalid_argument, "bad percent-encoding or not valid UTF-8", "dispute_id"});
        return post ? decide_dispute(call, id, action) : method_not_allowed();
      }
    } else if (parts[1] == "settlement" && parts.size() == 3 && parts[2] == "summary") {
      call->route = "/v1/settlement/summary";
      return get ? settlement_summary(call) : method_not_allowed();
    } else if (parts[1] == "cluster" && parts.size() == 2) {
      // Served here rather than at the cluster's front door, so that it passes the
      // same key check as every other route.
      call->route = "/v1/cluster";
      if (!get) return method_not_allowed();
      if (!cluster_view_) return call->fail({Code::not_found, "this node is not in a cluster (no cluster.members)"});
      return call->finish(HttpResponse{200, "application/json", cluster_view_(), {}});
    } else if (parts[1] == "manifests" && parts.size() == 3) {
      call->route = "/v1/manifests/{carrier}";
      return get ? manifest(call, std::string(parts[2])) : method_not_allowed();
    }
  }
  call->route = "{unknown}";
  call->no_route("no such route: " + std::string(path));
}

namespace {
actors::ReplyFn reply_to(const Api::CallPtr& call) {
  return [call](Reply r) { call->finish(r); };
}
}  // namespace

// With an Idempotency-Key: replays a stored answer, refuses a different request under
// the same key (422) or one in flight (409), or holds the key for this request and
// sets `call->claim` so the entity writes the record in the same batch as its state.
// Returns false when the call has been answered already.
bool Api::begin_idempotent(const CallPtr& call) {
  auto& key = call->req.idempotency_key;
  if (key.empty()) return true;
  if (key.size() > 255) {
    call->fail({Code::invalid_argument, "must be at most 255 characters", "Idempotency-Key"});
    return false;
  }
  // A key is an opaque printable ASCII string (a Structured Field sString); other
  // bytes would be stored and answered back in problem details as they came.
  for (unsigned char c : key)
    if (c < 0x20 || c > 0x7e) {
      call->fail({Code::invalid_argument, "must be printable ASCII", "Idempotency-Key"});
      return false;
    }
  std::string record_key = actors::keys::idempotency("key", key);
  uint64_t hash = fnv1a64(call->req.body, fnv1a64(call->req.method + ' ' + call->req.target));
  if (!locks_.try_acquire(record_key)) {
    call->fail({Code::in_flight, "a request with this Idempotency-Key is in progress", "Idempotency-Key"});
    return false;
  }
  call->held.push_back(record_key);
  auto stored = actors::load_idempotency(engine_.store(), record_key);
  if (stored) {
    if (stored->request_hash != hash)
      call->fail({Code::idempotency_mismatch, "this Idempotency-Key was used for a different request",
                  "Idempotency-Key"});
    else
      call->finish(stored->reply);
    return false;
  }
  if (stored.status().code() != Code::not_found) {
    call->fail(stored.status());
    return false;
  }
  call->claim = actors::IdempotencyClaim{record_key, hash};
  return true;
}

void Api::create_order(const CallPtr& call) {
  auto cmd = parse_create_order(call->req.body, options_.limits);
  if (!cmd) return call->fail(cmd.status());
  if (!begin_idempotent(call)) return;
  auto req = std::make_shared<actors::OrderRequest>();
  std::string id = cmd->order.order_id;
  req->command = std::move(*cmd);
  req->idempotency = call->claim;
  req->success_status = 201;
  req->reply = reply_to(call);
  req->correlation_id = call->correlation_id;
  auto st = engine_.orders().send(id, caf::make_message(std::move(req)));
  if (!st.ok()) call->fail(st);
}

void Api::order_action(const CallPtr& call, const std::string& order_id, const std::string& action) {
  if (auto st = validate_id(order_id, "order_id"); !st.ok()) return call->fail(st);
  actors::OrderCommand command;
  if (action == "release") {
    command = actors::ReleaseOrder{};
  } else if (action == "allocate") {
    command = actors::AllocateOrder{};
  } else if (action == "pack") {
    auto p = parse_pack_order(call->req.body, options_.limits);
    if (!p) return call->fail(p.status());
    command = std::move(*p);
  } else {
    auto c = parse_cancel_order(call->req.body, options_.limits);
    if (!c) return call->fail(c.status());
    command = std::move(*c);
  }
  // Booking backpressure: beyond the backlog bound, refuse new work at the door (the
  // bookings under way keep their durable state and drain on their own).
  if ((action == "release" || action == "pack") && !engine_.carriers().adapters.empty() &&
      engine_.stats().booking_backlog.load() >= engine_.booking_options().max_backlog)
    return call->fail({Code::overloaded, "booking backlog is full (" + std::to_string(engine_.booking_options().max_backlog) +
                                             " open bookings); retry later"});
  // Unknown orders answer 404 without activating an actor for them.
  std::string ignored;
  auto exists = engine_.store().get(Column::orders, order_id, &ignored);
  if (!exists.ok()) {
    if (exists.code() == Code::not_found) return call->fail({Code::not_found, "order '" + order_id + "' not found"});
    return call->fail(exists);
  }
  if (!begin_idempotent(call)) return;
  auto req = std::make_shared<actors::OrderRequest>();
  req->command = std::move(command);
  req->idempotency = call->claim;
  req->reply = reply_to(call);
  req->correlation_id = call->correlation_id;
  auto st = engine_.orders().send(order_id, caf::make_message(std::move(req)));
  if (!st.ok()) call->fail(st);
}

void Api::register_shipment(const CallPtr& call) {
  auto cmd = parse_register_shipment(call->req.body, options_.limits);
  if (!cmd) return call->fail(cmd.status());
  auto& s = cmd->shipment;
  auto order = actors::load_order(engine_.store(), s.order_id);
  if (!order && order.status().code() == Code::not_found)
    return call->fail({Code::invalid_argument, "no order with this id", "order_id"});
  if (!order) return call->fail(order.status());
  // The recipient travels with the shipment: notifications name it without a lookup.
  if (order->ship_to) s.ship_to = std::make_unique<fb::PartyT>(*order->ship_to);
  if (!begin_idempotent(call)) return;
  if (s.ship_date_us == 0) s.ship_date_us = now_us();
  // A tracking number belongs to one shipment within its ship-date window (carriers
  // recycle numbers later). Hold each while checking the index, so two registrations
  // racing for the same number cannot both pass.
  for (size_t i = 0; i < s.tracking_numbers.size(); ++i) {
    std::string lock_key = "tracking:" + actors::keys::tracking_prefix(s.carrier, s.tracking_numbers[i]);
    std::string field = "tracking_numbers[" + std::to_string(i) + "]";
    if (!locks_.try_acquire(lock_key))
      return call->fail({Code::in_flight, "tracking number is being registered by another request", field});
    call->held.push_back(lock_key);
    auto owner = actors::tracking_in_use(engine_.store(), s.carrier, s.tracking_numbers[i], s.ship_date_us,
                                         options_.tracking);
    if (owner && *owner != s.shipment_id)
      return call->fail({Code::conflict, "tracking number already belongs to shipment '" + *owner + "'", field});
    if (!owner && owner.status().code() != Code::not_found) return call->fail(owner.status());
  }
  auto req = std::make_shared<actors::ShipmentRequest>();
  std::string id = s.shipment_id;
  req->command = std::move(*cmd);
  req->idempotency = call->claim;
  req->reply = reply_to(call);
  req->correlation_id = call->correlation_id;
  auto send = [this, call, id, req] {
    auto st = engine_.shipments().send(id, caf::make_message(req));
    if (!st.ok()) call->fail(st);
  };
  // In a cluster the numbers must be free on every member too; the locks above stay
  // held until this registration is answered.
  auto& registered = std::get<actors::RegisterShipment>(req->command).shipment;
  if (other_nodes_ && !registered.tracking_numbers.empty()) return check_tracking_elsewhere(call, registered, send);
  send();
}

// Answers a tracking request; with an Idempotency-Key the answer is stored first.
// The milestones themselves are already durable and deduplicated, so a crash between
// the two at worst makes a retry report "duplicate" for them, never a second copy.
void Api::finish_tracking(const CallPtr& call, Reply reply) {
  if (!call->claim) return call->finish(reply);
  auto req = std::make_unique<storage::WriteRequest>();
  req->ops.push_back({Column::idempotency, call->claim->record_key,
                      actors::encode_idempotency(call->claim->request_hash, reply, now_us())});
  req->on_commit = [call, reply](const Status& s, uint64_t) {
    if (s.ok()) call->finish(reply);
    else call->fail(s);
  };
  auto st = engine_.writer().submit(std::move(req));
  if (!st.ok()) call->fail(st);
}

void Api::track(const CallPtr& call) {
  if (call->req.content_type == "application/x-ndjson") return track_ndjson(call);
  auto in = parse_milestone(call->req.body, options_.limits);
  if (!in) return call->fail(in.status());
  auto shipment_id = actors::lookup_tracking(engine_.store(), in->carrier, in->tracking_number,
                                            in->command.milestone.event_time_us, options_.tracking);
  if (!shipment_id) return call->fail(shipment_id.status());
  if (!begin_idempotent(call)) return;
  route_milestone(call, *shipment_id, std::move(in->command));
}

// One milestone to its shipment's actor; answered once it is durable.
void Api::route_milestone(const CallPtr& call, const std::string& shipment_id, actors::AddMilestone command) {
  command.milestone.received_us = now_us();
  auto msg = std::make_shared<actors::MilestoneBatch>();
  msg->items.push_back({std::move(command), 0});
  msg->batch = std::make_shared<actors::TrackingBatch>(
      std::vector<size_t>{1}, [this, call](std::vector<actors::LineResult>& r) {
        if (r[0].outcome == "rejected") return call->fail(r[0].status);
        finish_tracking(call, Reply{200, actors::render_line_result(r[0]), false});
      });
  auto st = engine_.shipments().send(shipment_id, caf::make_message(std::move(msg)));
  if (!st.ok()) call->fail(st);
}

// NDJSON: one milestone per line. Lines are validated and routed independently; all
// lines of one shipment travel in one actor message and commit in one write.
void Api::track_ndjson(const CallPtr& call) {
  auto split = split_ndjson(call->req.body, options_.max_ndjson_lines);
  if (!split) return call->fail(split.status());
  auto& lines = split->lines;
  auto& numbers = split->numbers;
  if (!begin_idempotent(call)) return;

  auto batch = std::make_shared<actors::TrackingBatch>(numbers, [this, call](std::vector<actors::LineResult>& r) {
    // Lines refused for lack of capacity were not stored: the whole answer says 503
    // (with the per-line detail) so a client that only checks the status retries; the
    // lines that were stored come back as duplicates then.
    bool overloaded = std::any_of(r.begin(), r.end(), [](auto& l) { return l.status.code() == Code::unavailable; });
    if (overloaded) return call->finish(HttpResponse{503, "application/json", actors::render_tracking_results(r), {}});
    finish_tracking(call, Reply{200, actors::render_tracking_results(r), false});
  });
  // Routed lines, grouped per shipment, are sent after every line was looked at, so
  // the answer cannot complete while lines are still being read.
  std::unordered_map<std::string, std::shared_ptr<actors::MilestoneBatch>> per_shipment;
  std::vector<std::pair<size_t, actors::LineResult>> settled;
  const int64_t received = now_us();
  for (size_t i = 0; i < lines.size(); ++i) {
    auto in = parse_milestone(lines[i], options_.limits);
    if (!in) {
      settled.push_back({i, {"rejected", in.status(), {}}});
      continue;
    }
    auto shipment_id = actors::lookup_tracking(engine_.store(), in->carrier, in->tracking_number,
                                              in->command.milestone.event_time_us, options_.tracking);
    if (!shipment_id) {
      settled.push_back({i, {"rejected", shipment_id.status(), {}}});
      continue;
    }
    in->command.milestone.received_us = received;
    auto& msg = per_shipment[*shipment_id];
    if (!msg) {
      msg = std::make_shared<actors::MilestoneBatch>();
      msg->batch = batch;
    }
    msg->items.push_back({std::move(in->command), i});
  }
  for (auto& [i, r] : settled) batch->settle(i, std::move(r));
  for (auto& [shipment_id, msg] : per_shipment) {
    std::vector<size_t> items;
    for (auto& it : msg->items) items.push_back(it.line);
    auto st = engine_.shipments().send(shipment_id, caf::make_message(msg));
    if (!st.ok())
      for (auto i : items) batch->settle(i, {"rejected", st, shipment_id});
  }
}

}  // namespace waybill::runtime
