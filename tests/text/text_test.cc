// Tests of plugin/text: UTF-8 validation, normalisation, folding, legacy decoders, detection,
// JSON repair and keyword matching.
#include <gtest/gtest.h>
#include <iconv.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "text/json_repair.h"
#include "text/keywords.h"
#include "text/legacy.h"
#include "text/normalize.h"
#include "text/utf8.h"

namespace danvan::text {
namespace {

std::string Nfc(std::string_view s) { return NormalizeNfc(s).value(); }

// Every Vietnamese letter with a mark (and đ), lower and upper case, NFC.
std::vector<std::string> AllVietnameseLetters() {
  std::vector<std::string> out;
  const std::vector<std::string> bases = {"a", "a\u0306", "a\u0302", "e", "e\u0302", "i",
                                          "o", "o\u0302", "o\u031B", "u", "u\u031B", "y"};
  const std::vector<std::string> tones = {"", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"};
  for (const auto& b : bases) {
    for (const auto& t : tones) {
      if (b.size() == 1 && t.empty()) continue;  // plain ASCII vowel
      std::string l = Nfc(b + t);
      out.push_back(l);
      out.push_back(ToUpperNfc(l).value());
    }
  }
  out.push_back("đ");
  out.push_back("Đ");
  return out;
}

std::string IconvRaw(const char* to, const char* from, const std::string& in) {
  iconv_t cd = iconv_open(to, from);
  EXPECT_NE(cd, reinterpret_cast<iconv_t>(-1));
  std::string out(in.size() * 4 + 16, '\0');
  char* ip = const_cast<char*>(in.data());
  size_t il = in.size();
  char* op = out.data();
  size_t ol = out.size();
  size_t r = iconv(cd, &ip, &il, &op, &ol);
  EXPECT_NE(r, static_cast<size_t>(-1)) << from << "->" << to;
  iconv(cd, nullptr, nullptr, &op, &ol);
  iconv_close(cd);
  out.resize(op - out.data());
  return out;
}

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(Utf8, FindsFirstInvalidByte) {
  EXPECT_FALSE(FindInvalidUtf8("Dân vận khéo").has_value());
  EXPECT_FALSE(FindInvalidUtf8("").has_value());
  EXPECT_EQ(FindInvalidUtf8("abc\xC0\x80").value(), 3u);                // overlong
  EXPECT_EQ(FindInvalidUtf8("D\xA9n").value(), 1u);                     // lone continuation
  EXPECT_EQ(FindInvalidUtf8("ok \xED\xA0\x80").value(), 3u);            // surrogate
  EXPECT_EQ(FindInvalidUtf8("0123456789abcdef\xE1\xBA").value(), 16u);  // truncated
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80").value(), 0u);           // > U+10FFFF
  EXPECT_TRUE(IsAscii("plain ascii text, long enough for words"));
  EXPECT_FALSE(IsAscii("plain ascii text, long enough ộ"));
}

TEST(Normalize, NfdAndNonCanonicalOrderComposeToNfc) {
  // ệ in NFD is e + dot below + circumflex (canonical order); input often has the reverse.
  EXPECT_EQ(Nfc("e\u0323\u0302"), "ệ");
  EXPECT_EQ(Nfc("e\u0302\u0323"), "ệ");
  // Tone typed before the circumflex/breve: both class 230, plain NFC would not compose.
  EXPECT_EQ(Nfc("a\u0301\u0302"), "ấ");
  EXPECT_EQ(Nfc("a\u0300\u0306"), "ằ");
  EXPECT_EQ(Nfc("\u00E1\u0302"), "ấ");  // precomposed á + circumflex
  EXPECT_EQ(Nfc("kh\u0069\u0065\u0301\u0302u"), "khiếu");
  EXPECT_EQ(NormalizeNfd("ệ").value(), "e\u0323\u0302");
  EXPECT_EQ(NormalizeNfc("KHIẾU NẠI", true).value(), "khiếu nại");
}

TEST(Normalize, FoldDiacriticsMapsDStroke) {
  EXPECT_EQ(FoldDiacritics("Đơn KHIẾU NẠI về đất đai").value(), "Don KHIEU NAI ve dat dai");
  for (const std::string& l : AllVietnameseLetters()) {
    std::string f = FoldDiacritics(l).value();
    ASSERT_EQ(f.size(), 1u) << l;
    EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(f[0]))) << l;
  }
}

TEST(Normalize, PrepareForMatchMapsOffsets) {
  auto mt = PrepareForMatch("  Đơn KHIẾU-NẠI!! ").value();
  EXPECT_EQ(mt.norm, "  đơn khiếu-nại!! ");
  EXPECT_EQ(mt.folded, "don khieu nai ");
  EXPECT_TRUE(mt.has_diacritics);
  ASSERT_EQ(mt.folded_to_norm.size(), mt.folded.size() + 1);
  EXPECT_EQ(mt.norm.substr(mt.folded_to_norm[4], mt.folded_to_norm[9] - mt.folded_to_norm[4]),
            "khiếu");
  EXPECT_FALSE(PrepareForMatch("khieu nai").value().has_diacritics);
  EXPECT_FALSE(PrepareForMatch("bad \xA9").ok());
}

TEST(Legacy, DomainExamplesDecode) {
  // domain.md §6.
  EXPECT_EQ(DecodeLegacy(Encoding::kTcvn3, Bytes({0x44, 0xa9, 0x6e, 0x20, 0x76, 0xcb, 0x6e, 0x20,
                                                  0x6b, 0x68, 0xd0, 0x6f}))
                .value(),
            "Dân vận khéo");
  EXPECT_EQ(DecodeLegacy(Encoding::kViscii, Bytes({0x44, 0xe2, 0x6e, 0x20, 0x76, 0xa7, 0x6e, 0x20,
                                                   0x6b, 0x68, 0xe9, 0x6f}))
                .value(),
            "Dân vận khéo");
  // VNI-Windows "Daân vaän kheùo", "Vieät Nam", "ÑÔN" (Windows-1252 bytes).
  EXPECT_EQ(DecodeLegacy(Encoding::kVni, Bytes({'D', 'a', 0xe2, 'n', ' ', 'v', 'a', 0xe4, 'n', ' ',
                                                'k', 'h', 'e', 0xf9, 'o'}))
                .value(),
            "Dân vận khéo");
  EXPECT_EQ(
      DecodeLegacy(Encoding::kVni, Bytes({'V', 'i', 'e', 0xe4, 't', ' ', 'N', 'a', 'm'})).value(),
      "Việt Nam");
  EXPECT_EQ(
      DecodeLegacy(Encoding::kVni, Bytes({0xd1, 0xd4, 'N', ' ', 0xf1, 0xf6, 0xf4, 0xf8, 'n', 'g'}))
          .value(),
      "ĐƠN đường");
}

TEST(Legacy, IconvEncodingsRoundTripEveryLetter) {
  std::string all;
  for (const std::string& l : AllVietnameseLetters()) all += l + " ";
  all += "Sở Giáo dục và Đào tạo Hải Phòng tiếp nhận đơn khiếu nại lần hai.";
  for (Encoding e : {Encoding::kTcvn3, Encoding::kViscii, Encoding::kCp1258}) {
    const char* name = e == Encoding::kTcvn3    ? "TCVN5712-1"
                       : e == Encoding::kViscii ? "VISCII"
                                                : "CP1258";
    std::string bytes = EncodeLegacy(e, all).value();
    EXPECT_EQ(bytes, IconvRaw(name, "UTF-8", all)) << EncodingName(e);
    std::string back = DecodeLegacy(e, bytes).value();
    EXPECT_EQ(back, Nfc(all)) << EncodingName(e);
    EXPECT_EQ(back, Nfc(IconvRaw("UTF-8", name, bytes))) << EncodingName(e);
  }
}

TEST(Legacy, VniTableCoversEveryLetterBothCases) {
  std::set<std::string> seen;
  for (const std::string& l : AllVietnameseLetters()) {
    auto enc = EncodeLegacy(Encoding::kVni, l);
    ASSERT_TRUE(enc.ok()) << l;
    EXPECT_TRUE(seen.insert(enc.value()).second) << "two letters share VNI bytes: " << l;
    bool high = false;
    for (unsigned char c : enc.value()) high |= c >= 0x80;
    EXPECT_TRUE(high) << l;
    EXPECT_EQ(DecodeLegacy(Encoding::kVni, enc.value()).value(), l);
    // The same letter inside a word.
    std::string word = "Ng" + l + "n";
    EXPECT_EQ(DecodeLegacy(Encoding::kVni, EncodeLegacy(Encoding::kVni, word).value()).value(),
              word);
  }
  EXPECT_EQ(seen.size(), 134u);
  // A capital base with a lower-case modifier (mixed-case VNI text) still decodes.
  EXPECT_EQ(DecodeLegacy(Encoding::kVni, Bytes({'A', 0xf9})).value(), "Á");
  EXPECT_FALSE(DecodeLegacy(Encoding::kVni, Bytes({'x', 0xfd})).ok());
}

TEST(Syllables, ValidAndInvalid) {
  for (const char* w : {"khiếu", "nại", "nghiêng", "quyết", "giữ", "gì", "đường", "tố", "cáo",
                        "khuya", "người", "khieu", "nai", "huấn", "thuở", "oanh"}) {
    auto mt = NormalizeNfc(w, true).value();
    std::u32string u;
    size_t pos = 0;
    while (pos < mt.size()) u.push_back(NextCodePoint(mt, &pos));
    EXPECT_TRUE(IsVietnameseSyllable(u)) << w;
  }
  for (const char* w : {"dâan", "vaän", "xyz", "khiềt", "kh", "ñaøo", "aáb", "©n", "str"}) {
    auto mt = NormalizeNfc(w, true).value();
    std::u32string u;
    size_t pos = 0;
    while (pos < mt.size()) u.push_back(NextCodePoint(mt, &pos));
    EXPECT_FALSE(IsVietnameseSyllable(u)) << w;
  }
}

const char* kSentence =
    "Tôi làm đơn này khiếu nại quyết định số 125/QĐ-SGDĐT của Giám đốc Sở Giáo dục và Đào tạo "
    "về việc kỷ luật giáo viên trường THPT Ngô Quyền.";

TEST(Detect, PicksTheEncodingOfEachLegacyVariant) {
  for (Encoding e : {Encoding::kTcvn3, Encoding::kVni, Encoding::kViscii, Encoding::kCp1258}) {
    std::string bytes = EncodeLegacy(e, kSentence).value();
    Detection d = DetectLegacy(bytes);
    ASSERT_TRUE(d.confident) << EncodingName(e) << ": " << d.reason;
    EXPECT_EQ(d.encoding, e);
    EXPECT_EQ(d.text, Nfc(kSentence));
    EXPECT_GE(d.confidence, 0.9);
  }
  // UTF-8 bytes with a torn sequence are not Vietnamese under any legacy decoder.
  std::string torn = std::string(kSentence).substr(0, 60) + "\xE1\xBA";
  EXPECT_FALSE(DetectLegacy(torn).confident);
}

std::string EventJson(const std::string& content, const std::string& name) {
  return std::string(R"({"kind":"petition","source":"motcua-hp","id":"DT-2023-000123",)") +
         R"("unit":"SGDDT.TTRA","data":{"title":"Đơn","content":")" + content +
         R"(","petitioners":[{"name":")" + name + R"(","phone":"0912345678"}],"round":1}})";
}

