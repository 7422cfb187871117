// Pieces shared by the rebalance's files (rebalance*.cpp); not a public interface.
#pragma once

#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/actors/model.hpp"
#include "waybill/runtime/rebalance.hpp"

namespace waybill::runtime {

/// A verified FlatBuffers root over an aligned copy of `bytes` (iterator memory may be
/// unaligned); the copy lives in `holder`.
template <class T>
class AlignedRoot {
 public:
  explicit AlignedRoot(std::string_view bytes) : holder_((bytes.size() + 7) / 8, 0) {
    std::memcpy(holder_.data(), bytes.data(), bytes.size());
    flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(holder_.data()), bytes.size());
    if (v.VerifyBuffer<T>(nullptr)) root_ = flatbuffers::GetRoot<T>(holder_.data());
  }
  explicit operator bool() const { return root_ != nullptr; }
  const T* operator*() const { return root_; }

 private:
  std::vector<uint64_t> holder_;
  const T* root_ = nullptr;
};

template <class T>
AlignedRoot<T> aligned_root(std::string_view bytes) {
  return AlignedRoot<T>(bytes);
}

/// The order a shipment header belongs to (its order_id, else the order part of its id).
std::optional<std::string> shipment_order_id(std::string_view shipment_id, std::string_view header);

/// The order an outbox event belongs to; nullopt for freight events (a carrier's).
std::optional<std::string> event_order_id(const fb::EventT& event, const ShipmentOrderLookup& lookup);

/// Where an outbox event goes, and how it is indexed on the node holding it.
struct EventHome {
  /// The key its owner is chosen by: the order id, or settlement_key(carrier) for a
  /// freight event.
  std::string routing_key;
  /// Its event_index entry is index_key \0 be64(position); empty: it has none.
  std::string index_key;
  /// A freight event: counted with its carrier's settlement.
  bool freight = false;
};

/// The home of an order's, a shipment's or a freight event; nullopt when it names none.
std::optional<EventHome> event_home(const fb::EventT& event, const ShipmentOrderLookup& lookup);

// ---- a carrier's settlement (rebalance_settlement.cpp) -------------------------------

/// The carrier of a record of Column::invoices, disputes, settlement_totals or billings;
/// nullopt when its key (or a billing's value) is not in the ledger's layout.
std::optional<std::string> settlement_record_carrier(storage::Column column, std::string_view key,
                                                     std::string_view value);

/// The carrier whose invoice a freight event (kind invoice) is about; nullopt when it
/// names none.
std::optional<std::string> freight_event_carrier(const fb::EventT& event);

/// The home of a freight event (kind invoice): its carrier's settlement, indexed under
/// the order its line billed; nullopt when it names no carrier.
std::optional<EventHome> freight_event_home(const fb::EventT& event);

/// Column::meta prefix, on a destination, of "<source node> \0 be64(source position)" ->
/// be64(destination position) for each event moved in: a rerun finds the copy instead
/// of appending the event a second time. Removed when the rebalance finishes.
inline constexpr std::string_view kMovedEventPrefix = "rebalance/event/";

inline std::string moved_event_key(const std::string& from_node, uint64_t from_position) {
  return std::string(kMovedEventPrefix) + from_node + '\0' + storage::be64(from_position);
}

}  // namespace waybill::runtime
