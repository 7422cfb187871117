// Group-commit writer on a real RocksDB store in a temporary directory.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "test_support.hpp"
#include "waybill/storage/group_commit.hpp"

namespace waybill::storage {
namespace {

using testing_support::TempDir;

std::unique_ptr<Store> open_store(const TempDir& dir) {
  auto s = Store::open(testing_support::small_store_options(dir.str()));
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.status().message());
  return s.ok() ? std::move(*s) : nullptr;
}

WriterOptions fast(WriterOptions o = {}) {
  o.sync = false;
  return o;
}

std::unique_ptr<WriteRequest> request(std::string key, std::string value, size_t events,
                                      std::function<void(const Status&, uint64_t)> done) {
  auto r = std::make_unique<WriteRequest>();
  if (!key.empty()) r->ops.push_back({Column::orders, std::move(key), std::move(value)});
  for (size_t i = 0; i < events; ++i) r->events.push_back("event-" + std::to_string(i));
  r->on_commit = std::move(done);
  return r;
}

TEST(GroupCommit, CompletesInSubmissionOrder) {
  TempDir dir("gc_order");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  std::vector<int> order;  // appended on the writer thread only
  std::atomic<int> failures{0};
  {
    GroupCommitWriter w(*store, fast());
    for (int i = 0; i < 2000; ++i) {
      auto st = w.submit(request("k" + std::to_string(i), "v", i % 3, [&, i](const Status& s, uint64_t) {
        if (!s.ok()) ++failures;
        order.push_back(i);
      }));
      ASSERT_TRUE(st.ok()) << st.message();
    }
    w.stop();
    EXPECT_EQ(w.queue_depth(), 0u);
    EXPECT_TRUE(w.healthy());
  }
  ASSERT_EQ(order.size(), 2000u);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(order[i], i);
  EXPECT_EQ(failures.load(), 0);
}

TEST(GroupCommit, EventPositionsAreConsecutiveFromOne) {
  TempDir dir("gc_pos");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  const size_t counts[] = {2, 0, 1, 3, 0, 0, 5, 1};
  std::vector<uint64_t> firsts(std::size(counts), 999);
  {
    GroupCommitWriter w(*store, fast());
    EXPECT_EQ(w.next_position(), 1u);
    for (size_t i = 0; i < std::size(counts); ++i) {
      auto r = std::make_unique<WriteRequest>();
      for (size_t e = 0; e < counts[i]; ++e) r->events.push_back("req" + std::to_string(i) + "-ev" + std::to_string(e));
      r->on_commit = [&firsts, i](const Status& s, uint64_t first) {
        EXPECT_TRUE(s.ok());
        firsts[i] = first;
      };
      ASSERT_TRUE(w.submit(std::move(r)).ok());
    }
    w.stop();
    EXPECT_EQ(w.next_position(), 13u);  // 12 events: positions 1..12
  }
  EXPECT_EQ(firsts, (std::vector<uint64_t>{1, 0, 3, 4, 0, 0, 7, 12}));
  // Each event is stored under its big-endian position, in request order.
  std::vector<std::string> stored;
  ASSERT_TRUE(store->scan_prefix(Column::events, "", 100, [&](std::string_view key, std::string_view value) {
                     EXPECT_EQ(read_be64(key), stored.size() + 1);
                     stored.emplace_back(value);
                     return true;
                   }).ok());
  ASSERT_EQ(stored.size(), 12u);
  EXPECT_EQ(stored[0], "req0-ev0");
  EXPECT_EQ(stored[1], "req0-ev1");
  EXPECT_EQ(stored[2], "req2-ev0");
  EXPECT_EQ(stored[5], "req3-ev2");
  EXPECT_EQ(stored[6], "req6-ev0");
  EXPECT_EQ(stored[11], "req7-ev0");
  std::string last;
  ASSERT_TRUE(store->last_key(Column::events, &last).ok());
  EXPECT_EQ(last, be64(12));
}

TEST(GroupCommit, PositionsContinueAfterReopen) {
  TempDir dir("gc_reopen");
  {
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    GroupCommitWriter w(*store, fast());
    ASSERT_TRUE(w.submit(request("a", "1", 5, nullptr)).ok());
    w.stop();
    EXPECT_EQ(w.next_position(), 6u);
  }
  {
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    std::string value;
    ASSERT_TRUE(store->get(Column::orders, "a", &value).ok());
    EXPECT_EQ(value, "1");
    GroupCommitWriter w(*store, fast());
    EXPECT_EQ(w.next_position(), 6u);
    uint64_t first = 0;
    ASSERT_TRUE(w.submit(request("b", "2", 2, [&](const Status& s, uint64_t p) {
                   EXPECT_TRUE(s.ok());
                   first = p;
                 })).ok());
    w.stop();
    EXPECT_EQ(first, 6u);
    EXPECT_EQ(w.next_position(), 8u);
  }
  {
    auto store = open_store(dir);
    GroupCommitWriter w(*store, fast());
    EXPECT_EQ(w.next_position(), 8u);
  }
}

TEST(GroupCommit, EmptyRequestIsABarrier) {
  TempDir dir("gc_barrier");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  GroupCommitWriter w(*store, fast());
  std::atomic<int> done{0};
  for (int i = 0; i < 500; ++i)
    ASSERT_TRUE(w.submit(request("k" + std::to_string(i), std::string(100, 'x'), 1,
                                 [&](const Status& s, uint64_t) {
                                   EXPECT_TRUE(s.ok());
                                   ++done;
                                 }))
                    .ok());
  std::promise<std::pair<int, uint64_t>> seen;
  auto barrier = std::make_unique<WriteRequest>();
  barrier->on_commit = [&](const Status& s, uint64_t first) {
    EXPECT_TRUE(s.ok());
    seen.set_value({done.load(), first});
  };
  ASSERT_TRUE(w.submit(std::move(barrier)).ok());
  auto fut = seen.get_future();
  ASSERT_EQ(fut.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [completed_before, first] = fut.get();
  EXPECT_EQ(completed_before, 500);
  EXPECT_EQ(first, 0u);
  // Every write before the barrier is readable once it completed.
  std::string v;
  EXPECT_TRUE(store->get(Column::orders, "k499", &v).ok());
}

TEST(GroupCommit, EmptyRequestOnIdleWriterCompletes) {
  TempDir dir("gc_idle_barrier");
  auto store = open_store(dir);
  GroupCommitWriter w(*store, fast());
  std::promise<Status> p;
  auto r = std::make_unique<WriteRequest>();
  r->on_commit = [&](const Status& s, uint64_t) { p.set_value(s); };
  ASSERT_TRUE(w.submit(std::move(r)).ok());
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(w.next_position(), 1u);
}

TEST(GroupCommit, DataIsReadableWhenCompletionRuns) {
  TempDir dir("gc_read");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  GroupCommitWriter w(*store, fast());
  std::promise<std::string> read;
  ASSERT_TRUE(w.submit(request("order-1", "state-1", 0, [&](const Status& s, uint64_t) {
                 std::string v;
                 auto st = store->get(Column::orders, "order-1", &v);
                 read.set_value(st.ok() && s.ok() ? v : std::string("<missing>"));
               })).ok());
  auto f = read.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get(), "state-1");

  // Several columns in one request, and an erase.
  auto r = std::make_unique<WriteRequest>();
  r->ops.push_back({Column::tracking_index, std::string("ups\0" "1Z", 6), "SHP-1"});
  r->ops.push_back({Column::idempotency, "key", "record"});
  r->ops.push_back({Column::orders, "order-1", "", true});
  std::promise<void> done;
  r->on_commit = [&](const Status&, uint64_t) { done.set_value(); };
  ASSERT_TRUE(w.submit(std::move(r)).ok());
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  std::string v;
  EXPECT_EQ(store->get(Column::orders, "order-1", &v).code(), Code::not_found);
  ASSERT_TRUE(store->get(Column::tracking_index, std::string("ups\0" "1Z", 6), &v).ok());
  EXPECT_EQ(v, "SHP-1");
  ASSERT_TRUE(store->get(Column::idempotency, "key", &v).ok());
  EXPECT_EQ(v, "record");
  // Columns are separate key spaces.
  EXPECT_EQ(store->get(Column::shipments, "key", &v).code(), Code::not_found);
}

TEST(GroupCommit, ManyProducersEveryCompletionOnceAndBatched) {
  TempDir dir("gc_many");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  constexpr int kThreads = 4, kPerThread = 5000, kTotal = kThreads * kPerThread;
  std::atomic<size_t> batches{0}, batched_requests{0};
  WriterOptions o = fast();
  o.observer = [&](size_t n, size_t bytes, double secs) {
    ++batches;
    batched_requests += n;
    EXPECT_GT(bytes, 0u);
    EXPECT_GE(secs, 0.0);
  };
  std::vector<std::atomic<int>> calls(kTotal);
  std::vector<uint64_t> positions(kTotal, 0);
  std::atomic<int> failures{0}, retries{0};
  {
    GroupCommitWriter w(*store, o);
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t) {
      producers.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          int id = t * kPerThread + i;
          for (;;) {
            auto st = w.submit(request("t" + std::to_string(id), "v", 1, [&, id](const Status& s, uint64_t p) {
              if (!s.ok()) ++failures;
              calls[id].fetch_add(1);
              positions[id] = p;
            }));
            if (st.ok()) break;
            ASSERT_EQ(st.code(), Code::unavailable);
            ++retries;  // queue full: back off and resubmit
            std::this_thread::yield();
          }
        }
      });
    }
    for (auto& p : producers) p.join();
    w.stop();
    EXPECT_EQ(w.next_position(), static_cast<uint64_t>(kTotal) + 1);
  }
  for (int i = 0; i < kTotal; ++i) ASSERT_EQ(calls[i].load(), 1) << "request " << i;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(batched_requests.load(), static_cast<size_t>(kTotal));
  EXPECT_LT(batches.load(), static_cast<size_t>(kTotal)) << "no batching happened";
  EXPECT_GE(batches.load(), 1u);
  std::set<uint64_t> unique(positions.begin(), positions.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(*unique.begin(), 1u);
  EXPECT_EQ(*unique.rbegin(), static_cast<uint64_t>(kTotal));
}

