#include "waybill/storage/group_commit.hpp"

#include <cassert>
#include <chrono>
#include <thread>

#include <boost/lockfree/queue.hpp>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

namespace waybill::storage {

struct GroupCommitWriter::Queue {
  explicit Queue(size_t capacity) : q(capacity) {}
  boost::lockfree::queue<WriteRequest*, boost::lockfree::fixed_sized<true>> q;
};

GroupCommitWriter::GroupCommitWriter(Store& store, WriterOptions options)
    : store_(store), options_(std::move(options)) {
  assert(options_.queue_capacity > 0 && options_.queue_capacity <= 65000);
  assert(options_.max_batch_requests > 0);
  queue_ = std::make_unique<Queue>(options_.queue_capacity);
  // Past every position ever issued, including events moved off this node's tail.
  if (auto last = store_.last_event_position(); last.ok()) next_position_ = *last + 1;
  if (options_.manual) return;  // no threads: the owner commits with commit_next()
  completer_ = std::thread([this] { complete_loop(); });
  thread_ = std::thread([this] { run(); });
}

GroupCommitWriter::~GroupCommitWriter() { stop(); }

Status GroupCommitWriter::submit(std::unique_ptr<WriteRequest> request) {
  // Counted from before the stop check to after the push, so that stop() can wait for
  // every submit that passed the check: each one is either refused or committed.
  submitting_.fetch_add(1);
  struct Uncount {
    std::atomic<int>& n;
    ~Uncount() { n.fetch_sub(1); }
  } uncount{submitting_};
  if (stopping_.load())
    return {Code::unavailable, "storage writer is stopping"};
  if (failed_.load(std::memory_order_acquire))
    return {Code::unavailable, "storage writer failed; the server needs attention"};
  if (options_.manual) {
    std::lock_guard<std::mutex> lock(manual_mutex_);
    if (manual_queue_.size() >= options_.queue_capacity) return {Code::unavailable, "storage writer queue is full"};
    manual_queue_.push_back(std::move(request));
    depth_.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  if (!queue_->q.bounded_push(request.get()))
    return {Code::unavailable, "storage writer queue is full"};
  request.release();  // owned by the queue now
  depth_.fetch_add(1, std::memory_order_relaxed);
  // seq_cst pairing with run(): either we see the writer waiting and wake it, or the
  // writer's emptiness check (after it set the flag) sees our push.
  if (writer_waiting_.load()) {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    wake_.notify_one();
  }
  return {};
}

void GroupCommitWriter::stop() {
  if (options_.manual) {
    stopping_ = true;
    while (commit_next(options_.max_batch_requests) > 0) {
    }
    return;
  }
  if (!stopping_.exchange(true)) {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lock(done_mutex_);
    writer_exited_ = true;
  }
  done_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

void GroupCommitWriter::complete_loop() {
  std::unique_lock<std::mutex> lock(done_mutex_);
  for (;;) {
    done_cv_.wait(lock, [&] { return !done_.empty() || writer_exited_; });
    if (done_.empty()) return;  // writer gone and nothing left
    Committed c = std::move(done_.front());
    done_.pop_front();
    lock.unlock();
    done_cv_.notify_all();  // room for the writer
    run_completions(c);
    lock.lock();
  }
}

void GroupCommitWriter::run_completions(Committed& c) {
  for (size_t i = 0; i < c.batch.size(); ++i) {
    std::unique_ptr<WriteRequest> r(c.batch[i]);
    if (r->on_commit) r->on_commit(c.status, c.status.ok() ? c.first_positions[i] : 0);
  }
}

size_t GroupCommitWriter::commit_next(size_t max_requests) {
  assert(options_.manual);
  std::vector<WriteRequest*> batch;
  {
    std::lock_guard<std::mutex> lock(manual_mutex_);
    while (batch.size() < max_requests && !manual_queue_.empty()) {
      batch.push_back(manual_queue_.front().release());
      manual_queue_.pop_front();
    }
  }
  if (batch.empty()) return 0;
  depth_.fetch_sub(batch.size(), std::memory_order_relaxed);
  size_t n = batch.size();
  auto committed = commit(batch);
  run_completions(committed);
  return n;
}

size_t GroupCommitWriter::discard_pending() {
  assert(options_.manual);
  std::deque<std::unique_ptr<WriteRequest>> dropped;
  {
    std::lock_guard<std::mutex> lock(manual_mutex_);
    dropped.swap(manual_queue_);
  }
  depth_.fetch_sub(dropped.size(), std::memory_order_relaxed);
  return dropped.size();
}

void GroupCommitWriter::run() {
  std::vector<WriteRequest*> batch;
  batch.reserve(options_.max_batch_requests);
  for (;;) {
    WriteRequest* r = nullptr;
    while (batch.size() < options_.max_batch_requests && queue_->q.pop(r)) batch.push_back(r);
    if (!batch.empty()) {
      depth_.fetch_sub(batch.size(), std::memory_order_relaxed);
      auto committed = commit(batch);
      // Hand the batch over to the completion thread; wait while it lags too far.
      std::unique_lock<std::mutex> lock(done_mutex_);
      done_cv_.wait(lock, [&] { return done_.size() < options_.max_pending_completions; });
      done_.push_back(std::move(committed));
      lock.unlock();
      done_cv_.notify_all();
      batch.clear();
      batch.reserve(options_.max_batch_requests);
      continue;
    }
    if (stopping_.load()) {
      // Submits that passed their stop check before it was set may still be pushing.
      if (submitting_.load() > 0) {
        std::this_thread::yield();
        continue;
      }
      if (queue_->q.empty()) return;
      continue;  // drain what they pushed
    }
    std::unique_lock<std::mutex> lock(wake_mutex_);
    writer_waiting_.store(true);
    if (queue_->q.empty() && !stopping_.load())
      wake_.wait_for(lock, std::chrono::milliseconds(50));
    writer_waiting_.store(false);
  }
}

GroupCommitWriter::Committed GroupCommitWriter::commit(std::vector<WriteRequest*>& batch) {
  rocksdb::WriteBatch wb;
  std::vector<uint64_t> first_positions(batch.size(), 0);
  uint64_t position = next_position_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < batch.size(); ++i) {
    WriteRequest* r = batch[i];
    for (auto& op : r->ops) {
      auto* cf = store_.handle(op.column);
      if (op.erase) wb.Delete(cf, op.key);
      else wb.Put(cf, op.key, op.value);
    }
    if (!r->events.empty()) first_positions[i] = position;
    assert(r->event_index_keys.empty() || r->event_index_keys.size() == r->events.size());
    for (size_t e = 0; e < r->events.size(); ++e) {
      const std::string& index_key = r->event_index_keys.empty() ? r->event_index_key : r->event_index_keys[e];
      if (!index_key.empty()) wb.Put(store_.handle(Column::event_index), index_key + '\0' + be64(position), "");
      wb.Put(store_.handle(Column::events), be64(position++), r->events[e]);
    }
  }

  Status status;
  if (failed_.load()) {
    status = {Code::unavailable, "storage writer failed earlier"};
  } else if (wb.Count() > 0) {
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    auto t0 = std::chrono::steady_clock::now();
    auto s = store_.db()->Write(wo, &wb);
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s.ok()) {
      next_position_.store(position, std::memory_order_release);
      if (options_.observer) options_.observer(batch.size(), wb.GetDataSize(), secs);
    } else {
      failed_.store(true);
      status = {Code::internal, "commit failed: " + s.ToString()};
    }
  }
  return Committed{std::move(status), std::move(batch), std::move(first_positions)};
}

}  // namespace waybill::storage