TEST(RepairJson, ValidUtf8PassesThroughUnchanged) {
  std::string raw = EventJson(kSentence, "Nguyễn Văn An");
  auto r = RepairJsonText(raw);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->changed());
  EXPECT_EQ(r->text, raw);
  std::string ascii = R"({"a":"khieu nai","b":[1,2,{"c":"to cao"}]})";
  EXPECT_EQ(RepairJsonText(ascii).value().text, ascii);
}

TEST(RepairJson, DecodesLegacyLiteralsWithNotes) {
  for (Encoding e : {Encoding::kTcvn3, Encoding::kVni, Encoding::kViscii, Encoding::kCp1258}) {
    std::string raw =
        EventJson(EncodeLegacy(e, kSentence).value(), EncodeLegacy(e, "Trần Thị Hường").value());
    auto r = RepairJsonText(raw);
    ASSERT_TRUE(r.ok()) << EncodingName(e) << ": " << r.status().message();
    auto j = nlohmann::json::parse(r->text);
    EXPECT_EQ(j["data"]["content"], Nfc(kSentence)) << EncodingName(e);
    EXPECT_EQ(j["data"]["petitioners"][0]["name"], "Trần Thị Hường") << EncodingName(e);
    EXPECT_EQ(j["data"]["title"], "Đơn");
    ASSERT_EQ(r->notes.size(), 2u) << EncodingName(e);
    EXPECT_EQ(r->notes[0].path, "data.content");
    EXPECT_EQ(r->notes[1].path, "data.petitioners[0].name");
    EXPECT_EQ(r->notes[0].encoding, e);
    EXPECT_GE(r->notes[0].confidence, 0.75);
  }
}

