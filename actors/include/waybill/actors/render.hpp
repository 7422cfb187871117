// JSON representations of the canonical model (the API's response bodies).
#pragma once

#include <string>
#include <vector>

#include "waybill/actors/entity.hpp"

namespace waybill::actors {

std::string render_order(const fb::OrderT& order, const std::vector<std::string>& shipment_ids);
/// `milestones` in any order; rendered sorted by (event time, sequence).
std::string render_shipment(const fb::ShipmentT& shipment, std::vector<fb::MilestoneT> milestones);
std::string render_problem(int http_status, const Status& status);
/// One accepted milestone: {"outcome","shipment_id"}.
std::string render_line_result(const LineResult& result);
std::string render_tracking_results(const std::vector<LineResult>& results);

}  // namespace waybill::actors
