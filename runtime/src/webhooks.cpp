#include "waybill/runtime/webhooks.hpp"

#include <cstring>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>


#include "waybill/actors/model.hpp"
#include "waybill/runtime/crypto.hpp"
#include "waybill/runtime/event_feed.hpp"
#include "waybill/runtime/log.hpp"

namespace waybill::runtime {

using storage::Column;
using Clock = std::chrono::steady_clock;

namespace {

constexpr log::Logger kLog("webhooks");

bool type_matches(const fb::SubscriptionT& s, const std::string& type) {
  if (s.event_types.empty()) return true;
  for (auto& t : s.event_types) {
    if (!t.empty() && t.back() == '*' ? type.rfind(t.substr(0, t.size() - 1), 0) == 0 : type == t) return true;
  }
  return false;
}

struct Url {
  std::string host;
  uint16_t port = 80;
  std::string target = "/";
};

std::optional<Url> parse_url(const std::string& url) {
  if (url.rfind("http://", 0) != 0) return std::nullopt;
  std::string rest = url.substr(7);
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  Url u;
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  u.host = hostport.substr(0, colon);
  if (colon != std::string::npos) {
    try {
      int p = std::stoi(hostport.substr(colon + 1));
      if (p <= 0 || p > 65535) return std::nullopt;
      u.port = static_cast<uint16_t>(p);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (u.host.empty()) return std::nullopt;
  return u;
}

}  // namespace

std::string sign_webhook(const std::vector<std::string>& secrets, const std::string& id, int64_t ts,
                         const std::string& body) {
  std::string content = id + "." + std::to_string(ts) + "." + body;
  std::string header;
  for (auto& secret : secrets) {
    std::string key = secret.rfind("whsec_", 0) == 0 ? base64_decode(secret.substr(6)) : secret;
    if (!header.empty()) header += ' ';
    header += "v1," + base64_encode(hmac_sha256(key, content));
  }
  return header;
}

struct WebhookDispatcher::Impl {
  struct Sub {
    fb::SubscriptionT def;
    std::optional<Url> url;
    uint64_t cursor = 0;  // delivered up to (persisted asynchronously)
    bool in_flight = false;
    int attempts = 0;
    int64_t first_failure_us = 0;
    Clock::time_point next_try;
    std::deque<uint64_t> replay;  // dead letters to redeliver before going on
    std::string last_error;
  };

  storage::Store& store;
  storage::GroupCommitWriter& writer;
  HttpClient& client;
  WebhookOptions options;
  mutable std::mutex mutex;
  std::condition_variable cv;
  bool stopping = false;
  uint64_t wakeups = 0;
  std::map<std::string, std::shared_ptr<Sub>> subs;
  WebhookStats stats;
  std::mt19937_64 rng{std::random_device{}()};
  std::atomic<int64_t> deliveries{0};  // successful ones, for crash_after_deliveries
  std::thread thread;

  Impl(storage::Store& s, storage::GroupCommitWriter& w, HttpClient& c, WebhookOptions o)
      : store(s), writer(w), client(c), options(std::move(o)) {}

  // Durable write, waited for (admin operations and cursor moves are small).
  Status write_sync(std::vector<storage::WriteOp> ops) {
    auto req = std::make_unique<storage::WriteRequest>();
    req->ops = std::move(ops);
    auto done = std::make_shared<std::promise<Status>>();
    auto fut = done->get_future();
    req->on_commit = [done](const Status& s, uint64_t) { done->set_value(s); };
    if (auto st = writer.submit(std::move(req)); !st.ok()) return st;
    return fut.get();
  }

  void write_async(std::vector<storage::WriteOp> ops) {
    auto req = std::make_unique<storage::WriteRequest>();
    req->ops = std::move(ops);
    // A lost cursor write only means redelivery (at least once), never loss.
    (void)writer.submit(std::move(req));
  }

  void wake() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++wakeups;
    }
    cv.notify_all();
  }

  std::chrono::milliseconds backoff(int attempts) {
    int64_t cap = std::min<int64_t>(options.max_backoff_ms, int64_t{options.base_backoff_ms} << std::min(attempts, 20));
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(cap / 2, std::max<int64_t>(cap, 1))(rng));
  }

