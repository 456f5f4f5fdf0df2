#include "text/json_repair.h"

#include <cstdio>

#include "text/normalize.h"
#include "text/utf8.h"

namespace danvan::text {
namespace {

struct Frame {
  bool object = true;
  bool expect_key = true;
  int index = 0;
  std::string key;
};

std::string PathOf(const std::vector<Frame>& stack) {
  std::string p;
  for (const Frame& f : stack) {
    if (f.object) {
      if (!p.empty()) p.push_back('.');
      p += f.key;
    } else {
      p += "[" + std::to_string(f.index) + "]";
    }
  }
  return p;
}

enum class Kind { kInvalid, kControl, kMojibake };

struct Suspect {
  size_t quote = 0;           // offset of the opening quote
  size_t begin = 0, end = 0;  // content range in raw
  std::string path;
  Kind kind = Kind::kInvalid;
  size_t first_bad = 0;    // absolute offset of the first offending byte
  std::string bytes;       // the legacy bytes to decode
  double as_is_share = 0;  // mojibake only: the literal's own score as UTF-8
};

bool HasControl(std::string_view s, size_t* at) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      *at = i;
      return true;
    }
  }
  return false;
}

// Escapes what JSON forbids raw inside a string; the legacy decoders map ASCII to itself, so
// the literal's own escapes are already intact.
std::string EscapeControls(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Hex(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

// True when `raw` cannot hold a suspect literal: valid UTF-8, no C0 control bytes, and fewer
// than two code points of the kind Windows-1252 mojibake produces (MojibakeBytes needs two in
// one literal): U+0080..U+00BF (lead 0xC2), Latin-1 letters Vietnamese does not use (0xC3 +
// other), Œ œ Š š Ÿ Ž ž ƒ ˆ ˜, and the 0xE2-led punctuation € ‚ „ … † ‡ ‰ ‹ ' ' " " • – — ™ ›.
// Vietnamese letters (ũ ư ơ are 0xC5/0xC6-led too) do not count.
bool CleanUtf8(std::string_view raw) {
  if (FindInvalidUtf8(raw)) return false;
  static const bool* viet_c3 = [] {
    static bool t[64] = {};
    for (char32_t cp : std::u32string_view(U"ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúý")) {
      t[cp & 0x3F] = cp >= 0xC0;
    }
    return t;
  }();
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  const size_t n = raw.size();
  int suspicious = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = p[i];
    if (c >= 0x20 && c < 0xC2) {
      continue;  // ASCII or a continuation byte
    }
    if (c < 0x20) {
      if (c != '\t' && c != '\n' && c != '\r') return false;
      continue;
    }
    // Valid UTF-8: the continuation bytes exist.
    unsigned char d = p[i + 1];
    switch (c) {
      case 0xC2:
        ++suspicious;
        break;
      case 0xC3:
        suspicious += !viet_c3[d & 0x3F];
        break;
      case 0xC5:
        suspicious +=
            d == 0x92 || d == 0x93 || d == 0xA0 || d == 0xA1 || d == 0xB8 || d == 0xBD || d == 0xBE;
        break;
      case 0xC6:
        suspicious += d == 0x92;
        break;
      case 0xCB:
        suspicious += d == 0x86 || d == 0x9C;
        break;
      case 0xE2:
        suspicious += d == 0x80 || d == 0x82 || d == 0x84;
        break;
      default:
        break;
    }
    if (suspicious >= 2) return false;
  }
  return true;
}

}  // namespace

nlohmann::json RepairNote::ToJson() const {
  return {{"path", path},
          {"offset", offset},
          {"encoding", EncodingName(encoding)},
          {"confidence", confidence},
          {"mojibake", mojibake}};
}

