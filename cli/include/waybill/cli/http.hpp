// One synchronous HTTP/1.1 exchange with waybilld (Boost.Beast), bounded by a deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "waybill/cli/outcome.hpp"

namespace waybill::cli {

/// The server part of a base URL: http[s]://HOST[:PORT][/PREFIX].
struct Endpoint {
  bool tls = false;         // https: TLS with the server's certificate verified
  std::string host;         // name, IPv4 or IPv6 address (without brackets)
  uint16_t port = 80;       // default 80, or 443 with https
  std::string path_prefix;  // "" or "/prefix" (a reverse proxy's mount point), no trailing '/'
};

/// Parses a base URL. Failure: usage.
Outcome<Endpoint> parse_base_url(std::string_view url);

struct TransportOptions {
  /// Bound on the whole exchange (resolve, connect, TLS handshake, send, receive).
  std::chrono::milliseconds timeout{10000};
  /// https: PEM file of the certificate authorities to trust; empty: the system's.
  std::string ca_file;
};

struct ApiRequest {
  std::string method = "GET";
  std::string target;  // path and query, percent-encoded, without the prefix
  std::string body;    // JSON; empty sends no body
};

struct ApiResponse {
  int status = 0;
  std::string content_type;  // as received, parameters included
  std::string body;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

/// Sends `request` (prefixed with the endpoint's path) with `headers`. Any HTTP answer
/// is a value, whatever its status; a transport failure (refused, unreachable, timeout,
/// a certificate that does not verify, an answer that is not HTTP) is a Failure with
/// ExitCode::unavailable.
Outcome<ApiResponse> send_request(const Endpoint& endpoint, const ApiRequest& request, const Headers& headers,
                                  const TransportOptions& transport);

/// Encodes everything but unreserved characters (A-Z a-z 0-9 - . _ ~), for ids in
/// paths and values in queries.
std::string percent_encode(std::string_view s);

}  // namespace waybill::cli
