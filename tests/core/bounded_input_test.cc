// core/bounded_input: depth and syntax checked without recursion, with the JSON pointer of the
// offending value; files read only when regular and small enough.
#include "core/bounded_input.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

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
