#include "carrier_sim.hpp"
#include "tracking_history.hpp"

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include "waybill/actors/model.hpp"
#include "waybill/runtime/crypto.hpp"
#include "waybill/runtime/url.hpp"

namespace waybill::sim {

using runtime::HttpRequest;
using runtime::HttpResponse;
using runtime::Responder;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// ---------------------------------------------------------------------------------
struct Delayer::Impl {
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{ioc.get_executor()};
  std::thread thread{[this] { ioc.run(); }};
};

Delayer::Delayer() : impl_(std::make_unique<Impl>()) {}
Delayer::~Delayer() {
  impl_->guard.reset();
  impl_->ioc.stop();
  impl_->thread.join();
}

void Delayer::after(int64_t delay_ms, std::function<void()> fn) {
  if (delay_ms <= 0) return boost::asio::post(impl_->ioc, std::move(fn));
  auto timer = std::make_shared<boost::asio::steady_timer>(impl_->ioc, std::chrono::milliseconds(delay_ms));
  timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
}

// ---------------------------------------------------------------------------------
struct CarrierSim::CarrierState {
  SimCarrier profile;
  double tokens = 0;  // rate-limit bucket
  std::chrono::steady_clock::time_point refill = std::chrono::steady_clock::now();
  std::map<std::string, int64_t> access_tokens;                 // token -> expiry (us)
  std::multimap<std::string, size_t> bookings_by_reference;     // reference -> ledger index
  std::map<std::string, std::vector<size_t>> bookings_by_id;    // carrier shipment id -> ledger indexes
  uint64_t next_number = 1;
};

namespace {

struct SimRequest {
  std::string reference;
  std::string service;
  std::string to_postal;
  std::string to_country;
  std::vector<std::pair<double, bool>> packages;  // weight kg, hazmat
};

HttpResponse json(int status, std::string body) { return {status, "application/json", std::move(body), {}}; }

// The carrier's own error shape per dialect, with a machine code the profile maps.
HttpResponse carrier_error(const SimCarrier& c, int status, const std::string& code, const std::string& message) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  if (c.dialect == "alpha") {
    w.Key("Errors");
    w.StartArray();
    w.StartObject();
    w.Key("Code");
    w.String(code.c_str());
    w.Key("Message");
    w.String(message.c_str());
    w.EndObject();
    w.EndArray();
  } else {
    w.Key("error");
    w.StartObject();
    w.Key("code");
    w.String(code.c_str());
    w.Key("message");
    w.String(message.c_str());
    w.EndObject();
  }
  w.EndObject();
  return json(status, sb.GetString());
}

std::string str_at(simdjson::dom::element doc, const char* pointer) {
  std::string_view v;
  if (doc.at_pointer(pointer).get(v) != simdjson::SUCCESS) return {};
  return std::string(v);
}

Result<SimRequest> parse_request(const SimCarrier& c, const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return Status{Code::invalid_argument, "malformed JSON"};
  SimRequest r;
  simdjson::dom::array pieces;
  if (c.dialect == "alpha") {
    r.reference = str_at(doc, "/RequestedShipment/ShipperReference");
    r.service = str_at(doc, "/RequestedShipment/ServiceCode");
    r.to_postal = str_at(doc, "/RequestedShipment/ShipTo/PostalCode");
    r.to_country = str_at(doc, "/RequestedShipment/ShipTo/CountryCode");
    if (doc.at_pointer("/RequestedShipment/Packages").get(pieces) != simdjson::SUCCESS)
      return Status{Code::invalid_argument, "RequestedShipment.Packages is required"};
    for (auto p : pieces) {
      double w = 0;
      bool hz = false;
      if (p["WeightKg"].get(w) != simdjson::SUCCESS) return Status{Code::invalid_argument, "Packages[].WeightKg is required"};
      if (p["Hazmat"].get(hz) != simdjson::SUCCESS) hz = false;
      r.packages.push_back({w, hz});
    }
  } else {
    r.reference = str_at(doc, "/reference");
    r.service = str_at(doc, "/service");
    r.to_postal = str_at(doc, "/destination/zip");
    r.to_country = str_at(doc, "/destination/country");
    if (doc.at_pointer("/pieces").get(pieces) != simdjson::SUCCESS)
      return Status{Code::invalid_argument, "pieces is required"};
    for (auto p : pieces) {
      double w = 0;
      bool hz = false;
      if (p["weight_kg"].get(w) != simdjson::SUCCESS) return Status{Code::invalid_argument, "pieces[].weight_kg is required"};
      if (p["dangerous_goods"].get(hz) != simdjson::SUCCESS) hz = false;
      r.packages.push_back({w, hz});
    }
  }
  if (r.packages.empty()) return Status{Code::invalid_argument, "at least one package is required"};
  if (r.to_postal.empty() || r.to_country.empty()) return Status{Code::invalid_argument, "destination postal code and country are required"};
  return r;
}

// Business rules of a lane; empty code means accepted.
std::pair<std::string, std::string> check_rules(const SimCarrier& c, const SimService& s, const SimRequest& r) {
  bool alpha = c.dialect == "alpha";
  if (!s.countries.empty() && std::find(s.countries.begin(), s.countries.end(), r.to_country) == s.countries.end())
    return {alpha ? "170100" : "LANE_NOT_SERVED", "service " + s.code + " does not serve " + r.to_country};
  for (auto& bad : c.bad_postal_codes)
    if (bad == r.to_postal) return {alpha ? "120100" : "BAD_ZIP", "invalid postal code " + r.to_postal};
  for (auto& [w, hz] : r.packages) {
    if (w > s.max_weight_kg) return {alpha ? "150100" : "OVERWEIGHT", "package exceeds " + std::to_string(s.max_weight_kg) + " kg"};
    if (hz && !s.hazmat_allowed) return {alpha ? "160100" : "DG_NOT_ALLOWED", "hazardous materials not accepted on " + s.code};
  }
  return {};
}

int64_t price(const SimService& s, const SimRequest& r) {
  int64_t total = 0;
  for (auto& [w, hz] : r.packages) total += s.base_minor + s.per_kg_minor * static_cast<int64_t>(std::ceil(w));
  return total;
}

const SimService* find_service(const SimCarrier& c, const std::string& code) {
  for (auto& s : c.services)
    if (s.code == code) return &s;
  return nullptr;
}

void write_booking(Writer& w, const SimCarrier& c, const std::string& shipment_id,
                   const std::vector<LabelRecord*>& labels, int64_t total) {
  bool alpha = c.dialect == "alpha";
  w.StartObject();
  w.Key(alpha ? "ShipmentId" : "pro_number");
  w.String(shipment_id.c_str());
  w.Key(alpha ? "ShipperReference" : "reference");
  w.String(labels.empty() ? "" : labels[0]->reference.c_str());
  w.Key(alpha ? "Packages" : "pieces");
  w.StartArray();
  for (auto* l : labels) {
    w.StartObject();
    w.Key(alpha ? "TrackingNumber" : "tracking_id");
    w.String(l->tracking_number.c_str());
    if (alpha) {
      w.Key("Label");
      w.StartObject();
      w.Key("Format");
      w.String("ZPL");
      w.Key("Data");
      w.String(runtime::base64_encode("^XA^FO50,50^ADN,36,20^FD" + l->tracking_number + "^FS^XZ").c_str());
      w.EndObject();
    } else {
      w.Key("label_pdf");
      w.String(runtime::base64_encode("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n% " + l->tracking_number + "\n%%EOF\n").c_str());
    }
    w.EndObject();
  }
  w.EndArray();
  if (alpha) {
    w.Key("Charges");
    w.StartObject();
    w.Key("TotalMinor");
    w.Int64(total);
    w.Key("Currency");
    w.String(c.currency.c_str());
    w.EndObject();
  } else {
    w.Key("quote");
    w.StartObject();
    w.Key("total_cents");
    w.Int64(total);
    w.Key("currency");
    w.String(c.currency.c_str());
    w.EndObject();
  }
  w.EndObject();
}

}  // namespace

