// Visibility freshness over a real store: which shipments count as active, which of
// them as fresh (latest carrier scan or label within the window), by carrier, across
// the steps a pass is cut into; a header that is not a shipment is skipped.
#include <gtest/gtest.h>

#include <future>

#include "test_support.hpp"
#include "waybill/actors/model.hpp"
#include "waybill/runtime/visibility.hpp"
#include "waybill/storage/group_commit.hpp"

namespace waybill::runtime {
namespace {

using testing_support::TempDir;
constexpr int64_t kHourUs = 3'600'000'000LL;
constexpr int64_t kNowUs = 1'800'000'000'000'000LL;

fb::ShipmentT header(const std::string& id, const std::string& carrier, TrackingStatus status, int64_t last_scan_us,
                     int64_t label_us = 0, fb::BookingState booking = fb::BookingState::booked) {
  fb::ShipmentT h;
  h.shipment_id = id;
  h.carrier = carrier;
  h.status = status;
  h.last_scan_us = last_scan_us;
  h.label_us = label_us;
  h.booking_state = booking;
  return h;
}

class VisibilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = storage::Store::open(testing_support::small_store_options(dir_.str()));
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(*s);
  }

  void put(const std::vector<std::pair<std::string, std::string>>& records) {
    storage::GroupCommitWriter writer(*store_, storage::WriterOptions{false, 1000, 4, 1000, nullptr});
    auto req = std::make_unique<storage::WriteRequest>();
    for (auto& [key, value] : records) req->ops.push_back({storage::Column::shipments, key, value});
    std::promise<Status> done;
    req->on_commit = [&done](const Status& s, uint64_t) { done.set_value(s); };
    ASSERT_TRUE(writer.submit(std::move(req)).ok());
    ASSERT_TRUE(done.get_future().get().ok());
    writer.stop();
  }
  void put(const std::vector<fb::ShipmentT>& headers) {
    std::vector<std::pair<std::string, std::string>> records;
    for (auto& h : headers) records.emplace_back(h.shipment_id, encode(h));
    put(records);
  }

  TempDir dir_{"visibility"};
  std::unique_ptr<storage::Store> store_;
};

TEST(VisibilityClassify, ActiveAndFreshFollowStatusBookingAndLatestMilestone) {
  struct Case {
    fb::ShipmentT h;
    bool active, fresh;
  };
  const int64_t window = 24 * kHourUs;
  std::vector<Case> cases;
  cases.push_back({header("a", "c", TrackingStatus::in_transit, kNowUs - kHourUs), true, true});
  cases.push_back({header("b", "c", TrackingStatus::in_transit, kNowUs - 25 * kHourUs), true, false});
  cases.push_back({header("c", "c", TrackingStatus::in_transit, kNowUs - window), true, true});  // at the edge
  // A label waiting for pickup counts from the label time.
  cases.push_back({header("d", "c", TrackingStatus::label_created, 0, kNowUs - 2 * kHourUs), true, true});
  cases.push_back({header("e", "c", TrackingStatus::stale, kNowUs - 80 * kHourUs), true, false});
  cases.push_back({header("f", "c", TrackingStatus::delivered, kNowUs - kHourUs), false, false});
  cases.push_back({header("g", "c", TrackingStatus::return_to_sender, kNowUs - kHourUs), false, false});
  cases.push_back({header("h", "c", TrackingStatus::cancelled, kNowUs - kHourUs), false, false});
  cases.push_back({header("i", "c", TrackingStatus::pending, 0), false, false});
  cases.push_back({header("j", "c", TrackingStatus::label_created, 0, kNowUs, fb::BookingState::voided), false, false});
  cases.push_back({header("k", "c", TrackingStatus::exception, 0, 0, fb::BookingState::rejected), false, false});
  // A scan decides once there is one, even if the label was recorded later.
  cases.push_back({header("m", "c", TrackingStatus::in_transit, kNowUs - 30 * kHourUs, kNowUs - kHourUs), true, false});
  // Active without any milestone time (registered elsewhere, no scan yet): not fresh.
  cases.push_back({header("l", "c", TrackingStatus::exception, 0, 0, fb::BookingState::none), true, false});
  for (auto& c : cases) {
    std::string carrier;
    bool active = true, fresh = true;
    ASSERT_TRUE(classify_shipment(encode(c.h), kNowUs, window, &carrier, &active, &fresh)) << c.h.shipment_id;
    EXPECT_EQ(active, c.active) << c.h.shipment_id;
    EXPECT_EQ(fresh, c.fresh) << c.h.shipment_id;
    EXPECT_EQ(carrier, "c");
  }
  std::string carrier;
  bool active, fresh;
  EXPECT_FALSE(classify_shipment("not a flatbuffer", kNowUs, window, &carrier, &active, &fresh));
  EXPECT_FALSE(classify_shipment("", kNowUs, window, &carrier, &active, &fresh));
}

