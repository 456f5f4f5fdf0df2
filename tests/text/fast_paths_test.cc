// The intake's fast paths against the slower code they stand in for (issue 16, fourth step):
//  * IsValueSuspect against RepairJsonValues' former test of a decoded value (HasControl, or
//    non-ASCII with !MojibakeBytes(v).empty() || !Latin1Bytes(v).empty()), which allocated the
//    legacy bytes of every non-ASCII value;
//  * IsCleanJsonText, after which the intake skips RepairJsonText and the UTF-8 check: it may
//    be true only when RepairJsonText returns the text unchanged and the text is valid UTF-8.
// On the sample generator's events (every string value, every line) and on hostile text: every
// control byte, every Latin-1 and Windows-1252 code point, the code points around them, invalid
// and truncated sequences, random bytes.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <unistd.h>
#include <string>
#include <vector>

#include "core/arena_json.h"
#include "core/json_write.h"
#include "text/json_repair.h"
#include "text/legacy.h"
#include "text/utf8.h"

namespace danvan::text {
namespace {

// RepairJsonValues' first-walk test before this step, word for word (Latin1Bytes is private to
// json_repair.cc: the same loop over Windows1252Byte).
bool OldValueSuspect(const std::string& v) {
  bool control = false;
  for (unsigned char c : v) control |= c < 0x20 && c != '\t' && c != '\n' && c != '\r';
  if (control) return true;
  if (IsAscii(v)) return false;
  std::string latin1;
  size_t pos = 0;
  while (pos < v.size()) {
    const int b = Windows1252Byte(NextCodePoint(v, &pos));
    if (b < 0) {
      latin1.clear();
      break;
    }
    latin1.push_back(static_cast<char>(b));
  }
  return !MojibakeBytes(v).empty() || !latin1.empty();
}

// Code points where the tests change their answer: controls, ASCII, C1, Latin-1, the
// Windows-1252 symbols (U+0152..U+2122), Vietnamese letters, the edges of each UTF-8 length.
std::vector<char32_t> EdgeCodePoints() {
  std::vector<char32_t> cps;
  for (char32_t c = 0; c < 0x250; ++c) cps.push_back(c);
  for (char32_t c : {0x02C6, 0x02DC, 0x1EA0, 0x1EF9, 0x2013, 0x2014, 0x2018, 0x2019, 0x201A, 0x201C,
                     0x201D, 0x201E, 0x2020, 0x2021, 0x2022, 0x2026, 0x2030, 0x2039, 0x203A, 0x20AC,
                     0x2122, 0x07FF, 0x0800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF})
    cps.push_back(c);
  return cps;
}

std::vector<std::string> SampleLines(size_t n) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("danvan-fast-paths-" + std::to_string(::getpid()) + ".jsonl");
  const std::string cmd = "python3 " + std::string(DANVAN_SOURCE_ROOT) +
                          "/tools/sample-gen/gen_sample.py --seed 2023 --out " + path.string() +
                          " > /dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (lines.size() < n && std::getline(in, line)) lines.push_back(line);
  std::filesystem::remove(path);
  return lines;
}

void StringsOf(const nlohmann::json& j, std::vector<std::string>* out) {
  if (j.is_string()) {
    out->push_back(j.get<std::string>());
  } else if (j.is_structured()) {
    for (const auto& e : j) StringsOf(e, out);
  }
}

// Checks IsCleanJsonText's promise for one text.
void ExpectCleanMeansUnchanged(const std::string& raw) {
  if (!IsCleanJsonText(raw)) return;
  EXPECT_TRUE(IsValidUtf8(raw)) << raw;
  auto r = RepairJsonText(raw);
  ASSERT_TRUE(r.ok()) << raw;
  EXPECT_FALSE(r->changed()) << raw;
  EXPECT_EQ(r->text, raw);
}

TEST(IntakeFastPaths, ValueSuspectAsBeforeOnEdgeCodePoints) {
  const auto cps = EdgeCodePoints();
  int suspects = 0;
  for (char32_t a : cps) {
    std::string one;
    AppendUtf8(a, &one);
    EXPECT_EQ(IsValueSuspect(one), OldValueSuspect(one)) << std::hex << static_cast<uint32_t>(a);
    EXPECT_EQ(IsMojibake(one), !MojibakeBytes(one).empty()) << std::hex << static_cast<uint32_t>(a);
    // In text, and beside each code point that changes the answer.
    for (const char* around : {"Nguyễn ", "abc ", "é", "\xC2\xA9", "\xE2\x80\x9C"}) {
      const std::string s = around + one + around;
      EXPECT_EQ(IsValueSuspect(s), OldValueSuspect(s)) << std::hex << static_cast<uint32_t>(a) << " in " << around;
      EXPECT_EQ(IsMojibake(s), !MojibakeBytes(s).empty()) << std::hex << static_cast<uint32_t>(a) << " in " << around;
      suspects += IsValueSuspect(s);
    }
  }
  EXPECT_GT(suspects, 100);  // both answers were met
  EXPECT_FALSE(IsValueSuspect(""));
  EXPECT_FALSE(IsValueSuspect("Đơn kiến nghị"));
  EXPECT_TRUE(IsValueSuspect("Khi\xC3\xAA\xC3\xACu"));  // CP1258 read as Windows-1252
}

TEST(IntakeFastPaths, ValueSuspectAsBeforeOnRandomText) {
  std::mt19937 rng(1616);
  const auto cps = EdgeCodePoints();
  std::uniform_int_distribution<size_t> pick(0, cps.size() - 1), len(0, 24);
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    for (size_t n = len(rng); n > 0; --n) AppendUtf8(cps[pick(rng)], &s);
    ASSERT_EQ(IsValueSuspect(s), OldValueSuspect(s)) << s;
    ASSERT_EQ(IsMojibake(s), !MojibakeBytes(s).empty()) << s;
  }
}

