#include "core/arena_json.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <new>

#include "core/json_write.h"

namespace danvan {

void* JsonArena::Allocate(size_t bytes, size_t align) {
  size_t pad = (align - reinterpret_cast<uintptr_t>(next_) % align) % align;
  if (bytes + pad > left_) {
    if (bytes > kBlock / 4) {
      // Its own block, kept behind the current one (which stays in use).
      Block big{std::unique_ptr<char[]>(new char[bytes == 0 ? 1 : bytes]), bytes};
      char* p = big.bytes.get();
      blocks_.insert(blocks_.empty() ? blocks_.end() : blocks_.end() - 1, std::move(big));
      return p;
    }
    blocks_.push_back({std::unique_ptr<char[]>(new char[kBlock]), kBlock});
    next_ = blocks_.back().bytes.get();
    left_ = kBlock;
    pad = 0;  // new[] aligns for any fundamental type
  }
  char* p = next_ + pad;
  next_ = p + bytes;
  left_ -= bytes + pad;
  return p;
}

std::string_view JsonArena::Copy(std::string_view s) {
  if (s.empty()) return {};
  char* p = static_cast<char*>(Allocate(s.size(), 1));
  std::copy(s.begin(), s.end(), p);
  return {p, s.size()};
}

void JsonArena::Reset() {
  // One standard block is kept for the next documents.
  auto keep = std::find_if(blocks_.begin(), blocks_.end(), [](const Block& b) { return b.size == kBlock; });
  if (keep == blocks_.end()) {
    blocks_.clear();
    next_ = nullptr;
    left_ = 0;
    return;
  }
  Block kept = std::move(*keep);
  blocks_.clear();
  blocks_.push_back(std::move(kept));
  next_ = blocks_.back().bytes.get();
  left_ = kBlock;
}

size_t JsonArena::reserved_bytes() const {
  size_t n = 0;
  for (const Block& b : blocks_) n += b.size;
  return n;
}

const ArenaJson* ArenaJson::Find(std::string_view key) const {
  auto m = members();
  auto it = std::lower_bound(m.begin(), m.end(), key,
                             [](const Member& a, std::string_view k) { return a.key < k; });
  return it != m.end() && it->key == key ? &it->value : nullptr;
}

// nlohmann's SAX events into arena nodes. Values wait on the arena's scratch stack until their
// container ends; the container's elements (or sorted members) are then copied into the arena.
class ArenaJsonBuilder {
 public:
  using json = nlohmann::json;
  ArenaJsonBuilder(JsonArena* arena, int max_depth)
      : a_(arena), values_(arena->scratch_values_), keys_(arena->scratch_keys_),
        frames_(arena->scratch_frames_), max_depth_(max_depth) {
    values_.clear();
    keys_.clear();
    frames_.clear();
  }

