// Carrier booking as pure functions: which carriers and services can take a shipment,
// which one to choose and why, and how booking outcomes move a shipment.
//
//   selecting -> requested -> booked                (label_created)
//                          -> in_doubt -> booked    (found at the carrier by reference)
//                                      -> requested (not found: safe to book again)
//                          -> rejected              (exception queue; operator retries or cancels)
#pragma once

#include <string>
#include <vector>

#include "waybill/actors/carrier_adapter.hpp"
#include "waybill/actors/shipment_logic.hpp"

namespace waybill::actors {

struct Candidate {
  const CarrierProfile* profile = nullptr;
  const CarrierService* service = nullptr;
};

/// Selection rule: "cheapest" and "fastest" rate the candidates; "preferred" takes the
/// first candidate in profile order without rating.
enum class SelectionRule { cheapest, fastest, preferred };

/// Services that fulfil the level and accept every package on the lane.
std::vector<Candidate> candidates(const std::vector<CarrierProfile>& profiles, ServiceLevel level,
                                  const std::string& destination_country, const std::vector<fb::PackageT>& packages);

struct Selection {
  Candidate chosen;
  Quote quote;         // empty total when not rated
  std::string reason;  // recorded on the shipment and in its event
};
/// Chooses among candidates given the quotes that came back (quotes[i] for candidates[i],
/// nullopt if that carrier did not quote). nullopt when nothing can be chosen.
std::optional<Selection> choose(const std::vector<Candidate>& candidates,
                                const std::vector<std::optional<Quote>>& quotes, SelectionRule rule);

// Commands on a shipment's booking.
struct CreateForBooking { fb::ShipmentT shipment; };  // shipment_id, order_id, parties, level, packages, request_hash
struct BookingIntent { Selection selection; };
struct BookingOutcome {
  CallKind kind;
  CallResult result;
  size_t candidate = 0;    // rate: index of the candidate that was asked
  std::string extra_booking;  // void of this extra booking, found by reconciliation
};
/// Reconciliation after a doubtful booking finished: `voided` are the extra bookings
/// (carrier shipment ids) voided under the reference; none found leaves the list empty.
struct ReconcileDone { std::vector<std::string> voided; };
/// No carrier can be chosen (no eligible service on the lane, or none quoted).
struct SelectionFailed { std::string reason; std::string message; };
/// Operator action on a shipment in the exception queue. While selecting, a shipment
/// whose carrier and service are set is pinned to them (no rating).
struct ResolveException {
  std::string action;   // "retry" or "cancel"
  std::string carrier;  // optional: book with this carrier
  std::string service;  // optional: and this service code
  std::optional<fb::PartyT> ship_to;  // optional: corrected address
};

/// Most booking rounds (a round ends in booked, rejected or failed) before a shipment is
/// put in the exception queue as carrier_unavailable.
inline constexpr uint32_t kMaxBookingRounds = 5;

ShipmentDecision decide(std::optional<ShipmentState>& state, const CreateForBooking& cmd, int64_t now_us);
ShipmentDecision decide(std::optional<ShipmentState>& state, const BookingIntent& cmd, int64_t now_us);
/// Applies a carrier answer; answers that no longer fit the state are ignored (no-op).
ShipmentDecision decide(std::optional<ShipmentState>& state, const BookingOutcome& cmd, int64_t now_us);
ShipmentDecision decide(std::optional<ShipmentState>& state, const ResolveException& cmd, int64_t now_us);
ShipmentDecision decide(std::optional<ShipmentState>& state, const SelectionFailed& cmd, int64_t now_us);
ShipmentDecision decide(std::optional<ShipmentState>& state, const ReconcileDone& cmd, int64_t now_us);
/// Bookings found under the reference other than the one the shipment holds.
std::vector<std::string> extra_bookings(const fb::ShipmentT& h, const std::vector<BookingResult>& found);
/// True while a booking is under way (the shipment is in the "work" column).
bool booking_open(fb::BookingState s);

}  // namespace waybill::actors
