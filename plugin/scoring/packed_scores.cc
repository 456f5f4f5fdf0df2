#include "scoring/packed_scores.h"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <map>
#include <new>
#include <utility>

#include "core/json_write.h"
#include "scoring/scoring.h"

namespace danvan::scoring {
namespace {

using nlohmann::json;

// The compact text of ToJson(s) without "rank" and "rank_tied", written straight from s (no
// document: its nodes were most of a unit's packing): the members in nlohmann's sorted order,
// as DumpJson writes an object, each value as DumpJson writes the json ToJson makes of it
// (model.cc); PackedScores.TextFullScoreAndRankAreTheUnpackedOnes holds the two equal. *rank_at:
// where the rank fields go back. Strict: throws type_error 316 for text that is not UTF-8, as
// DumpJson(ToJson(s)) does. Appends to *out.
class ScoreText {
 public:
  explicit ScoreText(std::string* out) : o_(*out) {}

  void Unit(const UnitScore& s, uint32_t* rank_at) {
    o_ += "{\"eligible\":";
    o_ += s.eligible ? "true" : "false";
    o_ += ",\"groups\":[";
    for (size_t i = 0; i < s.groups.size(); ++i) {
      if (i) o_ += ',';
      Group(s.groups[i]);
    }
    o_ += "],\"indicators_used\":[";
    for (size_t i = 0; i < s.indicators_used.size(); ++i) {
      if (i) o_ += ',';
      Indicator(s.indicators_used[i]);
    }
    Field("],\"max_points\":", s.max_points);
    o_ += ",\"not_eligible_reasons\":[";
    for (size_t i = 0; i < s.not_eligible_reasons.size(); ++i) {
      if (i) o_ += ',';
      Str(s.not_eligible_reasons[i]);
    }
    o_ += "],\"period\":{\"from\":";
    Str(s.period.from);
    Field(",\"kind\":", s.period.kind);
    Field(",\"label\":", s.period.label);
    Field(",\"to\":", s.period.to);
    o_ += '}';
    *rank_at = static_cast<uint32_t>(o_.size());
    Field(",\"rating\":", s.rating);
    Field(",\"rubric\":{\"digest\":", s.rubric_digest);
    Field(",\"id\":", s.rubric_id);
    Field(",\"version\":", s.rubric_version);
    Field("},\"total\":", s.total);
    Field(",\"unit\":{\"code\":", s.unit.code);
    Field(",\"name\":", s.unit.name);
    Field(",\"parent\":", s.unit.parent);
    o_ += "}}";
  }

 private:
  void Key(const char* k) { o_ += k; }
  void Str(const std::string& v) { AppendJsonString(v, &o_); }
  void Num(double v) { AppendJsonDouble(v, &o_); }
  // One member: its key (with the separator before it) and its value.
  void Field(const char* k, const std::string& v) { Key(k); Str(v); }
  void Field(const char* k, double v) { Key(k); Num(v); }
  void Field(const char* k, const std::optional<double>& v) { Key(k); OptNum(v); }
  void OptNum(const std::optional<double>& v) {
    if (v)
      Num(*v);
    else
      o_ += "null";
  }

  void Group(const GroupScore& g) {
    o_ += "{\"criteria\":[";
    for (size_t i = 0; i < g.criteria.size(); ++i) {
      if (i) o_ += ',';
      Criterion(g.criteria[i]);
    }
    Field("],\"group_id\":", g.group_id);
    Field(",\"kind\":", g.kind);
    Field(",\"max_points\":", g.max_points);
    Field(",\"min_points\":", g.min_points);
    Field(",\"name\":", g.name);
    Field(",\"points\":", g.points);
    o_ += '}';
  }

  void Criterion(const CriterionScore& c) {
    Field("{\"criterion_id\":", c.criterion_id);
    if (!c.indicator_id.empty()) {
      Field(",\"indicator_id\":", c.indicator_id);
    }
    if (c.manual) {
      Key(",\"manual\":");
      Manual(*c.manual);
    }
    if (!c.manual_entries.empty()) {
      Key(",\"manual_entries\":[");
      for (size_t i = 0; i < c.manual_entries.size(); ++i) {
        if (i) o_ += ',';
        Manual(c.manual_entries[i]);
      }
      o_ += ']';
    }
    Field(",\"max_points\":", c.max_points);
    Field(",\"min_points\":", c.min_points);
    Field(",\"name\":", c.name);
    Field(",\"note\":", c.note);
    Field(",\"points\":", c.points);
    Field(",\"source\":", c.source);
    Field(",\"type\":", c.type);
    Field(",\"value\":", c.value);
    o_ += '}';
  }

