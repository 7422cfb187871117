#include "cluster_node.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include "waybill/runtime/log.hpp"

namespace waybill::runtime::cluster_detail {

using fwd_atom = caf::atom_constant<caf::atom("wb_fwd")>;
using hello_atom = caf::atom_constant<caf::atom("wb_hello")>;
using done_atom = caf::atom_constant<caf::atom("wb_done")>;
using dial_atom = caf::atom_constant<caf::atom("wb_dial")>;
using send_atom = caf::atom_constant<caf::atom("wb_send")>;

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::string>;  // name, value, name, value, ...

Headers flatten(const std::vector<std::pair<std::string, std::string>>& headers) {
  Headers out;
  out.reserve(headers.size() * 2);
  for (auto& [k, v] : headers) {
    out.push_back(k);
    out.push_back(v);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> unflatten(Headers& flat) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) out.emplace_back(std::move(flat[i]), std::move(flat[i + 1]));
  return out;
}

// Cluster metrics; prometheus-cpp metrics are thread-safe, so actors and HTTP threads
// update them directly. Label values are member ids (bounded by the config).
struct Metrics {
  prometheus::Registry registry;
  std::vector<prometheus::Gauge*> peer_up;
  std::vector<prometheus::Counter*> connects, losses;
  std::vector<std::map<std::string, prometheus::Counter*>> forwarded;  // by outcome
  std::vector<prometheus::Histogram*> forward_seconds;
  std::vector<prometheus::Counter*> served;
  prometheus::Family<prometheus::Counter>* refused = nullptr;
  prometheus::Gauge* in_flight = nullptr;

  // Per-peer series exist for the other members only (index `self` holds nulls).
  Metrics(const std::vector<ClusterMember>& members, size_t self) {
    auto& up = prometheus::BuildGauge().Name("waybill_cluster_peer_up").Help("1 while the peer is connected and agrees on the membership, else 0.").Register(registry);
    auto& conn = prometheus::BuildCounter().Name("waybill_cluster_peer_connects_total").Help("Connections established to the peer.").Register(registry);
    auto& lost = prometheus::BuildCounter().Name("waybill_cluster_peer_losses_total").Help("Connections to the peer that were lost.").Register(registry);
    auto& fwd = prometheus::BuildCounter().Name("waybill_cluster_forwarded_total").Help("Requests forwarded to the peer, by outcome (answered, down, timeout, failed, full).").Register(registry);
    auto& secs = prometheus::BuildHistogram().Name("waybill_cluster_forward_seconds").Help("Time from forwarding a request to the peer's answer.").Register(registry);
    auto& srv = prometheus::BuildCounter().Name("waybill_cluster_served_total").Help("Requests served for the peer (forwarded by it).").Register(registry);
    refused = &prometheus::BuildCounter().Name("waybill_cluster_refused_total").Help("Requests refused at the front door, by reason (owner_down).").Register(registry);
    in_flight = &prometheus::BuildGauge().Name("waybill_cluster_in_flight").Help("Forwarded requests awaiting the owner's answer.").Register(registry).Add({});
    const prometheus::Histogram::BucketBoundaries buckets{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    for (size_t i = 0; i < members.size(); ++i) {
      auto& m = members[i];
      if (i == self) {
        peer_up.push_back(nullptr);
        connects.push_back(nullptr);
        losses.push_back(nullptr);
        forwarded.emplace_back();
        forward_seconds.push_back(nullptr);
        served.push_back(nullptr);
        continue;
      }
      peer_up.push_back(&up.Add({{"peer", m.id}}));
      connects.push_back(&conn.Add({{"peer", m.id}}));
      losses.push_back(&lost.Add({{"peer", m.id}}));
      forwarded.emplace_back();
      for (auto* outcome : {"answered", "down", "timeout", "failed", "full"})
        forwarded.back()[outcome] = &fwd.Add({{"peer", m.id}, {"outcome", outcome}});
      forward_seconds.push_back(&secs.Add({{"peer", m.id}}, buckets));
      served.push_back(&srv.Add({{"peer", m.id}}));
    }
  }
};

// What the actors and the HTTP threads share; lives as long as the node.
struct Shared {
  ClusterOptions options;
  size_t self = 0;
  uint64_t digest = 0;
  HttpHandler serve;
  std::unique_ptr<std::atomic<bool>[]> up;
  std::atomic<size_t> in_flight{0};
  Metrics metrics;

