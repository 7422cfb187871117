// Canonical model helpers: RFC 3339 time, enum names, hashing and FlatBuffers coding.
#include <gtest/gtest.h>

#include <random>

#include "waybill/actors/model.hpp"

namespace waybill {
namespace {

constexpr int64_t kSec = 1'000'000;

TEST(Rfc3339, ParsesUtc) {
  EXPECT_EQ(parse_rfc3339_us("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T10:15:30Z"), 1795860930 * kSec);
  EXPECT_EQ(parse_rfc3339_us("1999-12-31T23:59:59Z"), 946684799 * kSec);
  EXPECT_EQ(parse_rfc3339_us("9999-12-31T23:59:59Z"), 253402300799 * kSec);
  EXPECT_EQ(parse_rfc3339_us("1900-01-01T00:00:00Z"), -2208988800 * kSec);
}

TEST(Rfc3339, AcceptsLowercaseAndSpaceSeparators) {
  const int64_t expected = 1795860930 * kSec;
  EXPECT_EQ(parse_rfc3339_us("2026-11-28t10:15:30z"), expected);
  EXPECT_EQ(parse_rfc3339_us("2026-11-28 10:15:30Z"), expected);
}

TEST(Rfc3339, Offsets) {
  const int64_t expected = 1795860930 * kSec;
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T11:15:30+01:00"), expected);
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T04:45:30-05:30"), expected);
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T10:15:30+00:00"), expected);
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T10:15:30-00:00"), expected);
  // Offsets that cross a day boundary.
  EXPECT_EQ(parse_rfc3339_us("2026-11-29T00:15:30+14:00"), expected);
  EXPECT_EQ(parse_rfc3339_us("2026-11-27T23:15:30-11:00"), expected);
}

TEST(Rfc3339, FractionalSeconds) {
  const int64_t base = 1795860930 * kSec;
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T10:15:30.5Z"), base + 500000);
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T10:15:30.123Z"), base + 123000);
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T10:15:30.000001Z"), base + 1);
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T10:15:30.123456Z"), base + 123456);
  // Beyond microseconds the digits are truncated, not rounded.
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T10:15:30.1234569Z"), base + 123456);
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T10:15:30.999999999Z"), base + 999999);
  EXPECT_EQ(parse_rfc3339_us("2026-11-28T11:15:30.25+01:00"), base + 250000);
}

TEST(Rfc3339, LeapDays) {
  EXPECT_EQ(parse_rfc3339_us("2024-02-29T00:00:00Z"), 1709164800 * kSec);
  EXPECT_EQ(parse_rfc3339_us("2000-02-29T12:00:00Z"), 951825600 * kSec);
  EXPECT_EQ(parse_rfc3339_us("2025-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339_us("2100-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339_us("1900-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339_us("2024-02-30T00:00:00Z"), std::nullopt);
}

TEST(Rfc3339, LeapSecondIsAccepted) {
  auto v = parse_rfc3339_us("2016-12-31T23:59:60Z");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 1483228799 * kSec);
}

TEST(Rfc3339, RejectsMalformed) {
  const char* bad[] = {
      "",
      "2026-11-28",
      "2026-11-28T10:15:30",         // missing zone
      "2026-11-28T10:15:30.123",     // missing zone after fraction
      "2026-11-28T10:15:30Zjunk",    // trailing garbage
      "2026-11-28T10:15:30+01:00 ",  // trailing space
      " 2026-11-28T10:15:30Z",
      "2026-13-01T00:00:00Z",        // bad month
      "2026-00-01T00:00:00Z",
      "2026-11-00T00:00:00Z",        // bad day
      "2026-11-31T00:00:00Z",        // November has 30 days
      "2026-04-31T00:00:00Z",
      "2026-01-32T00:00:00Z",
      "2026-11-28T24:00:00Z",        // bad hour
      "2026-11-28T10:60:00Z",        // bad minute
      "2026-11-28T10:15:61Z",        // bad second
      "2026-11-28T10:15:30.Z",       // empty fraction
      "2026-11-28T10:15:30.1234567890Z",  // more than 9 fraction digits
      "2026-11-28T10:15:30+01",      // incomplete offset
      "2026-11-28T10:15:30+0100",
      "2026-11-28T10:15:30+1:00",
      "2026-11-28T10:15:30+24:00",
      "2026-11-28T10:15:30+01:60",
      "2026-11-28T10:15:30UTC",
      "2026/11/28T10:15:30Z",
      "2026-11-28X10:15:30Z",
      "26-11-28T10:15:30Z",
      "2026-1-28T10:15:30Z",
      "2026-11-28T1:15:30Z",
      "2026-11-28T10:15:3aZ",
      "abcd-11-28T10:15:30Z",
      "+2026-11-28T10:15:30Z",
  };
  for (const char* s : bad) EXPECT_EQ(parse_rfc3339_us(s), std::nullopt) << '"' << s << '"';
}

TEST(Rfc3339, Format) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339(1), "1970-01-01T00:00:00.000001Z");
  EXPECT_EQ(format_rfc3339(1795860930 * kSec + 123000), "2026-11-28T10:15:30.123000Z");
  EXPECT_EQ(format_rfc3339(1709164800 * kSec), "2024-02-29T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_rfc3339(-kSec), "1969-12-31T23:59:59.000000Z");
  EXPECT_EQ(format_rfc3339(-2208988800 * kSec), "1900-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339(253402300799 * kSec + 999999), "9999-12-31T23:59:59.999999Z");
}

TEST(Rfc3339, RoundTrip) {
  std::mt19937_64 rng(12345);
  // 1900-01-01 .. 9999-12-31 in microseconds.
  std::uniform_int_distribution<int64_t> dist(-2208988800 * kSec, 253402300799 * kSec);
  for (int i = 0; i < 20000; ++i) {
    int64_t us = dist(rng);
    std::string text = format_rfc3339(us);
    auto back = parse_rfc3339_us(text);
    ASSERT_TRUE(back.has_value()) << text;
    ASSERT_EQ(*back, us) << text;
  }
  for (int64_t us : {int64_t{0}, int64_t{-1}, int64_t{1}, 951825600 * kSec - 1, 951825600 * kSec}) {
    EXPECT_EQ(parse_rfc3339_us(format_rfc3339(us)), us);
  }
}

TEST(Rfc3339, FormatParseWithOffsetsAgree) {
  // text -> us -> text normalizes to UTC.
  auto us = parse_rfc3339_us("2026-03-01T01:30:00.5+02:00");
  ASSERT_TRUE(us);
  EXPECT_EQ(format_rfc3339(*us), "2026-02-28T23:30:00.500000Z");
}

TEST(EnumNames, OrderStatusRoundTrip) {
  const char* expected[] = {"received", "validated", "released", "allocated", "packed",
                            "shipping", "shipped",   "delivered", "exception", "cancelled"};
  for (int i = 0; i <= static_cast<int>(OrderStatus::cancelled); ++i) {
    auto s = static_cast<OrderStatus>(i);
    EXPECT_STREQ(name(s), expected[i]);
    EXPECT_EQ(parse_order_status(name(s)), s);
  }
  EXPECT_EQ(parse_order_status("Shipped"), std::nullopt);
  EXPECT_EQ(parse_order_status(""), std::nullopt);
  EXPECT_EQ(parse_order_status("shipped "), std::nullopt);
}

TEST(EnumNames, TrackingStatusRoundTrip) {
  const char* expected[] = {"pending",   "label_created", "picked_up",  "in_transit",
                            "out_for_delivery", "attempt_failed", "available_for_pickup",
                            "delivered", "exception",     "return_to_sender", "cancelled", "stale"};
  for (int i = 0; i <= static_cast<int>(TrackingStatus::stale); ++i) {
    auto s = static_cast<TrackingStatus>(i);
    EXPECT_STREQ(name(s), expected[i]);
    EXPECT_EQ(parse_tracking_status(name(s)), s);
  }
  EXPECT_EQ(parse_tracking_status("in-transit"), std::nullopt);
  EXPECT_EQ(parse_tracking_status("IN_TRANSIT"), std::nullopt);
  EXPECT_EQ(parse_tracking_status("teleported"), std::nullopt);
}

TEST(EnumNames, ServiceLevelRoundTrip) {
  const char* expected[] = {"ground", "express", "overnight", "freight"};
  for (int i = 0; i <= static_cast<int>(ServiceLevel::freight); ++i) {
    auto s = static_cast<ServiceLevel>(i);
    EXPECT_STREQ(name(s), expected[i]);
    EXPECT_EQ(parse_service_level(name(s)), s);
  }
  EXPECT_EQ(parse_service_level("warp"), std::nullopt);
  EXPECT_EQ(parse_service_level(std::string_view("ground\0", 7)), std::nullopt);
}

TEST(Hash, Fnv1aKnownVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
  // Chaining with a seed equals hashing the concatenation.
  EXPECT_EQ(fnv1a64("bar", fnv1a64("foo")), fnv1a64("foobar"));
}

fb::OrderT sample_order() {
  fb::OrderT o;
  o.order_id = "ORD-42";
  o.source_system = "erp";
  o.status = OrderStatus::packed;
  o.service_level = ServiceLevel::overnight;
  o.ship_to = std::make_unique<fb::PartyT>();
  o.ship_to->name = "Ada";
  o.ship_to->country = "GB";
  auto line = std::make_unique<fb::OrderLineT>();
  line->sku = "S";
  line->qty = 3;
  o.lines.push_back(std::move(line));
  auto pkg = std::make_unique<fb::PackageT>();
  pkg->weight_g = 1234;
  pkg->hazmat = true;
  pkg->customs = std::make_unique<fb::CustomsT>();
  pkg->customs->value = std::make_unique<fb::MoneyT>();
  pkg->customs->value->amount_minor = 999;
  pkg->customs->value->currency = "EUR";
  o.packages.push_back(std::move(pkg));
  auto kv = std::make_unique<fb::KeyValueT>();
  kv->key = "po";
  kv->value = "123";
  o.references.push_back(std::move(kv));
  o.created_us = -5;
  o.updated_us = 1795860930 * kSec;
  o.version = 9;
  o.request_hash = 0xdeadbeefcafef00dULL;
  o.status_reason = "because";
  auto ref = std::make_unique<fb::ShipmentRefT>();
  ref->shipment_id = "SHP";
  ref->status = TrackingStatus::in_transit;
  ref->carrier_confirmed = true;
  o.shipments.push_back(std::move(ref));
  return o;
}

TEST(Codec, OrderRoundTrip) {
  const fb::OrderT o = sample_order();
  std::string bytes = encode(o);
  auto back = decode<fb::OrderT>(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(*back == o);
  EXPECT_EQ(encode(*back), bytes);  // deterministic
}

TEST(Codec, MilestoneAndEventRoundTrip) {
  fb::EventT ev;
  ev.type = "shipment.delivered";
  ev.kind = fb::EntityKind::shipment;
  ev.entity_id = "SHP";
  ev.entity_seq = 4;
  ev.milestone = std::make_unique<fb::MilestoneT>();
  ev.milestone->status = TrackingStatus::delivered;
  ev.milestone->raw_code = "D1";
  ev.milestone->event_time_us = 77;
  ev.milestone->applied = true;
  ev.milestone->location = std::make_unique<fb::LocationT>();
  ev.milestone->location->city = "Paris";
  auto back = decode<fb::EventT>(encode(ev));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(*back == ev);
}

TEST(Codec, GarbageDecodesToNullopt) {
  EXPECT_EQ(decode<fb::OrderT>(""), std::nullopt);
  EXPECT_EQ(decode<fb::OrderT>(std::string_view("\x01", 1)), std::nullopt);
  EXPECT_EQ(decode<fb::OrderT>("hello, world: not a flatbuffer"), std::nullopt);
  EXPECT_EQ(decode<fb::OrderT>(std::string(64, '\xff')), std::nullopt);
  std::string bytes = encode(sample_order());
  // Truncations of a valid buffer (its tail may be padding, so cut well inside it).
  for (size_t n : {size_t{3}, size_t{8}, bytes.size() / 4, bytes.size() / 2})
    EXPECT_EQ(decode<fb::OrderT>(std::string_view(bytes).substr(0, n)), std::nullopt) << n;
  // Root offset pointing past the end.
  std::string broken = bytes;
  broken[0] = '\xf0';
  broken[1] = '\xff';
  EXPECT_EQ(decode<fb::OrderT>(broken), std::nullopt);
}

TEST(Codec, OrderWithoutRequiredIdIsRejected) {
  // order_id is (required): a buffer without it must not verify as an Order.
  flatbuffers::FlatBufferBuilder fbb;
  auto start = fbb.StartTable();
  fbb.AddElement<uint64_t>(fb::Order::VT_VERSION, 1, 0);
  fbb.Finish(flatbuffers::Offset<fb::Order>(fbb.EndTable(start)));
  std::string bytes(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  EXPECT_EQ(decode<fb::OrderT>(bytes), std::nullopt);
}

}  // namespace
}  // namespace waybill
