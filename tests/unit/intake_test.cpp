// Request body parsing and validation: happy paths, unit conversion, and every error
// with the exact field path it names.
#include <gtest/gtest.h>

#include "waybill/runtime/intake.hpp"

namespace waybill::runtime {
namespace {

const IntakeLimits kLimits{};

const std::string kShipTo =
    R"({"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"12345","country":"US"})";

std::string order_body(const std::string& extra_top = "", const std::string& ship_to = kShipTo,
                       const std::string& lines = R"([{"sku":"A","qty":2},{"sku":"B","qty":1}])",
                       const std::string& packages = R"([{"weight_kg":1.5,"length_cm":30,"width_cm":20.5,"height_cm":10}])") {
  std::string b = R"({"order_id":"ORD-1","ship_to":)" + ship_to + R"(,"service_level":"express","lines":)" + lines;
  if (!packages.empty()) b += R"(,"packages":)" + packages;
  b += extra_top;
  b += "}";
  return b;
}

// Expects `result` to fail with invalid_argument naming `field`.
template <class R>
void expect_error(const R& result, const std::string& field, const std::string& reason_part = "") {
  ASSERT_FALSE(result.ok()) << "expected an error on " << field;
  EXPECT_EQ(result.status().code(), Code::invalid_argument);
  EXPECT_EQ(result.status().field(), field) << result.status().message();
  if (!reason_part.empty()) {
    EXPECT_NE(result.status().message().find(reason_part), std::string::npos) << result.status().message();
  }
}

TEST(IntakeCreateOrder, HappyPathConvertsUnits) {
  auto r = parse_create_order(order_body(), kLimits);
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  auto& o = r->order;
  EXPECT_EQ(o.order_id, "ORD-1");
  EXPECT_EQ(o.status, OrderStatus::received);
  EXPECT_EQ(o.service_level, ServiceLevel::express);
  ASSERT_TRUE(o.ship_to);
  EXPECT_EQ(o.ship_to->name, "Ada");
  EXPECT_EQ(o.ship_to->postal_code, "12345");
  EXPECT_EQ(o.ship_to->country, "US");
  EXPECT_FALSE(o.ship_from);
  ASSERT_EQ(o.lines.size(), 2u);
  EXPECT_EQ(o.lines[0]->sku, "A");
  EXPECT_EQ(o.lines[0]->qty, 2);
  EXPECT_EQ(o.lines[1]->qty, 1);
  ASSERT_EQ(o.packages.size(), 1u);
  EXPECT_EQ(o.packages[0]->weight_g, 1500);
  EXPECT_EQ(o.packages[0]->length_mm, 300);
  EXPECT_EQ(o.packages[0]->width_mm, 205);
  EXPECT_EQ(o.packages[0]->height_mm, 100);
  EXPECT_FALSE(o.packages[0]->hazmat);
  EXPECT_NE(o.request_hash, 0u);
}

TEST(IntakeCreateOrder, OptionalPartsAreParsed) {
  auto body = order_body(R"(,"source_system":"erp","references":{"po":"P-9","cart":"C1"},"ship_from":)" + kShipTo,
                         kShipTo, R"([{"sku":"A","qty":1000000,"description":"max qty"}])",
                         R"([{"weight_kg":0.25,"hazmat":true,"customs":{"description":"books","hs_code":"4901",)"
                         R"("country_of_origin":"DE","value_minor":1999,"currency":"EUR"}}])");
  auto r = parse_create_order(body, kLimits);
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  auto& o = r->order;
  EXPECT_EQ(o.source_system, "erp");
  ASSERT_TRUE(o.ship_from);
  EXPECT_EQ(o.lines[0]->qty, 1000000);
  EXPECT_EQ(o.lines[0]->description, "max qty");
  ASSERT_EQ(o.references.size(), 2u);
  EXPECT_EQ(o.references[0]->key, "cart");  // sorted by key
  EXPECT_EQ(o.references[1]->key, "po");
  EXPECT_EQ(o.references[1]->value, "P-9");
  auto& p = *o.packages[0];
  EXPECT_EQ(p.weight_g, 250);
  EXPECT_TRUE(p.hazmat);
  ASSERT_TRUE(p.customs);
  EXPECT_EQ(p.customs->hs_code, "4901");
  ASSERT_TRUE(p.customs->value);
  EXPECT_EQ(p.customs->value->amount_minor, 1999);
  EXPECT_EQ(p.customs->value->currency, "EUR");
}

