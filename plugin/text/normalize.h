// Unicode normalisation and folding for Vietnamese text (domain.md §6), on top of utf8proc.
// All functions are pure and thread-safe (utf8proc is reentrant; the fold table is built once
// under the C++ static-initialisation guarantee).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace danvan::text {

// NFC after the Vietnamese mark-reordering step: some input methods type the tone mark before
// the circumflex/breve (a + U+0301 + U+0302). Both have combining class 230, so canonical
// ordering never swaps them and NFC leaves the sequence uncomposed; we move U+0302/U+0306 in
// front of the tone marks inside each run of combining marks, then compose.
// `casefold` additionally applies Unicode full case folding. Input must be valid UTF-8.
Result<std::string> NormalizeNfc(std::string_view utf8, bool casefold = false);

// NFD (after the same reordering). Used by tests and the encoders.
Result<std::string> NormalizeNfd(std::string_view utf8);

// Removes every combining mark and maps đ/Đ to d/D (they have no decomposition); keeps case.
// "Đơn KHIẾU NẠI" -> "Don KHIEU NAI". Input must be valid UTF-8.
Result<std::string> FoldDiacritics(std::string_view utf8);

// Upper case (utf8proc simple mapping), NFC. For tests and corpus variants.
Result<std::string> ToUpperNfc(std::string_view utf8);

// The base letter of a code point with marks removed and lowered (U+1EC7 ệ -> 'e', đ -> 'd'),
// 0 for a combining mark, ' ' for separators (spaces, punctuation, symbols, controls), the code
// point itself for letters and digits that do not fold to ASCII.
char32_t FoldCodePoint(char32_t cp);

// A text prepared for keyword matching.
//  norm:   NFC (with the mark reordering), lower-cased per code point (diacritics kept);
//          NFC is skipped when the text has no combining mark (it is then already NFC for
//          Vietnamese), which keeps the common path cheap
//  folded: FoldCodePoint() of each code point of `norm`, every run of separators collapsed to
//          one ' ', no leading separator.
//  folded_to_norm[i]: byte offset in `norm` of the code point that produced folded byte i;
//          folded_to_norm[folded.size()] == norm.size().
//  has_diacritics: some letter of the text carries a Vietnamese mark (or is đ).
struct MatchText {
  std::string norm;
  std::string folded;
  std::vector<uint32_t> folded_to_norm;
  bool has_diacritics = false;
};

// Input must be valid UTF-8 (run RepairJsonText or FindInvalidUtf8 first); invalid input gives
// InvalidInput.
Result<MatchText> PrepareForMatch(std::string_view utf8);

}  // namespace danvan::text
