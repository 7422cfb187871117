// Where the CLI finds the server and its API key: flags, then the environment, then a
// YAML file (`--config`, else $XDG_CONFIG_HOME/waybill/cli.yaml, else
// ~/.config/waybill/cli.yaml), then the defaults.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "waybill/cli/outcome.hpp"

namespace waybill::cli {

inline constexpr const char* kDefaultUrl = "http://127.0.0.1:8080";

struct Settings {
  /// Base URL of the HTTP API, e.g. http://127.0.0.1:8080. Default: kDefaultUrl.
  std::string url = kDefaultUrl;
  /// Sent as `Authorization: Bearer <key>`; empty sends no Authorization header.
  std::string api_key;
  /// Bound on the whole exchange (resolve, connect, send, receive). Default: 10 s.
  int timeout_ms = 10000;
  /// https: PEM file of certificate authorities to trust; empty: the system's.
  std::string ca_file;
  /// The file the settings came from, empty when none was read (for messages).
  std::string config_path;
};

/// What the command line said; unset members fall through to the environment.
struct SettingsFlags {
  std::optional<std::string> url;
  std::optional<std::string> config_path;
  std::optional<int> timeout_ms;
  std::optional<std::string> ca_file;
};

/// Looks up an environment variable; std::getenv in the program, a map in tests.
using Getenv = std::function<std::optional<std::string>(const char* name)>;
Getenv process_environment();

/// Resolves the settings. Precedence: --url, WAYBILL_URL, the file's `url`, default;
/// WAYBILL_API_KEY, the file's `api_key`; --cacert, WAYBILL_CACERT, the file's
/// `ca_file`. A file named by --config (or WAYBILL_CONFIG)
/// must exist; the default file may be absent. An unknown key or a wrong type in the
/// file is a usage failure naming the file and the key.
Outcome<Settings> resolve_settings(const SettingsFlags& flags, const Getenv& getenv);

/// Reads `url`, `api_key` and `ca_file` from a cli.yaml into `settings` (members
/// present only).
Outcome<bool> read_settings_file(const std::string& path, Settings* settings);

}  // namespace waybill::cli
