// Legacy Vietnamese encodings (domain.md §6) and their detection.
//
// TCVN3 (TCVN 5712:1993, glibc "TCVN5712-1"), VISCII and Windows-1258 are converted with glibc
// iconv; VNI-Windows is not in iconv, so its table lives in legacy.cc (checked against the
// xvnkb / VNI font charts: base letter + one modifier byte, with ơ ư đ and the i/ỵ forms as
// single bytes). Decoders return NFC UTF-8.
//
// Detection scores every candidate decoding by the share of valid Vietnamese syllables among
// the words that contain non-ASCII letters (ASCII words are the same under every candidate and
// would only dilute the difference). Thread-safe: iconv descriptors are opened per call.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace danvan::text {

enum class Encoding { kUtf8, kTcvn3, kVni, kViscii, kCp1258 };

// "UTF-8", "TCVN3", "VNI", "VISCII", "Windows-1258".
const char* EncodingName(Encoding e);

// Bytes in `e` -> NFC UTF-8. InvalidInput with the byte offset when a byte has no mapping.
Result<std::string> DecodeLegacy(Encoding e, std::string_view bytes);
// UTF-8 -> bytes in `e` (used by tests and the corpus to produce legacy input). Characters with
// no mapping give InvalidInput.
Result<std::string> EncodeLegacy(Encoding e, std::string_view utf8);

// True when the NFC, case-folded word is a well-formed Vietnamese syllable: optional initial
// consonant, a vowel cluster from the language's inventory, optional final consonant, at most
// one tone, and only sắc/nặng before the stop finals c, ch, p, t. ASCII words without marks
// (e.g. "khieu") are accepted when their letters form a syllable.
bool IsVietnameseSyllable(std::u32string_view word);

struct SyllableScore {
  int words = 0;        // words containing a non-ASCII character
  int valid = 0;        // of those, valid syllables
  int ascii_words = 0;  // pure-ASCII letter words
  int ascii_valid = 0;
  double share() const { return words == 0 ? 0.0 : static_cast<double>(valid) / words; }
};
// Input must be valid UTF-8.
SyllableScore ScoreVietnamese(std::string_view utf8);

struct Candidate {
  Encoding encoding;
  std::string text;  // NFC UTF-8; empty with ok=false when the decoder failed
  bool ok = false;
  SyllableScore score;
};

struct DetectOptions {
  // A decoding is accepted when the share of valid syllables among its non-ASCII words reaches
  // min_share and beats the runner-up (with a different text) by min_margin.
  double min_share = 0.75;
  double min_margin = 0.2;
};

struct Detection {
  bool confident = false;
  Encoding encoding = Encoding::kUtf8;
  std::string text;                   // the chosen decoding (when confident)
  double confidence = 0.0;            // the winner's share
  std::string reason;                 // Vietnamese, when not confident
  std::vector<Candidate> candidates;  // best first
};

// Tries every legacy decoder on `bytes` (which are not valid UTF-8, or are suspected legacy
// bytes) and picks the best one.
Detection DetectLegacy(std::string_view bytes, const DetectOptions& options = {});

// Valid UTF-8 that is really legacy bytes read as Windows-1252/Latin-1 ("D©n vËn" for TCVN3
// "Dân vận"): returns the original bytes when `utf8` consists only of code points that
// Windows-1252/Latin-1 can hold, has at least two non-Vietnamese Latin-1 symbols or C0
// controls, and has no letter that only Vietnamese text would use. Otherwise empty.
std::string MojibakeBytes(std::string_view utf8);
// !MojibakeBytes(utf8).empty(), without building the bytes.
bool IsMojibake(std::string_view utf8);

// The byte that Windows-1252 (with Latin-1 for its undefined slots and C0 controls) decodes to
// `cp`, or -1 when there is none (e.g. ă, ơ, ư, đ, ạ).
int Windows1252Byte(char32_t cp);

}  // namespace danvan::text
