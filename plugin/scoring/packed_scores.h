// Unit scores held compactly (issue 16, bounded memory at city scale): what a ranking, a chart
// or a summary line reads (ScoreSummary) as plain fields, and the rest as the score's canonical
// JSON text (DumpJson(ToJson(s)), the bytes a score answer and a report carry), deflated with
// the first unit's text as zlib's preset dictionary: the criteria's names, types and notes
// repeat from unit to unit, so a unit's ~11 KB of text keeps ~1 KB (861 units: ~1 MB instead
// of ~25 MB of UnitScores). A full UnitScore is made again on demand (Full), one at a time.
//
// Thread-safety: a plain value (const methods may run concurrently: each thread has its own
// zlib streams, kept for the thread's life).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/byte_arena.h"
#include "core/status.h"
#include "scoring/model.h"

namespace danvan::scoring {

// The fields of a UnitScore other than its groups and indicators, same names, and the number
// of its criteria.
struct ScoreSummary {
  UnitRef unit;
  Period period;
  std::string rubric_id;
  std::string rubric_version;
  double max_points = 0;
  double total = 0;
  bool eligible = true;
  std::vector<std::string> not_eligible_reasons;
  std::string rating;
  std::optional<int> rank;
  bool rank_tied = false;
  size_t criteria = 0;  // criteria in its groups (the rows of a criterion table)
};

class PackedScores {
 public:
  // Adds s at the end, its rank fields as they are. Throws what DumpJson(ToJson(s)) throws
  // (nlohmann type_error 316 for text that is not UTF-8) and std::bad_alloc; nothing is added
  // then.
  void push_back(const UnitScore& s);
  // Replaces unit i's score with s (tests; throws as push_back).
  void Set(size_t i, const UnitScore& s);
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  void clear();
  const ScoreSummary& operator[](size_t i) const { return rows_[i]; }
  const ScoreSummary& front() const { return rows_.front(); }
  const ScoreSummary& back() const { return rows_.back(); }
  std::vector<ScoreSummary>::const_iterator begin() const { return rows_.begin(); }
  std::vector<ScoreSummary>::const_iterator end() const { return rows_.end(); }

  // Orders the units as scoring::Rank does and sets their ranks; Rank's error (two rubrics,
  // two periods, a unit twice) leaves them unchanged.
  Status Rank();
  // Keeps the units for which keep(summary) is true, in order.
  template <typename Pred>
  void KeepIf(Pred keep) {
    size_t n = 0;
    for (size_t i = 0; i < rows_.size(); ++i)
      if (keep(rows_[i])) {
        if (n != i) {
          rows_[n] = std::move(rows_[i]);
          packed_[n] = std::move(packed_[i]);
        }
        ++n;
      }
    rows_.resize(n);
    packed_.resize(n);
  }

  // Appends DumpJson(ToJson(score i)) byte for byte, with the rank fields of its summary.
  void AppendJson(size_t i, std::string* out) const;
  // Its length (what AppendJson appends).
  size_t JsonSize(size_t i) const;
  // The UnitScore again (UnitScoreFromJson of its text); Internal if the text is damaged,
  // which only a bug can do.
  Result<UnitScore> Full(size_t i) const;
  // Bytes held (summaries, deflated texts, dictionary), for tests and benchmarks.
  size_t memory_bytes() const;

 private:
  struct Packed {
    uint64_t at = 0;            // in arena_: the text without the rank fields, deflated against dict_
    uint32_t deflated = 0;      // its length deflated
    uint32_t size = 0;          // and inflated
    uint32_t rank_at = 0;       // where `,"rank":…,"rank_tied":…` goes in it
  };
  // s's summary and packed text, against dict_ (set from s's text when empty).
  std::pair<ScoreSummary, Packed> Pack(const UnitScore& s);
  std::vector<ScoreSummary> rows_;
  std::vector<Packed> packed_;
  std::string dict_;  // the first unit's text: zlib's preset dictionary for every unit
  ByteArena arena_;   // the deflated texts, one after another (Set leaves the old ones)
};

}  // namespace danvan::scoring
