// API keys: hashing, constant-time lookup, scopes (admin implies all), the route table
// (every route group, fail closed), 401/403 answers, keys files and the generated
// admin key of a server without configured keys.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <rapidjson/document.h>

#include "test_support.hpp"
#include "waybill/runtime/auth.hpp"
#include "waybill/runtime/auth_keys.hpp"
#include "waybill/runtime/config.hpp"
#include "waybill/runtime/url.hpp"

namespace waybill::runtime {
namespace {

using testing_support::TempDir;

ScopeSet bits(std::initializer_list<Scope> scopes) {
  ScopeSet s = 0;
  for (auto x : scopes) s |= static_cast<ScopeSet>(x);
  return s;
}

HttpRequest request(const std::string& method, const std::string& target, const std::string& key = "",
                    const std::string& header = "authorization") {
  HttpRequest r;
  r.method = method;
  r.target = target;
  if (!key.empty()) r.headers.emplace_back(header, header == "authorization" ? "Bearer " + key : key);
  return r;
}

AuthDecision check(const KeyRing& ring, const HttpRequest& r) {
  std::string_view path = r.target;
  return authorize(ring, r, split_path(path.substr(0, path.find('?'))));
}

std::string required_scope(const HttpResponse& res) {
  rapidjson::Document d;
  d.Parse(res.body.c_str());
  if (!d.IsObject() || !d.HasMember("required_scope")) return "<none>";
  return d["required_scope"].GetString();
}

TEST(Auth, DigestIsHexSha256OfTheKey) {
  // sha256("abc")
  EXPECT_EQ(key_digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto a = generate_api_key(), b = generate_api_key();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 3u + 64u);
  EXPECT_EQ(a.rfind("wb_", 0), 0u);
}

TEST(Auth, ScopesParseAndAdminImpliesAll) {
  for (auto s : all_scopes()) EXPECT_EQ(parse_scope(name(s)), s) << name(s);
  EXPECT_FALSE(parse_scope("orders"));
  EXPECT_FALSE(parse_scope("ADMIN"));
  for (auto s : all_scopes()) EXPECT_TRUE(has_scope(bits({Scope::admin}), s)) << name(s);
  EXPECT_TRUE(has_scope(bits({Scope::read, Scope::ops}), Scope::ops));
  EXPECT_FALSE(has_scope(bits({Scope::read}), Scope::orders_write));
  EXPECT_FALSE(has_scope(bits({Scope::read}), Scope::pii));
  EXPECT_FALSE(has_scope(0, Scope::read));
}

TEST(Auth, KeyRingFindsByDigestOnly) {
  KeyRing ring({{"erp", key_digest("k-erp"), bits({Scope::orders_write})},
                {"carrier", key_digest("k-carrier"), bits({Scope::carrier_webhook})}});
  ASSERT_NE(ring.find("k-erp"), nullptr);
  EXPECT_EQ(ring.find("k-erp")->partner, "erp");
  EXPECT_EQ(ring.find("k-carrier")->partner, "carrier");
  EXPECT_EQ(ring.find("k-erp "), nullptr);
  EXPECT_EQ(ring.find(key_digest("k-erp")), nullptr) << "the stored digest is not a key";
  EXPECT_EQ(ring.find(""), nullptr);
  EXPECT_EQ(KeyRing().find("k-erp"), nullptr);
}

// Every route group of the API, with the scope its line in the table names.
struct RouteCase {
  const char* method;
  const char* target;
  const char* route;
  const char* scope;  // nullptr: open
};
const RouteCase kRoutes[] = {
    {"GET", "/healthz", "/healthz", nullptr},
    {"GET", "/readyz", "/readyz", nullptr},
    {"GET", "/metrics", "/metrics", nullptr},
    {"GET", "/openapi.json", "/openapi.json", nullptr},
    {"POST", "/v1/orders", "/v1/orders", "orders:write"},
    {"GET", "/v1/orders/SO-1", "/v1/orders/{order_id}", "read"},
    {"PATCH", "/v1/orders/SO-1", "/v1/orders/{order_id}", "orders:write"},
    {"POST", "/v1/orders/SO-1/release", "/v1/orders/{order_id}/release", "orders:write"},
    {"POST", "/v1/orders/SO-1/allocate", "/v1/orders/{order_id}/allocate", "orders:write"},
    {"POST", "/v1/orders/SO-1/pack", "/v1/orders/{order_id}/pack", "orders:write"},
    {"POST", "/v1/orders/SO-1/cancel", "/v1/orders/{order_id}/cancel", "orders:write"},
    {"POST", "/v1/sources/sap/orders", "/v1/sources/{source}/orders", "orders:write"},
    {"GET", "/v1/trace/SO-1?limit=5", "/v1/trace/{order_id}", "read"},
    {"POST", "/v1/shipments", "/v1/shipments", "tracking:write"},
    {"GET", "/v1/shipments/S-1", "/v1/shipments/{shipment_id}", "read"},
    {"POST", "/v1/shipments/S-1/void", "/v1/shipments/{shipment_id}/void", "ops"},
    {"POST", "/v1/tracking", "/v1/tracking", "tracking:write"},
    {"POST", "/v1/carriers/parcelco/webhook", "/v1/carriers/{carrier}/webhook", "carrier:webhook"},
    {"GET", "/v1/carriers", "/v1/carriers", "read"},
    {"GET", "/v1/manifests/parcelco?date=2026-01-01", "/v1/manifests/{carrier}", "read"},
    {"GET", "/v1/exceptions?reason=x", "/v1/exceptions", "read"},
    {"POST", "/v1/exceptions/S-1/resolve", "/v1/exceptions/{shipment_id}/resolve", "ops"},
    {"POST", "/v1/exports", "/v1/exports", "ops"},
    {"GET", "/v1/events?after=0", "/v1/events", "read"},
    {"POST", "/v1/subscriptions", "/v1/subscriptions", "admin"},
    {"GET", "/v1/subscriptions", "/v1/subscriptions", "ops"},
    {"DELETE", "/v1/subscriptions/sub-1", "/v1/subscriptions/{id}", "ops"},
    {"POST", "/v1/subscriptions/sub-1/disable", "/v1/subscriptions/{id}/disable", "ops"},
    {"POST", "/v1/subscriptions/sub-1/enable", "/v1/subscriptions/{id}/enable", "ops"},
    {"GET", "/v1/subscriptions/sub-1/dead-letters", "/v1/subscriptions/{id}/dead-letters", "ops"},
    {"POST", "/v1/subscriptions/sub-1/dead-letters/replay", "/v1/subscriptions/{id}/dead-letters/replay", "ops"},
    {"POST", "/v1/invoices", "/v1/invoices", "invoices:write"},
    {"GET", "/v1/invoices/parcelco:INV-1", "/v1/invoices/{invoice_id}", "read"},
    {"GET", "/v1/disputes", "/v1/disputes", "read"},
    {"POST", "/v1/disputes/parcelco:INV-1:1/accept", "/v1/disputes/{dispute_id}/accept", "ops"},
    {"POST", "/v1/disputes/parcelco:INV-1:1/reject", "/v1/disputes/{dispute_id}/reject", "ops"},
    {"POST", "/v1/disputes/parcelco:INV-1:1/resolve", "/v1/disputes/{dispute_id}/resolve", "ops"},
    {"GET", "/v1/settlement/summary", "/v1/settlement/summary", "read"},
    {"GET", "/v1/cluster", "/v1/cluster", "read"},
};

TEST(Auth, TableNamesTheScopeOfEveryRouteGroup) {
  for (auto& c : kRoutes) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    std::string_view t = c.target;
    auto* a = find_route_access(c.method, split_path(t.substr(0, t.find('?'))));
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->route, c.route);
    if (c.scope) {
      EXPECT_FALSE(a->open);
      EXPECT_STREQ(name(a->scope), c.scope);
    } else {
      EXPECT_TRUE(a->open);
    }
  }
}

