// The crash-consistency oracle shared by the crash tests: a mixed load of orders,
// lifecycle steps, registered shipments and tracking milestones (single and NDJSON,
// out of order, repeated, some with Idempotency-Key) from keep-alive clients, a record
// of what was acknowledged, and a verifier that reads everything back after a restart.
//
// The oracle is what the clients were told: a request counts only when its 2xx answer
// arrived. A request whose connection broke is "unknown": its change may or may not be
// stored, but never twice and never half. Besides what was acknowledged, the verifier
// remembers the highest status it has read per entity, so a status observed going
// backwards between two verifications is a violation even if nobody acknowledged it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "json.hpp"
#include "server_process.hpp"
#include "sim_process.hpp"

namespace waybill::itest::crash {

using namespace std::chrono_literals;

// ---- domain knowledge the checks rely on ----------------------------------------

// How far an order has come; cancelled is off the scale and checked separately.
inline int order_rank(const std::string& s) {
  static const std::map<std::string, int> ranks = {
      {"received", 0}, {"validated", 1}, {"released", 2}, {"allocated", 3}, {"packed", 4},
      {"shipping", 5}, {"shipped", 6},   {"exception", 6}, {"delivered", 7}};
  auto it = ranks.find(s);
  return it == ranks.end() ? -1 : it->second;
}

// The life of every parcel in this test. Its (phase, event time, sequence) increases
// with the step, so "step a outranks step b" is simply a > b.
struct Step {
  const char* status;
  const char* raw_code;
};
constexpr Step kScript[] = {{"label_created", "LC"},   {"picked_up", "PU"},        {"in_transit", "DP"},
                            {"in_transit", "AR"},      {"out_for_delivery", "OD"}, {"delivered", "DL"}};
constexpr int kSteps = static_cast<int>(std::size(kScript));

// Rendered the way the server renders times, so identities compare as strings.
inline std::string step_time(int step) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "2026-05-01T%02d:%02d:00.000000Z", 6 + 2 * step, 7 * step % 60);
  return buf;
}

inline std::string step_identity(int step) {
  return std::string(kScript[step].status) + "|" + step_time(step) + "|" + kScript[step].raw_code;
}

inline int step_from_identity(const std::string& identity) {
  for (int i = 0; i < kSteps; ++i)
    if (step_identity(i) == identity) return i;
  return -1;
}

// ---- the oracle -----------------------------------------------------------------

struct OrderRecord {
  std::string create_body;
  std::string create_answer;  // body of the 201
  int acked_rank = 1;         // validated once created
  bool cancel_attempted = false;
  bool cancel_acked = false;
  int touched = 0;            // last load cycle that sent a request about it
};

struct ShipmentRecord {
  std::string order_id, carrier;
  std::vector<std::string> tracking_numbers;
  std::set<int> acked_steps;  // answered applied, late or duplicate: stored
  int best_applied = -1;      // highest step answered "applied"
  int touched = 0;            // last load cycle that sent a request about it
};

// A request made with an Idempotency-Key and its acknowledged answer.
struct KeyedRequest {
  std::string order_id, shipment_id;  // what it is about
  std::string target, body, content_type, key;
  int status = 0;
  std::string answer;
};

struct Counters {
  uint64_t orders = 0, releases = 0, allocations = 0, packs = 0, cancels = 0, shipments = 0;
  uint64_t applied = 0, late = 0, duplicate = 0, single_posts = 0, ndjson_posts = 0;
  uint64_t unknown = 0, unavailable = 0, create_replays = 0, duplicate_replays = 0;
};

class Oracle {
 public:
  std::mutex mu;
  std::map<std::string, OrderRecord> orders;
  std::map<std::string, ShipmentRecord> shipments;
  std::vector<KeyedRequest> keyed;
  Counters counters;
  std::vector<std::string> unexpected;  // answers the contract does not allow

  void note_unexpected(std::string what) {
    std::lock_guard lock(mu);
    if (unexpected.size() < 200) unexpected.push_back(std::move(what));
  }

