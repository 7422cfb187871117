// The canonical model as plain data (FlatBuffers object API, generated from
// schemas/waybill.fbs) plus names, time and hashing helpers shared by the domain.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <waybill/schemas/waybill_generated.h>

namespace waybill {

using fb::OrderStatus;
using fb::ServiceLevel;
using fb::TrackingStatus;

// Canonical enum names as they appear on the wire ("in_transit", "validated", ...).
const char* name(OrderStatus s);
const char* name(TrackingStatus s);
const char* name(ServiceLevel s);
std::optional<OrderStatus> parse_order_status(std::string_view s);
std::optional<TrackingStatus> parse_tracking_status(std::string_view s);
std::optional<ServiceLevel> parse_service_level(std::string_view s);

/// Microseconds since the Unix epoch, UTC, from the system clock.
int64_t now_us();
/// Strict RFC 3339 date-time ("2026-11-28T10:15:30.123Z", "...+01:00") to microseconds
/// since the epoch. nullopt if malformed or out of range.
std::optional<int64_t> parse_rfc3339_us(std::string_view text);
/// Microseconds since the epoch to RFC 3339 UTC with microsecond precision.
std::string format_rfc3339(int64_t us);

/// 64-bit FNV-1a; stable across runs and builds (persisted request hashes use it).
uint64_t fnv1a64(std::string_view data, uint64_t seed = 0xcbf29ce484222325ULL);

/// Serializes a FlatBuffers object-API value into its binary form.
template <class T>
std::string encode(const T& native) {
  flatbuffers::FlatBufferBuilder fbb(256);
  fbb.Finish(T::TableType::Pack(fbb, &native));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

/// Verifies and decodes a binary FlatBuffer into its object-API value.
template <class T>
std::optional<T> decode(std::string_view bytes) {
  // FlatBuffers reads its scalars in place, so they must be aligned; a value straight
  // from a RocksDB slice or iterator may start at any address: decode a copy then.
  std::vector<uint64_t> aligned;
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint64_t) != 0) {
    aligned.resize((bytes.size() + sizeof(uint64_t) - 1) / sizeof(uint64_t));
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    bytes = std::string_view(reinterpret_cast<const char*>(aligned.data()), bytes.size());
  }
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!verifier.VerifyBuffer<typename T::TableType>(nullptr)) return std::nullopt;
  T out;
  flatbuffers::GetRoot<typename T::TableType>(bytes.data())->UnPackTo(&out);
  return out;
}

}  // namespace waybill
