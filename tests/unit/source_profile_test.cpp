// Source mapping profiles: strict parsing (errors name the key), and mapping of CSV
// files and JSON orders onto the canonical order (errors name the source field).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <tuple>

#include "waybill/runtime/source_profile.hpp"

namespace waybill::runtime {
namespace {

const IntakeLimits kLimits{};

// A small profile in the shape of the shipped SAP example.
const char* kProfile = R"(
source: erp
csv: { delimiter: ";", decimal: ",", packages: per_row }
json: { lines: /items, packages: /boxes }
fields:
  order_id: { column: Auftrag, json: /id }
  service_level: { column: Art, json: /art, default: STD, map: { STD: ground, EXP: express } }
  ship_to.name: { column: Name, json: /to/name }
  ship_to.street: { column: Strasse, json: /to/street }
  ship_to.city: { column: Ort, json: /to/city }
  ship_to.postal_code: { column: PLZ, json: /to/zip }
  ship_to.country: { column: Land, json: /to/country, upper: true, map: { D: DE }, passthrough: true }
  ship_from.name: { value: Lager }
  ship_from.street: { value: Weg 1 }
  ship_from.city: { value: Hamburg }
  ship_from.postal_code: { value: "20095" }
  ship_from.country: { value: DE }
  lines.sku: { column: Material, json: /sku }
  lines.qty: { column: Menge, json: /qty }
  packages.weight: { column: Gewicht, json: /kg, unit: kg }
  packages.length: { column: Laenge, json: /cm, unit: cm }
  references.ref: Referenz
)";

const char* kHeader = "Auftrag;Art;Name;Strasse;Ort;PLZ;Land;Material;Menge;Gewicht;Laenge;Referenz\n";

SourceProfile profile(const std::string& text = kProfile) {
  auto p = parse_source_profile(text);
  EXPECT_TRUE(p.ok()) << p.status().field() << ": " << p.status().message();
  return p.ok() ? *p : SourceProfile{};
}

void expect_profile_error(const std::string& text, const std::string& field, const std::string& reason = "") {
  auto p = parse_source_profile(text);
  ASSERT_FALSE(p.ok()) << "expected an error naming " << field;
  EXPECT_EQ(p.status().field(), field) << p.status().message();
  if (!reason.empty()) {
    EXPECT_NE(p.status().message().find(reason), std::string::npos) << p.status().message();
  }
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? s : s.replace(at, from.size(), to);
}

TEST(SourceProfile, ParsesShorthandsConstantsTablesAndUnits) {
  auto p = profile();
  EXPECT_EQ(p.source, "erp");
  EXPECT_EQ(p.csv.csv.delimiter, ';');
  EXPECT_EQ(p.csv.decimal, ',');
  EXPECT_TRUE(p.has_json);
  ASSERT_NE(p.field("references.ref"), nullptr);
  EXPECT_EQ(p.field("references.ref")->column, "Referenz");
  EXPECT_EQ(*p.field("ship_from.city")->value, "Hamburg");
  EXPECT_EQ(p.field("service_level")->map.at("EXP"), "express");
  EXPECT_EQ(p.field("packages.weight")->unit, "kg");
}

TEST(SourceProfile, UnknownKeysAndBadValuesNameTheKey) {
  expect_profile_error(std::string(kProfile) + "colour: red\n", "colour", "unknown");
  expect_profile_error(replace(kProfile, "csv: { delimiter", "csv: { delimter"), "csv.delimter", "unknown");
  expect_profile_error(replace(kProfile, "{ column: Name,", "{ colum: Name,"), "fields.ship_to.name.colum", "unknown");
  expect_profile_error(replace(kProfile, "ship_to.city:", "ship_to.town:"), "fields.ship_to.town", "unknown canonical field");
  expect_profile_error(replace(kProfile, "unit: kg", "unit: stone"), "fields.packages.weight.unit");
  expect_profile_error(replace(kProfile, ", unit: cm", ""), "fields.packages.length.unit", "required");
  expect_profile_error(replace(kProfile, "EXP: express", "EXP: rocket"), "fields.service_level.map.EXP");
  expect_profile_error(replace(kProfile, "delimiter: \";\"", "delimiter: \";;\""), "csv.delimiter", "one character");
  expect_profile_error(replace(kProfile, "decimal: \",\"", "decimal: \";\""), "csv.decimal");
  expect_profile_error(replace(kProfile, "per_row", "per_box"), "csv.packages");
  expect_profile_error(replace(kProfile, "source: erp", "source: ../etc"), "source");
  expect_profile_error(replace(kProfile, "{ value: Lager }", "{ value: Lager, column: X }"), "fields.ship_from.name.value");
  expect_profile_error(replace(kProfile, "  order_id: { column: Auftrag, json: /id }\n", ""), "fields.order_id");
  expect_profile_error(replace(kProfile, "json: { lines: /items, packages: /boxes }", ""), "fields.lines.sku.json",
                       "json.lines");
  expect_profile_error(replace(kProfile, "json: /to/zip", "json: to/zip"), "fields.ship_to.postal_code.json");
}

TEST(SourceProfile, ShippedExamplesLoad) {
  auto all = load_source_profiles(std::string(WAYBILL_SOURCE_DIR) + "/configs/sources");
  ASSERT_TRUE(all.ok()) << all.status().field() << ": " << all.status().message();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].source, "netsuite");
  EXPECT_EQ((*all)[1].source, "sap");
  EXPECT_EQ((*all)[0].csv.packages, PackageRows::per_order);
}

