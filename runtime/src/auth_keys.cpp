#include "waybill/runtime/auth_keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "auth_yaml.hpp"
#include "waybill/runtime/log.hpp"

namespace waybill::runtime {

namespace {

constexpr log::Logger kLog("auth");
constexpr const char* kGeneratedPartner = "local-admin";

Status read_key(const YAML::Node& item, const std::string& field, ApiKey* out) {
  if (!item.IsMap()) return {Code::invalid_argument, "must be a mapping with partner, key_sha256 and scopes", field};
  for (auto it = item.begin(); it != item.end(); ++it) {
    auto k = it->first.IsScalar() ? it->first.Scalar() : std::string("?");
    if (k != "partner" && k != "key_sha256" && k != "scopes")
      return {Code::invalid_argument, "unknown key (expected partner, key_sha256, scopes)", field + "." + k};
  }
  auto scalar = [&](const char* name, std::string* to) -> Status {
    auto n = item[name];
    if (!n || !n.IsScalar()) return {Code::invalid_argument, "must be a string", field + "." + name};
    *to = n.Scalar();
    return {};
  };
  if (auto st = scalar("partner", &out->partner); !st.ok()) return st;
  if (auto st = scalar("key_sha256", &out->key_sha256); !st.ok()) return st;
  for (auto& c : out->key_sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto scopes = item["scopes"];
  if (!scopes || !scopes.IsSequence())
    return {Code::invalid_argument, "must be a list of scopes", field + ".scopes"};
  out->scopes = 0;
  for (auto s : scopes) {
    auto scope = s.IsScalar() ? parse_scope(s.Scalar()) : std::nullopt;
    if (!scope) {
      std::string known;
      for (auto k : all_scopes()) known += std::string(known.empty() ? "" : ", ") + name(k);
      return {Code::invalid_argument, "unknown scope '" + (s.IsScalar() ? s.Scalar() : "?") + "' (known: " + known + ")",
              field + ".scopes"};
    }
    out->scopes |= static_cast<ScopeSet>(*scope);
  }
  return validate_key(*out, field);
}

// The key in an existing admin key file; warns when others may read it.
Result<std::string> read_admin_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status{Code::internal, "cannot stat '" + path + "': " + std::strerror(errno), "auth.admin_key_file"};
  if ((st.st_mode & 077) != 0)
    kLog.warn("the admin key file is readable by others than its owner; chmod 600 it", {{"file", path}});
  std::ifstream in(path);
  std::string key;
  if (!(in >> key) || key.size() < 16)
    return Status{Code::invalid_argument, "'" + path + "' holds no usable key; delete it to generate a new one",
                  "auth.admin_key_file"};
  return key;
}

// Creates `path` with a fresh key, readable by its owner only, and makes it durable.
Result<std::string> create_admin_key(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Status{Code::internal, "cannot create '" + parent.string() + "': " + ec.message(), "auth.admin_key_file"};
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status{Code::internal, "cannot create '" + path + "': " + std::strerror(errno), "auth.admin_key_file"};
  std::string key = generate_api_key();
  std::string text = key + "\n";
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return Status{Code::internal, "cannot write '" + path + "': " + std::strerror(err), "auth.admin_key_file"};
  }
  return key;
}

}  // namespace

Status read_api_keys(const YAML::Node& list, const std::string& field, std::vector<ApiKey>* out) {
  if (!list.IsSequence()) return {Code::invalid_argument, "must be a list of {partner, key_sha256, scopes}", field};
  try {
    for (size_t i = 0; i < list.size(); ++i) {
      ApiKey key;
      if (auto st = read_key(list[i], field + "[" + std::to_string(i) + "]", &key); !st.ok()) return st;
      out->push_back(std::move(key));
    }
  } catch (const YAML::Exception& e) {
    return {Code::invalid_argument, std::string("invalid YAML: ") + e.what(), field};
  }
  return {};
}

Result<std::vector<ApiKey>> parse_keys_file(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status{Code::invalid_argument, std::string("invalid YAML: ") + e.what(), "keys"};
  }
  if (!root.IsMap() || !root["keys"]) return Status{Code::invalid_argument, "must be a mapping with 'keys:'", "keys"};
  for (auto it = root.begin(); it != root.end(); ++it)
    if (!it->first.IsScalar() || it->first.Scalar() != "keys")
      return Status{Code::invalid_argument, "unknown key", it->first.IsScalar() ? it->first.Scalar() : "?"};
  std::vector<ApiKey> keys;
  if (auto st = read_api_keys(root["keys"], "keys", &keys); !st.ok()) return st;
  return keys;
}

Result<KeySetup> setup_api_keys(const AuthOptions& options, const std::string& data_dir) {
  KeySetup setup;
  setup.keys = options.keys;
  if (!options.keys_file.empty()) {
    std::ifstream in(options.keys_file);
    if (!in) return Status{Code::invalid_argument, "cannot read keys file '" + options.keys_file + "'", "auth.keys_file"};
    std::stringstream ss;
    ss << in.rdbuf();
    auto more = parse_keys_file(ss.str());
    if (!more)
      return Status{Code::invalid_argument, "in keys file '" + options.keys_file + "': " + more.status().message(),
                    "auth.keys_file: " + more.status().field()};
    setup.keys.insert(setup.keys.end(), more->begin(), more->end());
  }
  std::set<std::string> digests;
  for (auto& k : setup.keys)
    if (!digests.insert(k.key_sha256).second)
      return Status{Code::invalid_argument, "the same key is configured twice (partner '" + k.partner + "')", "auth.keys"};
  if (!setup.keys.empty()) return setup;

  std::string path = options.admin_key_file.empty() ? data_dir + "/admin.key" : options.admin_key_file;
  std::error_code ec;
  bool exists = std::filesystem::exists(path, ec);
  auto key = exists ? read_admin_key(path) : create_admin_key(path);
  if (!key) return key.status();
  setup.keys.push_back({kGeneratedPartner, key_digest(*key), static_cast<ScopeSet>(Scope::admin)});
  setup.admin_key_file = path;
  setup.generated = !exists;
  return setup;
}

}  // namespace waybill::runtime