  // Finds the next event for `s` (caller holds no lock; reads RocksDB).
  std::optional<std::pair<uint64_t, std::string>> next_event(Sub& s, uint64_t from_cursor, uint64_t* scanned_to) {
    std::optional<std::pair<uint64_t, std::string>> found;
    *scanned_to = from_cursor;
    std::vector<uint64_t> scratch;
    (void)store.scan_from(Column::events, storage::be64(from_cursor + 1), options.max_scan,
                          [&](std::string_view key, std::string_view value) {
                            uint64_t pos = storage::read_be64(key);
                            *scanned_to = pos;
                            // Iterator memory may be unaligned; FlatBuffers reads in place.
                            scratch.assign((value.size() + 7) / 8, 0);
                            std::memcpy(scratch.data(), value.data(), value.size());
                            auto ev = flatbuffers::GetRoot<fb::Event>(scratch.data());
                            if (!type_matches(s.def, ev->type()->str())) return true;
                            found.emplace(pos, std::string(value));
                            return false;
                          });
    return found;
  }

  void deliver(const std::shared_ptr<Sub>& s, uint64_t pos, const std::string& stored, bool replaying) {
    std::string body = render_cloudevent(pos, stored, options.source);
    std::string id = "evt_" + std::to_string(pos);
    int64_t ts = now_us() / 1000000;
    ClientRequest req;
    req.method = "POST";
    req.host = s->url->host;
    req.port = s->url->port;
    req.target = s->url->target;
    req.content_type = "application/json";
    req.body = body;
    req.timeout_ms = options.timeout_ms;
    req.headers.emplace_back("webhook-id", id);
    req.headers.emplace_back("webhook-timestamp", std::to_string(ts));
    req.headers.emplace_back("webhook-signature", sign_webhook(s->def.secrets, id, ts, body));
    int64_t event_us = 0;  // read from an aligned copy (see next_event)
    {
      std::vector<uint64_t> scratch((stored.size() + 7) / 8, 0);
      std::memcpy(scratch.data(), stored.data(), stored.size());
      event_us = flatbuffers::GetRoot<fb::Event>(scratch.data())->time_us();
    }
    client.send(std::move(req),
                [this, s, pos, replaying, event_us](ClientResult r) { on_result(s, pos, replaying, r, event_us); });
  }

  void on_result(const std::shared_ptr<Sub>& s, uint64_t pos, bool replaying, const ClientResult& r,
                 int64_t event_us) {
    bool ok = r.status.ok() && r.response.status / 100 == 2;
    if (ok) {
      stats.delivered.fetch_add(1, std::memory_order_relaxed);
      if (stats.observe_delivery_latency)
        stats.observe_delivery_latency(static_cast<double>(std::max<int64_t>(0, now_us() - event_us)) / 1e6);
    } else {
      stats.failed_attempts.fetch_add(1, std::memory_order_relaxed);
    }
    if (ok && options.crash_after_deliveries > 0 && deliveries.fetch_add(1) + 1 == options.crash_after_deliveries)
      std::_Exit(137);  // injected crash point: delivered, cursor not yet persisted
    std::vector<storage::WriteOp> ops;
    {
      std::lock_guard<std::mutex> lock(mutex);
      s->in_flight = false;
      const std::string& id = s->def.id;
      std::string dead_key = id + '\0' + storage::be64(pos);
      if (ok) {
        s->attempts = 0;
        s->first_failure_us = 0;
        s->last_error.clear();
        if (replaying) {
          if (!s->replay.empty()) s->replay.pop_front();
          ops.push_back({Column::dead_letters, dead_key, {}, true});
        } else {
          s->cursor = std::max(s->cursor, pos);
          ops.push_back({Column::subscriptions, "c/" + id, storage::be64(s->cursor)});
        }
      } else {
        s->last_error = r.status.ok() ? "HTTP " + std::to_string(r.response.status) : r.status.message();
        if (s->first_failure_us == 0) s->first_failure_us = now_us();
        ++s->attempts;
        if (now_us() - s->first_failure_us > options.retry_period_s * 1000000) {
          fb::DeadLetterT dl;
          dl.subscription_id = id;
          dl.position = pos;
          dl.attempts = static_cast<uint32_t>(s->attempts);
          dl.last_error = s->last_error;
          dl.first_failure_us = s->first_failure_us;
          dl.dead_us = now_us();
          kLog.warn("event dead-lettered",
                    {{"subscription", id}, {"position", pos}, {"attempts", s->attempts}, {"error", s->last_error}});
          stats.dead_lettered.fetch_add(1, std::memory_order_relaxed);
          if (replaying) {
            if (!s->replay.empty()) s->replay.pop_front();  // stays dead; record refreshed below
          } else {
            s->cursor = std::max(s->cursor, pos);
            ops.push_back({Column::subscriptions, "c/" + id, storage::be64(s->cursor)});
          }
          ops.push_back({Column::dead_letters, dead_key, encode(dl)});
          s->attempts = 0;
          s->first_failure_us = 0;
        } else {
          s->next_try = Clock::now() + backoff(s->attempts);
        }
      }
      ++wakeups;
    }
    if (!ops.empty()) write_async(std::move(ops));
    cv.notify_all();
  }

