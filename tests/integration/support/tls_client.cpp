#include "tls_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace waybill::itest {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

HttpResult tls_request(const std::string& host, uint16_t port, const std::string& ca_file, std::string_view method,
                       std::string_view target, const HttpHeaders& headers, std::string_view body,
                       std::chrono::milliseconds timeout) {
  HttpResult out;
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  beast::error_code ec;
  ctx.load_verify_file(ca_file, ec);
  if (ec) {
    out.error = "CA file: " + ec.message();
    return out;
  }
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  // Check that the certificate names the address we connect to.
  stream.set_verify_callback(ssl::host_name_verification(host));
  auto fail = [&](const char* phase, const beast::error_code& e) {
    out.status = 0;
    out.error = std::string(phase) + ": " + e.message();
    return out;
  };
  // Beast's timeouts apply to asynchronous operations: run each to completion.
  auto run = [&](auto start) {
    beast::error_code result = net::error::would_block;
    start([&result](beast::error_code e, auto&&...) { result = e; });
    ioc.restart();
    ioc.run();
    return result;
  };
  auto address = net::ip::make_address(host, ec);
  if (ec) return fail("address", ec);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(timeout);
  if (auto e = run([&](auto h) { tcp_layer.async_connect(tcp::endpoint(address, port), std::move(h)); }))
    return fail("connect", e);
  if (auto e = run([&](auto h) { stream.async_handshake(ssl::stream_base::client, std::move(h)); }))
    return fail("handshake", e);
  http::request<http::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(http::field::host, host);
  for (auto& [k, v] : headers) req.set(k, v);
  req.body() = std::string(body);
  req.prepare_payload();
  if (auto e = run([&](auto h) { http::async_write(stream, req, std::move(h)); })) return fail("write", e);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (auto e = run([&](auto h) { http::async_read(stream, buffer, res, std::move(h)); })) return fail("read", e);
  out.status = static_cast<int>(res.result_int());
  for (auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(res.body());
  tcp_layer.expires_after(std::chrono::seconds(1));
  run([&](auto h) { stream.async_shutdown(std::move(h)); });
  return out;
}

}  // namespace waybill::itest
