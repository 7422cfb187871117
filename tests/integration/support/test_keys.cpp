#include "test_keys.hpp"

#include <openssl/evp.h>

namespace waybill::itest {

std::vector<std::string> all_scopes() {
  return {"orders:write", "tracking:write", "carrier:webhook", "ops", "read", "invoices:write", "pii", "admin"};
}

std::string scoped_key(const std::string& scope) { return "itest-key-" + scope; }

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string test_keys_yaml() {
  auto entry = [](const std::string& partner, const std::string& key, const std::string& scopes) {
    return "  - {partner: " + partner + ", key_sha256: " + sha256_hex(key) + ", scopes: [" + scopes + "]}\n";
  };
  std::string y = "keys:\n";
  y += entry("itest-admin", kAdminKey, "admin");
  y += entry("itest-carrier", kCarrierWebhookKey, "\"carrier:webhook\"");
  for (auto& s : all_scopes()) y += entry("itest-" + s.substr(0, s.find(':')), scoped_key(s), "\"" + s + "\"");
  y += entry("itest-read-pii", kReadPiiKey, "read, pii");
  return y;
}

}  // namespace waybill::itest
