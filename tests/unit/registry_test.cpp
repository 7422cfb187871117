// EntityRegistry with a real CAF actor system and trivial counting actors: activation,
// the resident cap with LRU passivation, backpressure when all are busy, and sweeping.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>

#include "test_support.hpp"
#include "waybill/actors/entity.hpp"
#include "waybill/actors/registry.hpp"

namespace waybill::actors {
namespace {

using testing_support::eventually;

int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What the test actors report, per entity id.
struct Book {
  std::mutex mutex;
  std::map<std::string, int> spawned;      // incarnations started
  std::map<std::string, int> handled;      // messages handled, all incarnations
  std::map<std::string, int> passivated;   // passivate messages received
  std::map<std::string, std::shared_ptr<EntityHandle>> handle;  // of the latest incarnation

  int get(std::map<std::string, int>& m, const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = m.find(id);
    return it == m.end() ? 0 : it->second;
  }
  std::shared_ptr<EntityHandle> handle_of(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex);
    return handle[id];
  }
};

caf::behavior counting_actor(caf::event_based_actor* self, std::string id, std::shared_ptr<EntityHandle> handle,
                             Book* book) {
  return {
      [=](int) {
        {
          std::lock_guard<std::mutex> lock(book->mutex);
          ++book->handled[id];
        }
        handle->done();
      },
      [=](passivate_atom) {
        {
          std::lock_guard<std::mutex> lock(book->mutex);
          ++book->passivated[id];
        }
        self->quit();
      },
  };
}

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() : system_(config()) {}

  static caf::actor_system_config& config() {
    static caf::actor_system_config cfg = [] {
      caf::actor_system_config c;
      c.set("logger.verbosity", caf::atom("quiet"));
      c.set("scheduler.max-threads", size_t{2});
      return c;
    }();
    return cfg;
  }

  std::unique_ptr<EntityRegistry> make(size_t max_resident, int64_t idle_timeout_ms, size_t shards) {
    RegistryOptions o;
    o.max_resident = max_resident;
    o.idle_timeout_ms = idle_timeout_ms;
    o.shards = shards;
    return std::make_unique<EntityRegistry>(
        "thing", o, [this](const std::string& id, std::shared_ptr<EntityHandle> h) {
          {
            std::lock_guard<std::mutex> lock(book_.mutex);
            ++book_.spawned[id];
            book_.handle[id] = h;
          }
          return system_.spawn(counting_actor, id, h, &book_);
        });
  }

  // Sends one message and waits until the actor handled it (so the entity is idle).
  // `extra_inflight` is work the test itself holds on the entity.
  void send_and_settle(EntityRegistry& r, const std::string& id, int64_t extra_inflight = 0) {
    int before = book_.get(book_.handled, id);
    ASSERT_TRUE(r.send(id, caf::make_message(1)).ok()) << id;
    ASSERT_TRUE(eventually([&] { return book_.get(book_.handled, id) == before + 1; })) << id;
    auto h = book_.handle_of(id);
    ASSERT_TRUE(eventually([&] { return h->inflight.load() == extra_inflight; })) << id;
  }

  Book book_;  // outlives the actor system: actors write to it until they are gone
  caf::actor_system system_;
};