  bool null() { return Push(ArenaJson()); }
  bool boolean(bool b) { return Push(Boolean(b)); }
  bool number_integer(json::number_integer_t i) { return Push(Integer(i)); }
  bool number_unsigned(json::number_unsigned_t u) { return Push(Unsigned(u)); }
  bool number_float(json::number_float_t d, const json::string_t&) { return Push(Float(d)); }
  bool string(json::string_t& s) { return Push(String(a_, s)); }
  bool binary(json::binary_t&) { return false; }  // not produced by JSON text
  bool key(json::string_t& k) {
    keys_.push_back(a_->Copy(k));
    return true;
  }
  bool start_object(std::size_t) { return Open(); }
  bool start_array(std::size_t) { return Open(); }
  bool end_object() {
    const Frame f = frames_.back();
    frames_.pop_back();
    --depth_;
    return Push(CloseObject(a_, &values_, &keys_, f.first, f.second));
  }
  bool end_array() {
    const Frame f = frames_.back();
    frames_.pop_back();
    --depth_;
    return Push(CloseArray(a_, &values_, f.first));
  }
  // The container whose members (elements) are values[first...] (keys[first_key...]), copied
  // into the arena and taken off the stacks.
  static ArenaJson CloseObject(JsonArena* a, std::vector<ArenaJson>* values, std::vector<std::string_view>* keys,
                               size_t first, size_t first_key) {
    const size_t n = values->size() - first;
    auto* m = a->AllocateArray<ArenaJson::Member>(n);
    for (size_t i = 0; i < n; ++i) new (&m[i]) ArenaJson::Member{(*keys)[first_key + i], (*values)[first + i]};
    const size_t kept = SortMembers(m, n);
    values->resize(first);
    keys->resize(first_key);
    return Container(ArenaJson::Type::kObject, kept, m);
  }
  static ArenaJson CloseArray(JsonArena* a, std::vector<ArenaJson>* values, size_t first) {
    const size_t n = values->size() - first;
    auto* e = a->AllocateArray<ArenaJson>(n);
    for (size_t i = 0; i < n; ++i) new (&e[i]) ArenaJson((*values)[first + i]);
    values->resize(first);
    return Container(ArenaJson::Type::kArray, n, e);
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

  // The document, once the parser accepted the text.
  const ArenaJson* Root() {
    auto* root = a_->AllocateArray<ArenaJson>(1);
    new (root) ArenaJson(values_.empty() ? ArenaJson() : values_.back());
    values_.clear();
    return root;
  }

  static ArenaJson Make(ArenaJson::Type type, ArenaJson::U u, size_t size = 0) {
    ArenaJson v;
    v.type_ = type;
    v.u_ = u;
    v.size_ = size;
    return v;
  }
  static ArenaJson Chars(const char* chars, size_t n) { return Make(ArenaJson::Type::kString, {.chars = chars}, n); }
  // A string whose literal had no escape (ArenaJson::verbatim()).
  static ArenaJson VerbatimChars(const char* chars, size_t n) {
    ArenaJson v = Chars(chars, n);
    v.verbatim_ = true;
    return v;
  }
  static ArenaJson Integer(int64_t i) { return Make(ArenaJson::Type::kInteger, {.i = i}); }
  static ArenaJson Unsigned(uint64_t u) { return Make(ArenaJson::Type::kUnsigned, {.u = u}); }
  static ArenaJson Float(double d) { return Make(ArenaJson::Type::kFloat, {.d = d}); }
  static ArenaJson Boolean(bool b) { return Make(ArenaJson::Type::kBoolean, {.b = b}); }
  static const ArenaJson* Store(JsonArena* a, const ArenaJson& v) {
    auto* root = a->AllocateArray<ArenaJson>(1);
    new (root) ArenaJson(v);
    return root;
  }
  static std::vector<ArenaJson>& Values(JsonArena* a) { return a->scratch_values_; }
  static std::vector<std::string_view>& Keys(JsonArena* a) { return a->scratch_keys_; }
  static std::vector<std::pair<size_t, size_t>>& Frames(JsonArena* a) { return a->scratch_frames_; }

  static ArenaJson String(JsonArena* arena, std::string_view s) {
    const std::string_view c = arena->Copy(s);
    return Chars(c.data(), c.size());
  }
  static ArenaJson Scalar(const nlohmann::json& j) {
    switch (j.type()) {
      case nlohmann::json::value_t::boolean: return Boolean(j.get<bool>());
      case nlohmann::json::value_t::number_integer: return Integer(j.get<int64_t>());
      case nlohmann::json::value_t::number_unsigned: return Unsigned(j.get<uint64_t>());
      case nlohmann::json::value_t::number_float: return Float(j.get<double>());
      default: return ArenaJson();  // null (binary and discarded are not read from JSON text)
    }
  }
  static ArenaJson Container(ArenaJson::Type type, size_t n, const void* items) {
    if (type == ArenaJson::Type::kArray) return Make(type, {.elements = static_cast<const ArenaJson*>(items)}, n);
    return Make(type, {.members = static_cast<const ArenaJson::Member*>(items)}, n);
  }


 private:
  using Frame = std::pair<size_t, size_t>;  // first value, first key

  bool Push(const ArenaJson& v) {
    values_.push_back(v);
    return true;
  }
  bool Open() {
    // As ParseJsonBounded: `depth_` containers are open around the one starting.
    if (depth_ >= max_depth_) return false;
    ++depth_;
    frames_.push_back({values_.size(), keys_.size()});
    return true;
  }
  // nlohmann's order (std::map: keys in byte order), the last value of a repeated key; returns
  // how many members are left. Insertion sort (stable) for the small objects of events, which
  // hosts mostly write sorted already.
  static size_t SortMembers(ArenaJson::Member* m, size_t n) {
    auto less = [](const ArenaJson::Member& a, const ArenaJson::Member& b) { return a.key < b.key; };
    if (!std::is_sorted(m, m + n, less)) {
      if (n <= 64) {
        for (size_t i = 1; i < n; ++i) {
          ArenaJson::Member x = m[i];
          size_t j = i;
          while (j > 0 && x.key < m[j - 1].key) {
            m[j] = m[j - 1];
            --j;
          }
          m[j] = x;
        }
      } else {
        std::stable_sort(m, m + n, less);
      }
    }
    size_t out = 0;
    for (size_t i = 0; i < n; ++i) {
      if (out > 0 && m[out - 1].key == m[i].key) m[out - 1].value = m[i].value;
      else m[out++] = m[i];
    }
    return out;
  }

  JsonArena* a_;
  std::vector<ArenaJson>& values_;
  std::vector<std::string_view>& keys_;
  std::vector<Frame>& frames_;
  int max_depth_;
  int depth_ = 0;
};


namespace {

// A strict reader of RFC 8259 JSON for the common case of an event, straight into the arena:
// nlohmann's lexer costs most of a parse (it counts lines and keeps every token's bytes for
// its error messages, byte by byte). It vouches only for what nlohmann reads the same way and
// gives up (nullptr) on anything else: a syntax error, a number it would not convert exactly
// as nlohmann does (an integer beyond 64 bits, a float from_chars does not take), a byte-order
// mark, a container past max_depth. ParseArenaJsonBounded then asks nlohmann's parser, whose
// verdict, document and error stand. Iterative; reads only [p, end).
class FastReader {
 public:
  static constexpr size_t kArray = SIZE_MAX;
  // utf8: the caller vouches that `text` is valid UTF-8 (ParseArenaJsonBounded).
  FastReader(std::string_view text, int max_depth, JsonArena* arena, bool utf8 = false)
      : p_(text.data()), end_(text.data() + text.size()), a_(arena), max_depth_(max_depth), utf8_(utf8),
        values_(ArenaJsonBuilder::Values(arena)), keys_(ArenaJsonBuilder::Keys(arena)),
        frames_(ArenaJsonBuilder::Frames(arena)) {
    values_.clear();
    keys_.clear();
    frames_.clear();
  }