TEST(IntakeFastPaths, SampleEventsAsBefore) {
  const auto lines = SampleLines(6000);
  ASSERT_EQ(lines.size(), 6000u);
  size_t clean = 0, values = 0;
  for (const auto& line : lines) {
    ExpectCleanMeansUnchanged(line);
    clean += IsCleanJsonText(line);
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    std::vector<std::string> strings;
    StringsOf(j, &strings);
    for (const auto& s : strings) {
      ASSERT_EQ(IsValueSuspect(s), OldValueSuspect(s)) << s;
      ASSERT_EQ(IsMojibake(s), !MojibakeBytes(s).empty()) << s;
      ++values;
    }
  }
  // The generator's mix: most lines clean, some legacy or broken ones not.
  EXPECT_GT(clean, lines.size() * 9 / 10);
  EXPECT_LT(clean, lines.size());
  EXPECT_GT(values, 100000u);
}

// A document whose only suspect is weak (CP1258 read as Windows-1252 gives letters only, no
// tell-tale symbol) is left as it is without the raw pass's encoding (the value pass now skips
// it after its first walk; Decide kept it as written before) and repaired with it.
TEST(IntakeFastPaths, WeakOnlyDocumentChangesOnlyWithTheRawPassEncoding) {
  const std::string title = "Khiếu nại";
  const std::string garbled = "Khiêìu naòi";  // its CP1258 bytes read as Latin-1: letters only
  ASSERT_NE(garbled, title);
  ASSERT_TRUE(IsValueSuspect(garbled));
  ASSERT_FALSE(IsMojibake(garbled)) << garbled;  // weak, not strong
  const nlohmann::json before = {{"data", {{"title", garbled}, {"names", {"José", "Nguyễn Văn An"}}}}};
  nlohmann::json doc = before;
  ValueRepair r = RepairJsonValues(&doc);
  EXPECT_TRUE(r.notes.empty());
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(doc, before);
  doc = before;
  r = RepairJsonValues(&doc, {}, Encoding::kCp1258);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(doc["data"]["title"], title);
  EXPECT_EQ(doc["data"]["names"][0], "José");  // reads better as it is
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0].path, "data.title");
}

