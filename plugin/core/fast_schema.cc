#include "core/fast_schema.h"

#include "core/arena_json.h"
#include "core/json_write.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>

namespace danvan {

// ---------------------------------------------------------------------------------------------
// SimplePattern: parse into a small tree, emit a Thompson-NFA program.

namespace {

struct ReNode;
struct Piece {
  std::unique_ptr<ReNode> atom;
  int min = 1, max = 1;  // max -1: unbounded
};
using Seq = std::vector<Piece>;
struct ReNode {
  enum Kind { kClass, kGroup, kBegin, kEnd } kind = kClass;
  std::bitset<256> cls;
  std::vector<Seq> alts;  // kGroup
};

constexpr int kMaxRepeat = 64;   // {n,m} beyond this: outside the subset
constexpr size_t kMaxProgram = 4096;

std::bitset<256> Digits() {
  std::bitset<256> b;
  for (int c = '0'; c <= '9'; ++c) b.set(c);
  return b;
}

bool IsAsciiPunct(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
         (c >= '{' && c <= '~');
}

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}
  // nullptr on anything outside the subset.
  std::unique_ptr<ReNode> ParseAll() {
    auto g = ParseAlts();
    if (!g || i_ != p_.size()) return nullptr;
    return g;
  }

 private:
  bool AtEnd() const { return i_ >= p_.size(); }
  char Peek() const { return p_[i_]; }

  std::unique_ptr<ReNode> ParseAlts() {
    auto g = std::make_unique<ReNode>();
    g->kind = ReNode::kGroup;
    while (true) {
      Seq seq;
      if (!ParseSeq(&seq)) return nullptr;
      g->alts.push_back(std::move(seq));
      if (!AtEnd() && Peek() == '|') {
        ++i_;
        continue;
      }
      return g;
    }
  }