  Shared(const ClusterOptions& o, size_t self_index, HttpHandler handler)
      : options(o), self(self_index), digest(membership_digest(o.members)), serve(std::move(handler)),
        up(new std::atomic<bool>[o.members.size()]), metrics(o.members, self_index) {
    for (size_t i = 0; i < o.members.size(); ++i) up[i] = i == self;
  }
  const std::string& id() const { return options.members[self].id; }
  size_t member_index(const std::string& id) const {
    for (size_t i = 0; i < options.members.size(); ++i)
      if (options.members[i].id == id) return i;
    return options.members.size();
  }
};

// One request this node forwards; answered exactly once.
struct Outbound {
  size_t member = 0;
  HttpRequest request;
  ClusterNode::Done done;
  Clock::time_point start = Clock::now();
  std::shared_ptr<Shared> shared;
  std::atomic<bool> finished{false};

  // An answer dropped with the actor system (shutdown) still reaches the client.
  ~Outbound() {
    if (!finished.load()) finish(NodeAnswer{{}, false, {}}, "failed");
  }

  void finish(NodeAnswer answer, const char* outcome) {
    if (finished.exchange(true)) return;
    auto& m = shared->metrics;
    m.forwarded[member][outcome]->Increment();
    if (answer.reached) m.forward_seconds[member]->Observe(std::chrono::duration<double>(Clock::now() - start).count());
    shared->in_flight.fetch_sub(1);
    m.in_flight->Decrement();
    answer.node_id = shared->options.members[member].id;
    done(std::move(answer));
  }
};

}  // namespace waybill::runtime::cluster_detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<waybill::runtime::cluster_detail::Outbound>)

namespace waybill::runtime {

namespace {
constexpr log::Logger kLog("cluster");
}  // namespace

using namespace cluster_detail;

namespace {

// ---- router: serves peers' forwarded requests -----------------------------------------

struct RouterState {
  // Answers of the local handler arrive as messages (it may answer from any thread);
  // each waits here for its promise. Bounded by options.max_in_flight.
  std::unordered_map<uint64_t, caf::response_promise> pending;
  uint64_t next_id = 0;
};

caf::behavior router(caf::stateful_actor<RouterState>* self, std::shared_ptr<Shared> shared) {
  return {
      [=](fwd_atom, const std::string& origin, std::string& method, std::string& target, std::string& content_type,
          std::string& idempotency_key, std::string& body, Headers& headers) {
        auto rp = self->make_response_promise();
        auto& st = self->state;
        if (st.pending.size() >= shared->options.max_in_flight) {
          auto res = problem_response(503, {Code::unavailable, "node " + shared->id() + " serves too many forwarded requests"});
          rp.deliver(int32_t{503}, res.content_type, res.body,
                     Headers{"Retry-After", std::to_string(shared->options.retry_after_s)});
          return;
        }
        if (size_t from = shared->member_index(origin); from < shared->options.members.size() && from != shared->self)
          shared->metrics.served[from]->Increment();
        uint64_t id = ++st.next_id;
        st.pending.emplace(id, rp);
        HttpRequest req{std::move(method), std::move(target), std::move(content_type), std::move(idempotency_key),
                        std::move(body), unflatten(headers), true};
        auto me = caf::actor_cast<caf::actor>(self);
        shared->serve(std::move(req), [me, id](HttpResponse res) {
          caf::anon_send(me, done_atom::value, id, int32_t{res.status}, std::move(res.content_type), std::move(res.body),
                         flatten(res.headers));
        });
      },
      [=](done_atom, uint64_t id, int32_t status, std::string& content_type, std::string& body, Headers& headers) {
        auto& pending = self->state.pending;
        auto it = pending.find(id);
        if (it == pending.end()) return;
        it->second.deliver(status, std::move(content_type), std::move(body), std::move(headers));
        pending.erase(it);
      },
      [=](hello_atom, const std::string&, uint64_t) -> caf::result<std::string, uint64_t> {
        return caf::result<std::string, uint64_t>(shared->id(), shared->digest);
      },
  };
}

// ---- peer manager: connections, monitoring, reconnects, outbound requests -------------

struct Peer {
  caf::actor handle;    // the peer's router while connected
  uint64_t generation = 0;  // bumped on every state change; stale callbacks compare it
  int failures = 0;     // consecutive failed attempts (the backoff exponent)
};

struct PeersState {
  std::vector<Peer> peers;
};

using PeersActor = caf::stateful_actor<PeersState>;

void set_up(PeersActor* self, const std::shared_ptr<Shared>& shared, size_t i, caf::actor handle) {
  auto& p = self->state.peers[i];
  p.handle = std::move(handle);
  p.failures = 0;
  ++p.generation;
  self->monitor(p.handle);
  shared->up[i] = true;
  shared->metrics.peer_up[i]->Set(1);
  shared->metrics.connects[i]->Increment();
  kLog.info("peer up", {{"peer", shared->options.members[i].id}});
}

// Schedules the next attempt; the delay doubles per failure up to reconnect_max_ms.
void retry_later(PeersActor* self, const std::shared_ptr<Shared>& shared, size_t i) {
  auto& p = self->state.peers[i];
  auto& o = shared->options;
  const int shift = std::min(p.failures, 20);
  const int64_t delay_ms = std::min<int64_t>(o.reconnect_max_ms, int64_t{o.reconnect_base_ms} << shift);
  ++p.failures;
  ++p.generation;
  self->delayed_send(self, std::chrono::milliseconds(delay_ms), dial_atom::value, uint64_t{i}, p.generation);
}

void set_down(PeersActor* self, const std::shared_ptr<Shared>& shared, size_t i, const std::string& why) {
  auto& p = self->state.peers[i];
  if (p.handle) {
    self->demonitor(p.handle);
    p.handle = caf::actor{};
    shared->metrics.losses[i]->Increment();
    kLog.warn("peer down", {{"peer", shared->options.members[i].id}, {"reason", why}});
  }
  shared->up[i] = false;
  shared->metrics.peer_up[i]->Set(0);
  retry_later(self, shared, i);
}

void dial(PeersActor* self, const std::shared_ptr<Shared>& shared, size_t i) {
  const uint64_t gen = self->state.peers[i].generation;
  auto& m = shared->options.members[i];
  const auto timeout = std::chrono::milliseconds(shared->options.connect_timeout_ms);
  auto stale = [self, i, gen] { return self->state.peers[i].generation != gen; };
  self->request(self->system().middleman().actor_handle(), timeout, caf::connect_atom::value, m.host, m.port)
      .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            if (stale()) return;
            if (!ptr) return retry_later(self, shared, i);  // a CAF node without our router
            auto peer = caf::actor_cast<caf::actor>(ptr);
            // A peer is used only once it proves to be the member we expect, running
            // with the same membership: otherwise the two would disagree on owners.
            self->request(peer, timeout, hello_atom::value, shared->id(), shared->digest)
                .then(
                    [=](const std::string& peer_id, uint64_t peer_digest) {
                      if (stale()) return;
                      if (peer_id != shared->options.members[i].id || peer_digest != shared->digest) {
                        kLog.error("peer answers with another identity or membership; not used",
                                   {{"host", shared->options.members[i].host},
                                    {"port", static_cast<int64_t>(shared->options.members[i].port)},
                                    {"answered_id", peer_id},
                                    {"answered_membership", peer_digest},
                                    {"expected_id", shared->options.members[i].id},
                                    {"expected_membership", shared->digest}});
                        return retry_later(self, shared, i);
                      }
                      set_up(self, shared, i, peer);
                    },
                    [=](caf::error&) {
                      if (!stale()) retry_later(self, shared, i);
                    });
          },
          [=](caf::error&) {
            if (!stale()) retry_later(self, shared, i);
          });
}

void send_out(PeersActor* self, std::shared_ptr<Outbound> out) {
  auto& p = self->state.peers[out->member];
  if (!p.handle) return out->finish(NodeAnswer{{}, false, {}}, "down");
  auto& r = out->request;
  self->request(p.handle, std::chrono::milliseconds(out->shared->options.forward_timeout_ms), fwd_atom::value,
                out->shared->id(), r.method, r.target, r.content_type, r.idempotency_key, r.body, flatten(r.headers))
      .then(
          [out](int32_t status, std::string& content_type, std::string& body, Headers& headers) {
            out->finish(NodeAnswer{{}, true, HttpResponse{status, std::move(content_type), std::move(body), unflatten(headers)}},
                        "answered");
          },
          [out](caf::error& e) {
            out->finish(NodeAnswer{{}, false, {}}, e == caf::sec::request_timeout ? "timeout" : "failed");
          });
}

caf::behavior peers(PeersActor* self, std::shared_ptr<Shared> shared) {
  self->state.peers.resize(shared->options.members.size());
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& peers = self->state.peers;
    for (size_t i = 0; i < peers.size(); ++i)
      if (peers[i].handle && peers[i].handle.address() == dm.source) set_down(self, shared, i, caf::to_string(dm.reason));
  });
  for (size_t i = 0; i < shared->options.members.size(); ++i)
    if (i != shared->self) self->send(self, dial_atom::value, uint64_t{i}, uint64_t{0});
  return {
      [=](dial_atom, uint64_t i, uint64_t gen) {
        auto& p = self->state.peers[i];
        if (gen == p.generation && !p.handle) dial(self, shared, i);
      },
      [=](send_atom, std::shared_ptr<Outbound>& out) { send_out(self, std::move(out)); },
  };
}

}  // namespace

