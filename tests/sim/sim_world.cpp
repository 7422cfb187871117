#include "sim_world.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <regex>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "waybill/actors/carrier_adapter.hpp"
#include "waybill/actors/entity.hpp"
#include "waybill/actors/reads.hpp"
#include "waybill/storage/group_commit.hpp"

namespace waybill::sim {

using namespace waybill::actors;
using storage::Column;
using B = fb::BookingState;
using T = TrackingStatus;

namespace {

constexpr int64_t kEpochUs = 1'795'000'000'000'000;  // virtual time starts here (late 2026)
constexpr int64_t kMs = 1000;
constexpr int64_t kSec = 1000 * kMs;

// The world whose virtual clock the actors read (one world per thread at a time).
thread_local int64_t* t_now_us = nullptr;
int64_t virtual_now_us() { return *t_now_us; }
int64_t virtual_now_ms() { return *t_now_us / 1000; }

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// ---------------------------------------------------------------------------------
// Fake carrier: sells a new label for every booking request it processes (it is NOT
// idempotent on the reference: preventing duplicates is waybill's job), answers
// lookups by reference, voids, pickups and rates.

struct Label {
  std::string carrier_shipment_id;
  std::string reference;
  std::vector<std::string> tracking_numbers;
  bool live = true;
};

struct FakeCarrier {
  std::string name;
  int64_t price_minor = 0;
  std::vector<Label> labels;
  uint64_t next_id = 1;

  static std::string field(const std::string& body, const char* key) {
    std::regex re(std::string("\"") + key + "\"\\s*:\\s*\"([^\"]*)\"");
    std::smatch m;
    return std::regex_search(body, m, re) ? m[1].str() : std::string();
  }
  static size_t count(const std::string& body, const std::string& needle) {
    size_t n = 0;
    for (size_t p = body.find(needle); p != std::string::npos; p = body.find(needle, p + 1)) ++n;
    return n;
  }
  static std::string booking_json(const Label& l) {
    std::string s = R"({"ShipmentId":")" + l.carrier_shipment_id + R"(","Packages":[)";
    for (size_t i = 0; i < l.tracking_numbers.size(); ++i)
      s += (i ? "," : "") + std::string(R"({"TrackingNumber":")") + l.tracking_numbers[i] +
           R"(","Label":{"Data":"TEFCRUw="}})";
    return s + R"(],"Charges":{"TotalMinor":1500,"Currency":"USD"}})";
  }

  // Processes a request the network delivered; returns the HTTP answer.
  CarrierHttpResult process(const CarrierHttpRequest& req, bool reject) {
    CarrierHttpResult r;
    r.answered = true;
    r.status = 200;
    std::string path = req.target.substr(req.target.find('/', 1));  // strip the base path
    if (reject) {
      r.status = 400;
      r.body = R"({"Errors":[{"Code":"120100","Message":"postal code does not match city"}]})";
      return r;
    }
    if (path == "/rates") {
      r.body = R"({"RateResults":[{"ServiceCode":")" + field(req.body, "ServiceCode") + R"(","TotalMinor":)" +
               std::to_string(price_minor) + R"(,"Currency":"USD","TransitDays":3}]})";
    } else if (path == "/shipments" && req.method != "GET") {
      Label l;
      l.carrier_shipment_id = name + "-CS" + std::to_string(next_id);
      l.reference = field(req.body, "ShipperReference");
      size_t pieces = std::max<size_t>(1, count(req.body, "\"WeightKg\""));
      for (size_t i = 0; i < pieces; ++i)
        l.tracking_numbers.push_back(name + "-TN" + std::to_string(next_id) + "-" + std::to_string(i + 1));
      ++next_id;
      r.body = booking_json(l);
      labels.push_back(std::move(l));
    } else if (path.rfind("/shipments?reference=", 0) == 0) {
      std::string ref = path.substr(std::string("/shipments?reference=").size());
      std::string items;
      for (auto& l : labels)
        if (l.reference == ref && l.live) items += (items.empty() ? "" : ",") + booking_json(l);
      r.body = R"({"Shipments":[)" + items + "]}";
    } else if (path.size() > 5 && path.rfind("/void") == path.size() - 5) {
      std::string id = path.substr(std::string("/shipments/").size());
      id = id.substr(0, id.size() - 5);
      auto it = std::find_if(labels.begin(), labels.end(), [&](auto& l) { return l.carrier_shipment_id == id; });
      if (it == labels.end()) {
        r.status = 404;
        r.body = R"({"Errors":[{"Code":"404000","Message":"no such shipment"}]})";
      } else {
        it->live = false;
        r.body = R"({"confirmation":"VOID-)" + id + "\"}";
      }
    } else if (path == "/pickups") {
      r.body = R"({"confirmation":"PU-)" + field(req.body, "ShipmentId") + "\"}";
    } else {
      r.status = 404;
      r.body = R"({"Errors":[{"Code":"404000","Message":"no route"}]})";
    }
    return r;
  }
};

// ---------------------------------------------------------------------------------

// One incarnation of the node: everything a crash loses.
struct Node {
  int epoch = 0;
  bool alive = true;
  std::unique_ptr<storage::GroupCommitWriter> writer;
  ActorStats stats;
  CarrierDirectory carriers;
  SlaOptions sla;
  EntityContext ctx;
  std::unique_ptr<EntityRegistry> orders, shipments;
};

