#include "text/normalize.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "text/utf8.h"

namespace danvan::text {
namespace {

bool IsShapeMark(utf8proc_int32_t cp) { return cp == 0x0302 || cp == 0x0306; }

// Stable-sorts each run of combining marks by (combining class, shape marks first), so a tone
// typed before the circumflex/breve ends up after it. Runs are already in canonical order.
void ReorderVietnameseMarks(utf8proc_int32_t* cps, utf8proc_ssize_t n) {
  utf8proc_ssize_t i = 0;
  while (i < n) {
    if (utf8proc_get_property(cps[i])->combining_class == 0) {
      ++i;
      continue;
    }
    utf8proc_ssize_t j = i;
    while (j < n && utf8proc_get_property(cps[j])->combining_class != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(cps + i, cps + j, [](utf8proc_int32_t a, utf8proc_int32_t b) {
        int ca = utf8proc_get_property(a)->combining_class;
        int cb = utf8proc_get_property(b)->combining_class;
        if (ca != cb) return ca < cb;
        return IsShapeMark(a) && !IsShapeMark(b);
      });
    }
    i = j;
  }
}

Result<std::vector<utf8proc_int32_t>> Decompose(std::string_view utf8, utf8proc_option_t opts) {
  std::vector<utf8proc_int32_t> buf(utf8.size() + 8);
  for (;;) {
    utf8proc_ssize_t n = utf8proc_decompose(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                                            static_cast<utf8proc_ssize_t>(utf8.size()), buf.data(),
                                            static_cast<utf8proc_ssize_t>(buf.size()), opts);
    if (n < 0) {
      return Status::InvalidInput(std::string("văn bản không phải UTF-8 hợp lệ: ") +
                                  utf8proc_errmsg(n));
    }
    if (static_cast<size_t>(n) <= buf.size()) {
      buf.resize(n);
      return buf;
    }
    buf.resize(n + 8);
  }
}

Result<std::string> Recompose(std::vector<utf8proc_int32_t> cps, bool compose) {
  ReorderVietnameseMarks(cps.data(), static_cast<utf8proc_ssize_t>(cps.size()));
  size_t n = cps.size();
  cps.push_back(0);  // utf8proc_reencode needs one spare slot
  utf8proc_option_t opts = UTF8PROC_STABLE;
  if (compose) opts = static_cast<utf8proc_option_t>(opts | UTF8PROC_COMPOSE);
  utf8proc_ssize_t bytes = utf8proc_reencode(cps.data(), static_cast<utf8proc_ssize_t>(n), opts);
  if (bytes < 0) return Status::Internal(utf8proc_errmsg(bytes));
  return std::string(reinterpret_cast<const char*>(cps.data()), static_cast<size_t>(bytes));
}

constexpr char32_t kTableSize = 0x2000;

struct FoldTable {
  std::array<char32_t, kTableSize> low{};
  std::array<char32_t, 0x100> latin_ext_additional{};  // U+1E00..U+1EFF
  // For PrepareForMatch: the simple lower case of a code point and the fold of that lower case,
  // over the same two ranges (every Vietnamese letter is in them).
  struct LowerFold {
    char32_t lower;
    char32_t fold;
  };
  std::array<LowerFold, kTableSize> lower_low{};
  std::array<LowerFold, 0x100> lower_latin_ext_additional{};
};

char32_t ComputeFold(char32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) return cp;
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    return ' ';
  }
  if (cp == 0x0111 || cp == 0x0110) return 'd';  // đ/Đ: no Unicode decomposition
  utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  switch (cat) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return 0;
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      break;
    default:
      return ' ';
  }
  utf8proc_int32_t dst[8];
  int last_boundclass = 0;
  utf8proc_ssize_t n = utf8proc_decompose_char(
      static_cast<utf8proc_int32_t>(cp), dst, 8,
      static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD), &last_boundclass);
  if (n < 1 || n > 8) return cp;
  char32_t base = static_cast<char32_t>(dst[0]);
  if (base == 0x0111) return 'd';
  if (base >= 'A' && base <= 'Z') base += 32;
  return base;
}