struct ClusterNode::Impl {
  std::shared_ptr<Shared> shared;
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  caf::actor router, peers;
  uint16_t port = 0;
  std::once_flag stopped;
};

ClusterNode::ClusterNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ClusterNode::~ClusterNode() { stop(); }

Result<std::unique_ptr<ClusterNode>> ClusterNode::start(const ClusterOptions& options, size_t self, HttpHandler serve) {
  auto impl = std::make_unique<Impl>();
  impl->shared = std::make_shared<Shared>(options, self, std::move(serve));
  auto& cfg = impl->config;
  cfg.load<caf::io::middleman>();
  cfg.set("scheduler.max-threads", static_cast<size_t>(std::max(1, options.threads)));
  // A shared queue wakes an idle worker at once; work stealing lets idle workers back off
  // into sleeps that a forwarded request would wait out (measured: scripts/cluster_bench.sh).
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("logger.verbosity", caf::atom("quiet"));
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(options.heartbeat_interval_ms)});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::milliseconds(options.connection_timeout_ms)});
  impl->system = std::make_unique<caf::actor_system>(cfg);
  auto& me = options.members[self];
  impl->router = impl->system->spawn(router, impl->shared);
  // SO_REUSEADDR: a node restarted after a crash must bind again while connections of
  // its previous incarnation linger in TIME_WAIT.
  auto port = impl->system->middleman().publish(impl->router, me.port, me.host.c_str(), true);
  if (!port) {
    caf::anon_send_exit(impl->router, caf::exit_reason::user_shutdown);
    return Status{Code::unavailable,
                  "cannot listen on " + me.host + ":" + std::to_string(me.port) + ": " + impl->system->render(port.error()),
                  "cluster.members"};
  }
  impl->port = *port;
  impl->peers = impl->system->spawn(peers, impl->shared);
  kLog.info("listening for peers", {{"node", me.id}, {"members", options.members.size()}, {"host", me.host},
                                    {"port", static_cast<int64_t>(*port)}});
  return std::unique_ptr<ClusterNode>(new ClusterNode(std::move(impl)));
}

