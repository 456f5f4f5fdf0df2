// Legal deadlines of petitions as data (config/deadlines.json, schema
// schemas/deadlines.schema.json; defaults and legal bases in domain.md §3), and the computation
// of a petition's due date from its record data.
//
// Counting convention (Civil Code 2015 art. 147, also used by the Complaints Law): a period of N
// days starts on the day after the starting event, so the due day is start_day + N calendar
// days, or WorkingCalendar::AddWorkingDays(start_day, N) for working days. The due instant is the
// last millisecond of the due day (local time). A calendar-day deadline whose due day is not a
// working day moves to the next working day when the rule says move_to_next_working_day.
//
// Thread-safety: DeadlineRules is immutable and shared as std::shared_ptr<const DeadlineRules>.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "calendar/working_calendar.h"
#include "core/arena_json.h"
#include "core/bounded_input.h"
#include "core/status.h"

namespace danvan::calendar {

enum class DayType { kCalendar, kWorking };
const char* DayTypeName(DayType t);

// "Due soon" horizon: an open record is due soon from DueSoonStart(due) until its due instant.
struct DueSoonHorizon {
  enum class Unit { kHours, kCalendarDays, kWorkingDays };
  int64_t value = 0;
  Unit unit = Unit::kWorkingDays;
};

struct ExtensionPolicy {
  int max_count = 0;
  int64_t max_days_each = 0;
  DayType day_type = DayType::kCalendar;
  bool reason_required = false;
  std::string legal_basis;
};

struct DeadlineRule {
  std::string id;
  std::string petition_kind;  // or "*"
  int round = 0;              // 0: any round
  std::string step;           // "intake", "accept", "resolve", ...
  std::string start_from;     // "received_at" | "accepted_at" | "decision_at" | "resolved_at"
  DayType day_type = DayType::kCalendar;
  int64_t days = 0;
  std::optional<int64_t> complex_days, remote_area_days, remote_area_complex_days;
  bool move_to_next_working_day = false;
  ExtensionPolicy extensions;
  int classify_priority = 0;  // 0: not used for classification
  // Record fields whose presence (at or before as_of) shows the step done, first present wins;
  // empty: no field of the record shows it ("untracked": the due date is shown, never alerted).
  std::vector<std::string> met_by;
  // The step applies only while the record's status is one of these (empty: always).
  std::vector<std::string> applies_to_status;
  std::string description;
  std::string legal_basis, note;
  bool unconfirmed = false;
};

struct PetitionExtension {
  int64_t days = 0;
  std::string reason;
  std::optional<int64_t> at_ms;
};

// The petition fields the deadline and the classification use (architecture.md, kind
// "petition"). Instants in ms UTC; ISO dates without time are local midnight.
struct PetitionFacts {
  std::string id;
  std::string
      petition_kind;  // complaint | denunciation | petition | feedback | feedback_regulation
  int round = 1;
  std::string status;  // received | accepted | in_progress | resolved | rejected | withdrawn |
                       // forwarded | closed
  std::optional<int64_t> received_at, accepted_at, decision_at, resolved_at;
  bool complex = false;
  bool remote_area = false;
  std::vector<PetitionExtension> extensions;

  // From the record's `data` object. A missing petition_kind is an error (classify first);
  // malformed dates are errors naming the field ("$.data.received_at"). `petition_kind`, when
  // not null, is read as the data's petition_kind (the caller's classification of data that has
  // none), as if the data held it.
  static Result<PetitionFacts> FromRecordData(const nlohmann::json& data,
                                              int utc_offset_minutes = 420,
                                              const std::string* petition_kind = nullptr);
  // The same from an arena view (intake: core/arena_json.h); the same facts and errors.
  static Result<PetitionFacts> FromRecordData(const ArenaJson& data,
                                              int utc_offset_minutes = 420,
                                              const std::string* petition_kind = nullptr);
};

struct DeadlineResult {
  std::string rule_id, step, legal_basis;
  bool unconfirmed = false;
  DayType day_type = DayType::kCalendar;
  int64_t start_ms = 0;
  int64_t start_day = 0;
  int64_t base_days = 0;       // after the complex / remote-area variant
  std::string variant;         // "base", "complex", "remote_area", "remote_area_complex"
  int64_t extension_days = 0;  // accepted extension days
  int extensions_applied = 0;
  bool moved_to_next_working_day = false;
  int64_t due_day = 0;
  int64_t due_ms = 0;          // last ms of due_day
  nlohmann::json explanation;  // array of {"code": ..., ...}
};

class DeadlineRules {
 public:
  // The file is read within `limits` (core/bounded_input.h).
  static Result<std::shared_ptr<const DeadlineRules>> Load(const std::string& path,
                                                           const std::string& schemas_dir,
                                                           const JsonReadLimits& limits = {});
  static Result<std::shared_ptr<const DeadlineRules>> FromJson(const nlohmann::json& doc,
                                                               const std::string& label);

  // The rule for kind/round/step (a rule for round 0 or kind "*" matches any); nullptr if none.
  const DeadlineRule* Find(std::string_view kind, int round, std::string_view step) const;
  // Classification candidates for kind/round, by classify_priority ascending.
  std::vector<const DeadlineRule*> ClassificationRules(std::string_view kind, int round) const;
  const std::vector<DeadlineRule>& rules() const { return rules_; }
  const DueSoonHorizon& dossier_due_soon() const { return dossier_due_soon_; }
  const DueSoonHorizon& petition_due_soon() const { return petition_due_soon_; }

 private:
  std::vector<DeadlineRule> rules_;
  DueSoonHorizon dossier_due_soon_, petition_due_soon_;
};

// The start instant the rule counts from, or nullopt if the petition lacks that field.
std::optional<int64_t> RuleStart(const DeadlineRule& rule, const PetitionFacts& p);

// Due date of `p` under `rule`. Errors: the start field is missing (kInvalidInput), or the
// period leaves the loaded calendar (kNotFound). Extensions beyond the rule's count or length,
// or without a required reason, are not applied and are listed in the explanation.
Result<DeadlineResult> ComputeDeadline(const DeadlineRule& rule, const PetitionFacts& p,
                                       const WorkingCalendar& cal);

// Instant from which a record with due instant `due_ms` counts as due soon.
Result<int64_t> DueSoonStart(const DueSoonHorizon& h, int64_t due_ms, const WorkingCalendar& cal);

}  // namespace danvan::calendar
