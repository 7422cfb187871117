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
/// The shipment a carrier's tracking number belongs to.
Result<std::string> lookup_tracking(const storage::Store& store, const std::string& carrier,
                                    const std::string& tracking_number);

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
