#include "openapi_contract.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

namespace waybill::itest {

namespace {

constexpr size_t kMaxErrors = 10;
constexpr int kMaxDepth = 32;  // the document nests far less; a bound all the same
const char* const kHttpMethods[] = {"get", "put", "post", "delete", "patch"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool has_type(const Json& value, const std::string& type) {
  auto e = value.element();
  if (type == "string") return e.is_string();
  if (type == "integer") return e.is_int64() || e.is_uint64();
  if (type == "number") return e.is_number();
  if (type == "boolean") return e.is_bool();
  if (type == "object") return e.is_object();
  if (type == "array") return e.is_array();
  if (type == "null") return e.is_null();
  return false;
}

bool listed(const Json& values, const Json& value) {
  for (auto& v : values.items())
    if (v.dump() == value.dump()) return true;
  return false;
}

}  // namespace

std::string pointer_token(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string OpenApiContract::document_text() {
  std::ifstream in(std::string(WAYBILL_SOURCE_DIR) + "/docs/openapi.json", std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

OpenApiContract OpenApiContract::load() { return OpenApiContract(Json::parse(document_text())); }

std::vector<std::pair<std::string, std::string>> OpenApiContract::operations() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (!doc_.is_object("/paths")) return out;
  // Held in a variable: a range-for over value() of a temporary would dangle.
  simdjson::dom::object paths = doc_.element()["paths"].get_object().value();
  for (auto [path, item] : paths)
    for (const char* method : kHttpMethods)
      if (!item[method].error()) {
        std::string upper(method);
        for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out.emplace_back(upper, std::string(path));
      }
  return out;
}

Json OpenApiContract::operation(std::string_view method, std::string_view path_template) const {
  return doc_.at("/paths/" + pointer_token(path_template) + "/" + lower(method));
}

Json OpenApiContract::resolve(const Json& node) const {
  auto ref = node.str("/$ref");
  return ref && ref->rfind("#/", 0) == 0 ? doc_.at(ref->substr(1)) : node;
}

::testing::AssertionResult OpenApiContract::conforms(std::string_view method, std::string_view path_template,
                                                     const HttpResult& r) const {
  auto op = operation(method, path_template);
  if (!op.ok()) return ::testing::AssertionFailure() << method << " " << path_template << " is not documented";
  if (!r.answered()) return ::testing::AssertionFailure() << "no answer: " << r.describe();
  auto documented = op.at("/responses/" + std::to_string(r.status));
  if (!documented.ok()) documented = op.at("/responses/default");
  if (!documented.ok())
    return ::testing::AssertionFailure() << "status " << r.status << " is not documented for " << method << " "
                                         << path_template << ": " << r.describe();
  auto response = resolve(documented);
  if (r.header("X-Request-Id").empty()) return ::testing::AssertionFailure() << "no X-Request-Id";
  if (r.body.empty()) return ::testing::AssertionSuccess();
  auto media = response.at("/content/" + pointer_token(r.media_type()));
  if (!media.ok())
    return ::testing::AssertionFailure() << "media type " << r.media_type() << " is not documented for " << r.status
                                         << " of " << method << " " << path_template << ": " << r.describe();
  if (r.media_type() != "application/json" && r.media_type() != "application/problem+json")
    return ::testing::AssertionSuccess();
  auto body = Json::parse(r.body);
  if (!body.ok()) return ::testing::AssertionFailure() << body.error() << ": " << r.body;
  std::vector<std::string> errors;
  check(media.at("/schema"), body, "body", &errors, 0);
  if (errors.empty()) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure();
  failure << method << " " << path_template << " answered " << r.status << " unlike its schema:";
  for (auto& e : errors) failure << "\n  " << e;
  return failure << "\n  answer: " << r.body.substr(0, 2000);
}

void OpenApiContract::check(const Json& schema_ref, const Json& value, const std::string& where,
                            std::vector<std::string>* errors, int depth) const {
  if (errors->size() >= kMaxErrors || depth > kMaxDepth) return;
  Json schema = resolve(schema_ref);
  if (!schema.ok()) return errors->push_back(where + ": unresolvable schema " + schema_ref.dump());
  if (schema.is_array("/oneOf")) {
    for (auto& alternative : schema.items("/oneOf")) {
      std::vector<std::string> e;
      check(alternative, value, where, &e, depth + 1);
      if (e.empty()) return;
    }
    return errors->push_back(where + ": matches no alternative of oneOf: " + value.dump().substr(0, 200));
  }
  if (schema.has("/const") && schema.at("/const").dump() != value.dump())
    errors->push_back(where + ": is " + value.dump() + ", not the constant " + schema.at("/const").dump());
  if (schema.is_array("/enum") && !listed(schema.at("/enum"), value))
    errors->push_back(where + ": " + value.dump() + " is not one of " + schema.at("/enum").dump());
  auto type = schema.str("/type");
  if (!type) return;
  if (!has_type(value, *type)) return errors->push_back(where + ": is not " + *type + ": " + value.dump().substr(0, 200));
  if (*type == "array") {
    size_t i = 0;
    for (auto& item : value.items()) check(schema.at("/items"), item, where + "[" + std::to_string(i++) + "]", errors, depth + 1);
    return;
  }
  if (*type != "object") return;
  for (auto& name : schema.items("/required"))
    if (!value.has("/" + pointer_token(name.str_or_empty(""))))
      errors->push_back(where + ": no required member '" + name.str_or_empty("") + "'");
  auto properties = schema.at("/properties");
  auto additional = schema.at("/additionalProperties");
  auto names = schema.at("/propertyNames");
  simdjson::dom::object members = value.element().get_object().value();
  for (auto [key_view, member] : members) {
    const std::string key(key_view);
    const std::string token = "/" + pointer_token(key);
    if (names.is_array("/enum") && !listed(names.at("/enum"), Json::parse(quote(key))))
      errors->push_back(where + ": member name '" + key + "' is not one of " + names.at("/enum").dump());
    if (properties.has(token)) check(properties.at(token), value.at(token), where + "." + key, errors, depth + 1);
    else if (additional.is_object()) check(additional, value.at(token), where + "." + key, errors, depth + 1);
    else if (additional.boolean() == false) errors->push_back(where + ": undocumented member '" + key + "'");
  }
}

}  // namespace waybill::itest