// ---------------------------------------------------------------------------------
CarrierSim::CarrierSim(SimConfig config, runtime::HttpClient* webhook_client)
    : config_(std::move(config)), webhook_client_(webhook_client), rng_(config_.seed) {
  for (auto& c : config_.carriers) {
    auto st = std::make_unique<CarrierState>();
    st->profile = c;
    st->tokens = c.rate_limit_burst;
    carriers_[c.name] = std::move(st);
  }
}

CarrierSim::~CarrierSim() = default;

double CarrierSim::roll() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::uniform_real_distribution<double>(0, 1)(rng_);
}

int64_t CarrierSim::latency_ms(CarrierState& c) {
  auto& l = c.profile.latency;
  if (l.median_ms <= 0) return 0;
  std::lock_guard<std::mutex> lock(mutex_);
  if (l.distribution == "fixed") return static_cast<int64_t>(l.median_ms);
  if (l.distribution == "uniform") return static_cast<int64_t>(std::uniform_real_distribution<double>(0, 2 * l.median_ms)(rng_));
  // lognormal: median = e^mu; p99 = e^(mu + 2.326 sigma)
  double mu = std::log(l.median_ms);
  double sigma = l.p99_ms > l.median_ms ? (std::log(l.p99_ms) - mu) / 2.326 : 0.25;
  return static_cast<int64_t>(std::lognormal_distribution<double>(mu, sigma)(rng_));
}