  void run() {
    std::unique_lock<std::mutex> lock(mutex);
    uint64_t seen = wakeups;
    while (!stopping) {
      cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return stopping || wakeups != seen; });
      if (stopping) break;
      seen = wakeups;
      std::vector<std::shared_ptr<Sub>> ready;
      auto now = Clock::now();
      for (auto& [id, s] : subs)
        if (!s->def.disabled && !s->in_flight && s->url && now >= s->next_try) ready.push_back(s);
      lock.unlock();
      for (auto& s : ready) {
        uint64_t cursor, replay_pos = 0;
        bool replaying;
        {
          std::lock_guard<std::mutex> l(mutex);
          cursor = s->cursor;
          replaying = !s->replay.empty();
          if (replaying) replay_pos = s->replay.front();
        }
        if (replaying) {
          std::string stored;
          bool found = store.get(Column::events, storage::be64(replay_pos), &stored).ok();
          {
            std::lock_guard<std::mutex> l(mutex);
            if (found) s->in_flight = true;
            else s->replay.pop_front();
          }
          if (found) deliver(s, replay_pos, stored, true);  // outside the lock: may complete inline
          continue;
        }
        uint64_t scanned_to = cursor;
        auto next = next_event(*s, cursor, &scanned_to);
        {
          std::lock_guard<std::mutex> l(mutex);
          if (!next) {
            // Nothing for this subscriber up to scanned_to: skip those for good.
            if (scanned_to > s->cursor) {
              s->cursor = scanned_to;
              ++wakeups;  // there may be more beyond the scan window
            }
            continue;
          }
          s->in_flight = true;
        }
        deliver(s, next->first, next->second, false);
      }
      lock.lock();
    }
  }
};

WebhookDispatcher::WebhookDispatcher(storage::Store& store, storage::GroupCommitWriter& writer, HttpClient& client,
                                     WebhookOptions options)
    : impl_(std::make_unique<Impl>(store, writer, client, std::move(options))) {}

WebhookDispatcher::~WebhookDispatcher() { stop(); }

Status WebhookDispatcher::start() {
  auto& s = *impl_;
  if (s.options.crash_after_deliveries > 0)
    kLog.warn("fault injection: the process dies after a number of webhook deliveries",
              {{"crash_after_deliveries", s.options.crash_after_deliveries}});
  Status bad;
  auto st = s.store.scan_prefix(Column::subscriptions, "s/", s.options.max_subscriptions,
                                [&](std::string_view, std::string_view v) {
                                  auto sub = decode<fb::SubscriptionT>(v);
                                  if (!sub) {
                                    bad = {Code::internal, "corrupt subscription record"};
                                    return false;
                                  }
                                  auto entry = std::make_shared<Impl::Sub>();
                                  entry->def = std::move(*sub);
                                  entry->url = parse_url(entry->def.url);
                                  std::string c;
                                  if (s.store.get(Column::subscriptions, "c/" + entry->def.id, &c).ok())
                                    entry->cursor = storage::read_be64(c);
                                  s.subs[entry->def.id] = std::move(entry);
                                  return true;
                                });
  if (!st.ok()) return st;
  if (!bad.ok()) return bad;
  s.thread = std::thread([&s] { s.run(); });
  return {};
}

