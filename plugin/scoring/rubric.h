// A scoring rubric: data, never code. Loaded from a JSON file validated against
// schemas/rubric.schema.json (valijson) plus semantic checks the schema cannot express.
// See config/rubric/README.md for the criterion types with worked examples.
//
// A Rubric is immutable after loading; share it freely between threads.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/bounded_input.h"
#include "core/status.h"

namespace danvan::scoring {

enum class CriterionType { kBands, kLinear, kThreshold, kPerItem, kCount, kManual };
enum class ValueOf { kRatio, kNumerator, kDenominator };
enum class NoDataPolicy { kZero, kFull, kRedistribute };
enum class ManualUse { kSuperiorElseSelf, kSuperior, kSelf, kAverage };

struct Band {
  double min = 0;
  double points = 0;
};

struct Redistribution {
  std::string criterion;  // target criterion id
  double share = 0;       // fraction of this criterion's max added to the target's max
};

struct Criterion {
  std::string id;
  std::string name;
  CriterionType type = CriterionType::kManual;
  double max_points = 0;
  double min_points = 0;  // per_item / manual lower bound (e.g. -5); 0 otherwise
  std::string indicator;  // empty for manual
  ValueOf value_of = ValueOf::kRatio;
  std::vector<Band> bands;
  double otherwise = 0;
  double low = 0, high = 0;
  bool invert = false;
  std::optional<double> threshold;
  double points_per_item = 0;
  double target = 0;
  NoDataPolicy no_data = NoDataPolicy::kZero;
  std::vector<Redistribution> redistribute_to;
  ManualUse use = ManualUse::kSuperiorElseSelf;
  std::string source;
};

struct Group {
  std::string id;
  std::string name;
  bool adjustment = false;  // bonus/penalty group: outside max_points, clamped to its own range
  double max_points = 0;
  double min_points = 0;
  std::vector<Criterion> criteria;
};

struct RatingBand {
  std::string name;
  double min = 0;
};

// A unit is not eligible for rating when the value of the indicator, or the sum of the values
// of several indicators ("too few records"), is below min.
struct EligibilityRule {
  std::vector<std::string> indicators;
  ValueOf value_of = ValueOf::kNumerator;
  double min = 0;
  std::string reason;  // Vietnamese, shown to the unit
};

class Rubric {
 public:
  // Validates `j` against the schema at `schema_path` (default:
  // rubric.schema.json of the data directory found by core/data_dirs.h; the engine passes
  // `schemas_dir` from the runtime config) and then semantically. Errors are InvalidInput with a Vietnamese message.
  static Result<Rubric> FromJson(const nlohmann::json& j, const std::string& schema_path = "");
  // The file is read within `limits` (core/bounded_input.h).
  static Result<Rubric> FromFile(const std::string& path, const std::string& schema_path = "",
                                 const JsonReadLimits& limits = {});
  static std::string DefaultSchemaPath();

  const std::string& id() const { return id_; }
  const std::string& version() const { return version_; }
  const std::string& title() const { return title_; }
  // FNV-1a 64 of the canonical (sorted-key) JSON text, 16 hex digits: two rubrics with the same
  // id and version but different content are told apart.
  const std::string& digest() const { return digest_; }
  double max_points() const { return max_points_; }
  double total_min() const { return total_min_; }
  double total_max() const { return total_max_; }
  int precision() const { return precision_; }
  const std::vector<Group>& groups() const { return groups_; }
  const std::vector<RatingBand>& rating_bands() const { return rating_bands_; }
  const std::string& not_eligible_label() const { return not_eligible_label_; }
  const std::vector<EligibilityRule>& eligibility_rules() const { return eligibility_rules_; }
  // The rubric as loaded (store it with results to rescore later).
  const nlohmann::json& source_json() const { return json_; }

  // nullptr when absent.
  const Criterion* FindCriterion(const std::string& id) const;
  // Every indicator id the rubric reads (criteria and eligibility), sorted, unique.
  std::vector<std::string> IndicatorIds() const;

 private:
  std::string id_, version_, title_, digest_;
  double max_points_ = 0, total_min_ = 0, total_max_ = 0;
  int precision_ = 2;
  std::vector<Group> groups_;
  std::vector<RatingBand> rating_bands_;
  std::string not_eligible_label_ = "Không xếp loại";
  std::vector<EligibilityRule> eligibility_rules_;
  nlohmann::json json_;
  std::map<std::string, std::pair<size_t, size_t>> index_;  // criterion id -> (group, criterion)
};

// Holds several versions of rubrics so a stored score is recomputed with the version it names.
class RubricRegistry {
 public:
  // Conflict if the same id+version is already held with a different digest.
  Status Add(Rubric rubric);
  // NotFound names the id and version.
  Result<const Rubric*> Find(const std::string& id, const std::string& version) const;

 private:
  std::map<std::pair<std::string, std::string>, Rubric> rubrics_;
};

}  // namespace danvan::scoring
