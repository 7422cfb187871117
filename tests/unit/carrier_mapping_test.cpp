// Extended JSON pointers of carrier response mapping.
#include <gtest/gtest.h>

#include "waybill/actors/carrier_mapping.hpp"

namespace waybill::actors {
namespace {

TEST(CarrierMappingPointer, StarsIndicesAndEscapes) {
  const std::string doc = R"({"Packages":[{"TrackingNumber":"1Z1"},{"TrackingNumber":2}],"a/b":{"~":[null,true]}})";
  auto all = extract_all(doc, "/Packages/*/TrackingNumber");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<std::string>{"1Z1", "2"}));
  EXPECT_EQ(extract_first(doc, "/Packages/1/TrackingNumber"), "2");
  EXPECT_EQ(extract_first(doc, "/a~1b/~0/1"), "true");
  EXPECT_FALSE(extract_first(doc, "/a~1b/~0/0"));  // null is no value
  EXPECT_FALSE(extract_first(doc, "/Packages/2/TrackingNumber"));
  EXPECT_FALSE(extract_all("{", "/x").ok());
}

// An index past size_t used to throw std::out_of_range out of std::stoul.
TEST(CarrierMappingPointer, HugeIndexMatchesNothing) {
  const std::string doc = R"({"Packages":[{"TrackingNumber":"1Z1"}]})";
  for (const char* pointer : {"/Packages/18446744073709551616/TrackingNumber", "/Packages/99999999999999999999999"}) {
    auto all = extract_all(doc, pointer);
    ASSERT_TRUE(all.ok()) << pointer;
    EXPECT_TRUE(all->empty()) << pointer;
  }
}

}  // namespace
}  // namespace waybill::actors
