// Legacy text that only shows after JSON decoding (issue 13, domain.md §6): a host serializer
// that read TCVN3/VISCII/CP1258 bytes as Windows-1252 (or Latin-1) and wrote the result as JSON,
// escaping the C0 bytes (where TCVN3 and VISCII keep capital letters) as \u0001..\u001F.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "text/json_repair.h"
#include "text/legacy.h"
#include "text/normalize.h"
#include "text/utf8.h"

namespace danvan::text {
namespace {

std::string Nfc(std::string_view s) { return NormalizeNfc(s).value(); }

// What the host's serializer holds: each legacy byte read as one Windows-1252 code point
// (Latin-1 for the slots Windows-1252 leaves undefined and for C0 controls).
std::string AsWindows1252(const std::string& bytes) {
  static const char32_t kHigh[32] = {0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                     0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
                                     0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                     0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
  std::string out;
  for (unsigned char c : bytes) {
    char32_t cp = (c >= 0x80 && c < 0xA0) ? kHigh[c - 0x80] : c;
    AppendUtf8(cp, &out);
  }
  return out;
}

// Every Vietnamese capital letter with a mark, and Đ, each in a syllable the language has
// ("TÁ", "TĂN", "ĐI"), so that the decoding can be judged by the share of valid syllables.
std::vector<std::string> CapitalWords() {
  std::vector<std::string> out;
  const std::vector<std::string> bases = {"A", "A\u0306", "A\u0302", "E", "E\u0302", "I",
                                          "O", "O\u0302", "O\u031B", "U", "U\u031B", "Y"};
  const std::vector<std::string> tones = {"", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"};
  for (const auto& b : bases)
    for (const auto& t : tones) {
      if (b.size() == 1 && t.empty()) continue;
      const bool needs_final = b == "A\u0306" || b == "A\u0302";  // ă, â never end a syllable
      out.push_back(Nfc("T" + b + t + (needs_final ? "N" : "")));
    }
  out.push_back("ĐI");
  return out;
}

struct Parsed {
  nlohmann::json doc;
  ValueRepair fixed;
};

// The two passes as intake runs them: raw text first, then the decoded values.
Parsed Repair(const std::string& raw_json) {
  auto raw = RepairJsonText(raw_json);
  EXPECT_TRUE(raw.ok()) << raw.status().message();
  Parsed p;
  p.doc = nlohmann::json::parse(raw.ok() ? raw->text : raw_json);
  std::optional<Encoding> hint;
  if (raw.ok() && !raw->notes.empty()) hint = raw->notes[0].encoding;
  p.fixed = RepairJsonValues(&p.doc, {}, hint);
  return p;
}

class EscapedCapitals : public ::testing::TestWithParam<Encoding> {};

// Every capital letter the encoding has survives the escape round trip (issue 13: TCVN3 upper
// case gave 3 of 120 letters right, VISCII 78 of 120).
TEST_P(EscapedCapitals, EveryCapitalLetterIsRestored) {
  int letters = 0;
  std::string sentence;
  for (const auto& w : CapitalWords()) {
    if (!EncodeLegacy(GetParam(), w).ok()) continue;  // a capital the encoding lacks
    sentence += (sentence.empty() ? "" : " ") + w;
    ++letters;
  }
  ASSERT_GE(letters, 60) << EncodingName(GetParam());
  const std::string bytes = EncodeLegacy(GetParam(), sentence).value();
  nlohmann::json event = {{"kind", "petition"},
                          {"data", {{"title", AsWindows1252(bytes)}, {"status", "received"}}}};
  const std::string wire = event.dump();  // nlohmann writes C0 code points as \u00XX
  ASSERT_NE(wire.find("\\u00"), std::string::npos) << "the fixture must hold escaped controls";
  Parsed p = Repair(wire);
  ASSERT_TRUE(p.fixed.errors.empty()) << p.fixed.errors[0].first << ": " << p.fixed.errors[0].second;
  const std::string got = p.doc["data"]["title"];
  EXPECT_EQ(got, sentence) << EncodingName(GetParam());
  // Word by word, so a failure names the letters.
  std::vector<std::string> want_words, got_words;
  for (size_t s = 0, e; s <= sentence.size(); s = e + 1) {
    e = sentence.find(' ', s);
    if (e == std::string::npos) e = sentence.size();
    want_words.push_back(sentence.substr(s, e - s));
  }
  for (size_t s = 0, e; s <= got.size(); s = e + 1) {
    e = got.find(' ', s);
    if (e == std::string::npos) e = got.size();
    got_words.push_back(got.substr(s, e - s));
  }
  ASSERT_EQ(got_words.size(), want_words.size());
  int right = 0;
  for (size_t k = 0; k < want_words.size(); ++k) right += got_words[k] == want_words[k];
  EXPECT_EQ(right, letters);
  ASSERT_EQ(p.fixed.notes.size(), 1u);
  EXPECT_EQ(p.fixed.notes[0].path, "data.title");
  EXPECT_EQ(p.fixed.notes[0].encoding, GetParam());
  EXPECT_EQ(p.fixed.notes[0].ToJson()["stage"], "decoded_value");
}

INSTANTIATE_TEST_SUITE_P(Legacy, EscapedCapitals,
                         ::testing::Values(Encoding::kTcvn3, Encoding::kViscii),
                         [](const auto& info) { return std::string(EncodingName(info.param)); });

// A realistic upper-case title and a mixed-case content in one TCVN3 event, as a host sends it.
TEST(RepairJsonValues, Tcvn3TitleAndContentOfOneEvent) {
  const std::string title = "ĐƠN KHIẾU NẠI VỀ VIỆC THU TIỀN HỌC THÊM TẠI TRƯỜNG THPT NGÔ QUYỀN";
  const std::string content =
      "Tôi là phụ huynh học sinh lớp 10A3. Nhà trường thu tiền học thêm trái quy định, "
      "đề nghị Sở Giáo dục và Đào tạo kiểm tra.";
  nlohmann::json event = {
      {"data",
       {{"title", AsWindows1252(EncodeLegacy(Encoding::kTcvn3, title).value())},
        {"content", AsWindows1252(EncodeLegacy(Encoding::kTcvn3, content).value())}}}};
  Parsed p = Repair(event.dump());
  ASSERT_TRUE(p.fixed.errors.empty());
  EXPECT_EQ(p.doc["data"]["title"], title);
  EXPECT_EQ(p.doc["data"]["content"], content);
}

// CP1258 read as Windows-1252: the content carries tell-tale symbols, the title only letters
// that look Vietnamese ("Khiêìu naòi"). The title follows the content's encoding (issue 13).
TEST(RepairJsonValues, Cp1258TitleFollowsTheContent) {
  const std::string title = "Khiếu nại việc thu tiền dạy thêm";
  const std::string content =
      "Đề nghị Sở Giáo dục và Đào tạo kiểm tra việc thu tiền dạy thêm, học thêm của trường, "
      "đồng thời trả lời bằng văn bản cho phụ huynh.";
  nlohmann::json event = {
      {"data",
       {{"title", AsWindows1252(EncodeLegacy(Encoding::kCp1258, title).value())},
        {"content", AsWindows1252(EncodeLegacy(Encoding::kCp1258, content).value())}}}};
  const std::string garbled_title = event["data"]["title"];
  ASSERT_NE(garbled_title, title);
  Parsed p = Repair(event.dump());
  ASSERT_TRUE(p.fixed.errors.empty());
  EXPECT_EQ(p.doc["data"]["content"], content);
  EXPECT_EQ(p.doc["data"]["title"], title) << "title left as " << garbled_title;
}

// Domain.md §6: "decode before stripping controls" — and a control that no legacy reading
// explains is refused, naming the field, never stored.
TEST(RepairJsonValues, UnexplainedControlIsRefusedWithItsPath) {
  nlohmann::json doc = {{"data", {{"title", "Khiếu nại\u0001 việc thu tiền"},
                                  {"content", "Dòng một\nDòng hai\tcó tab"}}}};
  ValueRepair r = RepairJsonValues(&doc);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].first, "/data/title");
  // Tab, LF and CR are text, not controls to refuse.
  nlohmann::json ok = {{"data", {{"content", "Dòng một\r\nDòng hai\tcó tab"}}}};
  EXPECT_TRUE(RepairJsonValues(&ok).errors.empty());
  EXPECT_EQ(ok["data"]["content"], "Dòng một\r\nDòng hai\tcó tab");
}

// Ordinary Vietnamese, and Latin-1 text with nothing else legacy in the document, are untouched.
TEST(RepairJsonValues, CleanTextIsUntouched) {
  nlohmann::json doc = {{"data", {{"title", "Đơn kiến nghị về lịch học"},
                                  {"note", "Bản quyền © 2023, 30° C"},
                                  {"names", {"José", "Nguyễn Thị Lan"}}}}};
  const nlohmann::json before = doc;
  ValueRepair r = RepairJsonValues(&doc);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_TRUE(r.notes.empty());
  EXPECT_EQ(doc, before);
}

}  // namespace
}  // namespace danvan::text