void WebhookDispatcher::stop() {
  auto& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.stopping) return;
    s.stopping = true;
  }
  s.cv.notify_all();
  if (s.thread.joinable()) s.thread.join();
}

void WebhookDispatcher::notify_commit() { impl_->wake(); }

Result<fb::SubscriptionT> WebhookDispatcher::create(fb::SubscriptionT sub) {
  auto& s = *impl_;
  if (!parse_url(sub.url)) return Status{Code::invalid_argument, "must be an http://host:port/path URL", "url"};
  if (sub.secrets.empty()) sub.secrets.push_back("whsec_" + random_base64(24));
  if (sub.secrets.size() > 2) return Status{Code::invalid_argument, "at most two secrets (rotation)", "secrets"};
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.subs.size() >= s.options.max_subscriptions)
      return Status{Code::overloaded, "too many subscriptions", "url"};
  }
  sub.id = "sub_" + std::to_string(now_us()) + std::to_string(s.rng() % 1000);
  sub.created_us = now_us();
  // New subscribers start at the current end of the outbox.
  uint64_t cursor = s.writer.next_position() - 1;
  auto st = s.write_sync({{Column::subscriptions, "s/" + sub.id, encode(sub)},
                          {Column::subscriptions, "c/" + sub.id, storage::be64(cursor)}});
  if (!st.ok()) return st;
  auto entry = std::make_shared<Impl::Sub>();
  entry->def = sub;
  entry->url = parse_url(sub.url);
  entry->cursor = cursor;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.subs[sub.id] = std::move(entry);
  }
  s.wake();
  return sub;
}

Status WebhookDispatcher::remove(const std::string& id) {
  auto& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.subs.erase(id)) return {Code::not_found, "subscription '" + id + "' not found"};
  }
  return s.write_sync({{Column::subscriptions, "s/" + id, {}, true}, {Column::subscriptions, "c/" + id, {}, true}});
}

Status WebhookDispatcher::set_disabled(const std::string& id, bool disabled) {
  auto& s = *impl_;
  fb::SubscriptionT def;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.subs.find(id);
    if (it == s.subs.end()) return {Code::not_found, "subscription '" + id + "' not found"};
    it->second->def.disabled = disabled;
    def = it->second->def;
  }
  auto st = s.write_sync({{Column::subscriptions, "s/" + id, encode(def)}});
  s.wake();
  return st;
}

std::vector<std::pair<fb::SubscriptionT, uint64_t>> WebhookDispatcher::list() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<std::pair<fb::SubscriptionT, uint64_t>> out;
  for (auto& [id, s] : impl_->subs) out.emplace_back(s->def, s->cursor);
  return out;
}

uint64_t WebhookDispatcher::backlog() const {
  const uint64_t head = impl_->writer.next_position() - 1;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  uint64_t behind = 0;
  for (auto& [id, s] : impl_->subs)
    if (!s->def.disabled && head > s->cursor) behind += head - s->cursor;
  return behind;
}

WebhookStats& WebhookDispatcher::stats() { return impl_->stats; }

Result<std::vector<fb::DeadLetterT>> WebhookDispatcher::dead_letters(const std::string& id, size_t limit) const {
  std::vector<fb::DeadLetterT> out;
  auto st = impl_->store.scan_prefix(Column::dead_letters, id + '\0', limit, [&](std::string_view, std::string_view v) {
    if (auto dl = decode<fb::DeadLetterT>(v)) out.push_back(std::move(*dl));
    return true;
  });
  if (!st.ok()) return st;
  return out;
}

Result<size_t> WebhookDispatcher::replay_dead_letters(const std::string& id) {
  auto letters = dead_letters(id, 100000);
  if (!letters) return letters.status();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto it = impl_->subs.find(id);
  if (it == impl_->subs.end()) return Status{Code::not_found, "subscription '" + id + "' not found"};
  for (auto& dl : *letters) it->second->replay.push_back(dl.position);
  it->second->next_try = Clock::now();
  ++impl_->wakeups;
  impl_->cv.notify_all();
  return letters->size();
}

}  // namespace waybill::runtime
