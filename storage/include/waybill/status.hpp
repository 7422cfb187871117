// Errors as values across module boundaries. A Status carries a code that maps onto an
// HTTP status, the offending field (JSON pointer-ish path, empty when not about a field)
// and a human reason. No exceptions cross module or actor boundaries.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace waybill {

enum class Code {
  ok = 0,
  invalid_argument,     // bad input: 400/422, nothing persisted
  not_found,            // 404
  conflict,             // illegal transition or different body for the same key: 409
  idempotency_mismatch, // same Idempotency-Key, different request: 422
  in_flight,            // same Idempotency-Key is being processed now: 409
  payload_too_large,    // 413
  unavailable,          // a failed/stopped component or a full queue: 503 + Retry-After
  overloaded,           // a backlog bound is reached: 429 + Retry-After
  forbidden,            // the caller may not do this (system-of-record ownership): 403
  internal,             // a bug or an I/O failure: 500
};

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& field() const { return field_; }

 private:
  Code code_ = Code::ok;
  std::string message_;
  std::string field_;
};

/// A value or the Status that explains why there is none.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  T& value() { assert(ok()); return std::get<T>(v_); }
  const T& value() const { assert(ok()); return std::get<T>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Status& status() const { assert(!ok()); return std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

const char* to_string(Code code);

}  // namespace waybill
