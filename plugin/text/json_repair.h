// Repairs the text encoding of a raw JSON event BEFORE it is parsed.
//
// Hosts still feed records exported from old systems whose string values are TCVN3, VNI,
// VISCII or Windows-1258 bytes (domain.md §6). nlohmann/json would reject such input (invalid
// UTF-8) or, worse, accept Latin-1 mojibake. RepairJsonText walks the string literals of the
// raw text; a literal is a suspect when it is invalid UTF-8, contains raw C0 control bytes
// (VISCII/TCVN3 capitals live there), or is valid UTF-8 that only Windows-1252 can hold with
// Latin-1 symbols in it (legacy bytes decoded as Windows-1252 by an earlier system).
// All suspects of one document are scored together (they share one encoding in practice, and a
// short name alone is too little evidence); when the document-level choice is not confident,
// each literal is decided on its own. Nothing is guessed: a literal that cannot be decoded with
// confidence fails the whole text with InvalidInput naming the byte offset and the reason.
//
// Thread-safe (no shared state). Cost: one pass over the text; valid UTF-8 without control
// bytes or Latin-1 symbols is returned after that pass with no copy of the decision work.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "text/legacy.h"

namespace danvan {
class ArenaJson;
}

namespace danvan::text {

struct RepairNote {
  std::string path;   // JSON path of the literal, e.g. "data.petitioners[0].name";
                      // a key is reported as "<path>{key}"
  size_t offset = 0;  // byte offset of the literal's opening quote in the raw text
  Encoding encoding = Encoding::kUtf8;
  double confidence = 0;  // share of valid Vietnamese syllables in the decoding
  bool mojibake = false;  // the literal was valid UTF-8 holding legacy bytes as Windows-1252
  bool decoded_value = false;  // found by RepairJsonValues (no raw offset)
  // {"path","offset","encoding","confidence","mojibake"}; "stage":"decoded_value" instead of
  // "offset" for a decoded-value repair.
  nlohmann::json ToJson() const;
};

struct RepairedJson {
  std::string text;               // UTF-8 JSON; == input when notes is empty
  std::vector<RepairNote> notes;  // one per repaired literal
  bool changed() const { return !notes.empty(); }
};

Result<RepairedJson> RepairJsonText(std::string_view raw, const DetectOptions& options = {});

// True when RepairJsonText(raw) would return `raw` unchanged without looking at its literals:
// valid UTF-8 without C0 control bytes (tab, LF, CR aside) and with fewer than two code points
// of the kind Windows-1252 mojibake produces. One pass, no copy (RepairJsonText's own fast path).
bool IsCleanJsonText(std::string_view raw);

// The same repair on the DECODED string values of a parsed document, for legacy text that the
// raw pass cannot see: a host serializer that wrote TCVN3/VISCII capitals (bytes 0x01-0x1F) as
// \u0001..\u001F escapes, or legacy bytes decoded as Windows-1252 whose escapes hide them.
// A value is a suspect when it holds C0 controls (other than tab, LF, CR), or when every code
// point is a Windows-1252/Latin-1 byte (weak evidence, used only with the document's encoding:
// the strong suspects' or `hint`, the encoding RepairJsonText chose for this document).
// Values are replaced in place. C0 controls are never left in a value: one that no legacy
// reading explains is an error. Errors are (JSON pointer, Vietnamese reason); notes as above.
// Keys are not examined. Iterative (no recursion); cost one pass over the string values.
struct ValueRepair {
  std::vector<RepairNote> notes;
  std::vector<std::pair<std::string, std::string>> errors;
};
// RepairJsonValues' test of one decoded value, without copies: a C0 control other than tab, LF,
// CR, or non-ASCII text whose every code point is a Windows-1252/Latin-1 byte. A document
// without such a value is returned unchanged, with no note and no error. Precondition: `v` is
// valid UTF-8 (a parsed document's strings are).
bool IsValueSuspect(std::string_view v);
ValueRepair RepairJsonValues(nlohmann::json* doc, const DetectOptions& options = {},
                             std::optional<Encoding> hint = std::nullopt);
// Whether RepairJsonValues(doc, options, hint) would look past its first walk, for an arena
// view (core/arena_json.h) of the document: when false it changes nothing and reports nothing.
bool WorthRepairPass(std::string_view value, bool hinted);
// clean_text: the document was read from a text IsCleanJsonText accepts, unrepaired. Its
// verbatim strings (ArenaJson::verbatim(): the literal's own bytes) are then not examined:
// every code point the mojibake test counts is one IsCleanJsonText counts, which found fewer
// than two in the whole text, and a verbatim string holds no control character; only strings
// with escapes can hide anything (the test json_repair_test's CleanTextCountsEveryMojibakeCodePoint
// holds the two tests together).
bool NeedsValueRepair(const ArenaJson& doc, std::optional<Encoding> hint, bool clean_text = false);

}  // namespace danvan::text
