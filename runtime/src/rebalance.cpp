// The offline rebalance run (rebalance.hpp): check every store's state, plan, mark,
// move column family by column family, verify, record the new membership.
#include "waybill/runtime/rebalance.hpp"

#include <chrono>
#include <filesystem>
#include <memory>

#include "rebalance_internal.hpp"
#include "waybill/runtime/membership.hpp"
#include "waybill/schemas/webhooks_generated.h"

namespace waybill::runtime {

namespace {

namespace fs = std::filesystem;
using storage::Column;
using storage::Store;
using storage::WriteOp;

// The order of the steps on each source. Records naming a shipment are classified
// through its header, so the headers move after them; events (freight events too) come
// first, so the dead letters that follow them find where they went. A carrier's
// settlement records name their carrier themselves: any place would do.
constexpr Column kSteps[] = {Column::events,     Column::dead_letters, Column::milestones, Column::tracking_index,
                             Column::exceptions, Column::manifests,    Column::timers,     Column::tracking_poll,
                             Column::work,       Column::idempotency,  Column::shipments,  Column::order_shipments,
                             Column::orders,     Column::invoices,     Column::disputes,   Column::settlement_totals,
                             Column::billings};

enum class Mode { plan, move };

struct Node {
  std::string id;
  storage::StoreOptions options;
  bool in_from = false, in_to = false;
  std::unique_ptr<Store> store;  // null only in a dry run, for a node without data yet
  enum class State { fresh, resuming, finalized } state = State::fresh;
  uint64_t recorded_epoch = 0;
  uint64_t next_position = 1;  // as a destination: the next outbox position
};

struct Record {
  std::string key, value;
};

class Run {
 public:
  Run(const MembershipChange& change, const RebalanceOptions& options) : options_(options) {
    from_ids_ = change.from.member_ids;
    to_ids_ = change.to.member_ids;
    for (auto& n : change.to.nodes) to_routing_.push_back(n.id);
    to_routing_ = sorted_ids(std::move(to_routing_));
    for (auto& n : change.from.nodes) {
      auto& node = nodes_[n.id];
      node.id = n.id;
      node.options = n.store;
      node.in_from = true;
    }
    for (auto& n : change.to.nodes) {
      auto& node = nodes_[n.id];
      node.id = n.id;
      node.options = n.store;
      node.in_to = true;
    }
  }

  Result<RebalanceReport> execute();

 private:
  Status open_stores();
  Status check_states(bool* all_done);
  Status scan_all(Mode mode, RebalanceReport* into);
  Status scan_step(Node& src, Column column, Mode mode, RebalanceReport* into);
  void classify(Node& src, Column column, const Record& r, Mode mode, RebalanceReport* into,
                std::map<std::string, std::vector<WriteOp>>* copies, std::vector<WriteOp>* deletes, Status* stop);
  void classify_event(Node& src, const Record& r, Mode mode, RebalanceReport* into,
                      std::map<std::string, std::vector<WriteOp>>* copies, std::vector<WriteOp>* deletes);
  void classify_dead_letter(Node& src, const Record& r, Mode mode, RebalanceReport* into,
                            std::map<std::string, std::vector<WriteOp>>* copies, std::vector<WriteOp>* deletes);
  void check_subscriptions(const RebalanceReport& plan, std::vector<std::string>* conflicts);
  Status copy_subscriptions(const RebalanceReport& plan);
  Status mark();
  Status finalize();
  Status commit(Node& node, std::vector<WriteOp> ops);
  std::optional<std::string> subscription_for_url(const Node& node, const std::string& url) const;
  /// Every node, the members only of the new list first or last.
  std::vector<Node*> ordered_nodes(bool new_first);
  ShipmentOrderLookup lookup_on(const Node& node);

