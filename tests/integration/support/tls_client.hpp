// One HTTPS request on a fresh TLS connection, verified against a CA file (the test's
// self-signed certificate), for tests of waybilld's TLS listener.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "http_client.hpp"

namespace waybill::itest {

/// `ca_file` must sign the server's certificate and the certificate must name `host`
/// (IP SAN 127.0.0.1 in the tests). Transport and TLS failures come back in `error`.
HttpResult tls_request(const std::string& host, uint16_t port, const std::string& ca_file, std::string_view method,
                       std::string_view target, const HttpHeaders& headers = {}, std::string_view body = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace waybill::itest
