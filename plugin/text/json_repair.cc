#include "text/json_repair.h"

#include <cstdint>
#include <cstdio>
#include <bit>
#include <cstring>
#include <optional>

#include "core/arena_json.h"
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

// kWeak: valid text whose every code point Windows-1252/Latin-1 can hold, without the two
// tell-tale symbols MojibakeBytes wants (CP1258 read as Windows-1252 often gives only letters
// such as "Khiêìu naòi"). Never evidence on its own: repaired only with the encoding the rest
// of the document was confidently repaired with, and only when that reads clearly better.
enum class Kind { kInvalid, kControl, kMojibake, kWeak };

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
    // Eight ASCII bytes at a time while none is below 0x20 (tab, LF, CR included: they take
    // the byte-wise path, which lets them pass).
    constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (const uint64_t found = (w | ((w - kOnes * 0x20) & ~w)) & kHigh) {
        // To the first flagged byte, a real one (borrows only flag bytes above a real one).
        if constexpr (std::endian::native == std::endian::little) i += std::countr_zero(found) / 8;
        break;
      }
      i += 8;
    }
    if (i >= n) break;
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


// Legacy bytes behind a decoded value: every code point must be one Windows-1252/Latin-1 byte
// (C0 controls included). Unlike MojibakeBytes there is no minimum of tell-tale symbols: the
// caller already has its reason to suspect the value. Empty when some code point has no byte.
std::string Latin1Bytes(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  size_t pos = 0;
  while (pos < utf8.size()) {
    int b = Windows1252Byte(NextCodePoint(utf8, &pos));
    if (b < 0) return {};
    out.push_back(static_cast<char>(b));
  }
  return out;
}

struct Decision {
  std::vector<std::string> replacement;
  std::vector<bool> replace;
  std::vector<RepairNote> notes;
  int failed = -1;     // index of a suspect that could not be decoded (then nothing else holds)
  std::string reason;  // why (Vietnamese)
};

// Decides every suspect: the document-level encoding (best share over the strong suspects) when
// it is confident, else each literal on its own; `hint`: an encoding an earlier pass already
// chose confidently for this document, used when the strong suspects here do not decide.
Decision Decide(const std::vector<Suspect>& suspects, const DetectOptions& options,
                std::optional<Encoding> hint) {
  Decision out;
  out.replacement.resize(suspects.size());
  out.replace.assign(suspects.size(), false);
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
      if (s.kind == Kind::kWeak) {
        auto r = DecodeLegacy(e, s.bytes);
        dc.texts.push_back(r.ok() ? std::move(r).value() : std::string());
        continue;  // never evidence for the document's encoding
      }
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
  const DocCand* doc = nullptr;
  if (doc_confident) {
    doc = &cands[0];
  } else if (hint) {
    for (const auto& c : cands)
      if (c.e == *hint && c.texts.size() == suspects.size()) doc = &c;
  }

  for (size_t k = 0; k < suspects.size(); ++k) {
    const Suspect& s = suspects[k];
    RepairNote note;
    note.path = s.path;
    note.offset = s.quote;
    note.mojibake = s.kind == Kind::kMojibake || s.kind == Kind::kWeak;
    bool decided = false;
    if (doc && !doc->texts[k].empty()) {
      SyllableScore own = ScoreVietnamese(doc->texts[k]);
      // A literal the document's encoding turns into non-words is decided on its own.
      if ((own.words == 0 && s.kind != Kind::kWeak) || own.share() >= options.min_share) {
        note.encoding = doc->e;
        note.confidence = own.words == 0 ? doc->score.share() : own.share();
        if (doc_confident) note.confidence = doc->score.share();
        out.replacement[k] = doc->texts[k];
        decided = true;
      }
    }
    if (!decided && s.kind == Kind::kWeak) continue;  // no document encoding: keep as written
    if (!decided) {
      Detection d = DetectLegacy(s.bytes, options);
      if (d.confident) {
        note.encoding = d.encoding;
        note.confidence = d.confidence;
        out.replacement[k] = d.text;
        decided = true;
      } else if (s.kind == Kind::kMojibake) {
        continue;  // valid UTF-8 with no convincing legacy reading: keep it as written
      } else {
        out.failed = static_cast<int>(k);
        out.reason = d.reason;
        return out;
      }
    }
    if ((s.kind == Kind::kMojibake || s.kind == Kind::kWeak) &&
        ScoreVietnamese(out.replacement[k]).share() < s.as_is_share + options.min_margin) {
      continue;  // the text reads as well (or better) as it is
    }
    out.replace[k] = true;
    out.notes.push_back(std::move(note));
  }
  return out;
}
}  // namespace

