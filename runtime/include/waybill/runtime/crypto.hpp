// The few cryptographic helpers the API needs, over OpenSSL: HMAC-SHA256 for webhook
// signatures (carrier pushes and Standard Webhooks), base64 and hex encodings.
#pragma once

#include <string>
#include <string_view>

namespace waybill::runtime {

/// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);
/// Raw 32-byte SHA-256 of `data` (content checksums of dropped files).
std::string sha256(std::string_view data);
std::string to_hex(std::string_view bytes);
std::string base64_encode(std::string_view bytes);
/// Empty on malformed input.
std::string base64_decode(std::string_view text);
/// Constant-time equality (for comparing signatures).
bool equal_constant_time(std::string_view a, std::string_view b);
/// A carrier's signed push: `header` is "sha256=" and the lower-case hex HMAC-SHA256 of
/// `body` under `secret`, compared in constant time.
bool carrier_signature_matches(std::string_view secret, std::string_view body, std::string_view header);
/// `n` random bytes, base64-encoded (secrets).
std::string random_base64(size_t n);
/// `n` random bytes from OpenSSL's CSPRNG (API keys).
std::string random_bytes(size_t n);

}  // namespace waybill::runtime
