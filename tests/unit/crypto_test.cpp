// Signature checks and encodings used by carrier pushes and Standard Webhooks.
#include <gtest/gtest.h>

#include "waybill/runtime/crypto.hpp"
#include "waybill/runtime/webhooks.hpp"

namespace waybill::runtime {
namespace {

TEST(Crypto, CarrierSignatureMatchesOnlyTheExactHeader) {
  const std::string body = R"({"TrackingNumber":"1Z001","Code":"PU"})";
  const std::string good = "sha256=" + to_hex(hmac_sha256("secret", body));
  EXPECT_TRUE(carrier_signature_matches("secret", body, good));
  EXPECT_FALSE(carrier_signature_matches("other", body, good));
  EXPECT_FALSE(carrier_signature_matches("secret", body + " ", good));
  EXPECT_FALSE(carrier_signature_matches("secret", body, ""));
  EXPECT_FALSE(carrier_signature_matches("secret", body, "sha256="));
  EXPECT_FALSE(carrier_signature_matches("secret", body, good.substr(7)));  // no prefix
  EXPECT_FALSE(carrier_signature_matches("secret", body, good + "0"));
  EXPECT_FALSE(carrier_signature_matches("secret", body, good.substr(0, good.size() - 1)));
  std::string upper = good;
  for (size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  if (upper != good) EXPECT_FALSE(carrier_signature_matches("secret", body, upper));
}

TEST(Crypto, Base64RoundTrip) {
  for (std::string raw : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                          std::string("\0\xff\x10", 3), std::string(100, '\x7f')})
    EXPECT_EQ(base64_decode(base64_encode(raw)), raw) << raw.size();
  EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(base64_decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(base64_decode("Zm9"), "");  // not a multiple of 4
}

// "====" once decoded to a length of 3 - 4 bytes: std::length_error. A subscription
// secret "whsec_============" passed intake and threw at every delivery signature.
TEST(Crypto, Base64PaddingIsAtMostTwoTrailingSigns) {
  for (std::string_view bad : {"====", "A===", "========", "Zm9v====", "=AAA", "AA=A", "Zm9v=Zm9"})
    EXPECT_EQ(base64_decode(bad), "") << bad;
  EXPECT_EQ(base64_decode("AA=="), std::string(1, '\0'));
  std::string header;
  EXPECT_NO_THROW(header = sign_webhook({"whsec_============"}, "msg_1", 1764324000, "{}"));
  EXPECT_EQ(header, "v1," + base64_encode(hmac_sha256("", "msg_1.1764324000.{}")));
}

}  // namespace
}  // namespace waybill::runtime
