// Webhook signatures. Inbound carrier pushes: carrier_signature_matches (header
// "sha256=<hex HMAC>") with a secret, body and header from the input. Outbound
// Standard Webhooks: sign_webhook with secrets as subscriptions carry them (raw, or
// "whsec_" + base64), and the base64 helpers it relies on.
// Checks: the check accepts exactly the one correct header; the signature header holds
// one "v1,<base64 of 32 bytes>" per secret, each verifying the way a receiver does;
// base64 decodes what it encodes and never yields more than its input allows.
#include <fuzzer/FuzzedDataProvider.h>

#include <sstream>

#include "fuzz_support.hpp"
#include "waybill/runtime/crypto.hpp"
#include "waybill/runtime/webhooks.hpp"

namespace {

using namespace waybill;
using namespace waybill::runtime;

void carrier_push(FuzzedDataProvider& in) {
  std::string secret = in.ConsumeRandomLengthString(128);
  std::string header = in.ConsumeRandomLengthString(128);
  std::string body = in.ConsumeRandomLengthString(4096);
  const std::string good = "sha256=" + to_hex(hmac_sha256(secret, body));
  FUZZ_CHECK(good.size() == 7 + 64, "hex HMAC length");
  FUZZ_CHECK(carrier_signature_matches(secret, body, good), "correct signature refused");
  FUZZ_CHECK(carrier_signature_matches(secret, body, header) == (header == good), "accepted a wrong header: " + header);
  if (!body.empty()) {
    std::string other = body;
    other.back() ^= 1;
    FUZZ_CHECK(!carrier_signature_matches(secret, other, good), "signature does not cover the last byte");
  }
}

// A receiver's key for a secret: base64-decoded after "whsec_", the raw bytes otherwise.
std::string receiver_key(const std::string& secret) {
  return secret.rfind("whsec_", 0) == 0 ? base64_decode(secret.substr(6)) : secret;
}

void standard_webhooks(FuzzedDataProvider& in) {
  std::vector<std::string> secrets;
  size_t n = in.ConsumeIntegralInRange<size_t>(1, 3);
  for (size_t i = 0; i < n; ++i) {
    std::string s = in.ConsumeRandomLengthString(64);
    if (in.ConsumeBool()) s = "whsec_" + (in.ConsumeBool() ? base64_encode(s) : s);
    secrets.push_back(std::move(s));
  }
  std::string id = in.ConsumeRandomLengthString(64);
  int64_t ts = in.ConsumeIntegral<int64_t>();
  std::string body = in.ConsumeRemainingBytesAsString();
  std::string header = sign_webhook(secrets, id, ts, body);

  std::istringstream parts(header);
  std::vector<std::string> signatures;
  for (std::string part; parts >> part;) signatures.push_back(part);
  FUZZ_CHECK(signatures.size() == secrets.size(), "one signature per secret: " + header);
  const std::string content = id + "." + std::to_string(ts) + "." + body;
  for (size_t i = 0; i < secrets.size(); ++i) {
    FUZZ_CHECK(signatures[i].rfind("v1,", 0) == 0 && signatures[i].size() == 3 + 44, signatures[i]);
    std::string mac = base64_decode(signatures[i].substr(3));
    FUZZ_CHECK(mac.size() == 32, "signature is not 32 bytes");
    FUZZ_CHECK(equal_constant_time(mac, hmac_sha256(receiver_key(secrets[i]), content)),
               "signature " + std::to_string(i) + " does not verify");
  }
}

void base64(std::string_view raw) {
  std::string text = base64_encode(raw);
  FUZZ_CHECK(text.size() == 4 * ((raw.size() + 2) / 3), "encoded length");
  FUZZ_CHECK(base64_decode(text) == raw, "base64 does not decode what it encodes");
  // Untrusted text (a "whsec_" secret): any answer, but never more than it encodes.
  std::string decoded = base64_decode(raw);
  FUZZ_CHECK(decoded.size() <= raw.size() / 4 * 3, "decoded more than the input holds");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (64 << 10)) return -1;
  base64(waybill::fuzz::as_text(data, size));
  FuzzedDataProvider in(data, size);
  carrier_push(in);
  standard_webhooks(in);
  return 0;
}
