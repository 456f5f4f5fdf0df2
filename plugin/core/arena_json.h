// A read-only JSON document in an arena (issue 16): what an event is parsed into on the intake
// path instead of a heap nlohmann document of ~100 allocations that is walked a few times and
// freed. Built by nlohmann's own SAX parser (the same lexer, the same refusals), its nodes,
// strings and member arrays bump-allocated from a JsonArena that the caller frees at once.
//
// The document reads as nlohmann's would: an object's members are sorted by key in byte order
// (nlohmann's std::map), a key given twice keeps its last value (nlohmann's DOM parser
// assigns), integers keep nlohmann's kinds (unsigned when not negative, else signed; floats
// as doubles). ToNlohmann gives the document nlohmann::json::parse would have built, and
// AppendArenaJson writes AppendJson's bytes (core/json_write.h).
//
// Ownership: every view points into its JsonArena and lives until the arena is Reset or
// destroyed. Thread-safety: a JsonArena is one thread's at a time; a finished document is
// immutable and may be read from any thread while its arena lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bounded_input.h"
#include "core/status.h"

namespace danvan {

class ArenaJson;

// Bump allocation in blocks; nothing is freed until Reset (which keeps the first block for the
// next use) or destruction. Memory: the bytes allocated since the last Reset, rounded up to
// blocks of kBlock (a request larger than a quarter block gets a block of its own).
class JsonArena {
 public:
  static constexpr size_t kBlock = 64 * 1024;
  JsonArena() = default;
  JsonArena(const JsonArena&) = delete;
  JsonArena& operator=(const JsonArena&) = delete;

  void* Allocate(size_t bytes, size_t align);
  template <typename T>
  T* AllocateArray(size_t n) {
    return static_cast<T*>(Allocate(n * sizeof(T), alignof(T)));
  }
  std::string_view Copy(std::string_view s);
  // Frees every document built in the arena (their views dangle after this).
  void Reset();
  size_t reserved_bytes() const;

 private:
  friend class ArenaJsonBuilder;
  struct Block {
    std::unique_ptr<char[]> bytes;
    size_t size = 0;
  };
  std::vector<Block> blocks_;
  char* next_ = nullptr;
  size_t left_ = 0;
  // The parser's working stacks, kept between documents (no allocation per document).
  std::vector<ArenaJson> scratch_values_;
  std::vector<std::string_view> scratch_keys_;
  std::vector<std::pair<size_t, size_t>> scratch_frames_;  // open containers: first value, first key
};

class ArenaJson {
 public:
  enum class Type : uint8_t { kNull, kBoolean, kInteger, kUnsigned, kFloat, kString, kArray, kObject };
  struct Member;

  ArenaJson() = default;
  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_boolean() const { return type_ == Type::kBoolean; }
  // nlohmann's predicates: an unsigned integer is an integer, every integer is a number.
  bool is_number() const { return is_number_integer() || type_ == Type::kFloat; }
  bool is_number_integer() const { return type_ == Type::kInteger || type_ == Type::kUnsigned; }
  bool is_number_unsigned() const { return type_ == Type::kUnsigned; }
  bool is_number_float() const { return type_ == Type::kFloat; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_structured() const { return is_array() || is_object(); }

  // Preconditions: the matching type.
  bool boolean() const { return u_.b; }
  int64_t integer() const { return u_.i; }
  uint64_t unsigned_integer() const { return u_.u; }
  double number_float() const { return u_.d; }
  // Any number as a double, as nlohmann's get<double>() converts it.
  double number() const {
    return type_ == Type::kFloat ? u_.d : type_ == Type::kUnsigned ? static_cast<double>(u_.u) : static_cast<double>(u_.i);
  }
  std::string_view string() const { return {u_.chars, size_}; }
  // A string read by the arena's own reader from a literal without escapes: its text is the
  // literal's bytes, so it is valid UTF-8 without control characters, '"' or '\\', and
  // AppendJsonString writes it as '"' + text + '"'. False when not known (escapes, nlohmann's
  // parser, FromNlohmann), never a reason to treat a string differently but for speed.
  bool verbatim() const { return verbatim_; }
  // Elements of an array; empty for anything else.
  std::span<const ArenaJson> elements() const {
    return is_array() ? std::span<const ArenaJson>(u_.elements, size_) : std::span<const ArenaJson>();
  }
  // Members of an object, sorted by key, keys unique; empty for anything else.
  std::span<const Member> members() const;
  // Elements or members; 0 for scalars.
  size_t size() const { return is_structured() ? size_ : 0; }
  // The member's value, nullptr when absent or not an object (binary search).
  const ArenaJson* Find(std::string_view key) const;
  // The member's text, nullptr when absent or not a string.
  const ArenaJson* FindString(std::string_view key) const {
    const ArenaJson* v = Find(key);
    return v && v->is_string() ? v : nullptr;
  }

 private:
  friend class ArenaJsonBuilder;
  friend class JsonArena;
  Type type_ = Type::kNull;
  bool verbatim_ = false;  // strings only (verbatim())
  size_t size_ = 0;
  union U {
    bool b;
    int64_t i;
    uint64_t u;
    double d;
    const char* chars;
    const ArenaJson* elements;
    const Member* members;
  } u_ = {false};
};

struct ArenaJson::Member {
  std::string_view key;
  ArenaJson value;
};

inline std::span<const ArenaJson::Member> ArenaJson::members() const {
  return is_object() ? std::span<const Member>(u_.members, size_) : std::span<const Member>();
}

// Parses `text` into `arena` refusing exactly what ParseJsonBounded refuses (syntax, numbers
// out of range, containers nested deeper than max_depth), with the same *error. The document
// lives in `arena`. Iterative: no recursion whatever the text.
// valid_utf8: the caller has checked that `text` is valid UTF-8 (text::FindInvalidUtf8, as the
// intake does before parsing): its literals are then not checked again, byte by byte. The same
// document and refusals; a text that is not valid UTF-8 must not be passed with it.
Result<const ArenaJson*> ParseArenaJsonBounded(std::string_view text, int max_depth, JsonArena* arena,
                                               JsonScanError* error = nullptr, bool valid_utf8 = false);

// The document nlohmann's parser builds from the same text. Recursion follows the document's
// nesting (as nlohmann's copies do; documents from outside are bounded before they get here).
nlohmann::json ToNlohmann(const ArenaJson& doc);
// A copy of `doc` into `arena` (recursion as above).
const ArenaJson* FromNlohmann(const nlohmann::json& doc, JsonArena* arena);

// AppendJson(ToNlohmann(doc), out, handler)'s bytes, without building the document.
void AppendArenaJson(const ArenaJson& doc, std::string* out,
                     nlohmann::json::error_handler_t handler = nlohmann::json::error_handler_t::strict);

}  // namespace danvan