  void Manual(const ManualEntry& m) {
    Key("{\"assessor\":");
    AppendJsonString(AssessorName(m.assessor), &o_);
    Field(",\"criterion_id\":", m.criterion_id);
    Field(",\"document_ref\":", m.document_ref);
    Field(",\"entered_at\":", m.entered_at);
    Field(",\"entered_by\":", m.entered_by);
    Field(",\"evidence_note\":", m.evidence_note);
    Field(",\"score\":", m.score);
    o_ += '}';
  }

  void Indicator(const IndicatorValue& v) {
    Field("{\"denominator\":", v.denominator);
    Field(",\"id\":", v.id);
    Field(",\"numerator\":", v.numerator);
    if (v.points) {
      Field(",\"points\":", *v.points);
    }
    Field(",\"ratio\":", v.ratio);
    if (!v.record_ids.empty()) {
      Key(",\"record_ids\":[");
      for (size_t i = 0; i < v.record_ids.size(); ++i) {
        if (i) o_ += ',';
        Str(v.record_ids[i]);
      }
      o_ += ']';
    }
    o_ += '}';
  }

  std::string& o_;
};

std::string RankFields(const ScoreSummary& s) {
  std::string out = ",\"rank\":";
  if (s.rank)
    AppendJsonInt(*s.rank, &out);
  else
    out += "null";
  out += s.rank_tied ? ",\"rank_tied\":true" : ",\"rank_tied\":false";
  return out;
}

const Bytef* Bytes(const std::string& s) { return reinterpret_cast<const Bytef*>(s.data()); }

// One zlib stream per thread and direction, reset for each text: a stream's state (~270 KB to
// deflate, ~40 KB to inflate) allocated per unit made malloc consolidate its heap each time
// (bench/RESULTS.md, twelfth session: 3x the malloc time of a report).
struct DeflateStream {
  z_stream z{};
  bool ok = false;
  DeflateStream() { ok = deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) == Z_OK; }
  ~DeflateStream() {
    if (ok) deflateEnd(&z);
  }
};

struct InflateStream {
  z_stream z{};
  bool ok = false;
  InflateStream() { ok = inflateInit(&z) == Z_OK; }
  ~InflateStream() {
    if (ok) inflateEnd(&z);
  }
};

// The deflated bytes, in a buffer kept per thread (valid until the next call).
const std::string& Deflate(const std::string& text, const std::string& dict) {
  thread_local DeflateStream stream;
  thread_local std::string out;
  z_stream& z = stream.z;
  out.clear();
  if (stream.ok && deflateReset(&z) == Z_OK &&
      deflateSetDictionary(&z, Bytes(dict), static_cast<uInt>(dict.size())) == Z_OK) {
    out.resize(deflateBound(&z, static_cast<uLong>(text.size())));
    z.next_in = const_cast<Bytef*>(Bytes(text));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(rc == Z_STREAM_END ? out.size() - z.avail_out : 0);
  }
  if (out.empty()) throw std::bad_alloc();  // zlib's only failures here are allocations
  return out;
}

// Appends the `size` bytes `deflated` inflates to; false if it does not (damaged).
bool Inflate(const char* deflated, uint32_t deflated_size, uint32_t size, const std::string& dict,
             std::string* out) {
  thread_local InflateStream stream;
  if (!stream.ok || inflateReset(&stream.z) != Z_OK) throw std::bad_alloc();
  z_stream& z = stream.z;
  const size_t at = out->size();
  out->resize(at + size);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(deflated));
  z.avail_in = deflated_size;
  z.next_out = reinterpret_cast<Bytef*>(out->data() + at);
  z.avail_out = size;
  int rc = inflate(&z, Z_FINISH);
  if (rc == Z_NEED_DICT && inflateSetDictionary(&z, Bytes(dict), static_cast<uInt>(dict.size())) == Z_OK)
    rc = inflate(&z, Z_FINISH);
  const bool ok = rc == Z_STREAM_END && z.avail_out == 0;
  if (!ok) out->resize(at);
  return ok;
}

