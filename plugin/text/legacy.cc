#include "text/legacy.h"

#include <iconv.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "text/normalize.h"
#include "text/utf8.h"

namespace danvan::text {
namespace {

const char* IconvName(Encoding e) {
  switch (e) {
    case Encoding::kTcvn3:
      return "TCVN5712-1";
    case Encoding::kViscii:
      return "VISCII";
    case Encoding::kCp1258:
      return "CP1258";
    default:
      return nullptr;
  }
}

// One cached descriptor per (to, from) and thread: iconv_open costs far more than a short
// conversion, and an iconv_t must not be shared between threads.
iconv_t CachedIconv(const char* to, const char* from) {
  struct Entry {
    std::string to, from;
    iconv_t cd;
  };
  struct Cache {
    std::vector<Entry> entries;
    ~Cache() {
      for (const Entry& e : entries) iconv_close(e.cd);
    }
  };
  thread_local Cache cache_holder;
  std::vector<Entry>& cache = cache_holder.entries;
  for (const Entry& e : cache) {
    if (e.to == to && e.from == from) {
      iconv(e.cd, nullptr, nullptr, nullptr, nullptr);  // back to the initial state
      return e.cd;
    }
  }
  iconv_t cd = iconv_open(to, from);
  if (cd != reinterpret_cast<iconv_t>(-1)) cache.push_back(Entry{to, from, cd});
  return cd;
}

// Converts with iconv; on an unconvertible byte reports its offset in `in`.
Result<std::string> Iconv(const char* to, const char* from, std::string_view in) {
  iconv_t cd = CachedIconv(to, from);
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return Status::Internal(std::string("iconv không hỗ trợ ") + from + " -> " + to);
  }
  std::string out;
  out.resize(in.size() * 4 + 16);
  char* inp = const_cast<char*>(in.data());
  size_t inleft = in.size();
  char* outp = out.data();
  size_t outleft = out.size();
  while (inleft > 0) {
    size_t r = iconv(cd, &inp, &inleft, &outp, &outleft);
    if (r != static_cast<size_t>(-1)) break;
    if (errno == E2BIG) {
      size_t used = outp - out.data();
      out.resize(out.size() * 2);
      outp = out.data() + used;
      outleft = out.size() - used;
      continue;
    }
    size_t offset = inp - in.data();
    return Status::InvalidInput(std::string("byte ") + std::to_string(offset) +
                                " không chuyển được từ " + from + " sang " + to);
  }
  // Flush shift state (CP1258 and TCVN buffer a base letter waiting for a combining mark).
  for (;;) {
    size_t r = iconv(cd, nullptr, nullptr, &outp, &outleft);
    if (r != static_cast<size_t>(-1)) break;
    if (errno != E2BIG) break;
    size_t used = outp - out.data();
    out.resize(out.size() * 2);
    outp = out.data() + used;
    outleft = out.size() - used;
  }
  out.resize(outp - out.data());
  return out;
}

// ---- VNI-Windows ------------------------------------------------------------------------
// Tone order: none, sắc (acute), huyền (grave), hỏi (hook), ngã (tilde), nặng (dot below).
constexpr char32_t kToneMarks[6] = {0, 0x0301, 0x0300, 0x0309, 0x0303, 0x0323};
// Modifier bytes (lower case; upper case is the byte - 0x20, the Latin-1 capital).
constexpr unsigned char kVniTone[6] = {0, 0xF9, 0xF8, 0xFB, 0xF5, 0xEF};           // ù ø û õ ï
constexpr unsigned char kVniCircumflex[6] = {0xE2, 0xE1, 0xE0, 0xE5, 0xE3, 0xE4};  // â á à å ã ä
constexpr unsigned char kVniBreve[6] = {0xEA, 0xE9, 0xE8, 0xFA, 0xFC, 0xEB};  // ê é è ú ü ë
constexpr unsigned char kVniI[6] = {'i', 0xED, 0xEC, 0xE6, 0xF3, 0xF2};       // i í ì æ ó ò
constexpr unsigned char kVniYDot = 0xEE;                                      // ỵ = î
constexpr unsigned char kVniOHorn = 0xF4, kVniUHorn = 0xF6, kVniDStroke = 0xF1;  // ô ö ñ

struct VniTables {
  std::unordered_map<char32_t, std::string> encode;  // NFC letter -> VNI bytes
  std::map<std::string, char32_t> decode;            // VNI bytes (1 or 2) -> letter
  // Flat forms of `decode` for the decoder: single[b], pair[b1 << 8 | b2]; 0 = no letter.
  std::vector<char32_t> single, pair;
  // Windows-1252 meaning of 0x80..0xBF (punctuation, symbols), from iconv; 0 = undefined.
  char32_t cp1252[0x40] = {};
};

char32_t Compose(char32_t base, char32_t mark1, char32_t mark2) {
  std::string s;
  AppendUtf8(base, &s);
  if (mark1) AppendUtf8(mark1, &s);
  if (mark2) AppendUtf8(mark2, &s);
  auto nfc = NormalizeNfc(s);
  size_t pos = 0;
  char32_t cp = NextCodePoint(nfc.value(), &pos);
  return pos == nfc->size() ? cp : 0;
}

void AddVni(VniTables* t, char32_t letter, std::string bytes) {
  t->encode.emplace(letter, bytes);
  t->decode.emplace(bytes, letter);
  // Accept a lower-case modifier after a capital base (common in mixed-case VNI text).
  if (bytes.size() == 2 && static_cast<unsigned char>(bytes[1]) >= 0xC0 &&
      static_cast<unsigned char>(bytes[1]) < 0xE0) {
    std::string alt = bytes;
    alt[1] = static_cast<char>(static_cast<unsigned char>(alt[1]) + 0x20);
    t->decode.emplace(alt, letter);
  }
}

const VniTables& Vni() {
  static const std::unique_ptr<const VniTables> tables([] {
    auto* t = new VniTables();
    for (int upper = 0; upper < 2; ++upper) {
      const unsigned char delta = upper ? 0x20 : 0;
      auto mod = [&](unsigned char b) { return static_cast<char>(b - delta); };
      auto base = [&](char c) { return static_cast<char32_t>(upper ? c - 32 : c); };
      for (int tone = 0; tone < 6; ++tone) {
        char32_t tm = kToneMarks[tone];
        // a e o u y with plain tones.
        for (char c : {'a', 'e', 'o', 'u', 'y'}) {
          if (tone == 0) continue;  // the bare ASCII letter
          if (c == 'y' && tone == 5) {
            AddVni(t, Compose(base(c), tm, 0), std::string(1, mod(kVniYDot)));
            continue;
          }
          AddVni(t, Compose(base(c), tm, 0),
                 std::string{static_cast<char>(base(c)), mod(kVniTone[tone])});
        }
        // â ê ô
        for (char c : {'a', 'e', 'o'}) {
          AddVni(t, Compose(base(c), 0x0302, tm),
                 std::string{static_cast<char>(base(c)), mod(kVniCircumflex[tone])});
        }
        // ă
        AddVni(t, Compose(base('a'), 0x0306, tm),
               std::string{static_cast<char>(base('a')), mod(kVniBreve[tone])});
        // ơ ư: single byte base, then the plain tone modifier.
        for (auto [c, b] : {std::pair<char, unsigned char>{'o', kVniOHorn}, {'u', kVniUHorn}}) {
          std::string bytes(1, mod(b));
          if (tone) bytes.push_back(mod(kVniTone[tone]));
          AddVni(t, Compose(base(c), 0x031B, tm), bytes);
        }
        // i: single bytes.
        if (tone) AddVni(t, Compose(base('i'), tm, 0), std::string(1, mod(kVniI[tone])));
      }
      AddVni(t, upper ? 0x0110 : 0x0111, std::string(1, mod(kVniDStroke)));
    }
    t->single.assign(256, 0);
    t->pair.assign(65536, 0);
    for (const auto& [bytes, letter] : t->decode) {
      const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
      if (bytes.size() == 1)
        t->single[b[0]] = letter;
      else
        t->pair[(b[0] << 8) | b[1]] = letter;
    }
    for (int b = 0x80; b < 0xC0; ++b) {
      auto r = Iconv("UTF-8", "WINDOWS-1252", std::string(1, static_cast<char>(b)));
      if (r.ok() && !r->empty()) {
        size_t pos = 0;
        t->cp1252[b - 0x80] = NextCodePoint(r.value(), &pos);
      }
    }
    return t;
  }());
  return *tables;
}

Result<std::string> DecodeVni(std::string_view bytes) {
  const VniTables& t = Vni();
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  std::string out;
  out.reserve(n * 2);
  size_t i = 0;
  while (i < n) {
    unsigned char b = p[i];
    if (i + 1 < n && p[i + 1] >= 0x80) {
      if (char32_t c = t.pair[(b << 8) | p[i + 1]]) {
        AppendUtf8(c, &out);
        i += 2;
        continue;
      }
    }
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    if (char32_t c = t.single[b]) {
      AppendUtf8(c, &out);
      ++i;
      continue;
    }
    if (b < 0xC0 && t.cp1252[b - 0x80]) {
      // Windows-1252 punctuation (quotes, dashes, ellipsis) and symbols.
      AppendUtf8(t.cp1252[b - 0x80], &out);
      ++i;
      continue;
    }
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", b);
    return Status::InvalidInput("byte " + std::to_string(i) + " (" + hex +
                                ") không phải mã VNI hợp lệ ở vị trí này");
  }
  return NormalizeNfc(out);
}

Result<std::string> EncodeVni(std::string_view utf8) {
  auto nfc = NormalizeNfc(utf8);
  if (!nfc.ok()) return nfc.status();
  const auto& enc = Vni().encode;
  std::string out;
  size_t pos = 0;
  const std::string& s = nfc.value();
  while (pos < s.size()) {
    size_t start = pos;
    char32_t cp = NextCodePoint(s, &pos);
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
      continue;
    }
    auto it = enc.find(cp);
    if (it == enc.end()) {
      return Status::InvalidInput("ký tự tại byte " + std::to_string(start) +
                                  " không có trong bảng mã VNI");
    }
    out += it->second;
  }
  return out;
}