const FoldTable& Table() {
  static const std::unique_ptr<const FoldTable> table([] {
    auto* t = new FoldTable();
    for (char32_t cp = 0; cp < kTableSize; ++cp) t->low[cp] = ComputeFold(cp);
    for (char32_t k = 0; k < 0x100; ++k) t->latin_ext_additional[k] = ComputeFold(0x1E00 + k);
    auto lower_fold = [](char32_t cp) {
      const char32_t lower =
          static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
      return FoldTable::LowerFold{lower, ComputeFold(lower)};
    };
    for (char32_t cp = 0; cp < kTableSize; ++cp) t->lower_low[cp] = lower_fold(cp);
    for (char32_t k = 0; k < 0x100; ++k) t->lower_latin_ext_additional[k] = lower_fold(0x1E00 + k);
    return t;
  }());
  return *table;
}

}  // namespace

char32_t FoldCodePoint(char32_t cp) {
  if (cp < kTableSize) return Table().low[cp];
  if (cp >= 0x1E00 && cp <= 0x1EFF) return Table().latin_ext_additional[cp - 0x1E00];
  return ComputeFold(cp);
}

Result<std::string> NormalizeNfc(std::string_view utf8, bool casefold) {
  if (IsAscii(utf8)) {
    std::string out(utf8);
    if (casefold) {
      for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      }
    }
    return out;
  }
  utf8proc_option_t opts = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
  if (casefold) opts = static_cast<utf8proc_option_t>(opts | UTF8PROC_CASEFOLD);
  auto cps = Decompose(utf8, opts);
  if (!cps.ok()) return cps.status();
  return Recompose(std::move(cps).value(), /*compose=*/true);
}

Result<std::string> NormalizeNfd(std::string_view utf8) {
  auto cps = Decompose(utf8, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
  if (!cps.ok()) return cps.status();
  return Recompose(std::move(cps).value(), /*compose=*/false);
}

Result<std::string> FoldDiacritics(std::string_view utf8) {
  auto cps = Decompose(utf8, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
  if (!cps.ok()) return cps.status();
  std::string out;
  out.reserve(utf8.size());
  for (utf8proc_int32_t cp : cps.value()) {
    utf8proc_category_t cat = utf8proc_category(cp);
    if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME) continue;
    if (cp == 0x0111) cp = 'd';
    if (cp == 0x0110) cp = 'D';
    AppendUtf8(static_cast<char32_t>(cp), &out);
  }
  return out;
}

Result<std::string> ToUpperNfc(std::string_view utf8) {
  auto nfc = NormalizeNfc(utf8);
  if (!nfc.ok()) return nfc.status();
  std::string out;
  out.reserve(nfc->size());
  size_t pos = 0;
  const std::string& s = nfc.value();
  while (pos < s.size()) {
    char32_t cp = NextCodePoint(s, &pos);
    AppendUtf8(static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp))), &out);
  }
  return out;
}

namespace {

// True when the text holds a combining mark of U+0300..U+036F (UTF-8 lead bytes 0xCC, 0xCD),
// the only marks Vietnamese uses. Text without them is already NFC for Vietnamese letters.
bool HasCombiningMarks(std::string_view s) {
  for (unsigned char c : s) {
    if (c == 0xCC || c == 0xCD) return true;
  }
  return false;
}

}  // namespace

