#include "waybill/runtime/auth.hpp"

#include <array>
#include <cctype>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "waybill/runtime/crypto.hpp"

namespace waybill::runtime {

namespace {

constexpr std::array<Scope, 8> kScopes = {Scope::orders_write, Scope::tracking_write, Scope::carrier_webhook,
                                          Scope::ops,          Scope::read,           Scope::invoices_write,
                                          Scope::pii,          Scope::admin};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// The key a request presents, or why its Authorization header is unusable.
struct Presented {
  std::string_view key;
  std::string_view problem;  // set: the Authorization header is malformed
};

Presented presented_key(const HttpRequest& req) {
  for (auto& [name, value] : req.headers) {
    if (name != "authorization") continue;
    std::string_view v = trim(value);
    auto space = v.find(' ');
    if (space == std::string_view::npos || !iequals(v.substr(0, space), "bearer"))
      return {{}, "the Authorization header must be 'Bearer <key>'"};
    auto key = trim(v.substr(space + 1));
    if (key.empty()) return {{}, "the Authorization header must be 'Bearer <key>'"};
    return {key, {}};
  }
  return {trim(req.header("x-api-key")), {}};
}

HttpResponse denial(int status, std::string_view detail, Scope required, bool invalid_token = false) {
  const bool unauthenticated = status == 401;
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("type");
  w.String(unauthenticated ? "https://waybill.dev/problems/unauthenticated"
                           : "https://waybill.dev/problems/insufficient_scope");
  w.Key("title");
  w.String(unauthenticated ? "Unauthorized" : "Forbidden");
  w.Key("status");
  w.Int(status);
  w.Key("detail");
  w.String(detail.data(), static_cast<rapidjson::SizeType>(detail.size()));
  w.Key("required_scope");
  w.String(name(required));
  w.EndObject();
  HttpResponse res{status, "application/problem+json", std::string(sb.GetString(), sb.GetSize()), {}};
  // RFC 6750 challenge; the scope tells a client which key it needs.
  std::string challenge = R"(Bearer realm="waybill")";
  if (status == 403) challenge += std::string(R"(, error="insufficient_scope", scope=")") + name(required) + "\"";
  else if (invalid_token) challenge += R"(, error="invalid_token")";
  res.headers.emplace_back("WWW-Authenticate", std::move(challenge));
  return res;
}

}  // namespace

const char* name(Scope scope) {
  switch (scope) {
    case Scope::orders_write: return "orders:write";
    case Scope::tracking_write: return "tracking:write";
    case Scope::carrier_webhook: return "carrier:webhook";
    case Scope::ops: return "ops";
    case Scope::read: return "read";
    case Scope::invoices_write: return "invoices:write";
    case Scope::pii: return "pii";
    case Scope::admin: return "admin";
  }
  return "?";
}

std::optional<Scope> parse_scope(std::string_view text) {
  for (auto s : kScopes)
    if (text == name(s)) return s;
  return std::nullopt;
}

std::span<const Scope> all_scopes() { return kScopes; }

bool has_scope(ScopeSet scopes, Scope wanted) {
  return (scopes & static_cast<ScopeSet>(Scope::admin)) != 0 || (scopes & static_cast<ScopeSet>(wanted)) != 0;
}

std::string key_digest(std::string_view key) { return to_hex(sha256(key)); }

std::string generate_api_key() { return "wb_" + to_hex(random_bytes(32)); }

const ApiKey* KeyRing::find(std::string_view presented) const {
  if (presented.empty()) return nullptr;
  std::string digest = key_digest(presented);
  const ApiKey* found = nullptr;
  // No early exit: the time taken does not tell which entry (if any) matched.
  for (auto& k : keys_)
    if (equal_constant_time(digest, k.key_sha256) && !found) found = &k;
  return found;
}

AuthDecision authorize(const KeyRing& keys, const HttpRequest& request, const std::vector<std::string_view>& segments) {
  AuthDecision d;
  d.access = find_route_access(request.method, segments);
  if (d.access && d.access->open) return d;
  // Unlisted routes need admin: a route added without its line in the table is closed.
  Scope required = d.access ? d.access->scope : Scope::admin;
  auto presented = presented_key(request);
  if (!presented.problem.empty()) {
    d.denial = denial(401, presented.problem, required);
    return d;
  }
  if (presented.key.empty()) {
    d.denial = denial(401, "an API key is required: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'", required);
    return d;
  }
  const ApiKey* key = keys.find(presented.key);
  if (!key) {
    d.denial = denial(401, "unknown API key", required, true);
    return d;
  }
  if (!has_scope(key->scopes, required)) {
    d.denial = denial(403, std::string("this key lacks the scope '") + name(required) + "' this route needs", required);
    return d;
  }
  d.key = key;
  return d;
}

Status validate_key(const ApiKey& key, const std::string& field) {
  if (key.partner.empty()) return {Code::invalid_argument, "must name the partner", field + ".partner"};
  bool hex = key.key_sha256.size() == 64;
  for (char c : key.key_sha256) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex)
    return {Code::invalid_argument, "must be the SHA-256 of the key as 64 lower-case hex digits", field + ".key_sha256"};
  if (key.scopes == 0) return {Code::invalid_argument, "must list at least one scope", field + ".scopes"};
  return {};
}

}  // namespace waybill::runtime
