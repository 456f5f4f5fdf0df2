// The arena view (core/arena_json.h) against nlohmann's own document: the same texts accepted
// and refused (with the same error), the same tree with the same number kinds, the same bytes
// written, over hostile texts and random ones.
#include "core/arena_json.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/json_write.h"

namespace danvan {
namespace {

// The same value with the same nlohmann type at every node (== alone equates 1, 1u and 1.0).
void ExpectSame(const ArenaJson& v, const nlohmann::json& j, const std::string& at) {
  using T = ArenaJson::Type;
  switch (j.type()) {
    case nlohmann::json::value_t::null: ASSERT_EQ(v.type(), T::kNull) << at; return;
    case nlohmann::json::value_t::boolean:
      ASSERT_EQ(v.type(), T::kBoolean) << at;
      ASSERT_EQ(v.boolean(), j.get<bool>()) << at;
      return;
    case nlohmann::json::value_t::number_integer:
      ASSERT_EQ(v.type(), T::kInteger) << at;
      ASSERT_EQ(v.integer(), j.get<int64_t>()) << at;
      return;
    case nlohmann::json::value_t::number_unsigned:
      ASSERT_EQ(v.type(), T::kUnsigned) << at;
      ASSERT_EQ(v.unsigned_integer(), j.get<uint64_t>()) << at;
      return;
    case nlohmann::json::value_t::number_float: {
      ASSERT_EQ(v.type(), T::kFloat) << at;
      const double a = v.number_float(), b = j.get<double>();
      ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << at;  // -0.0 and 0.0 told apart
      return;
    }
    case nlohmann::json::value_t::string:
      ASSERT_EQ(v.type(), T::kString) << at;
      ASSERT_EQ(v.string(), j.get_ref<const std::string&>()) << at;
      return;
    case nlohmann::json::value_t::array: {
      ASSERT_EQ(v.type(), T::kArray) << at;
      ASSERT_EQ(v.size(), j.size()) << at;
      for (size_t i = 0; i < j.size(); ++i) ExpectSame(v.elements()[i], j[i], at + "/" + std::to_string(i));
      return;
    }
    case nlohmann::json::value_t::object: {
      ASSERT_EQ(v.type(), T::kObject) << at;
      ASSERT_EQ(v.size(), j.size()) << at;
      size_t i = 0;
      for (auto it = j.begin(); it != j.end(); ++it, ++i) {
        // nlohmann's member order, each found by key.
        ASSERT_EQ(v.members()[i].key, it.key()) << at;
        const ArenaJson* found = v.Find(it.key());
        ASSERT_EQ(found, &v.members()[i].value) << at;
        ExpectSame(*found, it.value(), at + "/" + it.key());
      }
      ASSERT_EQ(v.Find("\x01 not a key"), nullptr);
      return;
    }
    default: FAIL() << "unexpected type at " << at;
  }
}

bool ValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(p + i, s.size() - i);
    if (!len) return false;
    i += len;
  }
  return true;
}

void ExpectSameParse(const std::string& text, int depth, JsonArena* arena, bool valid_utf8);

// Parses `text` both ways at `depth` and expects the same outcome; a text that is valid UTF-8
// also with the reader told so (ParseArenaJsonBounded's valid_utf8: its literals not checked
// again).
void ExpectSameParse(const std::string& text, int depth, JsonArena* arena) {
  ExpectSameParse(text, depth, arena, false);
  if (ValidUtf8(text)) ExpectSameParse(text, depth, arena, true);
}