std::vector<LabelRecord> CarrierSim::labels() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ledger_;
}

void CarrierSim::handle(HttpRequest&& request, Responder respond) {
  std::string_view target = request.target;
  std::string_view path = target.substr(0, target.find('?'));
  auto parts = runtime::split_path(path);
  if (parts.size() == 1 && parts[0] == "healthz") return respond(json(200, R"({"status":"ok"})"));
  if (parts.size() == 1 && parts[0] == "labels" && request.method == "GET") {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    auto all = labels();
    w.StartObject();
    w.Key("count");
    w.Uint64(all.size());
    w.Key("labels");
    w.StartArray();
    for (auto& l : all) {
      w.StartObject();
      w.Key("carrier"); w.String(l.carrier.c_str());
      w.Key("reference"); w.String(l.reference.c_str());
      w.Key("tracking_number"); w.String(l.tracking_number.c_str());
      w.Key("carrier_shipment_id"); w.String(l.carrier_shipment_id.c_str());
      w.Key("service"); w.String(l.service.c_str());
      w.Key("time"); w.String(format_rfc3339(l.sold_us).c_str());
      w.Key("voided"); w.Bool(l.voided);
      w.Key("request_id"); w.String(l.request_id.c_str());
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return respond(json(200, sb.GetString()));
  }
  if (parts.size() == 1 && parts[0] == "polls" && request.method == "GET") {
    std::lock_guard<std::mutex> lock(mutex_);
    return respond(json(200, render_poll_counts(polls_)));
  }
  if (parts.empty() || !carriers_.count(std::string(parts[0])))
    return respond(json(404, R"({"error":"unknown carrier or route"})"));
  auto& c = *carriers_[std::string(parts[0])];
  // Latency applies to every carrier call; the answer itself is computed afterwards so
  // that a timed-out booking may still have been made (as at real carriers).
  auto delay = latency_ms(c);
  auto shared_req = std::make_shared<HttpRequest>(std::move(request));
  auto shared_parts = std::make_shared<std::vector<std::string>>(parts.begin(), parts.end());
  delayer_.after(delay, [this, &c, shared_req, shared_parts, respond]() mutable {
    std::vector<std::string_view> views(shared_parts->begin(), shared_parts->end());
    route(c, *shared_req, views, respond);
  });
}

void CarrierSim::route(CarrierState& c, HttpRequest& req, std::vector<std::string_view>& parts, Responder& respond) {
  auto& p = c.profile;
  if (parts.size() == 3 && parts[1] == "oauth" && parts[2] == "token" && req.method == "POST") return token(c, req, respond);

  // Authentication.
  if (p.auth.type == "api_key") {
    std::string name = p.auth.header;
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (req.header(name) != p.auth.key) return respond(carrier_error(p, 401, "AUTH", "invalid API key"));
  } else {
    std::string auth(req.header("authorization"));
    std::string bearer = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : "";
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = c.access_tokens.find(bearer);
    if (it == c.access_tokens.end() || it->second < now_us())
      return respond(carrier_error(p, 401, "AUTH", "invalid or expired access token"));
  }

  // Tracking polls are counted as they arrive, faults or not (tests check when they stop).
  bool is_track = parts.size() == 4 && parts[1] == "shipments" && parts[3] == "tracking" && req.method == "GET";
  if (is_track) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++polls_[p.name + '\0' + std::string(parts[2])];
  }

  // Rate limit (token bucket) and injected faults, in the order a real edge applies them.
  if (p.rate_limit_rps > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    c.tokens = std::min(p.rate_limit_burst, c.tokens + std::chrono::duration<double>(now - c.refill).count() * p.rate_limit_rps);
    c.refill = now;
    if (c.tokens < 1) {
      auto r = carrier_error(p, 429, "RATE", "rate limit exceeded");
      r.headers.emplace_back("Retry-After", std::to_string(p.faults.retry_after_s));
      return respond(std::move(r));
    }
    c.tokens -= 1;
  }
  auto& f = p.faults;
  double x = roll();
  if ((x -= f.reset_share) < 0) return respond(HttpResponse{0, "", "", {}});
  if ((x -= f.server_error_share) < 0) return respond(carrier_error(p, 503, "UNAVAILABLE", "service unavailable"));
  if ((x -= f.rate_limited_share) < 0) {
    auto r = carrier_error(p, 429, "RATE", "rate limit exceeded");
    r.headers.emplace_back("Retry-After", std::to_string(f.retry_after_s));
    return respond(std::move(r));
  }
  if ((x -= f.timeout_share) < 0) {
    // Hold the answer long enough for the client to give up, then answer for real.
    auto shared_req = std::make_shared<HttpRequest>(req);
    auto shared_parts = std::make_shared<std::vector<std::string>>(parts.begin(), parts.end());
    auto r = respond;
    delayer_.after(f.timeout_ms, [this, &c, shared_req, shared_parts, r]() mutable {
      std::vector<std::string_view> views(shared_parts->begin(), shared_parts->end());
      // A slow carrier still does the work; only the answer comes too late.
      if (views.size() == 2 && views[1] == "shipments" && shared_req->method == "POST") book(c, *shared_req, r);
      else r(carrier_error(c.profile, 504, "TIMEOUT", "upstream timeout"));
    });
    return;
  }

  if (parts.size() == 2 && parts[1] == "rates" && req.method == "POST") return rate(c, req, respond);
  if (parts.size() == 2 && parts[1] == "shipments" && req.method == "POST") {
    if (roll() < f.lost_response_share) {
      // Book, then lose the answer: the shipper does not know the label exists.
      Responder drop = [respond](HttpResponse res) {
        if (res.status / 100 == 2) res = HttpResponse{0, "", "", {}};
        respond(std::move(res));
      };
      return book(c, req, drop);
    }
    return book(c, req, respond);
  }
  if (parts.size() == 2 && parts[1] == "shipments" && req.method == "GET") {
    auto reference = runtime::query_param(req.target, "reference");
    if (!reference || reference->empty()) return respond(carrier_error(p, 400, "QUERY", "reference is required"));
    return lookup(c, *reference, respond);
  }
  if (parts.size() == 4 && parts[1] == "shipments" && parts[3] == "void" && req.method == "POST")
    return void_label(c, std::string(parts[2]), respond);
  if (parts.size() == 2 && parts[1] == "pickups" && req.method == "POST") return pickup(c, req, respond);
  if (is_track) return track(c, std::string(parts[2]), respond);
  respond(carrier_error(p, 404, "ROUTE", "no such route"));
}

