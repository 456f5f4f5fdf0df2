// A JSON Schema checker compiled once per schema, for the common case of a valid document.
//
// valijson (core/json_schema.h) is general and precise about errors, but it walks the schema
// through virtual visitors, copies strings, and matches `pattern` with std::regex: most of the
// cost of validating an event. FastSchema compiles the same schema document (the files in
// schemas/ stay the single source) into a tree of plain checks for the keywords the record
// schemas use: type, properties, required, additionalProperties (false or absent), items,
// maxItems, minItems, maxLength, minLength, pattern (a regular-expression subset, below), enum
// (of strings and integers), minimum, maximum, anyOf, allOf, if/then/else. A node with any
// other keyword is opaque: the checker says kUnknown there.
//
// It answers kValid only when valijson (draft 7, strong types) accepts the document; kInvalid
// when it rejects it; kUnknown when it cannot tell. JsonSchema::Validate uses it as a filter:
// a kValid document skips valijson, anything else goes to valijson, which says what is wrong
// (same error paths, reasons and codes as before).
//
// Thread-safe after construction (immutable). Recursion follows the schema's own nesting (the
// schema files), never the document's beyond it.
#pragma once

#include <bitset>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace danvan {

class ArenaJson;

// A regular expression of the subset the schemas use, with std::regex_search semantics
// (ECMAScript, byte-wise, no multiline): literal ASCII characters, escaped punctuation, \d,
// bracket classes of ASCII characters and ranges (negated or not, \d inside), groups (…),
// alternation |, the quantifiers ? * + {n} {n,} {n,m}, and the anchors ^ $. Matched by a
// Thompson NFA (linear time, no backtracking).
class SimplePattern {
 public:
  // nullptr when the pattern uses anything outside the subset (the caller then keeps
  // std::regex's answer).
  static std::unique_ptr<const SimplePattern> Compile(std::string_view pattern);
  // Whether some substring of `s` matches (std::regex_search).
  bool Search(std::string_view s) const;

  struct Inst {
    enum Op : uint8_t { kClass, kSplit, kJmp, kBegin, kEnd, kMatch } op;
    int x = 0, y = 0;  // kClass: class index; kSplit: both targets; kJmp: x
  };

 private:
  std::vector<Inst> prog_;
  std::vector<std::bitset<256>> classes_;
  friend class SimplePatternCompiler;
};

class FastSchema {
 public:
  enum class Verdict { kValid, kInvalid, kUnknown };
  // Never fails: what it does not understand becomes an opaque node.
  static std::unique_ptr<const FastSchema> Compile(const nlohmann::json& schema);
  ~FastSchema();
  Verdict Check(const nlohmann::json& doc) const;
  // The same verdict for an arena view (core/arena_json.h) of the same document.
  Verdict CheckView(const ArenaJson& doc) const;

  struct Node;

 private:
  FastSchema() = default;
  std::unique_ptr<Node> root_;
};

}  // namespace danvan