TEST(IntakeCreateOrder, MissingFields) {
  expect_error(parse_create_order(R"({"ship_to":)" + kShipTo + R"(,"service_level":"ground","lines":[{"sku":"A","qty":1}]})",
                                  kLimits),
               "order_id", "required");
  expect_error(parse_create_order(order_body("", R"({"name":"Ada","street":"1","city":"X","country":"US"})"), kLimits),
               "ship_to.postal_code", "required");
  expect_error(parse_create_order(R"({"order_id":"O","service_level":"ground","lines":[{"sku":"A","qty":1}]})", kLimits),
               "ship_to", "required");
  expect_error(parse_create_order(R"({"order_id":"O","ship_to":)" + kShipTo + R"(,"lines":[{"sku":"A","qty":1}]})", kLimits),
               "service_level", "required");
  expect_error(parse_create_order(R"({"order_id":"O","ship_to":)" + kShipTo + R"(,"service_level":"ground"})", kLimits),
               "lines", "required");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"qty":1}])"), kLimits), "lines[0].sku", "required");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":1},{"sku":"B"}])"), kLimits),
               "lines[1].qty", "required");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":1}])", R"([{"length_cm":1}])"), kLimits),
               "packages[0].weight_kg", "required");
  // null counts as absent.
  expect_error(parse_create_order(R"({"order_id":null,"ship_to":)" + kShipTo +
                                      R"(,"service_level":"ground","lines":[{"sku":"A","qty":1}]})",
                                  kLimits),
               "order_id", "required");
}

TEST(IntakeCreateOrder, BadValues) {
  expect_error(parse_create_order(order_body("", R"({"name":"Ada","street":"1","city":"X","postal_code":"1","country":"usa"})"),
                                  kLimits),
               "ship_to.country");
  expect_error(parse_create_order(order_body("", R"({"name":"Ada","street":"1","city":"X","postal_code":"1","country":"us"})"),
                                  kLimits),
               "ship_to.country", "ISO 3166");
  expect_error(parse_create_order(order_body("", R"({"name":"Ada","street":"1","city":"X","postal_code":"1","country":7})"),
                                  kLimits),
               "ship_to.country", "string");
  std::string warp = order_body();
  warp.replace(warp.find("express"), 7, "warp");
  expect_error(parse_create_order(warp, kLimits), "service_level");
  expect_error(parse_create_order(order_body("", kShipTo, "[]"), kLimits), "lines", "at least one");
  expect_error(parse_create_order(order_body("", kShipTo, R"({"sku":"A"})"), kLimits), "lines", "array");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":1},{"sku":"B","qty":0}])"), kLimits),
               "lines[1].qty");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":1000001}])"), kLimits), "lines[0].qty");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":-3}])"), kLimits), "lines[0].qty");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":"2"}])"), kLimits), "lines[0].qty",
               "integer");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":1.5}])"), kLimits), "lines[0].qty",
               "integer");
  expect_error(parse_create_order(order_body("", kShipTo, R"(["A"])"), kLimits), "lines[0]", "object");
  const std::string one_line = R"([{"sku":"A","qty":1}])";
  expect_error(parse_create_order(order_body("", kShipTo, one_line, R"([{"weight_kg":-1}])"), kLimits),
               "packages[0].weight_kg", "negative");
  expect_error(parse_create_order(order_body("", kShipTo, one_line, R"([{"weight_kg":0}])"), kLimits),
               "packages[0].weight_kg", "greater than zero");
  expect_error(parse_create_order(order_body("", kShipTo, one_line, R"([{"weight_kg":1},{"weight_kg":50001}])"), kLimits),
               "packages[1].weight_kg", "at most");
  expect_error(parse_create_order(order_body("", kShipTo, one_line, R"([{"weight_kg":"1"}])"), kLimits),
               "packages[0].weight_kg", "number");
  expect_error(parse_create_order(order_body("", kShipTo, one_line, R"([{"weight_kg":1,"length_cm":-0.5}])"), kLimits),
               "packages[0].length_cm", "negative");
  expect_error(parse_create_order(order_body("", kShipTo, one_line, R"([{"weight_kg":1,"hazmat":"yes"}])"), kLimits),
               "packages[0].hazmat");
  expect_error(parse_create_order(order_body("", kShipTo, one_line,
                                             R"([{"weight_kg":1,"customs":{"description":"x","value_minor":5}}])"),
                                  kLimits),
               "packages[0].customs.currency", "required");
  expect_error(parse_create_order(order_body(R"(,"references":{"a":1})"), kLimits), "references.a", "string");
  expect_error(parse_create_order(order_body(R"(,"references":["a"])"), kLimits), "references");
  std::string long_id(129, 'x');
  expect_error(parse_create_order(R"({"order_id":")" + long_id + R"(","ship_to":)" + kShipTo +
                                      R"(,"service_level":"ground","lines":[{"sku":"A","qty":1}]})",
                                  kLimits),
               "order_id");
  expect_error(parse_create_order(R"({"order_id":"a\u0001b","ship_to":)" + kShipTo +
                                      R"(,"service_level":"ground","lines":[{"sku":"A","qty":1}]})",
                                  kLimits),
               "order_id", "control");
}

