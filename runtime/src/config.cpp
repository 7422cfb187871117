#include "waybill/runtime/config.hpp"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <cstring>

#include <yaml-cpp/yaml.h>

#include "auth_yaml.hpp"
#include "waybill/runtime/log.hpp"
#include "cluster_yaml.hpp"

namespace waybill::runtime {

namespace {

// Binds a YAML scalar at a dotted key path onto a field, with type checking.
using Setter = std::function<Status(const YAML::Node&, const std::string& key)>;

template <class T>
Setter bind(T* field) {
  return [field](const YAML::Node& node, const std::string& key) -> Status {
    if (!node.IsScalar()) return {Code::invalid_argument, "must be a scalar value", key};
    try {
      *field = node.as<T>();
    } catch (const YAML::Exception&) {
      return {Code::invalid_argument, "has a value of the wrong type: '" + node.Scalar() + "'", key};
    }
    return {};
  };
}

template <class T>
Setter bind_min(T* field, T min) {
  auto inner = bind(field);
  return [inner, field, min](const YAML::Node& node, const std::string& key) -> Status {
    auto st = inner(node, key);
    if (st.ok() && *field < min) return {Code::invalid_argument, "must be at least " + std::to_string(min), key};
    return st;
  };
}

Setter bind_list(std::vector<std::string>* field) {
  return [field](const YAML::Node& node, const std::string& key) -> Status {
    if (!node.IsSequence()) return {Code::invalid_argument, "must be a list of strings", key};
    field->clear();
    for (auto item : node) {
      if (!item.IsScalar() || item.Scalar().empty()) return {Code::invalid_argument, "must be a list of non-empty strings", key};
      field->push_back(item.Scalar());
    }
    return {};
  };
}

// settlement.tolerances: [{carrier, charge, abs_minor, percent}]; percent is a decimal
// with at most two places ("1.5"), read exactly into basis points.
Setter bind_tolerances(std::vector<actors::ToleranceRule>* field) {
  return [field](const YAML::Node& node, const std::string& key) -> Status {
    if (!node.IsSequence()) return {Code::invalid_argument, "must be a list of {carrier, charge, abs_minor, percent}", key};
    field->clear();
    size_t i = 0;
    for (auto item : node) {
      const std::string at = key + "[" + std::to_string(i++) + "]";
      if (!item.IsMap()) return {Code::invalid_argument, "must be a mapping", at};
      actors::ToleranceRule r;
      for (auto kv : item) {
        auto k = kv.first.as<std::string>();
        if (!kv.second.IsScalar()) return {Code::invalid_argument, "must be a scalar", at + "." + k};
        const std::string v = kv.second.Scalar();
        if (k == "carrier") r.carrier = v;
        else if (k == "charge") r.charge = v;
        else if (k == "abs_minor" || k == "percent") {
          auto n = actors::parse_decimal_minor(v, k == "percent" ? "USD" : "JPY");
          if (!n.ok() || *n < 0 || (k == "percent" && *n > 100000))
            return {Code::invalid_argument, k == "percent" ? "must be 0..1000 with at most two decimals" : "must be a whole number >= 0", at + "." + k};
          (k == "percent" ? r.percent_bp : r.abs_minor) = *n;
        } else {
          return {Code::invalid_argument, "unknown key", at + "." + k};
        }
      }
      field->push_back(std::move(r));
    }
    return {};
  };
}

// settlement.charges: [{carrier, code, evidence: [...], contract_minor}]. An entry
// replaces the built-in rule with the same carrier and code; others are added.
Setter bind_charge_rules(std::vector<actors::ChargeRule>* field) {
  return [field](const YAML::Node& node, const std::string& key) -> Status {
    if (!node.IsSequence()) return {Code::invalid_argument, "must be a list of {carrier, code, evidence, contract_minor}", key};
    size_t i = 0;
    for (auto item : node) {
      const std::string at = key + "[" + std::to_string(i++) + "]";
      if (!item.IsMap()) return {Code::invalid_argument, "must be a mapping", at};
      actors::ChargeRule r;
      for (auto kv : item) {
        auto k = kv.first.as<std::string>();
        if (k == "evidence") {
          if (!kv.second.IsSequence()) return {Code::invalid_argument, "must be a list of evidence tokens", at + ".evidence"};
          for (auto e : kv.second) {
            static const char* const kinds[] = {"quote", "always", "status:", "category:", "raw:", "package:oversize", "party:residential"};
            std::string token = e.IsScalar() ? e.Scalar() : "";
            bool known = false;
            for (auto* kind : kinds) known = known || token == kind || (std::string(kind).back() == ':' && token.rfind(kind, 0) == 0 && token.size() > std::strlen(kind));
            if (!known) return {Code::invalid_argument, "unknown evidence '" + token + "'", at + ".evidence"};
            r.evidence.push_back(token);
          }
          continue;
        }
        if (!kv.second.IsScalar()) return {Code::invalid_argument, "must be a scalar", at + "." + k};
        const std::string v = kv.second.Scalar();
        if (k == "carrier") r.carrier = v;
        else if (k == "code") r.code = v;
        else if (k == "contract_minor") {
          auto n = actors::parse_decimal_minor(v, "JPY");
          if (!n.ok() || *n < 0) return {Code::invalid_argument, "must be a whole number >= 0", at + ".contract_minor"};
          r.contract_minor = *n;
        } else {
          return {Code::invalid_argument, "unknown key", at + "." + k};
        }
      }
      if (r.code.empty()) return {Code::invalid_argument, "is required", at + ".code"};
      if (r.evidence.empty()) return {Code::invalid_argument, "needs at least one evidence token", at + ".evidence"};
      std::erase_if(*field, [&](const actors::ChargeRule& x) { return x.carrier == r.carrier && x.code == r.code; });
      field->push_back(std::move(r));
    }
    return {};
  };
}

std::map<std::string, Setter> setters(Config& c, std::string* listen) {
  auto& e = c.engine;
  return {
      {"listen", bind(listen)},
      {"data_dir", bind(&e.store.data_dir)},
      {"log.level", bind(&c.log_level)},
      {"log.access", bind(&c.api.access_log)},
      {"auth.keys", [&c](const YAML::Node& n, const std::string& key) { return read_api_keys(n, key, &c.api.auth.keys); }},
      {"auth.keys_file", bind(&c.api.auth.keys_file)},
      {"auth.admin_key_file", bind(&c.api.auth.admin_key_file)},
      {"http.tls.cert_file", bind(&c.http.tls_cert_file)},
      {"http.tls.key_file", bind(&c.http.tls_key_file)},
      {"http.threads", bind_min(&c.http.threads, 1)},
      {"http.max_body_bytes", bind_min<uint64_t>(&c.http.max_body_bytes, 1024)},
      {"http.max_header_bytes", bind_min<uint32_t>(&c.http.max_header_bytes, 1024)},
      {"http.read_timeout_ms", bind_min(&c.http.read_timeout_ms, 100)},
      {"http.idle_timeout_ms", bind_min(&c.http.idle_timeout_ms, 100)},
      {"http.max_connections", bind_min<size_t>(&c.http.max_connections, 1)},
      {"http.max_ndjson_lines", bind_min<size_t>(&c.api.max_ndjson_lines, 1)},
      {"http.retry_after_s", bind_min(&c.api.retry_after_s, 0)},
      {"storage.sync", bind(&e.writer.sync)},
      {"storage.queue_capacity", bind_min<size_t>(&e.writer.queue_capacity, 1)},
      {"storage.max_batch_requests", bind_min<size_t>(&e.writer.max_batch_requests, 1)},
      {"storage.block_cache_mb", bind_min<size_t>(&e.store.block_cache_mb, 1)},
      {"storage.write_buffer_mb", bind_min<size_t>(&e.store.write_buffer_mb, 1)},
      {"storage.background_jobs", bind_min(&e.store.background_jobs, 1)},
      {"storage.max_wal_mb", bind_min<size_t>(&e.store.max_wal_mb, 16)},
      {"actors.max_resident_orders", bind_min<size_t>(&e.orders.max_resident, 1)},
      {"actors.max_resident_shipments", bind_min<size_t>(&e.shipments.max_resident, 1)},
      {"actors.idle_timeout_ms", bind_min<int64_t>(&e.shipments.idle_timeout_ms, 1)},
      {"actors.scheduler_threads", bind_min(&e.scheduler_threads, 0)},
      {"actors.scheduler_policy", bind(&e.scheduler_policy)},
      {"actors.sweep_interval_ms", bind_min(&e.sweep_interval_ms, 10)},
      {"limits.max_depth", bind_min<size_t>(&c.api.limits.max_depth, 2)},
      {"limits.max_lines", bind_min<size_t>(&c.api.limits.max_lines, 1)},
      {"limits.max_packages", bind_min<size_t>(&c.api.limits.max_packages, 1)},
      {"limits.max_string_bytes", bind_min<size_t>(&c.api.limits.max_string_bytes, 16)},
      {"booking.carriers_dir", bind(&e.booking.carriers_dir)},
      {"booking.selection", bind(&e.booking.selection)},
      {"booking.book_on_release", bind(&e.booking.book_on_release)},
      {"booking.max_backlog", bind_min<int64_t>(&e.booking.max_backlog, 1)},
      {"booking.client_threads", bind_min(&e.booking.client_threads, 1)},
      {"booking.client_max_connections", bind_min<size_t>(&e.booking.client_max_connections, 1)},
      {"webhooks.retry_period_s", bind_min<int64_t>(&c.api.webhooks.retry_period_s, 1)},
      {"webhooks.base_backoff_ms", bind_min(&c.api.webhooks.base_backoff_ms, 1)},
      {"webhooks.max_backoff_ms", bind_min(&c.api.webhooks.max_backoff_ms, 1)},
      {"webhooks.timeout_ms", bind_min(&c.api.webhooks.timeout_ms, 10)},
      {"webhooks.source", bind(&c.api.webhooks.source)},
      {"sla.enabled", bind(&e.sla.deadlines.enabled)},
      {"sla.no_pickup_after_s", bind_min<int64_t>(&e.sla.deadlines.no_pickup_after_s, 1)},
      {"sla.stale_after_s", bind_min<int64_t>(&e.sla.deadlines.stale_after_s, 1)},
      {"sla.eta_grace_s", bind_min<int64_t>(&e.sla.deadlines.eta_grace_s, 0)},
      {"sla.scan_interval_ms", bind_min(&e.sla.scan_interval_ms, 10)},
      {"sla.max_fires_per_scan", bind_min<size_t>(&e.sla.max_fires_per_scan, 1)},
      {"sla.redispatch_after_ms", bind_min(&e.sla.redispatch_after_ms, 100)},
      {"visibility.fresh_within_h", bind_min<int64_t>(&e.visibility.fresh_within_h, 1)},
      {"visibility.pass_interval_ms", bind_min(&e.visibility.pass_interval_ms, 0)},
      {"visibility.headers_per_step", bind_min<size_t>(&e.visibility.headers_per_step, 1)},
      {"ownership.sources", bind_list(&c.api.ownership.sources)},
      {"ownership.owners.ship_to", bind(&c.api.ownership.owners["ship_to"])},
      {"ownership.owners.ship_from", bind(&c.api.ownership.owners["ship_from"])},
      {"ownership.owners.lines", bind(&c.api.ownership.owners["lines"])},
      {"ownership.owners.references", bind(&c.api.ownership.owners["references"])},
      {"ownership.owners.service_level", bind(&c.api.ownership.owners["service_level"])},
      {"ownership.owners.packages", bind(&c.api.ownership.owners["packages"])},
      {"tracking.recycle_window_days", bind_min<int64_t>(&c.api.tracking.recycle_window_days, 1)},
      {"tracking.pre_ship_days", bind_min<int64_t>(&c.api.tracking.pre_ship_days, 0)},
      {"fault_injection.crash_after_booking_answers", bind_min(&e.booking.crash_after_booking_answers, 0)},
      {"fault_injection.crash_after_commits", bind_min(&e.crash_after_commits, 0)},
      {"fault_injection.crash_after_webhook_deliveries", bind_min(&c.api.webhooks.crash_after_deliveries, 0)},
      {"intake.sources_dir", bind(&c.api.intake.sources_dir)},
      {"intake.watch", bind(&c.api.intake.watch)},
      {"intake.drop_dir", bind(&c.api.intake.drop_dir)},
      {"intake.poll_interval_ms", bind_min(&c.api.intake.poll_interval_ms, 10)},
      {"intake.settle_ms", bind_min(&c.api.intake.settle_ms, 0)},
      {"intake.max_file_bytes", bind_min<uint64_t>(&c.api.intake.max_file_bytes, 1024)},
      {"intake.max_rows", bind_min<size_t>(&c.api.intake.max_rows, 1)},
      {"intake.max_files_per_tick", bind_min<size_t>(&c.api.intake.max_files_per_tick, 1)},
      {"intake.max_in_flight", bind_min<size_t>(&c.api.intake.max_in_flight, 1)},
      {"intake.answer_timeout_ms", bind_min(&c.api.intake.answer_timeout_ms, 100)},
      {"settlement.tolerances", bind_tolerances(&e.settlement.tolerances)},
      {"settlement.charges", bind_charge_rules(&e.settlement.charges)},
      {"settlement.oversize_longest_side_mm", bind_min<int64_t>(&e.settlement.oversize_longest_side_mm, 1)},
      {"settlement.max_lines_per_invoice", bind_min<size_t>(&e.settlement.max_lines_per_invoice, 1)},
      {"settlement.max_queued_requests", bind_min<size_t>(&e.settlement.max_queued_requests, 1)},
      {"settlement.invoice_dir", bind(&c.api.invoices.dir)},
      {"settlement.watch", bind(&c.api.invoices.watch)},
      {"settlement.poll_interval_ms", bind_min(&c.api.invoices.poll_interval_ms, 10)},
      {"settlement.settle_ms", bind_min(&c.api.invoices.settle_ms, 0)},
      {"settlement.max_file_bytes", bind_min<uint64_t>(&c.api.invoices.max_file_bytes, 1024)},
      {"export.nightly", bind(&c.api.exports.nightly)},
      {"export.dir", bind(&c.api.exports.dir)},
      {"export.at_utc", bind(&c.api.exports.at_utc)},
      {"export.max_catch_up_days", bind_min(&c.api.exports.max_catch_up_days, 1)},
      {"export.check_interval_ms", bind_min(&c.api.exports.check_interval_ms, 100)},
      {"booking.default_ship_from.name", bind(&e.booking.default_ship_from.name)},
      {"booking.default_ship_from.street", bind(&e.booking.default_ship_from.street)},
      {"booking.default_ship_from.city", bind(&e.booking.default_ship_from.city)},
      {"booking.default_ship_from.postal_code", bind(&e.booking.default_ship_from.postal_code)},
      {"booking.default_ship_from.country", bind(&e.booking.default_ship_from.country)},
      // cluster: (cluster_config.hpp); validated with validate_cluster below.
      {"cluster.node_id", bind(&c.cluster.node_id)},
      {"cluster.members", [&c](const YAML::Node& n, const std::string& k) { return read_cluster_members(n, k, &c.cluster.members); }},
      {"cluster.forward_timeout_ms", bind_min(&c.cluster.forward_timeout_ms, 10)},
      {"cluster.connect_timeout_ms", bind_min(&c.cluster.connect_timeout_ms, 10)},
      {"cluster.reconnect_base_ms", bind_min(&c.cluster.reconnect_base_ms, 1)},
      {"cluster.reconnect_max_ms", bind_min(&c.cluster.reconnect_max_ms, 1)},
      {"cluster.heartbeat_interval_ms", bind_min(&c.cluster.heartbeat_interval_ms, 10)},
      {"cluster.connection_timeout_ms", bind_min(&c.cluster.connection_timeout_ms, 100)},
      {"cluster.max_in_flight", bind_min<size_t>(&c.cluster.max_in_flight, 1)},
      {"cluster.retry_after_s", bind_min(&c.cluster.retry_after_s, 0)},
      {"cluster.threads", bind_min(&c.cluster.threads, 1)},
  };
}

Status walk(const YAML::Node& node, const std::string& prefix, std::map<std::string, Setter>& known) {
  if (!node.IsMap()) return {Code::invalid_argument, "must be a mapping", prefix.empty() ? "config" : prefix};
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = prefix.empty() ? it->first.as<std::string>() : prefix + "." + it->first.as<std::string>();
    auto setter = known.find(key);
    if (setter != known.end()) {
      if (auto st = setter->second(it->second, key); !st.ok()) return st;
      continue;
    }
    bool is_section = false;
    for (auto& [k, _] : known) is_section = is_section || k.rfind(key + ".", 0) == 0;
    if (!is_section) return {Code::invalid_argument, "unknown configuration key", key};
    if (auto st = walk(it->second, key, known); !st.ok()) return st;
  }
  return {};
}

}  // namespace