// ---- syllables ----------------------------------------------------------------------------

// Maps a letter to a one-byte symbol for the syllable grammar and its tone (0 none, 1..5).
// Returns false for letters and marks Vietnamese does not use.
bool Symbolize(char32_t cp, char* sym, int* tone) {
  *tone = 0;
  if (cp == 0x0111) {
    *sym = '7';  // đ
    return true;
  }
  utf8proc_int32_t dst[8];
  int bc = 0;
  utf8proc_ssize_t n =
      utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), dst, 8, UTF8PROC_DECOMPOSE, &bc);
  if (n < 1 || n > 3) return false;
  char32_t base = static_cast<char32_t>(dst[0]);
  if (base < 'a' || base > 'z') return false;
  char32_t shape = 0;
  for (int k = 1; k < n; ++k) {
    switch (dst[k]) {
      case 0x0301:
        *tone = 1;
        break;
      case 0x0300:
        *tone = 2;
        break;
      case 0x0309:
        *tone = 3;
        break;
      case 0x0303:
        *tone = 4;
        break;
      case 0x0323:
        *tone = 5;
        break;
      case 0x0302:
      case 0x0306:
      case 0x031B:
        if (shape) return false;
        shape = static_cast<char32_t>(dst[k]);
        break;
      default:
        return false;
    }
  }
  if (base == 'f' || base == 'j' || base == 'w' || base == 'z') return false;
  if (shape == 0) {
    *sym = static_cast<char>(base);
    return true;
  }
  if (base == 'a' && shape == 0x0306)
    *sym = '1';
  else if (base == 'a' && shape == 0x0302)
    *sym = '2';
  else if (base == 'e' && shape == 0x0302)
    *sym = '3';
  else if (base == 'o' && shape == 0x0302)
    *sym = '4';
  else if (base == 'o' && shape == 0x031B)
    *sym = '5';
  else if (base == 'u' && shape == 0x031B)
    *sym = '6';
  else
    return false;
  bool vowel = std::strchr("aeiouy123456", *sym) != nullptr;
  return vowel || *tone == 0;
}

