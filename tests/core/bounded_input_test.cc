// core/bounded_input: depth and syntax checked without recursion, with the JSON pointer of the
// offending value; files read only when regular and small enough.
#include "core/bounded_input.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/json_schema.h"

namespace danvan {
namespace {

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(ScanJson, AcceptsUpToTheLimitAndNamesTheFirstContainerPast) {
  EXPECT_FALSE(ScanJson(Nested(64), 64));
  auto e = ScanJson(Nested(65), 64);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, JsonScanError::Kind::kDepth);
  std::string want;
  for (int i = 0; i < 64; ++i) want += "/0";
  EXPECT_EQ(e->path, want);
  // Keys and indices: the third element of "b" is the fourth level.
  e = ScanJson(R"({"a":1,"b":[0,1,{"c":{"d":[]}}]})", 3);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path, "/b/2/c");
}

TEST(ScanJson, MillionLevelsDoNotRecurse) {
  // On the test's main thread; ScanJson must not use the stack per level.
  auto e = ScanJson(Nested(1000000), 64);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, JsonScanError::Kind::kDepth);
  std::string objects;
  for (int i = 0; i < 1000000; ++i) objects += "{\"k~/\":";
  e = ScanJson(objects, 2);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path, "/k~0~1/k~0~1");
}

TEST(ScanJson, NumbersOutOfRangeAndSyntaxErrorsNameTheField) {
  auto e = ScanJson(R"({"id":"x","version":1e400})", 64);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, JsonScanError::Kind::kNumberRange);
  EXPECT_EQ(e->path, "/version");
  EXPECT_NE(e->reason.find("1e400"), std::string::npos);
  e = ScanJson(R"({"a":[1,2,NaN]})", 64);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, JsonScanError::Kind::kSyntax);
  EXPECT_EQ(e->path, "/a/2");
  // An error inside a key names the object.
  e = ScanJson(R"({"data":{"ok":1,"\udc00":2}})", 64);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path, "/data");
  EXPECT_TRUE(ScanJson("{} {}", 64));
  EXPECT_FALSE(ScanJson(R"({"big":18446744073709551615,"small":-9223372036854775808})", 64));
}

TEST(ScanJson, CapturesTopLevelStringsBeforeTheError) {
  std::map<std::string, std::string> top;
  auto e = ScanJson(R"({"source":"s","id":"A-1","n":{"id":"inner"},"version":1e999,"unit":"U"})", 64, &top);
  ASSERT_TRUE(e);
  EXPECT_EQ(top["source"], "s");
  EXPECT_EQ(top["id"], "A-1");
  EXPECT_EQ(top.count("unit"), 0u);  // after the error
}

TEST(ParseJsonBounded, ParsesWhatPassesAndRefusesTheRest) {
  auto ok = ParseJsonBounded(R"({"a":[1,{"b":2}]})", 3);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value()["a"][1]["b"], 2);
  auto bad = ParseJsonBounded(R"({"a":[1,{"b":[]}]})", 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidInput);
  EXPECT_EQ(bad.status().message().rfind("/a/1/b: ", 0), 0u) << bad.status().message();
  // Stopped while parsing: the tree built so far is freed without recursion.
  JsonScanError e;
  auto deep = ParseJsonBounded("{\"x\":" + Nested(1000000) + "}", 64, &e);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(e.kind, JsonScanError::Kind::kDepth);
  EXPECT_EQ(e.path.rfind("/x/0/0/", 0), 0u);
  auto range = ParseJsonBounded(R"({"a":[1,-1e400]})", 64, &e);
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(e.kind, JsonScanError::Kind::kNumberRange);
  EXPECT_EQ(e.path, "/a/1");
}

// Each value with its nlohmann type (unsigned, integer and float told apart, which == does
// not), members in order: two documents are the same tree when these are equal.
void Typed(const nlohmann::json& j, std::string* out) {
  switch (j.type()) {
    case nlohmann::json::value_t::object:
      *out += "{";
      for (auto it = j.begin(); it != j.end(); ++it) {
        *out += nlohmann::json(it.key()).dump() + ":";
        Typed(*it, out);
        *out += ",";
      }
      *out += "}";
      break;
    case nlohmann::json::value_t::array:
      *out += "[";
      for (const auto& v : j) {
        Typed(v, out);
        *out += ",";
      }
      *out += "]";
      break;
    default:
      *out += std::string(j.type_name()) + (j.is_number_unsigned() ? "u" : j.is_number_integer() ? "i" : "") + ":" + j.dump();
      if (j.is_number_float()) *out += std::signbit(j.get<double>()) ? "-" : "+";
  }
}