TEST(Auth, TableHasOneLinePerMethodAndTemplate) {
  auto table = route_access_table();
  for (size_t i = 0; i < table.size(); ++i)
    for (size_t j = i + 1; j < table.size(); ++j)
      EXPECT_FALSE(table[i].method == table[j].method && table[i].route == table[j].route)
          << table[i].method << " " << table[i].route;
}

TEST(Auth, EveryRouteGroupAnswers401WithoutKeyAnd403UnderScoped) {
  std::vector<ApiKey> keys;
  for (auto s : all_scopes()) keys.push_back({name(s), key_digest(std::string("key-") + name(s)), bits({s})});
  KeyRing ring(keys);
  for (auto& c : kRoutes) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    auto missing = check(ring, request(c.method, c.target));
    if (!c.scope) {
      EXPECT_FALSE(missing.denial);
      continue;
    }
    ASSERT_TRUE(missing.denial);
    EXPECT_EQ(missing.denial->status, 401);
    EXPECT_EQ(missing.denial->content_type, "application/problem+json");
    EXPECT_EQ(required_scope(*missing.denial), c.scope);
    auto wrong = check(ring, request(c.method, c.target, "not-a-key"));
    ASSERT_TRUE(wrong.denial);
    EXPECT_EQ(wrong.denial->status, 401);
    for (auto s : all_scopes()) {
      auto d = check(ring, request(c.method, c.target, std::string("key-") + name(s)));
      bool allowed = s == Scope::admin || std::string(name(s)) == c.scope;
      EXPECT_EQ(!d.denial, allowed) << "key with " << name(s);
      if (d.denial) {
        EXPECT_EQ(d.denial->status, 403);
        EXPECT_EQ(required_scope(*d.denial), c.scope);
      } else {
        ASSERT_NE(d.key, nullptr);
        EXPECT_EQ(d.key->partner, name(s));
      }
    }
  }
}