  // Highest status read so far per entity, across restarts: a later read below it is a
  // regression whether or not the change that raised it was acknowledged (a status that
  // was read was durable). Returns the violation, empty when there is none.
  std::string observe_order(const std::string& id, const std::string& status) {
    std::lock_guard lock(mu);
    ++reads_checked;
    if (status == "cancelled") {
      cancelled_seen.insert(id);
      return {};
    }
    if (cancelled_seen.count(id)) return "order " + id + " read '" + status + "' after it was read cancelled";
    int& best = best_order_rank[id];
    if (order_rank(status) < best)
      return "order " + id + " read '" + status + "' (rank " + std::to_string(order_rank(status)) +
             ") after a read at rank " + std::to_string(best);
    best = std::max(best, order_rank(status));
    return {};
  }
  std::string observe_shipment(const std::string& id, const std::string& status) {
    std::lock_guard lock(mu);
    ++reads_checked;
    int& best = best_shipment_phase[id];
    if (tracking_phase(status) < best)
      return "shipment " + id + " read '" + status + "' (phase " + std::to_string(tracking_phase(status)) +
             ") after a read at phase " + std::to_string(best);
    best = std::max(best, tracking_phase(status));
    return {};
  }
  uint64_t reads_checked = 0;

 private:
  std::map<std::string, int> best_order_rank, best_shipment_phase;
  std::set<std::string> cancelled_seen;
};

// ---- the load -------------------------------------------------------------------

struct LoadContext {
  std::string host;
  uint16_t port;
  int cycle;
  Oracle* oracle;
  std::atomic<bool>* stop;
  /// Pack some released orders (25%). Off when packing would start carrier bookings
  /// for orders whose addresses no carrier serves.
  bool pack = true;
};

struct Sent {
  std::string shipment_id;
  int step;
};

class Worker {
 public:
  Worker(const LoadContext& ctx, int index, uint64_t seed)
      : ctx_(ctx), index_(index), rng_(seed), client_(ctx.host, ctx.port, 5s) {}

  void run() {
    if (ctx_.cycle > 1) replay_old_work();
    while (!ctx_.stop->load() && alive_) one_order();
  }

 private:
  bool chance(int percent) { return std::uniform_int_distribution<int>(0, 99)(rng_) < percent; }
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  // Sends a request; false when the answer is not 2xx. A transport error means the
  // server is gone: the worker stops (its request is "unknown").
  bool send(HttpResult& res, const std::string& target, const std::string& body, const HttpHeaders& h = {},
            bool ndjson = false, int expect = 0) {
    res = ndjson ? client_.post_ndjson(target, body, h) : client_.post(target, body, h);
    if (!res.answered()) {
      alive_ = false;
      std::lock_guard lock(ctx_.oracle->mu);
      ++ctx_.oracle->counters.unknown;
      return false;
    }
    if (res.status == 503) {
      std::lock_guard lock(ctx_.oracle->mu);
      ++ctx_.oracle->counters.unavailable;
      return false;
    }
    if (!res.is_2xx() || (expect && res.status != expect)) {
      ctx_.oracle->note_unexpected("POST " + target + " " + body + " -> " + res.describe());
      return false;
    }
    return true;
  }

  void remember_keyed(const std::string& order_id, const std::string& shipment_id, const std::string& target,
                      const std::string& body, const std::string& content_type, const std::string& key,
                      const HttpResult& res) {
    std::lock_guard lock(ctx_.oracle->mu);
    ctx_.oracle->keyed.push_back({order_id, shipment_id, target, body, content_type, key, res.status, res.body});
  }

  std::string prefix() const { return "c" + std::to_string(ctx_.cycle) + "-t" + std::to_string(index_) + "-"; }

