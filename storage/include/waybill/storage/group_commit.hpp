// Group-commit writer: many actors, one writer thread. Producers push requests into a
// bounded lock-free queue; the writer drains up to `max_batch_requests` of them into ONE
// RocksDB WriteBatch, commits it (fsync by default), and only then are the requests'
// completions run - on a separate completion thread, so the writer builds and commits
// the next batch meanwhile. Completions run in submission order, so an acknowledged
// request implies every request submitted before it is durable too.
//
// Manual mode (WriterOptions::manual) has no threads: requests wait in submission order
// until the owner calls commit_next(), which commits them in one batch and runs their
// completions on the calling thread. Deterministic simulation uses it to choose when
// commits happen relative to actor steps; a "crash" drops what is still queued.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "waybill/status.hpp"
#include "waybill/storage/store.hpp"

namespace waybill::storage {

/// Everything one actor decision must make durable together: state, outbox events and
/// the idempotency record. Either all of it commits or none of it does.
struct WriteRequest {
  std::vector<WriteOp> ops;
  /// Encoded fb::Event payloads; the writer assigns consecutive global positions and
  /// stores them in Column::events in this order.
  std::vector<std::string> events;
  /// When not empty, each event's position is also indexed under
  /// Column::event_index as event_index_key \0 be64(position) (e.g. the ERP order id,
  /// so an order's trace reads its events without scanning the outbox).
  std::string event_index_key;
  /// Per-event index keys instead, parallel to `events` (empty entries: not indexed),
  /// for requests whose events concern different orders (an invoice's lines).
  std::vector<std::string> event_index_keys;
  /// Runs on the completion thread after the batch committed (or failed), in submission
  /// order. Must not block: post to another executor or send an actor message.
  /// `first_position` is the position of events[0] (0 when there are no events).
  std::function<void(const Status& status, uint64_t first_position)> on_commit;
};

struct WriterOptions {
  /// fsync the WAL on every batch. Turning it off keeps crash safety against process
  /// death but not against power loss. Default: true.
  bool sync = true;
  /// Capacity of the submission queue in requests; submit() fails with `unavailable`
  /// when full. At most 65000 (the lock-free queue's index width). Default: 65000.
  size_t queue_capacity = 65000;
  /// Committed batches waiting for their completions to run; the writer waits when this
  /// many are pending (bounds memory when completions lag). Default: 4.
  size_t max_pending_completions = 4;
  /// Most requests merged into one WriteBatch. Default: 4096.
  size_t max_batch_requests = 4096;
  /// Called after each committed batch with its request count, byte size and the
  /// commit (write + fsync) time in seconds. Runs on the writer thread. Optional.
  std::function<void(size_t requests, size_t bytes, double commit_seconds)> observer;
  /// No writer or completion thread: submitted requests wait until commit_next() (see
  /// the top of this file). For deterministic simulation. Default: false.
  bool manual = false;
};

class GroupCommitWriter {
 public:
  GroupCommitWriter(Store& store, WriterOptions options);
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  /// Queues a request. On failure (queue full, writer failed or stopped) the request's
  /// completion is NOT called and the returned status says why.
  Status submit(std::unique_ptr<WriteRequest> request);

  /// Drains what is queued, commits it, and joins the writer thread. Idempotent.
  void stop();

  /// Manual mode: commits up to `max_requests` of the oldest queued requests in one
  /// batch and runs their completions on this thread, in submission order. Returns how
  /// many were committed. Not to be called concurrently with itself.
  size_t commit_next(size_t max_requests);
  /// Manual mode: drops every queued request without committing it or running its
  /// completion (what a crash does to writes not yet committed). Returns how many.
  size_t discard_pending();

  /// Sticky: once a commit failed every later submit fails (the store is suspect).
  bool healthy() const { return !failed_.load(std::memory_order_acquire); }
  /// Position the next event will get (positions start at 1).
  uint64_t next_position() const { return next_position_.load(std::memory_order_acquire); }
  size_t queue_depth() const { return depth_.load(std::memory_order_relaxed); }

 private:
  struct Queue;
  struct Committed {
    Status status;
    std::vector<WriteRequest*> batch;
    std::vector<uint64_t> first_positions;
  };
  void run();
  void complete_loop();
  Committed commit(std::vector<WriteRequest*>& batch);
  static void run_completions(Committed& c);

  Store& store_;
  WriterOptions options_;
  std::unique_ptr<Queue> queue_;
  std::atomic<size_t> depth_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int> submitting_{0};  // submits between their stop check and their push
  std::atomic<bool> failed_{false};
  std::atomic<bool> writer_waiting_{false};
  std::atomic<uint64_t> next_position_{1};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::thread thread_;
  std::mutex done_mutex_;
  std::condition_variable done_cv_;        // completer waits for work, writer for room
  std::deque<Committed> done_;
  bool writer_exited_ = false;
  std::thread completer_;
  std::mutex manual_mutex_;                        // manual mode: guards manual_queue_
  std::deque<std::unique_ptr<WriteRequest>> manual_queue_;
};

}  // namespace waybill::storage