TEST(SourceProfile, ShippedSamplesMapWithoutRejects) {
  auto all = load_source_profiles(std::string(WAYBILL_SOURCE_DIR) + "/configs/sources");
  ASSERT_TRUE(all.ok());
  for (auto& [source, file, orders] : {std::tuple<std::string, std::string, size_t>{"netsuite", "netsuite-orders.csv", 1},
                                       {"sap", "sap-deliveries.csv", 2}}) {
    SCOPED_TRACE(file);
    const SourceProfile* p = nullptr;
    for (auto& x : *all)
      if (x.source == source) p = &x;
    ASSERT_NE(p, nullptr);
    std::ifstream in(std::string(WAYBILL_SOURCE_DIR) + "/configs/sources/samples/" + file);
    std::stringstream ss;
    ss << in.rdbuf();
    auto m = map_csv_file(*p, ss.str(), kLimits, 100);
    EXPECT_TRUE(m.rejects.empty()) << m.rejects[0].line << " " << m.rejects[0].field << ": " << m.rejects[0].reason;
    ASSERT_EQ(m.orders.size(), orders);
    if (source == "sap") {
      auto& o = m.orders[0].command.order;
      EXPECT_EQ(o.lines.size(), 2u);
      EXPECT_EQ(o.lines[1]->description, "Mutter; verzinkt");
      EXPECT_EQ(o.packages.at(0)->weight_g, 2500);
      EXPECT_EQ(o.ship_from->city, "Hamburg");
      EXPECT_EQ(m.orders[1].command.order.service_level, ServiceLevel::express);
    } else {
      auto& o = m.orders[0].command.order;
      EXPECT_EQ(o.lines.size(), 2u);
      EXPECT_EQ(o.packages.at(0)->weight_g, 1497);  // 3.3 lb
      EXPECT_EQ(o.packages.at(0)->length_mm, 305);  // 12 in
      EXPECT_EQ(o.ship_to->country, "US");
    }
  }
}

