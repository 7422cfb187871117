// Masking of consignee data for callers without the `pii` scope (and for logs).
//
//   name, street lines  "John Doe" -> "J*** D**", "1 Main St" -> "1 M*** S*"  (first
//                       character of each word, one '*' per further character)
//   e-mail              "john.doe@example.com" -> "***@example.com"
//   phone               "+1 555 123 4567" -> "***67"  (last two digits)
//
// City, state, postal code and country stay readable: carriers, lanes and exception
// queues are worked by them, and they do not name a person.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace waybill::runtime {

std::string mask_name(std::string_view text);
std::string mask_email(std::string_view text);
std::string mask_phone(std::string_view text);

/// `body` (a JSON document) with every party object's personal fields masked: the
/// objects under "ship_to", "ship_from", "recipient" and "consignee" lose their
/// "name", "street", "street2", "phone" and "email" (strings, or lists of strings), and
/// every "signed_by" (proof of delivery) is masked as a name. Numbers and everything
/// else are copied as written. nullopt when `body` is not JSON.
std::optional<std::string> mask_pii_json(std::string_view body);

/// Cheap test whether `body` may hold any field mask_pii_json() changes.
bool may_hold_pii(std::string_view body);

}  // namespace waybill::runtime
