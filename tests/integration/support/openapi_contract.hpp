// The OpenAPI document of the source tree (docs/openapi.json) as a checker of real
// answers: is this status documented for the operation, with this media type, and does
// the JSON body have the shape the operation's schema describes?
//
// The shape check is the part of JSON Schema the document uses to describe answers:
// `$ref` (to #/components/...), `type`, `required`, `properties`,
// `additionalProperties` (false or a schema), `propertyNames` with `enum`, `items`,
// `enum`, `const` and `oneOf`. Formats, lengths and ranges are not checked. That the
// document itself is valid OpenAPI is the npm validator's job (CTest: openapi_valid).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "json.hpp"

namespace waybill::itest {

class OpenApiContract {
 public:
  /// Reads and parses <source dir>/docs/openapi.json; check ok().
  static OpenApiContract load();
  /// The committed document's text.
  static std::string document_text();

  bool ok() const { return doc_.ok(); }
  const std::string& error() const { return doc_.error(); }
  const Json& doc() const { return doc_; }

  /// Every documented operation as (upper-case method, path template), in document order.
  std::vector<std::pair<std::string, std::string>> operations() const;
  /// The operation object; an invalid Json when the document has none.
  Json operation(std::string_view method, std::string_view path_template) const;

  /// Checks a received answer of `method path_template`: its status is listed in the
  /// operation's responses, it carries X-Request-Id, a body's media type is documented
  /// for that status, and a JSON body matches the documented schema.
  ::testing::AssertionResult conforms(std::string_view method, std::string_view path_template,
                                      const HttpResult& answer) const;

 private:
  explicit OpenApiContract(Json doc) : doc_(std::move(doc)) {}
  Json resolve(const Json& node) const;
  void check(const Json& schema, const Json& value, const std::string& where, std::vector<std::string>* errors,
             int depth) const;

  Json doc_;
};

/// `text` escaped as one JSON Pointer reference token (RFC 6901: ~ as ~0, / as ~1).
std::string pointer_token(std::string_view text);

}  // namespace waybill::itest
