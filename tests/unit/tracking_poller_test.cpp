// TrackingPoller against a fake carrier adapter and fake shipment actors, on a real
// store: it polls every shipment of its index once per sweep and nothing else, keeps
// at most max_concurrency polls at the adapter, retries transient failures at the next
// ticks (bounded), holds polls while the carrier's breaker is open, and hands mapped
// events to the shipment actors as MilestoneBatches.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <mutex>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>

#include "test_support.hpp"
#include "waybill/actors/carrier_adapter.hpp"
#include "waybill/actors/tracking_poll.hpp"
#include "waybill/runtime/tracking_poller.hpp"

namespace waybill::runtime {
namespace {

using namespace std::chrono_literals;
using testing_support::eventually;
using testing_support::TempDir;

// What the fake carrier saw and how it answers.
struct FakeCarrier {
  std::mutex mu;
  std::map<std::string, int> calls;       // by carrier shipment id
  std::map<std::string, int> fail_first;  // fail this many calls of that shipment
  int in_flight = 0;
  int max_in_flight = 0;

  int calls_of(const std::string& pro) {
    std::lock_guard lock(mu);
    return calls[pro];
  }
  int total() {
    std::lock_guard lock(mu);
    int n = 0;
    for (auto& [pro, c] : calls) n += c;
    return n;
  }
};

struct FakeAnswer {
  std::shared_ptr<actors::CarrierCall> call;
};

}  // namespace
}  // namespace waybill::runtime

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::runtime::FakeAnswer>)

namespace waybill::runtime {
namespace {

// Answers each call 15 ms after it arrived, so that calls overlap.
caf::behavior fake_adapter(caf::event_based_actor* self, FakeCarrier* fc) {
  return {
      [=](std::shared_ptr<actors::CarrierCall>& call) {
        {
          std::lock_guard lock(fc->mu);
          ++fc->calls[call->input.carrier_shipment_id];
          fc->max_in_flight = std::max(fc->max_in_flight, ++fc->in_flight);
        }
        EXPECT_EQ(call->kind, actors::CallKind::track);
        EXPECT_EQ(call->max_attempts, 1);
        self->delayed_send(self, 15ms, std::make_shared<FakeAnswer>(FakeAnswer{call}));
      },
      [=](std::shared_ptr<FakeAnswer>& a) {
        auto& pro = a->call->input.carrier_shipment_id;
        actors::CallResult r;
        {
          std::lock_guard lock(fc->mu);
          --fc->in_flight;
          auto& left = fc->fail_first[pro];
          r.outcome = left > 0 ? actors::CallOutcome::failed : actors::CallOutcome::ok;
          if (left > 0) --left;
        }
        if (r.outcome == actors::CallOutcome::ok) {
          fb::MilestoneT m;
          m.status = TrackingStatus::in_transit;
          m.raw_code = "IT";
          m.event_time_us = now_us();
          m.event_id = "ev-" + pro;
          r.tracking.milestones.push_back(std::move(m));
          r.tracking.total = 1;
        }
        a->call->done(std::move(r));
      },
  };
}

// What the fake shipment actors received, by shipment id.
struct Shipments {
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> events;

  size_t batches(const std::string& id) {
    std::lock_guard lock(mu);
    return events.count(id) ? events[id].size() : 0;
  }
};

caf::behavior fake_shipment(caf::event_based_actor* self, std::string id, std::shared_ptr<actors::EntityHandle> handle,
                            Shipments* book) {
  return {
      [=](std::shared_ptr<actors::MilestoneBatch>& b) {
        for (auto& item : b->items) {
          {
            std::lock_guard lock(book->mu);
            book->events[id].push_back(item.command.milestone.event_id);
          }
          EXPECT_GT(item.command.milestone.received_us, 0);
          b->batch->settle(item.line, {"applied", {}, id});
        }
        handle->done();
      },
      [=](actors::passivate_atom) { self->quit(); },
  };
}

fb::ShipmentT header(const std::string& id, const std::string& pro, TrackingStatus status) {
  fb::ShipmentT h;
  h.shipment_id = id;
  h.carrier = "polly";
  h.carrier_shipment_id = pro;
  h.tracking_numbers = {"T" + pro};
  h.status = status;
  h.booking_state = fb::BookingState::booked;
  return h;
}

class TrackingPollerTest : public ::testing::Test {
 protected:
  static caf::actor_system_config& config() {
    static caf::actor_system_config cfg = [] {
      caf::actor_system_config c;
      c.set("logger.verbosity", caf::atom("quiet"));
      c.set("scheduler.max-threads", size_t{2});
      return c;
    }();
    return cfg;
  }

  TrackingPollerTest() : system_(config()) {}

  void SetUp() override {
    auto s = storage::Store::open(testing_support::small_store_options(dir_.str()));
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(*s);
    registry_ = std::make_unique<actors::EntityRegistry>(
        "shipment", actors::RegistryOptions{1000, 60000, 4},
        [this](const std::string& id, std::shared_ptr<actors::EntityHandle> h) {
          return system_.spawn(fake_shipment, id, std::move(h), &shipments_);
        });
    actors::CarrierProfile p;
    p.name = "polly";
    auto& o = p.tracking_poll;
    o.enabled = true;
    o.interval_s = 30;  // one sweep per test unless a test shortens it
    o.max_concurrency = 3;
    o.batch_size = 10;
    o.tick_ms = 20;
    o.max_retries = 2;
    o.request.path = "/t/{carrier_shipment_id}";
    dir_carriers_.profiles.push_back(p);
    dir_carriers_.stats["polly"] = std::make_shared<actors::AdapterStats>();
    dir_carriers_.adapters["polly"] = system_.spawn(fake_adapter, &carrier_);
  }