TEST(IntakeCreateOrder, UnknownAndDuplicateKeys) {
  expect_error(parse_create_order(order_body(R"(,"colour":"red")"), kLimits), "colour", "unknown");
  // An empty key is named as written, so the error still names a field.
  expect_error(parse_create_order(order_body(R"(,"":1)"), kLimits), R"("")", "unknown");
  expect_error(parse_create_order(order_body("", R"({"name":"Ada","street":"1","city":"X","postal_code":"1","country":"US","":"9"})"),
                                  kLimits),
               R"(ship_to."")", "unknown");
  expect_error(parse_create_order(order_body("", R"({"name":"Ada","street":"1","city":"X","postal_code":"1","country":"US","zip":"9"})"),
                                  kLimits),
               "ship_to.zip", "unknown");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":1,"price":3}])"), kLimits),
               "lines[0].price", "unknown");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":1}])",
                                             R"([{"weight_kg":1,"customs":{"description":"x","duty":1}}])"),
                                  kLimits),
               "packages[0].customs.duty", "unknown");
  expect_error(parse_create_order(order_body(R"(,"order_id":"ORD-2")"), kLimits), "order_id", "duplicate");
  expect_error(parse_create_order(order_body("", R"({"name":"Ada","name":"Bob","street":"1","city":"X","postal_code":"1","country":"US"})"),
                                  kLimits),
               "ship_to.name", "duplicate");
  expect_error(parse_create_order(order_body(R"(,"references":{"a":"1","a":"2"})"), kLimits), "references.a",
               "duplicate");
}

TEST(IntakeCreateOrder, MalformedBodies) {
  expect_error(parse_create_order("", kLimits), "body");
  expect_error(parse_create_order("{not json}", kLimits), "body", "not valid JSON");
  expect_error(parse_create_order(R"({"order_id":"O",})", kLimits), "body");
  std::string full = order_body();
  expect_error(parse_create_order(full.substr(0, full.size() / 2), kLimits), "body");
  expect_error(parse_create_order(full.substr(0, full.size() - 1), kLimits), "body");
  expect_error(parse_create_order("[" + full + "]", kLimits), "body", "object");
  expect_error(parse_create_order("42", kLimits), "body", "object");
  expect_error(parse_create_order(R"("string")", kLimits), "body", "object");
  expect_error(parse_create_order(full + full, kLimits), "body");
  std::string bad_utf8 = full;
  bad_utf8.replace(bad_utf8.find("Ada"), 3, "A\xc3\x28");
  expect_error(parse_create_order(bad_utf8, kLimits), "body", "UTF-8");
  std::string bad_utf8_2 = full;
  bad_utf8_2.replace(bad_utf8_2.find("Ada"), 3, "\xff\xfe");
  expect_error(parse_create_order(bad_utf8_2, kLimits), "body", "UTF-8");
}

TEST(IntakeCreateOrder, HugeNumbers) {
  const std::string one_line = R"([{"sku":"A","qty":1}])";
  expect_error(parse_create_order(order_body("", kShipTo, one_line, R"([{"weight_kg":1e999}])"), kLimits), "body",
               "out of range");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":123456789012345678901234567890}])"),
                                  kLimits),
               "body", "out of range");
  // Fits in 64 bits unsigned, not signed: not an integer quantity.
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":18446744073709551615}])"), kLimits),
               "lines[0].qty");
}