TEST_F(RegistryTest, SendActivatesOncePerId) {
  auto reg = make(1000, 60000, 4);
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(reg->send("a", caf::make_message(i)).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(reg->send("b", caf::make_message(i)).ok());
  EXPECT_TRUE(eventually([&] { return book_.get(book_.handled, "a") == 25 && book_.get(book_.handled, "b") == 10; }));
  EXPECT_EQ(book_.get(book_.spawned, "a"), 1);
  EXPECT_EQ(book_.get(book_.spawned, "b"), 1);
  EXPECT_EQ(reg->activations(), 2u);
  EXPECT_EQ(reg->resident(), 2u);
  EXPECT_EQ(reg->passivations(), 0u);
  EXPECT_EQ(reg->kind(), "thing");
  EXPECT_TRUE(eventually([&] { return book_.handle_of("a")->inflight.load() == 0; }));
}

TEST_F(RegistryTest, ResidentCapPassivatesLeastRecentlyUsedIdle) {
  auto reg = make(3, 60000, 1);
  send_and_settle(*reg, "e0");
  send_and_settle(*reg, "e1");
  send_and_settle(*reg, "e2");
  send_and_settle(*reg, "e0");  // e0 is now the most recent; e1 the coldest
  EXPECT_EQ(reg->resident(), 3u);
  send_and_settle(*reg, "e3");
  EXPECT_EQ(reg->resident(), 3u);
  EXPECT_EQ(reg->passivations(), 1u);
  EXPECT_TRUE(eventually([&] { return book_.get(book_.passivated, "e1") == 1; }));
  EXPECT_EQ(book_.get(book_.passivated, "e0"), 0);
  EXPECT_EQ(book_.get(book_.passivated, "e2"), 0);
  // e0 is still resident: no re-activation.
  send_and_settle(*reg, "e0");
  EXPECT_EQ(book_.get(book_.spawned, "e0"), 1);
  EXPECT_EQ(reg->activations(), 4u);

  for (int i = 4; i < 12; ++i) {
    send_and_settle(*reg, "e" + std::to_string(i));
    EXPECT_LE(reg->resident(), 3u);
  }
  EXPECT_EQ(reg->resident(), 3u);
  EXPECT_EQ(reg->activations(), 12u);
  EXPECT_EQ(reg->passivations(), 9u);
  // A passivated entity comes back as a new incarnation.
  send_and_settle(*reg, "e1");
  EXPECT_EQ(book_.get(book_.spawned, "e1"), 2);
  EXPECT_EQ(book_.get(book_.handled, "e1"), 2);
  EXPECT_EQ(reg->activations(), 13u);
  EXPECT_EQ(reg->resident(), 3u);
}

TEST_F(RegistryTest, AllBusyGivesUnavailable) {
  auto reg = make(2, 60000, 1);
  send_and_settle(*reg, "a");
  send_and_settle(*reg, "b");
  auto ha = book_.handle_of("a");
  auto hb = book_.handle_of("b");
  ha->inflight.fetch_add(1);        // a message still being handled
  hb->pending_writes.fetch_add(1);  // a write not yet committed
  auto st = reg->send("c", caf::make_message(1));
  EXPECT_EQ(st.code(), Code::unavailable);
  EXPECT_EQ(reg->resident(), 2u);
  EXPECT_EQ(reg->activations(), 2u);
  EXPECT_EQ(reg->passivations(), 0u);
  EXPECT_EQ(book_.get(book_.spawned, "c"), 0);
  // Busy entities still take messages.
  send_and_settle(*reg, "a", 1);
  EXPECT_EQ(book_.get(book_.handled, "a"), 2);

  // Once b's write committed it can be passivated to make room.
  hb->pending_writes.fetch_sub(1);
  send_and_settle(*reg, "c");
  EXPECT_EQ(reg->resident(), 2u);
  EXPECT_TRUE(eventually([&] { return book_.get(book_.passivated, "b") == 1; }));
  EXPECT_EQ(book_.get(book_.passivated, "a"), 0);
  ha->inflight.fetch_sub(1);
}

TEST_F(RegistryTest, SweepPassivatesOnlyIdleEntitiesPastTimeout) {
  auto reg = make(100, 60000, 1);
  for (const char* id : {"idle1", "idle2", "writing", "busy"}) send_and_settle(*reg, id);
  auto writing = book_.handle_of("writing");
  auto busy = book_.handle_of("busy");
  writing->pending_writes.fetch_add(1);
  busy->inflight.fetch_add(1);

  // Not idle for long enough yet.
  EXPECT_EQ(reg->sweep(steady_now_ms()), 0u);
  EXPECT_EQ(reg->resident(), 4u);

  // An hour later: the idle ones go, the ones with work outstanding stay.
  EXPECT_EQ(reg->sweep(steady_now_ms() + 3600 * 1000), 2u);
  EXPECT_EQ(reg->resident(), 2u);
  EXPECT_EQ(reg->passivations(), 2u);
  EXPECT_TRUE(eventually([&] {
    return book_.get(book_.passivated, "idle1") == 1 && book_.get(book_.passivated, "idle2") == 1;
  }));
  EXPECT_EQ(book_.get(book_.passivated, "writing"), 0);
  EXPECT_EQ(book_.get(book_.passivated, "busy"), 0);

  // Sweeping again changes nothing while they are busy.
  EXPECT_EQ(reg->sweep(steady_now_ms() + 3600 * 1000), 0u);
  EXPECT_EQ(reg->passivate_all(), 0u);

  writing->pending_writes.fetch_sub(1);
  EXPECT_EQ(reg->sweep(steady_now_ms() + 3600 * 1000), 1u);
  busy->inflight.fetch_sub(1);
  EXPECT_EQ(reg->passivate_all(), 1u);
  EXPECT_EQ(reg->resident(), 0u);
  EXPECT_EQ(reg->passivations(), 4u);
}

TEST_F(RegistryTest, SweepUsesIdleTimeout) {
  auto reg = make(100, 200, 1);
  send_and_settle(*reg, "old");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  send_and_settle(*reg, "fresh");
  // "old" was last used more than 200 ms ago; "fresh" just now.
  EXPECT_EQ(reg->sweep(steady_now_ms()), 1u);
  EXPECT_TRUE(eventually([&] { return book_.get(book_.passivated, "old") == 1; }));
  EXPECT_EQ(book_.get(book_.passivated, "fresh"), 0);
  EXPECT_EQ(reg->resident(), 1u);
  // Past the timeout of "fresh" too.
  EXPECT_EQ(reg->sweep(steady_now_ms() + 201), 1u);
  EXPECT_EQ(reg->resident(), 0u);
}

TEST_F(RegistryTest, RecentlyUsedBusyEntryDoesNotShieldOlderIdleOnes) {
  // LRU walk from the cold end: a busy cold entry is skipped, the next idle one goes.
  auto reg = make(100, 60000, 1);
  send_and_settle(*reg, "cold-busy");
  send_and_settle(*reg, "warm-idle");
  book_.handle_of("cold-busy")->inflight.fetch_add(1);
  EXPECT_EQ(reg->sweep(steady_now_ms() + 3600 * 1000), 1u);
  EXPECT_TRUE(eventually([&] { return book_.get(book_.passivated, "warm-idle") == 1; }));
  book_.handle_of("cold-busy")->inflight.fetch_sub(1);
}

TEST_F(RegistryTest, PassivateAllEmptiesTheRegistry) {
  auto reg = make(100, 60000, 8);
  for (int i = 0; i < 20; ++i) send_and_settle(*reg, "x" + std::to_string(i));
  EXPECT_EQ(reg->resident(), 20u);
  EXPECT_EQ(reg->passivate_all(), 20u);
  EXPECT_EQ(reg->resident(), 0u);
  EXPECT_TRUE(eventually([&] {
    for (int i = 0; i < 20; ++i)
      if (book_.get(book_.passivated, "x" + std::to_string(i)) != 1) return false;
    return true;
  }));
}

TEST_F(RegistryTest, CapHoldsWithSeveralShards) {
  auto reg = make(5, 60000, 2);
  for (int i = 0; i < 30; ++i) {
    send_and_settle(*reg, "k" + std::to_string(i));
    EXPECT_LE(reg->resident(), 5u);
  }
  EXPECT_EQ(reg->activations(), 30u);
  EXPECT_EQ(reg->activations() - reg->passivations(), reg->resident());
}

// RegistryOptions::max_resident is "most resident actors of this kind", but each shard
// gets max(1, max_resident / shards) slots: with fewer slots than shards every shard
// still keeps one, so up to `shards` actors stay resident.
TEST_F(RegistryTest, CapHoldsWithMoreShardsThanCap) {
  auto reg = make(2, 60000, 8);
  size_t peak = 0;
  for (int i = 0; i < 64; ++i) {
    send_and_settle(*reg, "k" + std::to_string(i));
    peak = std::max(peak, reg->resident());
  }
  EXPECT_LE(peak, 2u);
}

}  // namespace
}  // namespace waybill::actors