// A number as the unit's text carries it: JSON has no NaN or infinity (written null).
double Finite(double v) { return std::isfinite(v) ? v : 0; }

// The criterion rows' coding: unsigned varints (7 bits a byte, low first) and numbers as
// PutNumber writes them.
void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

uint64_t GetVarint(const char*& p) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const auto b = static_cast<unsigned char>(*p++);
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (b < 0x80) return v;
  }
}

// A whole number of magnitude below 2^52 (not -0) as the varint of its zigzag code times 2
// (criterion points, maxima and counts: one or two bytes); any other as the varint 1 and its
// 8 bytes.
void PutNumber(double v, std::string* out) {
  constexpr double kWhole = 4503599627370496.0;  // 2^52
  if (v > -kWhole && v < kWhole && v == std::trunc(v) && !(v == 0 && std::signbit(v))) {
    const auto n = static_cast<int64_t>(v);
    PutVarint((static_cast<uint64_t>(n) << 1 ^ static_cast<uint64_t>(n >> 63)) << 1, out);
    return;
  }
  PutVarint(1, out);
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out->append(b, sizeof v);
}

double GetNumber(const char*& p) {
  const uint64_t x = GetVarint(p);
  if (x & 1) {
    double v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  const uint64_t z = x >> 1;
  return static_cast<double>(static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1));
}

// Flags of a criterion row.
constexpr unsigned kHasValue = 1;
constexpr unsigned kHasFigures = 2;
constexpr unsigned kHasRatio = 4;
constexpr unsigned kValueIsRatio = 8;  // the value is the figures' ratio (a computed criterion): not repeated
constexpr unsigned kHasManual = 16;
constexpr unsigned kSuperior = 32;     // the manual entry's assessor

}  // namespace

PackedScores::PackedScores(const PackedScores& o)
    : rows_(o.rows_),
      packed_(o.packed_),
      dict_(o.dict_),
      arena_(o.arena_),
      table_(o.table_) {
  // The pool appended again (same ids), not copied: a copied block is allocated at its size
  // (one that small is kept inside its std::string) and could move on a later Append.
  string_refs_.reserve(o.string_refs_.size());
  for (uint32_t id = 0; id < o.string_refs_.size(); ++id) {
    const std::string_view str = o.Str(id);
    string_refs_.push_back({strings_.Append(str), static_cast<uint32_t>(str.size())});
  }
  Reindex();
}

PackedScores& PackedScores::operator=(const PackedScores& o) {
  if (this != &o) {
    PackedScores copy(o);
    *this = std::move(copy);
  }
  return *this;
}

void PackedScores::Reindex() {
  index_.clear();
  for (uint32_t id = 0; id < string_refs_.size(); ++id) index_.emplace(Str(id), id);
}

uint32_t PackedScores::Intern(std::string_view s) {
  if (auto it = index_.find(s); it != index_.end()) return it->second;
  const auto id = static_cast<uint32_t>(string_refs_.size());
  const uint64_t at = strings_.Append(s);
  string_refs_.push_back({at, static_cast<uint32_t>(s.size())});
  index_.emplace(Str(id), id);
  return id;
}

