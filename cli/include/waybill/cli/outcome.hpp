// Errors as values for the admin CLI: every failure carries the process exit code it
// ends in, so scripts can tell "not found" from "refused" from "server down" without
// parsing messages.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace waybill::cli {

/// The documented exit codes of `waybill` (README, "Admin CLI").
enum class ExitCode : int {
  ok = 0,
  /// Bad command line, bad --url, unreadable or malformed config file.
  usage = 1,
  /// The server answered 404: no such order, shipment, dispute, subscription or route.
  not_found = 2,
  /// The server refused the request: any other 4xx (400, 409, 422, 429, ...).
  refused = 3,
  /// 401 or 403: no key, a wrong key, or a key without the needed scope.
  auth = 4,
  /// 5xx, connection refused, timeout, or an answer that is not what the API sends
  /// (not JSON, a redirect).
  unavailable = 5,
};

/// The exit code for an HTTP status the server answered with.
ExitCode exit_code_for_http_status(int status);

struct Failure {
  ExitCode code = ExitCode::usage;
  std::string message;  // one line for stderr, without the program name
};

/// A value or the Failure that explains why there is none.
template <class T>
class Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}
  Outcome(Failure failure) : v_(std::move(failure)) { assert(std::get<Failure>(v_).code != ExitCode::ok); }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& operator*() { assert(ok()); return std::get<T>(v_); }
  const T& operator*() const { assert(ok()); return std::get<T>(v_); }
  T* operator->() { return &**this; }
  const T* operator->() const { return &**this; }
  const Failure& failure() const { assert(!ok()); return std::get<Failure>(v_); }

 private:
  std::variant<T, Failure> v_;
};

}  // namespace waybill::cli
