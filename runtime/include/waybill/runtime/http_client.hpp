// Asynchronous HTTP/1.1 client (Boost.Beast) with a bounded keep-alive connection pool
// per endpoint and per-request deadlines. It reports whether a failed request may have
// reached the server: a booking that may have been processed must be resolved by
// lookup, never sent again.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "waybill/status.hpp"

namespace waybill::runtime {

struct ClientRequest {
  std::string method = "GET";
  std::string host = "127.0.0.1";
  uint16_t port = 80;
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  /// Deadline for the whole exchange (connect, write, read), in ms. Default: 5000.
  int timeout_ms = 5000;
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

/// Why a request failed without an HTTP answer.
enum class TransportFailure {
  none,
  not_sent,      // refused, pool full, or connect failed: the server never saw it
  maybe_sent,    // timeout or reset after the request was (partly) written
};

struct ClientResult {
  Status status;  // ok when an HTTP answer (any status code) arrived
  TransportFailure failure = TransportFailure::none;
  ClientResponse response;
};

struct HttpClientOptions {
  /// I/O threads of the client. Default: 1.
  int threads = 1;
  /// Most connections per endpoint (host:port), busy or idle. Default: 64.
  size_t max_connections_per_endpoint = 64;
  /// Requests waiting for a connection per endpoint; beyond it they fail `not_sent`.
  /// Default: 4096.
  size_t max_waiting_per_endpoint = 4096;
  /// Largest response body accepted, in bytes. Default: 8 MiB.
  uint64_t max_response_bytes = 8u << 20;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Sends `request`; `done` runs exactly once on a client thread - unless stop()
  /// comes first: then `done` is destroyed without running.
  void send(ClientRequest request, std::function<void(ClientResult)> done);
  /// Blocking convenience for tools and tests (not for actor threads).
  ClientResult send_sync(ClientRequest request);
  /// Joins the client threads and drops every request not yet answered.
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace waybill::runtime
