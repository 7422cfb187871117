#include "waybill/actors/reads.hpp"

#include "waybill/actors/render.hpp"

namespace waybill::actors {

using storage::Column;

namespace {
template <class T>
Result<T> load(const storage::Store& store, Column column, const std::string& key, const char* what) {
  std::string bytes;
  auto st = store.get(column, key, &bytes);
  if (st.code() == Code::not_found) return Status{Code::not_found, std::string(what) + " '" + key + "' not found"};
  if (!st.ok()) return st;
  auto v = decode<T>(bytes);
  if (!v) return Status{Code::internal, std::string("stored ") + what + " '" + key + "' is corrupt"};
  return std::move(*v);
}
}  // namespace

Result<fb::OrderT> load_order(const storage::Store& store, const std::string& id) {
  return load<fb::OrderT>(store, Column::orders, id, "order");
}

Result<fb::ShipmentT> load_shipment(const storage::Store& store, const std::string& id) {
  return load<fb::ShipmentT>(store, Column::shipments, id, "shipment");
}

Result<std::vector<fb::MilestoneT>> load_milestones(const storage::Store& store,
                                                    const std::string& id, uint32_t count) {
  std::vector<fb::MilestoneT> out;
  out.reserve(count);
  Status bad;
  auto st = store.scan_prefix(Column::milestones, keys::milestone_prefix(id), count,
                              [&](std::string_view, std::string_view value) {
                                auto m = decode<fb::MilestoneT>(value);
                                if (!m) {
                                  bad = Status{Code::internal, "stored milestone of '" + id + "' is corrupt"};
                                  return false;
                                }
                                out.push_back(std::move(*m));
                                return true;
                              });
  if (!st.ok()) return st;
  if (!bad.ok()) return bad;
  return out;
}

Result<std::vector<std::string>> load_order_shipment_ids(const storage::Store& store,
                                                         const std::string& order_id, size_t limit) {
  std::vector<std::string> ids;
  auto prefix = keys::order_shipment_prefix(order_id);
  auto st = store.scan_prefix(Column::order_shipments, prefix, limit,
                              [&](std::string_view key, std::string_view) {
                                ids.emplace_back(key.substr(prefix.size()));
                                return true;
                              });
  if (!st.ok()) return st;
  return ids;
}

namespace {

struct TrackingUse {
  int64_t ship_day;
  std::string shipment_id;
};

// Every shipment that used (carrier, number), oldest ship date first (key order).
Result<std::vector<TrackingUse>> tracking_uses(const storage::Store& store, const std::string& carrier,
                                               const std::string& tracking_number) {
  auto prefix = keys::tracking_prefix(carrier, tracking_number);
  std::vector<TrackingUse> uses;
  auto st = store.scan_prefix(Column::tracking_index, prefix, kMaxTrackingReuses,
                              [&](std::string_view key, std::string_view value) {
                                if (key.size() != prefix.size() + 4) return true;  // not a dated key
                                int64_t day = 0;
                                for (unsigned char c : key.substr(prefix.size())) day = day << 8 | c;
                                uses.push_back({day, std::string(value)});
                                return true;
                              });
  if (!st.ok()) return st;
  if (uses.empty())
    return Status{Code::not_found, "unknown tracking number '" + tracking_number + "' for carrier '" + carrier + "'",
                  "tracking_number"};
  return uses;
}

}  // namespace

Result<TrackingChoice> choose_tracking_use(const storage::Store& store, const std::string& carrier,
                                           const std::string& tracking_number, int64_t event_time_us,
                                           const TrackingLookupOptions& o) {
  auto uses = tracking_uses(store, carrier, tracking_number);
  if (!uses) return uses.status();
  // The number belonged to the last shipment shipped before the event (allowing for
  // labels bought ahead); an event older than every use belongs to the first.
  const int64_t event_day = keys::day_of(event_time_us);
  const TrackingUse* owner = &uses->front();
  bool before = false;
  for (auto& u : *uses)
    if (u.ship_day - o.pre_ship_days <= event_day) owner = &u, before = true;
  return TrackingChoice{owner->shipment_id, owner->ship_day, before};
}

Result<std::string> lookup_tracking(const storage::Store& store, const std::string& carrier,
                                    const std::string& tracking_number, int64_t event_time_us,
                                    const TrackingLookupOptions& o) {
  auto choice = choose_tracking_use(store, carrier, tracking_number, event_time_us, o);
  if (!choice) return choice.status();
  return std::move(choice->shipment_id);
}

Result<std::string> tracking_in_use(const storage::Store& store, const std::string& carrier,
                                    const std::string& tracking_number, int64_t ship_date_us,
                                    const TrackingLookupOptions& o) {
  auto uses = tracking_uses(store, carrier, tracking_number);
  if (!uses) return uses.status();
  const int64_t day = keys::day_of(ship_date_us);
  for (auto& u : *uses)
    if (day >= u.ship_day - o.pre_ship_days && day <= u.ship_day + o.recycle_window_days) return u.shipment_id;
  return Status{Code::not_found, "tracking number '" + tracking_number + "' is free for reuse", "tracking_number"};
}

Result<std::string> read_order_json(const storage::Store& store, const std::string& order_id) {
  auto order = load_order(store, order_id);
  if (!order) return order.status();
  auto ids = load_order_shipment_ids(store, order_id, 10000);
  if (!ids) return ids.status();
  return render_order(*order, *ids);
}

Result<std::string> read_shipment_json(const storage::Store& store, const std::string& id) {
  auto shipment = load_shipment(store, id);
  if (!shipment) return shipment.status();
  // Milestones are insert-only under consecutive indexes: reading exactly the count the
  // header names gives a view consistent with the header without a snapshot.
  auto ms = load_milestones(store, id, shipment->milestone_count);
  if (!ms) return ms.status();
  return render_shipment(*shipment, std::move(*ms));
}

Result<StoredReply> load_idempotency(const storage::Store& store, const std::string& record_key) {
  auto rec = load<fb::IdempotencyRecordT>(store, Column::idempotency, record_key, "idempotency record");
  if (!rec) return rec.status();
  StoredReply out;
  out.request_hash = rec->request_hash;
  out.reply.status = rec->status;
  out.reply.body = std::move(rec->body);
  return out;
}

std::string encode_idempotency(uint64_t request_hash, const Reply& reply, int64_t now) {
  fb::IdempotencyRecordT rec;
  rec.request_hash = request_hash;
  rec.status = reply.status;
  rec.body = reply.body;
  rec.created_us = now;
  return encode(rec);
}

}  // namespace waybill::actors