std::string nested(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += R"({"a":)";
  s += "1";
  for (int i = 0; i < depth; ++i) s += "}";
  return s;
}

TEST(IntakeCreateOrder, NestingLimit) {
  IntakeLimits lim;
  lim.max_depth = 5;
  // Shallower than the limit parses (and then fails on the unknown field)...
  expect_error(parse_create_order(nested(3), lim), "a", "unknown");
  // ...deeper than the limit is refused as too deep.
  expect_error(parse_create_order(nested(6), lim), "body", "deeper than 5");
  expect_error(parse_create_order(nested(40), lim), "body", "deeper than 5");
  // A valid order with customs nests 4 levels (packages[0].customs).
  std::string customs = order_body("", kShipTo, R"([{"sku":"A","qty":1}])",
                                   R"([{"weight_kg":1,"customs":{"description":"x"}}])");
  EXPECT_TRUE(parse_create_order(customs, lim).ok());
  lim.max_depth = 3;
  expect_error(parse_create_order(customs, lim), "body", "deeper than 3");
  // The default limit is 32.
  expect_error(parse_create_order(nested(20), kLimits), "a", "unknown");
  expect_error(parse_create_order(nested(33), kLimits), "body", "deeper than 32");
  expect_error(parse_create_order(nested(500), kLimits), "body", "deeper");
}

// IntakeLimits::max_depth is the "deepest JSON nesting accepted", but it is handed to
// simdjson as its max_depth, which accepts one level less: a document nested exactly
// max_depth deep is refused with "JSON nesting is deeper than <max_depth>".
TEST(IntakeCreateOrder, NestingExactlyAtLimitIsAccepted) {
  IntakeLimits lim;
  lim.max_depth = 4;
  expect_error(parse_create_order(nested(4), lim), "a", "unknown");
  std::string customs = order_body("", kShipTo, R"([{"sku":"A","qty":1}])",
                                   R"([{"weight_kg":1,"customs":{"description":"x"}}])");
  EXPECT_TRUE(parse_create_order(customs, lim).ok());
  expect_error(parse_create_order(nested(32), kLimits), "a", "unknown");
}

TEST(IntakeCreateOrder, NestingLimitHoldsForLargeBodies) {
  IntakeLimits lim;
  lim.max_depth = 5;
  // A body larger than the parser's initial capacity makes it grow its buffers.
  std::string body = std::string(200 * 1024, ' ') + nested(6);
  expect_error(parse_create_order(body, lim), "body", "deeper than 5");
  body = std::string(200 * 1024, ' ') + nested(3);
  expect_error(parse_create_order(body, lim), "a", "unknown");
}

TEST(IntakeCreateOrder, Limits) {
  IntakeLimits lim;
  lim.max_lines = 2;
  lim.max_packages = 1;
  lim.max_references = 1;
  lim.max_string_bytes = 16;
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":1},{"sku":"B","qty":1},{"sku":"C","qty":1}])"),
                                  lim),
               "lines", "more than 2");
  expect_error(parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":1}])", R"([{"weight_kg":1},{"weight_kg":2}])"),
                                  lim),
               "packages", "more than 1");
  expect_error(parse_create_order(order_body(R"(,"references":{"a":"1","b":"2"})"), lim), "references", "more than 1");
  expect_error(parse_create_order(order_body("", R"({"name":"A very long name indeed","street":"1","city":"X","postal_code":"1","country":"US"})"),
                                  lim),
               "ship_to.name", "longer than 16");
}

