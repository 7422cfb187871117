// The OpenAPI document (docs/openapi.json) against the server's own route table
// (route_access.cpp): every route the table lists is described, every described
// operation is in the table, each with the scope the table names; the copy built into
// the binary is the committed file. That it is valid OpenAPI 3.1 is checked by the npm
// validator (CTest: openapi_valid); that the server dispatches every described
// operation, against the real binary (tests/integration/openapi_test.cpp).
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "waybill/runtime/auth.hpp"
#include "waybill/runtime/openapi.hpp"
#include "waybill/version.hpp"

namespace waybill::runtime {
namespace {

const char* const kHttpMethods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

::testing::AssertionResult parse(const std::string& text, rapidjson::Document* doc) {
  doc->Parse(text.data(), text.size());
  if (doc->HasParseError())
    return ::testing::AssertionFailure() << "not JSON at offset " << doc->GetErrorOffset() << ": "
                                         << rapidjson::GetParseError_En(doc->GetParseError());
  if (!doc->IsObject() || !doc->HasMember("paths") || !(*doc)["paths"].IsObject())
    return ::testing::AssertionFailure() << "no `paths` object";
  return ::testing::AssertionSuccess();
}

// "/v1/orders/{order_id}/release" -> "/v1/orders/{}/release": the table and the document
// may name a placeholder differently; the shape is what routes.
std::string normalise(std::string_view route) {
  std::string out;
  for (size_t i = 0; i < route.size(); ++i) {
    if (route[i] == '{') {
      auto close = route.find('}', i);
      if (close != std::string_view::npos) {
        out += "{}";
        i = close;
        continue;
      }
    }
    out += route[i];
  }
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// An operation of the document: "GET /v1/orders/{}" -> its JSON object.
using Operations = std::map<std::string, const rapidjson::Value*>;

Operations operations_of(const rapidjson::Document& doc) {
  Operations ops;
  for (auto& path : doc["paths"].GetObject())
    for (const char* method : kHttpMethods)
      if (path.value.HasMember(method))
        ops[upper(method) + " " + normalise(path.name.GetString())] = &path.value[method];
  return ops;
}

// Routes the members of a cluster call on each other: not the public API, and unknown
// to any request that does not come from a member (ClusterSettlement tests them).
bool is_internal(const RouteAccess& r) { return r.route.starts_with("/_cluster/"); }

std::string table_key(const RouteAccess& r) { return std::string(r.method) + " " + normalise(r.route); }

class OpenApi : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::string(WAYBILL_SOURCE_DIR) + "/docs/openapi.json";
    ASSERT_TRUE(parse(read_file(path_), &doc_)) << path_;
  }
  std::string path_;
  rapidjson::Document doc_;
};

TEST_F(OpenApi, IsVersion31OfThisRelease) {
  ASSERT_TRUE(doc_.HasMember("openapi") && doc_["openapi"].IsString());
  EXPECT_EQ(std::string(doc_["openapi"].GetString()).rfind("3.1.", 0), 0u) << doc_["openapi"].GetString();
  ASSERT_TRUE(doc_.HasMember("info") && doc_["info"].HasMember("version"));
  EXPECT_EQ(std::string_view(doc_["info"]["version"].GetString()), build::version)
      << "info.version names the release whose API the document describes";
}

TEST_F(OpenApi, EveryRouteOfTheTableIsDescribedAndNothingElse) {
  auto ops = operations_of(doc_);
  std::set<std::string> table;
  for (auto& r : route_access_table()) {
    if (is_internal(r)) continue;
    EXPECT_TRUE(table.insert(table_key(r)).second) << "twice in the table: " << table_key(r);
    EXPECT_TRUE(ops.count(table_key(r))) << "the server routes " << r.method << " " << r.route
                                         << " but docs/openapi.json does not describe it";
  }
  for (auto& [key, op] : ops)
    EXPECT_TRUE(table.count(key)) << "docs/openapi.json describes " << key
                                  << " but route_access.cpp has no line for it (the server would answer "
                                     "it only for admin keys, if at all)";
  EXPECT_EQ(ops.size(), table.size());
}

// Open routes say so (`security: []`); every other one names exactly the table's scope
// under both ways of presenting a key.
TEST_F(OpenApi, EachOperationNeedsTheScopeTheTableNames) {
  auto ops = operations_of(doc_);
  ASSERT_TRUE(doc_.HasMember("components") && doc_["components"].HasMember("securitySchemes"));
  auto& schemes = doc_["components"]["securitySchemes"];
  for (auto& r : route_access_table()) {
    auto it = ops.find(table_key(r));
    if (it == ops.end()) continue;  // reported by the test above
    SCOPED_TRACE(table_key(r));
    auto& op = *it->second;
    ASSERT_TRUE(op.HasMember("security") && op["security"].IsArray()) << "no security requirement of its own";
    auto& security = op["security"];
    if (r.open) {
      EXPECT_EQ(security.Size(), 0u) << "an open route needs no key";
      continue;
    }
    ASSERT_EQ(security.Size(), 2u) << "Bearer or X-Api-Key";
    std::set<std::string> names;
    for (auto& requirement : security.GetArray()) {
      ASSERT_TRUE(requirement.IsObject());
      ASSERT_EQ(requirement.MemberCount(), 1u);
      auto& m = *requirement.MemberBegin();
      names.insert(m.name.GetString());
      EXPECT_TRUE(schemes.HasMember(m.name)) << "unknown scheme " << m.name.GetString();
      ASSERT_TRUE(m.value.IsArray() && m.value.Size() == 1u) << "one scope per requirement";
      EXPECT_STREQ(m.value[0].GetString(), name(r.scope));
    }
    EXPECT_EQ(names.size(), 2u);
  }
}

// Each {placeholder} of a path is a declared path parameter of its operations and back,
// and operation ids are unique: what client generators rely on.
TEST_F(OpenApi, PathParametersAndOperationIdsAreWellFormed) {
  auto& parameters = doc_["components"]["parameters"];
  std::set<std::string> ids;
  for (auto& path : doc_["paths"].GetObject()) {
    std::set<std::string> placeholders;
    std::string_view p = path.name.GetString();
    for (size_t open = p.find('{'); open != std::string_view::npos; open = p.find('{', open + 1))
      placeholders.insert(std::string(p.substr(open + 1, p.find('}', open) - open - 1)));
    for (const char* method : kHttpMethods) {
      if (!path.value.HasMember(method)) continue;
      auto& op = path.value[method];
      SCOPED_TRACE(upper(method) + " " + std::string(p));
      ASSERT_TRUE(op.HasMember("operationId"));
      EXPECT_TRUE(ids.insert(op["operationId"].GetString()).second) << "duplicate operationId";
      EXPECT_TRUE(op.HasMember("responses")) << "no responses";
      std::set<std::string> declared;
      if (op.HasMember("parameters"))
        for (auto& param : op["parameters"].GetArray()) {
          const rapidjson::Value* resolved = &param;
          if (param.HasMember("$ref")) {
            std::string ref = param["$ref"].GetString();
            const std::string prefix = "#/components/parameters/";
            ASSERT_EQ(ref.rfind(prefix, 0), 0u) << ref;
            auto name = ref.substr(prefix.size());
            ASSERT_TRUE(parameters.HasMember(name.c_str())) << ref;
            resolved = &parameters[name.c_str()];
          }
          if (std::string_view((*resolved)["in"].GetString()) == "path") declared.insert((*resolved)["name"].GetString());
        }
      EXPECT_EQ(declared, placeholders);
    }
  }
}

TEST_F(OpenApi, TheBinaryServesTheCommittedDocument) {
  rapidjson::Document embedded;
  ASSERT_TRUE(parse(std::string(openapi_json()), &embedded));
  EXPECT_TRUE(embedded == doc_) << "the build embedded another docs/openapi.json than " << path_;
}

}  // namespace
}  // namespace waybill::runtime
