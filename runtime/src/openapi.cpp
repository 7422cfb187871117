#include "waybill/runtime/openapi.hpp"

#include "embedded_file.hpp"

namespace waybill::runtime {

std::string_view openapi_json() { return openapi_files().front().bytes; }

}  // namespace waybill::runtime
