// API keys of the integration tests. Every ServerProcess accepts them (a keys file it
// writes and passes with --keys-file), every HttpClient sends the admin key unless told
// otherwise, and carrier-sim sends the carrier key with its webhooks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace waybill::itest {

/// Scope admin: what tests use unless they test authorization.
inline constexpr const char* kAdminKey = "itest-admin-key-0001";
/// Scope carrier:webhook only: carrier-sim's tracking pushes.
inline constexpr const char* kCarrierWebhookKey = "itest-carrier-webhook-key-0001";

/// Every scope waybilld knows, in its own spelling.
std::vector<std::string> all_scopes();
/// A key holding exactly `scope` ("orders:write", ...).
std::string scoped_key(const std::string& scope);
/// A key holding `read` and `pii`.
inline constexpr const char* kReadPiiKey = "itest-key-read+pii";

/// Lower-case hex SHA-256 (what waybilld's keys files hold).
std::string sha256_hex(std::string_view data);
/// A waybilld keys file with every key above.
std::string test_keys_yaml();

}  // namespace waybill::itest