nlohmann::json RepairNote::ToJson() const {
  nlohmann::json j = {{"path", path},
                      {"encoding", EncodingName(encoding)},
                      {"confidence", confidence},
                      {"mojibake", mojibake}};
  if (decoded_value) {
    j["stage"] = "decoded_value";
  } else {
    j["offset"] = offset;
  }
  return j;
}

bool IsCleanJsonText(std::string_view raw) { return CleanUtf8(raw); }

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
      Suspect s;
      s.quote = i;
      s.begin = i + 1;
      s.end = j;
      s.kind = Kind::kInvalid;
      bool suspect = false;
      size_t at = 0;
      if (auto bad = FindInvalidUtf8(content)) {
        s.kind = Kind::kInvalid;
        s.first_bad = i + 1 + *bad;
        s.bytes = std::string(content);
        suspect = true;
      } else if (HasControl(content, &at)) {
        s.kind = Kind::kControl;
        s.first_bad = i + 1 + at;
        s.bytes = std::string(content);
        suspect = true;
      } else if (!IsAscii(content) && content.find('\\') == std::string_view::npos &&
                 IsValueSuspect(content)) {
        // A valid literal with escapes is judged after decoding (RepairJsonValues): read here,
        // "\u0001" would be six ASCII letters, not the legacy byte it stands for.
        // IsValueSuspect: every code point has a Windows-1252 byte, which both readings below
        // need (most Vietnamese text has one that has none, and is not copied here).
        std::string bytes = MojibakeBytes(content);
        if (!bytes.empty()) {
          s.kind = Kind::kMojibake;
        } else {
          bytes = Latin1Bytes(content);
          s.kind = Kind::kWeak;
        }
        if (!bytes.empty()) {
          s.bytes = std::move(bytes);
          s.as_is_share = ScoreVietnamese(content).share();
          suspect = true;
        }
      }
      // The path only for a suspect (a key's names the key its object had before it).
      if (suspect) {
        s.path = is_key ? PathOf(stack) + "{" + std::string(content) + "}" : PathOf(stack);
        suspects.push_back(std::move(s));
      }
      if (is_key) stack.back().key = std::string(content);
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

  Decision dec = Decide(suspects, options, std::nullopt);
  if (dec.failed >= 0) {
    const Suspect& s = suspects[dec.failed];
    unsigned char b = static_cast<unsigned char>(raw[s.first_bad]);
    std::string why = s.kind == Kind::kInvalid ? "không phải UTF-8 hợp lệ" : "chứa ký tự điều khiển";
    return Status::InvalidInput("Không giải mã được chuỗi tại '" + s.path + "' (byte " +
                                std::to_string(s.first_bad) + " của sự kiện, giá trị " + Hex(b) +
                                "): " + why + "; " + dec.reason);
  }
  result.notes = std::move(dec.notes);
  const std::vector<bool>& replace = dec.replace;
  const std::vector<std::string>& replacement = dec.replacement;
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

namespace {

bool HasControlChar(const std::string& s) {
  size_t at = 0;
  return HasControl(s, &at);
}

std::string PointerToken(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out.push_back(c);
  }
  return out;
}

}  // namespace

// RepairJsonValues' first walk, per string value. Without the raw pass's encoding a weak
// suspect alone (a Latin-1-only value such as "José") changes nothing (Decide keeps it as
// written): only a control or mojibake makes the full pass worth it. With the encoding, any
// suspect does.
bool WorthRepairPass(std::string_view v, bool hinted) {
  if (hinted) return IsValueSuspect(v);
  size_t at = 0;
  return HasControl(v, &at) || IsMojibake(v);
}

bool NeedsValueRepair(const ArenaJson& doc, std::optional<Encoding> hint, bool clean_text) {
  const bool skip_verbatim = clean_text && !hint;
  std::vector<const ArenaJson*> todo{&doc};
  while (!todo.empty()) {
    const ArenaJson* n = todo.back();
    todo.pop_back();
    if (n->is_string()) {
      if (skip_verbatim && n->verbatim()) continue;
      if (WorthRepairPass(n->string(), hint.has_value())) return true;
    } else if (n->is_array()) {
      for (const ArenaJson& e : n->elements()) todo.push_back(&e);
    } else if (n->is_object()) {
      for (const ArenaJson::Member& m : n->members()) todo.push_back(&m.value);
    }
  }
  return false;
}

