// Human-readable views of the API's JSON answers: aligned tables and key/value blocks.
// A JSON answer that lacks what a view needs is shown as empty cells, never guessed at;
// text that is not JSON at all is a Failure (ExitCode::unavailable).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "waybill/cli/outcome.hpp"

namespace waybill::cli {

/// Columns padded to their widest cell, two spaces apart; a header row first.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string format() const;
};

Outcome<std::string> render_order(std::string_view json);
Outcome<std::string> render_shipment(std::string_view json);
Outcome<std::string> render_trace(std::string_view json);
Outcome<std::string> render_exceptions(std::string_view json);
Outcome<std::string> render_disputes(std::string_view json);
Outcome<std::string> render_subscriptions(std::string_view json);
Outcome<std::string> render_carriers(std::string_view json);
/// Breaker state, backlog and failure share per carrier, with a verdict column.
Outcome<std::string> render_carrier_health(std::string_view json);
/// A mutation's answer: the entity's status, or the count of replayed dead letters.
Outcome<std::string> render_action_result(std::string_view json);
/// A dispute decision's answer (the whole invoice): the decided line only.
Outcome<std::string> render_dispute_decision(std::string_view json, const std::string& dispute_id);

/// "404 Not Found: order 'X' not found (field order_id)" from a problem+json body, or
/// the status and the start of the body when it is not a problem document.
std::string describe_error(int status, std::string_view body);

}  // namespace waybill::cli
