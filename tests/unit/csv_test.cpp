// CSV reading (RFC 4180 over libcsv) and writing: quoting, line numbers, line endings,
// strictness, and the round trip of what the writer quotes.
#include <gtest/gtest.h>

#include "waybill/runtime/csv.hpp"

namespace waybill::runtime {
namespace {

std::vector<CsvRecord> read_all(std::string_view text, CsvOptions o = {}) {
  std::vector<CsvRecord> out;
  auto st = read_csv(text, o, [&](CsvRecord& r) {
    out.push_back(r);
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.field() << ": " << st.message();
  return out;
}

using Fields = std::vector<std::string>;

TEST(Csv, PlainRecordsWithLineNumbers) {
  auto r = read_all("a,b,c\n1,2,3\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(r[1].fields, (Fields{"1", "2", "3"}));
  EXPECT_EQ(r[0].line, 1u);
  EXPECT_EQ(r[1].line, 2u);
}

TEST(Csv, QuotedDelimiterQuoteAndLineBreak) {
  auto r = read_all("id,text\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,end\n");
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[1].fields[1], "a, b");
  EXPECT_EQ(r[2].fields[1], "say \"hi\"");
  EXPECT_EQ(r[3].fields[1], "two\nlines");
  // The record after a quoted line break starts one line further down.
  EXPECT_EQ(r[3].line, 4u);
  EXPECT_EQ(r[4].line, 6u);
  EXPECT_EQ(r[4].fields, (Fields{"4", "end"}));
}

TEST(Csv, CrLfAndBareCrCountAsOneLineEach) {
  auto crlf = read_all("a,b\r\n1,2\r\n3,4\r\n");
  ASSERT_EQ(crlf.size(), 3u);
  EXPECT_EQ(crlf[2].line, 3u);
  EXPECT_EQ(crlf[2].fields, (Fields{"3", "4"}));
  auto cr = read_all("a\r1\r2");
  ASSERT_EQ(cr.size(), 3u);
  EXPECT_EQ(cr[2].line, 3u);
}

TEST(Csv, BlankLinesSkippedButCounted) {
  auto r = read_all("a,b\n\n1,2\n\r\n3,4");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].line, 3u);
  EXPECT_EQ(r[2].line, 5u);
  EXPECT_EQ(r[2].fields, (Fields{"3", "4"}));  // no final line break
}

TEST(Csv, EmptyFieldsKeptAndUnquotedBlanksTrimmed) {
  auto r = read_all("a,,c,\n  x  ,\"  y  \",\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (Fields{"a", "", "c", ""}));
  EXPECT_EQ(r[1].fields, (Fields{"x", "  y  ", ""}));
}

TEST(Csv, SemicolonDelimiterAndByteOrderMark) {
  CsvOptions o;
  o.delimiter = ';';
  auto r = read_all("\xEF\xBB\xBFLieferung;Menge\n8001;\"1,5\"\n", o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields[0], "Lieferung");  // BOM gone
  EXPECT_EQ(r[1].fields, (Fields{"8001", "1,5"}));
}

TEST(Csv, StrayQuoteIsAnErrorNamingTheLine) {
  for (const char* text : {"a,b\n1,x\"y\n", "a,b\n1,\"x\"y\n"}) {
    SCOPED_TRACE(text);
    auto st = read_csv(text, {}, [](CsvRecord&) { return true; });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), Code::invalid_argument);
    EXPECT_EQ(st.field(), "line 2");
  }
}

TEST(Csv, UnterminatedQuoteIsAnErrorNamingWhereItStarted) {
  auto st = read_csv("a,b\n1,2\n3,\"open\nmore\n", {}, [](CsvRecord&) { return true; });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.field(), "line 3");
  EXPECT_NE(st.message().find("not closed"), std::string::npos) << st.message();
}

TEST(Csv, CallbackStopsEarly) {
  int seen = 0;
  auto st = read_csv("1\n2\n3\n4\n", {}, [&](CsvRecord&) { return ++seen < 2; });
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(seen, 2);
}

TEST(Csv, DelimiterEqualToQuoteRefused) {
  CsvOptions o;
  o.delimiter = '"';
  EXPECT_FALSE(read_csv("a", o, [](CsvRecord&) { return true; }).ok());
}

TEST(Csv, WriterQuotesOnlyWhenNeededAndRoundTrips) {
  std::string out;
  append_csv_row(&out, {"plain", "a,b", "say \"hi\"", "two\nlines", " pad", ""});
  EXPECT_EQ(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" pad\",\n");
  auto r = read_all(out);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].fields, (Fields{"plain", "a,b", "say \"hi\"", "two\nlines", " pad", ""}));
}

}  // namespace
}  // namespace waybill::runtime
