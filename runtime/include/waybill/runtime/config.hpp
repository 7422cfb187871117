// waybilld configuration: YAML mapped onto the options structs of each module. Every
// key is optional (the embedded defaults run a complete server); an unknown key or a
// value of the wrong type stops start-up with a message naming the key.
#pragma once

#include <string>

#include "waybill/runtime/api.hpp"
#include "waybill/runtime/cluster_config.hpp"
#include "waybill/runtime/engine.hpp"
#include "waybill/runtime/http_server.hpp"

namespace waybill::runtime {

struct Config {
  HttpServerOptions http;
  EngineOptions engine;
  ApiOptions api;
  /// Membership and forwarding (the `cluster:` section); off when it names no members.
  ClusterOptions cluster;
  /// Least severe log level written: trace, debug, info, warn, error, off. Default: info.
  std::string log_level = "info";
};

/// Parses YAML text on top of the defaults.
Result<Config> parse_config(const std::string& yaml_text);
/// Reads and parses a YAML file.
Result<Config> load_config(const std::string& path);
/// "HOST:PORT" into the HTTP options.
Status apply_listen(const std::string& host_port, HttpServerOptions* http);

}  // namespace waybill::runtime