TEST(RepairJson, RepairsWindows1252Mojibake) {
  // TCVN3 bytes that an earlier system read as Windows-1252 and stored as UTF-8.
  std::string tcvn = EncodeLegacy(Encoding::kTcvn3, kSentence).value();
  std::string mojibake;
  iconv_t cd = iconv_open("UTF-8", "WINDOWS-1252");
  ASSERT_NE(cd, reinterpret_cast<iconv_t>(-1));
  iconv_close(cd);
  for (unsigned char c : tcvn) {
    if (c < 0x80) {
      mojibake.push_back(static_cast<char>(c));
    } else {
      std::string one(1, static_cast<char>(c));
      std::string u =
          c >= 0xA0 ? IconvRaw("UTF-8", "ISO-8859-1", one) : IconvRaw("UTF-8", "WINDOWS-1252", one);
      mojibake += u;
    }
  }
  ASSERT_TRUE(IsValidUtf8(mojibake));
  auto r = RepairJsonText(EventJson(mojibake, "An"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_TRUE(r->notes[0].mojibake);
  EXPECT_EQ(nlohmann::json::parse(r->text)["data"]["content"], Nfc(kSentence));
  // Ordinary Latin-1 symbols in Vietnamese text are left alone.
  std::string raw = EventJson("Bản quyền © 2023 Sở GD&ĐT, nhiệt độ 30° C", "An");
  EXPECT_FALSE(RepairJsonText(raw).value().changed());
}

TEST(RepairJson, RejectsUndecodableTextWithOffset) {
  std::string garbage = "\xff\xfe\xfd\xfc\xfb \x81\x8d\x8f";
  std::string raw = EventJson(garbage, "An");
  auto r = RepairJsonText(raw);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
  size_t offset = raw.find('\xff');
  EXPECT_NE(r.status().message().find("byte " + std::to_string(offset)), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("data.content"), std::string::npos);
  // UTF-8 cut in the middle of a letter.
  std::string torn = std::string(kSentence).substr(0, 40) + "\xE1\xBA" + " ti\xE1\xBA\xBFp";
  EXPECT_FALSE(RepairJsonText(EventJson(torn, "An")).ok());
}

TEST(RepairJson, RejectsLiteralMixingUtf8AndLegacyBytes) {
  // UTF-8 "Phụ huynh phản ánh " followed by TCVN3 "Dân vận khéo" in one literal: no single
  // decoding reads the whole literal as Vietnamese, so it is rejected, not half-decoded.
  std::string mixed =
      "Phụ huynh phản ánh " + EncodeLegacy(Encoding::kTcvn3, "Dân vận khéo").value();
  std::string raw = EventJson(mixed, "An");
  auto r = RepairJsonText(raw);
  ASSERT_FALSE(r.ok());
  size_t offset = raw.find('\xa9');
  EXPECT_NE(r.status().message().find("byte " + std::to_string(offset)), std::string::npos)
      << r.status().message();
  // Concurrent repairs (thread-local iconv descriptors) agree.
  std::string legacy = EventJson(EncodeLegacy(Encoding::kViscii, kSentence).value(), "An");
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto rr = RepairJsonText(legacy);
        if (!rr.ok() || nlohmann::json::parse(rr->text)["data"]["content"] != Nfc(kSentence)) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(Keywords, FindsKhieuNaiInEveryForm) {
  KeywordMatcher m;
  uint32_t kn = m.Add("khiếu nại").value();
  uint32_t tc = m.Add("tố cáo").value();
  m.Build();
  auto find = [&](std::string_view text) {
    std::vector<KeywordMatcher::Hit> hits;
    m.Find(PrepareForMatch(text).value(), &hits);
    std::set<uint32_t> ids;
    for (auto& h : hits) ids.insert(h.keyword);
    return ids;
  };
  for (std::string t : {std::string("đơn KHIẾU NẠI số 5"), std::string("don khieu nai so 5"),
                        NormalizeNfd("đơn khiếu nại").value(),
                        std::string("đơn khi\u0065\u0301\u0302u na\u0323i"),  // tone first
                        std::string("Khiếu-nại: quyết định")}) {
    EXPECT_EQ(find(t), std::set<uint32_t>{kn}) << t;
  }
  // Word boundaries.
  EXPECT_TRUE(find("khiếu nạix").empty());
  EXPECT_TRUE(find("akhieu nai").empty());
  // tố/tổ: diacritics present -> exact; none -> folded.
  EXPECT_TRUE(find("thành lập tổ cáo buộc").empty());
  EXPECT_EQ(find("ông A tố cáo bà B"), std::set<uint32_t>{tc});
  EXPECT_EQ(find("ong A to cao ba B"), std::set<uint32_t>{tc});
  // A keyword written without marks matches any marking.
  KeywordMatcher folded;
  uint32_t id = folded.Add("to cao").value();
  folded.Build();
  std::vector<KeywordMatcher::Hit> hits;
  folded.Find(PrepareForMatch("tổ cáo").value(), &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].keyword, id);
}

TEST(Keywords, HitRangesPointIntoNorm) {
  KeywordMatcher m;
  m.Add("dân vận khéo").value();
  m.Build();
  auto mt = PrepareForMatch("Mô hình \"Dân vận khéo\" năm 2023").value();
  std::vector<KeywordMatcher::Hit> hits;
  m.Find(mt, &hits);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(mt.norm.substr(hits[0].norm_begin, hits[0].norm_end - hits[0].norm_begin),
            "dân vận khéo");
}

TEST(Automaton, OverlappingAndManyPatterns) {
  KeywordAutomaton a;
  a.Add("khieu nai");
  a.Add("nai");
  a.Add("khieu nai lan hai");
  for (int i = 0; i < 2000; ++i) a.Add("tu khoa " + std::to_string(i));
  a.Build();
  std::vector<KeywordAutomaton::Match> out;
  a.FindAll("don khieu nai lan hai va tu khoa 1999 tu khoa 19", &out);
  std::set<uint32_t> found;
  for (auto& m : out) found.insert(m.pattern);
  EXPECT_EQ(found, (std::set<uint32_t>{0, 1, 2, 3 + 1999, 3 + 19}));
}

// The scan keeps its transitions in 16 bits while the automaton has at most 65,536 states and
// in 32 bits beyond: both give the same matches.
TEST(Automaton, LargeAutomatonBeyondSixteenBitStatesFindsTheSameMatches) {
  KeywordAutomaton small, large;
  for (KeywordAutomaton* a : {&small, &large}) {
    a->Add("khieu nai");
    a->Add("nai");
  }
  // 4,000 patterns of 24 distinct letters: about 90,000 states.
  for (int i = 0; i < 4000; ++i) {
    std::string p = "p";
    for (uint32_t k = static_cast<uint32_t>(i) * 2654435761u, d = 0; d < 23; ++d, k = k * 1103515245u + 12345u)
      p.push_back(static_cast<char>('a' + (k >> 16) % 26));
    large.Add(p);
  }
  small.Build();
  large.Build();
  ASSERT_GT(large.states(), 65536u);
  ASSERT_LT(small.states(), 65536u);
  const std::string text = "don khieu nai va nai lan hai khieu nai";
  std::vector<KeywordAutomaton::Match> a, b;
  small.FindAll(text, &a);
  large.FindAll(text, &b);
  ASSERT_EQ(a.size(), 5u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].pattern, b[i].pattern);
    EXPECT_EQ(a[i].begin, b[i].begin);
    EXPECT_EQ(a[i].end, b[i].end);
  }
}

}  // namespace
}  // namespace danvan::text