  void one_order() {
    auto& o = *ctx_.oracle;
    const std::string n = std::to_string(++seq_);
    const std::string order_id = "O-" + prefix() + n;
    static const char* levels[] = {"ground", "express", "overnight", "freight"};
    std::string body = "{\"order_id\":" + quote(order_id) +
                       ",\"ship_to\":{\"name\":\"Crash Test\",\"street\":\"" + n +
                       " Kill St\",\"city\":\"Restart\",\"postal_code\":\"0" + n + "\",\"country\":\"DE\"}" +
                       ",\"service_level\":\"" + levels[pick(4)] + "\",\"lines\":[{\"sku\":\"SKU-" +
                       std::to_string(pick(50)) + "\",\"qty\":" + std::to_string(1 + pick(5)) + "}]" +
                       ",\"packages\":[{\"weight_kg\":" + std::to_string(1 + pick(30)) +
                       ".5,\"length_cm\":30,\"width_cm\":20,\"height_cm\":10}],\"references\":{\"run\":\"" +
                       prefix() + "\"}}";
    HttpResult res;
    if (!send(res, "/v1/orders", body, {}, false, 201)) return;
    {
      std::lock_guard lock(o.mu);
      o.orders[order_id] = OrderRecord{body, res.body};
      o.orders[order_id].touched = ctx_.cycle;
      ++o.counters.orders;
    }
    const std::string base = "/v1/orders/" + order_id;

    if (chance(6)) {  // some orders are cancelled instead of shipped
      {
        std::lock_guard lock(o.mu);
        o.orders[order_id].cancel_attempted = true;
      }
      if (!send(res, base + "/cancel", R"({"reason":"crash test"})", {}, false, 200)) return;
      std::lock_guard lock(o.mu);
      o.orders[order_id].cancel_acked = true;
      ++o.counters.cancels;
      return;
    }

    const std::string rel_key = "rel-" + order_id;
    if (!send(res, base + "/release", "", {{"Idempotency-Key", rel_key}}, false, 200)) return;
    remember_keyed(order_id, "", base + "/release", "", "application/json", rel_key, res);
    {
      std::lock_guard lock(o.mu);
      o.orders[order_id].acked_rank = 2;
      ++o.counters.releases;
    }
    if (chance(25)) {
      if (!send(res, base + "/allocate", "", {}, false, 200)) return;
      std::lock_guard lock(o.mu);
      o.orders[order_id].acked_rank = 3;
      ++o.counters.allocations;
    }
    if (ctx_.pack && chance(25)) {
      if (!send(res, base + "/pack", "", {}, false, 200)) return;
      std::lock_guard lock(o.mu);
      o.orders[order_id].acked_rank = 4;
      ++o.counters.packs;
    }

    static const char* carriers[] = {"ups", "fedex", "dhl"};
    const std::string shipment_id = "S-" + prefix() + n;
    const std::string carrier = carriers[pick(3)];
    std::vector<std::string> tns = {"TN-" + prefix() + n + "-a"};
    if (chance(30)) tns.push_back("TN-" + prefix() + n + "-b");
    std::string sbody = "{\"shipment_id\":" + quote(shipment_id) + ",\"order_id\":" + quote(order_id) +
                        ",\"carrier\":" + quote(carrier) + ",\"service\":\"std\",\"tracking_numbers\":[";
    for (size_t i = 0; i < tns.size(); ++i) sbody += (i ? "," : "") + quote(tns[i]);
    sbody += "]}";
    if (!send(res, "/v1/shipments", sbody, {}, false, 201)) return;
    {
      std::lock_guard lock(o.mu);
      o.shipments[shipment_id] = ShipmentRecord{order_id, carrier, tns, {}, -1, ctx_.cycle};
      ++o.counters.shipments;
    }
    track(shipment_id);
    previous_ = shipment_id;
  }

