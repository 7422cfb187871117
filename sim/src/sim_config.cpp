#include "sim_config.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace waybill::sim {

namespace {

// Reads one mapping, refusing keys it does not know so that typos surface at start-up.
class Map {
 public:
  Map(const YAML::Node& node, std::string path, std::set<std::string> allowed)
      : node_(node), path_(std::move(path)) {
    if (!node_.IsDefined() || node_.IsNull()) return;
    if (!node_.IsMap()) { error_ = {Code::invalid_argument, "must be a mapping", path_}; return; }
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      auto key = it->first.as<std::string>();
      if (!allowed.count(key)) { error_ = {Code::invalid_argument, "unknown key", key_path(key)}; return; }
    }
  }
  const Status& error() const { return error_; }
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  YAML::Node child(const std::string& key) const { return node_.IsMap() ? node_[key] : YAML::Node(); }

  template <class T>
  Status get(const std::string& key, T* out) const {
    auto v = child(key);
    if (!v.IsDefined() || v.IsNull()) return {};
    try {
      *out = v.as<T>();
    } catch (const YAML::Exception&) {
      return {Code::invalid_argument, "has a value of the wrong type", key_path(key)};
    }
    return {};
  }

 private:
  YAML::Node node_;
  std::string path_;
  Status error_;
};

#define SIM_TRY(expr)              \
  do {                             \
    ::waybill::Status _s = (expr); \
    if (!_s.ok()) return _s;       \
  } while (0)

Status parse_share(const Map& m, const std::string& key, double* out) {
  SIM_TRY(m.get(key, out));
  if (*out < 0 || *out > 1) return {Code::invalid_argument, "must be between 0 and 1", m.key_path(key)};
  return {};
}