TEST(IntakeCreateOrder, HashIgnoresKeyOrderAndWhitespace) {
  auto a = parse_create_order(
      R"({"order_id":"ORD-1","ship_to":{"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"12345","country":"US"},)"
      R"("service_level":"express","lines":[{"sku":"A","qty":2}],"references":{"x":"1","y":"2"}})",
      kLimits);
  auto b = parse_create_order(
      "{\n  \"references\" : {\"y\":\"2\", \"x\":\"1\"},\n  \"lines\": [ { \"qty\": 2, \"sku\": \"A\" } ],\n"
      "  \"service_level\": \"express\",\n"
      "  \"ship_to\": {\"country\":\"US\", \"postal_code\":\"12345\", \"city\":\"Springfield\",\n"
      "              \"street\":\"1 Main St\", \"name\":\"Ada\"},\n"
      "  \"order_id\" : \"ORD-1\"\n}\n",
      kLimits);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(a->order.request_hash, b->order.request_hash);

  auto c = parse_create_order(
      R"({"order_id":"ORD-1","ship_to":{"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"12345","country":"US"},)"
      R"("service_level":"express","lines":[{"sku":"A","qty":3}],"references":{"x":"1","y":"2"}})",
      kLimits);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->order.request_hash, c->order.request_hash);
  auto d = parse_create_order(
      R"({"order_id":"ORD-1","ship_to":{"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"12345","country":"US"},)"
      R"("service_level":"express","lines":[{"sku":"A","qty":2}],"references":{"x":"1","y":"3"}})",
      kLimits);
  ASSERT_TRUE(d.ok());
  EXPECT_NE(a->order.request_hash, d->order.request_hash);
  // Same hash when parsed twice (stable).
  auto a2 = parse_create_order(
      R"({"order_id":"ORD-1","ship_to":{"name":"Ada","street":"1 Main St","city":"Springfield","postal_code":"12345","country":"US"},)"
      R"("service_level":"express","lines":[{"sku":"A","qty":2}],"references":{"x":"1","y":"2"}})",
      kLimits);
  EXPECT_EQ(a->order.request_hash, a2->order.request_hash);
}

// weight_kg 0 is refused as "must be greater than zero", but a positive weight below
// half a gram rounds to 0 g and is accepted: the stored package then weighs nothing.
TEST(IntakeCreateOrder, TinyPositiveWeightDoesNotBecomeZeroGrams) {
  auto r = parse_create_order(order_body("", kShipTo, R"([{"sku":"A","qty":1}])", R"([{"weight_kg":0.0004}])"), kLimits);
  if (r.ok()) {
    EXPECT_GT(r->order.packages[0]->weight_g, 0) << "accepted weight_kg 0.0004 as 0 g";
  } else {
    EXPECT_EQ(r.status().field(), "packages[0].weight_kg");
  }
}

TEST(IntakePackCancel, PackOrder) {
  auto empty = parse_pack_order("", kLimits);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->packages.empty());
  auto p = parse_pack_order(R"({"packages":[{"weight_kg":2,"height_cm":1.25}]})", kLimits);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->packages.size(), 1u);
  EXPECT_EQ(p->packages[0].weight_g, 2000);
  EXPECT_EQ(p->packages[0].height_mm, 13);  // 12.5 mm rounds away from zero
  expect_error(parse_pack_order(R"({"packages":[{"weight_kg":2}],"boxes":1})", kLimits), "boxes", "unknown");
  expect_error(parse_pack_order(R"({"packages":[{"weight_kg":0}]})", kLimits), "packages[0].weight_kg");
  expect_error(parse_pack_order(R"({"packages":{}})", kLimits), "packages", "array");
}

TEST(IntakePackCancel, CancelOrder) {
  auto empty = parse_cancel_order("", kLimits);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->reason, "");
  auto c = parse_cancel_order(R"({"reason":"customer request"})", kLimits);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->reason, "customer request");
  expect_error(parse_cancel_order(R"({"reason":5})", kLimits), "reason", "string");
  expect_error(parse_cancel_order(R"({"why":"x"})", kLimits), "why", "unknown");
  expect_error(parse_cancel_order("[]", kLimits), "body");
}

TEST(IntakeRegisterShipment, HappyPath) {
  auto r = parse_register_shipment(
      R"({"shipment_id":"SHP-1","order_id":"ORD-1","carrier":"ups","service":"ground",)"
      R"("tracking_numbers":["1Z1","1Z2"],"packages":[{"weight_kg":3.2}]})",
      kLimits);
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  auto& s = r->shipment;
  EXPECT_EQ(s.shipment_id, "SHP-1");
  EXPECT_EQ(s.order_id, "ORD-1");
  EXPECT_EQ(s.carrier, "ups");
  EXPECT_EQ(s.service, "ground");
  EXPECT_EQ(s.tracking_numbers, (std::vector<std::string>{"1Z1", "1Z2"}));
  ASSERT_EQ(s.packages.size(), 1u);
  EXPECT_EQ(s.packages[0]->weight_g, 3200);
  EXPECT_NE(s.request_hash, 0u);
  auto same = parse_register_shipment(
      R"({"packages":[{"weight_kg":3.2}],"tracking_numbers":["1Z1","1Z2"],"service":"ground","carrier":"ups",)"
      R"("order_id":"ORD-1","shipment_id":"SHP-1"})",
      kLimits);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->shipment.request_hash, s.request_hash);
  auto other = parse_register_shipment(
      R"({"shipment_id":"SHP-1","order_id":"ORD-1","carrier":"ups","service":"ground",)"
      R"("tracking_numbers":["1Z2","1Z1"],"packages":[{"weight_kg":3.2}]})",
      kLimits);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->shipment.request_hash, s.request_hash);
}