  std::string milestone_line(const std::string& shipment_id, int step) {
    std::string carrier, tn;
    {
      std::lock_guard lock(ctx_.oracle->mu);
      auto& s = ctx_.oracle->shipments.at(shipment_id);
      s.touched = ctx_.cycle;  // its order hears about it too
      ctx_.oracle->orders.at(s.order_id).touched = ctx_.cycle;
      carrier = s.carrier;
      tn = s.tracking_numbers[pick(s.tracking_numbers.size())];  // any of its numbers
    }
    return "{\"carrier\":" + quote(carrier) + ",\"tracking_number\":" + quote(tn) + ",\"status\":\"" +
           kScript[step].status + "\",\"raw_code\":\"" + kScript[step].raw_code + "\",\"event_time\":\"" +
           step_time(step) + "\",\"sequence\":" + std::to_string(step + 1) + ",\"event_id\":\"E-" + shipment_id +
           "-" + std::to_string(step) + "\"}";
  }

  // `result`: {"outcome","shipment_id"[,"error",...]} for one milestone.
  void record_outcome(const Sent& m, const Json& result, const std::string& context) {
    auto& o = *ctx_.oracle;
    const std::string outcome = result.str_or_empty("/outcome");
    const std::string shipment_id = result.str_or_empty("/shipment_id");
    if (outcome == "rejected" && result.str_or_empty("/error") == "unavailable") {
      std::lock_guard lock(o.mu);  // overload (e.g. resident cap): refused, not acknowledged
      ++o.counters.unavailable;
      return;
    }
    if (shipment_id != m.shipment_id) {
      o.note_unexpected("milestone of " + m.shipment_id + " answered for '" + shipment_id + "': " + context);
      return;
    }
    std::lock_guard lock(o.mu);
    auto& s = o.shipments.at(m.shipment_id);
    if (outcome == "applied") {
      s.best_applied = std::max(s.best_applied, m.step);
      ++o.counters.applied;
    } else if (outcome == "late") {
      ++o.counters.late;
    } else if (outcome == "duplicate") {
      ++o.counters.duplicate;
    } else {
      if (o.unexpected.size() < 200)
        o.unexpected.push_back("milestone outcome '" + outcome + "' for " + m.shipment_id + " step " +
                               std::to_string(m.step) + ": " + context);
      return;
    }
    s.acked_steps.insert(m.step);  // applied, late and duplicate all mean "stored"
  }

  // Milestones for one shipment: a random prefix of the script, partly out of order,
  // with repeats, sent one by one or as NDJSON batches (sometimes mixed with lines for
  // the previous shipment).
  void track(const std::string& shipment_id) {
    std::vector<Sent> plan;
    const int steps = 1 + static_cast<int>(pick(kSteps));
    for (int i = 0; i < steps; ++i) plan.push_back({shipment_id, i});
    for (int i = 0; i + 1 < steps; ++i)
      if (chance(35)) std::swap(plan[i], plan[i + 1]);
    for (size_t i = 0, n = plan.size(); i < n; ++i)
      if (chance(25)) plan.insert(plan.begin() + static_cast<long>(i + 1 + pick(plan.size() - i)), plan[i]);

    size_t next = 0;
    while (next < plan.size() && alive_) {
      if (ctx_.stop->load()) return;
      if (chance(50)) {
        auto m = plan[next++];
        std::string body = milestone_line(m.shipment_id, m.step);
        HttpHeaders h;
        std::string key;
        if (chance(20)) {
          key = "trk-" + prefix() + std::to_string(++seq_);
          h.emplace_back("Idempotency-Key", key);
        }
        HttpResult res;
        if (!send(res, "/v1/tracking", body, h, false, 200)) continue;
        if (!key.empty()) remember_keyed("", m.shipment_id, "/v1/tracking", body, "application/json", key, res);
        {
          std::lock_guard lock(ctx_.oracle->mu);
          ++ctx_.oracle->counters.single_posts;
        }
        record_outcome(m, Json::parse(res.body), body + " -> " + res.body);
      } else {
        std::vector<Sent> batch;
        size_t want = 2 + pick(3);
        while (batch.size() < want && next < plan.size()) batch.push_back(plan[next++]);
        if (!previous_.empty() && chance(30)) batch.insert(batch.begin() + pick(batch.size() + 1),
                                                           Sent{previous_, static_cast<int>(pick(kSteps))});
        std::string body;
        for (auto& m : batch) body += milestone_line(m.shipment_id, m.step) + "\n";
        HttpResult res;
        if (!send(res, "/v1/tracking", body, {}, true, 200)) continue;
        {
          std::lock_guard lock(ctx_.oracle->mu);
          ++ctx_.oracle->counters.ndjson_posts;
        }
        auto j = Json::parse(res.body);
        auto results = j.items("/results");
        if (results.size() != batch.size()) {
          ctx_.oracle->note_unexpected("NDJSON answer with " + std::to_string(results.size()) + " results for " +
                                       std::to_string(batch.size()) + " lines: " + res.body);
          continue;
        }
        for (size_t i = 0; i < batch.size(); ++i) {
          if (results[i].int64("/line") != static_cast<int64_t>(i + 1))
            ctx_.oracle->note_unexpected("NDJSON result " + std::to_string(i) + " names line " +
                                         std::to_string(results[i].int64("/line").value_or(-1)) + ": " + res.body);
          record_outcome(batch[i], results[i], body + " -> " + res.body);
        }
      }
    }
  }