bool IsVowelSym(char c) { return std::strchr("aeiouy123456", c) != nullptr; }

constexpr const char* const kClusters[] = {
    "a",   "1",   "2",   "e",   "3",   "i",   "o",   "4",   "5",   "u",   "6",   "y",  "ai", "ao",
    "au",  "ay",  "2u",  "2y",  "eo",  "3u",  "ia",  "i3",  "iu",  "oa",  "o1",  "oe", "oi", "4i",
    "5i",  "oo",  "ua",  "u2",  "u3",  "ui",  "u4",  "u5",  "uy",  "6a",  "6i",  "6u", "65", "y3",
    "i3u", "y3u", "oai", "oay", "oeo", "u2y", "u4i", "65i", "65u", "uya", "uy3", "uyu"};

bool ValidMarkedCluster(std::string_view v) {
  for (const char* c : kClusters) {
    if (v == c) return true;
  }
  return false;
}

// Words written without diacritics ("khieu") are checked against the folded inventory.
bool ValidCluster(std::string_view v) {
  if (ValidMarkedCluster(v)) return true;
  static const std::unique_ptr<const std::set<std::string>> folded([] {
    auto* s = new std::set<std::string>();
    for (const char* c : kClusters) {
      std::string f(c);
      for (char& ch : f) {
        if (ch == '1' || ch == '2') ch = 'a';
        if (ch == '3') ch = 'e';
        if (ch == '4' || ch == '5') ch = 'o';
        if (ch == '6') ch = 'u';
      }
      s->insert(f);
    }
    return s;
  }());
  for (char ch : v) {
    if (ch >= '1' && ch <= '6') return false;
  }
  return folded->count(std::string(v)) > 0;
}