TEST(SourceCsv, MultiRowOrderWithConversionsTablesAndConstants) {
  std::string csv = std::string(kHeader) +
                    "A-1;EXP;Ada;Weg 2;Berlin;10115;d;SKU-1;2;;;R9\n"
                    "A-1;EXP;Ada;Weg 2;Berlin;10115;d;SKU-2;1;;;R9\n"
                    "A-1;;;;;;;;;1,25;30,5;\n"
                    "A-2;;Bo;Ring 3;Wien;1010;AT;SKU-3;4;0,5;;\n";
  auto m = map_csv_file(profile(), csv, kLimits, 100);
  EXPECT_TRUE(m.rejects.empty()) << m.rejects[0].field << ": " << m.rejects[0].reason;
  ASSERT_EQ(m.orders.size(), 2u);
  EXPECT_EQ(m.rows, 4u);
  auto& a = m.orders[0].command.order;
  EXPECT_EQ(a.order_id, "A-1");
  EXPECT_EQ(m.orders[0].lines, (std::vector<size_t>{2, 3, 4}));
  EXPECT_EQ(a.source_system, "erp");
  EXPECT_EQ(a.service_level, ServiceLevel::express);
  EXPECT_EQ(a.ship_to->country, "DE");  // table D -> DE
  EXPECT_EQ(a.ship_from->city, "Hamburg");
  ASSERT_EQ(a.lines.size(), 2u);
  EXPECT_EQ(a.lines[1]->sku, "SKU-2");
  ASSERT_EQ(a.packages.size(), 1u);
  EXPECT_EQ(a.packages[0]->weight_g, 1250);   // "1,25" kg
  EXPECT_EQ(a.packages[0]->length_mm, 305);   // "30,5" cm
  ASSERT_EQ(a.references.size(), 1u);
  EXPECT_EQ(a.references[0]->value, "R9");
  auto& b = m.orders[1].command.order;
  EXPECT_EQ(b.service_level, ServiceLevel::ground);  // default STD -> ground
  EXPECT_EQ(b.ship_to->country, "AT");               // passthrough
}

TEST(SourceCsv, BadRowRejectsItsOrderOnlyNamingColumnAndLine) {
  std::string csv = std::string(kHeader) +
                    "A-1;STD;Ada;Weg 2;Berlin;10115;DE;SKU-1;2;1;;\n"
                    "B-1;STD;Bo;Ring 3;Wien;1010;AT;SKU-3;zwei;1;;\n"
                    "B-1;STD;Bo;Ring 3;Wien;1010;AT;SKU-4;1;;;\n"
                    "C-1;XXX;Cy;Gasse 1;Linz;4020;AT;SKU-5;1;1;;\n"
                    "D-1;STD;Di;Gasse 2;Graz;8010;a1;SKU-6;1;1;;\n"
                    ";STD;Ed;Gasse 3;Graz;8010;AT;SKU-7;1;1;;\n"
                    "E-1;STD;Ed;Gasse 3;Graz;8010;AT;SKU-8;1;1;;\n";
  auto m = map_csv_file(profile(), csv, kLimits, 100);
  ASSERT_EQ(m.orders.size(), 2u);
  EXPECT_EQ(m.orders[0].command.order.order_id, "A-1");
  EXPECT_EQ(m.orders[1].command.order.order_id, "E-1");
  ASSERT_EQ(m.rejects.size(), 5u);
  auto expect = [&](size_t i, size_t line, const char* id, const char* field, const char* reason) {
    SCOPED_TRACE(i);
    EXPECT_EQ(m.rejects[i].line, line);
    EXPECT_EQ(m.rejects[i].order_id, id);
    EXPECT_EQ(m.rejects[i].field, field);
    EXPECT_NE(m.rejects[i].reason.find(reason), std::string::npos) << m.rejects[i].reason;
  };
  expect(0, 3, "B-1", "Menge", "whole number");
  expect(1, 4, "B-1", "order_id", "because of line 3");
  expect(2, 5, "C-1", "Art", "value table");
  expect(3, 6, "D-1", "Land", "ISO 3166");
  expect(4, 7, "", "Auftrag", "empty");
}

TEST(SourceCsv, OrderLevelValuesMustAgreeAcrossRows) {
  std::string csv = std::string(kHeader) +
                    "A-1;STD;Ada;Weg 2;Berlin;10115;DE;SKU-1;2;1;;\n"
                    "A-1;STD;Ada;Weg 2;Bremen;10115;DE;SKU-2;2;;;\n";
  auto m = map_csv_file(profile(), csv, kLimits, 100);
  EXPECT_TRUE(m.orders.empty());
  ASSERT_EQ(m.rejects.size(), 2u);
  EXPECT_EQ(m.rejects[1].line, 3u);
  EXPECT_EQ(m.rejects[1].field, "Ort");
  EXPECT_NE(m.rejects[1].reason.find("'Berlin' on line 2"), std::string::npos) << m.rejects[1].reason;
}