void ClusterNode::forward(size_t member, HttpRequest request, Done done) {
  auto& shared = impl_->shared;
  auto out = std::make_shared<Outbound>();
  out->member = member;
  out->request = std::move(request);
  out->done = std::move(done);
  out->shared = shared;
  if (shared->in_flight.fetch_add(1) >= shared->options.max_in_flight) {
    shared->metrics.in_flight->Increment();
    return out->finish(NodeAnswer{{}, false, {}}, "full");
  }
  shared->metrics.in_flight->Increment();
  if (!shared->up[member]) return out->finish(NodeAnswer{{}, false, {}}, "down");
  caf::anon_send(impl_->peers, send_atom::value, std::move(out));
}

bool ClusterNode::up(size_t member) const { return impl_->shared->up[member].load(); }

size_t ClusterNode::in_flight() const { return impl_->shared->in_flight.load(); }

void ClusterNode::count_refused(const std::string& reason) {
  impl_->shared->metrics.refused->Add({{"reason", reason}}).Increment();
}

std::string ClusterNode::render_metrics() const {
  return prometheus::TextSerializer().Serialize(impl_->shared->metrics.registry.Collect());
}

void ClusterNode::stop() {
  std::call_once(impl_->stopped, [this] {
    auto& impl = *impl_;
    if (!impl.system) return;
    impl.system->middleman().unpublish(impl.router, impl.port);
    caf::anon_send_exit(impl.router, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(impl.peers, caf::exit_reason::user_shutdown);
    // The actor system's destructor waits for its actors and closes every connection;
    // requests still waiting for an answer fail with an error and finish as not reached.
    impl.system.reset();
  });
}

}  // namespace waybill::runtime