Result<MatchText> PrepareForMatch(std::string_view utf8) {
  if (auto bad = FindInvalidUtf8(utf8)) {
    return Status::InvalidInput("văn bản không phải UTF-8 hợp lệ tại byte " + std::to_string(*bad));
  }
  MatchText mt;
  // norm = lower-case of NFC. NFC (with the mark reordering) only runs when combining marks are
  // present; per-code-point simple lower-casing equals full case folding for Vietnamese.
  std::string nfc_storage;
  std::string_view src = utf8;
  if (HasCombiningMarks(utf8)) {
    auto nfc = NormalizeNfc(utf8);
    if (!nfc.ok()) return nfc.status();
    nfc_storage = std::move(nfc).value();
    src = nfc_storage;
  }
  // Output buffers sized for the worst case and trimmed at the end: a code point of n bytes
  // lower-cases to at most 3n/2 bytes and folds to at most 2n (one byte for ASCII).
  const FoldTable& table = Table();
  mt.norm.resize(src.size() * 2 + 8);
  mt.folded.resize(src.size() * 2 + 8);
  mt.folded_to_norm.resize(src.size() * 2 + 9);
  char* norm = mt.norm.data();
  char* folded = mt.folded.data();
  uint32_t* to_norm = mt.folded_to_norm.data();
  size_t norm_size = 0, folded_size = 0;
  auto put_utf8 = [](char32_t cp, char* out, size_t* size) {
    if (cp < 0x80) {
      out[(*size)++] = static_cast<char>(cp);
    } else if (cp < 0x800) {
      out[(*size)++] = static_cast<char>(0xC0 | (cp >> 6));
      out[(*size)++] = static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out[(*size)++] = static_cast<char>(0xE0 | (cp >> 12));
      out[(*size)++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out[(*size)++] = static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out[(*size)++] = static_cast<char>(0xF0 | (cp >> 18));
      out[(*size)++] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out[(*size)++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out[(*size)++] = static_cast<char>(0x80 | (cp & 0x3F));
    }
  };
  size_t pos = 0;
  bool last_sep = true;  // suppresses a leading separator
  while (pos < src.size()) {
    unsigned char b = static_cast<unsigned char>(src[pos]);
    const uint32_t start = static_cast<uint32_t>(norm_size);
    if (b < 0x80) {
      ++pos;
      char lower = (b >= 'A' && b <= 'Z') ? static_cast<char>(b + 32) : static_cast<char>(b);
      norm[norm_size++] = lower;
      const char32_t f = table.low[static_cast<unsigned char>(lower)];
      if (f == ' ') {
        if (last_sep) continue;
        last_sep = true;
      } else {
        last_sep = false;
      }
      to_norm[folded_size] = start;
      folded[folded_size++] = static_cast<char>(f);
      continue;
    }
    char32_t cp = NextCodePoint(src, &pos);
    char32_t f;
    if (cp < kTableSize) {
      const FoldTable::LowerFold& lf = table.lower_low[cp];
      cp = lf.lower;
      f = lf.fold;
    } else if (cp >= 0x1E00 && cp <= 0x1EFF) {
      const FoldTable::LowerFold& lf = table.lower_latin_ext_additional[cp - 0x1E00];
      cp = lf.lower;
      f = lf.fold;
    } else {
      cp = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
      f = FoldCodePoint(cp);
    }
    put_utf8(cp, norm, &norm_size);
    if (f == 0) {
      mt.has_diacritics = true;  // a stray combining mark on a letter
      continue;
    }
    if (f == ' ') {
      if (last_sep) continue;
      last_sep = true;
      to_norm[folded_size] = start;
      folded[folded_size++] = ' ';
      continue;
    }
    last_sep = false;
    if (f < 0x80) mt.has_diacritics = true;
    size_t before = folded_size;
    put_utf8(f, folded, &folded_size);
    for (size_t k = before; k < folded_size; ++k) to_norm[k] = start;
  }
  mt.norm.resize(norm_size);
  mt.folded.resize(folded_size);
  mt.folded_to_norm.resize(folded_size);
  mt.folded_to_norm.push_back(static_cast<uint32_t>(mt.norm.size()));
  return mt;
}

}  // namespace danvan::text