  bool ParseSeq(Seq* seq) {
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      auto atom = ParseAtom();
      if (!atom) return false;
      Piece piece;
      piece.atom = std::move(atom);
      if (!ParseQuantifier(&piece)) return false;
      if ((piece.atom->kind == ReNode::kBegin || piece.atom->kind == ReNode::kEnd) &&
          !(piece.min == 1 && piece.max == 1))
        return false;  // a quantified anchor
      seq->push_back(std::move(piece));
    }
    return true;
  }

  bool ParseInt(int* out) {
    size_t start = i_;
    int v = 0;
    while (!AtEnd() && Peek() >= '0' && Peek() <= '9') {
      v = v * 10 + (Peek() - '0');
      if (v > kMaxRepeat) return false;
      ++i_;
    }
    *out = v;
    return i_ > start;
  }

  bool ParseQuantifier(Piece* piece) {
    if (AtEnd()) return true;
    char c = Peek();
    if (c == '?') {
      piece->min = 0, piece->max = 1;
    } else if (c == '*') {
      piece->min = 0, piece->max = -1;
    } else if (c == '+') {
      piece->min = 1, piece->max = -1;
    } else if (c == '{') {
      ++i_;
      int lo = 0, hi = 0;
      if (!ParseInt(&lo)) return false;
      if (AtEnd()) return false;
      if (Peek() == '}') {
        hi = lo;
      } else if (Peek() == ',') {
        ++i_;
        if (AtEnd()) return false;
        if (Peek() == '}') {
          hi = -1;
        } else if (!ParseInt(&hi) || hi < lo) {
          return false;
        }
      } else {
        return false;
      }
      if (AtEnd() || Peek() != '}') return false;
      piece->min = lo, piece->max = hi;
    } else {
      return true;
    }
    ++i_;
    // Lazy or possessive forms, or a second quantifier: outside the subset.
    if (!AtEnd() && (Peek() == '?' || Peek() == '*' || Peek() == '+' || Peek() == '{')) return false;
    return true;
  }

  std::unique_ptr<ReNode> Class(std::bitset<256> b) {
    auto n = std::make_unique<ReNode>();
    n->kind = ReNode::kClass;
    n->cls = b;
    return n;
  }

  std::unique_ptr<ReNode> ParseAtom() {
    char c = Peek();
    ++i_;
    switch (c) {
      case '^': {
        auto n = std::make_unique<ReNode>();
        n->kind = ReNode::kBegin;
        return n;
      }
      case '$': {
        auto n = std::make_unique<ReNode>();
        n->kind = ReNode::kEnd;
        return n;
      }
      case '(': {
        if (!AtEnd() && Peek() == '?') return nullptr;  // (?:, lookarounds
        auto g = ParseAlts();
        if (!g || AtEnd() || Peek() != ')') return nullptr;
        ++i_;
        return g;
      }
      case '[':
        return ParseBracket();
      case '\\': {
        if (AtEnd()) return nullptr;
        char e = Peek();
        ++i_;
        if (e == 'd') return Class(Digits());
        if (!IsAsciiPunct(e)) return nullptr;  // \w \s \b \1 \u…: outside the subset
        std::bitset<256> b;
        b.set(static_cast<unsigned char>(e));
        return Class(b);
      }
      case '.': case ')': case ']': case '{': case '}': case '*': case '+': case '?': case '|':
        return nullptr;
      default: {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F)
          return nullptr;
        std::bitset<256> b;
        b.set(static_cast<unsigned char>(c));
        return Class(b);
      }
    }
  }

  // After '['.
  std::unique_ptr<ReNode> ParseBracket() {
    std::bitset<256> b;
    bool negate = false;
    if (!AtEnd() && Peek() == '^') {
      negate = true;
      ++i_;
    }
    if (!AtEnd() && Peek() == ']') return nullptr;  // "[]" / "[^]": outside the subset
    bool first = true;
    while (true) {
      if (AtEnd()) return nullptr;
      char c = Peek();
      if (c == ']') {
        ++i_;
        break;
      }
      int lo = -1;
      ++i_;
      if (c == '\\') {
        if (AtEnd()) return nullptr;
        char e = Peek();
        ++i_;
        if (e == 'd') {
          b |= Digits();
          first = false;
          continue;
        }
        if (!IsAsciiPunct(e)) return nullptr;
        lo = static_cast<unsigned char>(e);
      } else if (c == '[') {
        return nullptr;  // [:alpha:] and friends
      } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) {
        return nullptr;
      } else {
        lo = static_cast<unsigned char>(c);
      }
      // A range "a-z" (a '-' first or last is a literal).
      if (!AtEnd() && Peek() == '-' && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        if (c == '-' && first) return nullptr;  // "[--x]": ambiguous, outside the subset
        ++i_;
        char h = Peek();
        ++i_;
        if (h == '\\' || h == '[' || static_cast<unsigned char>(h) < 0x20 ||
            static_cast<unsigned char>(h) >= 0x7F)
          return nullptr;
        int hi = static_cast<unsigned char>(h);
        if (hi < lo) return nullptr;
        for (int x = lo; x <= hi; ++x) b.set(x);
      } else {
        b.set(lo);
      }
      first = false;
    }
    if (negate) b.flip();
    return Class(b);
  }

  std::string_view p_;
  size_t i_ = 0;
};

}  // namespace

class SimplePatternCompiler {
 public:
  explicit SimplePatternCompiler(SimplePattern* out) : out_(out) {}
  bool Emit(const ReNode& n) {
    if (out_->prog_.size() > kMaxProgram) return false;
    switch (n.kind) {
      case ReNode::kClass:
        out_->classes_.push_back(n.cls);
        Push({SimplePattern::Inst::kClass, static_cast<int>(out_->classes_.size() - 1), 0});
        return true;
      case ReNode::kBegin:
        Push({SimplePattern::Inst::kBegin, 0, 0});
        return true;
      case ReNode::kEnd:
        Push({SimplePattern::Inst::kEnd, 0, 0});
        return true;
      case ReNode::kGroup: {
        // split L1, next; L1: alt1; jmp end; next: split L2, ...
        std::vector<size_t> jumps;
        for (size_t a = 0; a < n.alts.size(); ++a) {
          size_t split = 0;
          const bool last = a + 1 == n.alts.size();
          if (!last) split = Push({SimplePattern::Inst::kSplit, 0, 0});
          if (!last) out_->prog_[split].x = static_cast<int>(out_->prog_.size());
          for (const Piece& p : n.alts[a])
            if (!EmitPiece(p)) return false;
          if (!last) {
            jumps.push_back(Push({SimplePattern::Inst::kJmp, 0, 0}));
            out_->prog_[split].y = static_cast<int>(out_->prog_.size());
          }
        }
        for (size_t j : jumps) out_->prog_[j].x = static_cast<int>(out_->prog_.size());
        return true;
      }
    }
    return false;
  }
  bool EmitPiece(const Piece& p) {
    for (int k = 0; k < p.min; ++k)
      if (!Emit(*p.atom)) return false;
    if (p.max < 0) {
      // L: split body, out; body; jmp L
      size_t split = Push({SimplePattern::Inst::kSplit, 0, 0});
      out_->prog_[split].x = static_cast<int>(out_->prog_.size());
      if (!Emit(*p.atom)) return false;
      Push({SimplePattern::Inst::kJmp, static_cast<int>(split), 0});
      out_->prog_[split].y = static_cast<int>(out_->prog_.size());
      return true;
    }
    for (int k = p.min; k < p.max; ++k) {
      size_t split = Push({SimplePattern::Inst::kSplit, 0, 0});
      out_->prog_[split].x = static_cast<int>(out_->prog_.size());
      if (!Emit(*p.atom)) return false;
      out_->prog_[split].y = static_cast<int>(out_->prog_.size());
    }
    return true;
  }
  size_t Push(SimplePattern::Inst i) {
    out_->prog_.push_back(i);
    return out_->prog_.size() - 1;
  }

