// The operations console: static pages (runtime/console/) compiled into waybilld and
// served under /console/. The pages hold no data and no key; they call the JSON API
// with the key the operator enters, so serving them needs no key either.
#pragma once

#include <string_view>

#include "waybill/runtime/http_server.hpp"

namespace waybill::runtime {

/// True when `path` (without the query) is the console's: "/console" or below it.
bool is_console_path(std::string_view path);

/// The answer to `method` on a console `path`: "/console" redirects to "/console/",
/// "/console/" is index.html, "/console/<file>" one of the embedded files; anything
/// else is 404 (405 for methods other than GET). Every answer carries a Content-Security-Policy
/// allowing this origin only, and X-Content-Type-Options: nosniff.
HttpResponse console_response(std::string_view method, std::string_view path);

/// Media type for a console file name, by its extension.
std::string_view console_media_type(std::string_view name);

}  // namespace waybill::runtime