TEST(GroupCommit, MaxBatchRequestsBoundsBatches) {
  TempDir dir("gc_maxbatch");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  std::mutex m;
  std::condition_variable cv;
  bool release = false, entered = false;
  std::vector<size_t> sizes;
  WriterOptions o = fast();
  o.max_batch_requests = 7;
  o.observer = [&](size_t n, size_t, double) {
    std::unique_lock<std::mutex> lock(m);
    sizes.push_back(n);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  GroupCommitWriter w(*store, o);
  ASSERT_TRUE(w.submit(request("first", "v", 0, nullptr)).ok());
  {
    std::unique_lock<std::mutex> lock(m);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return entered; }));
  }
  // The writer is stalled in the observer: these 30 queue up and drain in batches of 7.
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(w.submit(request("k" + std::to_string(i), "v", 0, nullptr)).ok());
  {
    std::lock_guard<std::mutex> lock(m);
    release = true;
  }
  cv.notify_all();
  w.stop();
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 7, 7, 7, 7, 2}));
}

TEST(GroupCommit, FullQueueRefusesWithUnavailable) {
  TempDir dir("gc_full");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  std::mutex m;
  std::condition_variable cv;
  bool release = false, entered = false;
  WriterOptions o = fast();
  o.queue_capacity = 8;
  o.observer = [&](size_t, size_t, double) {
    std::unique_lock<std::mutex> lock(m);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  std::atomic<int> completions{0};
  bool refused_called = false;
  {
    GroupCommitWriter w(*store, o);
    ASSERT_TRUE(w.submit(request("stall", "v", 0, [&](const Status&, uint64_t) { ++completions; })).ok());
    {
      std::unique_lock<std::mutex> lock(m);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return entered; }));
    }
    int accepted = 0;
    Status refused;
    for (int i = 0; i < 100; ++i) {
      auto st = w.submit(request("k" + std::to_string(i), "v", 1, [&](const Status&, uint64_t) { ++completions; }));
      if (!st.ok()) {
        refused = st;
        break;
      }
      ++accepted;
    }
    EXPECT_EQ(accepted, 8);
    EXPECT_EQ(refused.code(), Code::unavailable);
    EXPECT_EQ(w.queue_depth(), 8u);
    // A refused request's completion is never called.
    auto st = w.submit(request("refused", "v", 0, [&](const Status&, uint64_t) { refused_called = true; }));
    EXPECT_EQ(st.code(), Code::unavailable);
    EXPECT_TRUE(w.healthy());  // backpressure is not a failure
    {
      std::lock_guard<std::mutex> lock(m);
      release = true;
    }
    cv.notify_all();
    w.stop();
  }
  EXPECT_EQ(completions.load(), 9);
  EXPECT_FALSE(refused_called);
  std::string v;
  EXPECT_EQ(store->get(Column::orders, "refused", &v).code(), Code::not_found);
  EXPECT_TRUE(store->get(Column::orders, "k7", &v).ok());
}

