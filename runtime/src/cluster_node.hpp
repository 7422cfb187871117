// Internal: the transport between cluster nodes, on CAF remoting (io::middleman).
//
// Each node runs a small actor system of its own (the entities stay in the engine's):
//  - the router, published on the node's middleman port, serves requests forwarded by
//    peers through this node's local handler and answers identity handshakes;
//  - the peer manager connects to every other member, monitors the connection, marks
//    the peer down when it is lost and reconnects with bounded exponential backoff, and
//    sends this node's forwarded requests to the peers' routers.
//
// Only types CAF 0.17 serializes out of the box cross the wire (atoms, strings, integers,
// vectors of strings):
//   (wb_fwd, origin, method, target, content_type, idempotency_key, body, headers)
//       -> (int32 status, content_type, body, headers)
//   (wb_hello, origin, membership_digest) -> (node_id, membership_digest)
// where headers are flattened name, value, name, value, ...
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "waybill/runtime/cluster_config.hpp"
#include "waybill/runtime/cluster_routing.hpp"
#include "waybill/runtime/http_server.hpp"

namespace waybill::runtime {

class ClusterNode {
 public:
  /// Called once per forward with the owner's answer or `reached == false`.
  using Done = std::function<void(NodeAnswer)>;

  /// Binds the middleman port of member `self` and starts connecting to the others.
  /// `serve` answers requests forwarded by peers; it must outlive stop().
  static Result<std::unique_ptr<ClusterNode>> start(const ClusterOptions& options, size_t self, HttpHandler serve);
  ~ClusterNode();

  /// Sends `request` to member `member`'s router; `done` runs on an actor thread. A
  /// peer that is down, or an in-flight bound that is reached, answers at once with
  /// `reached == false`. Thread-safe.
  void forward(size_t member, HttpRequest request, Done done);
  /// Whether member `member` is connected (this node itself always is).
  bool up(size_t member) const;
  /// Forwarded requests awaiting an answer now.
  size_t in_flight() const;
  /// Counts a request refused at the front door, by reason (metrics).
  void count_refused(const std::string& reason);
  /// Prometheus text of the cluster metrics.
  std::string render_metrics() const;
  /// Closes the port and stops the actors; pending forwards answer `reached == false`.
  void stop();

  struct Impl;

 private:
  explicit ClusterNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace waybill::runtime