void CarrierSim::token(CarrierState& c, HttpRequest& req, Responder& respond) {
  auto& a = c.profile.auth;
  auto has = [&](const std::string& kv) { return req.body.find(kv) != std::string::npos; };
  if (a.type != "oauth2" || !has("grant_type=client_credentials") || !has("client_id=" + a.client_id) ||
      !has("client_secret=" + a.client_secret))
    return respond(json(401, R"({"error":"invalid_client"})"));
  std::string tok;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tok = "tok-" + c.profile.name + "-" + std::to_string(rng_());
    c.access_tokens[tok] = now_us() + int64_t{a.token_ttl_s} * 1000000;
  }
  respond(json(200, R"({"access_token":")" + tok + R"(","token_type":"Bearer","expires_in":)" +
                        std::to_string(a.token_ttl_s) + "}"));
}

void CarrierSim::rate(CarrierState& c, HttpRequest& req, Responder& respond) {
  auto& p = c.profile;
  auto r = parse_request(p, req.body);
  if (!r) return respond(carrier_error(p, 400, p.dialect == "alpha" ? "100000" : "BAD_REQUEST", r.status().message()));
  bool alpha = p.dialect == "alpha";
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key(alpha ? "RateResults" : "quotes");
  w.StartArray();
  for (auto& s : p.services) {
    if (!r->service.empty() && r->service != s.code) continue;
    if (!check_rules(p, s, *r).first.empty()) continue;
    w.StartObject();
    w.Key(alpha ? "ServiceCode" : "service");
    w.String(s.code.c_str());
    w.Key(alpha ? "TotalMinor" : "total_cents");
    w.Int64(price(s, *r));
    w.Key(alpha ? "Currency" : "currency");
    w.String(p.currency.c_str());
    w.Key(alpha ? "TransitDays" : "transit_days");
    w.Int(s.transit_days);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  respond(json(200, sb.GetString()));
}

void CarrierSim::book(CarrierState& c, HttpRequest& req, Responder& respond) {
  auto& p = c.profile;
  bool alpha = p.dialect == "alpha";
  auto r = parse_request(p, req.body);
  if (!r) return respond(carrier_error(p, 400, alpha ? "100000" : "BAD_REQUEST", r.status().message()));
  auto* svc = find_service(p, r->service);
  if (!svc) return respond(carrier_error(p, alpha ? 400 : 422, alpha ? "111100" : "INVALID_SERVICE", "unknown service code '" + r->service + "'"));
  auto [code, message] = check_rules(p, *svc, *r);
  if (code.empty() && roll() < p.rejection_share) {
    code = alpha ? "190100" : "ADDRESS_UNVERIFIED";
    message = "destination address could not be verified";
  }
  if (!code.empty()) return respond(carrier_error(p, alpha ? 400 : 422, code, message));

  std::vector<LabelRecord*> sold;
  std::string shipment_id;
  std::vector<std::string> numbers;
  rapidjson::StringBuffer sb;
  Writer w(sb);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t n = c.next_number++;
    shipment_id = (alpha ? "S" : "PRO") + std::to_string(100000000 + n);
    size_t first = ledger_.size();
    for (size_t i = 0; i < r->packages.size(); ++i) {
      LabelRecord l;
      l.carrier = p.name;
      l.reference = r->reference;
      l.tracking_number = p.tracking_prefix + std::to_string(n * 100 + i) + "0" + std::to_string(rng_() % 10);
      l.carrier_shipment_id = shipment_id;
      l.service = svc->code;
      l.sold_us = now_us();
      l.request_id = std::string(req.header("x-request-id"));
      ledger_.push_back(l);
      ledger_by_tracking_[l.carrier + '\0' + l.tracking_number] = ledger_.size() - 1;
      numbers.push_back(l.tracking_number);
      c.bookings_by_reference.emplace(r->reference, ledger_.size() - 1);
      c.bookings_by_id[shipment_id].push_back(ledger_.size() - 1);
    }
    for (size_t i = first; i < ledger_.size(); ++i) sold.push_back(&ledger_[i]);
    write_booking(w, p, shipment_id, sold, price(*svc, *r));
  }
  respond(json(alpha ? 200 : 201, sb.GetString()));
  start_feed(c, numbers);
}