  // After a crash, earlier acknowledged work must be recognised: a repeated create is
  // a replay and a repeated milestone a duplicate.
  void replay_old_work() {
    std::vector<std::pair<std::string, OrderRecord>> orders;
    std::vector<Sent> milestones;
    {
      std::lock_guard lock(ctx_.oracle->mu);
      for (int i = 0; i < 5 && !ctx_.oracle->orders.empty(); ++i) {
        auto it = std::next(ctx_.oracle->orders.begin(), static_cast<long>(pick(ctx_.oracle->orders.size())));
        orders.push_back(*it);
      }
      for (int i = 0; i < 5 && !ctx_.oracle->shipments.empty(); ++i) {
        auto it = std::next(ctx_.oracle->shipments.begin(), static_cast<long>(pick(ctx_.oracle->shipments.size())));
        if (it->second.acked_steps.empty()) continue;
        auto steps = std::vector<int>(it->second.acked_steps.begin(), it->second.acked_steps.end());
        milestones.push_back({it->first, steps[pick(steps.size())]});
      }
    }
    for (auto& [id, rec] : orders) {
      {
        std::lock_guard lock(ctx_.oracle->mu);
        ctx_.oracle->orders.at(id).touched = ctx_.cycle;
      }
      HttpResult res;
      if (!send(res, "/v1/orders", rec.create_body, {}, false, 200)) return;
      if (res.body != rec.create_answer)
        ctx_.oracle->note_unexpected("replayed create of " + id + " answered " + res.body + "; first answer was " +
                                     rec.create_answer);
      std::lock_guard lock(ctx_.oracle->mu);
      ++ctx_.oracle->counters.create_replays;
    }
    for (auto& m : milestones) {
      std::string body = milestone_line(m.shipment_id, m.step);
      HttpResult res;
      if (!send(res, "/v1/tracking", body, {}, false, 200)) return;
      auto outcome = Json::parse(res.body).str_or_empty("/outcome");
      if (outcome != "duplicate")
        ctx_.oracle->note_unexpected("acknowledged milestone resent after restart answered '" + outcome +
                                     "': " + body + " -> " + res.body);
      std::lock_guard lock(ctx_.oracle->mu);
      ++ctx_.oracle->counters.duplicate_replays;
    }
  }

  LoadContext ctx_;
  int index_;
  std::mt19937_64 rng_;
  HttpClient client_;
  bool alive_ = true;
  uint64_t seq_ = 0;
  std::string previous_;
};

// ---- verification ---------------------------------------------------------------

// Which entities a verification looks at: after a kill, everything the last load
// touched plus a random sample of the rest (so long runs stay linear); at the end,
// everything.
struct Scope {
  int cycle = 0;       // 0: everything
  size_t sample = 0;   // untouched entities checked at random, per kind
  uint64_t seed = 0;
};