TEST(GroupCommit, SubmitAfterStopIsUnavailable) {
  TempDir dir("gc_stop");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  GroupCommitWriter w(*store, fast());
  w.stop();
  w.stop();  // idempotent
  bool called = false;
  auto st = w.submit(request("late", "v", 1, [&](const Status&, uint64_t) { called = true; }));
  EXPECT_EQ(st.code(), Code::unavailable);
  EXPECT_FALSE(called);
  std::string v;
  EXPECT_EQ(store->get(Column::orders, "late", &v).code(), Code::not_found);
}

// submit() checks `stopping_` and only then pushes. If stop() runs in between, the
// writer can see the queue empty and exit before the push lands: submit() returns ok,
// yet the request is never committed and its completion never runs (it also leaks).
TEST(GroupCommit, SubmitRacingStopIsCompletedOrRefused) {
  TempDir dir("gc_stop_race");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  int lost_trials = 0;
  long lost_requests = 0;
  for (int trial = 0; trial < 200; ++trial) {
    auto w = std::make_unique<GroupCommitWriter>(*store, fast());
    std::atomic<long> accepted{0}, completed{0};
    std::atomic<bool> go{false}, stop_returned{false};
    std::vector<std::thread> producers;
    for (int t = 0; t < 3; ++t) {
      producers.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        for (;;) {
          auto r = std::make_unique<WriteRequest>();
          r->on_commit = [&](const Status&, uint64_t) { ++completed; };
          if (w->submit(std::move(r)).ok()) ++accepted;
          else if (stop_returned.load()) break;
        }
      });
    }
    go = true;
    std::this_thread::sleep_for(std::chrono::microseconds(200 + trial % 50));
    w->stop();
    stop_returned = true;
    for (auto& p : producers) p.join();
    if (accepted.load() != completed.load()) {
      ++lost_trials;
      lost_requests += accepted.load() - completed.load();
    }
  }
  EXPECT_EQ(lost_trials, 0) << lost_requests << " accepted requests never completed";
}