void CarrierSim::lookup(CarrierState& c, const std::string& reference, Responder& respond) {
  auto& p = c.profile;
  bool alpha = p.dialect == "alpha";
  rapidjson::StringBuffer sb;
  Writer w(sb);
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, std::vector<LabelRecord*>> by_shipment;
  auto range = c.bookings_by_reference.equal_range(reference);
  for (auto it = range.first; it != range.second; ++it)
    if (!ledger_[it->second].voided) by_shipment[ledger_[it->second].carrier_shipment_id].push_back(&ledger_[it->second]);
  w.StartObject();
  w.Key(alpha ? "Shipments" : "shipments");
  w.StartArray();
  for (auto& [id, labels] : by_shipment) write_booking(w, p, id, labels, 0);
  w.EndArray();
  w.EndObject();
  respond(json(200, sb.GetString()));
}

void CarrierSim::void_label(CarrierState& c, const std::string& shipment_id, Responder& respond) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = c.bookings_by_id.find(shipment_id);
  if (it == c.bookings_by_id.end()) return respond(carrier_error(c.profile, 404, "NOT_FOUND", "no such shipment"));
  for (auto i : it->second) ledger_[i].voided = true;
  respond(json(200, R"({"voided":true})"));
}

void CarrierSim::pickup(CarrierState& c, HttpRequest& req, Responder& respond) {
  std::lock_guard<std::mutex> lock(mutex_);
  respond(json(200, R"({"confirmation":"PU)" + std::to_string(100000 + rng_() % 900000) + R"("})"));
}