// A route without a line in the table (a new handler, an unknown path, a method the
// table does not list) needs admin.
TEST(Auth, UnlistedRoutesNeedAdmin) {
  KeyRing ring({{"ops", key_digest("k-ops"), bits({Scope::ops, Scope::read, Scope::orders_write})},
                {"root", key_digest("k-admin"), bits({Scope::admin})}});
  for (auto [method, target] : std::vector<std::pair<const char*, const char*>>{
           {"GET", "/v1/brand-new"}, {"DELETE", "/v1/orders/SO-1"}, {"PUT", "/v1/orders"},
           {"POST", "/v1/orders/SO-1/ship"}, {"GET", "/"}, {"POST", "/healthz"}}) {
    SCOPED_TRACE(std::string(method) + " " + target);
    auto d = check(ring, request(method, target, "k-ops"));
    ASSERT_TRUE(d.denial);
    EXPECT_EQ(d.denial->status, 403);
    EXPECT_EQ(required_scope(*d.denial), "admin");
    EXPECT_FALSE(check(ring, request(method, target, "k-admin")).denial);
    EXPECT_EQ(check(ring, request(method, target)).denial->status, 401);
  }
}

TEST(Auth, BearerAndXApiKeyAreAccepted) {
  KeyRing ring({{"erp", key_digest("k-erp"), bits({Scope::read})}});
  EXPECT_FALSE(check(ring, request("GET", "/v1/carriers", "k-erp")).denial);
  EXPECT_FALSE(check(ring, request("GET", "/v1/carriers", "k-erp", "x-api-key")).denial);
  auto lower = request("GET", "/v1/carriers");
  lower.headers.emplace_back("authorization", "bearer   k-erp ");
  EXPECT_FALSE(check(ring, lower).denial);
  // Another scheme is refused, not ignored in favour of X-Api-Key.
  auto basic = request("GET", "/v1/carriers", "k-erp", "x-api-key");
  basic.headers.emplace_back("authorization", "Basic dXNlcjpwYXNz");
  auto d = check(ring, basic);
  ASSERT_TRUE(d.denial);
  EXPECT_EQ(d.denial->status, 401);
}

TEST(Auth, ChallengesNameTheScheme) {
  KeyRing ring({{"erp", key_digest("k-erp"), bits({Scope::read})}});
  auto header = [](const HttpResponse& r) {
    for (auto& [k, v] : r.headers)
      if (k == "WWW-Authenticate") return v;
    return std::string("<none>");
  };
  auto missing = check(ring, request("POST", "/v1/orders"));
  EXPECT_EQ(header(*missing.denial), R"(Bearer realm="waybill")");
  auto unknown = check(ring, request("POST", "/v1/orders", "nope"));
  EXPECT_NE(header(*unknown.denial).find(R"(error="invalid_token")"), std::string::npos);
  auto scoped = check(ring, request("POST", "/v1/orders", "k-erp"));
  EXPECT_EQ(scoped.denial->status, 403);
  EXPECT_NE(header(*scoped.denial).find(R"(scope="orders:write")"), std::string::npos);
}

