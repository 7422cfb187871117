// API keys and scopes.
//
// A partner presents its key as "Authorization: Bearer <key>" or "X-Api-Key: <key>".
// waybill keeps only the SHA-256 of each key (lower-case hex) and compares the digest
// of the presented key with every known digest in constant time. Which scope a request
// needs is looked up in ONE table keyed by method and route template
// (route_access.cpp); a route the table does not list needs `admin` (fail closed).
//
//   401 + WWW-Authenticate: no key, a malformed Authorization header, an unknown key
//   403: a known key without the scope the route needs (the problem names it)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/runtime/http_server.hpp"
#include "waybill/status.hpp"

namespace waybill::runtime {

/// What a key may do. One bit each; `admin` implies every other scope.
enum class Scope : uint32_t {
  orders_write = 1u << 0,     ///< "orders:write": create, change and step orders, source-shaped orders
  tracking_write = 1u << 1,   ///< "tracking:write": milestones, shipments booked elsewhere
  carrier_webhook = 1u << 2,  ///< "carrier:webhook": carriers' tracking pushes
  ops = 1u << 3,              ///< "ops": exception queue, voids, exports, subscription upkeep, disputes, settlement runs
  read = 1u << 4,             ///< "read": GETs of orders, shipments, trace, events, carriers, manifests, invoices
  invoices_write = 1u << 5,   ///< "invoices:write": POST /v1/invoices
  pii = 1u << 6,              ///< "pii": consignee names, streets, phones and e-mails unmasked in answers
  admin = 1u << 7,            ///< "admin": every scope, and routes the table does not list
};
using ScopeSet = uint32_t;

const char* name(Scope scope);
std::optional<Scope> parse_scope(std::string_view text);
/// Every scope, in the order of the enum (for listings and tests).
std::span<const Scope> all_scopes();
/// True when `scopes` grants `wanted` (directly or through `admin`).
bool has_scope(ScopeSet scopes, Scope wanted);

/// One accepted key.
struct ApiKey {
  /// Who holds the key: shown in logs with each request (the key never is).
  std::string partner;
  /// SHA-256 of the key as presented, 64 lower-case hex digits.
  std::string key_sha256;
  /// Bits of Scope.
  ScopeSet scopes = 0;
};

struct AuthOptions {
  /// Keys accepted (config `auth.keys`: a list of {partner, key_sha256, scopes}).
  /// Default: none.
  std::vector<ApiKey> keys;
  /// YAML file with more keys, `keys:` followed by the same list, read at start
  /// (config `auth.keys_file`, `--keys-file`). Default: "" (none).
  std::string keys_file;
  /// Where waybilld keeps the admin key it generates on its first start when no key
  /// is configured at all (config `auth.admin_key_file`); "" means <data_dir>/admin.key.
  /// Default: "".
  std::string admin_key_file;
};

/// Who may call one route.
struct RouteAccess {
  std::string_view method;  ///< "GET", "POST", "PATCH", "DELETE"
  /// Route template as in metrics and logs: literal segments, "{name}" for any one
  /// segment, and a final "{rest...}" for any further segments (at least one).
  std::string_view route;
  bool open = false;           ///< no key needed (health, readiness, metrics)
  Scope scope = Scope::admin;  ///< needed when not open
};

/// The table (route_access.cpp), one line per method and route template.
std::span<const RouteAccess> route_access_table();
/// The table entry for a request, from its method and path segments (split_path of the
/// raw path, as the router sees them); the entry with most literal segments wins.
/// Null when no entry matches.
const RouteAccess* find_route_access(std::string_view method, const std::vector<std::string_view>& segments);

/// Hex SHA-256 of a key as presented (what ApiKey::key_sha256 holds).
std::string key_digest(std::string_view key);
/// A new random key: "wb_" and 64 hex digits (256 bits).
std::string generate_api_key();

/// The keys a server accepts.
class KeyRing {
 public:
  KeyRing() = default;
  explicit KeyRing(std::vector<ApiKey> keys) : keys_(std::move(keys)) {}
  /// The entry of `presented`, null when unknown. Every entry is compared, in constant
  /// time, whatever matches first.
  const ApiKey* find(std::string_view presented) const;
  size_t size() const { return keys_.size(); }

 private:
  std::vector<ApiKey> keys_;
};

/// The outcome of checking one request.
struct AuthDecision {
  /// The table entry the request matched; null when it matched none.
  const RouteAccess* access = nullptr;
  /// The caller's key; null on open routes and when denied.
  const ApiKey* key = nullptr;
  /// When set, the request is refused with this answer (401 or 403 problem+json).
  std::optional<HttpResponse> denial;
};

/// Checks a request against the table and the keys. `segments` as for
/// find_route_access().
AuthDecision authorize(const KeyRing& keys, const HttpRequest& request, const std::vector<std::string_view>& segments);

/// Validates one configured key (partner, digest and scopes), naming `field` on error.
Status validate_key(const ApiKey& key, const std::string& field);

}  // namespace waybill::runtime