Status parse_carrier(const YAML::Node& node, const std::string& path, SimCarrier* c) {
  Map m(node, path, {"name", "dialect", "currency", "tracking_prefix", "auth", "latency", "faults", "rate_limit",
                     "rejection_share", "services", "bad_postal_codes", "tracking"});
  SIM_TRY(m.error());
  SIM_TRY(m.get("name", &c->name));
  if (c->name.empty()) return {Code::invalid_argument, "is required", m.key_path("name")};
  SIM_TRY(m.get("dialect", &c->dialect));
  if (c->dialect != "alpha" && c->dialect != "beta")
    return {Code::invalid_argument, "must be alpha or beta", m.key_path("dialect")};
  SIM_TRY(m.get("currency", &c->currency));
  SIM_TRY(m.get("tracking_prefix", &c->tracking_prefix));
  SIM_TRY(parse_share(m, "rejection_share", &c->rejection_share));
  SIM_TRY(m.get("bad_postal_codes", &c->bad_postal_codes));

  Map auth(m.child("auth"), m.key_path("auth"), {"type", "header", "key", "client_id", "client_secret", "token_ttl_s"});
  SIM_TRY(auth.error());
  SIM_TRY(auth.get("type", &c->auth.type));
  if (c->auth.type != "api_key" && c->auth.type != "oauth2")
    return {Code::invalid_argument, "must be api_key or oauth2", auth.key_path("type")};
  SIM_TRY(auth.get("header", &c->auth.header));
  SIM_TRY(auth.get("key", &c->auth.key));
  SIM_TRY(auth.get("client_id", &c->auth.client_id));
  SIM_TRY(auth.get("client_secret", &c->auth.client_secret));
  SIM_TRY(auth.get("token_ttl_s", &c->auth.token_ttl_s));

  Map lat(m.child("latency"), m.key_path("latency"), {"distribution", "median_ms", "p99_ms"});
  SIM_TRY(lat.error());
  SIM_TRY(lat.get("distribution", &c->latency.distribution));
  if (c->latency.distribution != "fixed" && c->latency.distribution != "uniform" && c->latency.distribution != "lognormal")
    return {Code::invalid_argument, "must be fixed, uniform or lognormal", lat.key_path("distribution")};
  SIM_TRY(lat.get("median_ms", &c->latency.median_ms));
  SIM_TRY(lat.get("p99_ms", &c->latency.p99_ms));

  Map f(m.child("faults"), m.key_path("faults"), {"server_error_share", "reset_share", "timeout_share",
                                                   "rate_limited_share", "lost_response_share", "timeout_ms", "retry_after_s"});
  SIM_TRY(f.error());
  SIM_TRY(parse_share(f, "server_error_share", &c->faults.server_error_share));
  SIM_TRY(parse_share(f, "reset_share", &c->faults.reset_share));
  SIM_TRY(parse_share(f, "timeout_share", &c->faults.timeout_share));
  SIM_TRY(parse_share(f, "rate_limited_share", &c->faults.rate_limited_share));
  SIM_TRY(parse_share(f, "lost_response_share", &c->faults.lost_response_share));
  SIM_TRY(f.get("timeout_ms", &c->faults.timeout_ms));
  SIM_TRY(f.get("retry_after_s", &c->faults.retry_after_s));

  Map rl(m.child("rate_limit"), m.key_path("rate_limit"), {"requests_per_second", "burst"});
  SIM_TRY(rl.error());
  SIM_TRY(rl.get("requests_per_second", &c->rate_limit_rps));
  SIM_TRY(rl.get("burst", &c->rate_limit_burst));

  auto services = m.child("services");
  if (!services.IsSequence() || services.size() == 0)
    return {Code::invalid_argument, "must list at least one service", m.key_path("services")};
  for (size_t i = 0; i < services.size(); ++i) {
    Map s(services[i], m.key_path("services") + "[" + std::to_string(i) + "]",
          {"code", "max_weight_kg", "countries", "hazmat_allowed", "base_minor", "per_kg_minor", "transit_days"});
    SIM_TRY(s.error());
    SimService svc;
    SIM_TRY(s.get("code", &svc.code));
    SIM_TRY(s.get("max_weight_kg", &svc.max_weight_kg));
    SIM_TRY(s.get("countries", &svc.countries));
    SIM_TRY(s.get("hazmat_allowed", &svc.hazmat_allowed));
    SIM_TRY(s.get("base_minor", &svc.base_minor));
    SIM_TRY(s.get("per_kg_minor", &svc.per_kg_minor));
    SIM_TRY(s.get("transit_days", &svc.transit_days));
    if (svc.code.empty()) return {Code::invalid_argument, "is required", s.key_path("code")};
    c->services.push_back(std::move(svc));
  }

  Map t(m.child("tracking"), m.key_path("tracking"), {"enabled", "events", "interval_ms", "late_share", "dup_share",
                                                       "reorder_share", "secret", "codes"});
  SIM_TRY(t.error());
  SIM_TRY(t.get("enabled", &c->tracking.enabled));
  SIM_TRY(t.get("events", &c->tracking.events));
  SIM_TRY(t.get("interval_ms", &c->tracking.interval_ms));
  SIM_TRY(parse_share(t, "late_share", &c->tracking.late_share));
  SIM_TRY(parse_share(t, "dup_share", &c->tracking.dup_share));
  SIM_TRY(parse_share(t, "reorder_share", &c->tracking.reorder_share));
  SIM_TRY(t.get("secret", &c->tracking.secret));
  SIM_TRY(t.get("codes", &c->tracking.codes));
  for (auto& e : c->tracking.events)
    if (!c->tracking.codes.count(e))
      return {Code::invalid_argument, "has no raw code for event '" + e + "'", t.key_path("codes")};
  return {};
}

}  // namespace

Result<SimConfig> parse_sim_config(const std::string& text) {
  SimConfig cfg;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status{Code::invalid_argument, std::string("invalid YAML: ") + e.what(), "config"};
  }
  Map m(root, "", {"listen", "webhook_target", "seed", "carriers"});
  if (!m.error().ok()) return m.error();
  try {
    if (auto s = m.get("listen", &cfg.listen); !s.ok()) return s;
    if (auto s = m.get("webhook_target", &cfg.webhook_target); !s.ok()) return s;
    if (auto s = m.get("seed", &cfg.seed); !s.ok()) return s;
    auto carriers = m.child("carriers");
    if (!carriers.IsSequence() || carriers.size() == 0)
      return Status{Code::invalid_argument, "must list at least one carrier", "carriers"};
    for (size_t i = 0; i < carriers.size(); ++i) {
      SimCarrier c;
      if (auto s = parse_carrier(carriers[i], "carriers[" + std::to_string(i) + "]", &c); !s.ok()) return s;
      cfg.carriers.push_back(std::move(c));
    }
  } catch (const YAML::Exception& e) {
    return Status{Code::invalid_argument, std::string("invalid YAML: ") + e.what(), "config"};
  }
  return cfg;
}

Result<SimConfig> load_sim_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status{Code::invalid_argument, "cannot read '" + path + "'", "config"};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_sim_config(ss.str());
}

}  // namespace waybill::sim
