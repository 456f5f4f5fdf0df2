// Unit scores held compactly (issue 16, bounded memory at city scale): what a ranking, a chart
// or a summary line reads (ScoreSummary) as plain fields, and the rest as the score's canonical
// JSON text (DumpJson(ToJson(s)), the bytes a score answer and a report carry), deflated with
// the first unit's text as zlib's preset dictionary: the criteria's names, types and notes
// repeat from unit to unit, so a unit's ~11 KB of text keeps ~1 KB (861 units: ~1 MB instead
// of ~25 MB of UnitScores). A full UnitScore is made again on demand (Full), one at a time.
// Each unit's criterion table (what a report's criterion rows show) is kept typed beside it,
// made once when the unit is added: its text fields as ids in one pool of distinct strings (a
// city's 24,000 criteria name ~250 distinct strings) and its numbers as they are, varint-coded
// (~20 bytes a criterion), so a report reads it without inflating or parsing anything
// (ForEachCriterion).
//
// Thread-safety: a plain value (const methods may run concurrently: each thread has its own
// zlib streams, kept for the thread's life).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
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

// The indicator figures a criterion scored (the unit's value of its indicator_id).
struct CriterionFigures {
  double numerator = 0;
  double denominator = 0;
  std::optional<double> ratio;
};

// The manual entry that counted for a criterion, the fields a report shows.
struct CriterionManual {
  Assessor assessor = Assessor::kSelf;
  std::string_view entered_by, entered_at, evidence_note, document_ref;
};

// One criterion of a unit's score as a report's criterion table reads it: the same values as
// the CriterionScore that Full() makes again from the unit's text (its group's name beside
// it), i.e. as the text carries them: `indicator` is the last of the unit's indicators_used
// with the criterion's indicator_id (UnitScoreFromJson's re-link), and a number that is not
// finite (JSON null) is absent (value, ratio) or 0 (the others; Full refuses such a text).
// The string views point into the PackedScores they came from: valid while it is alive and
// not assigned to.
struct CriterionView {
  std::string_view group_name, criterion_id, name, source, indicator_id, note;
  std::optional<double> value;
  double points = 0;
  double max_points = 0;
  std::optional<CriterionFigures> indicator;
  std::optional<CriterionManual> manual;
};

class PackedScores {
 public:
  PackedScores() = default;
  // Copies re-make the string pool's index (it points into the pool); moves keep it.
  PackedScores(const PackedScores& o);
  PackedScores& operator=(const PackedScores& o);
  PackedScores(PackedScores&&) = default;
  PackedScores& operator=(PackedScores&&) = default;

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
  // Calls fn with each criterion of unit i in order (groups in order, then their criteria:
  // (*this)[i].criteria calls) until fn returns false.
  void ForEachCriterion(size_t i, const std::function<bool(const CriterionView&)>& fn) const;
  // Bytes held (summaries, deflated texts, dictionary, criterion tables), for tests and
  // benchmarks.
  size_t memory_bytes() const;

 private:
  struct Packed {
    uint64_t at = 0;            // in arena_: the text without the rank fields, deflated against dict_
    uint32_t deflated = 0;      // its length deflated
    uint32_t size = 0;          // and inflated
    uint32_t rank_at = 0;       // where `,"rank":…,"rank_tied":…` goes in it
    uint64_t criteria_at = 0;   // in table_: its criterion rows (then summary.criteria rows)
  };
  struct StringRef {
    uint64_t at = 0;  // in strings_
    uint32_t size = 0;
  };
  // s's summary and packed text, against dict_ (set from s's text when empty), and its
  // criterion rows appended to table_.
  std::pair<ScoreSummary, Packed> Pack(const UnitScore& s);
  // The id of `s` in the pool, added if new.
  uint32_t Intern(std::string_view s);
  std::string_view Str(uint32_t id) const {
    return {strings_.At(string_refs_[id].at), string_refs_[id].size};
  }
  void Reindex();
  std::vector<ScoreSummary> rows_;
  std::vector<Packed> packed_;
  std::string dict_;  // the first unit's text: zlib's preset dictionary for every unit
  ByteArena arena_;   // the deflated texts, one after another (Set leaves the old ones)
  // The criterion tables, each unit's rows together (KeepIf and Set leave the old ones); the
  // row format is in packed_scores.cc (EncodeCriterion).
  ByteArena table_;
  // The pool of distinct strings; index_'s keys point into strings_ (ByteArena's blocks are
  // reserved at 64 KB or more when made, so their bytes never move: the copy constructor
  // appends the strings again rather than copying the blocks).
  ByteArena strings_;
  std::vector<StringRef> string_refs_;
  std::unordered_map<std::string_view, uint32_t> index_;
};

}  // namespace danvan::scoring
