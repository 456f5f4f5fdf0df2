// The scoring engine: pure functions from (rubric, indicator values, manual entries) to a
// UnitScore, and ranking. No I/O, no clock, no globals: the same inputs give the same JSON.
//
// How the engine (plugin/engine) is expected to call it:
//   1. Load the rubric once: Rubric::FromFile(config/rubric/default.json). Keep every version
//      it has ever scored with in a RubricRegistry (store the rubric JSON next to the results).
//   2. For each unit and period: copy the aggregates of rubric.IndicatorIds() into
//      IndicatorValue structs (model.h), fetch the stored manual entries (latest per criterion
//      and assessor), call ScoreUnit(). Store ToJson(UnitScore) with the rubric id, version and
//      digest it records.
//   3. Rank() the UnitScores of the units compared together (e.g. the department's children).
//   4. To show an old result again: UnitScoreFromJson(stored); to recompute it exactly,
//      Rescore(registry, stored) uses the rubric version it names and the inputs it recorded.
//   5. Before storing a manual entry, ValidateManualEntry() rejects unknown criteria and
//      out-of-range scores with a Vietnamese message for the administrator.
//
// Rules (all numbers come from the rubric):
//   - bands: the first band, in file order (highest `min` first), with value >= min gives its
//     points; below all bands, `otherwise` (default 0). Comparisons allow 1e-12 so a ratio of
//     exactly the band edge (e.g. 4/5 = 0.8) lands in the band.
//   - linear: 0 at `low`, max at `high`, straight line between, clamped; `invert` reverses.
//   - threshold (Decision 766 rule): max at or above `threshold`, else value x max / threshold;
//     threshold null: value x max. Clamped to [0, max].
//   - per_item: count x points_per_item clamped to [min_points, max_points] (e.g. -1 per
//     overdue petition, min_points -5).
//   - count: min(count, target) / target x max.
//   - manual: the assessment picked by `use`; an entry outside [min_points, max_points] is an
//     error. With no entry, the no_data policy applies (default 0 points, source "no_data").
//   - no data (indicator absent or ratio null for a ratio criterion): policy zero | full |
//     redistribute. Redistribute gives this criterion max 0 and adds share x its max to each
//     target's max; a target's points are scaled by (its new max / its rubric max). This is the
//     766 "unit with no petitions" rule, configured in the rubric, not coded here.
//   - each criterion's points are rounded to the rubric's precision (half away from zero);
//     a group is the sum of its criteria clamped to [group min, group max]; the total is the sum
//     of groups clamped to [total_min, total_max] and rounded.
//   - eligibility: a unit failing any rule (indicator value below `min`; an absent indicator
//     counts as 0) is scored but rated with the eligibility label ("Không xếp loại") and not
//     ranked.
//   - rating: the first rating band (highest first) with total >= min.
#pragma once

#include <vector>

#include "core/status.h"
#include "scoring/model.h"
#include "scoring/rubric.h"

namespace danvan::scoring {

// InvalidInput (Vietnamese) for: duplicate indicator ids, a manual entry naming an unknown or
// non-manual criterion, a manual score out of range. When several entries exist for the same
// criterion and assessor, the one with the greatest entered_at counts (ties: the later one in
// the list); all of them are kept in the result's audit trail.
Result<UnitScore> ScoreUnit(const Rubric& rubric, const ScoreInputs& inputs);
Result<UnitScore> ScoreUnit(const Rubric& rubric, const UnitRef& unit, const Period& period,
                            const std::vector<IndicatorValue>& indicators,
                            const std::vector<ManualEntry>& manual);

// OK, or InvalidInput such as: "Điểm 12 của tiêu chí 'g2.publicity' (Công khai, minh bạch) nằm
// ngoài khoảng cho phép 0–10".
Status ValidateManualEntry(const Rubric& rubric, const ManualEntry& entry);

// Ranks scores of one rubric version and one period (InvalidInput otherwise). Returns them in
// rank order with `rank` and `rank_tied` set. Tie rule (standard competition ranking): units
// whose totals are equal at the rubric's precision share the same rank and the next rank skips
// (1, 2, 2, 4); within a tie, units are listed by unit code. Not-eligible units follow, by
// unit code, with no rank.
Result<std::vector<UnitScore>> Rank(std::vector<UnitScore> scores);

// Recomputes a stored score with the rubric version it names (found in `registry`) and the
// inputs it recorded. Conflict if the registry's rubric has a different digest than the one
// recorded (the rubric was edited without a new version).
Result<UnitScore> Rescore(const RubricRegistry& registry, const UnitScore& stored);

}  // namespace danvan::scoring