class Verifier {
 public:
  Verifier(ServerProcess& server, Oracle& oracle, Scope scope) : server_(server), oracle_(oracle) {
    std::mt19937_64 rng(scope.seed);
    auto pick = [&](auto& records, std::set<std::string>& out) {
      std::vector<std::string> rest;
      for (auto& [id, rec] : records) {
        if (scope.cycle == 0 || rec.touched == scope.cycle) out.insert(id);
        else rest.push_back(id);
      }
      std::shuffle(rest.begin(), rest.end(), rng);
      for (size_t i = 0; i < rest.size() && i < scope.sample; ++i) out.insert(rest[i]);
    };
    pick(oracle.orders, orders_);
    pick(oracle.shipments, shipments_);
  }

  size_t orders_checked() const { return orders_.size(); }
  size_t shipments_checked() const { return shipments_.size(); }

  std::vector<std::string> run() {
    HttpClient client(server_.host(), server_.port(), 30s);
    check_orders(client);
    check_shipments(client);
    check_keyed(client);
    check_order_follows_shipments(client);
    return std::move(violations_);
  }

 private:
  void violation(std::string what) {
    if (violations_.size() < 100) violations_.push_back(std::move(what));
  }

  void check_orders(HttpClient& client) {
    std::map<std::string, std::set<std::string>> acked_shipments;
    for (auto& [sid, s] : oracle_.shipments) acked_shipments[s.order_id].insert(sid);
    for (auto& id : orders_) {
      auto& rec = oracle_.orders.at(id);
      auto res = client.get("/v1/orders/" + id);
      if (res.status != 200) {
        violation("acknowledged order " + id + " (acked rank " + std::to_string(rec.acked_rank) + "): GET -> " +
                  res.describe());
        continue;
      }
      auto j = Json::parse(res.body);
      auto status = j.str_or_empty("/status");
      if (auto v = oracle_.observe_order(id, status); !v.empty()) violation(v);
      if (status == "cancelled") {
        if (!rec.cancel_attempted) violation("order " + id + " is cancelled but nobody asked for that");
      } else if (rec.cancel_acked) {
        violation("order " + id + " had an acknowledged cancel but is '" + status + "'");
      } else if (order_rank(status) < rec.acked_rank) {
        violation("order " + id + " regressed: '" + status + "' (rank " + std::to_string(order_rank(status)) +
                  ") after an acknowledged rank " + std::to_string(rec.acked_rank));
      }
      std::set<std::string> listed;
      for (auto& s : j.items("/shipments")) listed.insert(s.str().value_or("?"));
      for (auto& sid : acked_shipments[id])
        if (!listed.count(sid)) violation("order " + id + " does not list its acknowledged shipment " + sid);
    }
  }