 private:
  SimplePattern* out_;
};

std::unique_ptr<const SimplePattern> SimplePattern::Compile(std::string_view pattern) {
  Parser parser(pattern);
  auto tree = parser.ParseAll();
  if (!tree) return nullptr;
  auto out = std::unique_ptr<SimplePattern>(new SimplePattern());
  SimplePatternCompiler c(out.get());
  if (!c.Emit(*tree)) return nullptr;
  c.Push({Inst::kMatch, 0, 0});
  if (out->prog_.size() > kMaxProgram) return nullptr;
  return out;
}

bool SimplePattern::Search(std::string_view s) const {
  // Thompson simulation: the set of program counters alive before each byte; a new thread
  // starts at every position (search, not match). Every pc is in a list at most once per
  // position (the generation marks), and each closure step pushes at most two, so the lists
  // need n entries and the stack 2n + 1. The schemas' programs fit the buffers on the stack
  // (no allocation per checked string); larger ones (up to kMaxProgram) use the heap.
  const size_t n = prog_.size();
  constexpr size_t kSmall = 256;
  int small_ints[4 * kSmall + 1];
  uint32_t small_mark[kSmall];
  std::vector<int> big_ints;
  std::vector<uint32_t> big_mark;
  int* ints = small_ints;
  uint32_t* mark = small_mark;
  if (n > kSmall) {
    big_ints.resize(4 * n + 1);
    big_mark.resize(n);
    ints = big_ints.data();
    mark = big_mark.data();
  }
  std::fill(mark, mark + n, 0u);
  int* cur = ints;
  int* next = ints + n;
  int* stack = ints + 2 * n;
  size_t cur_n = 0, next_n = 0;
  uint32_t gen = 1;
  // Adds pc and its epsilon closure at position `pos` to `list`; true when kMatch is reached.
  auto add = [&](int* list, size_t* list_n, int pc0, size_t pos) -> bool {
    size_t top = 0;
    stack[top++] = pc0;
    while (top > 0) {
      const int pc = stack[--top];
      if (mark[pc] == gen) continue;
      mark[pc] = gen;
      const Inst& in = prog_[pc];
      switch (in.op) {
        case Inst::kMatch:
          return true;
        case Inst::kJmp:
          stack[top++] = in.x;
          break;
        case Inst::kSplit:
          stack[top++] = in.y;
          stack[top++] = in.x;
          break;
        case Inst::kBegin:
          if (pos == 0) stack[top++] = pc + 1;
          break;
        case Inst::kEnd:
          if (pos == s.size()) stack[top++] = pc + 1;
          break;
        case Inst::kClass:
          list[(*list_n)++] = pc;
          break;
      }
    }
    return false;
  };
  for (size_t pos = 0;; ++pos) {
    // Threads of this position: those carried over (already in cur) plus a fresh start.
    if (add(cur, &cur_n, 0, pos)) return true;
    if (pos == s.size()) return false;
    ++gen;  // a new closure generation for position pos + 1
    next_n = 0;
    const unsigned char c = static_cast<unsigned char>(s[pos]);
    for (size_t k = 0; k < cur_n; ++k) {
      const Inst& in = prog_[cur[k]];
      if (classes_[in.x].test(c) && add(next, &next_n, cur[k] + 1, pos + 1)) return true;
    }
    std::swap(cur, next);
    cur_n = next_n;
  }
}

