// Percent-encoding for path segments and query values (RFC 3986).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace waybill::runtime {

/// Decodes %XX escapes; nullopt on a malformed escape or when the result is not valid
/// UTF-8 (ids and query values end up in JSON answers, which must stay valid). '+' is
/// kept as is.
std::optional<std::string> percent_decode(std::string_view s);
/// Encodes everything but unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string percent_encode(std::string_view s);
/// Non-empty segments of a path ("/v1/orders/A" -> v1, orders, A), at most 8.
std::vector<std::string_view> split_path(std::string_view path);
/// Value of `name` in the query part of `target` ("/path?a=1&b=2"), decoded.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

}  // namespace waybill::runtime