Result<RepairedJson> RepairJsonText(std::string_view raw, const DetectOptions& options) {
  RepairedJson result;
  // Fast path: plain UTF-8 (or ASCII) without control bytes or mojibake code points.
  if (CleanUtf8(raw)) {
    result.text = std::string(raw);
    return result;
  }

  std::vector<Suspect> suspects;
  std::vector<Frame> stack;
  size_t i = 0;
  const size_t n = raw.size();
  while (i < n) {
    char c = raw[i];
    if (c == '"') {
      size_t j = i + 1;
      while (j < n && raw[j] != '"') j += (raw[j] == '\\') ? 2 : 1;
      if (j > n) j = n;
      std::string_view content = raw.substr(i + 1, j - i - 1);
      bool is_key = !stack.empty() && stack.back().object && stack.back().expect_key;
      std::string path;
      if (is_key) {
        path = PathOf(stack) + "{" + std::string(content) + "}";
        stack.back().key = std::string(content);
      } else {
        path = PathOf(stack);
      }
      Suspect s;
      s.quote = i;
      s.begin = i + 1;
      s.end = j;
      s.path = path;
      s.kind = Kind::kInvalid;
      size_t at = 0;
      if (auto bad = FindInvalidUtf8(content)) {
        s.kind = Kind::kInvalid;
        s.first_bad = i + 1 + *bad;
        s.bytes = std::string(content);
        suspects.push_back(std::move(s));
      } else if (HasControl(content, &at)) {
        s.kind = Kind::kControl;
        s.first_bad = i + 1 + at;
        s.bytes = std::string(content);
        suspects.push_back(std::move(s));
      } else if (!IsAscii(content)) {
        std::string bytes = MojibakeBytes(content);
        if (!bytes.empty()) {
          s.kind = Kind::kMojibake;
          s.bytes = std::move(bytes);
          s.as_is_share = ScoreVietnamese(content).share();
          suspects.push_back(std::move(s));
        }
      }
      i = j + 1;
      continue;
    }
    switch (c) {
      case '{':
        stack.emplace_back();
        stack.back().object = true;
        break;
      case '[':
        stack.emplace_back();
        stack.back().object = false;
        break;
      case '}':
      case ']':
        if (!stack.empty()) stack.pop_back();
        break;
      case ',':
        if (!stack.empty()) {
          if (stack.back().object) {
            stack.back().expect_key = true;
          } else {
            ++stack.back().index;
          }
        }
        break;
      case ':':
        if (!stack.empty()) stack.back().expect_key = false;
        break;
      default:
        break;
    }
    ++i;
  }
  if (suspects.empty()) {
    result.text = std::string(raw);
    return result;
  }

  // Document-level choice: the encoding with the best share over all suspects.
  constexpr Encoding kEncodings[] = {Encoding::kTcvn3, Encoding::kVni, Encoding::kViscii,
                                     Encoding::kCp1258};
  struct DocCand {
    Encoding e = Encoding::kUtf8;
    bool ok = true;
    SyllableScore score;
    std::vector<std::string> texts;
  };
  std::vector<DocCand> cands;
  for (Encoding e : kEncodings) {
    DocCand dc;
    dc.e = e;
    for (const Suspect& s : suspects) {
      auto r = DecodeLegacy(e, s.bytes);
      if (!r.ok()) {
        if (s.kind == Kind::kMojibake) {
          dc.texts.emplace_back();  // this literal stays as it is under this encoding
          continue;
        }
        dc.ok = false;
        break;
      }
      SyllableScore sc = ScoreVietnamese(r.value());
      dc.score.words += sc.words;
      dc.score.valid += sc.valid;
      dc.texts.push_back(std::move(r).value());
    }
    cands.push_back(std::move(dc));
  }
  std::stable_sort(cands.begin(), cands.end(), [](const DocCand& a, const DocCand& b) {
    if (a.ok != b.ok) return a.ok;
    return a.score.share() > b.score.share();
  });
  bool doc_confident =
      cands[0].ok && cands[0].score.words > 0 && cands[0].score.share() >= options.min_share;
  if (doc_confident) {
    for (size_t k = 1; k < cands.size(); ++k) {
      if (!cands[k].ok || cands[k].texts == cands[0].texts) continue;
      if (cands[0].score.share() - cands[k].score.share() < options.min_margin - 1e-9) {
        doc_confident = false;
      }
      break;
    }
  }

  // Decide each suspect.
  std::vector<std::string> replacement(suspects.size());
  std::vector<bool> replace(suspects.size(), false);
  for (size_t k = 0; k < suspects.size(); ++k) {
    const Suspect& s = suspects[k];
    RepairNote note;
    note.path = s.path;
    note.offset = s.quote;
    note.mojibake = s.kind == Kind::kMojibake;
    bool decided = false;
    if (doc_confident && !cands[0].texts[k].empty()) {
      SyllableScore own = ScoreVietnamese(cands[0].texts[k]);
      // A literal the document's encoding turns into non-words is decided on its own.
      if (own.words == 0 || own.share() >= options.min_share) {
        note.encoding = cands[0].e;
        note.confidence = cands[0].score.share();
        replacement[k] = cands[0].texts[k];
        decided = true;
      }
    }
    if (!decided) {
      Detection d = DetectLegacy(s.bytes, options);
      if (d.confident) {
        note.encoding = d.encoding;
        note.confidence = d.confidence;
        replacement[k] = d.text;
        decided = true;
      } else if (s.kind == Kind::kMojibake) {
        continue;  // valid UTF-8 with no convincing legacy reading: keep it as written
      } else {
        unsigned char b = static_cast<unsigned char>(raw[s.first_bad]);
        std::string why =
            s.kind == Kind::kInvalid ? "không phải UTF-8 hợp lệ" : "chứa ký tự điều khiển";
        return Status::InvalidInput("Không giải mã được chuỗi tại '" + s.path + "' (byte " +
                                    std::to_string(s.first_bad) + " của sự kiện, giá trị " +
                                    Hex(b) + "): " + why + "; " + d.reason);
      }
    }
    if (s.kind == Kind::kMojibake &&
        ScoreVietnamese(replacement[k]).share() < s.as_is_share + options.min_margin) {
      continue;  // the text reads as well (or better) as it is
    }
    replace[k] = true;
    result.notes.push_back(std::move(note));
  }

  result.text.reserve(raw.size() + raw.size() / 4);
  size_t copied = 0;
  for (size_t k = 0; k < suspects.size(); ++k) {
    if (!replace[k]) continue;
    result.text.append(raw.substr(copied, suspects[k].begin - copied));
    result.text += EscapeControls(replacement[k]);
    copied = suspects[k].end;
  }
  result.text.append(raw.substr(copied));
  return result;
}

}  // namespace danvan::text