// ---------------------------------------------------------------------------------------------
// FastSchema

struct FastSchema::Node {
  bool opaque = false;  // a keyword outside the subset: kUnknown
  // Bits: 1 null, 2 boolean, 4 integer, 8 number, 16 string, 32 array, 64 object. 0: any.
  unsigned types = 0;
  std::optional<uint64_t> max_length, min_length, max_items, min_items;
  std::unique_ptr<const SimplePattern> pattern;
  bool has_enum = false;
  std::set<std::string, std::less<>> enum_strings;
  std::set<int64_t> enum_integers;
  std::optional<double> minimum, maximum;
  std::map<std::string, std::unique_ptr<Node>, std::less<>> properties;
  std::vector<std::string> required;
  bool closed = false;  // additionalProperties: false
  std::unique_ptr<Node> items;
  std::vector<std::unique_ptr<Node>> any_of, all_of;
  std::unique_ptr<Node> if_, then_, else_;
};

namespace {

using Node = FastSchema::Node;
using Verdict = FastSchema::Verdict;

unsigned TypeBit(const std::string& t) {
  if (t == "null") return 1;
  if (t == "boolean") return 2;
  if (t == "integer") return 4;
  if (t == "number") return 8;
  if (t == "string") return 16;
  if (t == "array") return 32;
  if (t == "object") return 64;
  return 0;
}

std::optional<uint64_t> Count(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

std::unique_ptr<Node> CompileNode(const nlohmann::json& s, int depth) {
  auto n = std::make_unique<Node>();
  if (depth > 32 || !s.is_object()) {
    n->opaque = true;
    return n;
  }
  auto sub = [&](const nlohmann::json& v) { return CompileNode(v, depth + 1); };
  for (auto it = s.begin(); it != s.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    if (k == "$schema" || k == "$id" || k == "$comment" || k == "title" || k == "description" ||
        k == "default" || k == "examples") {
      continue;
    } else if (k == "type") {
      if (v.is_string()) {
        n->types = TypeBit(v.get<std::string>());
        if (!n->types) n->opaque = true;
      } else if (v.is_array() && !v.empty()) {
        for (const auto& t : v) {
          unsigned b = t.is_string() ? TypeBit(t.get<std::string>()) : 0;
          if (!b) n->opaque = true;
          n->types |= b;
        }
      } else {
        n->opaque = true;
      }
    } else if (k == "maxLength" || k == "minLength" || k == "maxItems" || k == "minItems") {
      auto c = Count(v);
      if (!c) {
        n->opaque = true;
        continue;
      }
      (k == "maxLength" ? n->max_length : k == "minLength" ? n->min_length
                          : k == "maxItems"                ? n->max_items
                                                           : n->min_items) = *c;
    } else if (k == "pattern") {
      if (v.is_string()) n->pattern = SimplePattern::Compile(v.get<std::string>());
      if (!n->pattern) n->opaque = true;
    } else if (k == "enum") {
      n->has_enum = true;
      if (!v.is_array() || v.empty()) n->opaque = true;
      for (const auto& e : v) {
        if (e.is_string()) n->enum_strings.insert(e.get<std::string>());
        else if (e.is_number_integer() && (!e.is_number_unsigned() || e.get<uint64_t>() <= INT64_MAX))
          n->enum_integers.insert(e.get<int64_t>());
        else n->opaque = true;
      }
    } else if (k == "minimum" || k == "maximum") {
      if (!v.is_number()) {
        n->opaque = true;
        continue;
      }
      (k == "minimum" ? n->minimum : n->maximum) = v.get<double>();
    } else if (k == "properties") {
      if (!v.is_object()) {
        n->opaque = true;
        continue;
      }
      for (auto p = v.begin(); p != v.end(); ++p) n->properties[p.key()] = sub(p.value());
    } else if (k == "required") {
      if (!v.is_array()) {
        n->opaque = true;
        continue;
      }
      for (const auto& r : v) {
        if (r.is_string()) n->required.push_back(r.get<std::string>());
        else n->opaque = true;
      }
    } else if (k == "additionalProperties") {
      if (v.is_boolean()) n->closed = !v.get<bool>();
      else n->opaque = true;  // a schema for the other properties
    } else if (k == "items") {
      if (v.is_object()) n->items = sub(v);
      else n->opaque = true;  // tuple form
    } else if (k == "anyOf" || k == "allOf") {
      if (!v.is_array() || v.empty()) {
        n->opaque = true;
        continue;
      }
      for (const auto& a : v) (k == "anyOf" ? n->any_of : n->all_of).push_back(sub(a));
    } else if (k == "if") {
      n->if_ = sub(v);
    } else if (k == "then") {
      n->then_ = sub(v);
    } else if (k == "else") {
      n->else_ = sub(v);
    } else {
      n->opaque = true;  // format, patternProperties, $ref, not, oneOf, const, ...
    }
  }
  return n;
}

// valijson's u8_strlen for valid UTF-8 without NUL (the lead bytes); nullopt otherwise (the
// checker then cannot say what valijson would count).
std::optional<uint64_t> Utf8Length(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  uint64_t count = 0;
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c == 0) return std::nullopt;
    if (c < 0x80) {
      ++i, ++count;
      continue;
    }
    const size_t len = Utf8SequenceLength(p + i, n - i);
    if (len == 0) return std::nullopt;
    i += len, ++count;
  }
  return count;
}

