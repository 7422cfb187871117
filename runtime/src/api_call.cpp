// The edges of every API call: the correlation id it runs under, who the caller is,
// and how it is answered (masking, headers, metrics, the access log).
#include "api_call.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "waybill/actors/render.hpp"
#include "waybill/runtime/log.hpp"
#include "waybill/runtime/pii.hpp"

namespace waybill::runtime {

namespace {

constexpr size_t kMaxCorrelationIdBytes = 128;

// Ids from clients are echoed in headers and logs: only short runs of visible ASCII.
bool usable_id(std::string_view v) {
  if (v.empty() || v.size() > kMaxCorrelationIdBytes) return false;
  for (unsigned char c : v)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace

std::string correlation_id_of(const HttpRequest& req) {
  for (auto name : {"x-request-id", "x-correlation-id"})
    if (auto v = req.header(name); usable_id(v)) return std::string(v);
  return log::new_correlation_id();
}

void Api::Call::no_route(std::string_view detail) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("type");
  w.String("https://waybill.dev/problems/no_such_route");
  w.Key("title");
  w.String("No such route");
  w.Key("status");
  w.Int(404);
  w.Key("detail");
  w.String(detail.data(), static_cast<rapidjson::SizeType>(detail.size()));
  w.EndObject();
  finish(HttpResponse{404, "application/problem+json", std::string(sb.GetString(), sb.GetSize()), {}});
}

void Api::Call::finish(HttpResponse res) {
  for (auto& k : held) locks->release(k);
  held.clear();
  if (res.status == 503 || res.status == 429) res.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  if (mask_pii && res.content_type == "application/json" && may_hold_pii(res.body)) {
    if (auto masked = mask_pii_json(res.body)) {
      res.body = std::move(*masked);
    } else {
      // Never hand out what could not be masked.
      res = HttpResponse{500, "application/problem+json",
                         actors::render_problem(500, {Code::internal, "the answer could not be masked"}), {}};
    }
  }
  res.headers.emplace_back("X-Request-Id", correlation_id);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics->observe_http(req.method, route, res.status, seconds);
  if (access_log) {
    auto q = req.target.find('?');
    log::Logger("api", correlation_id)
        .info("request", {{"method", req.method},
                          {"route", route},
                          {"path", std::string_view(req.target).substr(0, q)},
                          {"status", res.status},
                          {"duration_ms", seconds * 1000},
                          {"partner", partner}});
  }
  respond(std::move(res));
}

}  // namespace waybill::runtime
