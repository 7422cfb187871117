// Service-level timers of a shipment as pure functions.
//
// Three deadlines watch a shipment:
//   no_pickup   label exists but no carrier scan within `no_pickup_after_s` of the label
//   stale       the carrier has it but sent no scan for `stale_after_s` (by event time)
//   eta_missed  the carrier's estimated delivery passed by `eta_grace_s` without delivery
// Each deadline is derived from the header alone, so it is re-derived after every change
// and lives durably in two places written in one batch: the header (`sla`) and the
// timers column (be64(due) kind id), which the timer scanner reads after a restart.
// A deadline fires at most once: `fired_due_us` remembers it, and only a new deadline
// (a later anchor) arms the timer again.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "waybill/actors/shipment_logic.hpp"
#include "waybill/storage/group_commit.hpp"

namespace waybill::actors {

using fb::SlaKind;
inline constexpr size_t kSlaKinds = 3;

struct SlaOptions {
  /// Master switch. Default: on.
  bool enabled = true;
  /// Label without a pickup scan for this long raises no_pickup, in seconds. Default: 24 h.
  int64_t no_pickup_after_s = 24 * 3600;
  /// In carrier hands without a scan for this long raises stale, in seconds. Default: 72 h.
  int64_t stale_after_s = 72 * 3600;
  /// Estimated delivery passed by this much raises eta_missed, in seconds. Default: 4 h.
  int64_t eta_grace_s = 4 * 3600;
};

const char* name(SlaKind k);

/// The deadline each kind should be armed for now; 0 = none (condition does not hold,
/// or the deadline already fired).
std::array<int64_t, kSlaKinds> sla_deadlines(const fb::ShipmentT& h, const SlaOptions& options);

/// Brings `h.sla` in line with sla_deadlines() and appends the timer-column writes that
/// keep the durable index equal to it (delete the old deadline, put the new one).
void rearm_sla(fb::ShipmentT& h, const SlaOptions& options, std::vector<storage::WriteOp>* ops);

/// Timer-column key of one deadline: sorted by due time so the scanner reads due timers first.
std::string sla_timer_key(int64_t due_us, SlaKind kind, const std::string& shipment_id);
struct SlaTimerKey {
  int64_t due_us = 0;
  SlaKind kind = SlaKind::no_pickup;
  std::string shipment_id;
};
std::optional<SlaTimerKey> parse_sla_timer_key(std::string_view key);

/// A timer the scanner found due.
struct SlaDue {
  SlaKind kind = SlaKind::no_pickup;
  int64_t due_us = 0;
  /// The scanner's clock when it judged the timer due; the decision trusts it, so a
  /// virtual clock (tests, simulation) drives firing.
  int64_t scanned_us = 0;
};

/// Fires a due timer if the header still holds that deadline: marks it fired and yields
/// one `shipment.sla_breached` event. A timer for a deadline the shipment moved past
/// (a scan arrived, delivered) yields no event; the caller just deletes its key.
ShipmentDecision decide(std::optional<ShipmentState>& state, const SlaDue& due, const SlaOptions& options,
                        int64_t now_us);

}  // namespace waybill::actors
