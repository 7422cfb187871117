#include "waybill/cli/http.hpp"

#include <charconv>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace waybill::cli {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

/// Largest answer accepted: a long trace is a few MB; anything near this is a mistake.
constexpr uint64_t kMaxResponseBytes = 64u << 20;

Failure bad_url(std::string_view url, const std::string& why) {
  return {ExitCode::usage, "bad URL '" + std::string(url) + "': " + why};
}

}  // namespace

ExitCode exit_code_for_http_status(int status) {
  if (status >= 200 && status < 300) return ExitCode::ok;
  if (status == 404) return ExitCode::not_found;
  if (status == 401 || status == 403) return ExitCode::auth;
  if (status >= 400 && status < 500) return ExitCode::refused;
  // 5xx, and redirects or informational answers the API never sends (a proxy's doing).
  return ExitCode::unavailable;
}

Outcome<Endpoint> parse_base_url(std::string_view url) {
  Endpoint out;
  std::string_view rest;
  if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "https://") {
    rest = url.substr(8);
    out.tls = true;
    out.port = 443;
  } else {
    return bad_url(url, "must start with http:// or https://");
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) return bad_url(url, "must not carry a query or fragment");
  if (authority.find('@') != std::string_view::npos)
    return bad_url(url, "must not carry credentials (use WAYBILL_API_KEY or the config file)");

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad_url(url, "unclosed '[' in the host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad_url(url, "expected ':' after ']'");
    if (!after.empty()) port_text = after.substr(1);
  } else {
    auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return bad_url(url, "no host");
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return bad_url(url, "port must be 1..65535");
    out.port = static_cast<uint16_t>(port);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.path_prefix = std::string(path);
  return out;
}

std::string percent_encode(std::string_view s) {
  static const char* const hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace {

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One exchange on its own io_context: every step is asynchronous so that a single
// deadline bounds name resolution, connect, handshake, write and read alike.
class Exchange {
 public:
  Exchange(const Endpoint& endpoint, const TransportOptions& transport)
      : endpoint_(endpoint), deadline_(std::chrono::steady_clock::now() + transport.timeout) {}

  Outcome<ApiResponse> run(const ApiRequest& request, const Headers& headers, const TransportOptions& transport) {
    auto req = make_request(request, headers);
    if (!endpoint_.tls) {
      beast::tcp_stream stream(ioc_);
      if (auto connected = connect(stream); !connected) return connected.failure();
      return exchange(stream, stream, req);
    }
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    if (transport.ca_file.empty()) ctx.set_default_verify_paths(ec);
    else ctx.load_verify_file(transport.ca_file, ec);
    if (ec) return Failure{ExitCode::usage, "cannot load CA certificates '" + transport.ca_file + "': " + ec.message()};
    TlsStream stream(ioc_, ctx);
    stream.set_verify_mode(ssl::verify_peer);
    stream.set_verify_callback(ssl::host_name_verification(endpoint_.host));
    // SNI names a host; an address literal is not sent (RFC 6066).
    net::ip::make_address(endpoint_.host, ec);
    if (ec && !SSL_set_tlsext_host_name(stream.native_handle(), endpoint_.host.c_str()))
      return Failure{ExitCode::unavailable, "cannot set the TLS server name"};
    if (auto connected = connect(beast::get_lowest_layer(stream)); !connected) return connected.failure();
    ec = step(beast::get_lowest_layer(stream), [&](auto done) {
      stream.async_handshake(ssl::stream_base::client, [done](beast::error_code e) { done(e); });
    });
    if (ec) return failure("TLS handshake failed with", ec);
    return exchange(stream, beast::get_lowest_layer(stream), req);
  }

 private:
  http::request<http::string_body> make_request(const ApiRequest& request, const Headers& headers) const {
    http::request<http::string_body> req;
    req.method_string(request.method);
    req.target(endpoint_.path_prefix + request.target);
    req.version(11);
    bool v6 = endpoint_.host.find(':') != std::string::npos;
    req.set(http::field::host, (v6 ? "[" + endpoint_.host + "]" : endpoint_.host) + ":" + std::to_string(endpoint_.port));
    req.set(http::field::user_agent, "waybill-cli");
    req.set(http::field::accept, "application/json");
    req.keep_alive(false);
    for (auto& [name, value] : headers) req.set(name, value);
    if (!request.body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = request.body;
    }
    req.prepare_payload();
    return req;
  }

  Outcome<bool> connect(beast::tcp_stream& socket) {
    tcp::resolver::results_type addresses;
    auto ec = step(socket, [&](auto done) {
      resolver_.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                              [&addresses, done](beast::error_code e, tcp::resolver::results_type r) {
                                addresses = std::move(r);
                                done(e);
                              });
    });
    if (ec) return failure("cannot resolve", ec);
    ec = step(socket, [&](auto done) {
      socket.async_connect(addresses, [done](beast::error_code e, const tcp::endpoint&) { done(e); });
    });
    if (ec) return failure("cannot connect to", ec);
    return true;
  }

  template <class Stream>
  Outcome<ApiResponse> exchange(Stream& stream, beast::tcp_stream& socket, http::request<http::string_body>& req) {
    auto ec = step(socket, [&](auto done) {
      http::async_write(stream, req, [done](beast::error_code e, size_t) { done(e); });
    });
    if (ec) return failure("cannot send to", ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    ec = step(socket, [&](auto done) {
      http::async_read(stream, buffer_, parser, [done](beast::error_code e, size_t) { done(e); });
    });
    if (ec) return failure("no answer from", ec);
    auto res = parser.release();
    ApiResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    // The answer is complete; Connection: close needs no TLS close_notify round trip.
    socket.socket().shutdown(tcp::socket::shutdown_both, ec);
    return out;
  }

  // Runs one asynchronous operation until it completes or the deadline passes; on the
  // deadline the operation is cancelled and reported as timed out.
  template <class Start>
  beast::error_code step(beast::tcp_stream& socket, Start start) {
    beast::error_code result = net::error::would_block;
    bool finished = false;
    start([&](beast::error_code e) {
      result = e;
      finished = true;
    });
    ioc_.restart();
    auto left = deadline_ - std::chrono::steady_clock::now();
    if (left > decltype(left)::zero()) ioc_.run_for(left);
    if (!finished) {
      resolver_.cancel();
      socket.cancel();
      ioc_.restart();
      ioc_.run();  // lets the cancelled handler run; it no longer changes the verdict
      return beast::error::timeout;
    }
    return result;
  }

  Failure failure(const char* what, const beast::error_code& ec) const {
    std::string where = std::string(endpoint_.tls ? "https://" : "http://") + endpoint_.host + ":" +
                        std::to_string(endpoint_.port);
    std::string why = ec == beast::error::timeout ? "timed out" : ec.message();
    return {ExitCode::unavailable, std::string(what) + " " + where + ": " + why};
  }

  const Endpoint& endpoint_;
  std::chrono::steady_clock::time_point deadline_;
  net::io_context ioc_;
  tcp::resolver resolver_{ioc_};
  beast::flat_buffer buffer_;
};

}  // namespace

Outcome<ApiResponse> send_request(const Endpoint& endpoint, const ApiRequest& request, const Headers& headers,
                                  const TransportOptions& transport) {
  return Exchange(endpoint, transport).run(request, headers, transport);
}

}  // namespace waybill::cli