// ParseJsonBounded reads with RapidJSON's reader and builds nlohmann's document: for each text
// it must accept exactly what nlohmann's parser accepts and build the same tree (types of
// numbers included). Texts chosen where the two parsers differ on their own.
TEST(ParseJsonBounded, SameDocumentsAsNlohmannsParser) {
  const std::vector<std::string> texts = {
      R"({"a":1,"b":-1,"c":1.0,"d":-0,"e":-0.0,"f":0,"g":1e2,"h":1E-2,"i":2.5e+3})",
      R"([18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809])",
      R"([9223372036854775807,9223372036854775808,4294967295,4294967296,-2147483649])",
      R"([0e400,0.0e999,0.001e309,1e308,1.7976931348623157e308,1.7976931348623159e308])",
      R"([1e309,-1e400,1e-400,4.9e-324,2.4703282292062327e-324,0.1,0.30000000000000004])",
      R"([123456789012345678901234567890,3.141592653589793238462643383279502884197])",
      "[" + std::string(400, '9') + "]", "[0." + std::string(400, '1') + "e-10]",
      R"({"a":1,"a":2,"b":{"x":1},"b":[2],"c":[],"c":{}})",
      R"({"z":1,"y":2,"":3,"a b":"\u00e9\u1ec7\/\\\"\b\f\n\r\t"})",
      R"(["\u0000","a\u0000b","\ud83d\ude00","\uD83D\uDE00","\u00"])",
      R"(["\udc00"])", R"(["\ud800"])", R"(["\ud800x"])", R"(["\ud800\u0041"])", R"({"\udc00":1})",
      "[\"\xED\xA0\x80\"]", "[\"\xC0\xAF\"]", "[\"\xF4\x90\x80\x80\"]", "[\"\xE0\x80\xAF\"]",
      "[\"\xF0\x9F\x98\x80 \xE1\xBB\x87\"]", "[\"a\x01\"]", "[\"a\x7F\"]",
      "\xEF\xBB\xBF{\"a\":1}", "\xEF\xBB{}", " \t\r\n{ } \n", "", " ", "{}x", "{} {}",
      std::string("{}\0", 3), std::string("[\"a\0b\"]", 7), std::string("[1,\0 2]", 7),
      "[1,]", "{\"a\":1,}", "[01]", "[-]", "[1.]", "[.5]", "[+1]", "[1e]", "[NaN]", "[Infinity]",
      "[true,false,null]", "[tru]", "/* c */ 1", "1 // c", "'a'", "\"a", "{\"a\" 1}", "[1 2]",
      "1", "-1", "\"s\"", "null", "{\"a\":[[[[[[]]]]]]}", "[\"\\x\"]", "[\"\\u12G4\"]",
  };
  for (const std::string& t : texts) {
    SCOPED_TRACE(nlohmann::json(t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    nlohmann::json want = nlohmann::json::parse(t, nullptr, /*allow_exceptions=*/false);
    auto got = ParseJsonBounded(t, 64);
    ASSERT_EQ(got.ok(), !want.is_discarded()) << (got.ok() ? "accepted" : got.status().message());
    if (!got.ok()) continue;
    std::string a, b;
    Typed(want, &a);
    Typed(got.value(), &b);
    EXPECT_EQ(b, a);
  }
  // Depth: the limit counts levels as before, whichever parser stops.
  EXPECT_TRUE(ParseJsonBounded(Nested(64), 64).ok());
  EXPECT_FALSE(ParseJsonBounded(Nested(65), 64).ok());
  EXPECT_TRUE(ParseJsonBounded("{\"a\":" + Nested(63) + "}", 64).ok());
  EXPECT_FALSE(ParseJsonBounded("{\"a\":" + Nested(64) + "}", 64).ok());
}

class Files : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path().string() + "/danvan-bounded-" + std::to_string(getpid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Files, OnlyRegularFilesWithinTheLimitAreRead) {
  const std::string small = dir_ + "/small.json";
  std::ofstream(small) << R"({"a":1})";
  auto r = ReadRegularFile(small, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), R"({"a":1})");
  auto big = ReadRegularFile(small, 3);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(big.status().message().find("max_data_file_bytes"), std::string::npos);
  const std::string fifo = dir_ + "/f";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& p : {fifo, dir_, std::string("/dev/zero"), dir_ + "/missing"}) {
    auto e = ReadRegularFile(p, 1 << 20);
    ASSERT_FALSE(e.ok()) << p;
    EXPECT_EQ(e.status().code(), Status::Code::kIoError) << p;
    EXPECT_NE(e.status().message().find(p), std::string::npos);
  }
}

TEST_F(Files, ReadJsonFileAppliesBothLimits) {
  const std::string deep = dir_ + "/deep.json";
  std::ofstream(deep) << Nested(100000);
  auto d = ReadJsonFile(deep);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("max_json_depth"), std::string::npos);
  JsonReadLimits tight;
  tight.max_file_bytes = 1000;
  auto s = ReadJsonFile(deep, tight);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("max_data_file_bytes"), std::string::npos);
  const std::string syntax = dir_ + "/syntax.json";
  std::ofstream(syntax) << "{\"a\":";
  auto x = ReadJsonFile(syntax);
  ASSERT_FALSE(x.ok());
  EXPECT_NE(x.status().message().find("không phải JSON hợp lệ"), std::string::npos);
}

TEST(FindControlCharacter, FindsC0DelAndC1) {
  EXPECT_FALSE(FindControlCharacter("Nguyễn Văn A-01.x"));
  EXPECT_EQ(FindControlCharacter(std::string("a\0b", 3)), "U+0000");
  EXPECT_EQ(FindControlCharacter("a\x1f"), "U+001F");
  EXPECT_EQ(FindControlCharacter("a\x7f"), "U+007F");
  EXPECT_EQ(FindControlCharacter("a\xc2\x85"), "U+0085");
  EXPECT_FALSE(FindControlCharacter("\xc2\xa0"));  // no-break space is not a control
}

}  // namespace
}  // namespace danvan