TEST(GroupCommit, SyncedWritesSurviveReopen) {
  TempDir dir("gc_sync");
  {
    auto store = open_store(dir);
    WriterOptions o;  // sync = true (the default)
    EXPECT_TRUE(o.sync);
    GroupCommitWriter w(*store, o);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(w.submit(request("s" + std::to_string(i), std::to_string(i), 1, nullptr)).ok());
    w.stop();
  }
  auto store = open_store(dir);
  for (int i = 0; i < 20; ++i) {
    std::string v;
    ASSERT_TRUE(store->get(Column::orders, "s" + std::to_string(i), &v).ok()) << i;
    EXPECT_EQ(v, std::to_string(i));
  }
}

TEST(StoreKeys, BigEndianEncodingsSortNumerically) {
  EXPECT_EQ(be64(1), std::string("\0\0\0\0\0\0\0\1", 8));
  EXPECT_EQ(be32(0x01020304), std::string("\1\2\3\4", 4));
  EXPECT_EQ(read_be64(be64(0x0102030405060708ULL)), 0x0102030405060708ULL);
  EXPECT_LT(be64(255), be64(256));
  EXPECT_LT(be64(1), be64(UINT64_MAX));
  EXPECT_STREQ(column_name(Column::events), "events");
  EXPECT_STREQ(column_name(Column::meta), "default");
}