void CarrierSim::track(CarrierState& c, const std::string& shipment_id, Responder& respond) {
  std::string body;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = c.bookings_by_id.find(shipment_id);
    if (it == c.bookings_by_id.end() || !c.profile.tracking.enabled)
      return respond(carrier_error(c.profile, 404, "NOT_FOUND", "no such shipment"));
    std::vector<TrackedPiece> pieces;
    for (auto i : it->second) pieces.push_back({ledger_[i].tracking_number, ledger_[i].sold_us, ledger_[i].voided});
    body = tracking_answer(c.profile, shipment_id, pieces, now_us(), config_.seed,
                           polls_[c.profile.name + '\0' + shipment_id]);
  }
  respond(json(200, std::move(body)));
}

void CarrierSim::start_feed(CarrierState& c, const std::vector<std::string>& numbers) {
  auto& t = c.profile.tracking;
  // A polled carrier pushes nothing: its history is served by track().
  if (!webhook_client_ || config_.webhook_target.empty() || !t.enabled || t.delivery == "poll") return;
  bool alpha = c.profile.dialect == "alpha";
  const int64_t base_us = now_us();
  for (auto& tn : numbers) {
    struct Ev { size_t seq; std::string body; };
    std::vector<Ev> evs;
    for (size_t i = 0; i < t.events.size(); ++i) {
      rapidjson::StringBuffer sb;
      Writer w(sb);
      auto code = t.codes.at(t.events[i]);
      auto when = format_rfc3339(base_us + static_cast<int64_t>(i + 1) * t.interval_ms * 1000);
      std::string id = tn + "-" + std::to_string(i + 1);
      w.StartObject();
      w.Key(alpha ? "TrackingNumber" : "tracking_id");
      w.String(tn.c_str());
      w.Key(alpha ? "Code" : "code");
      w.String(code.c_str());
      w.Key(alpha ? "EventTime" : "ts");
      w.String(when.c_str());
      w.Key(alpha ? "Sequence" : "seq");
      w.Uint64(i + 1);
      w.Key(alpha ? "EventId" : "id");
      w.String(id.c_str());
      if (alpha) {  // the richer dialect also gives its estimate and proof of delivery
        auto eta = format_rfc3339(base_us + static_cast<int64_t>(t.events.size() + 1) * t.interval_ms * 1000);
        w.Key("EstimatedDelivery");
        w.String(eta.c_str());
        if (t.events[i] == "delivered") {
          w.Key("SignedBy");
          w.String("J. RECEIVER");
          w.Key("PodRef");
          w.String(("POD-" + tn).c_str());
        }
      }
      w.EndObject();
      evs.push_back({i + 1, sb.GetString()});
    }
    // Disorder the feed as real carriers do: swap neighbours, repeat, hold some back.
    for (size_t i = 0; i + 1 < evs.size(); ++i)
      if (roll() < t.reorder_share) std::swap(evs[i], evs[i + 1]);
    std::vector<std::pair<int64_t, std::string>> sends;
    for (size_t i = 0; i < evs.size(); ++i) {
      int64_t at = static_cast<int64_t>(i + 1) * t.interval_ms;
      if (roll() < t.late_share) at += 3 * t.interval_ms;
      sends.push_back({at, evs[i].body});
      if (roll() < t.dup_share) sends.push_back({at + t.interval_ms / 2, evs[i].body});
    }
    for (auto& [at, body] : sends) {
      std::string sig = "sha256=" + runtime::to_hex(runtime::hmac_sha256(t.secret, body));
      std::string carrier = c.profile.name;
      delayer_.after(at, [this, carrier, tn, body = body, sig] {
        if (!is_voided(carrier, tn)) push_event(carrier, body, sig, 0);  // a voided label never moves
      });
    }
  }
}