TEST_F(VisibilityTest, PassCountsByCarrierAcrossSteps) {
  std::vector<fb::ShipmentT> hs;
  // 7 parcelco (5 active, 3 fresh) and 4 freightly (4 active, 1 fresh), ids interleaved
  // so that the steps of 3 headers cut through both carriers.
  hs.push_back(header("S-01", "parcelco", TrackingStatus::in_transit, kNowUs - kHourUs));
  hs.push_back(header("S-02", "freightly", TrackingStatus::in_transit, kNowUs - 30 * kHourUs));
  hs.push_back(header("S-03", "parcelco", TrackingStatus::out_for_delivery, kNowUs - 2 * kHourUs));
  hs.push_back(header("S-04", "freightly", TrackingStatus::picked_up, kNowUs - 3 * kHourUs));
  hs.push_back(header("S-05", "parcelco", TrackingStatus::delivered, kNowUs - kHourUs));
  hs.push_back(header("S-06", "freightly", TrackingStatus::stale, kNowUs - 90 * kHourUs));
  hs.push_back(header("S-07", "parcelco", TrackingStatus::in_transit, kNowUs - 48 * kHourUs));
  hs.push_back(header("S-08", "freightly", TrackingStatus::in_transit, kNowUs - 26 * kHourUs));
  hs.push_back(header("S-09", "parcelco", TrackingStatus::label_created, 0, kNowUs - kHourUs));
  hs.push_back(header("S-10", "parcelco", TrackingStatus::cancelled, 0));
  hs.push_back(header("S-11", "parcelco", TrackingStatus::attempt_failed, kNowUs - 100 * kHourUs));
  put(hs);
  put({{"S-12", "garbage that is no shipment header"}});

  VisibilityOptions o;
  o.pass_interval_ms = 0;  // no thread: the test drives the pass
  o.headers_per_step = 3;
  VisibilityScanner scanner(*store_, o);
  EXPECT_EQ(scanner.figures().completed_us, 0);
  ASSERT_TRUE(scanner.pass(kNowUs).ok());
  auto f = scanner.figures();
  EXPECT_EQ(f.completed_us, kNowUs);
  EXPECT_EQ(f.headers_read, 12u);
  ASSERT_EQ(f.carriers.size(), 2u);
  EXPECT_EQ(f.carriers["parcelco"].active, 5u);
  EXPECT_EQ(f.carriers["parcelco"].fresh, 3u);
  EXPECT_EQ(f.carriers["freightly"].active, 4u);
  EXPECT_EQ(f.carriers["freightly"].fresh, 1u);

  // A day later nothing is fresh; the figures are replaced, not added to.
  ASSERT_TRUE(scanner.pass(kNowUs + 100 * kHourUs).ok());
  f = scanner.figures();
  EXPECT_EQ(f.carriers["parcelco"].active, 5u);
  EXPECT_EQ(f.carriers["parcelco"].fresh, 0u);
  EXPECT_EQ(f.carriers["freightly"].fresh, 0u);
  EXPECT_EQ(f.headers_read, 12u);
}

TEST_F(VisibilityTest, StepSizeDoesNotChangeTheFigures) {
  std::vector<fb::ShipmentT> hs;
  for (int i = 0; i < 50; ++i)
    hs.push_back(header("S-" + std::to_string(1000 + i), i % 3 ? "a" : "b", TrackingStatus::in_transit,
                        kNowUs - (i % 5) * 10 * kHourUs));
  put(hs);
  for (size_t step : {1u, 7u, 49u, 50u, 51u, 1000u}) {
    VisibilityOptions o;
    o.pass_interval_ms = 0;
    o.headers_per_step = step;
    VisibilityScanner scanner(*store_, o);
    ASSERT_TRUE(scanner.pass(kNowUs).ok());
    auto f = scanner.figures();
    EXPECT_EQ(f.headers_read, 50u) << step;
    EXPECT_EQ(f.carriers["a"].active + f.carriers["b"].active, 50u) << step;
    // ages 0,10,20 h are fresh, 30,40 h are not: 30 of 50.
    EXPECT_EQ(f.carriers["a"].fresh + f.carriers["b"].fresh, 30u) << step;
  }
}

}  // namespace
}  // namespace waybill::runtime
