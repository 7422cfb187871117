// Pieces of the JSON rendering shared by API responses and the event feed, so an
// entity reads the same wherever it appears.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "waybill/actors/model.hpp"

namespace waybill::actors {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

/// "key": {...} ; nothing when `party` is null.
void party(JsonWriter& w, const char* key, const fb::PartyT* party);
/// One milestone as an object (status, codes, times, location, POD, ETA).
void milestone(JsonWriter& w, const fb::MilestoneT& m);
/// "proof_of_delivery": {...} ; nothing when null.
void proof_of_delivery(JsonWriter& w, const fb::ProofOfDeliveryT* pod);
/// "notification": {...}
void notification(JsonWriter& w, const fb::NotificationT& n);

}  // namespace waybill::actors
