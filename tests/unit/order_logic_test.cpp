#include <gtest/gtest.h>

#include "waybill/actors/order_logic.hpp"

namespace waybill::actors {
namespace {

fb::OrderT draft(const std::string& id) {
  fb::OrderT o;
  o.order_id = id;
  o.request_hash = 42;
  return o;
}

TEST(OrderLogic, CreateEmitsReceivedThenValidated) {
  std::optional<fb::OrderT> state;
  auto d = decide(state, OrderCommand{CreateOrder{draft("A")}}, 1000);
  ASSERT_TRUE(d.status.ok());
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[0].type, "order.received");
  EXPECT_EQ(d.events[1].type, "order.validated");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, OrderStatus::validated);
  EXPECT_EQ(state->version, 2u);
}

}  // namespace
}  // namespace waybill::actors