TEST(Auth, ConfigKeysAreValidated) {
  std::string digest = key_digest("k");
  auto ok = parse_config("auth:\n  keys:\n    - {partner: erp, key_sha256: " + digest +
                         ", scopes: [\"orders:write\", read]}\n");
  ASSERT_TRUE(ok.ok()) << ok.status().field() << ": " << ok.status().message();
  ASSERT_EQ(ok->api.auth.keys.size(), 1u);
  EXPECT_EQ(ok->api.auth.keys[0].partner, "erp");
  EXPECT_EQ(ok->api.auth.keys[0].scopes, bits({Scope::orders_write, Scope::read}));
  auto field_of = [](const Result<Config>& r) { return r.ok() ? std::string("<ok>") : r.status().field(); };
  EXPECT_EQ(field_of(parse_config("auth:\n  keys:\n    - {partner: erp, key_sha256: abc, scopes: [read]}\n")),
            "auth.keys[0].key_sha256");
  EXPECT_EQ(field_of(parse_config("auth:\n  keys:\n    - {partner: erp, key_sha256: " + digest +
                                  ", scopes: [write]}\n")),
            "auth.keys[0].scopes");
  EXPECT_EQ(field_of(parse_config("auth:\n  keys:\n    - {partner: erp, key_sha256: " + digest + ", scopes: []}\n")),
            "auth.keys[0].scopes");
  EXPECT_EQ(field_of(parse_config("auth:\n  keys:\n    - {key_sha256: " + digest + ", scopes: [read]}\n")),
            "auth.keys[0].partner");
  EXPECT_EQ(field_of(parse_config("auth:\n  keys:\n    - {partner: a, key: x, key_sha256: " + digest +
                                  ", scopes: [read]}\n")),
            "auth.keys[0].key");
  EXPECT_EQ(field_of(parse_config("auth:\n  keys: erp\n")), "auth.keys");
  EXPECT_EQ(field_of(parse_config("http:\n  tls:\n    cert_file: /x.pem\n")), "http.tls.key_file");
}

TEST(Auth, KeysFileAddsToConfiguredKeys) {
  TempDir dir("auth");
  auto path = dir.str() + "/keys.yaml";
  std::ofstream(path) << "keys:\n  - {partner: carrier, key_sha256: " << key_digest("k2")
                      << ", scopes: [\"carrier:webhook\"]}\n";
  AuthOptions o;
  o.keys.push_back({"erp", key_digest("k1"), bits({Scope::read})});
  o.keys_file = path;
  auto setup = setup_api_keys(o, dir.str() + "/data");
  ASSERT_TRUE(setup.ok()) << setup.status().message();
  EXPECT_EQ(setup->keys.size(), 2u);
  EXPECT_TRUE(setup->admin_key_file.empty());
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "data" / "admin.key")) << "configured keys generate nothing";

  o.keys.push_back({"again", key_digest("k2"), bits({Scope::read})});
  EXPECT_FALSE(setup_api_keys(o, dir.str()).ok()) << "the same key twice";
  std::ofstream(path, std::ios::trunc) << "keys:\n  - {partner: x, key_sha256: nothex, scopes: [read]}\n";
  o.keys.pop_back();
  auto bad = setup_api_keys(o, dir.str());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().field().find("keys[0].key_sha256"), std::string::npos) << bad.status().field();
  o.keys_file = dir.str() + "/missing.yaml";
  EXPECT_FALSE(setup_api_keys(o, dir.str()).ok());
}

TEST(Auth, WithoutKeysAnAdminKeyIsGeneratedOnceWithMode0600) {
  TempDir dir("auth");
  std::string data = dir.str() + "/data";
  auto first = setup_api_keys(AuthOptions{}, data);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE(first->generated);
  EXPECT_EQ(first->admin_key_file, data + "/admin.key");
  struct stat st {};
  ASSERT_EQ(::stat(first->admin_key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string key;
  std::ifstream(first->admin_key_file) >> key;
  ASSERT_EQ(first->keys.size(), 1u);
  EXPECT_EQ(first->keys[0].key_sha256, key_digest(key));
  EXPECT_TRUE(has_scope(first->keys[0].scopes, Scope::pii));

  auto second = setup_api_keys(AuthOptions{}, data);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->generated);
  EXPECT_EQ(second->keys[0].key_sha256, key_digest(key)) << "the key survives restarts";

  std::ofstream(first->admin_key_file, std::ios::trunc) << "\n";
  EXPECT_FALSE(setup_api_keys(AuthOptions{}, data).ok()) << "an emptied key file is an error, not a new key";
}

}  // namespace
}  // namespace waybill::runtime
