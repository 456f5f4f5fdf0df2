#include "core/arena_json.h"

#include <algorithm>
#include <charconv>
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
  bool boolean(bool b) {
    ArenaJson v;
    v.type_ = ArenaJson::Type::kBoolean;
    v.u_.b = b;
    return Push(v);
  }
  bool number_integer(json::number_integer_t i) {
    ArenaJson v;
    v.type_ = ArenaJson::Type::kInteger;
    v.u_.i = i;
    return Push(v);
  }
  bool number_unsigned(json::number_unsigned_t u) {
    ArenaJson v;
    v.type_ = ArenaJson::Type::kUnsigned;
    v.u_.u = u;
    return Push(v);
  }
  bool number_float(json::number_float_t d, const json::string_t&) {
    ArenaJson v;
    v.type_ = ArenaJson::Type::kFloat;
    v.u_.d = d;
    return Push(v);
  }
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
    const size_t n = values_.size() - f.first;
    auto* m = a_->AllocateArray<ArenaJson::Member>(n);
    for (size_t i = 0; i < n; ++i) new (&m[i]) ArenaJson::Member{keys_[f.second + i], values_[f.first + i]};
    const size_t kept = SortMembers(m, n);
    values_.resize(f.first);
    keys_.resize(f.second);
    ArenaJson v;
    v.type_ = ArenaJson::Type::kObject;
    v.size_ = kept;
    v.u_.members = m;
    return Push(v);
  }
  bool end_array() {
    const Frame f = frames_.back();
    frames_.pop_back();
    --depth_;
    const size_t n = values_.size() - f.first;
    auto* e = a_->AllocateArray<ArenaJson>(n);
    for (size_t i = 0; i < n; ++i) new (&e[i]) ArenaJson(values_[f.first + i]);
    values_.resize(f.first);
    ArenaJson v;
    v.type_ = ArenaJson::Type::kArray;
    v.size_ = n;
    v.u_.elements = e;
    return Push(v);
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

  // The document, once the parser accepted the text.
  const ArenaJson* Root() {
    auto* root = a_->AllocateArray<ArenaJson>(1);
    new (root) ArenaJson(values_.empty() ? ArenaJson() : values_.back());
    values_.clear();
    return root;
  }

  static ArenaJson String(JsonArena* arena, std::string_view s) {
    ArenaJson v;
    v.type_ = ArenaJson::Type::kString;
    const std::string_view c = arena->Copy(s);
    v.u_.chars = c.data();
    v.size_ = c.size();
    return v;
  }
  static ArenaJson Scalar(const nlohmann::json& j) {
    ArenaJson v;
    switch (j.type()) {
      case nlohmann::json::value_t::boolean:
        v.type_ = ArenaJson::Type::kBoolean;
        v.u_.b = j.get<bool>();
        break;
      case nlohmann::json::value_t::number_integer:
        v.type_ = ArenaJson::Type::kInteger;
        v.u_.i = j.get<int64_t>();
        break;
      case nlohmann::json::value_t::number_unsigned:
        v.type_ = ArenaJson::Type::kUnsigned;
        v.u_.u = j.get<uint64_t>();
        break;
      case nlohmann::json::value_t::number_float:
        v.type_ = ArenaJson::Type::kFloat;
        v.u_.d = j.get<double>();
        break;
      default:
        break;  // null (binary and discarded are not read from JSON text)
    }
    return v;
  }
  static ArenaJson Container(ArenaJson::Type type, size_t n, const void* items) {
    ArenaJson v;
    v.type_ = type;
    v.size_ = n;
    if (type == ArenaJson::Type::kArray) v.u_.elements = static_cast<const ArenaJson*>(items);
    else v.u_.members = static_cast<const ArenaJson::Member*>(items);
    return v;
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

Result<const ArenaJson*> ParseArenaJsonBounded(std::string_view text, int max_depth, JsonArena* arena,
                                               JsonScanError* error) {
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