bool CarrierSim::is_voided(const std::string& carrier, const std::string& tracking_number) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = ledger_by_tracking_.find(carrier + '\0' + tracking_number);
  return it != ledger_by_tracking_.end() && ledger_[it->second].voided;
}

std::string CarrierSim::webhook_api_key() {
  if (config_.webhook_api_key_file.empty()) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  if (webhook_api_key_.empty()) {
    std::ifstream in(config_.webhook_api_key_file);
    in >> webhook_api_key_;  // stays empty until the file exists
  }
  return webhook_api_key_;
}

void CarrierSim::push_event(const std::string& carrier, const std::string& body, const std::string& sig, int attempt) {
  runtime::ClientRequest req;
  std::string target = config_.webhook_target;
  auto scheme = target.find("://");
  if (scheme != std::string::npos) target = target.substr(scheme + 3);
  auto slash = target.find('/');
  std::string hostport = target.substr(0, slash);
  auto colon = hostport.rfind(':');
  req.host = hostport.substr(0, colon);
  req.port = colon == std::string::npos ? 80 : static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1)));
  req.method = "POST";
  req.target = "/v1/carriers/" + carrier + "/webhook";
  req.body = body;
  req.headers.emplace_back("X-Carrier-Signature", sig);
  if (auto key = webhook_api_key(); !key.empty()) req.headers.emplace_back("Authorization", "Bearer " + key);
  req.timeout_ms = 5000;
  webhook_client_->send(std::move(req), [this, carrier, body, sig, attempt](runtime::ClientResult r) {
    bool ok = r.status.ok() && r.response.status / 100 == 2;
    // Carriers retry webhooks a bounded number of times with backoff.
    if (!ok && attempt < 5)
      delayer_.after(200LL << attempt, [this, carrier, body, sig, attempt] { push_event(carrier, body, sig, attempt + 1); });
  });
}

}  // namespace waybill::sim