bool ValidFinal(std::string_view f) {
  return f.empty() || f == "c" || f == "ch" || f == "m" || f == "n" || f == "ng" || f == "nh" ||
         f == "p" || f == "t";
}

bool IsShaped(char c) { return c >= '1' && c <= '6'; }

// `rest` follows the initial consonant; `tone_at` is the index in `rest` of the letter that
// carries the tone (-1: none).
bool ParseRest(std::string_view rest, int tone, int tone_at) {
  size_t k = 0;
  while (k < rest.size() && IsVowelSym(rest[k])) ++k;
  if (k == 0) return false;
  std::string_view cluster = rest.substr(0, k);
  if (!ValidCluster(cluster)) return false;
  std::string_view fin = rest.substr(k);
  if (!ValidFinal(fin)) return false;
  if ((fin == "c" || fin == "ch" || fin == "p" || fin == "t") && tone != 0 && tone != 1 &&
      tone != 5) {
    return false;
  }
  if (cluster == "oo" && fin != "ng" && fin != "c") return false;  // xoong, soóc
  char last = cluster.back();
  // nh/ch only after a, ê, i, y (anh, ênh, inh, oanh, uỳnh, ách, ếch, ịch); ng/c never after
  // i, y (those are written inh, ich); ă and â never end a syllable (ăn, âm, âu, ây).
  if ((fin == "nh" || fin == "ch") && last != 'a' && last != '3' && last != 'i' && last != 'y') {
    return false;
  }
  if ((fin == "ng" || fin == "c") && (last == 'i' || last == 'y')) return false;
  if (fin.empty() && (last == '1' || last == '2')) return false;
  // Tone placement (orthography): on a vowel with a shape mark when there is one; in an open
  // cluster of plain vowels not on the last one, except the old-style oa, oe, uy (hoà, thuý).
  if (tone_at >= 0) {
    if (tone_at >= static_cast<int>(k)) return false;
    bool shaped = std::any_of(cluster.begin(), cluster.end(), IsShaped);
    if (shaped && !IsShaped(cluster[tone_at])) return false;
    if (!shaped && fin.empty() && k >= 2 && tone_at == static_cast<int>(k) - 1 && cluster != "oa" &&
        cluster != "oe" && cluster != "uy") {
      return false;
    }
  }
  return true;
}

}  // namespace

const char* EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kUtf8:
      return "UTF-8";
    case Encoding::kTcvn3:
      return "TCVN3";
    case Encoding::kVni:
      return "VNI";
    case Encoding::kViscii:
      return "VISCII";
    case Encoding::kCp1258:
      return "Windows-1258";
  }
  return "?";
}

