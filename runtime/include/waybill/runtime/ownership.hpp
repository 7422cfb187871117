// System-of-record rules: which system owns which order field. An update from a source
// that does not own a field it touches is refused (403) and recorded on the order's
// audit trail, so two systems can never silently overwrite each other's data.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace waybill::runtime {

struct OwnershipOptions {
  /// Systems that may send order updates, named by the X-Source-System header.
  /// Default: erp, wms.
  std::vector<std::string> sources = {"erp", "wms"};
  /// Owner of each order field an update may change. Default: the ERP owns the
  /// addresses, lines, references and service level; the WMS owns the packages.
  std::map<std::string, std::string> owners = {
      {"ship_to", "erp"},       {"ship_from", "erp"},     {"lines", "erp"},
      {"references", "erp"},    {"service_level", "erp"}, {"packages", "wms"},
  };
};

/// Fields no source system owns: waybill chooses the carrier and service, the carrier
/// owns tracking. Updates naming them are always refused.
inline const std::map<std::string, std::string>& fixed_owners() {
  static const std::map<std::string, std::string> owners = {
      {"carrier", "waybill"}, {"service", "waybill"}, {"tracking_numbers", "carrier"}};
  return owners;
}

struct OwnershipViolation {
  std::string field;
  std::string owner;
};

/// The fields of `fields` that `source` does not own, with their owners.
std::vector<OwnershipViolation> ownership_violations(const OwnershipOptions& options, const std::string& source,
                                                     const std::vector<std::string>& fields);

}  // namespace waybill::runtime