// Combines: any kInvalid wins, then kUnknown.
void Meet(Verdict* acc, Verdict v) {
  if (*acc == Verdict::kInvalid || v == Verdict::kValid) return;
  *acc = v;
}

// The document's reads CheckNode needs, for nlohmann's documents and arena views alike.
unsigned TypeBits(const nlohmann::json& d) {
  switch (d.type()) {
    case nlohmann::json::value_t::null: return 1;
    case nlohmann::json::value_t::boolean: return 2;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return 4 | 8;
    case nlohmann::json::value_t::number_float: return 8;
    case nlohmann::json::value_t::string: return 16;
    case nlohmann::json::value_t::array: return 32;
    case nlohmann::json::value_t::object: return 64;
    default: return 0;  // binary, discarded
  }
}
unsigned TypeBits(const ArenaJson& d) {
  switch (d.type()) {
    case ArenaJson::Type::kNull: return 1;
    case ArenaJson::Type::kBoolean: return 2;
    case ArenaJson::Type::kInteger:
    case ArenaJson::Type::kUnsigned: return 4 | 8;
    case ArenaJson::Type::kFloat: return 8;
    case ArenaJson::Type::kString: return 16;
    case ArenaJson::Type::kArray: return 32;
    case ArenaJson::Type::kObject: return 64;
  }
  return 0;
}
std::string_view Text(const nlohmann::json& d) { return d.get_ref<const std::string&>(); }
std::string_view Text(const ArenaJson& d) { return d.string(); }
// Utf8Length of the string's text.
std::optional<uint64_t> TextLength(const nlohmann::json& d) { return Utf8Length(Text(d)); }
std::optional<uint64_t> TextLength(const ArenaJson& d) {
  if (!d.verbatim()) return Utf8Length(d.string());
  // Valid UTF-8 without NUL (ArenaJson::verbatim()): one character per byte that does not
  // continue a sequence.
  uint64_t count = 0;
  for (const char ch : d.string()) count += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return count;
}
// An integer enum entries can be compared with (int64 range), else nullopt.
std::optional<int64_t> EnumInteger(const nlohmann::json& d) {
  if (d.is_number_integer() && (!d.is_number_unsigned() || d.get<uint64_t>() <= INT64_MAX)) return d.get<int64_t>();
  return std::nullopt;
}
std::optional<int64_t> EnumInteger(const ArenaJson& d) {
  if (d.type() == ArenaJson::Type::kInteger) return d.integer();
  if (d.type() == ArenaJson::Type::kUnsigned && d.unsigned_integer() <= INT64_MAX)
    return static_cast<int64_t>(d.unsigned_integer());
  return std::nullopt;
}
double Number(const nlohmann::json& d) { return d.get<double>(); }
double Number(const ArenaJson& d) { return d.number(); }
bool Has(const nlohmann::json& d, const std::string& key) { return d.find(key) != d.end(); }
bool Has(const ArenaJson& d, const std::string& key) { return d.Find(key) != nullptr; }
const nlohmann::json& Elements(const nlohmann::json& d) { return d; }
std::span<const ArenaJson> Elements(const ArenaJson& d) { return d.elements(); }
// f(key, value) for each member, in key order.
template <typename F>
bool EachMember(const nlohmann::json& d, F&& f) {
  for (auto it = d.begin(); it != d.end(); ++it)
    if (!f(std::string_view(it.key()), it.value())) return false;
  return true;
}
template <typename F>
bool EachMember(const ArenaJson& d, F&& f) {
  for (const ArenaJson::Member& m : d.members())
    if (!f(m.key, m.value)) return false;
  return true;
}