Result<std::string> DecodeLegacy(Encoding e, std::string_view bytes) {
  if (e == Encoding::kUtf8) {
    if (auto bad = FindInvalidUtf8(bytes)) {
      return Status::InvalidInput("byte " + std::to_string(*bad) + " không phải UTF-8 hợp lệ");
    }
    return NormalizeNfc(bytes);
  }
  if (e == Encoding::kVni) return DecodeVni(bytes);
  auto r = Iconv("UTF-8", IconvName(e), bytes);
  if (!r.ok()) return r.status();
  return NormalizeNfc(r.value());
}

Result<std::string> EncodeLegacy(Encoding e, std::string_view utf8) {
  if (auto bad = FindInvalidUtf8(utf8)) {
    return Status::InvalidInput("byte " + std::to_string(*bad) + " không phải UTF-8 hợp lệ");
  }
  if (e == Encoding::kUtf8) return std::string(utf8);
  if (e == Encoding::kVni) return EncodeVni(utf8);
  auto nfc = NormalizeNfc(utf8);
  if (!nfc.ok()) return nfc.status();
  return Iconv(IconvName(e), "UTF-8", nfc.value());
}

bool IsVietnameseSyllable(std::u32string_view word) {
  if (word.empty() || word.size() > 8) return false;
  std::string syms;
  int tone = 0, tone_at = -1;
  for (char32_t cp : word) {
    char s;
    int t;
    if (!Symbolize(cp, &s, &t)) return false;
    if (t) {
      if (tone) return false;
      tone = t;
      tone_at = static_cast<int>(syms.size());
    }
    syms.push_back(s);
  }
  static const char* const kInitials[] = {
      "ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "th", "tr", "qu", "b", "c", "d",
      "7",   "g",  "h",  "k",  "l",  "m",  "n",  "p",  "r",  "s",  "t",  "v", "x", ""};
  std::string_view sv(syms);
  for (const char* ini : kInitials) {
    std::string_view i(ini);
    if (sv.substr(0, i.size()) != i) continue;
    int n = static_cast<int>(i.size());
    if (ParseRest(sv.substr(n), tone, tone_at < 0 ? -1 : tone_at - n)) return true;
    // "gì", "gìn": the i of gi is the vowel.
    if (i == "gi" && ParseRest(sv.substr(1), tone, tone_at < 0 ? -1 : tone_at - 1)) return true;
  }
  return false;
}

SyllableScore ScoreVietnamese(std::string_view utf8) {
  SyllableScore score;
  auto norm = NormalizeNfc(utf8);
  if (!norm.ok()) return score;
  const std::string& s = norm.value();
  std::u32string word;
  bool non_ascii = false;
  bool has_letter = false;
  int uppers = 0, lowers = 0;
  bool lower_then_upper = false;
  auto flush = [&] {
    if (!word.empty() && has_letter) {
      // Mixed case inside a word ("tẰ", "vIệt") is a decoding artefact; "Việt" and "VIỆT" are
      // fine.
      bool casing_ok = !lower_then_upper && !(uppers > 1 && lowers > 0);
      bool ok = casing_ok && IsVietnameseSyllable(word);
      if (non_ascii) {
        ++score.words;
        score.valid += ok;
      } else {
        ++score.ascii_words;
        score.ascii_valid += ok;
      }
    }
    word.clear();
    non_ascii = false;
    has_letter = false;
    uppers = lowers = 0;
    lower_then_upper = false;
  };
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp = NextCodePoint(s, &pos);
    bool sep;
    if (cp < 0x80) {
      sep = !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp < 0x20);
    } else {
      utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
      sep = (cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO) ||
            (cat >= UTF8PROC_CATEGORY_ZS && cat <= UTF8PROC_CATEGORY_ZP);
    }
    if (sep) {
      flush();
      continue;
    }
    if (cp >= 0x80 || cp < 0x20) non_ascii = true;
    if (cp >= 0x20) has_letter = true;
    char32_t lower = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
    if (lower != cp) {
      ++uppers;
      if (lowers > 0) lower_then_upper = true;
    } else if (static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp))) != cp) {
      ++lowers;
    }
    word.push_back(lower);
  }
  flush();
  return score;
}