  void TearDown() override {
    if (poller_) poller_->stop();
    for (auto& [name, a] : dir_carriers_.adapters) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    std::this_thread::sleep_for(50ms);  // answers under way reach the (stopped) poller
    registry_->stop_all();
  }

  // Writes shipment headers and, for the active ones, their poll index entries.
  void put(const std::vector<fb::ShipmentT>& headers, bool index_all = false) {
    storage::GroupCommitWriter writer(*store_, storage::WriterOptions{false, 1000, 4, 1000, nullptr});
    auto req = std::make_unique<storage::WriteRequest>();
    for (auto& h : headers) {
      req->ops.push_back({storage::Column::shipments, h.shipment_id, encode(h)});
      if (index_all || actors::tracking_poll_wanted(h))
        req->ops.push_back({storage::Column::tracking_poll, actors::tracking_poll_key(h.carrier, h.shipment_id), {}});
    }
    std::promise<Status> done;
    req->on_commit = [&done](const Status& s, uint64_t) { done.set_value(s); };
    ASSERT_TRUE(writer.submit(std::move(req)).ok());
    ASSERT_TRUE(done.get_future().get().ok());
    writer.stop();
  }

  void start() { poller_ = TrackingPoller::start(system_, {store_.get(), registry_.get(), &dir_carriers_}); }
  PollStats& stats() { return *poller_->stats().at("polly"); }

  TempDir dir_{"tracking_poller"};
  std::unique_ptr<storage::Store> store_;
  FakeCarrier carrier_;
  Shipments shipments_;
  actors::CarrierDirectory dir_carriers_;
  std::unique_ptr<actors::EntityRegistry> registry_;
  std::unique_ptr<TrackingPoller> poller_;
  caf::actor_system system_;  // destroyed first: joins every actor above
};

TEST_F(TrackingPollerTest, PollsEachIndexedShipmentOncePerSweepWithinTheWindow) {
  std::vector<fb::ShipmentT> hs;
  for (int i = 0; i < 25; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "%02d", i);
    hs.push_back(header(std::string("S-") + id, std::string("PRO-") + id, TrackingStatus::label_created));
  }
  // An index entry whose shipment is delivered (a stale entry) is not polled.
  hs.push_back(header("S-99", "PRO-99", TrackingStatus::delivered));
  put(hs, /*index_all=*/true);
  carrier_.fail_first["PRO-03"] = 2;    // recovers at the second retry
  carrier_.fail_first["PRO-05"] = 100;  // never recovers
  start();

  ASSERT_TRUE(eventually([&] { return stats().sweeps_completed.load() >= 1 && stats().in_flight.load() == 0; }, 5s));
  ASSERT_TRUE(eventually([&] { return carrier_.calls_of("PRO-05") == 3; }, 2s));
  std::this_thread::sleep_for(300ms);  // many ticks: nothing more until the next sweep
  for (auto& h : hs) {
    const auto& pro = h.carrier_shipment_id;
    int want = pro == "PRO-99" ? 0 : pro == "PRO-03" || pro == "PRO-05" ? 3 : 1;
    EXPECT_EQ(carrier_.calls_of(pro), want) << pro;
    size_t batches = pro == "PRO-99" || pro == "PRO-05" ? 0 : 1;
    EXPECT_EQ(shipments_.batches(h.shipment_id), batches) << h.shipment_id;
  }
  EXPECT_LE(carrier_.max_in_flight, 3) << "more polls in flight than max_concurrency";
  EXPECT_EQ(carrier_.max_in_flight, 3) << "the window was never used in full";
  auto& s = stats();
  EXPECT_EQ(s.polls_sent.load(), 29u);  // 25 shipments once, two of them twice more
  EXPECT_EQ(s.polls_failed.load(), 5u);
  EXPECT_EQ(s.polls_retried.load(), 4u);  // the third failure of PRO-05 waits for the next sweep
  EXPECT_EQ(s.events_received.load(), 24u);
  EXPECT_EQ(s.events_applied.load(), 24u);
  EXPECT_EQ(s.last_sweep_shipments.load(), 26);
  EXPECT_EQ(s.lag_us.load(), 0);
}

TEST_F(TrackingPollerTest, NextSweepAfterTheIntervalAndNothingWhileTheBreakerIsOpen) {
  dir_carriers_.profiles[0].tracking_poll.interval_s = 0.2;
  put({header("S-1", "PRO-1", TrackingStatus::in_transit), header("S-2", "PRO-2", TrackingStatus::picked_up)});
  dir_carriers_.stats["polly"]->breaker_state = 1;  // open
  start();
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(carrier_.total(), 0) << "polled through an open breaker";
  EXPECT_GT(stats().lag_us.load(), 0) << "due polls held back show as lag";
  dir_carriers_.stats["polly"]->breaker_state = 0;
  ASSERT_TRUE(eventually([&] { return carrier_.calls_of("PRO-1") >= 3 && carrier_.calls_of("PRO-2") >= 3; }, 3s))
      << "a sweep every 0.2 s";
  EXPECT_TRUE(eventually([&] { return shipments_.batches("S-1") >= 3; }, 2s)) << "answers reach the shipment";
}

TEST_F(TrackingPollerTest, CarriersWithoutPollingGetNoPoller) {
  dir_carriers_.profiles[0].tracking_poll.enabled = false;
  put({header("S-1", "PRO-1", TrackingStatus::in_transit)}, true);
  start();
  EXPECT_TRUE(poller_->stats().empty());
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(carrier_.total(), 0);
}

}  // namespace
}  // namespace waybill::runtime
