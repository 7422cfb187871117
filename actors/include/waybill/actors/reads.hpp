// Reads of committed entity state straight from storage. Because actors acknowledge
// only after commit, a client always reads its own acknowledged writes here, and never
// sees a change that could still be lost.
#pragma once

#include <string>

#include "waybill/actors/entity.hpp"
#include "waybill/storage/store.hpp"

namespace waybill::actors {

Result<fb::OrderT> load_order(const storage::Store& store, const std::string& order_id);
Result<fb::ShipmentT> load_shipment(const storage::Store& store, const std::string& shipment_id);
/// The first `count` milestones of a shipment, in arrival (storage index) order.
Result<std::vector<fb::MilestoneT>> load_milestones(const storage::Store& store,
                                                    const std::string& shipment_id, uint32_t count);
/// Ids of the shipments linked to an order (at most `limit`).
Result<std::vector<std::string>> load_order_shipment_ids(const storage::Store& store,
                                                         const std::string& order_id, size_t limit);
/// Carriers recycle tracking numbers after some months, so the index keys a number by
/// carrier, number AND ship date. A number is taken while a shipment's window
/// [ship day - pre_ship_days, ship day + recycle_window_days] holds the new ship date;
/// after that the carrier may hand it out again.
struct TrackingLookupOptions {
  /// How long after its ship date a shipment keeps its numbers, in days. Default: 180.
  int64_t recycle_window_days = 180;
  /// How far a use may predate the ship date (labels bought ahead), in days. Default: 7.
  int64_t pre_ship_days = 7;
};
/// Most shipments one (carrier, tracking number) is looked up among; more are ignored.
inline constexpr size_t kMaxTrackingReuses = 64;

/// The shipment a carrier event for the number belongs to: the last one shipped before
/// `event_time_us` (within pre_ship_days), or the first if the event predates them all.
/// not_found names tracking_number.
Result<std::string> lookup_tracking(const storage::Store& store, const std::string& carrier,
                                    const std::string& tracking_number, int64_t event_time_us,
                                    const TrackingLookupOptions& options = {});
/// lookup_tracking's choice with its ship day (days since the epoch) and whether that
/// use was shipped by the event (ship day - pre_ship_days <= event day): what a merge
/// of several stores' choices needs to pick the one a single store would.
struct TrackingChoice {
  std::string shipment_id;
  int64_t ship_day = 0;
  bool shipped_before = false;
};
Result<TrackingChoice> choose_tracking_use(const storage::Store& store, const std::string& carrier,
                                           const std::string& tracking_number, int64_t event_time_us,
                                           const TrackingLookupOptions& options = {});
/// The shipment still holding the number on `ship_date_us`; not_found when it is free.
Result<std::string> tracking_in_use(const storage::Store& store, const std::string& carrier,
                                    const std::string& tracking_number, int64_t ship_date_us,
                                    const TrackingLookupOptions& options = {});

/// JSON representations for GET endpoints; not_found when absent.
Result<std::string> read_order_json(const storage::Store& store, const std::string& order_id);
Result<std::string> read_shipment_json(const storage::Store& store, const std::string& shipment_id);

/// A stored idempotency record, if any.
struct StoredReply {
  uint64_t request_hash = 0;
  Reply reply;
};
Result<StoredReply> load_idempotency(const storage::Store& store, const std::string& record_key);
std::string encode_idempotency(uint64_t request_hash, const Reply& reply, int64_t now_us);

}  // namespace waybill::actors