Status apply_listen(const std::string& hp, HttpServerOptions* http) {
  auto colon = hp.rfind(':');
  if (colon == std::string::npos || colon == 0) return {Code::invalid_argument, "must be HOST:PORT", "listen"};
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(hp.substr(colon + 1), &used);
    if (used != hp.size() - colon - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    return {Code::invalid_argument, "port must be a number", "listen"};
  }
  if (port < 0 || port > 65535) return {Code::invalid_argument, "port must be 0..65535", "listen"};
  http->host = hp.substr(0, colon);
  http->port = static_cast<uint16_t>(port);
  return {};
}

Result<Config> parse_config(const std::string& text) {
  Config c;
  auto& from = c.engine.booking.default_ship_from;
  from.name = "Main Warehouse";
  from.street = "1 Depot Road";
  from.city = "Memphis";
  from.postal_code = "38118";
  from.country = "US";
  std::string listen = "127.0.0.1:8080";
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status{Code::invalid_argument, std::string("invalid YAML: ") + e.what(), "config"};
  }
  if (!root.IsNull()) {
    auto known = setters(c, &listen);
    try {
      if (auto st = walk(root, "", known); !st.ok()) return st;
    } catch (const YAML::Exception& e) {
      return Status{Code::invalid_argument, std::string("invalid YAML: ") + e.what(), "config"};
    }
  }
  if (auto st = apply_listen(listen, &c.http); !st.ok()) return st;
  c.engine.orders.idle_timeout_ms = c.engine.shipments.idle_timeout_ms;
  c.engine.tracking = c.api.tracking;  // invoice lines find shipments like carrier events do
  if (c.engine.writer.queue_capacity > 65000)
    return Status{Code::invalid_argument, "must be at most 65000", "storage.queue_capacity"};
  auto& sel = c.engine.booking.selection;
  if (sel != "cheapest" && sel != "fastest" && sel != "preferred")
    return Status{Code::invalid_argument, "must be cheapest, fastest or preferred", "booking.selection"};
  if (c.engine.scheduler_policy != "stealing" && c.engine.scheduler_policy != "sharing")
    return Status{Code::invalid_argument, "must be 'stealing' or 'sharing'", "actors.scheduler_policy"};
  auto& own = c.api.ownership;
  for (auto& s : own.sources)
    if (s == "waybill" || s == "carrier")
      return Status{Code::invalid_argument, "'" + s + "' is reserved: it owns carrier choice or tracking", "ownership.sources"};
  for (auto& [field, owner] : own.owners)
    if (std::find(own.sources.begin(), own.sources.end(), owner) == own.sources.end())
      return Status{Code::invalid_argument, "owner '" + owner + "' is not in ownership.sources", "ownership.owners." + field};
  if (!parse_time_of_day(c.api.exports.at_utc))
    return Status{Code::invalid_argument, "must be HH:MM (UTC, 00:00..23:59)", "export.at_utc"};
  if (auto st = validate_cluster(c.cluster); !st.ok()) return st;
  // Drop folders feed this node's engine directly and do not route by owner yet.
  if (c.cluster.enabled() && c.api.intake.watch)
    return Status{Code::invalid_argument, "must be false in a cluster (drop-folder orders are not routed to their owner yet)", "intake.watch"};
  if (c.cluster.enabled() && c.api.invoices.watch)
    return Status{Code::invalid_argument, "must be false in a cluster (a folder is read by one node; post invoices to the API, which routes each to its carrier's node)", "settlement.watch"};
  if (!log::parse_level(c.log_level))
    return Status{Code::invalid_argument, "must be one of trace, debug, info, warn, error, off", "log.level"};
  if (c.http.tls_cert_file.empty() != c.http.tls_key_file.empty())
    return Status{Code::invalid_argument, "TLS needs both a certificate and a key file",
                  c.http.tls_cert_file.empty() ? "http.tls.cert_file" : "http.tls.key_file"};
  return c;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status{Code::invalid_argument, "cannot read config file '" + path + "'", "config"};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str());
}

}  // namespace waybill::runtime
