// Consignee-data masking: the masks themselves, and JSON answers rewritten field by
// field with everything else copied as written.
#include <gtest/gtest.h>

#include "waybill/runtime/pii.hpp"

namespace waybill::runtime {
namespace {

TEST(Pii, NamesKeepTheFirstCharacterOfEachWord) {
  EXPECT_EQ(mask_name("John Doe"), "J*** D**");
  EXPECT_EQ(mask_name("1 Main St"), "1 M*** S*");
  EXPECT_EQ(mask_name("Anne-Marie O.Neil"), "A***-M**** O.N***");
  EXPECT_EQ(mask_name(""), "");
  // One star per character, whatever its UTF-8 length; the first stays whole.
  EXPECT_EQ(mask_name("Émile Zoë"), "É**** Z**");
}

TEST(Pii, EmailKeepsTheDomainPhoneTheLastTwoDigits) {
  EXPECT_EQ(mask_email("john.doe@example.com"), "***@example.com");
  EXPECT_EQ(mask_email("no-at-sign"), "***");
  EXPECT_EQ(mask_phone("+1 555 123 4567"), "***67");
  EXPECT_EQ(mask_phone("123"), "***");
}

TEST(Pii, JsonPartiesAreMaskedAndNothingElse) {
  std::string body =
      R"({"order_id":"SO-1","name":"not a party","weight":1.50,"big":12345678901234567890,)"
      R"("ship_to":{"name":"John Doe","company":"ACME","street":"1 Main St","street2":"Apt 4","city":"Springfield",)"
      R"("postal_code":"62701","country":"US","phone":"+1 555 123 4567","email":"john@example.com"},)"
      R"("events":[{"data":{"notification":{"recipient":{"name":"Jane Roe","email":"jr@example.org"}}}}],)"
      R"("milestones":[{"proof_of_delivery":{"signed_by":"J. Roe","document_ref":"POD-1"}}]})";
  ASSERT_TRUE(may_hold_pii(body));
  auto masked = mask_pii_json(body);
  ASSERT_TRUE(masked);
  EXPECT_EQ(*masked,
            R"({"order_id":"SO-1","name":"not a party","weight":1.50,"big":12345678901234567890,)"
            R"("ship_to":{"name":"J*** D**","company":"ACME","street":"1 M*** S*","street2":"A** 4","city":"Springfield",)"
            R"("postal_code":"62701","country":"US","phone":"***67","email":"***@example.com"},)"
            R"("events":[{"data":{"notification":{"recipient":{"name":"J*** R**","email":"***@example.org"}}}}],)"
            R"("milestones":[{"proof_of_delivery":{"signed_by":"J. R**","document_ref":"POD-1"}}]})");
  for (auto raw : {"John Doe", "1 Main St", "555 123", "john@", "Jane Roe", "jr@", "J. Roe"})
    EXPECT_EQ(masked->find(raw), std::string::npos) << raw;
}

TEST(Pii, ListsOfStreetLinesAndEscapesSurvive) {
  auto masked = mask_pii_json(R"({"consignee":{"street":["1 Main St","Rear \"B\""],"city":"X\u00e9"}})");
  ASSERT_TRUE(masked);
  EXPECT_EQ(*masked, R"({"consignee":{"street":["1 M*** S*","R*** \"**"],"city":"Xé"}})");
}

TEST(Pii, NotJsonIsRefused) {
  EXPECT_FALSE(mask_pii_json("{\"ship_to\":"));
  EXPECT_FALSE(mask_pii_json("{} trailing"));
  EXPECT_FALSE(may_hold_pii(R"({"order_id":"SO-1"})"));
}

}  // namespace
}  // namespace waybill::runtime
