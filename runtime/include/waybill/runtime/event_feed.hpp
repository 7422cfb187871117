// The durable event feed: the outbox read in position order as CloudEvents 1.0 JSON,
// replayable from any position, with long-poll. Waiters are bounded; a commit wakes
// them, a deadline answers them with what there is (possibly nothing).
#pragma once

#include <condition_variable>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "waybill/storage/store.hpp"

namespace waybill::runtime {

struct EventQuery {
  uint64_t after = 0;      // return events with position > after
  size_t limit = 100;      // at most this many (1..1000)
  std::string type;        // exact event type filter, empty = all
  std::string order_id;    // only events of this ERP order, empty = all
  int wait_ms = 0;         // long-poll: wait this long for a first event (0..30000)
};

struct EventPage {
  std::string json;        // {"events":[...CloudEvents...],"next_after":N}
  size_t count = 0;
};

struct EventFeedOptions {
  /// Value of the CloudEvents "source" attribute. Default: "/waybill".
  std::string source = "/waybill";
  /// Most concurrent long-poll waiters; beyond it requests are answered at once. Default: 1024.
  size_t max_waiters = 1024;
  /// Most events scanned per request while filtering. Default: 100000.
  size_t max_scan = 100000;
};

/// One outbox event as CloudEvents 1.0 JSON.
std::string render_cloudevent(uint64_t position, const std::string& stored_event, const std::string& source);

class EventFeed {
 public:
  EventFeed(const storage::Store& store, EventFeedOptions options);
  ~EventFeed();

  /// Reads a page now.
  Result<EventPage> read(const EventQuery& query) const;
  /// Reads a page; when it is empty and wait_ms > 0, waits for a commit or the
  /// deadline. `done` runs exactly once, possibly on the feed's thread.
  void read_or_wait(const EventQuery& query, std::function<void(Result<EventPage>)> done);
  /// Called after every committed batch (cheap: just wakes the waiter thread).
  void notify_commit();
  void stop();

 private:
  struct Waiter {
    EventQuery query;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(Result<EventPage>)> done;
  };
  void run();

  const storage::Store& store_;
  EventFeedOptions options_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::list<Waiter> waiters_;
  uint64_t commits_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace waybill::runtime
