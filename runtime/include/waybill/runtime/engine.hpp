// The engine without its HTTP front: storage, the group-commit writer, the CAF actor
// system and the two entity registries. waybilld wraps it in HTTP; the bench's
// in-process driver and the tests use it directly.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "waybill/actors/entity.hpp"
#include "waybill/actors/settlement.hpp"
#include "waybill/runtime/sla_timers.hpp"
#include "waybill/runtime/visibility.hpp"
#include "waybill/storage/group_commit.hpp"

namespace waybill::runtime {

class Metrics;

struct BookingOptions {
  /// Directory of carrier profiles (*.yaml); empty or missing: no carrier booking.
  /// Default: "configs/carriers".
  std::string carriers_dir = "configs/carriers";
  /// "cheapest" | "fastest" | "preferred" (first eligible, no rating). Default: cheapest.
  std::string selection = "cheapest";
  /// Book at release when the order carries its packages, without a pack step.
  /// Default: false.
  bool book_on_release = false;
  /// Open bookings (created, not yet booked or rejected) beyond which release and pack
  /// answer 429 with Retry-After. Default: 50000.
  int64_t max_backlog = 50000;
  /// Ship-from used when an order names none. Default: a placeholder US warehouse.
  fb::PartyT default_ship_from;
  /// HTTP client threads for carrier calls. Default: 1.
  int client_threads = 1;
  /// Most connections to one carrier endpoint (host:port); with the adapters' windows
  /// this bounds concurrent carrier calls. Default: 256.
  size_t client_max_connections = 256;
  /// Crash tests only: die on the Nth booking answer before persisting it. Default: 0 (off).
  int crash_after_booking_answers = 0;
};

struct EngineOptions {
  storage::StoreOptions store;
  storage::WriterOptions writer;
  /// Resident order actors. Default: 100000.
  actors::RegistryOptions orders{100000, 60000, 64};
  /// Resident shipment actors. Default: 500000.
  actors::RegistryOptions shipments{500000, 60000, 64};
  /// CAF worker threads; 0 means one per core. Default: 0.
  int scheduler_threads = 0;
  /// CAF scheduler policy: "stealing" or "sharing". Default: "sharing" (measured to
  /// keep its rate with many mostly idle actors; see the architecture notes).
  std::string scheduler_policy = "sharing";
  /// How often idle actors are looked for, in ms. Default: 1000.
  int sweep_interval_ms = 1000;
  BookingOptions booking;
  /// Shipment SLA deadlines and the scanner that fires them.
  SlaTimerOptions sla;
  /// Freight settlement: tolerances, what justifies a charge, bounds.
  actors::SettlementOptions settlement;
  /// How invoice lines find their shipment by tracking number (recycled numbers).
  actors::TrackingLookupOptions tracking;
  /// Visibility freshness: which active shipments were heard of lately (metrics).
  VisibilityOptions visibility;
  /// Crash tests only: die right after the Nth committed write batch, before any of its
  /// completions (answers, effects) run. Default: 0 (off).
  int crash_after_commits = 0;
  /// Member ids this node serves under (cluster.members; empty list: a single node),
  /// checked against the membership recorded in the store before anything runs
  /// (membership.hpp): start fails on a mismatch or a rebalance under way. waybilld
  /// always sets it; nullopt skips the check (in-process tests and the bench).
  /// Default: nullopt.
  std::optional<std::vector<std::string>> membership;
};

class Engine {
 public:
  /// Opens storage and starts the writer, actor system and sweeper. `metrics` may be
  /// null; when given it must outlive the engine.
  static Result<std::unique_ptr<Engine>> start(const EngineOptions& options, Metrics* metrics);
  ~Engine();

  /// Stops the sweeper, lets queued writes commit, stops the writer and the actors.
  void stop();

  storage::Store& store();
  storage::GroupCommitWriter& writer();
  actors::EntityRegistry& orders();
  actors::EntityRegistry& shipments();
  actors::ActorStats& stats();
  caf::actor_system& system();
  bool ready() const;
  /// Runs `fn` on the writer thread after every committed batch (set once, before
  /// serving; must be cheap).
  void set_commit_listener(std::function<void()> fn);
  /// Carriers and adapters (empty directory when booking is off).
  const actors::CarrierDirectory& carriers() const;
  const BookingOptions& booking_options() const;
  /// The SLA timer scanner (tests drive scan_once() directly).
  SlaTimerScanner& sla_timers();
  /// The visibility freshness passes (tests drive pass() directly).
  VisibilityScanner& visibility();
  /// The settlement ledger actor (settlement.hpp) and its options and counters.
  caf::actor settlement();
  const actors::SettlementOptions& settlement_options() const;
  actors::SettlementStats& settlement_stats();

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace waybill::runtime