TEST(IntakeFastPaths, CleanTextIsUnchangedOnHostileText) {
  // Every byte value at the start, middle and end of a literal and outside literals.
  for (int b = 0; b < 256; ++b) {
    const std::string c(1, static_cast<char>(b));
    for (const std::string& raw : {R"({"a":")" + c + R"("})", R"({"a":"x)" + c + R"(y"})",
                                   R"({"a":"Nguyễn)" + c + R"("})", "{" + c + R"("a":1})",
                                   R"({"a":"\u00)" + c + R"("})"})
      ExpectCleanMeansUnchanged(raw);
  }
  // Mojibake-looking symbols: one (clean) and two (a suspect) in a literal.
  ExpectCleanMeansUnchanged("{\"a\":\"\xC2\xA9\"}");
  ExpectCleanMeansUnchanged("{\"a\":\"\xC2\xA9\xC2\xAE\"}");
  EXPECT_FALSE(IsCleanJsonText("{\"a\":\"\xC2\xA9\xC2\xAE\"}"));
  // Truncated and overlong sequences, surrogates, above U+10FFFF.
  for (const std::string& bad : {std::string("\xE1\xBB"), std::string("\xC0\x80"), std::string("\xED\xA0\x80"),
                                 std::string("\xF4\x90\x80\x80"), std::string("\xFF")}) {
    EXPECT_FALSE(IsCleanJsonText("{\"a\":\"" + bad + "\"}"));
    EXPECT_FALSE(IsCleanJsonText(bad));
  }
  std::mt19937 rng(16);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 64);
  for (int i = 0; i < 100000; ++i) {
    std::string raw = "{\"a\":\"";
    for (int n = len(rng); n > 0; --n) {
      const int b = byte(rng);
      if (b < 120) raw.push_back(static_cast<char>(0x20 + b % 95));
      else if (b < 180) raw += "ệ";
      else raw.push_back(static_cast<char>(b));
    }
    raw += "\"}";
    ExpectCleanMeansUnchanged(raw);
    if (HasFailure()) return;
  }
}


// NeedsValueRepair skips the verbatim strings of a clean text (issue 16, eleventh step): every
// code point the mojibake test counts must be one IsCleanJsonText counts. A pair of the same
// code point is mojibake when the code point counts there; the text must then not be clean.
TEST(IntakeFastPaths, CleanTextCountsEveryMojibakeCodePoint) {
  int mojibake = 0;
  for (char32_t cp = 0x20; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string two;
    AppendUtf8(cp, &two);
    AppendUtf8(cp, &two);
    if (!WorthRepairPass(two, /*hinted=*/false)) continue;
    ++mojibake;
    ASSERT_FALSE(IsCleanJsonText("{\"a\":\"" + two + "\"}")) << std::hex << static_cast<uint32_t>(cp);
  }
  EXPECT_GT(mojibake, 50);  // the Latin-1 symbols and the Windows-1252 ones
}

// The same answer with and without clean_text, and AppendArenaJson's bytes (verbatim strings
// copied) those of nlohmann's dump, on random literals of the edge code points written as they
// are or escaped (\uXXXX, and the short escapes nlohmann writes for controls).
TEST(IntakeFastPaths, VerbatimStringsOfCleanTextNeedNoRepairPass) {
  std::mt19937 rng(1611);
  const auto cps = EdgeCodePoints();
  std::uniform_int_distribution<size_t> pick(0, cps.size() - 1), len(0, 6), members(1, 4);
  std::uniform_int_distribution<int> coin(0, 3);
  int clean = 0, needs = 0;
  for (int i = 0; i < 100000; ++i) {
    std::string raw = "{";
    for (size_t m = members(rng); m > 0; --m) {
      if (raw.size() > 1) raw += ",";
      raw += "\"k" + std::to_string(m) + "\":\"";
      for (size_t n = len(rng); n > 0; --n) {
        const char32_t cp = cps[pick(rng)];
        if (cp < 0x20 || cp == '"' || cp == '\\' || (cp < 0x10000 && coin(rng) == 0)) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(cp));
          raw += esc;
        } else {
          AppendUtf8(cp, &raw);
        }
      }
      raw += "\"";
    }
    raw += "}";
    JsonArena arena;
    auto doc = ParseArenaJsonBounded(raw, 8, &arena);
    ASSERT_TRUE(doc.ok()) << raw;
    const nlohmann::json j = nlohmann::json::parse(raw);
    std::string dumped;
    AppendArenaJson(*doc.value(), &dumped, nlohmann::json::error_handler_t::replace);
    ASSERT_EQ(dumped, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) << raw;
    if (!IsCleanJsonText(raw)) continue;
    ++clean;
    const bool full = NeedsValueRepair(*doc.value(), std::nullopt);
    needs += full;
    ASSERT_EQ(NeedsValueRepair(*doc.value(), std::nullopt, /*clean_text=*/true), full) << raw;
  }
  EXPECT_GT(clean, 10000);
  EXPECT_GT(needs, 100);  // escapes hide suspects that the clean text check cannot see
}

}  // namespace
}  // namespace danvan::text
