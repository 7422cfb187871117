// The HTTP request behind each CLI command (routes: README, "HTTP API"). Pure
// functions, so the mapping is testable without a server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "waybill/cli/http.hpp"

namespace waybill::cli::requests {

ApiRequest get_order(const std::string& order_id);
ApiRequest get_shipment(const std::string& shipment_id);
ApiRequest trace(const std::string& order_id);

struct ExceptionFilter {
  std::string carrier, region, reason;  // empty: any
  std::string after;                    // continue after this shipment id (the previous page's next_after)
  int limit = 0;                        // 0: the server's default (100)
};
ApiRequest list_exceptions(const ExceptionFilter& filter);
/// Retry the booking, optionally at another carrier/service: {"action":"retry",...}.
ApiRequest retry_exception(const std::string& shipment_id, const std::string& carrier, const std::string& service);
ApiRequest cancel_exception(const std::string& shipment_id);

struct DisputeFilter {
  std::string state, carrier, outcome;  // empty: the server's default (open, any, any)
  std::string after;                    // continue after this dispute id (the previous page's next_after)
  int limit = 0;                        // 0: the server's default (100)
};
ApiRequest list_disputes(const DisputeFilter& filter);

/// One of accept (pay as billed), reject (refuse) or resolve (pay `amount_minor`).
struct DisputeDecision {
  enum class Kind { accept, reject, resolve } kind = Kind::accept;
  int64_t amount_minor = 0;  // resolve only
  std::string note;          // empty: none
};
/// POST /v1/disputes/{id}/accept|reject|resolve with {"amount_minor":N,"note":...}.
ApiRequest decide_dispute(const std::string& dispute_id, const DisputeDecision& decision);

ApiRequest list_subscriptions();
ApiRequest replay_dead_letters(const std::string& subscription_id);
ApiRequest list_carriers();

}  // namespace waybill::cli::requests
