// carrier-sim's served tracking history for polled carriers: events appear as time
// passes, late ones later, answers are disordered and duplicated per poll, and the same
// poll at the same time gives the same answer (deterministic under the seed).
#include <gtest/gtest.h>

#include <simdjson.h>

#include "tracking_history.hpp"

namespace waybill::sim {
namespace {

SimCarrier beta() {
  SimCarrier c;
  c.name = "freightly";
  c.dialect = "beta";
  c.tracking.delivery = "poll";
  c.tracking.events = {"label_created", "picked_up", "in_transit", "out_for_delivery", "delivered"};
  c.tracking.codes = {{"label_created", "LABEL"}, {"picked_up", "PICKED_UP"}, {"in_transit", "IN_TRANSIT"},
                      {"out_for_delivery", "OUT_FOR_DELIVERY"}, {"delivered", "DELIVERED"}};
  c.tracking.interval_ms = 1000;
  return c;
}

// Event ids of an answer, in answer order.
std::vector<std::string> ids(const std::string& body, const char* events = "/events", const char* id = "id") {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS) << body;
  std::vector<std::string> out;
  simdjson::dom::array arr;
  if (doc.at_pointer(events).get(arr) != simdjson::SUCCESS) return out;
  for (auto e : arr) out.emplace_back(std::string_view(e[id]));
  return out;
}

constexpr int64_t kSold = 1'800'000'000'000'000;
constexpr int64_t kSecond = 1'000'000;

TEST(SimTrackingHistory, EventsAppearAsTimePasses) {
  auto c = beta();
  std::vector<TrackedPiece> pieces{{"FR1", kSold, false}};
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(tracking_answer(c, "PRO1", pieces, kSold + kSecond / 2, 7, 1)), V{});
  EXPECT_EQ(ids(tracking_answer(c, "PRO1", pieces, kSold + kSecond, 7, 2)), V{"FR1-1"});
  EXPECT_EQ(ids(tracking_answer(c, "PRO1", pieces, kSold + 3 * kSecond, 7, 3)), (V{"FR1-1", "FR1-2", "FR1-3"}));
  EXPECT_EQ(ids(tracking_answer(c, "PRO1", pieces, kSold + 9 * kSecond, 7, 4)).size(), 5u);
  pieces[0].voided = true;
  EXPECT_EQ(ids(tracking_answer(c, "PRO1", pieces, kSold + 9 * kSecond, 7, 5)), V{}) << "a voided label never moves";
}

TEST(SimTrackingHistory, CalmAnswersListThePiecesByEventTime) {
  auto c = beta();
  std::vector<TrackedPiece> pieces{{"FR1", kSold, false}, {"FR2", kSold + 1, false}};
  EXPECT_EQ(ids(tracking_answer(c, "PRO1", pieces, kSold + 2 * kSecond + 1, 7, 1)),
            (std::vector<std::string>{"FR1-1", "FR2-1", "FR1-2", "FR2-2"}));
}

TEST(SimTrackingHistory, LateEventsShowUpThreeIntervalsLater) {
  auto c = beta();
  c.tracking.late_share = 1.0;
  std::vector<TrackedPiece> pieces{{"FR1", kSold, false}};
  EXPECT_TRUE(ids(tracking_answer(c, "PRO1", pieces, kSold + 3 * kSecond, 7, 1)).empty());
  EXPECT_EQ(ids(tracking_answer(c, "PRO1", pieces, kSold + 4 * kSecond, 7, 2)), std::vector<std::string>{"FR1-1"});
}

TEST(SimTrackingHistory, AnswersAreDisorderedAndDuplicatedButDeterministic) {
  auto c = beta();
  c.tracking.reorder_share = 0.5;
  c.tracking.dup_share = 0.5;
  std::vector<TrackedPiece> pieces{{"FR1", kSold, false}, {"FR2", kSold, false}};
  const int64_t later = kSold + 9 * kSecond;
  bool disordered = false, duplicated = false;
  for (uint64_t poll = 1; poll <= 20; ++poll) {
    auto a = tracking_answer(c, "PRO1", pieces, later, 7, poll);
    EXPECT_EQ(a, tracking_answer(c, "PRO1", pieces, later, 7, poll)) << "same poll, same answer";
    auto got = ids(a);
    std::set<std::string> distinct(got.begin(), got.end());
    EXPECT_EQ(distinct.size(), 10u) << "every event of both pieces is listed";
    duplicated = duplicated || got.size() > distinct.size();
    // In order, the steps ("FR1-3": step 3) never decrease: both pieces move together.
    for (size_t i = 1; i < got.size(); ++i) disordered = disordered || got[i].back() < got[i - 1].back();
  }
  EXPECT_TRUE(disordered);
  EXPECT_TRUE(duplicated);
  EXPECT_NE(tracking_answer(c, "PRO1", pieces, later, 7, 1), tracking_answer(c, "PRO1", pieces, later, 8, 1))
      << "another seed, another disorder";
}

TEST(SimTrackingHistory, AlphaDialectUsesItsOwnNames) {
  auto c = beta();
  c.dialect = "alpha";
  auto a = tracking_answer(c, "S1", {{"1Z1", kSold, false}}, kSold + kSecond, 7, 1);
  EXPECT_EQ(ids(a, "/Events", "EventId"), std::vector<std::string>{"1Z1-1"});
  EXPECT_NE(a.find(R"("Code":"LABEL")"), std::string::npos) << a;
}

}  // namespace
}  // namespace waybill::sim