  const ArenaJson* Read() {
    // frames_: (first value, first key) of each open container; kArray as an array's key.
    while (true) {
      // A value starts here.
      SkipSpace();
      if (p_ == end_) return nullptr;
      const char c = *p_;
      if (c == '{' || c == '[') {
        if (static_cast<int>(frames_.size()) >= max_depth_) return nullptr;
        ++p_;
        frames_.push_back({values_.size(), c == '{' ? keys_.size() : kArray});
        SkipSpace();
        if (p_ != end_ && *p_ == (c == '{' ? '}' : ']')) {
          ++p_;
          Close();
        } else if (c == '{') {
          if (!Key()) return nullptr;
          continue;
        } else {
          continue;
        }
      } else if (c == '"') {
        std::string_view sv;
        bool verbatim = false;
        if (!String(&sv, &verbatim)) return nullptr;
        values_.push_back(verbatim ? ArenaJsonBuilder::VerbatimChars(sv.data(), sv.size())
                                   : ArenaJsonBuilder::Chars(sv.data(), sv.size()));
      } else if (c == 't' || c == 'f' || c == 'n') {
        if (!Literal()) return nullptr;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (!Number()) return nullptr;
      } else {
        return nullptr;
      }
      // After a value: the next member or element, or the end of containers.
      while (true) {
        SkipSpace();
        if (frames_.empty()) {
          if (p_ != end_ || values_.size() != 1) return nullptr;
          return ArenaJsonBuilder::Store(a_, values_.back());
        }
        if (p_ == end_) return nullptr;
        const bool object = frames_.back().second != kArray;
        if (*p_ == ',') {
          ++p_;
          if (object && !Key()) return nullptr;
          break;  // the next value
        }
        if (*p_ != (object ? '}' : ']')) return nullptr;
        ++p_;
        Close();
      }
    }
  }