TEST(IntakeRegisterShipment, Errors) {
  expect_error(parse_register_shipment(R"({"shipment_id":"S","order_id":"O","carrier":"ups","tracking_numbers":["A","B","A"]})",
                                       kLimits),
               "tracking_numbers[2]", "twice");
  expect_error(parse_register_shipment(R"({"shipment_id":"S","order_id":"O","carrier":"ups","tracking_numbers":["A",1]})",
                                       kLimits),
               "tracking_numbers[1]", "string");
  expect_error(parse_register_shipment(R"({"shipment_id":"S","order_id":"O","carrier":"ups","tracking_numbers":["A\tB"]})",
                                       kLimits),
               "tracking_numbers[0]", "control");
  expect_error(parse_register_shipment(R"({"shipment_id":"S","order_id":"O","carrier":"ups","tracking_numbers":[""]})",
                                       kLimits),
               "tracking_numbers[0]", "empty");
  expect_error(parse_register_shipment(R"({"shipment_id":"S","order_id":"O","carrier":"ups","tracking_numbers":"A"})",
                                       kLimits),
               "tracking_numbers", "array");
  expect_error(parse_register_shipment(R"({"shipment_id":"S","carrier":"ups"})", kLimits), "order_id", "required");
  expect_error(parse_register_shipment(R"({"order_id":"O","carrier":"ups"})", kLimits), "shipment_id", "required");
  expect_error(parse_register_shipment(R"({"shipment_id":"S","order_id":"O"})", kLimits), "carrier", "required");
  expect_error(parse_register_shipment(R"({"shipment_id":"S","order_id":"O","carrier":"ups","label":{}})", kLimits),
               "label", "unknown");
  IntakeLimits lim;
  lim.max_tracking_numbers = 2;
  expect_error(parse_register_shipment(R"({"shipment_id":"S","order_id":"O","carrier":"ups","tracking_numbers":["A","B","C"]})",
                                       lim),
               "tracking_numbers", "more than 2");
}

const char* kMilestone =
    R"({"carrier":"ups","tracking_number":"1Z1","status":"in_transit","raw_code":"IT","event_time":"2026-11-28T10:15:30.5+01:00",)"
    R"("sequence":3,"event_id":"E-1","description":"Arrived","location":{"city":"Lyon","country":"FR"}})";

std::string milestone_with(const std::string& key, const std::string& json_value) {
  std::string b = kMilestone;
  auto k = b.find("\"" + key + "\":");
  EXPECT_NE(k, std::string::npos);
  auto start = k + key.size() + 3;
  auto end = b.find_first_of(",}", start);
  if (b[start] == '{') end = b.find('}', start) + 1;
  b.replace(start, end - start, json_value);
  return b;
}

TEST(IntakeMilestone, HappyPath) {
  auto r = parse_milestone(kMilestone, kLimits);
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  EXPECT_EQ(r->carrier, "ups");
  EXPECT_EQ(r->tracking_number, "1Z1");
  auto& m = r->command.milestone;
  EXPECT_EQ(m.status, TrackingStatus::in_transit);
  EXPECT_EQ(m.raw_code, "IT");
  EXPECT_EQ(m.event_time_us, *parse_rfc3339_us("2026-11-28T09:15:30.5Z"));
  EXPECT_EQ(m.sequence, 3);
  EXPECT_EQ(m.event_id, "E-1");
  EXPECT_EQ(m.description, "Arrived");
  ASSERT_TRUE(m.location);
  EXPECT_EQ(m.location->city, "Lyon");
  EXPECT_EQ(m.location->country, "FR");
  EXPECT_EQ(m.received_us, 0);  // stamped by the caller
  EXPECT_FALSE(m.applied);
}

