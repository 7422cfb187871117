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
  /// From X-Request-Id / X-Correlation-Id, or generated; answered as X-Request-Id and
  /// carried into the actors (and on to the carriers).
  std::string correlation_id;
  /// The caller's partner name (empty on open routes).
  std::string partner;
  /// Consignee data in the answer is masked (the key lacks the `pii` scope).
  bool mask_pii = true;
  bool access_log = true;

  /// Answers, once: masks consignee data when needed, adds the correlation id, counts
  /// the request and logs it.
  void finish(HttpResponse res);
  void finish(const actors::Reply& r) {
    finish(HttpResponse{r.status, r.problem ? "application/problem+json" : "application/json", r.body, {}});
  }
  void fail(const Status& st) { finish(actors::problem_reply(st)); }
  /// Answers 404 for a path the router does not know, with a problem type of its own
  /// (https://waybill.dev/problems/no_such_route), so that a wrong URL is told apart
  /// from an entity that does not exist on a route that does.
  void no_route(std::string_view detail);
};

}  // namespace waybill::runtime
