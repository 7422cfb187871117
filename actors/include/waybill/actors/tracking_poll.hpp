// Tracking by polling, for carriers that do not push webhooks: the `tracking_poll:`
// section of a carrier profile, the mapping of one poll answer onto canonical
// milestones, and the durable index of the shipments to poll.
//
// The index (Column::tracking_poll, key carrier \0 shipment_id, empty value) is written
// by the shipment actor in the same batch as the shipment's state, so it is exactly the
// set of committed shipments still to poll and needs no recovery of its own.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "waybill/actors/model.hpp"
#include "waybill/storage/group_commit.hpp"

namespace YAML {
class Node;
}

namespace waybill::actors {

struct CarrierDirectory;

/// The carrier's tracking request. No body: tracking reads are GETs at the carriers we
/// know; a carrier that needs a POST body gets one when a profile needs it.
struct TrackingPollRequest {
  std::string method = "GET";
  /// Relative to the profile's base_url; "{tracking_number}" and "{carrier_shipment_id}"
  /// are substituted (percent-encoded). With {tracking_number} every piece of a shipment
  /// is polled on its own request. Required.
  std::string path;
};

/// Where the fields of a poll answer are: extended JSON pointers (see carrier_mapping.hpp).
/// `events` is absolute; the others are relative to one event. Empty: not given.
struct TrackingPollResponseMap {
  std::string events;      // the array of events, e.g. "/events". Required.
  std::string code;        // raw carrier code, mapped through tracking_codes. Required.
  std::string event_time;  // RFC 3339 date-time. Required.
  std::string sequence;    // non-negative integer, tie-breaker at equal event time
  std::string event_id;    // the carrier's event id: the dedupe key across polls
  std::string description;
  std::string city, state, postal_code, country;  // location of the scan
};

struct TrackingPollOptions {
  /// True when the profile has a `tracking_poll:` section (and does not say enabled: false).
  bool enabled = false;
  /// Each active shipment is polled at most once per interval, in seconds (fractions
  /// allowed, at least 0.05). Default: 300.
  double interval_s = 300;
  /// Poll requests in flight at this carrier, at most. Default: 4.
  size_t max_concurrency = 4;
  /// Index entries read per tick; bounds the work of one tick. Default: 100.
  size_t batch_size = 100;
  /// How often the poller looks for due shipments, in ms. Default: 1000.
  int tick_ms = 1000;
  /// A poll that failed transiently is retried at the next ticks this many times, then
  /// waits for the next interval. Default: 3.
  int max_retries = 3;
  /// Events taken from one answer, at most (the rest are counted as skipped). Default: 200.
  size_t max_events = 200;
  TrackingPollRequest request;
  TrackingPollResponseMap response;
};

/// Reads a `tracking_poll:` mapping; errors name the key ("tracking_poll.response.code").
Status parse_tracking_poll(const YAML::Node& node, const std::string& path, TrackingPollOptions* out);

/// The events of one poll answer, mapped onto milestones (received_us and applied unset).
struct PolledEvents {
  std::vector<fb::MilestoneT> milestones;
  /// Events left out, each naming the field ("events[2].code") and why. Bounded by
  /// max_events.
  std::vector<Status> skipped;
  size_t total = 0;  // events in the answer (up to the mapping's match bound)
};

/// Maps a 2xx poll answer. Fails only when the answer is not JSON or has no events array
/// at `response.events`; a bad event is skipped (and reported), not fatal, so one odd
/// scan does not hide the others.
Result<PolledEvents> map_tracking_answer(const TrackingPollOptions& poll,
                                         const std::map<std::string, TrackingStatus>& codes, std::string_view body);

/// True while a shipment is worth polling: it has tracking numbers, its label was not
/// voided, and its status is not final (delivered, return_to_sender, cancelled).
bool tracking_poll_wanted(const fb::ShipmentT& h);

/// Index key of a polled shipment, and the prefix of one carrier's entries.
std::string tracking_poll_key(const std::string& carrier, const std::string& shipment_id);
std::string tracking_poll_prefix(const std::string& carrier);

/// Index writes implied by a change of a shipment header (`before` null: new shipment),
/// for the batch that commits the header. Nothing when the carrier is not polled.
void tracking_poll_index_ops(const CarrierDirectory* carriers, const fb::ShipmentT* before,
                             const fb::ShipmentT& after, std::vector<storage::WriteOp>* ops);

}  // namespace waybill::actors