std::pair<ScoreSummary, PackedScores::Packed> PackedScores::Pack(const UnitScore& s) {
  Packed p;
  thread_local std::string text;  // kept per thread, as the zlib streams
  text.clear();
  ScoreText(&text).Unit(s, &p.rank_at);
  p.size = static_cast<uint32_t>(text.size());
  // The criterion rows, as Full() would read them from the text (CriterionView): per row the
  // varints of its string ids (group name, criterion id, name, source, indicator id, note),
  // its flags, points and maximum, then the value unless it is the ratio, the figures
  // (numerator, denominator, ratio) and the manual entry's four string ids, when present.
  thread_local std::string rows;  // kept per thread, as the zlib streams
  rows.clear();
  size_t criteria = 0;
  for (const GroupScore& g : s.groups) {
    const uint32_t group_name = Intern(g.name);
    for (const CriterionScore& c : g.criteria) {
      const IndicatorValue* used = nullptr;  // the last one, as UnitScoreFromJson re-links
      if (!c.indicator_id.empty())
        for (const IndicatorValue& v : s.indicators_used)
          if (v.id == c.indicator_id) used = &v;
      const bool value = c.value && std::isfinite(*c.value);
      const bool ratio = used && used->ratio && std::isfinite(*used->ratio);
      // Bitwise equal, so the value read back is the value (not just ==: 0 and -0).
      const bool value_is_ratio =
          value && ratio && std::memcmp(&*c.value, &*used->ratio, sizeof(double)) == 0;
      unsigned flags = (value ? kHasValue : 0u) | (used ? kHasFigures : 0u) | (ratio ? kHasRatio : 0u) |
                       (value_is_ratio ? kValueIsRatio : 0u);
      if (c.manual) flags |= kHasManual | (c.manual->assessor == Assessor::kSuperior ? kSuperior : 0u);
      for (const std::string* str : {&g.name, &c.criterion_id, &c.name, &c.source, &c.indicator_id, &c.note})
        PutVarint(str == &g.name ? group_name : Intern(*str), &rows);
      PutVarint(flags, &rows);
      PutNumber(Finite(c.points), &rows);
      PutNumber(Finite(c.max_points), &rows);
      if (value && !value_is_ratio) PutNumber(*c.value, &rows);
      if (used) {
        PutNumber(Finite(used->numerator), &rows);
        PutNumber(Finite(used->denominator), &rows);
        if (ratio) PutNumber(*used->ratio, &rows);
      }
      if (c.manual)
        for (const std::string* str : {&c.manual->entered_by, &c.manual->entered_at, &c.manual->evidence_note,
                                       &c.manual->document_ref})
          PutVarint(Intern(*str), &rows);
      ++criteria;
    }
  }
  ScoreSummary row{s.unit,       s.period, s.rubric_id, s.rubric_version,       s.max_points, s.total,
                   s.eligible,   s.not_eligible_reasons, s.rating, s.rank, s.rank_tied, criteria};
  const std::string& deflated = Deflate(text, dict_.empty() ? text : dict_);
  p.deflated = static_cast<uint32_t>(deflated.size());
  p.at = arena_.Append(deflated);
  p.criteria_at = table_.Append(rows);
  if (dict_.empty()) dict_ = text;
  if (rows.capacity() > (size_t{1} << 20)) std::string().swap(rows);
  if (text.capacity() > (size_t{1} << 20)) std::string().swap(text);
  return {std::move(row), std::move(p)};
}

void PackedScores::push_back(const UnitScore& s) {
  auto [row, p] = Pack(s);
  rows_.push_back(std::move(row));
  packed_.push_back(std::move(p));
}

void PackedScores::Set(size_t i, const UnitScore& s) {
  auto [row, p] = Pack(s);
  rows_[i] = std::move(row);
  packed_[i] = std::move(p);
}

void PackedScores::clear() {
  rows_.clear();
  packed_.clear();
  dict_.clear();
  arena_.clear();
  table_.clear();
  index_.clear();
  string_refs_.clear();
  strings_.clear();
}

Status PackedScores::Rank() {
  std::vector<UnitScore> light(rows_.size());
  for (size_t i = 0; i < rows_.size(); ++i) {
    light[i].unit.code = rows_[i].unit.code;
    light[i].period.from = rows_[i].period.from;
    light[i].period.to = rows_[i].period.to;
    light[i].rubric_id = rows_[i].rubric_id;
    light[i].rubric_version = rows_[i].rubric_version;
    light[i].eligible = rows_[i].eligible;
    light[i].total = rows_[i].total;
  }
  auto ranked = scoring::Rank(std::move(light));
  if (!ranked.ok()) return ranked.status();
  std::map<std::string, size_t> at;  // codes are unique: Rank checked
  for (size_t i = 0; i < rows_.size(); ++i) at.emplace(rows_[i].unit.code, i);
  std::vector<ScoreSummary> rows;
  std::vector<Packed> packed;
  rows.reserve(rows_.size());
  packed.reserve(packed_.size());
  for (const UnitScore& r : ranked.value()) {
    const size_t i = at.at(r.unit.code);
    rows.push_back(std::move(rows_[i]));
    rows.back().rank = r.rank;
    rows.back().rank_tied = r.rank_tied;
    packed.push_back(std::move(packed_[i]));
  }
  rows_ = std::move(rows);
  packed_ = std::move(packed);
  return Status::Ok();
}