Detection DetectLegacy(std::string_view bytes, const DetectOptions& options) {
  Detection d;
  for (Encoding e : {Encoding::kTcvn3, Encoding::kVni, Encoding::kViscii, Encoding::kCp1258}) {
    Candidate c;
    c.encoding = e;
    auto r = DecodeLegacy(e, bytes);
    if (r.ok()) {
      c.ok = true;
      c.text = std::move(r).value();
      c.score = ScoreVietnamese(c.text);
    }
    d.candidates.push_back(std::move(c));
  }
  std::stable_sort(d.candidates.begin(), d.candidates.end(),
                   [](const Candidate& a, const Candidate& b) {
                     if (a.ok != b.ok) return a.ok;
                     if (a.score.share() != b.score.share()) {
                       return a.score.share() > b.score.share();
                     }
                     return a.score.valid > b.score.valid;
                   });
  const Candidate& best = d.candidates[0];
  if (!best.ok || best.score.words == 0) {
    d.reason = "không bảng mã cũ nào (TCVN3, VNI, VISCII, Windows-1258) giải mã được";
    return d;
  }
  char buf[160];
  if (best.score.share() < options.min_share) {
    std::snprintf(buf, sizeof buf,
                  "không bảng mã nào cho văn bản tiếng Việt đủ tin cậy (tốt nhất: %s, %d/%d "
                  "âm tiết hợp lệ)",
                  EncodingName(best.encoding), best.score.valid, best.score.words);
    d.reason = buf;
    return d;
  }
  for (size_t k = 1; k < d.candidates.size(); ++k) {
    const Candidate& other = d.candidates[k];
    if (!other.ok || other.text == best.text) continue;
    if (best.score.share() - other.score.share() < options.min_margin - 1e-9) {
      std::snprintf(buf, sizeof buf, "mơ hồ giữa %s (%d/%d) và %s (%d/%d âm tiết hợp lệ)",
                    EncodingName(best.encoding), best.score.valid, best.score.words,
                    EncodingName(other.encoding), other.score.valid, other.score.words);
      d.reason = buf;
      return d;
    }
    break;
  }
  d.confident = true;
  d.encoding = best.encoding;
  d.text = best.text;
  d.confidence = best.score.share();
  return d;
}

namespace {

// MojibakeBytes' walk, the legacy bytes appended to *bytes when it is given (no copy for
// IsMojibake). True when `utf8` reads as mojibake.
bool MojibakeWalk(std::string_view utf8, std::string* bytes) {
  static const std::u32string_view kVietLatin1 = U"ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúý";
  const VniTables& t = Vni();  // holds the Windows-1252 table of 0x80..0xBF
  int suspicious = 0;
  size_t pos = 0;
  while (pos < utf8.size()) {
    char32_t cp = NextCodePoint(utf8, &pos);
    int byte = -1;
    if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') {
      ++suspicious;
      byte = static_cast<int>(cp);
    } else if (cp < 0x80) {
      byte = static_cast<int>(cp);
    } else if (cp <= 0xFF) {
      if (kVietLatin1.find(cp) == std::u32string_view::npos) ++suspicious;
      byte = static_cast<int>(cp);
    } else {
      // Windows-1252's 0x80-0x9F code points (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ' ' " " • – — ˜ ™ …);
      // anything else (ă, ơ, ư, đ, ạ...) means real Unicode text.
      for (int b = 0; b < 0x20; ++b) {
        if (t.cp1252[b] == cp) byte = 0x80 + b;
      }
      if (byte < 0) return false;
      ++suspicious;
    }
    if (bytes) bytes->push_back(static_cast<char>(byte));
  }
  return suspicious >= 2;
}

}  // namespace

std::string MojibakeBytes(std::string_view utf8) {
  std::string bytes;
  bytes.reserve(utf8.size());
  if (!MojibakeWalk(utf8, &bytes)) return {};
  return bytes;
}

bool IsMojibake(std::string_view utf8) { return MojibakeWalk(utf8, nullptr); }

int Windows1252Byte(char32_t cp) {
  if (cp <= 0xFF) return static_cast<int>(cp);
  const VniTables& t = Vni();  // holds the Windows-1252 table of 0x80..0x9F
  for (int b = 0; b < 0x20; ++b)
    if (t.cp1252[b] == cp) return 0x80 + b;
  return -1;
}

}  // namespace danvan::text
