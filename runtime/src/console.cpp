// Serving the operations console's embedded files. The names are matched exactly
// against the embedded table, so no request path reaches the file system.
#include "waybill/runtime/console.hpp"

#include "embedded_file.hpp"
#include "waybill/actors/render.hpp"

namespace waybill::runtime {

namespace {

constexpr std::string_view kPrefix = "/console";

// The pages load only their own scripts and styles and talk only to this server: an
// injected script or a foreign stylesheet would have nowhere to come from or report to.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void add_security_headers(HttpResponse& res) {
  res.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
  // The files change only with the binary: revalidating each time costs a few KiB and
  // never shows pages of an older build next to the API of a newer one.
  res.headers.emplace_back("Cache-Control", "no-cache");
}

HttpResponse problem(int status, std::string detail) {
  Code code = status == 405 ? Code::invalid_argument : Code::not_found;
  return HttpResponse{status, "application/problem+json", actors::render_problem(status, {code, std::move(detail)}), {}};
}

}  // namespace

bool is_console_path(std::string_view path) {
  return path == kPrefix || path.starts_with("/console/");
}

std::string_view console_media_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  if (name.ends_with(".png")) return "image/png";
  return "application/octet-stream";
}

HttpResponse console_response(std::string_view method, std::string_view path) {
  HttpResponse res;
  if (method != "GET") {
    res = problem(405, "method " + std::string(method) + " not allowed here");
    res.headers.emplace_back("Allow", "GET");
  } else if (path == kPrefix) {
    // Relative, so that the pages' relative links also work behind a path prefix.
    res = HttpResponse{301, "text/plain; charset=utf-8", "see console/\n", {{"Location", "console/"}}};
  } else {
    std::string_view name = path.substr(kPrefix.size() + 1);
    if (name.empty()) name = "index.html";
    res = problem(404, "no such console file");
    for (auto& f : console_files())
      if (f.name == name) res = HttpResponse{200, std::string(console_media_type(name)), std::string(f.bytes), {}};
  }
  add_security_headers(res);
  return res;
}

}  // namespace waybill::runtime
