// Internal: one API request in progress, shared by the route implementations.
#pragma once

#include <chrono>

#include "waybill/actors/entity.hpp"
#include "waybill/runtime/api.hpp"

namespace waybill::runtime {

struct Api::Call {
  HttpRequest req;
  std::string route;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  Responder respond;
  Metrics* metrics = nullptr;
  KeyLocks* locks = nullptr;
  int retry_after_s = 1;
  std::optional<actors::IdempotencyClaim> claim;
  std::vector<std::string> held;  // KeyLocks keys to release when answered

  void finish(HttpResponse res) {
    for (auto& k : held) locks->release(k);
    held.clear();
    if (res.status == 503 || res.status == 429) res.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
    metrics->observe_http(req.method, route, res.status,
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    respond(std::move(res));
  }
  void finish(const actors::Reply& r) {
    finish(HttpResponse{r.status, r.problem ? "application/problem+json" : "application/json", r.body, {}});
  }
  void fail(const Status& st) { finish(actors::problem_reply(st)); }
};

}  // namespace waybill::runtime
