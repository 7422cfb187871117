#include "waybill/cli/settings.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <yaml-cpp/yaml.h>

namespace waybill::cli {

namespace {

Failure bad_file(const std::string& path, const std::string& why) { return {ExitCode::usage, path + ": " + why}; }

// The file holds a credential: say so when others may read it (as ssh does), but go on,
// since refusing would lock out an operator on a shared box in the middle of an incident.
void warn_if_readable_by_others(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    std::fprintf(stderr, "waybill: warning: %s holds an api_key and is accessible by others (chmod 600 it)\n",
                 path.c_str());
}

std::string default_settings_path(const Getenv& getenv) {
  if (auto xdg = getenv("XDG_CONFIG_HOME"); xdg && !xdg->empty()) return *xdg + "/waybill/cli.yaml";
  if (auto home = getenv("HOME"); home && !home->empty()) return *home + "/.config/waybill/cli.yaml";
  return {};
}

}  // namespace

Getenv process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Outcome<bool> read_settings_file(const std::string& path, Settings* settings) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return bad_file(path, "cannot be read");
  } catch (const YAML::Exception& e) {
    return bad_file(path, "not valid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
  if (root.IsNull()) return true;  // an empty file sets nothing
  if (!root.IsMap()) return bad_file(path, "must be a mapping with url and api_key");
  for (auto it = root.begin(); it != root.end(); ++it) {
    auto key = it->first.as<std::string>("");
    if (key != "url" && key != "api_key" && key != "ca_file")
      return bad_file(path, "unknown key '" + key + "' (known: url, api_key, ca_file)");
    if (!it->second.IsScalar()) return bad_file(path, "'" + key + "' must be a string");
    auto value = it->second.as<std::string>();
    if (key == "url") {
      settings->url = value;
    } else if (key == "ca_file") {
      settings->ca_file = value;
    } else {
      settings->api_key = value;
      warn_if_readable_by_others(path);
    }
  }
  settings->config_path = path;
  return true;
}

Outcome<Settings> resolve_settings(const SettingsFlags& flags, const Getenv& getenv) {
  Settings out;
  std::string path;
  bool must_exist = true;
  if (flags.config_path) path = *flags.config_path;
  else if (auto env = getenv("WAYBILL_CONFIG"); env && !env->empty()) path = *env;
  else {
    path = default_settings_path(getenv);
    must_exist = false;
  }
  if (!path.empty()) {
    std::error_code ec;
    bool exists = std::filesystem::exists(path, ec);
    if (!exists && must_exist) return bad_file(path, "no such file");
    if (exists) {
      if (auto read = read_settings_file(path, &out); !read) return read.failure();
    }
  }
  if (auto env = getenv("WAYBILL_URL"); env && !env->empty()) out.url = *env;
  if (flags.url) out.url = *flags.url;
  if (auto env = getenv("WAYBILL_API_KEY"); env && !env->empty()) out.api_key = *env;
  if (auto env = getenv("WAYBILL_CACERT"); env && !env->empty()) out.ca_file = *env;
  if (flags.ca_file) out.ca_file = *flags.ca_file;
  if (flags.timeout_ms) {
    if (*flags.timeout_ms < 1 || *flags.timeout_ms > 3600000)
      return Failure{ExitCode::usage, "--timeout-ms must be 1..3600000"};
    out.timeout_ms = *flags.timeout_ms;
  }
  return out;
}

}  // namespace waybill::cli