 private:
  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  void Close() {
    const auto [first, first_key] = frames_.back();
    frames_.pop_back();
    values_.push_back(first_key != kArray ? ArenaJsonBuilder::CloseObject(a_, &values_, &keys_, first, first_key)
                             : ArenaJsonBuilder::CloseArray(a_, &values_, first));
  }
  // A member's key and its colon.
  bool Key() {
    SkipSpace();
    if (p_ == end_ || *p_ != '"') return false;
    std::string_view k;
    if (!String(&k)) return false;
    keys_.push_back(k);
    SkipSpace();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    return true;
  }
  bool Literal() {
    auto word = [&](std::string_view w) {
      if (static_cast<size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w) return false;
      p_ += w.size();
      return true;
    };
    if (word("true")) values_.push_back(ArenaJsonBuilder::Boolean(true));
    else if (word("false")) values_.push_back(ArenaJsonBuilder::Boolean(false));
    else if (word("null")) values_.push_back(ArenaJson());
    else return false;
    return true;
  }
  static bool Digit(char c) { return c >= '0' && c <= '9'; }
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, as nlohmann types it: an integer that
  // fits 64 bits as unsigned (not negative) or signed, anything else a double (here only when
  // from_chars converts it exactly: it rounds as strtod does, without the locale).
  bool Number() {
    const char* start = p_;
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || !Digit(*p_)) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && Digit(*p_)) ++p_;
    }
    bool integer = true;
    if (p_ != end_ && *p_ == '.') {
      integer = false;
      ++p_;
      if (p_ == end_ || !Digit(*p_)) return false;
      while (p_ != end_ && Digit(*p_)) ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !Digit(*p_)) return false;
      while (p_ != end_ && Digit(*p_)) ++p_;
    }
    if (integer) {
      uint64_t magnitude = 0;
      const char* digits = start + (negative ? 1 : 0);
      auto r = std::from_chars(digits, p_, magnitude);
      if (r.ec != std::errc() || r.ptr != p_) return false;  // beyond 64 bits: nlohmann's float
      if (!negative) {
        values_.push_back(ArenaJsonBuilder::Unsigned(magnitude));
        return true;
      }
      if (magnitude > static_cast<uint64_t>(INT64_MAX) + 1) return false;
      values_.push_back(ArenaJsonBuilder::Integer(
          magnitude == static_cast<uint64_t>(INT64_MAX) + 1 ? INT64_MIN : -static_cast<int64_t>(magnitude)));
      return true;
    }
    double d = 0;
    auto r = std::from_chars(start, p_, d);
    if (r.ec != std::errc() || r.ptr != p_ || !std::isfinite(d)) return false;
    values_.push_back(ArenaJsonBuilder::Float(d));
    return true;
  }
  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool Hex4(unsigned* out) {
    if (end_ - p_ < 4) return false;
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = Hex(p_[i]);
      if (h < 0) return false;
      v = v * 16 + static_cast<unsigned>(h);
    }
    p_ += 4;
    *out = v;
    return true;
  }
  // A string literal at p_ (its opening quote), decoded into the arena: valid UTF-8 as
  // nlohmann's decoder takes it, no raw control byte, the escapes of RFC 8259 with surrogate
  // escapes only in pairs.
  // *verbatim: the literal had no escape (its bytes are the text: valid UTF-8, no byte below
  // 0x20, no '"' or '\\').
  bool String(std::string_view* out, bool* verbatim = nullptr) {
    ++p_;
    const char* begin = p_;
    bool escaped = false;
    while (true) {
      if (utf8_) {
        // Eight bytes at a time while none ends the literal, starts an escape or is a control
        // (the exact any-byte-equal / any-byte-below tests); multi-byte sequences need no check
        // in a text known to be valid UTF-8.
        constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
        while (end_ - p_ >= 8) {
          uint64_t w;
          std::memcpy(&w, p_, 8);
          const uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
          const uint64_t found =
              (((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash)) & kHigh;
          if (found) {
            // The lowest flagged byte is a real one (a borrow only flags bytes above a real
            // one): step to it, so the bytes before it are not read again one by one.
            if constexpr (std::endian::native == std::endian::little) p_ += std::countr_zero(found) / 8;
            break;
          }
          p_ += 8;
        }
      }
      if (p_ == end_) return false;
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20) return false;
      if (c == '\\') {
        escaped = true;
        if (end_ - p_ < 2) return false;
        p_ += 2;  // the escape is checked when decoding
        continue;
      }
      if (c < 0x80 || utf8_) {
        ++p_;
        continue;
      }
      const size_t len = Utf8SequenceLength(reinterpret_cast<const unsigned char*>(p_), static_cast<size_t>(end_ - p_));
      if (len == 0) return false;
      p_ += len;
    }
    const char* close = p_;
    ++p_;  // past the closing quote
    if (!escaped) {
      *out = a_->Copy(std::string_view(begin, static_cast<size_t>(close - begin)));
      if (verbatim) *verbatim = true;
      return true;
    }
    // Decoded text is never longer than its literal.
    char* dst = a_->AllocateArray<char>(static_cast<size_t>(close - begin));
    char* w = dst;
    const char* after = p_;
    p_ = begin;
    while (p_ < close) {
      if (*p_ != '\\') {
        *w++ = *p_++;
        continue;
      }
      ++p_;
      const char e = *p_++;
      switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
          unsigned cp = 0;
          if (close - p_ < 4 || !Hex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo = 0;
            if (close - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!Hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          if (cp < 0x80) {
            *w++ = static_cast<char>(cp);
          } else if (cp < 0x800) {
            *w++ = static_cast<char>(0xC0 | (cp >> 6));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
          } else if (cp < 0x10000) {
            *w++ = static_cast<char>(0xE0 | (cp >> 12));
            *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            *w++ = static_cast<char>(0xF0 | (cp >> 18));
            *w++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default:
          return false;
      }
    }
    p_ = after;
    *out = std::string_view(dst, static_cast<size_t>(w - dst));
    return true;
  }

  const char* p_;
  const char* end_;
  JsonArena* a_;
  int max_depth_;
  bool utf8_;
  std::vector<ArenaJson>& values_;
  std::vector<std::string_view>& keys_;
  std::vector<std::pair<size_t, size_t>>& frames_;
};

}  // namespace