bool IsValueSuspect(std::string_view v) {
  bool ascii = true;
  for (const char ch : v) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;  // HasControl
    ascii &= c < 0x80;
  }
  if (ascii) return false;
  // !Latin1Bytes(v).empty() without building the bytes (MojibakeBytes accepts the same code
  // points, so a value it would take is one of these too).
  size_t pos = 0;
  while (pos < v.size())
    if (Windows1252Byte(NextCodePoint(v, &pos)) < 0) return false;
  return true;
}

ValueRepair RepairJsonValues(nlohmann::json* doc, const DetectOptions& options,
                             std::optional<Encoding> hint) {
  ValueRepair out;
  // Most documents hold no suspect at all: a first walk without paths or copies says so
  // cheaply (IsValueSuspect: the same test as the suspects' below, or only the strong
  // suspects' when there is no hint), and only a document with one is walked again.
  {
    bool any = false;
    std::vector<const nlohmann::json*> todo{doc};
    while (!todo.empty() && !any) {
      const nlohmann::json* n = todo.back();
      todo.pop_back();
      if (n->is_string()) {
        any = WorthRepairPass(n->get_ref<const std::string&>(), hint.has_value());
      } else if (n->is_structured()) {
        for (const auto& e : *n) todo.push_back(&e);
      }
    }
    if (!any) return out;
  }
  struct Item {
    nlohmann::json* node;
    std::string pointer;  // "/data/title"
    std::string dotted;   // "data.title" (RepairNote style)
  };
  std::vector<Item> strings;
  // Iterative walk: the nesting depth is whatever the parser accepted.
  std::vector<Item> todo{{doc, "", ""}};
  while (!todo.empty()) {
    Item it = std::move(todo.back());
    todo.pop_back();
    if (it.node->is_string()) {
      strings.push_back(std::move(it));
    } else if (it.node->is_object()) {
      for (auto e = it.node->begin(); e != it.node->end(); ++e)
        todo.push_back({&e.value(), it.pointer + "/" + PointerToken(e.key()),
                        it.dotted.empty() ? e.key() : it.dotted + "." + e.key()});
    } else if (it.node->is_array()) {
      for (size_t i = 0; i < it.node->size(); ++i)
        todo.push_back({&(*it.node)[i], it.pointer + "/" + std::to_string(i),
                        it.dotted + "[" + std::to_string(i) + "]"});
    }
  }
  std::vector<Suspect> suspects;
  std::vector<size_t> owner;  // suspect -> index in strings
  for (size_t k = 0; k < strings.size(); ++k) {
    const std::string& v = strings[k].node->get_ref<const std::string&>();
    const bool control = HasControlChar(v);
    if (!control && IsAscii(v)) continue;
    Suspect s;
    s.path = strings[k].dotted;
    if (control) {
      s.kind = Kind::kControl;
      s.bytes = Latin1Bytes(v);
      if (s.bytes.empty()) {
        // Controls mixed with real Unicode text: no legacy reading can explain them.
        out.errors.push_back({strings[k].pointer, "chứa ký tự điều khiển (U+0000–U+001F) không phải "
                                                  "chữ của bảng mã cũ; không lưu ký tự điều khiển"});
        continue;
      }
    } else if (std::string b = MojibakeBytes(v); !b.empty()) {
      s.kind = Kind::kMojibake;
      s.bytes = std::move(b);
      s.as_is_share = ScoreVietnamese(v).share();
    } else if (std::string w = Latin1Bytes(v); !w.empty()) {
      s.kind = Kind::kWeak;
      s.bytes = std::move(w);
      s.as_is_share = ScoreVietnamese(v).share();
    } else {
      continue;
    }
    suspects.push_back(std::move(s));
    owner.push_back(k);
  }
  if (!out.errors.empty() || suspects.empty()) return out;
  Decision dec = Decide(suspects, options, hint);
  if (dec.failed >= 0) {
    out.errors.push_back({strings[owner[dec.failed]].pointer,
                          "chứa ký tự điều khiển, không giải mã được theo bảng mã cũ nào: " + dec.reason});
    return out;
  }
  size_t note = 0;
  for (size_t k = 0; k < suspects.size(); ++k) {
    if (!dec.replace[k]) continue;
    *strings[owner[k]].node = dec.replacement[k];
    RepairNote n = std::move(dec.notes[note++]);
    n.decoded_value = true;
    out.notes.push_back(std::move(n));
  }
  // Never store C0 controls in text: whatever is still holding one is refused.
  for (size_t k = 0; k < suspects.size(); ++k) {
    if (suspects[k].kind == Kind::kControl &&
        HasControlChar(strings[owner[k]].node->get_ref<const std::string&>()))
      out.errors.push_back({strings[owner[k]].pointer, "chứa ký tự điều khiển (U+0000–U+001F)"});
  }
  return out;
}

}  // namespace danvan::text