  ShipmentOrderLookup lookup_;                  // on the source of the current step
  const RebalanceOptions& options_;
  std::vector<std::string> from_ids_, to_ids_;  // as recorded (empty: a single node)
  std::vector<std::string> to_routing_;         // the new owners' ids
  std::map<std::string, Node> nodes_;           // every node of either list, by id
  RebalanceReport report_;
  uint64_t epoch_ = 0;
};

std::string describe_key(Column column, std::string_view key) {
  std::string printable;
  for (unsigned char c : key.substr(0, 80)) printable += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
  return std::string(storage::column_name(column)) + " '" + printable + "'";
}

Status Run::open_stores() {
  for (auto& [id, node] : nodes_) {
    if (options_.dry_run && !fs::exists(fs::path(node.options.data_dir) / "CURRENT")) continue;
    auto store = Store::open(node.options);
    if (!store) {
      const auto& why = store.status().message();
      if (why.find("lock") != std::string::npos)
        return {Code::conflict, "node " + id + ": " + node.options.data_dir +
                                       " is locked by another process (is its waybilld running? stop every node first)"};
      return {store.status().code(), "node " + id + ": " + why};
    }
    node.store = std::move(*store);
  }
  return {};
}

bool holds_entities(const Store& store) {
  for (Column c : {Column::orders, Column::shipments, Column::events, Column::invoices}) {
    std::string key;
    if (store.last_key(c, &key).ok()) return true;
  }
  return false;
}

Status Run::check_states(bool* all_done) {
  size_t finalized = 0, fresh = 0, resuming = 0;
  uint64_t max_epoch = 1;
  for (auto& [id, node] : nodes_) {
    if (!node.store) {
      ++fresh;
      continue;
    }
    auto marker = read_rebalance_marker(*node.store);
    if (!marker) return marker.status();
    auto recorded = read_membership(*node.store);
    if (!recorded) return recorded.status();
    if (*marker) {
      auto& m = **marker;
      if (m.from_ids != from_ids_ || m.to_ids != to_ids_)
        return {Code::conflict, "node " + id + " is in the middle of another rebalance, from " + describe_members(m.from_ids) +
                                    " to " + describe_members(m.to_ids) + ": finish that one with its own configs first"};
      node.state = Node::State::resuming;
      epoch_ = m.epoch;
      ++resuming;
    } else if (*recorded && (*recorded)->member_ids == to_ids_) {
      node.state = Node::State::finalized;
      epoch_ = (*recorded)->epoch;
      ++finalized;
    } else if ((*recorded && (*recorded)->member_ids == from_ids_) || (!*recorded && node.in_from)) {
      node.recorded_epoch = *recorded ? (*recorded)->epoch : 1;
      max_epoch = std::max(max_epoch, node.recorded_epoch);
      ++fresh;
    } else if (!*recorded) {
      if (holds_entities(*node.store))
        return {Code::conflict, "node " + id + " is new to the member list but " + node.options.data_dir +
                                    " already holds orders, shipments, events or invoices; give it an empty data dir"};
      ++fresh;
    } else {
      return {Code::conflict, "node " + id + ": the data in " + node.options.data_dir + " belongs to " +
                                  describe_members((*recorded)->member_ids) + " (epoch " +
                                  std::to_string((*recorded)->epoch) + "), not to the old list " +
                                  describe_members(from_ids_)};
    }
  }
  *all_done = finalized == nodes_.size();
  if (finalized > 0 && fresh > 0 && resuming == 0)
    return {Code::conflict, "some nodes already record " + describe_members(to_ids_) +
                                " while others record the old list and no rebalance is under way: were nodes "
                                "started with the new configs before their data was moved? Refusing to merge"};
  if (resuming == 0 && finalized == 0) epoch_ = max_epoch + 1;
  return {};
}

std::vector<Node*> Run::ordered_nodes(bool new_first) {
  std::vector<Node*> out;
  for (bool want_new : {new_first, !new_first})
    for (auto& [id, node] : nodes_)
      if ((node.in_to && !node.in_from) == want_new) out.push_back(&node);
  return out;
}

ShipmentOrderLookup Run::lookup_on(const Node& node) {
  // Records of one shipment sit next to each other (milestones): remember the last one.
  auto last_id = std::make_shared<std::string>();
  auto last = std::make_shared<std::optional<std::string>>();
  const Store* store = node.store.get();
  return [store, last_id, last](std::string_view shipment_id) -> std::optional<std::string> {
    if (*last_id == shipment_id && last->has_value()) return *last;
    std::string header;
    if (!store->get(Column::shipments, shipment_id, &header).ok()) return std::nullopt;
    *last_id = std::string(shipment_id);
    *last = shipment_order_id(shipment_id, header);
    return *last;
  };
}

Status Run::commit(Node& node, std::vector<WriteOp> ops) {
  if (ops.empty()) return {};
  if (auto st = node.store->write(ops, options_.sync); !st.ok())
    return {st.code(), "node " + node.id + ": " + st.message() + " (run again to finish)"};
  ++report_.writes;
  if (options_.after_write && !options_.after_write(report_.writes))
    return {Code::unavailable, "stopped after " + std::to_string(report_.writes) + " writes"};
  return {};
}

bool is_settlement(Column c) {
  return c == Column::invoices || c == Column::disputes || c == Column::settlement_totals || c == Column::billings;
}

// `freight`: an event of a carrier's settlement, counted with it.
void count(MoveCounts* c, Column column, uint64_t records, bool freight = false) {
  c->records += records;
  if (freight || is_settlement(column)) c->settlement_records += records;
  if (column == Column::orders) ++c->orders;
  if (column == Column::shipments) ++c->shipments;
  if (column == Column::milestones) ++c->milestones;
  if (column == Column::events) ++c->events;
  if (column == Column::invoices) ++c->invoices;
}

std::string describe_entity(const RecordEntity& e) {
  return e.kind == RecordEntity::Kind::carrier ? "the settlement of carrier " + e.carrier : "order " + e.order_id;
}

void Run::classify(Node& src, Column column, const Record& r, Mode mode, RebalanceReport* into,
                   std::map<std::string, std::vector<WriteOp>>* copies, std::vector<WriteOp>* deletes, Status* stop) {
  if (column == Column::events) return classify_event(src, r, mode, into, copies, deletes);
  if (column == Column::dead_letters) return classify_dead_letter(src, r, mode, into, copies, deletes);
  auto entity = record_entity(column, r.key, r.value, lookup_);
  if (entity.kind == RecordEntity::Kind::orphan) {
    if (mode == Mode::plan) ++into->orphans_kept;
    return;
  }
  if (entity.kind != RecordEntity::Kind::order && entity.kind != RecordEntity::Kind::carrier) return;
  auto dest_id = new_owner_if_moved(to_routing_, src.id, routing_key(entity));
  if (!dest_id) return;
  Node& dest = nodes_.at(*dest_id);
  std::string existing;
  if (dest.store && dest.store->get(column, r.key, &existing).ok() && existing != r.value) {
    if (column == Column::idempotency && r.key.rfind(std::string("key") + '\0', 0) == 0) {
      if (mode == Mode::plan) ++into->idempotency_kept;
      return;  // the key names another request there; this one stays in its node's key space
    }
    auto why = describe_key(column, r.key) + " of " + describe_entity(entity) + " differs on " + dest.id;
    if (mode == Mode::plan) into->conflicts.push_back(src.id + " -> " + dest.id + ": " + why);
    else *stop = {Code::conflict, why};
    return;
  }
  count(&into->moves[{src.id, dest.id}], column, 1);
  if (mode == Mode::plan) return;
  (*copies)[dest.id].push_back({column, r.key, r.value});
  deletes->push_back({column, r.key, {}, true});
}

// Events are appended to the destination's outbox in their source order; the mapping
// written with each copy makes a rerun find it instead of appending it again. An
// order's events follow the order, a freight event its carrier's settlement; each takes
// its index entry along (rebalance_settlement.cpp says why for freight events).
void Run::classify_event(Node& src, const Record& r, Mode mode, RebalanceReport* into,
                         std::map<std::string, std::vector<WriteOp>>* copies, std::vector<WriteOp>* deletes) {
  auto ev = decode<fb::EventT>(r.value);
  if (!ev) return;
  auto home = event_home(*ev, lookup_);
  if (!home) {
    if (mode == Mode::plan && ev->kind == fb::EntityKind::invoice) ++into->orphans_kept;  // names no carrier
    return;
  }
  auto dest_id = new_owner_if_moved(to_routing_, src.id, home->routing_key);
  if (!dest_id) return;
  const bool indexed = !home->index_key.empty();
  count(&into->moves[{src.id, *dest_id}], Column::events, indexed ? 2 : 1, home->freight);  // with its index entry
  if (mode == Mode::plan) return;
  Node& dest = nodes_.at(*dest_id);
  const uint64_t from_position = storage::read_be64(r.key);
  const std::string mapping = moved_event_key(src.id, from_position);
  std::string ignored;
  if (!dest.store->get(Column::meta, mapping, &ignored).ok()) {
    const uint64_t position = dest.next_position++;
    ev->moved_from_node = src.id;
    ev->moved_from_position = from_position;
    auto& ops = (*copies)[dest.id];
    ops.push_back({Column::events, storage::be64(position), encode(*ev)});
    if (indexed) ops.push_back({Column::event_index, home->index_key + '\0' + storage::be64(position), {}});
    ops.push_back({Column::meta, mapping, storage::be64(position)});
  }
  deletes->push_back({Column::events, r.key, {}, true});
  if (indexed) deletes->push_back({Column::event_index, home->index_key + '\0' + r.key, {}, true});
}

// A dead letter follows its event, to the destination's subscription for the same URL.
void Run::classify_dead_letter(Node& src, const Record& r, Mode mode, RebalanceReport* into,
                               std::map<std::string, std::vector<WriteOp>>* copies, std::vector<WriteOp>* deletes) {
  if (r.key.size() < 9 || r.key[r.key.size() - 9] != '\0') return;
  const std::string sub_id = r.key.substr(0, r.key.size() - 9);
  const uint64_t position = storage::read_be64(std::string_view(r.key).substr(r.key.size() - 8));
  std::string event, def;
  if (src.store->get(Column::events, storage::be64(position), &event).ok()) {
    // Not moved yet: in a plan, count it where its event goes.
    auto ev = decode<fb::EventT>(event);
    auto home = ev ? event_home(*ev, lookup_) : std::nullopt;
    auto dest_id = home ? new_owner_if_moved(to_routing_, src.id, home->routing_key) : std::nullopt;
    if (mode == Mode::plan && dest_id) count(&into->moves[{src.id, *dest_id}], Column::dead_letters, 1);
    return;
  }
  if (!src.store->get(Column::subscriptions, "s/" + sub_id, &def).ok()) return;
  auto sub = decode<fb::SubscriptionT>(def);
  if (!sub) return;
  for (auto& dest_id : to_routing_) {
    Node& dest = nodes_.at(dest_id);
    std::string mapped;
    if (dest_id == src.id || !dest.store ||
        !dest.store->get(Column::meta, moved_event_key(src.id, position), &mapped).ok())
      continue;
    auto dest_sub = subscription_for_url(dest, sub->url);
    if (!dest_sub) return;  // no subscriber there: the letter stays readable on its node
    count(&into->moves[{src.id, dest_id}], Column::dead_letters, 1);
    if (mode == Mode::plan) return;
    auto letter = decode<fb::DeadLetterT>(r.value);
    if (!letter) return;
    letter->subscription_id = *dest_sub;
    letter->position = storage::read_be64(mapped);
    (*copies)[dest_id].push_back({Column::dead_letters, *dest_sub + '\0' + mapped, encode(*letter)});
    deletes->push_back({Column::dead_letters, r.key, {}, true});
    return;
  }
}

Status Run::scan_step(Node& src, Column column, Mode mode, RebalanceReport* into) {
  const size_t batch = std::max<size_t>(1, options_.batch_records);
  lookup_ = lookup_on(src);
  std::string start;
  // Ends: every round starts past the last key it read, and a short round is the last.
  for (;;) {
    std::vector<Record> records;
    auto st = src.store->scan_from(column, start, batch, [&](std::string_view k, std::string_view v) {
      records.push_back({std::string(k), std::string(v)});
      return true;
    });
    if (!st.ok()) return st;
    if (records.empty()) return {};
    start = records.back().key + '\0';  // the least key after it
    std::map<std::string, std::vector<WriteOp>> copies;
    std::vector<WriteOp> deletes;
    Status stop;
    for (auto& r : records) {
      classify(src, column, r, mode, into, &copies, &deletes, &stop);
      if (!stop.ok()) return stop;
    }
    // Copies first, each destination durable, then the deletions on the source.
    for (auto& [dest_id, ops] : copies)
      if (auto cst = commit(nodes_.at(dest_id), std::move(ops)); !cst.ok()) return cst;
    if (auto dst = commit(src, std::move(deletes)); !dst.ok()) return dst;
    if (records.size() < batch) return {};
  }
}

uint64_t records_from(const RebalanceReport& r, const std::string& id) {
  uint64_t n = 0;
  for (auto& [pair, c] : r.moves)
    if (pair.first == id) n += c.records;
  return n;
}

Status Run::scan_all(Mode mode, RebalanceReport* into) {
  for (auto& [id, node] : nodes_) {
    if (!node.in_from || !node.store) continue;
    const uint64_t before = records_from(*into, id);
    for (Column column : kSteps)
      if (auto st = scan_step(node, column, mode, into); !st.ok()) return st;
    if (mode == Mode::move && options_.progress)
      options_.progress(id + ": moved " + std::to_string(records_from(*into, id) - before) + " records");
  }
  return {};
}

std::optional<std::string> Run::subscription_for_url(const Node& node, const std::string& url) const {
  std::optional<std::string> found;
  if (!node.store) return found;
  (void)node.store->scan_prefix(Column::subscriptions, "s/", 100000, [&](std::string_view, std::string_view v) {
    auto sub = decode<fb::SubscriptionT>(v);
    if (sub && sub->url == url) found = sub->id;
    return !found;
  });
  return found;
}

// Subscriptions of a source, for each destination its events go to: the destination's
// own subscription to the same URL delivers them, else a copy does (same id, secrets
// and filter) starting at the destination's outbox end before anything moved in.
template <class Fn>
Status for_each_needed_copy(std::map<std::string, Node>& nodes, const RebalanceReport& plan, Fn&& fn) {
  for (auto& [pair, counts] : plan.moves) {
    if (counts.events == 0) continue;
    Node& src = nodes.at(pair.first);
    Node& dest = nodes.at(pair.second);
    std::vector<fb::SubscriptionT> subs;
    auto st = src.store->scan_prefix(Column::subscriptions, "s/", 100000, [&](std::string_view, std::string_view v) {
      if (auto sub = decode<fb::SubscriptionT>(v)) subs.push_back(std::move(*sub));
      return true;
    });
    if (!st.ok()) return st;
    for (auto& sub : subs)
      if (auto fst = fn(src, dest, sub); !fst.ok()) return fst;
  }
  return {};
}

void Run::check_subscriptions(const RebalanceReport& plan, std::vector<std::string>* conflicts) {
  (void)for_each_needed_copy(nodes_, plan, [&](Node& src, Node& dest, const fb::SubscriptionT& sub) -> Status {
    std::string other;
    if (subscription_for_url(dest, sub.url) || !dest.store) return {};
    if (dest.store->get(Column::subscriptions, "s/" + sub.id, &other).ok())
      conflicts->push_back(src.id + " -> " + dest.id + ": subscription " + sub.id + " exists there for another URL");
    return {};
  });
}

Status Run::copy_subscriptions(const RebalanceReport& plan) {
  return for_each_needed_copy(nodes_, plan, [&](Node&, Node& dest, const fb::SubscriptionT& sub) -> Status {
    if (subscription_for_url(dest, sub.url)) return {};
    auto tail = dest.store->last_event_position();
    if (!tail) return tail.status();
    ++report_.subscriptions_copied;
    return commit(dest, {{Column::subscriptions, "s/" + sub.id, encode(sub)},
                         {Column::subscriptions, "c/" + sub.id, storage::be64(*tail)}});
  });
}

// The marker on every node not marked yet, with its outbox high water: the positions
// of events that leave its tail are never issued again.
//
// New members first: while any old member is marked (and entities may be on their
// way), every new member is marked too, so none of them starts empty and serves keys
// whose data has not arrived. They are recorded last (finalize) for the same reason.
Status Run::mark() {
  RebalanceMarker marker{epoch_, from_ids_, to_ids_};
  for (Node* node : ordered_nodes(/*new_first=*/true)) {
    if (node->state != Node::State::fresh) continue;
    auto high = node->store->last_event_position();
    if (!high) return high.status();
    std::vector<WriteOp> ops{{Column::meta, kRebalanceMarkerKey, encode_rebalance_marker(marker)}};
    if (*high > 0) ops.push_back({Column::meta, storage::kEventHighWaterKey, storage::be64(*high)});
    if (auto st = commit(*node, std::move(ops)); !st.ok()) return st;
    node->state = Node::State::resuming;
  }
  for (auto& [id, node] : nodes_) {
    auto high = node.store->last_event_position();
    if (!high) return high.status();
    node.next_position = *high + 1;
  }
  return {};
}

// The new membership on every node, the moved-event mappings swept, the marker last.
Status Run::finalize() {
  const size_t batch = std::max<size_t>(1, options_.batch_records);
  for (auto* n : ordered_nodes(/*new_first=*/false)) {
    Node& node = *n;
    if (node.state == Node::State::finalized) continue;
    for (;;) {  // ends: each round deletes what it read
      std::vector<WriteOp> ops;
      auto st = node.store->scan_prefix(Column::meta, kMovedEventPrefix, batch, [&](std::string_view k, std::string_view) {
        ops.push_back({Column::meta, std::string(k), {}, true});
        return true;
      });
      if (!st.ok()) return st;
      if (ops.empty()) break;
      if (auto cst = commit(node, std::move(ops)); !cst.ok()) return cst;
    }
    MembershipRecord record{epoch_, to_ids_};
    if (auto st = commit(node, {{Column::meta, kMembershipKey, encode_membership(record)},
                                {Column::meta, kRebalanceMarkerKey, {}, true}});
        !st.ok())
      return st;
    node.state = Node::State::finalized;
  }
  return {};
}

Result<RebalanceReport> Run::execute() {
  const auto t0 = std::chrono::steady_clock::now();
  if (auto st = open_stores(); !st.ok()) return st;
  bool all_done = false;
  if (auto st = check_states(&all_done); !st.ok()) return st;
  report_.epoch = epoch_;
  if (all_done) {
    report_.outcome = RebalanceReport::Outcome::already_done;
    return report_;
  }
  if (auto st = scan_all(Mode::plan, &report_); !st.ok()) return st;
  check_subscriptions(report_, &report_.conflicts);
  if (options_.dry_run) {
    report_.outcome = RebalanceReport::Outcome::planned;
    return report_;
  }
  if (!report_.conflicts.empty()) {
    std::string list;
    for (size_t i = 0; i < report_.conflicts.size() && i < 10; ++i) list += "\n  " + report_.conflicts[i];
    return Status{Code::conflict, std::to_string(report_.conflicts.size()) +
                                      " record(s) would overwrite different ones; nothing was changed:" + list};
  }
  const RebalanceReport plan = report_;
  report_.moves.clear();
  if (auto st = mark(); !st.ok()) return st;
  if (auto st = copy_subscriptions(plan); !st.ok()) return st;
  if (auto st = scan_all(Mode::move, &report_); !st.ok()) return st;
  RebalanceReport left;
  if (auto st = scan_all(Mode::plan, &left); !st.ok()) return st;
  for (auto& [pair, c] : left.moves)
    if (c.records > 0)
      return Status{Code::internal, std::to_string(c.records) + " records of " + pair.first + " still belong to " +
                                        pair.second + " after the move; run again"};
  if (auto st = finalize(); !st.ok()) return st;
  report_.outcome = RebalanceReport::Outcome::moved;
  report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report_;
}

}  // namespace

Result<RebalanceReport> rebalance(const MembershipChange& change, const RebalanceOptions& options) {
  Run run(change, options);
  return run.execute();
}

}  // namespace waybill::runtime
