// Compact JSON serialisation of nlohmann documents, byte for byte what
// `doc.dump(-1, ' ', /*ensure_ascii=*/false, handler)` gives, faster: strings are copied in runs
// (nlohmann decodes every byte through its UTF-8 automaton) and the output is appended to one
// buffer. A string that is not valid UTF-8, and every floating-point number, are written by
// nlohmann itself, so the result (and, with error_handler_t::strict, the exception) is the same.
//
// Used where large documents are written per call: the ABI's results (a batch answers ~1.5 KB
// per event), the canonical dump of each event's data, its tags.
// Thread-safe (no shared state). Recursion follows the document's nesting, as nlohmann's dump;
// documents from outside are bounded by limits.max_json_depth before they get here.
#pragma once

#include <cstddef>
#include <string>

#include <string_view>

#include <nlohmann/json.hpp>

namespace danvan {

// Length of the valid UTF-8 sequence starting at p[0] (a byte >= 0x80, `left` bytes readable),
// 0 when invalid: the sequences nlohmann's decoder accepts (no overlong forms, no surrogates,
// <= U+10FFFF). Also what valijson counts as one character of a valid string.
size_t Utf8SequenceLength(const unsigned char* p, size_t left);

void AppendJson(const nlohmann::json& doc, std::string* out,
                nlohmann::json::error_handler_t handler = nlohmann::json::error_handler_t::strict);

// Appends `s` as a JSON string: the same bytes as AppendJson(nlohmann::json(s), out, handler).
void AppendJsonString(std::string_view s, std::string* out,
                      nlohmann::json::error_handler_t handler = nlohmann::json::error_handler_t::strict);

// Appends an integer as nlohmann writes it.
void AppendJsonInt(int64_t v, std::string* out);

// Appends a double as nlohmann writes it (shortest round-trip form, "null" when not finite).
void AppendJsonDouble(double v, std::string* out);

inline std::string DumpJson(const nlohmann::json& doc,
                            nlohmann::json::error_handler_t handler = nlohmann::json::error_handler_t::strict) {
  std::string out;
  AppendJson(doc, &out, handler);
  return out;
}

}  // namespace danvan