TEST(IntakeMilestone, Errors) {
  expect_error(parse_milestone(milestone_with("status", R"("teleported")"), kLimits), "status", "unknown status");
  expect_error(parse_milestone(milestone_with("status", R"("IN_TRANSIT")"), kLimits), "status");
  expect_error(parse_milestone(milestone_with("event_time", R"("2026-11-28 10:15")"), kLimits), "event_time",
               "RFC 3339");
  expect_error(parse_milestone(milestone_with("event_time", R"("2026-02-30T00:00:00Z")"), kLimits), "event_time");
  expect_error(parse_milestone(milestone_with("event_time", "1764000000"), kLimits), "event_time", "string");
  expect_error(parse_milestone(milestone_with("sequence", "-1"), kLimits), "sequence", "negative");
  expect_error(parse_milestone(milestone_with("sequence", "1.5"), kLimits), "sequence", "integer");
  expect_error(parse_milestone(milestone_with("carrier", R"("")"), kLimits), "carrier");
  expect_error(parse_milestone(milestone_with("tracking_number", R"("a\u0000b")"), kLimits), "tracking_number",
               "control");
  expect_error(parse_milestone(milestone_with("location", R"({"city":"Lyon","planet":"Earth"})"), kLimits),
               "location.planet", "unknown");
  expect_error(parse_milestone(milestone_with("location", R"("Lyon")"), kLimits), "location", "object");
  expect_error(parse_milestone(R"({"carrier":"ups","tracking_number":"1Z1","status":"delivered"})", kLimits),
               "event_time", "required");
  expect_error(parse_milestone(R"({"carrier":"ups","tracking_number":"1Z1","event_time":"2026-11-28T10:15:30Z"})", kLimits),
               "status", "required");
  std::string extra = kMilestone;
  extra.insert(1, R"("signed_by":"X",)");
  expect_error(parse_milestone(extra, kLimits), "signed_by", "unknown");
  expect_error(parse_milestone("{\"carrier\":\"ups\"", kLimits), "body");
}

TEST(IntakeValidateId, Rules) {
  EXPECT_TRUE(validate_id("ORD-1", "order_id").ok());
  EXPECT_TRUE(validate_id(std::string(128, 'x'), "order_id").ok());
  EXPECT_TRUE(validate_id("caf\xc3\xa9 #1/2", "order_id").ok());  // printable UTF-8, spaces, slashes
  struct Case { std::string value; const char* reason; };
  const Case bad[] = {
      {"", "empty"},
      {std::string(129, 'x'), "longer than 128"},
      {std::string(1000, 'x'), "longer than 128"},
      {"a\x01", "control"},
      {"a\nb", "control"},
      {"a\rb", "control"},
      {"\tab", "control"},
      {std::string("a\0b", 3), "control"},
      {"ab\x7f", "control"},
      {"\x1f", "control"},
  };
  for (auto& c : bad) {
    auto st = validate_id(c.value, "shipment_id");
    EXPECT_EQ(st.code(), Code::invalid_argument) << c.value.size();
    EXPECT_EQ(st.field(), "shipment_id");
    EXPECT_NE(st.message().find(c.reason), std::string::npos) << st.message();
  }
}

TEST(IntakeNdjson, SplitsLinesKeepingTheirNumbers) {
  auto r = split_ndjson("{\"a\":1}\r\n\n  \t\r\n{\"b\":2}\n{\"c\":3}", 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->lines.size(), 3u);
  EXPECT_EQ(r->lines[0], "{\"a\":1}");  // CR of CR LF dropped
  EXPECT_EQ(r->lines[1], "{\"b\":2}");
  EXPECT_EQ(r->lines[2], "{\"c\":3}");  // no final line break needed
  EXPECT_EQ(r->numbers, (std::vector<size_t>{1, 4, 5}));  // blank lines still count
}

TEST(IntakeNdjson, EmptyAndOversizedBodies) {
  for (std::string_view body : {"", "\n", " \t\r\n\r\n"}) {
    auto r = split_ndjson(body, 10);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::invalid_argument);
    EXPECT_EQ(r.status().field(), "body");
  }
  EXPECT_TRUE(split_ndjson("1\n2\n\n", 2).ok());
  auto r = split_ndjson("1\n2\n3", 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::payload_too_large);
}

}  // namespace
}  // namespace waybill::runtime
