#include "scoring/packed_scores.h"

#include <zlib.h>

#include <map>
#include <new>
#include <utility>

#include "core/json_write.h"
#include "scoring/scoring.h"

namespace danvan::scoring {
namespace {

using nlohmann::json;

// The compact text of ToJson(s) without "rank" and "rank_tied" (its members in nlohmann's
// sorted order, as DumpJson writes an object); *rank_at: where they go back. Strict: throws
// type_error 316 for text that is not UTF-8, as DumpJson(ToJson(s)) does.
std::string TextWithoutRank(const UnitScore& s, uint32_t* rank_at) {
  const json j = ToJson(s);
  std::string out = "{";
  bool first = true;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "rank") {
      *rank_at = static_cast<uint32_t>(out.size());
      continue;
    }
    if (it.key() == "rank_tied") continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(it.key(), &out);
    out += ':';
    AppendJson(it.value(), &out);
  }
  out += '}';
  return out;
}

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

}  // namespace

std::pair<ScoreSummary, PackedScores::Packed> PackedScores::Pack(const UnitScore& s) {
  Packed p;
  std::string text = TextWithoutRank(s, &p.rank_at);
  p.size = static_cast<uint32_t>(text.size());
  size_t criteria = 0;
  for (const GroupScore& g : s.groups) criteria += g.criteria.size();
  ScoreSummary row{s.unit,       s.period, s.rubric_id, s.rubric_version,       s.max_points, s.total,
                   s.eligible,   s.not_eligible_reasons, s.rating, s.rank, s.rank_tied, criteria};
  const std::string& deflated = Deflate(text, dict_.empty() ? text : dict_);
  p.deflated = static_cast<uint32_t>(deflated.size());
  p.at = arena_.Append(deflated);
  if (dict_.empty()) dict_ = std::move(text);
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

size_t PackedScores::memory_bytes() const {
  size_t n = dict_.capacity() + rows_.capacity() * sizeof(ScoreSummary) + packed_.capacity() * sizeof(Packed) +
             arena_.memory_bytes();
  for (const ScoreSummary& s : rows_) {
    n += s.unit.name.capacity() + s.period.label.capacity() + s.rating.capacity();
    for (const auto& r : s.not_eligible_reasons) n += sizeof(r) + r.capacity();
  }
  return n;
}

}  // namespace danvan::scoring
