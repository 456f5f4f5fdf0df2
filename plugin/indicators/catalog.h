// Indicator definitions and their computation from the aggregates, for one unit and period.
// The formulas follow the national service-quality index (Decision 766/QĐ-TTg, as the
// national portal computes it, domain.md §2); points, thresholds and group weights come from
// config/indicators.json (schemas/indicators.schema.json), never from code.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bounded_input.h"
#include "core/status.h"
#include "indicators/series_index.h"

namespace danvan::indicators {

struct Period {
  std::string kind;  // month | quarter | half_year | year | range
  std::string label; // Vietnamese, e.g. "6 tháng đầu năm 2023 (1/1/2023 – 15/6/2023)"
  int64_t from_day = 0;
  int64_t to_day = 0;  // inclusive
  nlohmann::json ToJson() const;
  // Appends the same bytes as DumpJson(ToJson(), out, replace), without the document.
  void AppendJson(std::string* out) const;
};

// The idx766 points of one computation, without a document. Slots are IndicatorCatalog's
// idx766_ids(): the distinct ids of the configured groups' indicators, sorted by id.
struct Idx766Score {
  std::vector<double> max;                    // by slot, after the "no petitions" redistribution
  std::vector<std::optional<double>> points;  // by slot; nullopt: the ratio is not defined
  std::vector<double> group_points, group_max_computable;  // by configured group
  double points_total = 0;
  double max_computable = 0;
  bool redistributed = false;
};

struct IndicatorDef;

struct IndicatorValue {
  std::string id;
  std::string name;  // Vietnamese label
  std::string unit_of_measure;  // "ratio" | "count" | "days" | "months"
  double numerator = 0;
  double denominator = 0;
  std::optional<double> ratio{};   // ratio/average indicators, null when the denominator is 0
  std::optional<double> points{};  // idx766 indicators
  std::optional<double> max_points{};
  nlohmann::json ToJson() const;
  // Appends the same bytes as DumpJson(ToJson(), out, replace) (core/json_write.h), without
  // the document. Also Period::AppendJson. def: null, or the definition this value was computed
  // from (its id, name and measure are the value's; their JSON is then not written again).
  void AppendJson(std::string* out, const IndicatorDef* def = nullptr) const;
};

// One term of a formula: a series read as a range sum, as a level on the as-of day, or as the
// level on the day before the period.
struct Term {
  enum class Mode { kRange, kLevel, kBeforeStart } mode;
  std::string series;
  double sign = 1;
  size_t slot = 0;  // the series' position in IndicatorCatalog::series() (set by FromConfig)
};

struct IndicatorDef {
  std::string id;
  std::string name;
  std::string unit_of_measure;
  std::vector<Term> numerator;
  std::vector<Term> denominator;  // empty: a count (ratio not defined)
  bool complement = false;        // numerator = denominator - numerator terms
  bool months_held = false;       // months of the period with the numerator series > 0
  bool average_age = false;       // backlog age: as_of - level(sum)/level(count)
  // Whether a term reads a petition's on-time class (p.resolved_ontime, p.open_overdue: the
  // series contributions.cc writes from the deadline rules' classification). Set by FromConfig.
  bool reads_petition_class = false;
  // id, name and unit_of_measure as JSON strings (AppendJsonString, replace), written once by
  // FromConfig for IndicatorValue::AppendJson.
  std::string id_json{}, name_json{}, measure_json{};
};

class IndicatorCatalog {
 public:
  // config: the parsed config/indicators.json (already schema-validated).
  static Result<std::shared_ptr<const IndicatorCatalog>> FromConfig(const nlohmann::json& config);
  // The file is read within `limits` (core/bounded_input.h).
  static Result<std::shared_ptr<const IndicatorCatalog>> LoadFile(const std::string& path,
                                                                  const std::string& schemas_dir,
                                                                  const JsonReadLimits& limits = {});

  // Resolves {"kind":"month","year":2023,"month":3} | {"kind":"quarter","year":2023,"quarter":2}
  // | {"kind":"half_year","year":2023} | {"kind":"year","year":2023}
  // | {"from":"2023-01-01","to":"2023-06-15"}.
  Result<Period> ResolvePeriod(const nlohmann::json& spec) const;
  // The period of the same kind just before (for report comparisons).
  Period Previous(const Period& p) const;

  const std::vector<IndicatorDef>& definitions() const { return defs_; }
  // The distinct series the definitions' terms read (Term::slot indexes it).
  const SeriesList& series() const { return *series_; }
  const IndicatorDef* Find(const std::string& id) const;

  // Computes the requested ids (all when empty) for unit and period. Level terms are read on
  // min(period end, today_day): an open period is judged today.
  std::vector<IndicatorValue> Compute(const SeriesIndex& index, const std::string& unit,
                                      const Period& period, int64_t today_day,
                                      const std::vector<std::string>& ids = {}) const;
  // The idx766 points with group subtotals and the "no petitions" redistribution.
  // This is the reference form (the DOM answer of the indicators op, the tests' oracle); the
  // ABI's answer is written from Idx766 (the same figures) by AppendIdx766Points.
  nlohmann::json Idx766Points(const std::vector<IndicatorValue>& values) const;
  // The same points as a struct (no document, no map): what Compute uses. Fastest with Compute's
  // answer for every definition (values[k] is defs_[k]); any other list is searched by id.
  Idx766Score Idx766(const std::vector<IndicatorValue>& values) const;
  // Appends the bytes of DumpJson(Idx766Points(values), out, replace) from a score of `values`.
  void AppendIdx766Points(const Idx766Score& score, std::string* out) const;
  const std::vector<std::string>& idx766_ids() const { return idx766_ids_; }
  const std::string& version() const { return version_; }
  // Whether the head of a unit of this type must hold a periodic citizen-reception session every
  // month (config "head_reception.unit_types"; every unit when the section is absent).
  bool HeadReceptionRequired(const std::string& unit_type) const {
    return head_reception_types_.empty() || head_reception_types_.count(unit_type) > 0;
  }

 private:
  void CompileIdx766();

  std::vector<IndicatorDef> defs_;
  std::unique_ptr<const SeriesList> series_;
  // Positions in defs_ by id (the first definition of an id wins, as a scan would find it).
  std::map<std::string, size_t, std::less<>> by_id_;
  nlohmann::json idx766_;
  // idx766_ compiled once (FromConfig): the slots, their configured max and threshold (the last
  // entry of an id wins, as in Idx766Points), the groups and the redistribution.
  struct Idx766Group {
    std::string id_json, name_json, max_json;  // the configured values, written (replace)
    std::vector<size_t> slots;                 // the group's indicators, in configured order
  };
  std::vector<std::string> idx766_ids_;
  std::vector<size_t> idx766_def_;  // by slot: the position of its id in defs_ (SIZE_MAX: none)
  std::vector<std::string> idx766_id_json_;  // "\"id\":" written once per slot
  std::vector<double> idx766_max_;
  std::vector<std::optional<double>> idx766_threshold_;
  std::vector<Idx766Group> idx766_groups_;
  std::optional<size_t> redistribution_from_;  // slot; none: no redistribution configured for
  std::string redistribution_from_id_;         // an id of the groups
  std::vector<std::optional<size_t>> redistribution_to_;  // slots (none: not an id of a group)
  std::string version_;
  std::string half_start_, half_cutoff_, year_start_, year_cutoff_;
  std::set<std::string> head_reception_types_;
};

}  // namespace danvan::indicators