void ExpectSameParse(const std::string& text, int depth, JsonArena* arena, bool valid_utf8) {
  SCOPED_TRACE(text.size() > 300 ? text.substr(0, 300) + "..." : text);
  SCOPED_TRACE(valid_utf8 ? "valid_utf8" : "");
  JsonScanError want_error, got_error;
  auto want = ParseJsonBounded(text, depth, &want_error);
  arena->Reset();
  auto got = ParseArenaJsonBounded(text, depth, arena, &got_error, valid_utf8);
  ASSERT_EQ(got.ok(), want.ok());
  if (!want.ok()) {
    EXPECT_EQ(got.status().message(), want.status().message());
    EXPECT_EQ(got_error.kind, want_error.kind);
    EXPECT_EQ(got_error.path, want_error.path);
    EXPECT_EQ(got_error.reason, want_error.reason);
    EXPECT_EQ(got_error.byte, want_error.byte);
    return;
  }
  const nlohmann::json& doc = want.value();
  ExpectSame(*got.value(), doc, "");
  // nlohmann's document, and AppendJson's bytes under both handlers.
  const nlohmann::json back = ToNlohmann(*got.value());
  EXPECT_EQ(back, doc);
  ExpectSame(*FromNlohmann(back, arena), doc, "(copy)");
  for (auto handler : {nlohmann::json::error_handler_t::strict, nlohmann::json::error_handler_t::replace}) {
    std::string a, b;
    AppendArenaJson(*got.value(), &a, handler);
    AppendJson(doc, &b, handler);
    EXPECT_EQ(a, b);
  }
}

std::string Nested(int levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST(ArenaJson, SameAsNlohmannOnHostileTexts) {
  const std::vector<std::string> texts = {
      // numbers at the edges of nlohmann's kinds
      "0", "-0", "-0.0", "0.0", "1", "-1", "9223372036854775807", "9223372036854775808",
      "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
      "1e308", "1e309", "-1e400", "0e400", "1e-400", "2.2250738585072014e-308", "4.9e-324", "1.5",
      "123456789012345678901234567890", std::string(400, '9'), "[" + std::string(400, '1') + ".5]",
      "01", "1.", ".5", "+1", "1e", "-", "NaN", "Infinity",
      // strings and encodings
      R"("a\u0000b")", R"("\ud83d\ude00")", R"("\ud83d")", R"("\ude00")", R"("\ud83dx")", "\"\xF0\x9F\x98\x80\"",
      "\"\xC0\xAF\"", "\"\xED\xA0\x80\"", "\"\xF4\x90\x80\x80\"", "\"\xFF\"", "\xEF\xBB\xBF{}", "\"a\x01\"",
      std::string("\"a\0b\"", 5), "\"Nguy\xE1\xBB\x85n V\xC4\x83n \xC3\x81nh\"", R"("\/\b\f\n\r\t\"\\")",
      // objects: duplicates (last wins), order, empty keys, unsorted keys
      R"({"b":1,"a":2,"b":3})", R"({"z":{"y":1,"x":[1,2,{"w":null}]},"a":true,"":false})",
      R"({"a":1,"a":{"b":2},"a":[3]})", R"({"é":1,"e":2,"E":3,"~":4,"\u007f":5})", R"({})", R"([])",
      R"({"a":1,})", R"([1,])", R"({"a" 1})", R"({"a":1}x)", "", " ", "{", "[", "]", "}", "nul", "true false",
      R"({"data":{"TrangThaiHoSo":"2","NgayTiepNhan":"20230302091500"},"kind":"dossier"})",
      // depth around the limit (8 here) and far past it
      Nested(8), Nested(9), "{\"a\":" + Nested(7) + "}", "{\"a\":" + Nested(8) + "}", Nested(100000),
      "{\"x\":[1,{\"y\":" + Nested(20) + "}]}", "[" + std::string(5000, '{'),
  };
  JsonArena arena;
  for (const auto& t : texts) ExpectSameParse(t, 8, &arena);
  for (int depth : {0, 1, 2, 64}) {
    for (const auto& t : {std::string("1"), std::string("[]"), std::string("[[]]"), std::string(R"({"a":{}})")})
      ExpectSameParse(t, depth, &arena);
  }
}

