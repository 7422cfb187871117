// Parsing and validation of request bodies into domain commands. Every failure names
// the offending field (e.g. "packages[1].weight_kg") and the reason; nothing here has
// side effects, so a rejected request persists nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "waybill/actors/order_logic.hpp"
#include <waybill/schemas/webhooks_generated.h>

#include "waybill/actors/booking_logic.hpp"
#include "waybill/actors/shipment_logic.hpp"

namespace waybill::runtime {

struct IntakeLimits {
  /// Deepest JSON nesting accepted. Default: 32.
  size_t max_depth = 32;
  /// Most order lines. Default: 1000.
  size_t max_lines = 1000;
  /// Most packages per order or shipment. Default: 100.
  size_t max_packages = 100;
  /// Most tracking numbers per shipment. Default: 100.
  size_t max_tracking_numbers = 100;
  /// Most entries in `references`. Default: 64.
  size_t max_references = 64;
  /// Longest string field in bytes. Default: 1024.
  size_t max_string_bytes = 1024;
};

/// Ids (order, shipment, carrier, tracking number): 1..128 bytes of printable
/// characters, no control characters.
Status validate_id(std::string_view value, const char* field);

Result<actors::CreateOrder> parse_create_order(std::string_view body, const IntakeLimits& limits);
/// PATCH body of an order: the fields present (and only those) change. carrier, service
/// and tracking_numbers parse only so the ownership check can name them.
Result<actors::UpdateOrder> parse_update_order(std::string_view body, const IntakeLimits& limits);
Result<actors::PackOrder> parse_pack_order(std::string_view body, const IntakeLimits& limits);
Result<actors::CancelOrder> parse_cancel_order(std::string_view body, const IntakeLimits& limits);
Result<actors::RegisterShipment> parse_register_shipment(std::string_view body, const IntakeLimits& limits);

/// {"action":"retry"|"cancel","carrier"?,"service"?,"ship_to"?{...}}
Result<actors::ResolveException> parse_resolve_exception(std::string_view body, const IntakeLimits& limits);

/// {"url","event_types"?:[...],"secrets"?:[...]} for a webhook subscription.
Result<fb::SubscriptionT> parse_subscription(std::string_view body, const IntakeLimits& limits);

struct MilestoneInput {
  std::string carrier;
  std::string tracking_number;
  actors::AddMilestone command;
};
/// One tracking milestone (a JSON object); `received_us` is stamped by the caller.
Result<MilestoneInput> parse_milestone(std::string_view body, const IntakeLimits& limits);

/// The non-blank lines of an NDJSON body (LF or CR LF separated; lines of only spaces
/// and tabs are skipped) with their 1-based line numbers, views into `body`.
struct NdjsonLines {
  std::vector<std::string_view> lines;
  std::vector<size_t> numbers;
};
/// Fails with payload_too_large past `max_lines` non-blank lines, and with
/// invalid_argument when there is none.
Result<NdjsonLines> split_ndjson(std::string_view body, size_t max_lines);

}  // namespace waybill::runtime
