#include "sim_config.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "waybill/actors/yaml_reader.hpp"

namespace waybill::sim {

namespace {

Status parse_carrier(const YAML::Node& node, const std::string& path, SimCarrier* c) {
  YamlMap m(node, path, {"name", "dialect", "currency", "tracking_prefix", "auth", "latency", "faults", "rate_limit",
                     "rejection_share", "services", "bad_postal_codes", "tracking"});
  WAYBILL_TRY(m.error());
  WAYBILL_TRY(m.get("name", &c->name));
  if (c->name.empty()) return {Code::invalid_argument, "is required", m.key_path("name")};
  WAYBILL_TRY(m.get("dialect", &c->dialect));
  if (c->dialect != "alpha" && c->dialect != "beta")
    return {Code::invalid_argument, "must be alpha or beta", m.key_path("dialect")};
  WAYBILL_TRY(m.get("currency", &c->currency));
  WAYBILL_TRY(m.get("tracking_prefix", &c->tracking_prefix));
  WAYBILL_TRY(m.share("rejection_share", &c->rejection_share));
  WAYBILL_TRY(m.get("bad_postal_codes", &c->bad_postal_codes));

  YamlMap auth(m.child("auth"), m.key_path("auth"), {"type", "header", "key", "client_id", "client_secret", "token_ttl_s"});
  WAYBILL_TRY(auth.error());
  WAYBILL_TRY(auth.get("type", &c->auth.type));
  if (c->auth.type != "api_key" && c->auth.type != "oauth2")
    return {Code::invalid_argument, "must be api_key or oauth2", auth.key_path("type")};
  WAYBILL_TRY(auth.get("header", &c->auth.header));
  WAYBILL_TRY(auth.get("key", &c->auth.key));
  WAYBILL_TRY(auth.get("client_id", &c->auth.client_id));
  WAYBILL_TRY(auth.get("client_secret", &c->auth.client_secret));
  WAYBILL_TRY(auth.get("token_ttl_s", &c->auth.token_ttl_s));

  YamlMap lat(m.child("latency"), m.key_path("latency"), {"distribution", "median_ms", "p99_ms"});
  WAYBILL_TRY(lat.error());
  WAYBILL_TRY(lat.get("distribution", &c->latency.distribution));
  if (c->latency.distribution != "fixed" && c->latency.distribution != "uniform" && c->latency.distribution != "lognormal")
    return {Code::invalid_argument, "must be fixed, uniform or lognormal", lat.key_path("distribution")};
  WAYBILL_TRY(lat.get("median_ms", &c->latency.median_ms));
  WAYBILL_TRY(lat.get("p99_ms", &c->latency.p99_ms));

  YamlMap f(m.child("faults"), m.key_path("faults"), {"server_error_share", "reset_share", "timeout_share",
                                                   "rate_limited_share", "lost_response_share", "timeout_ms", "retry_after_s"});
  WAYBILL_TRY(f.error());
  WAYBILL_TRY(f.share("server_error_share", &c->faults.server_error_share));
  WAYBILL_TRY(f.share("reset_share", &c->faults.reset_share));
  WAYBILL_TRY(f.share("timeout_share", &c->faults.timeout_share));
  WAYBILL_TRY(f.share("rate_limited_share", &c->faults.rate_limited_share));
  WAYBILL_TRY(f.share("lost_response_share", &c->faults.lost_response_share));
  WAYBILL_TRY(f.get("timeout_ms", &c->faults.timeout_ms));
  WAYBILL_TRY(f.get("retry_after_s", &c->faults.retry_after_s));

  YamlMap rl(m.child("rate_limit"), m.key_path("rate_limit"), {"requests_per_second", "burst"});
  WAYBILL_TRY(rl.error());
  WAYBILL_TRY(rl.get("requests_per_second", &c->rate_limit_rps));
  WAYBILL_TRY(rl.get("burst", &c->rate_limit_burst));

  auto services = m.child("services");
  if (!services.IsSequence() || services.size() == 0)
    return {Code::invalid_argument, "must list at least one service", m.key_path("services")};
  for (size_t i = 0; i < services.size(); ++i) {
    YamlMap s(services[i], m.key_path("services") + "[" + std::to_string(i) + "]",
          {"code", "max_weight_kg", "countries", "hazmat_allowed", "base_minor", "per_kg_minor", "transit_days"});
    WAYBILL_TRY(s.error());
    SimService svc;
    WAYBILL_TRY(s.get("code", &svc.code));
    WAYBILL_TRY(s.get("max_weight_kg", &svc.max_weight_kg));
    WAYBILL_TRY(s.get("countries", &svc.countries));
    WAYBILL_TRY(s.get("hazmat_allowed", &svc.hazmat_allowed));
    WAYBILL_TRY(s.get("base_minor", &svc.base_minor));
    WAYBILL_TRY(s.get("per_kg_minor", &svc.per_kg_minor));
    WAYBILL_TRY(s.get("transit_days", &svc.transit_days));
    if (svc.code.empty()) return {Code::invalid_argument, "is required", s.key_path("code")};
    c->services.push_back(std::move(svc));
  }

  YamlMap t(m.child("tracking"), m.key_path("tracking"), {"enabled", "delivery", "events", "interval_ms", "late_share",
                                                       "dup_share", "reorder_share", "secret", "codes"});
  WAYBILL_TRY(t.error());
  WAYBILL_TRY(t.get("enabled", &c->tracking.enabled));
  WAYBILL_TRY(t.get("delivery", &c->tracking.delivery));
  if (c->tracking.delivery != "webhook" && c->tracking.delivery != "poll")
    return {Code::invalid_argument, "must be webhook or poll", t.key_path("delivery")};
  WAYBILL_TRY(t.get("events", &c->tracking.events));
  WAYBILL_TRY(t.get("interval_ms", &c->tracking.interval_ms));
  if (c->tracking.interval_ms < 1) return {Code::invalid_argument, "must be positive", t.key_path("interval_ms")};
  WAYBILL_TRY(t.share("late_share", &c->tracking.late_share));
  WAYBILL_TRY(t.share("dup_share", &c->tracking.dup_share));
  WAYBILL_TRY(t.share("reorder_share", &c->tracking.reorder_share));
  WAYBILL_TRY(t.get("secret", &c->tracking.secret));
  WAYBILL_TRY(t.get("codes", &c->tracking.codes));
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
  YamlMap m(root, "", {"listen", "webhook_target", "webhook_api_key_file", "seed", "carriers"});
  if (!m.error().ok()) return m.error();
  try {
    if (auto s = m.get("listen", &cfg.listen); !s.ok()) return s;
    if (auto s = m.get("webhook_target", &cfg.webhook_target); !s.ok()) return s;
    if (auto s = m.get("webhook_api_key_file", &cfg.webhook_api_key_file); !s.ok()) return s;
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
