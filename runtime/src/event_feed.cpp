#include "waybill/runtime/event_feed.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "waybill/actors/model.hpp"
#include "waybill/actors/render_json.hpp"
#include "waybill/actors/settlement.hpp"
#include "waybill/actors/sla_logic.hpp"

namespace waybill::runtime {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(Writer& w, const char* k, const std::string& v) {
  w.Key(k);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void write_event(Writer& w, const EventFeedOptions& o, uint64_t position, const fb::EventT& e) {
  const bool order = e.kind == fb::EntityKind::order;
  const bool invoice = e.kind == fb::EntityKind::invoice;
  w.StartObject();
  str(w, "specversion", "1.0");
  str(w, "id", std::to_string(position));
  str(w, "source", o.source);
  str(w, "type", e.type);
  str(w, "subject", (order ? "orders/" : invoice ? "invoices/" : "shipments/") + e.entity_id);
  str(w, "time", format_rfc3339(e.time_us));
  str(w, "datacontenttype", "application/json");
  // Extension attributes (lower-case alphanumeric names per CloudEvents 1.0).
  w.Key("position");
  w.Uint64(position);
  w.Key("entityseq");
  w.Uint64(e.entity_seq);
  str(w, "orderid", e.order_id);
  if (!e.moved_from_node.empty()) {
    // Moved by a rebalance: the position it had on its old owner's feed, so a consumer
    // that read it there can tell the copy from a new event.
    str(w, "movedfrom", e.moved_from_node);
    w.Key("movedfromposition");
    w.Uint64(e.moved_from_position);
  }
  w.Key("data");
  w.StartObject();
  if (invoice) {
    // Freight lines: the ERP posts freight.matched, finance works freight.disputed.
    str(w, "invoice_id", e.entity_id);
    if (!e.order_id.empty()) str(w, "order_id", e.order_id);
    if (!e.reason.empty()) str(w, "reason", e.reason);
    if (e.freight) actors::freight_posting(w, *e.freight);
    w.EndObject();
    w.EndObject();
    return;
  }
  str(w, order ? "order_id" : "shipment_id", e.entity_id);
  if (!order) str(w, "order_id", e.order_id);
  str(w, "status", order ? name(e.order_status) : name(e.shipment_status));
  if (!e.reason.empty()) str(w, "reason", e.reason);
  if (e.milestone) {
    w.Key("milestone");
    actors::milestone(w, *e.milestone);
  }
  if (e.sla) {
    str(w, "sla", actors::name(e.sla->kind));
    str(w, "deadline", format_rfc3339(e.sla->due_us ? e.sla->due_us : e.sla->fired_due_us));
  }
  if (e.notification) actors::notification(w, *e.notification);
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string render_cloudevent(uint64_t position, const std::string& stored, const std::string& source) {
  auto ev = decode<fb::EventT>(stored);
  if (!ev) return {};
  rapidjson::StringBuffer sb;
  Writer w(sb);
  EventFeedOptions o;
  o.source = source;
  write_event(w, o, position, *ev);
  return {sb.GetString(), sb.GetSize()};
}

EventFeed::EventFeed(const storage::Store& store, EventFeedOptions options)
    : store_(store), options_(std::move(options)), thread_([this] { run(); }) {}

EventFeed::~EventFeed() { stop(); }

void EventFeed::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& w : waiters_) w.done(Status{Code::unavailable, "server is stopping"});
  waiters_.clear();
}

Result<EventPage> EventFeed::read(const EventQuery& q) const {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("events");
  w.StartArray();
  size_t count = 0;
  uint64_t last = q.after;
  Status bad;
  // Seek to the first position after `after`: positions are big-endian keys.
  std::string start = storage::be64(q.after + 1);
  auto scan = store_.scan_from(storage::Column::events, start, options_.max_scan,
                               [&](std::string_view key, std::string_view value) {
                                 uint64_t pos = storage::read_be64(key);
                                 last = pos;
                                 auto ev = decode<fb::EventT>(value);
                                 if (!ev) {
                                   bad = Status{Code::internal, "event " + std::to_string(pos) + " is corrupt"};
                                   return false;
                                 }
                                 if ((!q.type.empty() && ev->type != q.type) ||
                                     (!q.order_id.empty() && ev->order_id != q.order_id))
                                   return true;
                                 write_event(w, options_, pos, *ev);
                                 return ++count < q.limit;
                               });
  if (!scan.ok()) return scan;
  if (!bad.ok()) return bad;
  w.EndArray();
  // Resume point: after the last event looked at, so filtered-out events are not rescanned.
  w.Key("next_after");
  w.Uint64(last);
  w.EndObject();
  return EventPage{std::string(sb.GetString(), sb.GetSize()), count};
}

void EventFeed::read_or_wait(const EventQuery& q, std::function<void(Result<EventPage>)> done) {
  auto page = read(q);
  if (!page || page->count > 0 || q.wait_ms <= 0) return done(std::move(page));
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_ || waiters_.size() >= options_.max_waiters) return done(std::move(page));
  waiters_.push_back({q, std::chrono::steady_clock::now() + std::chrono::milliseconds(q.wait_ms), std::move(done)});
  cv_.notify_all();
}

void EventFeed::notify_commit() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++commits_;
    if (waiters_.empty()) return;
  }
  cv_.notify_all();
}

void EventFeed::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t seen = commits_;
  while (!stopping_) {
    auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (auto& w : waiters_) next = std::min(next, w.deadline);
    cv_.wait_until(lock, next, [&] { return stopping_ || commits_ != seen; });
    if (stopping_) break;
    bool committed = commits_ != seen;
    seen = commits_;
    auto now = std::chrono::steady_clock::now();
    // Serve outside the lock: reads touch RocksDB.
    std::list<Waiter> ready;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      auto cur = it++;
      if (committed || cur->deadline <= now) ready.splice(ready.end(), waiters_, cur);
    }
    lock.unlock();
    std::list<Waiter> again;
    for (auto& w : ready) {
      auto page = read(w.query);
      if (page && page->count == 0 && std::chrono::steady_clock::now() < w.deadline) again.push_back(std::move(w));
      else w.done(std::move(page));
    }
    lock.lock();
    waiters_.splice(waiters_.end(), again);
  }
}

}  // namespace waybill::runtime