TEST(SourceCsv, RequiredFieldsAndRangesNameTheSourceColumn) {
  std::string csv = std::string(kHeader) +
                    "A-1;STD;;Weg 2;Berlin;10115;DE;SKU-1;2;1;;\n"     // name missing
                    "B-1;STD;Bo;Weg 2;Berlin;10115;DE;SKU-1;2;-1;;\n"  // negative weight
                    "C-1;STD;Cy;Weg 2;Berlin;10115;DE;SKU-1;2;60000;;\n";
  auto m = map_csv_file(profile(), csv, kLimits, 100);
  ASSERT_EQ(m.rejects.size(), 3u);
  EXPECT_EQ(m.rejects[0].field, "Name");
  EXPECT_NE(m.rejects[0].reason.find("is required"), std::string::npos);
  EXPECT_EQ(m.rejects[1].field, "Gewicht");
  EXPECT_NE(m.rejects[1].reason.find("negative"), std::string::npos) << m.rejects[1].reason;
  EXPECT_EQ(m.rejects[2].field, "Gewicht");
  EXPECT_NE(m.rejects[2].reason.find("in kg after conversion from kg"), std::string::npos) << m.rejects[2].reason;
}

TEST(SourceCsv, WholeFileRejections) {
  auto p = profile();
  auto missing = map_csv_file(p, "Auftrag;Name\nA-1;Ada\n", kLimits, 100);
  ASSERT_EQ(missing.rejects.size(), 1u);
  EXPECT_EQ(missing.rejects[0].field, "Art");
  EXPECT_NE(missing.rejects[0].reason.find("missing"), std::string::npos);
  std::string good_row = "A-1;STD;Ada;Weg 2;Berlin;10115;DE;SKU-1;2;1;;\n";
  auto malformed = map_csv_file(p, std::string(kHeader) + good_row + "B-1;\"x\"y;;;;;;;;;;\n", kLimits, 100);
  EXPECT_TRUE(malformed.orders.empty());
  ASSERT_EQ(malformed.rejects.size(), 1u);
  EXPECT_EQ(malformed.rejects[0].line, 3u);
  auto too_many = map_csv_file(p, std::string(kHeader) + good_row + good_row + good_row, kLimits, 2);
  EXPECT_TRUE(too_many.orders.empty());
  EXPECT_NE(too_many.rejects[0].reason.find("more than 2 rows"), std::string::npos);
  auto latin1 = map_csv_file(p, std::string(kHeader) + "A-1;STD;J\xFCrgen;Weg;Berlin;10115;DE;S;1;1;;\n", kLimits, 100);
  ASSERT_EQ(latin1.rejects.size(), 1u);
  EXPECT_EQ(latin1.rejects[0].line, 2u);
  EXPECT_NE(latin1.rejects[0].reason.find("UTF-8"), std::string::npos);
  auto short_row = map_csv_file(p, std::string(kHeader) + "A-1;STD;Ada\n", kLimits, 100);
  ASSERT_EQ(short_row.rejects.size(), 1u);
  EXPECT_EQ(short_row.rejects[0].field, "row");
  EXPECT_EQ(short_row.rejects[0].order_id, "A-1");
}

TEST(SourceCsv, HeaderlessFileWithBannerAndPositionalColumns) {
  auto p = profile(R"(
source: legacy
csv: { delimiter: "|", header: false, columns: [id, name, street, city, zip, country, sku, qty], skip_records: 1 }
fields:
  order_id: id
  service_level: { value: ground }
  ship_to.name: name
  ship_to.street: street
  ship_to.city: city
  ship_to.postal_code: zip
  ship_to.country: country
  lines.sku: sku
  lines.qty: qty
)");
  auto m = map_csv_file(p, "EXPORT 2026-11-28 (3 rows)\nL-1|Ada|1 Main St|Springfield|62701|US|S-1|2\n"
                           "L-1|Ada|1 Main St|Springfield|62701|US|S-2|1\nL-2|Bo|2 Elm|Nowhere|00000|US|S-3|x\n",
                        kLimits, 100);
  ASSERT_EQ(m.orders.size(), 1u);
  EXPECT_EQ(m.orders[0].command.order.lines.size(), 2u);
  EXPECT_EQ(m.orders[0].lines, (std::vector<size_t>{2, 3}));
  ASSERT_EQ(m.rejects.size(), 1u);
  EXPECT_EQ(m.rejects[0].line, 4u);
  EXPECT_EQ(m.rejects[0].field, "qty");
  expect_profile_error("source: x\ncsv: { header: false }\nfields: { order_id: a, lines.sku: b, lines.qty: c }\n",
                       "csv.columns", "required");
  expect_profile_error(
      "source: x\ncsv: { header: false, columns: [a, b] }\nfields: { order_id: a, lines.sku: b, lines.qty: c }\n",
      "fields.lines.qty.column", "not in csv.columns");
}

