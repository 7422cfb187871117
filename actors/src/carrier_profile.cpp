#include "waybill/actors/carrier_profile.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "waybill/actors/shipment_logic.hpp"
#include "waybill/actors/yaml_reader.hpp"

namespace waybill::actors {

const CarrierService* CarrierProfile::service(const std::string& code) const {
  for (auto& s : services)
    if (s.code == code) return &s;
  return nullptr;
}

namespace {

Status parse_base_url(const std::string& url, const std::string& key, CarrierProfile* p) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else return {Code::invalid_argument, "must start with http://", key};
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  p->base_path = slash == std::string::npos ? "" : rest.substr(slash);
  if (!p->base_path.empty() && p->base_path.back() == '/') p->base_path.pop_back();
  auto colon = hostport.rfind(':');
  p->host = hostport.substr(0, colon);
  if (colon != std::string::npos) {
    try {
      int port = std::stoi(hostport.substr(colon + 1));
      if (port <= 0 || port > 65535) throw std::out_of_range("port");
      p->port = static_cast<uint16_t>(port);
    } catch (const std::exception&) {
      return {Code::invalid_argument, "has a bad port", key};
    }
  }
  if (p->host.empty()) return {Code::invalid_argument, "has no host", key};
  return {};
}

Status parse_endpoint(const YamlMap& parent, const std::string& key, CarrierEndpoint* e, bool required) {
  if (!parent.has(key)) return required ? Status{Code::invalid_argument, "is required", parent.key_path(key)} : Status{};
  YamlMap m(parent.child(key), parent.key_path(key), {"method", "path", "body"});
  WAYBILL_TRY(m.error());
  WAYBILL_TRY(m.get("method", &e->method));
  WAYBILL_TRY(m.get("path", &e->path, true));
  if (m.has("body")) {
    auto t = RequestTemplate::compile(m.child("body"), m.key_path("body"));
    if (!t) return t.status();
    e->body = std::move(*t);
  }
  return {};
}

Status parse(const YAML::Node& root, CarrierProfile* p) {
  YamlMap m(root, "", {"name", "version", "base_url", "auth", "limits", "retry", "breaker", "services", "endpoints",
                       "responses", "webhook", "tracking_codes", "exception_codes", "tracking_poll"});
  WAYBILL_TRY(m.error());
  WAYBILL_TRY(m.get("name", &p->name, true));
  WAYBILL_TRY(m.get("version", &p->version, true));
  std::string base_url;
  WAYBILL_TRY(m.get("base_url", &base_url, true));
  WAYBILL_TRY(parse_base_url(base_url, "base_url", p));

  YamlMap a(m.child("auth"), "auth", {"type", "header", "key", "token_path", "client_id", "client_secret", "refresh_before_s"});
  WAYBILL_TRY(a.error());
  WAYBILL_TRY(a.get("type", &p->auth.type));
  if (p->auth.type != "none" && p->auth.type != "api_key" && p->auth.type != "oauth2")
    return {Code::invalid_argument, "must be none, api_key or oauth2", "auth.type"};
  WAYBILL_TRY(a.get("header", &p->auth.header));
  WAYBILL_TRY(a.get("key", &p->auth.key));
  WAYBILL_TRY(a.get("token_path", &p->auth.token_path));
  WAYBILL_TRY(a.get("client_id", &p->auth.client_id));
  WAYBILL_TRY(a.get("client_secret", &p->auth.client_secret));
  WAYBILL_TRY(a.get("refresh_before_s", &p->auth.refresh_before_s));

  YamlMap l(m.child("limits"), "limits", {"requests_per_second", "burst", "max_in_flight", "queue_capacity", "timeout_ms", "in_doubt_grace_ms"});
  WAYBILL_TRY(l.error());
  WAYBILL_TRY(l.get("requests_per_second", &p->limits.requests_per_second));
  WAYBILL_TRY(l.get("burst", &p->limits.burst));
  WAYBILL_TRY(l.get("max_in_flight", &p->limits.max_in_flight));
  WAYBILL_TRY(l.get("queue_capacity", &p->limits.queue_capacity));
  WAYBILL_TRY(l.get("timeout_ms", &p->limits.timeout_ms));
  WAYBILL_TRY(l.get("in_doubt_grace_ms", &p->limits.in_doubt_grace_ms));
  if (p->limits.requests_per_second <= 0 || p->limits.burst < 1 || p->limits.max_in_flight < 1 ||
      p->limits.queue_capacity < 1 || p->limits.timeout_ms < 1)
    return {Code::invalid_argument, "rates, burst, windows, queues and timeouts must be positive", "limits"};

  YamlMap r(m.child("retry"), "retry", {"max_attempts", "base_backoff_ms", "max_backoff_ms"});
  WAYBILL_TRY(r.error());
  WAYBILL_TRY(r.get("max_attempts", &p->retry.max_attempts));
  WAYBILL_TRY(r.get("base_backoff_ms", &p->retry.base_backoff_ms));
  WAYBILL_TRY(r.get("max_backoff_ms", &p->retry.max_backoff_ms));
  if (p->retry.max_attempts < 1 || p->retry.max_attempts > 100)
    return {Code::invalid_argument, "must be 1..100", "retry.max_attempts"};

  YamlMap b(m.child("breaker"), "breaker", {"failure_threshold", "cool_down_ms"});
  WAYBILL_TRY(b.error());
  WAYBILL_TRY(b.get("failure_threshold", &p->breaker.failure_threshold));
  WAYBILL_TRY(b.get("cool_down_ms", &p->breaker.cool_down_ms));

  auto services = m.child("services");
  if (!services.IsSequence() || services.size() == 0)
    return {Code::invalid_argument, "must list at least one service", "services"};
  for (size_t i = 0; i < services.size(); ++i) {
    std::string where = "services[" + std::to_string(i) + "]";
    YamlMap s(services[i], where, {"code", "service_level", "max_weight_kg", "countries", "hazmat_allowed", "transit_days"});
    WAYBILL_TRY(s.error());
    CarrierService svc;
    std::string level;
    WAYBILL_TRY(s.get("code", &svc.code, true));
    WAYBILL_TRY(s.get("service_level", &level, true));
    auto parsed = parse_service_level(level);
    if (!parsed) return {Code::invalid_argument, "must be ground, express, overnight or freight", s.key_path("service_level")};
    svc.level = *parsed;
    WAYBILL_TRY(s.get("max_weight_kg", &svc.max_weight_kg));
    WAYBILL_TRY(s.get("countries", &svc.countries));
    WAYBILL_TRY(s.get("hazmat_allowed", &svc.hazmat_allowed));
    WAYBILL_TRY(s.get("transit_days", &svc.transit_days));
    p->services.push_back(std::move(svc));
  }

  YamlMap e(m.child("endpoints"), "endpoints", {"rate", "book", "lookup", "void", "pickup"});
  WAYBILL_TRY(e.error());
  WAYBILL_TRY(parse_endpoint(e, "rate", &p->rate, false));
  WAYBILL_TRY(parse_endpoint(e, "book", &p->book, true));
  WAYBILL_TRY(parse_endpoint(e, "lookup", &p->lookup, true));
  WAYBILL_TRY(parse_endpoint(e, "void", &p->void_label, false));
  WAYBILL_TRY(parse_endpoint(e, "pickup", &p->pickup, false));

  YamlMap resp(m.child("responses"), "responses", {"rate", "book", "lookup", "error"});
  WAYBILL_TRY(resp.error());
  YamlMap rr(resp.child("rate"), "responses.rate", {"quotes", "service", "total_minor", "currency", "transit_days"});
  WAYBILL_TRY(rr.error());
  WAYBILL_TRY(rr.get("quotes", &p->rate_response.quotes));
  WAYBILL_TRY(rr.get("service", &p->rate_response.service));
  WAYBILL_TRY(rr.get("total_minor", &p->rate_response.total_minor));
  WAYBILL_TRY(rr.get("currency", &p->rate_response.currency));
  WAYBILL_TRY(rr.get("transit_days", &p->rate_response.transit_days));
  YamlMap br(resp.child("book"), "responses.book", {"carrier_shipment_id", "tracking_numbers", "labels", "label_format", "total_minor", "currency"});
  WAYBILL_TRY(br.error());
  WAYBILL_TRY(br.get("carrier_shipment_id", &p->book_response.carrier_shipment_id, true));
  WAYBILL_TRY(br.get("tracking_numbers", &p->book_response.tracking_numbers, true));
  WAYBILL_TRY(br.get("labels", &p->book_response.labels));
  WAYBILL_TRY(br.get("label_format", &p->book_response.label_format));
  WAYBILL_TRY(br.get("total_minor", &p->book_response.total_minor));
  WAYBILL_TRY(br.get("currency", &p->book_response.currency));
  YamlMap lr(resp.child("lookup"), "responses.lookup", {"shipments"});
  WAYBILL_TRY(lr.error());
  WAYBILL_TRY(lr.get("shipments", &p->lookup_shipments, true));
  YamlMap er(resp.child("error"), "responses.error", {"code", "message", "categories"});
  WAYBILL_TRY(er.error());
  WAYBILL_TRY(er.get("code", &p->errors.code));
  WAYBILL_TRY(er.get("message", &p->errors.message));
  WAYBILL_TRY(er.get("categories", &p->errors.categories));

  YamlMap w(m.child("webhook"), "webhook", {"secret", "signature_header", "tracking_number", "code", "event_time", "sequence",
                                             "event_id", "description", "estimated_delivery", "signed_by", "pod_document"});
  WAYBILL_TRY(w.error());
  WAYBILL_TRY(w.get("secret", &p->webhook.secret));
  WAYBILL_TRY(w.get("signature_header", &p->webhook.signature_header));
  for (auto& ch : p->webhook.signature_header) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  WAYBILL_TRY(w.get("tracking_number", &p->webhook.tracking_number));
  WAYBILL_TRY(w.get("code", &p->webhook.code));
  WAYBILL_TRY(w.get("event_time", &p->webhook.event_time));
  WAYBILL_TRY(w.get("sequence", &p->webhook.sequence));
  WAYBILL_TRY(w.get("event_id", &p->webhook.event_id));
  WAYBILL_TRY(w.get("description", &p->webhook.description));
  WAYBILL_TRY(w.get("estimated_delivery", &p->webhook.estimated_delivery));
  WAYBILL_TRY(w.get("signed_by", &p->webhook.signed_by));
  WAYBILL_TRY(w.get("pod_document", &p->webhook.pod_document));

  std::map<std::string, std::string> codes;
  WAYBILL_TRY(m.get("tracking_codes", &codes));
  for (auto& [raw, canonical] : codes) {
    auto st = parse_tracking_status(canonical);
    if (!st) return {Code::invalid_argument, "maps to unknown status '" + canonical + "'", "tracking_codes." + raw};
    p->codes[raw] = *st;
  }
  std::map<std::string, std::string> exception_codes;
  WAYBILL_TRY(m.get("exception_codes", &exception_codes));
  for (auto& [raw, category] : exception_codes) {
    auto c = parse_exception_category(category);
    if (!c || *c == fb::ExceptionCategory::none)
      return {Code::invalid_argument, "maps to unknown exception category '" + category + "'", "exception_codes." + raw};
    p->exception_codes[raw] = *c;
  }
  if (m.has("tracking_poll")) WAYBILL_TRY(parse_tracking_poll(m.child("tracking_poll"), "tracking_poll", &p->tracking_poll));
  if (p->tracking_poll.enabled && p->codes.empty())
    return {Code::invalid_argument, "is required to map polled events", "tracking_codes"};
  return {};
}

}  // namespace

Result<CarrierProfile> parse_carrier_profile(const std::string& text, const std::string& source) {
  CarrierProfile p;
  try {
    auto st = parse(YAML::Load(text), &p);
    if (!st.ok()) return Status{st.code(), source + ": " + st.message(), st.field()};
  } catch (const YAML::Exception& e) {
    return Status{Code::invalid_argument, source + ": invalid YAML: " + e.what(), "profile"};
  }
  return p;
}

Result<std::vector<CarrierProfile>> load_carrier_profiles(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  if (ec) return Status{Code::invalid_argument, "cannot read carrier profiles in '" + dir + "': " + ec.message(), "carriers_dir"};
  std::sort(files.begin(), files.end());
  std::vector<CarrierProfile> out;
  for (auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    auto p = parse_carrier_profile(ss.str(), f.filename().string());
    if (!p) return p.status();
    for (auto& existing : out)
      if (existing.name == p->name)
        return Status{Code::invalid_argument, "carrier '" + p->name + "' is defined twice", f.filename().string()};
    out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace waybill::actors