  void check_shipments(HttpClient& client) {
    for (auto& id : shipments_) {
      auto& rec = oracle_.shipments.at(id);
      auto res = client.get("/v1/shipments/" + id);
      if (res.status != 200) {
        violation("acknowledged shipment " + id + ": GET -> " + res.describe());
        continue;
      }
      auto j = Json::parse(res.body);
      if (j.str("/order_id") != rec.order_id || j.str("/carrier") != rec.carrier)
        violation("shipment " + id + " has the wrong order or carrier: " + res.body);
      std::vector<std::string> tns;
      for (auto& t : j.items("/tracking_numbers")) tns.push_back(t.str().value_or("?"));
      if (tns != rec.tracking_numbers) violation("shipment " + id + " has the wrong tracking numbers: " + res.body);

      std::map<std::string, int> count;
      std::string previous_time;
      int highest = -1;
      for (auto& m : j.items("/milestones")) {
        auto identity = m.str_or_empty("/status") + "|" + m.str_or_empty("/event_time") + "|" + m.str_or_empty("/raw_code");
        ++count[identity];
        auto t = m.str_or_empty("/event_time");
        if (t < previous_time) violation("shipment " + id + ": milestones not sorted by event time: " + res.body);
        previous_time = t;
        int step = step_from_identity(identity);
        if (step < 0) violation("shipment " + id + " holds a milestone nobody sent: " + m.dump());
        highest = std::max(highest, step);
      }
      for (auto& [identity, n] : count)
        if (n != 1) violation("shipment " + id + " holds milestone " + identity + " " + std::to_string(n) + " times");
      for (int step : rec.acked_steps)
        if (!count.count(step_identity(step)))
          violation("shipment " + id + " lost acknowledged milestone " + step_identity(step) + ": " + res.body);
      auto status = j.str_or_empty("/status");
      if (auto v = oracle_.observe_shipment(id, status); !v.empty()) violation(v);
      auto expected = highest < 0 ? std::string("label_created") : std::string(kScript[highest].status);
      if (status != expected)
        violation("shipment " + id + " is '" + status + "' but its milestones say '" + expected + "': " + res.body);
      if (rec.best_applied >= 0 &&
          tracking_phase(status) < tracking_phase(kScript[rec.best_applied].status))
        violation("shipment " + id + " regressed to '" + status + "' below acknowledged '" +
                  kScript[rec.best_applied].status + "'");
    }
  }

  bool keyed_in_scope(const KeyedRequest& k) const {
    return orders_.count(k.order_id) || shipments_.count(k.shipment_id);
  }

  // Stored answers of acknowledged keyed requests are replayed unchanged.
  void check_keyed(HttpClient& client) {
    for (auto& k : oracle_.keyed) {
      if (!keyed_in_scope(k)) continue;
      auto res = client.post(k.target, k.body, {{"Idempotency-Key", k.key}, {"Content-Type", k.content_type}});
      if (res.status != k.status || res.body != k.answer)
        violation("replay of " + k.target + " with Idempotency-Key " + k.key + " answered " + res.describe() +
                  "; the acknowledged answer was " + std::to_string(k.status) + " " + k.answer);
    }
  }

  // A shipment's progress reaches its order even when the notification died with the
  // process: the order reconciles when it is next activated. Activate every order with
  // shipments through a no-op request and compare with what its shipments justify.
  void check_order_follows_shipments(HttpClient& client) {
    for (auto& id : orders_) {
      auto& rec = oracle_.orders.at(id);
      if (rec.cancel_attempted || rec.acked_rank < 2) continue;
      auto order = Json::parse(client.get("/v1/orders/" + id).body);
      auto shipment_ids = order.items("/shipments");
      if (shipment_ids.empty()) continue;
      size_t live = 0, delivered = 0;
      bool confirmed = false;
      for (auto& sid : shipment_ids) {
        auto s = Json::parse(client.get("/v1/shipments/" + sid.str_or_empty("")).body).str_or_empty("/status");
        ++live;
        if (s == "delivered") ++delivered;
        if (tracking_phase(s) >= tracking_phase("picked_up")) confirmed = true;
      }
      std::string expected = delivered == live ? "delivered" : confirmed ? "shipped" : "shipping";
      auto poke = client.post("/v1/orders/" + id + "/release", "");  // 200 no-op or 409: never a change
      if (poke.status != 200 && poke.status != 409)
        violation("activating order " + id + " answered " + poke.describe());
      std::string status;
      auto deadline = std::chrono::steady_clock::now() + 5s;
      do {
        status = Json::parse(client.get("/v1/orders/" + id).body).str_or_empty("/status");
        if (status == expected) break;
        std::this_thread::sleep_for(10ms);
      } while (std::chrono::steady_clock::now() < deadline);
      if (status != expected)
        violation("order " + id + " is '" + status + "' but its shipments justify '" + expected + "'");
    }
  }

  ServerProcess& server_;
  Oracle& oracle_;
  std::set<std::string> orders_, shipments_;
  std::vector<std::string> violations_;
};

inline int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::atoi(v);
}


}  // namespace waybill::itest::crash