TEST(SourceCsv, SameRowsGiveTheSameRequestHash) {
  std::string csv = std::string(kHeader) + "A-1;STD;Ada;Weg 2;Berlin;10115;DE;SKU-1;2;1;;\n";
  auto a = map_csv_file(profile(), csv, kLimits, 100);
  auto b = map_csv_file(profile(), csv, kLimits, 100);
  ASSERT_EQ(a.orders.size(), 1u);
  ASSERT_EQ(b.orders.size(), 1u);
  EXPECT_EQ(a.orders[0].command.order.request_hash, b.orders[0].command.order.request_hash);
  auto changed = map_csv_file(profile(), replace(csv, "SKU-1;2", "SKU-1;3"), kLimits, 100);
  EXPECT_NE(a.orders[0].command.order.request_hash, changed.orders[0].command.order.request_hash);
}

TEST(SourceJson, MapsPointersArraysAndUnits) {
  const char* body = R"({"id":"J-1","art":"EXP","to":{"name":"Ada","street":"Weg 2","city":"Berlin","zip":10115,"country":"d"},
    "items":[{"sku":"S-1","qty":2},{"sku":"S-2","qty":"3"}],"boxes":[{"kg":1.5,"cm":20}]})";
  auto r = map_json_order(profile(), body, kLimits);
  ASSERT_TRUE(r.ok()) << r.status().field() << ": " << r.status().message();
  auto& o = r->order;
  EXPECT_EQ(o.order_id, "J-1");
  EXPECT_EQ(o.ship_to->postal_code, "10115");  // a number in the source
  EXPECT_EQ(o.ship_to->country, "DE");
  ASSERT_EQ(o.lines.size(), 2u);
  EXPECT_EQ(o.lines[1]->qty, 3);
  ASSERT_EQ(o.packages.size(), 1u);
  EXPECT_EQ(o.packages[0]->weight_g, 1500);
  EXPECT_EQ(o.packages[0]->length_mm, 200);
}

TEST(SourceJson, ErrorsNameTheSourcePointer) {
  auto p = profile();
  auto err = [&](const std::string& body) {
    auto r = map_json_order(p, body, kLimits);
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string("<ok>") : r.status().field();
  };
  const std::string to = R"("to":{"name":"Ada","street":"Weg 2","city":"Berlin","zip":"10115","country":"DE"})";
  EXPECT_EQ(err(R"({"id":"J","items":[{"sku":"S","qty":1},{"sku":"T","qty":1.5}],)" + to + "}"), "/items/1/qty");
  EXPECT_EQ(err(R"({"id":"J","items":[{"qty":1}],)" + to + "}"), "/items/0/sku");
  EXPECT_EQ(err(R"({"id":"J","items":[{"sku":"S","qty":1}],"to":{"name":"Ada","street":"W","city":"B","zip":"1","country":"Germany"}})"),
            "/to/country");
  EXPECT_EQ(err(R"({"id":"J","items":[{"sku":"S","qty":1}],"art":"SLOW",)" + to + "}"), "/art");
  EXPECT_EQ(err(R"({"id":"J","items":{"sku":"S"},)" + to + "}"), "/items");
  EXPECT_EQ(err(R"({"id":"J",)" + to + "}"), "/items");
  EXPECT_EQ(err(R"({"id":{"x":1},"items":[{"sku":"S","qty":1}],)" + to + "}"), "/id");
  EXPECT_EQ(err("not json"), "body");
}

TEST(SourceJson, ProfileWithoutJsonIsNotFound) {
  // A CSV-only profile: no field reads JSON.
  auto p = profile();
  for (auto& f : p.fields) f.json.clear();
  p.has_json = false;
  auto r = map_json_order(p, "{}", kLimits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::not_found);
}

}  // namespace
}  // namespace waybill::runtime
