// The durable outbox read back through GET /v1/events: the oracle for what webhook
// subscribers must receive.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "http_client.hpp"

namespace waybill::itest {

/// One CloudEvent of GET /v1/events.
struct FeedEvent {
  uint64_t position = 0, entityseq = 0;
  std::string id, type, subject, orderid, status;
  bool operator==(const FeedEvent&) const = default;
};

/// Every event in the outbox (of one ERP order when `order_id` is set), in position
/// order, read in pages of 1000. A failed page adds a test failure and ends the read.
std::vector<FeedEvent> read_feed(HttpClient& c, const std::string& order_id = {});

}  // namespace waybill::itest
