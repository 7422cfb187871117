// Seeded, reproducible workload: orders with packages, shipments with tracking numbers
// and a carrier mix, and a carrier-feed-like stream of tracking milestones.
//
// Every entity is derived from (seed, index) alone, so order 17 is the same order no
// matter how many are generated, and two runs with the same options send the same bytes.
// The milestone stream is ordered by delivery time: each milestone's event time plus a
// perturbation (reordered past the next scan, late by a day or more, or delivered twice),
// which is how carrier webhooks and file drops actually arrive.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace waybill::bench {

struct WorkloadOptions {
  /// Seed of every random choice. Default: 42.
  uint64_t seed = 42;
  /// Prefix of every id, keeping runs against one data dir apart. Default: "B".
  std::string id_prefix = "B";
  /// Packages per order, uniform in 1..max_packages. Default: 3.
  int max_packages = 3;
  /// Shipments per order, uniform in 1..min(packages, max). Default: 2.
  int max_shipments_per_order = 2;
  /// Milestones per shipment, uniform in min..max. Default: 8..15.
  int min_milestones = 8;
  int max_milestones = 15;
  /// Share of shipments with a carrier exception (and a failed delivery attempt). Default: 0.05.
  double exception_share = 0.05;
  /// Share of milestones delivered after the following scan of the same parcel. Default: 0.05.
  double reorder_share = 0.05;
  /// Share of milestones delivered one to three days late. Default: 0.02.
  double late_share = 0.02;
  /// Share of milestones delivered a second time. Default: 0.02.
  double dup_share = 0.02;
  /// Carrier mix weights for ups, fedex, dhl, usps. Default: 40/30/15/15.
  double carrier_weights[4] = {40, 30, 15, 15};
};

struct OrderSpec {
  uint32_t first_shipment = 0;
  uint8_t packages = 1;
  uint8_t shipments = 1;
};

struct ShipmentSpec {
  uint32_t order = 0;
  uint8_t carrier = 0;        // index into carrier_names()
  uint8_t first_package = 0;  // packages [first_package, first_package + packages) of the order
  uint8_t packages = 1;       // one tracking number per package
};

struct MilestoneSpec {
  int64_t event_time_s = 0;    // Unix seconds
  int64_t delivery_s = 0;      // when the feed delivers it (sort key)
  uint32_t shipment = 0;
  uint8_t status = 0;          // waybill TrackingStatus value
  uint8_t step = 0;            // index in the shipment's lifecycle (sequence = step + 1)
  uint8_t package = 0;         // which tracking number of the shipment scanned it
  uint8_t kind = 0;            // 0 original, 1 reordered, 2 late, 3 duplicate copy
};

const char* const* carrier_names();  // {"ups","fedex","dhl","usps"}

class Workload {
 public:
  Workload(WorkloadOptions options, size_t orders);

  const WorkloadOptions& options() const { return opt_; }
  const std::vector<OrderSpec>& orders() const { return orders_; }
  const std::vector<ShipmentSpec>& shipments() const { return shipments_; }

  std::string order_id(size_t order) const;
  std::string shipment_id(size_t shipment) const;
  std::string tracking_number(size_t shipment, int package) const;

  /// POST /v1/orders body.
  std::string order_json(size_t order) const;
  /// POST /v1/shipments body.
  std::string shipment_json(size_t shipment) const;
  /// POST /v1/tracking body (one milestone object, no newline).
  std::string milestone_json(const MilestoneSpec& m) const;
  /// Appends `milestone_json(m)` and '\n' to `out` (NDJSON).
  void append_milestone_line(const MilestoneSpec& m, std::string* out) const;

  /// The milestone stream of shipments [first, last), in delivery order.
  std::vector<MilestoneSpec> milestones(size_t first, size_t last) const;

  struct StreamStats {
    uint64_t total = 0, reordered = 0, late = 0, duplicates = 0, exceptions = 0;
  };
  static StreamStats stats(const std::vector<MilestoneSpec>& stream);

 private:
  WorkloadOptions opt_;
  std::vector<OrderSpec> orders_;
  std::vector<ShipmentSpec> shipments_;
};

}  // namespace waybill::bench