struct Event {
  int64_t at_us;
  uint64_t tie;  // seeded: events at the same time run in a random order
  uint64_t id;
  bool operator>(const Event& o) const { return std::tie(at_us, tie, id) > std::tie(o.at_us, o.tie, o.id); }
};

struct PlannedMilestone {
  fb::MilestoneT m;
  std::string tracking_number;
  bool acked = false;
};

struct OrderPlan {
  std::string id;
  int step = 0;          // 0 create, 1 release, 2 pack, 3 done
  uint64_t attempt = 0;  // the client's current attempt (stale retries do nothing)
  std::set<std::string> acked_events;  // "order.validated", "order.released", "order.packed"
  int packages = 1;
};

struct ShipmentWatch {
  bool stream_planned = false;
  bool retry_requested = false;
  std::vector<PlannedMilestone> stream;
  std::optional<std::tuple<int, int64_t, int64_t, int>> last_key;  // observed once booked
  int observed_rejections = 0;
};

class World {
 public:
  World(const SimOptions& o, storage::Store& store, const std::string& carriers_dir)
      : opt_(o), rng_(o.seed), store_(&store), carriers_dir_(carriers_dir) {
    now_us_ = kEpochUs;
    t_now_us = &now_us_;
  }
  ~World() {
    // Actors reference the nodes: the actor system goes first.
    for (auto& n : nodes_) {
      n->orders->stop_all();
      n->shipments->stop_all();
      for (auto& [name, a] : n->carriers.adapters) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    if (sched_) {
      for (size_t i = 0; i < 1000000 && sched_->try_run_once(); ++i) {
      }
    }
    system_.reset();
    nodes_.clear();
    t_now_us = nullptr;
  }

  SimResult run();

 private:
  // -- plumbing --------------------------------------------------------------------
  uint64_t rand(uint64_t n) { return n == 0 ? 0 : std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  int64_t between(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rand(static_cast<uint64_t>(hi - lo + 1))); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  void trace(const std::string& what) {
    digest_ = fnv1a64(what, digest_ ^ static_cast<uint64_t>(now_us_));
    if (opt_.trace) std::fprintf(stderr, "[%9.3f] %s\n", double(now_us_ - kEpochUs) / kSec, what.c_str());
  }
  void fail(const std::string& what) {
    if (result_.failures.size() < 20) result_.failures.push_back("t=" + std::to_string((now_us_ - kEpochUs) / kMs) + "ms " + what);
  }
  void at(int64_t when_us, std::function<void()> fn) {
    uint64_t id = next_event_id_++;
    events_.push(Event{std::max(when_us, now_us_), rng_(), id});
    actions_.emplace(id, std::move(fn));
  }
  void after(int64_t delay_us, std::function<void()> fn) { at(now_us_ + delay_us, std::move(fn)); }
  Node& node() { return *nodes_.back(); }

  Status open();
  void start_node();
  void crash();
  CarrierTransport transport(int epoch, FakeCarrier* carrier);
  bool idle() const;
  bool step();
  void advance_to(int64_t t);
  bool run_until_idle(size_t budget);

  // -- the client ------------------------------------------------------------------
  void client_step(size_t i, uint64_t attempt);
  void client_acked(size_t i, uint64_t attempt, const Reply& r, int epoch);
  void observe();
  void plan_stream(const std::string& sid, const fb::ShipmentT& h);
  void deliver(const std::string& sid, std::vector<size_t> which);
  void sla_scan();
  void passivate();
  void touch_orders();

  // -- oracles -------------------------------------------------------------------
  void check_final();

  SimOptions opt_;
  std::mt19937_64 rng_;
  storage::Store* store_;
  std::string carriers_dir_;
  int64_t now_us_ = 0;
  SimResult result_;
  uint64_t digest_ = 0xcbf29ce484222325ULL;

  std::vector<CarrierProfile> profiles_;
  std::map<std::string, FakeCarrier> carrier_;  // by carrier name
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::vector<std::unique_ptr<Node>> nodes_;
  bool faults_ = true;
  double p_transient_ = 0, p_timeout_ = 0, p_reject_ = 0;

  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::map<uint64_t, std::function<void()>> actions_;
  uint64_t next_event_id_ = 0;

  std::vector<OrderPlan> orders_;
  std::map<std::string, ShipmentWatch> watch_;  // by shipment id
};

Status World::open() {
  auto profiles = load_carrier_profiles(carriers_dir_);
  if (!profiles) return profiles.status();
  // Two carriers playing the same API, so that rating and selection run too.
  for (auto& p : *profiles)
    if (p.name == "parcelco") {
      profiles_.push_back(p);
      auto second = p;
      second.name = "rapidship";
      second.base_path = "/rapidship";
      profiles_.push_back(second);
    }
  if (profiles_.empty()) return {Code::not_found, "no parcelco profile in " + carriers_dir_};
  for (auto& p : profiles_) {
    auto& c = carrier_[p.name];
    c.name = p.name;
    c.price_minor = between(900, 1100);
  }
  cfg_.set("scheduler.policy", caf::atom("testing"));
  cfg_.set("logger.verbosity", caf::atom("quiet"));
  cfg_.set("logger.console", caf::atom("none"));
  system_ = std::make_unique<caf::actor_system>(cfg_);
  sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(system_->scheduler());
  p_transient_ = 0.05 + 0.1 * chance(0.5);
  p_timeout_ = 0.04 + 0.08 * chance(0.5);
  p_reject_ = chance(0.3) ? 0.05 : 0.0;
  return {};
}

CarrierTransport World::transport(int epoch, FakeCarrier* carrier) {
  return [this, epoch, carrier](CarrierHttpRequest req, std::function<void(CarrierHttpResult)> done) {
    if (nodes_[static_cast<size_t>(epoch)]->alive == false) return;  // a dead node sends nothing
    ++result_.carrier_calls;
    int timeout_ms = req.timeout_ms;
    auto shared_req = std::make_shared<CarrierHttpRequest>(std::move(req));
    auto answer = [this, epoch, done](CarrierHttpResult r) {
      if (!nodes_[static_cast<size_t>(epoch)]->alive) return;  // the connection died with the node
      done(std::move(r));
    };
    // The request travels to the carrier.
    after(between(2, 80) * kMs, [=, this] {
      const auto& rq = *shared_req;
      trace("carrier " + carrier->name + " got " + rq.method + " " + rq.target);
      bool is_book = rq.method == "POST" && rq.target.size() >= 10 &&
                     rq.target.compare(rq.target.size() - 10, 10, "/shipments") == 0;
      double roll = faults_ ? std::uniform_real_distribution<double>(0, 1)(rng_) : 1.0;
      if (roll < p_transient_) {  // a gateway answers 503: the carrier never saw it
        CarrierHttpResult r;
        r.answered = true;
        r.status = chance(0.2) ? 429 : 503;
        if (r.status == 429) r.headers["retry-after"] = "1";
        after(between(2, 50) * kMs, [answer, r] { answer(r); });
        return;
      }
      if (roll < p_transient_ + p_timeout_) {
        // The answer is lost: the carrier processed it now, later, or never.
        int what = static_cast<int>(rand(3));
        if (what == 0) (void)carrier->process(rq, false);
        if (what == 1)
          after(between(100, 6000) * kMs, [carrier, shared_req, this] {
            trace("carrier " + carrier->name + " processes a lost request late");
            (void)carrier->process(*shared_req, false);
          });
        CarrierHttpResult r;
        r.maybe_sent = true;
        r.error = "timeout after sending";
        after(timeout_ms * kMs, [answer, r] { answer(r); });
        return;
      }
      bool reject = is_book && faults_ && chance(p_reject_);
      auto r = carrier->process(rq, reject);
      if (r.status >= 500 || (is_book && r.status == 200)) trace("carrier " + carrier->name + " answered " + r.body);
      after(between(2, 300) * kMs, [answer, r] { answer(r); });
    });
  };
}

void World::start_node() {
  auto n = std::make_unique<Node>();
  n->epoch = static_cast<int>(nodes_.size());
  storage::WriterOptions wo;
  wo.sync = false;
  wo.manual = true;
  wo.max_batch_requests = 64;
  n->writer = std::make_unique<storage::GroupCommitWriter>(*store_, wo);
  n->sla.no_pickup_after_s = 20;
  n->sla.stale_after_s = 30;
  n->sla.eta_grace_s = 10;
  n->carriers.profiles = profiles_;
  n->carriers.rule = SelectionRule::cheapest;
  n->carriers.default_ship_from.name = "Warehouse";
  n->carriers.default_ship_from.street = "9 Dock Rd";
  n->carriers.default_ship_from.city = "Springfield";
  n->carriers.default_ship_from.postal_code = "62701";
  n->carriers.default_ship_from.country = "US";
  nodes_.push_back(std::move(n));
  Node* raw = nodes_.back().get();
  for (auto& p : raw->carriers.profiles) {
    auto stats = std::make_shared<AdapterStats>();
    raw->carriers.stats[p.name] = stats;
    raw->carriers.adapters[p.name] =
        spawn_carrier_adapter(*system_, p, transport(raw->epoch, &carrier_[p.name]), stats, rng_());
  }
  raw->ctx.store = store_;
  raw->ctx.writer = raw->writer.get();
  raw->ctx.stats = &raw->stats;
  raw->ctx.carriers = &raw->carriers;
  raw->ctx.sla = &raw->sla;
  raw->ctx.clock = &virtual_now_us;
  RegistryOptions ro;
  ro.max_resident = 1 + rand(3);
  ro.idle_timeout_ms = between(500, 5000);
  ro.shards = 1;
  ro.clock_ms = &virtual_now_ms;
  raw->orders = std::make_unique<EntityRegistry>("order", ro, [this, raw](const std::string& id, std::shared_ptr<EntityHandle> h) {
    return spawn_order_actor(*system_, raw->ctx, id, std::move(h));
  });
  raw->shipments = std::make_unique<EntityRegistry>("shipment", ro, [this, raw](const std::string& id, std::shared_ptr<EntityHandle> h) {
    return spawn_shipment_actor(*system_, raw->ctx, id, std::move(h));
  });
  raw->ctx.orders = raw->orders.get();
  raw->ctx.shipments = raw->shipments.get();
  // Start-up recovery, as the engine does it: resume every entity with outstanding work.
  std::vector<std::string> work;
  (void)store_->scan_prefix(Column::work, "", 100000, [&](std::string_view k, std::string_view) {
    work.emplace_back(k);
    return true;
  });
  for (auto& k : work) {
    std::string id = k.substr(2);
    auto& reg = k.rfind("o/", 0) == 0 ? *raw->orders : *raw->shipments;
    // Refused at the resident cap with every actor busy: like the engine, it waits
    // for the next start (the settle phase restarts while work is stranded).
    (void)reg.send(id, caf::make_message(ResumeWork{}));
  }
  trace("node " + std::to_string(raw->epoch) + " up, resumed " + std::to_string(work.size()));
}

void World::crash() {
  auto& n = node();
  size_t lost = n.writer->discard_pending();
  n.alive = false;
  n.writer->stop();  // refuses whatever the dead node's actors still submit
  n.orders->stop_all();
  n.shipments->stop_all();
  for (auto& [name, a] : n.carriers.adapters) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  ++result_.crashes;
  trace("CRASH: node " + std::to_string(n.epoch) + " lost " + std::to_string(lost) + " uncommitted write(s)");
  start_node();
  // Clients whose requests died with the node retry.
  for (size_t i = 0; i < orders_.size(); ++i)
    if (orders_[i].step < 3) {
      uint64_t a = ++orders_[i].attempt;
      after(between(100, 2000) * kMs, [this, i, a] { client_step(i, a); });
    }
  for (auto& [sid, w] : watch_) {
    std::vector<size_t> pending;
    for (size_t k = 0; k < w.stream.size(); ++k)
      if (!w.stream[k].acked) pending.push_back(k);
    if (!pending.empty()) {
      std::string id = sid;
      after(between(500, 3000) * kMs, [this, id, pending] { deliver(id, pending); });
    }
  }
}

bool World::idle() const {
  return !sched_->has_job() && nodes_.back()->writer->queue_depth() == 0;
}

// One seeded step at the current virtual time: run an actor, commit, or an event due now.
bool World::step() {
  bool jobs = sched_->has_job();
  size_t pending = node().writer->queue_depth();
  bool due = !events_.empty() && events_.top().at_us <= now_us_;
  if (!jobs && pending == 0 && !due) return false;
  uint64_t w_jobs = jobs ? 8 : 0, w_commit = pending ? 3 : 0, w_event = due ? 2 : 0;
  uint64_t pick = rand(w_jobs + w_commit + w_event);
  if (pick < w_jobs) {
    auto& q = sched_->jobs;
    size_t i = rand(q.size());
    if (i) std::rotate(q.begin(), q.begin() + static_cast<long>(i), q.begin() + static_cast<long>(i) + 1);
    sched_->run_once();
  } else if (pick < w_jobs + w_commit) {
    size_t n = node().writer->commit_next(1 + rand(std::min<size_t>(pending, 8)));
    result_.commits += n;
    digest_ = fnv1a64("commit" + std::to_string(n), digest_);
  } else {
    auto ev = events_.top();
    events_.pop();
    auto fn = std::move(actions_.at(ev.id));
    actions_.erase(ev.id);
    fn();
  }
  ++result_.steps;
  return true;
}

void World::advance_to(int64_t t) {
  if (t <= now_us_) return;
  auto delta = std::chrono::microseconds(t - now_us_);
  now_us_ = t;
  sched_->advance_time(std::chrono::duration_cast<caf::timespan>(delta));
}

// Runs until nothing is left to do now, then moves the clock to the next event or
// CAF timer. Returns false when the step budget ran out.
bool World::run_until_idle(size_t budget) {
  for (size_t i = 0; i < budget; ++i) {
    if (step()) continue;
    int64_t next = INT64_MAX;
    if (!events_.empty()) next = events_.top().at_us;
    auto& sched = sched_->clock().schedule();
    if (!sched.empty()) {
      auto d = sched.begin()->first - sched_->clock().current_time;
      next = std::min(next, now_us_ + std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
    }
    if (next == INT64_MAX) return true;
    advance_to(next);
  }
  return false;
}

// -- client ----------------------------------------------------------------------------

fb::OrderT make_order(const std::string& id, int packages) {
  fb::OrderT o;
  o.order_id = id;
  o.source_system = "sim";
  o.service_level = ServiceLevel::ground;
  o.ship_to = std::make_unique<fb::PartyT>();
  o.ship_to->name = "Ada";
  o.ship_to->street = "1 Main St";
  o.ship_to->city = "Springfield";
  o.ship_to->postal_code = "62702";
  o.ship_to->country = "US";
  auto line = std::make_unique<fb::OrderLineT>();
  line->sku = "SKU-1";
  line->qty = 1;
  o.lines.push_back(std::move(line));
  for (int i = 0; i < packages; ++i) {
    auto p = std::make_unique<fb::PackageT>();
    p->weight_g = 1000 + 250 * i;
    p->length_mm = 300;
    p->width_mm = 200;
    p->height_mm = 100;
    o.packages.push_back(std::move(p));
  }
  o.request_hash = fnv1a64(encode(o));
  return o;
}

void World::client_step(size_t i, uint64_t attempt) {
  auto& op = orders_[i];
  if (op.step >= 3 || attempt != op.attempt) return;
  auto req = std::make_shared<OrderRequest>();
  switch (op.step) {
    case 0:
      req->command = CreateOrder{make_order(op.id, op.packages)};
      req->success_status = 201;
      break;
    case 1: req->command = ReleaseOrder{}; break;
    case 2: req->command = PackOrder{}; break;
  }
  int epoch = node().epoch;
  req->reply = [this, i, attempt, epoch](Reply r) { client_acked(i, attempt, r, epoch); };
  trace("client " + op.id + " step " + std::to_string(op.step) + " attempt " + std::to_string(attempt));
  (void)node().orders->send(op.id, caf::make_message(std::move(req)));
  // No good answer in time (refused, lost to a crash, a failure): try again.
  after(between(1000, 4000) * kMs, [this, i, attempt] {
    auto& o = orders_[i];
    if (o.attempt != attempt || o.step >= 3) return;  // answered and moved on
    client_step(i, ++o.attempt);
  });
}

void World::client_acked(size_t i, uint64_t attempt, const Reply& r, int epoch) {
  auto& op = orders_[i];
  if (!nodes_[static_cast<size_t>(epoch)]->alive) return;  // the answer died with the connection
  trace("client " + op.id + " answer " + std::to_string(r.status) + " for step " + std::to_string(op.step));
  if (attempt != op.attempt || op.step >= 3) return;
  static const char* kEvent[] = {"order.validated", "order.released", "order.packed"};
  if (r.status / 100 == 2) {
    op.acked_events.insert(kEvent[op.step]);
  } else if (r.status == 409 && op.step == 2) {
    // A retried pack after the first one committed: the order moved on already.
    auto o = load_order(*store_, op.id);
    if (!o || o->status == OrderStatus::released || o->status == OrderStatus::allocated) return;
  } else {
    return;  // the timeout retries
  }
  ++op.step;
  uint64_t a = ++op.attempt;
  after(between(10, 1500) * kMs, [this, i, a] { client_step(i, a); });
}

void World::plan_stream(const std::string& sid, const fb::ShipmentT& h) {
  auto& w = watch_[sid];
  w.stream_planned = true;
  std::vector<std::pair<T, const char*>> path = {{T::label_created, "MP"}, {T::picked_up, "PU"}};
  int transit = static_cast<int>(1 + rand(3));
  for (int k = 0; k < transit; ++k) path.push_back({T::in_transit, "IT"});
  if (chance(0.3)) path.push_back({T::exception, "X1"});
  path.push_back({T::out_for_delivery, "OT"});
  if (chance(0.2)) path.push_back({T::attempt_failed, "X3"}), path.push_back({T::out_for_delivery, "OT"});
  if (chance(0.85)) path.push_back({T::delivered, "DL"});
  if (chance(0.05)) path.push_back({T::return_to_sender, "RS"});
  if (chance(0.3)) path.resize(1 + rand(path.size()));  // the stream stops early: SLA timers
  int64_t t = now_us_ + between(0, 30) * kSec;
  bool ids = chance(0.7);
  for (size_t k = 0; k < path.size(); ++k) {
    PlannedMilestone pm;
    pm.m.status = path[k].first;
    pm.m.raw_code = path[k].second;
    // Whole seconds and sometimes equal times: the status breaks the tie.
    t += chance(0.1) ? 0 : between(1, 40) * kSec;
    pm.m.event_time_us = t;
    pm.m.sequence = chance(0.8) ? static_cast<int64_t>(k + 1) : 0;
    if (ids) pm.m.event_id = sid + "-E" + std::to_string(k);
    if (chance(0.2)) pm.m.estimated_delivery_us = t + between(10, 120) * kSec;
    pm.tracking_number = h.tracking_numbers.empty() ? "" : h.tracking_numbers[rand(h.tracking_numbers.size())];
    w.stream.push_back(std::move(pm));
  }
  trace("stream for " + sid + ": " + std::to_string(w.stream.size()) + " milestone(s)");
  // Each milestone arrives once or more, in any order, some late.
  for (size_t k = 0; k < w.stream.size(); ++k) {
    int copies = 1 + (chance(0.3) ? 1 : 0) + (chance(0.1) ? 1 : 0);
    for (int c = 0; c < copies; ++c) {
      int64_t delay = chance(0.15) ? between(20, 60) * kSec : between(0, 15) * kSec;
      std::string id = sid;
      after(delay, [this, id, k] { deliver(id, {k}); });
    }
  }
  // Sometimes several at once, in one request (one actor message).
  if (w.stream.size() > 1 && chance(0.4)) {
    std::vector<size_t> all(w.stream.size());
    for (size_t k = 0; k < all.size(); ++k) all[k] = k;
    std::shuffle(all.begin(), all.end(), rng_);
    all.resize(1 + rand(all.size()));
    std::string id = sid;
    after(between(0, 20) * kSec, [this, id, all] { deliver(id, all); });
  }
}

void World::deliver(const std::string& sid, std::vector<size_t> which) {
  auto& w = watch_[sid];
  auto batch_msg = std::make_shared<MilestoneBatch>();
  std::vector<size_t> lines;
  for (size_t n = 0; n < which.size(); ++n) {
    MilestoneItem item;
    item.command.milestone = w.stream[which[n]].m;
    item.command.milestone.received_us = now_us_;
    item.command.tracking_number = w.stream[which[n]].tracking_number;
    item.line = n;
    batch_msg->items.push_back(std::move(item));
    lines.push_back(n + 1);
  }
  int epoch = node().epoch;
  batch_msg->batch = std::make_shared<TrackingBatch>(lines, [this, sid, which, epoch](std::vector<LineResult>& rs) {
    if (!nodes_[static_cast<size_t>(epoch)]->alive) return;
    std::vector<size_t> retry;
    for (size_t n = 0; n < rs.size(); ++n) {
      trace("milestone " + sid + "#" + std::to_string(which[n]) + " " + rs[n].outcome);
      if (rs[n].outcome == "rejected") retry.push_back(which[n]);
      else if (!watch_[sid].stream[which[n]].acked) {
        watch_[sid].stream[which[n]].acked = true;
        ++result_.milestones_acked;
      }
    }
    // The carrier retries what was refused (a webhook answered 5xx).
    if (!retry.empty()) after(between(500, 5000) * kMs, [this, sid, retry] { deliver(sid, retry); });
  });
  trace("deliver " + std::to_string(which.size()) + " milestone(s) to " + sid);
  if (!node().shipments->send(sid, caf::make_message(batch_msg)).ok())
    after(between(500, 5000) * kMs, [this, sid, which] { deliver(sid, which); });
}

// Reads what is committed, as a client polling GET /v1/shipments would, and reacts:
// a booked shipment gets its tracking stream, a rejected one an operator retry.
void World::observe() {
  for (auto& op : orders_) {
    std::string sid = keys::booked_shipment_id(op.id);
    auto h = load_shipment(*store_, sid);
    if (!h) continue;
    auto& w = watch_[sid];
    if (h->booking_state == B::booked) {
      auto key = std::make_tuple(phase(h->status), h->current_event_time_us, h->current_sequence, static_cast<int>(h->status));
      if (w.last_key && key < *w.last_key)
        fail("shipment " + sid + " regressed to " + name(h->status) + " from " +
             name(static_cast<T>(std::get<3>(*w.last_key))));
      w.last_key = key;
      if (!w.stream_planned) plan_stream(sid, *h);
    }
    if (h->booking_state == B::rejected && !w.retry_requested) {
      w.retry_requested = true;
      std::string id = sid;
      after(between(1, 5) * kSec, [this, id] {
        auto req = std::make_shared<ShipmentRequest>();
        ResolveException r;
        r.action = "retry";
        req->command = r;
        req->reply = [this, id](Reply rep) {
          trace("operator retry of " + id + " answered " + std::to_string(rep.status));
          watch_[id].retry_requested = false;
        };
        trace("operator retries " + id);
        if (!node().shipments->send(id, caf::make_message(req)).ok()) watch_[id].retry_requested = false;
        // A lost answer (crash) is retried by the next observation.
        after(10 * kSec, [this, id] { watch_[id].retry_requested = false; });
      });
    }
  }
}

// The timer scanner, on the virtual clock: every deadline due now is handed to its shipment.
void World::sla_scan() {
  std::vector<SlaTimerKey> due;
  (void)store_->scan_from(Column::timers, "", 1000, [&](std::string_view key, std::string_view) {
    auto t = parse_sla_timer_key(key);
    if (!t) return true;
    if (t->due_us > now_us_) return false;
    due.push_back(*t);
    return true;
  });
  for (auto& t : due) {
    trace("sla due " + t.shipment_id + " kind " + std::to_string(static_cast<int>(t.kind)));
    (void)node().shipments->send(t.shipment_id, caf::make_message(SlaDue{t.kind, t.due_us, now_us_}));
  }
}

void World::passivate() {
  size_t n = 0;
  if (chance(0.5)) n = node().orders->passivate_all() + node().shipments->passivate_all();
  else n = node().orders->sweep(virtual_now_ms()) + node().shipments->sweep(virtual_now_ms());
  result_.passivations += n;
  trace("passivated " + std::to_string(n));
}

// Activates every order (an operator reading it through its actor): activation
// reconciles an order with its shipments' committed state.
void World::touch_orders() {
  for (auto& op : orders_) {
    auto task = std::make_shared<std::function<void()>>([] {});
    (void)node().orders->send(op.id, caf::make_message(task));
  }
}

SimResult World::run() {
  if (auto st = open(); !st.ok()) {
    fail("setup: " + st.message());
    return result_;
  }
  start_node();
  int n_orders = static_cast<int>(between(opt_.orders_min, opt_.orders_max));
  for (int i = 0; i < n_orders; ++i) {
    OrderPlan op;
    op.id = "SO-" + std::to_string(opt_.seed) + "-" + std::to_string(i);
    op.packages = static_cast<int>(1 + rand(2));
    orders_.push_back(std::move(op));
    uint64_t a = orders_.back().attempt;
    after(between(0, 3000) * kMs, [this, i, a] { client_step(static_cast<size_t>(i), a); });
  }
  const int64_t end = now_us_ + opt_.scenario_ms * kMs;
  for (int64_t t = now_us_ + 1000 * kMs; t < end; t += between(500, 2500) * kMs) at(t, [this] { observe(); });
  for (int64_t t = now_us_ + 2000 * kMs; t < end; t += between(2000, 6000) * kMs) at(t, [this] { sla_scan(); });
  int passes = static_cast<int>(rand(6));
  for (int k = 0; k < passes; ++k) at(now_us_ + between(0, opt_.scenario_ms) * kMs, [this] { passivate(); });
  int crashes = static_cast<int>(rand(static_cast<uint64_t>(opt_.crashes_max + 1)));
  for (int k = 0; k < crashes; ++k) at(now_us_ + between(500, opt_.scenario_ms) * kMs, [this] { crash(); });
  at(end, [this] {
    faults_ = false;
    trace("faults off");
  });

  // Scenario, then settle: the carrier behaves and the world runs until nothing is left.
  if (!run_until_idle(opt_.max_steps)) return fail("no quiescence within " + std::to_string(opt_.max_steps) + " steps"), result_;
  for (int round = 0; round < 60; ++round) {
    observe();
    sla_scan();
    touch_orders();
    after(5 * kSec, [] {});  // time moves on: SLA deadlines pass
    if (!run_until_idle(opt_.max_steps)) return fail("no quiescence in the settle phase"), result_;
    bool more = false;
    for (auto& op : orders_) {
      if (op.step < 3) more = true;
      std::string sid = keys::booked_shipment_id(op.id);
      auto h = load_shipment(*store_, sid);
      if (h && h->booking_state == B::booked && !watch_[sid].stream_planned) more = true;
      if (h && h->booking_state == B::rejected) more = true;  // an operator retries it
      for (auto& m : watch_[sid].stream)
        if (!m.acked) more = true;
    }
    if (!more && round >= 6) break;
    // An order whose shipment could not be created (resident cap, every actor busy)
    // waits in the work column for the next start: restart, as an operator would.
    size_t stranded = 0;
    (void)store_->scan_prefix(Column::work, "", 1000, [&](std::string_view, std::string_view) {
      ++stranded;
      return true;
    });
    if (stranded > 0) {
      result_.stranded += stranded;
      trace("restart for " + std::to_string(stranded) + " stranded work item(s)");
      crash();
    }
  }
  check_final();
  digest_ = fnv1a64(std::to_string(result_.failures.size()), digest_);
  result_.digest = digest_;
  for (auto& n : nodes_)
    for (size_t k = 0; k < kSlaKinds; ++k) result_.sla_fired += n->stats.sla_breaches[k].load();
  for (auto& n : nodes_) result_.in_doubt += n->stats.bookings_in_doubt.load();
  return result_;
}

// -- oracles ---------------------------------------------------------------------------

auto milestone_key(const fb::MilestoneT& m) {
  return std::make_tuple(phase(m.status), m.event_time_us, m.sequence, static_cast<int>(m.status));
}

void World::check_final() {
  // Outbox: per entity, sequence numbers 1..n without gaps, in position order.
  std::map<std::string, uint64_t> last_seq;
  std::map<std::string, std::set<std::string>> types;
  std::map<std::string, int> sla_fired;  // shipment/kind/due -> times
  uint64_t last_pos = 0;
  (void)store_->scan_from(Column::events, "", 1000000, [&](std::string_view k, std::string_view v) {
    uint64_t pos = storage::read_be64(k);
    if (pos != last_pos + 1) fail("outbox position " + std::to_string(pos) + " follows " + std::to_string(last_pos));
    last_pos = pos;
    auto ev = decode<fb::EventT>(v);
    if (!ev) return fail("undecodable event at " + std::to_string(pos)), true;
    std::string key = std::string(ev->kind == fb::EntityKind::order ? "o:" : "s:") + ev->entity_id;
    if (opt_.trace)
      std::fprintf(stderr, "outbox %llu %s #%llu %s order=%s shipment=%s: %s\n", static_cast<unsigned long long>(pos),
                   key.c_str(), static_cast<unsigned long long>(ev->entity_seq), ev->type.c_str(),
                   name(ev->order_status), name(ev->shipment_status), ev->reason.c_str());
    if (ev->entity_seq != last_seq[key] + 1)
      fail("entity " + key + " event seq " + std::to_string(ev->entity_seq) + " after " + std::to_string(last_seq[key]) +
           " (" + ev->type + ")");
    last_seq[key] = ev->entity_seq;
    types[key].insert(ev->type);
    if (ev->type == "shipment.sla_breached" && ev->sla) {
      std::string s = ev->entity_id + "/" + std::to_string(static_cast<int>(ev->sla->kind)) + "/" +
                      std::to_string(ev->sla->due_us);
      if (++sla_fired[s] > 1) fail("SLA deadline " + s + " fired twice");
    }
    return true;
  });

  std::map<std::string, const Label*> live_by_ref;
  for (auto& [cname, c] : carrier_)
    for (auto& l : c.labels) {
      if (!l.live) continue;
      auto [it, fresh] = live_by_ref.emplace(l.reference, &l);
      if (!fresh)
        fail("two live labels for " + l.reference + ": " + it->second->carrier_shipment_id + " and " +
             l.carrier_shipment_id);
    }

  for (auto& op : orders_) {
    auto o = load_order(*store_, op.id);
    if (op.step < 3) fail("order " + op.id + " client never got through step " + std::to_string(op.step));
    if (!o) {
      if (!op.acked_events.empty()) fail("acknowledged order " + op.id + " is not in the store");
      continue;
    }
    if (o->version != last_seq["o:" + op.id])
      fail("order " + op.id + " version " + std::to_string(o->version) + " but " + std::to_string(last_seq["o:" + op.id]) +
           " events");
    for (auto& e : op.acked_events)
      if (!types["o:" + op.id].count(e)) fail("acknowledged " + e + " of " + op.id + " missing from the outbox");

    std::string sid = keys::booked_shipment_id(op.id);
    auto h = load_shipment(*store_, sid);
    if (!h) {
      if (o->status == OrderStatus::packed || o->status == OrderStatus::shipping)
        fail("packed order " + op.id + " has no shipment");
      continue;
    }
    if (h->version != last_seq["s:" + sid])
      fail("shipment " + sid + " version " + std::to_string(h->version) + " but " + std::to_string(last_seq["s:" + sid]) +
           " events");
    if (booking_open(h->booking_state)) fail("shipment " + sid + " booking still open: " + fb::EnumNameBookingState(h->booking_state));
    auto live = live_by_ref.find(sid);
    if (h->booking_state == B::booked) {
      if (live == live_by_ref.end()) fail("booked shipment " + sid + " has no live label at the carrier");
      else if (live->second->carrier_shipment_id != h->carrier_shipment_id)
        fail("booked shipment " + sid + " holds " + h->carrier_shipment_id + " but the live label is " +
             live->second->carrier_shipment_id);
    }

    // Status: argmax of the stored milestones (a booking's own label_created loses to any).
    auto ms = load_milestones(*store_, sid, h->milestone_count);
    if (!ms) {
      fail("milestones of " + sid + ": " + ms.status().message());
      continue;
    }
    if (h->booking_state == B::booked) {
      std::tuple<int, int64_t, int64_t, int> best{phase(T::label_created), INT64_MIN, INT64_MIN, static_cast<int>(T::label_created)};
      for (auto& m : *ms) best = std::max(best, milestone_key(m));
      if (static_cast<int>(h->status) != std::get<3>(best))
        fail("shipment " + sid + " status " + name(h->status) + " but its milestones say " + name(static_cast<T>(std::get<3>(best))));
    }
    auto& w = watch_[sid];
    for (size_t k = 0; k < w.stream.size(); ++k) {
      if (!w.stream[k].acked) {
        fail("milestone " + sid + "#" + std::to_string(k) + " never acknowledged");
        continue;
      }
      auto& want = w.stream[k].m;
      bool found = std::any_of(ms->begin(), ms->end(), [&](const fb::MilestoneT& m) {
        return (!want.event_id.empty() && m.event_id == want.event_id) ||
               (m.status == want.status && m.event_time_us == want.event_time_us && m.raw_code == want.raw_code);
      });
      if (!found) fail("acknowledged milestone " + sid + "#" + std::to_string(k) + " missing from the store");
    }

    // The order follows its shipment, and is shipped only on a physical scan.
    bool scanned = std::any_of(ms->begin(), ms->end(), [](auto& m) { return carrier_confirmed(m.status); });
    if ((o->status == OrderStatus::shipped || o->status == OrderStatus::delivered) && !scanned)
      fail("order " + op.id + " is " + name(o->status) + " without a carrier scan");
    fb::OrderT probe = *o;
    std::optional<fb::OrderT> state = std::move(probe);
    ShipmentObserved obs;
    obs.ref.shipment_id = sid;
    obs.ref.status = h->status;
    obs.ref.carrier_confirmed = carrier_confirmed(*h);
    auto d = decide(state, OrderCommand{obs}, now_us_);
    for (auto& ev : d.events)
      if (ev.type != "order.shipment_updated")
        fail("order " + op.id + " is " + name(o->status) + " but its shipment " + name(h->status) + " makes it " + ev.type);
  }
}

}  // namespace

SimResult run_seed(const SimOptions& options, storage::Store& store, const std::string& carriers_dir) {
  World w(options, store, carriers_dir);
  return w.run();
}

Status wipe(storage::Store& store) {
  rocksdb::WriteBatch wb;
  for (size_t c = 0; c < storage::kColumnCount; ++c) {
    auto column = static_cast<Column>(c);
    auto st = store.scan_from(column, "", SIZE_MAX, [&](std::string_view k, std::string_view) {
      wb.Delete(store.handle(column), rocksdb::Slice(k.data(), k.size()));
      return true;
    });
    if (!st.ok()) return st;
  }
  auto s = store.db()->Write(rocksdb::WriteOptions(), &wb);
  if (!s.ok()) return {Code::internal, s.ToString()};
  return {};
}

}  // namespace waybill::sim
