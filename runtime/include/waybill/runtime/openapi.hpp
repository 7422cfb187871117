// The HTTP API's contract: the OpenAPI 3.1 document docs/openapi.json, compiled into
// the binary (cmake/embed_files.cmake) and served at GET /openapi.json without a key, so
// that a client can be generated from the very server it will talk to.
#pragma once

#include <string_view>

namespace waybill::runtime {

/// The bytes of docs/openapi.json as they were when the binary was built.
std::string_view openapi_json();

}  // namespace waybill::runtime