size_t PackedScores::JsonSize(size_t i) const { return packed_[i].size + RankFields(rows_[i]).size(); }

void PackedScores::AppendJson(size_t i, std::string* out) const {
  const Packed& p = packed_[i];
  const size_t at = out->size();
  out->reserve(at + JsonSize(i));
  if (!Inflate(arena_.At(p.at), p.deflated, p.size, dict_, out)) return;
  out->insert(at + p.rank_at, RankFields(rows_[i]));
}

Result<UnitScore> PackedScores::Full(size_t i) const {
  // Kept per thread: a unit's text (~11 KB at city scale) is not allocated and freed per call.
  thread_local std::string text;
  text.clear();
  AppendJson(i, &text);
  json j = json::parse(text, nullptr, false);
  if (text.capacity() > (size_t{1} << 20)) std::string().swap(text);
  if (j.is_discarded()) return Status::Internal("kết quả chấm điểm đã nén bị hỏng (đơn vị " + rows_[i].unit.code + ")");
  return UnitScoreFromJson(j);
}

void PackedScores::ForEachCriterion(size_t i, const std::function<bool(const CriterionView&)>& fn) const {
  const char* p = table_.At(packed_[i].criteria_at);
  for (size_t k = 0; k < rows_[i].criteria; ++k) {
    CriterionView v;
    v.group_name = Str(static_cast<uint32_t>(GetVarint(p)));
    v.criterion_id = Str(static_cast<uint32_t>(GetVarint(p)));
    v.name = Str(static_cast<uint32_t>(GetVarint(p)));
    v.source = Str(static_cast<uint32_t>(GetVarint(p)));
    v.indicator_id = Str(static_cast<uint32_t>(GetVarint(p)));
    v.note = Str(static_cast<uint32_t>(GetVarint(p)));
    const auto flags = static_cast<unsigned>(GetVarint(p));
    v.points = GetNumber(p);
    v.max_points = GetNumber(p);
    if ((flags & kHasValue) && !(flags & kValueIsRatio)) v.value = GetNumber(p);
    if (flags & kHasFigures) {
      v.indicator.emplace();
      v.indicator->numerator = GetNumber(p);
      v.indicator->denominator = GetNumber(p);
      if (flags & kHasRatio) v.indicator->ratio = GetNumber(p);
      if (flags & kValueIsRatio) v.value = v.indicator->ratio;
    }
    if (flags & kHasManual) {
      v.manual.emplace();
      v.manual->assessor = (flags & kSuperior) ? Assessor::kSuperior : Assessor::kSelf;
      v.manual->entered_by = Str(static_cast<uint32_t>(GetVarint(p)));
      v.manual->entered_at = Str(static_cast<uint32_t>(GetVarint(p)));
      v.manual->evidence_note = Str(static_cast<uint32_t>(GetVarint(p)));
      v.manual->document_ref = Str(static_cast<uint32_t>(GetVarint(p)));
    }
    if (!fn(v)) return;
  }
}

size_t PackedScores::memory_bytes() const {
  size_t n = dict_.capacity() + rows_.capacity() * sizeof(ScoreSummary) + packed_.capacity() * sizeof(Packed) +
             arena_.memory_bytes() + table_.memory_bytes() + strings_.memory_bytes() + string_refs_.capacity() * sizeof(StringRef) +
             index_.bucket_count() * sizeof(void*) + index_.size() * (sizeof(std::string_view) + 2 * sizeof(void*));
  for (const ScoreSummary& s : rows_) {
    n += s.unit.name.capacity() + s.period.label.capacity() + s.rating.capacity();
    for (const auto& r : s.not_eligible_reasons) n += sizeof(r) + r.capacity();
  }
  return n;
}

}  // namespace danvan::scoring
