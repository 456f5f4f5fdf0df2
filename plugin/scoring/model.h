// The data the scoring engine consumes and produces. This is the contract between the
// indicators concern (plugin/indicators, which computes figures incrementally) and the scoring
// and report concerns: the engine copies its aggregates into these plain structs and calls
// ScoreUnit() (scoring/scoring.h). Nothing here refers to storage or to the engine.
//
// Indicator contract (what plugin/indicators produces, per unit and period):
//   - `id` is one of the ids listed in config/rubric/README.md ("idx766.on_time",
//     "petition.overdue_open", "reception.head_months_held", ...). A rubric names the ids it
//     reads; an id the rubric reads but the engine did not supply is "no data".
//   - `numerator` / `denominator` are counts (or, for dossier.avg_processing_days, a sum of days
//     over a count of dossiers). Pure counts ("petition.received", "dvk.recognised") put the
//     count in `numerator`; their `denominator` is whatever the indicator defines (usually the
//     same count or 0) and is not read unless a rubric says value_of: "denominator".
//   - `ratio` is numerator / denominator, or nullopt when the denominator is 0. The engine sets
//     it; the scorer never divides by itself, so the ratio the unit sees is the ratio it scored.
//   - `points` is optional: the national portal's own points for an idx766 indicator, shown in
//     reports but never used by the scorer (the rubric decides points).
//   - `record_ids` is optional drill-down data (capped by the engine); scoring copies it into
//     the result only as provenance.
//
// Thread-safety: plain values; no shared state.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace danvan::scoring {

struct IndicatorValue {
  std::string id;
  double numerator = 0;
  double denominator = 0;
  std::optional<double> ratio;   // nullopt when denominator == 0
  std::optional<double> points;  // the portal's points, informative only
  std::vector<std::string> record_ids;
};

struct UnitRef {
  std::string code;    // "SGDDT.TTRA"
  std::string name;    // "Thanh tra Sở"
  std::string parent;  // "" for the root
};

// A reporting period; dates are ISO "yyyy-mm-dd", both ends inclusive.
struct Period {
  std::string kind;   // "half_year" | "year" | "quarter" | "month" | "range"
  std::string from;   // "2023-01-01"
  std::string to;     // "2023-06-15" (the cut-off)
  std::string label;  // "6 tháng đầu năm 2023"
};

// Who assessed a manual criterion. Both may exist; the rubric's `use` picks.
enum class Assessor { kSelf, kSuperior };

// A hand-entered score with its audit data. The engine stores these (append-only, with the
// same fields) and passes the latest entry per (unit, period, criterion, assessor).
struct ManualEntry {
  std::string criterion_id;
  Assessor assessor = Assessor::kSelf;
  double score = 0;
  std::string evidence_note;  // "Kế hoạch số 15/KH-SGDĐT ngày 20/1/2023"
  std::string document_ref;   // a document number or URL in the host's document store
  std::string entered_by;     // user id or name as the host gives it
  std::string entered_at;     // ISO 8601 instant, from the host (never the system clock here)
};

// Inputs of one unit's score, everything ScoreUnit needs besides the rubric.
struct ScoreInputs {
  UnitRef unit;
  Period period;
  std::vector<IndicatorValue> indicators;
  std::vector<ManualEntry> manual;
};

struct CriterionScore {
  std::string criterion_id;
  std::string name;
  std::string type;             // "bands" | "linear" | ... | "manual"
  double max_points = 0;        // effective maximum (after any redistribution)
  double min_points = 0;        // lowest possible points (negative for penalties)
  std::optional<double> value;  // the figure scored: ratio, count, or manual score
  double points = 0;            // rounded to the rubric's precision
  // "indicator" (value from `indicator`), "manual" (from `manual`), "no_data" (policy applied),
  // "redistributed" (this criterion's points went to others; max_points is 0).
  std::string source;
  std::string indicator_id;  // computed criteria: the indicator read
  // The figures scored (a copy of the unit's value of `indicator_id`; absent if not supplied).
  // In JSON only `indicator_id` is written; UnitScoreFromJson re-links it from
  // `indicators_used`, so each figure is stored once per unit.
  std::optional<IndicatorValue> indicator;
  std::optional<ManualEntry> manual;        // the entry that counted (for "average": none)
  std::vector<ManualEntry> manual_entries;  // every entry considered (self and superior)
  std::string note;                         // Vietnamese explanation, e.g. the band hit
};

struct GroupScore {
  std::string group_id;
  std::string name;
  std::string kind;  // "scored" | "adjustment"
  double max_points = 0;
  double min_points = 0;
  double points = 0;  // sum of criteria clamped to [min_points, max_points]
  std::vector<CriterionScore> criteria;
};

struct UnitScore {
  UnitRef unit;
  Period period;
  std::string rubric_id;
  std::string rubric_version;
  std::string rubric_digest;  // FNV-1a 64 of the rubric's canonical JSON, hex
  double max_points = 0;
  double total = 0;
  bool eligible = true;
  std::vector<std::string> not_eligible_reasons;
  std::string rating;  // band name, or the eligibility label ("Không xếp loại")
  std::vector<GroupScore> groups;
  // Every indicator the rubric read (criteria and eligibility rules), sorted by id, as given;
  // an id read but not supplied is absent. With the manual entries kept in the criteria, this
  // is everything needed to recompute the score (InputsFromScore).
  std::vector<IndicatorValue> indicators_used;
  // Set by Rank(): 1-based competition rank ("1, 2, 2, 4"); nullopt for non-eligible units.
  std::optional<int> rank;
  bool rank_tied = false;  // another unit shares this rank
};

// JSON (de)serialisation. Field names are the struct member names (snake_case); optionals are
// omitted when empty; doubles are written as JSON numbers. Parsing is strict about types and
// returns InvalidInput naming the offending field.
nlohmann::json ToJson(const IndicatorValue& v);
nlohmann::json ToJson(const UnitRef& u);
nlohmann::json ToJson(const Period& p);
nlohmann::json ToJson(const ManualEntry& m);
nlohmann::json ToJson(const ScoreInputs& in);
nlohmann::json ToJson(const CriterionScore& c);
nlohmann::json ToJson(const GroupScore& g);
nlohmann::json ToJson(const UnitScore& s);

Result<IndicatorValue> IndicatorValueFromJson(const nlohmann::json& j);
Result<UnitRef> UnitRefFromJson(const nlohmann::json& j);
Result<Period> PeriodFromJson(const nlohmann::json& j);
Result<ManualEntry> ManualEntryFromJson(const nlohmann::json& j);
Result<ScoreInputs> ScoreInputsFromJson(const nlohmann::json& j);
Result<UnitScore> UnitScoreFromJson(const nlohmann::json& j);

const char* AssessorName(Assessor a);  // "self" | "superior"

// The inputs recorded in a stored result (indicator figures and manual entries of every
// criterion), so that a past score can be recomputed with the rubric version it names.
ScoreInputs InputsFromScore(const UnitScore& s);

}  // namespace danvan::scoring