Result<const ArenaJson*> ParseArenaJsonBounded(std::string_view text, int max_depth, JsonArena* arena,
                                               JsonScanError* error, bool valid_utf8) {
  // The common case without nlohmann's lexer (FastReader); whatever it does not vouch for is
  // read by nlohmann's parser.
  if (const ArenaJson* doc = FastReader(text, max_depth, arena, valid_utf8).Read()) return doc;
  bool refused = false;
  ArenaJsonBuilder sax(arena, max_depth);
  try {
    refused = !nlohmann::json::sax_parse(text.begin(), text.end(), &sax, nlohmann::json::input_format_t::json,
                                         /*strict=*/true, /*ignore_comments=*/false);
  } catch (const std::exception&) {
    refused = true;  // as ParseJsonBounded
  }
  if (!refused) return sax.Root();
  return RefusedJson(text, max_depth, error);
}

nlohmann::json ToNlohmann(const ArenaJson& doc) {
  switch (doc.type()) {
    case ArenaJson::Type::kNull:
      return nullptr;
    case ArenaJson::Type::kBoolean:
      return doc.boolean();
    case ArenaJson::Type::kInteger:
      return doc.integer();
    case ArenaJson::Type::kUnsigned:
      return doc.unsigned_integer();
    case ArenaJson::Type::kFloat:
      return doc.number_float();
    case ArenaJson::Type::kString:
      return std::string(doc.string());
    case ArenaJson::Type::kArray: {
      nlohmann::json out = nlohmann::json::array();
      auto& a = out.get_ref<nlohmann::json::array_t&>();
      a.reserve(doc.size());
      for (const ArenaJson& e : doc.elements()) a.push_back(ToNlohmann(e));
      return out;
    }
    case ArenaJson::Type::kObject: {
      nlohmann::json out = nlohmann::json::object();
      auto& o = out.get_ref<nlohmann::json::object_t&>();
      // Sorted already: each member goes at the end of the map.
      for (const ArenaJson::Member& m : doc.members()) o.emplace_hint(o.end(), std::string(m.key), ToNlohmann(m.value));
      return out;
    }
  }
  return nullptr;
}