TEST(StoreKeys, ScanPrefixStopsAtPrefixAndLimit) {
  TempDir dir("store_scan");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  {
    GroupCommitWriter w(*store, fast());
    auto r = std::make_unique<WriteRequest>();
    const std::string keys[] = {std::string("a\0" "1", 3), std::string("a\0" "2", 3), std::string("a\0" "3", 3),
                                "ab", "b"};
    for (auto& k : keys) r->ops.push_back({Column::order_shipments, k, ""});
    ASSERT_TRUE(w.submit(std::move(r)).ok());
    w.stop();
  }
  std::vector<std::string> keys;
  ASSERT_TRUE(store->scan_prefix(Column::order_shipments, std::string("a\0", 2), 100, [&](std::string_view k, std::string_view) {
                     keys.emplace_back(k);
                     return true;
                   }).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{std::string("a\0" "1", 3), std::string("a\0" "2", 3), std::string("a\0" "3", 3)}));
  keys.clear();
  ASSERT_TRUE(store->scan_prefix(Column::order_shipments, std::string("a\0", 2), 2, [&](std::string_view k, std::string_view) {
                     keys.emplace_back(k);
                     return true;
                   }).ok());
  EXPECT_EQ(keys.size(), 2u);
  std::string last;
  EXPECT_EQ(store->last_key(Column::milestones, &last).code(), Code::not_found);
}

// Manual mode (deterministic simulation): nothing commits until commit_next(), whose
// completions run on the calling thread in submission order; discard_pending() drops
// queued requests as a crash would.
TEST(GroupCommit, ManualModeCommitsOnlyWhenAsked) {
  TempDir dir("gc_manual");
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  WriterOptions o = fast();
  o.manual = true;
  GroupCommitWriter w(*store, o);
  std::vector<std::pair<int, uint64_t>> done;
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(w.submit(request("m" + std::to_string(i), "v", 1, [&, i](const Status& s, uint64_t pos) {
                 EXPECT_TRUE(s.ok());
                 EXPECT_EQ(std::this_thread::get_id(), caller);
                 done.push_back({i, pos});
               })).ok());
  EXPECT_EQ(w.queue_depth(), 4u);
  std::string v;
  EXPECT_EQ(store->get(Column::orders, "m0", &v).code(), Code::not_found);
  EXPECT_EQ(w.commit_next(2), 2u);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0], (std::pair<int, uint64_t>{0, 1}));
  EXPECT_EQ(done[1], (std::pair<int, uint64_t>{1, 2}));
  EXPECT_TRUE(store->get(Column::orders, "m1", &v).ok());
  EXPECT_EQ(w.discard_pending(), 2u);
  EXPECT_EQ(w.commit_next(8), 0u);
  EXPECT_EQ(done.size(), 2u);
  EXPECT_EQ(store->get(Column::orders, "m2", &v).code(), Code::not_found);
  EXPECT_EQ(w.next_position(), 3u);
  w.stop();
  EXPECT_FALSE(w.submit(request("late", "v", 0, nullptr)).ok());
}

}  // namespace
}  // namespace waybill::storage
