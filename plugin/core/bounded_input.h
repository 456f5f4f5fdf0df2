// Bounded, checked reading of input that comes from outside: JSON (events, query requests, the
// configuration, data files named by a request or by the configuration), files, identifiers.
//
// nlohmann/json builds, copies, compares and dumps documents recursively, and so do valijson
// and our own walkers: a document nested deeply enough overflows the calling thread's stack
// (5,000 levels are enough on a 1 MiB thread, the JVM's default). nlohmann's parser itself
// keeps its stack on the heap: ParseJsonBounded stops it at the first container past the
// limit, and ScanJson (its SAX parser, no DOM) says where a refused text went wrong.
//
// Files are read only when they are regular files, and at most max_file_bytes of them: a
// request naming /dev/zero, a FIFO or a directory is refused at once.
//
// Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace danvan {

// Defaults of limits.max_json_depth and limits.max_data_file_bytes (schemas/config.schema.json).
inline constexpr int kDefaultMaxJsonDepth = 64;
inline constexpr int64_t kDefaultMaxDataFileBytes = 16LL << 20;

struct JsonReadLimits {
  // Most arrays and objects nested in one another; the top-level value is level 1.
  int max_depth = kDefaultMaxJsonDepth;
  // Largest data file read (rules, calendars, rubric, units, schemas...).
  int64_t max_file_bytes = kDefaultMaxDataFileBytes;
};

// Where and why a JSON text was refused.
struct JsonScanError {
  enum class Kind { kSyntax, kNumberRange, kDepth };
  Kind kind = Kind::kSyntax;
  std::string path;    // JSON pointer of the offending value ("/" for the document)
  std::string reason;  // Vietnamese, for the administrator
  size_t byte = 0;     // byte offset in the text (syntax and number errors)
};

// Checks syntax and nesting depth without building the document and without recursion.
// nullopt when `text` is one valid JSON value nested at most max_depth levels deep. Otherwise
// the pointer of the first container past the limit, or of the value being read at a syntax
// error (a number out of range such as 1e400 names its field).
// When `top_level` is given, the string members of a top-level object (at most 16, each at most
// 1024 bytes) read before the scan stopped are put there: what can be said of a refused event
// (its source, kind, id, unit) without parsing it.
std::optional<JsonScanError> ScanJson(std::string_view text, int max_depth,
                                      std::map<std::string, std::string>* top_level = nullptr);

// Parses `text` refusing what ScanJson refuses, in one pass when the text is fine. On failure
// *error (when given) says where and why, and the result is kInvalidInput "<path>: <reason>".
Result<nlohmann::json> ParseJsonBounded(std::string_view text, int max_depth,
                                        JsonScanError* error = nullptr);

// The deepest any input may be nested (limits.max_json_depth's maximum, schemas/config.schema.json):
// what the plugin stored came through that limit, so stored JSON deeper than this is damaged.
inline constexpr int kMaxStoredJsonDepth = 256;

// JSON the plugin stored itself and reads back (a record's data, tags and deadline, a history
// step, an outbox payload, a setting): nlohmann::json::parse(text, nullptr, false), i.e. a
// discarded value when the text is not JSON, and also when it is nested deeper than
// kMaxStoredJsonDepth. A row edited or damaged on disk is input too: nlohmann copies, compares
// and writes documents recursively, and a column nested 100,000 deep overflowed the host
// thread's stack in the answer that copied it.
nlohmann::json ParseStoredJson(std::string_view text);

// What ParseJsonBounded answers for a text its parser refused: ScanJson's error (*error, when
// given), kInvalidInput "<path>: <reason>". For other bounded parsers of the same lexer.
Status RefusedJson(std::string_view text, int max_depth, JsonScanError* error = nullptr);

// The whole content of `path` when it is a regular file of at most max_bytes bytes.
// kIoError naming the file when it does not exist, cannot be read, or is not a regular file
// (device, FIFO, socket, directory); kInvalidInput when it is larger than max_bytes. Never
// blocks on a FIFO and never reads more than max_bytes + 1 bytes.
Result<std::string> ReadRegularFile(const std::string& path, int64_t max_bytes);

// The first control character of UTF-8 text `s` (C0 U+0000..U+001F, DEL U+007F, C1
// U+0080..U+009F) as "U+001F"; nullopt when there is none. Identifiers (a record's source,
// kind, id, unit) must have none: a NUL cuts C strings, and the others hide in logs and reports.
std::optional<std::string> FindControlCharacter(std::string_view s);

}  // namespace danvan