// A random document text: nesting, keys repeated and out of order, every number form, escapes
// and multi-byte text.
std::string RandomText(std::mt19937& rng, int depth) {
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  static const std::vector<std::string> kKeys = {"a", "b", "TrangThaiHoSo", "NgayTiepNhan", "data", "é", "",
                                                 "x\\u0041", "MaHoSo", "z"};
  static const std::vector<std::string> kScalars = {
      "0", "-0", "-0.0", "1", "-7", "18446744073709551615", "-9223372036854775808", "1e3", "2.5e-3", "1E+2",
      "3.141592653589793", "true", "false", "null", "\"\"", "\"Nguy\xE1\xBB\x85n\"", R"("\u00e9\ud83d\ude00")",
      R"("tab\there")", "\"20230302091500\"", "123456789012345678901234567890"};
  if (depth <= 0 || pick(3) == 0) return kScalars[pick(static_cast<int>(kScalars.size()))];
  std::string out;
  const int n = pick(5);
  const bool object = pick(2) == 0;
  out.push_back(object ? '{' : '[');
  for (int i = 0; i < n; ++i) {
    if (i) out.push_back(',');
    if (object) out += "\"" + kKeys[pick(static_cast<int>(kKeys.size()))] + "\":";
    out += RandomText(rng, depth - 1);
  }
  out.push_back(object ? '}' : ']');
  return out;
}

TEST(ArenaJson, SameAsNlohmannOnRandomTextsAndTheirDamage) {
  std::mt19937 rng(16);
  JsonArena arena;
  for (int i = 0; i < 1500; ++i) {
    std::string t = RandomText(rng, 6);
    ExpectSameParse(t, 5, &arena);
    if (t.size() < 2) continue;
    // Damaged: a byte changed, or the text cut.
    std::string bad = t;
    const size_t at = std::uniform_int_distribution<size_t>(0, t.size() - 1)(rng);
    static const char kBytes[] = {'{', '}', '[', ']', ',', ':', '"', '\\', '1', 'e', '\x01', '\xC3'};
    bad[at] = kBytes[std::uniform_int_distribution<int>(0, sizeof kBytes - 1)(rng)];
    ExpectSameParse(bad, 5, &arena);
    ExpectSameParse(t.substr(0, at), 5, &arena);
  }
}

// Long literals with an escape, a control byte, a quote or a multi-byte letter at every offset
// of the reader's eight-byte steps (valid_utf8), also cut at each offset.
TEST(ArenaJson, SameAsNlohmannAtEveryOffsetOfLongLiterals) {
  JsonArena arena;
  const std::vector<std::string> fills = {"abcdefghijklmnopqrstuvwx", "Nguy\xE1\xBB\x85n V\xC4\x83n \xC3\x81nh ng\xC6\xB0\xE1\xBB\x9Di"};
  const std::vector<std::string> specials = {"\\n", "\\\"", "\\u00e9", "\x01", "\x1F", "\x7F", " ", "\"", "\xC3\xA9",
                                             "\xE1\xBB", "\\"};
  for (const auto& fill : fills) {
    for (const auto& special : specials) {
      for (size_t at = 0; at <= fill.size(); ++at) {
        const std::string literal = fill.substr(0, at) + special + fill.substr(at);
        ExpectSameParse("[\"" + literal + "\",\"" + fill + "\"]", 4, &arena);
        ExpectSameParse("{\"k" + literal + "\":\"" + literal + "\"}", 4, &arena);
        ExpectSameParse("\"" + literal, 4, &arena);  // never closed
      }
    }
  }
}

TEST(ArenaJson, ArenaKeepsLongStringsAndReusesItsBlock) {
  JsonArena arena;
  const std::string big(3 * JsonArena::kBlock, 'x');
  const std::string text = "[\"" + big + "\",\"" + std::string(JsonArena::kBlock / 4 + 1, 'y') + "\",\"s\"]";
  for (int round = 0; round < 3; ++round) {
    arena.Reset();
    ExpectSameParse(text, 4, &arena);
    auto doc = ParseArenaJsonBounded(text, 4, &arena);
    ASSERT_TRUE(doc.ok());
    EXPECT_EQ(doc.value()->elements()[0].string(), big);
    EXPECT_EQ(doc.value()->elements()[2].string(), "s");
  }
  arena.Reset();
  EXPECT_EQ(arena.reserved_bytes(), JsonArena::kBlock);  // one block kept, the large ones freed
}

}  // namespace
}  // namespace danvan