template <typename Json>
Verdict CheckNode(const Node& n, const Json& d) {
  if (n.opaque) return Verdict::kUnknown;
  if (n.types) {
    const unsigned have = TypeBits(d);
    if (!have) return Verdict::kUnknown;
    if (!(n.types & have)) return Verdict::kInvalid;
  }
  Verdict out = Verdict::kValid;
  if (n.has_enum) {
    if (d.is_string()) {
      if (!n.enum_strings.count(Text(d))) return Verdict::kInvalid;
    } else if (auto i = EnumInteger(d)) {
      // A match is certain; a mismatch is left to valijson's number comparison.
      if (!n.enum_integers.count(*i)) return Verdict::kUnknown;
    } else {
      return Verdict::kUnknown;
    }
  }
  if (d.is_string()) {
    const std::string_view s = Text(d);
    if (n.max_length || n.min_length) {
      auto len = TextLength(d);
      if (!len) return Verdict::kUnknown;
      if (n.max_length && *len > *n.max_length) return Verdict::kInvalid;
      if (n.min_length && *len < *n.min_length) return Verdict::kInvalid;
    }
    if (n.pattern && !n.pattern->Search(s)) return Verdict::kInvalid;
  } else if (d.is_number()) {
    const double x = Number(d);
    if (n.minimum && x < *n.minimum) return Verdict::kInvalid;
    if (n.maximum && x > *n.maximum) return Verdict::kInvalid;
  } else if (d.is_array()) {
    if (n.max_items && d.size() > *n.max_items) return Verdict::kInvalid;
    if (n.min_items && d.size() < *n.min_items) return Verdict::kInvalid;
    if (n.items) {
      for (const auto& e : Elements(d)) {
        Meet(&out, CheckNode(*n.items, e));
        if (out == Verdict::kInvalid) return out;
      }
    }
  } else if (d.is_object()) {
    for (const auto& r : n.required)
      if (!Has(d, r)) return Verdict::kInvalid;
    // Members and properties both in key order (byte order: nlohmann's std::map, the arena's
    // sorted members): one merge walk instead of a search per member.
    auto p = n.properties.begin();
    const auto properties_end = n.properties.end();
    const bool done = EachMember(d, [&](std::string_view key, const auto& value) {
      while (p != properties_end && std::string_view(p->first) < key) ++p;
      if (p == properties_end || std::string_view(p->first) != key) {
        if (n.closed) {
          out = Verdict::kInvalid;
          return false;
        }
        return true;
      }
      Meet(&out, CheckNode(*p->second, value));
      return out != Verdict::kInvalid;
    });
    if (!done) return out;
  }
  for (const auto& a : n.all_of) {
    Meet(&out, CheckNode(*a, d));
    if (out == Verdict::kInvalid) return out;
  }
  if (!n.any_of.empty()) {
    Verdict any = Verdict::kInvalid;
    for (const auto& a : n.any_of) {
      Verdict v = CheckNode(*a, d);
      if (v == Verdict::kValid) {
        any = v;
        break;
      }
      if (v == Verdict::kUnknown) any = v;
    }
    Meet(&out, any);
    if (out == Verdict::kInvalid) return out;
  }
  if (n.if_) {
    Verdict cond = CheckNode(*n.if_, d);
    if (cond == Verdict::kUnknown) {
      Meet(&out, Verdict::kUnknown);
    } else {
      const Node* branch = cond == Verdict::kValid ? n.then_.get() : n.else_.get();
      if (branch) Meet(&out, CheckNode(*branch, d));
    }
  }
  return out;
}

}  // namespace

FastSchema::~FastSchema() = default;

std::unique_ptr<const FastSchema> FastSchema::Compile(const nlohmann::json& schema) {
  auto out = std::unique_ptr<FastSchema>(new FastSchema());
  out->root_ = CompileNode(schema, 0);
  return out;
}

FastSchema::Verdict FastSchema::Check(const nlohmann::json& doc) const {
  return CheckNode(*root_, doc);
}

FastSchema::Verdict FastSchema::CheckView(const ArenaJson& doc) const {
  return CheckNode(*root_, doc);
}

}  // namespace danvan
