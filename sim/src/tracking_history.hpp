// carrier-sim's tracking history for carriers that are polled rather than pushing
// webhooks: GET /<carrier>/shipments/{carrier_shipment_id}/tracking answers with the
// events of the booking's pieces that have happened by now (label, pickup, in transit,
// out for delivery, delivered, as the carrier's `tracking.events` list says), one event
// every `tracking.interval_ms` after the label was sold.
//
// Like a real carrier's tracking API it is untidy: some events appear late (3 intervals
// after their event time), answers list the history by event time but with neighbours
// swapped and some events twice, and every poll repeats the whole history. All of it is decided by hashing the seed with the
// tracking number, event index and poll number - no shared random stream - so the
// answer to the Nth poll of a booking at a given time is the same in every run.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim_config.hpp"

namespace waybill::sim {

/// One label of a booking, as the ledger knows it.
struct TrackedPiece {
  std::string tracking_number;
  int64_t sold_us = 0;
  bool voided = false;  // a voided label never moves
};

/// JSON answer of the `poll_number`th poll (1-based) of a booking at `now_us`, in the
/// carrier's dialect (alpha: PascalCase "Events"; beta: snake_case "events").
std::string tracking_answer(const SimCarrier& carrier, const std::string& carrier_shipment_id,
                            const std::vector<TrackedPiece>& pieces, int64_t now_us, uint64_t seed,
                            uint64_t poll_number);

/// GET /polls: how often each booking's tracking was polled, keyed carrier \0 id.
std::string render_poll_counts(const std::map<std::string, uint64_t>& counts);

}  // namespace waybill::sim