namespace {

ArenaJson CopyNlohmann(const nlohmann::json& j, JsonArena* arena) {
  if (j.is_string()) return ArenaJsonBuilder::String(arena, j.get_ref<const std::string&>());
  if (j.is_array()) {
    auto* e = arena->AllocateArray<ArenaJson>(j.size());
    size_t i = 0;
    for (const auto& x : j) new (&e[i++]) ArenaJson(CopyNlohmann(x, arena));
    return ArenaJsonBuilder::Container(ArenaJson::Type::kArray, j.size(), e);
  }
  if (j.is_object()) {
    auto* m = arena->AllocateArray<ArenaJson::Member>(j.size());
    size_t i = 0;
    for (auto it = j.begin(); it != j.end(); ++it)
      new (&m[i++]) ArenaJson::Member{arena->Copy(it.key()), CopyNlohmann(it.value(), arena)};
    return ArenaJsonBuilder::Container(ArenaJson::Type::kObject, j.size(), m);
  }
  return ArenaJsonBuilder::Scalar(j);
}

}  // namespace

const ArenaJson* FromNlohmann(const nlohmann::json& doc, JsonArena* arena) {
  auto* root = arena->AllocateArray<ArenaJson>(1);
  new (root) ArenaJson(CopyNlohmann(doc, arena));
  return root;
}

void AppendArenaJson(const ArenaJson& doc, std::string* out, nlohmann::json::error_handler_t handler) {
  switch (doc.type()) {
    case ArenaJson::Type::kNull:
      out->append("null");
      return;
    case ArenaJson::Type::kBoolean:
      out->append(doc.boolean() ? "true" : "false");
      return;
    case ArenaJson::Type::kInteger:
      AppendJsonInt(doc.integer(), out);
      return;
    case ArenaJson::Type::kUnsigned: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, doc.unsigned_integer());
      out->append(buf, r.ptr);
      return;
    }
    case ArenaJson::Type::kFloat:
      AppendJsonDouble(doc.number_float(), out);
      return;
    case ArenaJson::Type::kString:
      if (doc.verbatim()) {
        // Nothing to escape or check (ArenaJson::verbatim()): AppendJsonString's bytes.
        out->push_back('"');
        out->append(doc.string());
        out->push_back('"');
        return;
      }
      AppendJsonString(doc.string(), out, handler);
      return;
    case ArenaJson::Type::kArray: {
      out->push_back('[');
      bool first = true;
      for (const ArenaJson& e : doc.elements()) {
        if (!first) out->push_back(',');
        first = false;
        AppendArenaJson(e, out, handler);
      }
      out->push_back(']');
      return;
    }
    case ArenaJson::Type::kObject: {
      out->push_back('{');
      bool first = true;
      for (const ArenaJson::Member& m : doc.members()) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(m.key, out, handler);
        out->push_back(':');
        AppendArenaJson(m.value, out, handler);
      }
      out->push_back('}');
      return;
    }
  }
}

}  // namespace danvan
