// On-time classification of dossiers (the Decision 766 rule, domain.md §2) and petitions (their
// legal deadline, domain.md §3), with the instant at which the class will next change so that
// the engine's scheduler can fire the host's "due soon" and "overdue" alerts once each.
//
// HOW THE ENGINE CALLS THIS
//   At start-up: load the three data sets (immutable, shared by all threads)
//     auto cal   = WorkingCalendar::LoadDirectory(cfg.calendar_dir, cfg.schemas_dir);
//     auto rules = DeadlineRules::Load(cfg.deadlines_file, cfg.schemas_dir);
//     auto procs = ProcedureCatalogue::Load(cfg.procedures_file, cfg.schemas_dir);
//     OnTimeClassifier classifier(cal, procs, rules);
//   (after a LayThuTuc refresh: procs = UpsertFromLayThuTuc(*procs, answer); build a new
//   classifier and swap it in; old readers keep theirs.)
//   On submit of a dossier: gather the latest dossier item (`data` of the newest kind=dossier
//   event) and the record's status history (every progress item's {TrangThai, ThoiDiemXuLy},
//   plus, if the engine records them, the dossier events' TrangThaiHoSo at their event_time):
//     auto facts = DossierFacts::FromPortalItem(item, history);
//     auto c = classifier.ClassifyDossier(facts.value(), clock.NowMs());
//   On submit of a petition:
//     auto facts = PetitionFacts::FromRecordData(data);
//     auto c = classifier.ClassifyPetition(facts.value(), clock.NowMs());
//   Put c->ToJson() (class, due, end, elapsed, explanation) in the submit result.
//   Scheduler: store (record key, c->next_change_ms, c->next_class). When the instant passes,
//   re-classify at that instant; if the class became kDueSoon or kOpenOverdue and the engine has
//   not yet alerted that class for this record, fire the host alert and remember it. A record
//   with no next_change_ms (finished, overdue, not counted, or clock paused for a supplement)
//   changes class only on a new event: re-classify on submit and reschedule.
//   Indicators for a period [first_day, last_day]: classify with
//     as_of = cal->EndOfDayMs(last_day)   (unfinished dossiers are judged at the period's last
//   day; events after as_of are ignored). The "early or on time" numerator is
//   kEarly + kOnTime + kOpenWithinDeadline + kDueSoon; kNotCounted is outside the denominator.
//
// Cost: O(history + supplements) plus O(log days) per calendar call; no I/O, no locks, no
// allocation beyond the result. Thread-safety: OnTimeClassifier is immutable; concurrent calls
// are safe.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "calendar/deadline_rules.h"
#include "calendar/procedures.h"
#include "calendar/working_calendar.h"
#include "core/arena_json.h"
#include "core/status.h"

namespace danvan::calendar {

enum class OnTimeClass {
  kNotCounted,          // never received at as_of (status 1, or 3 without start): not counted
  kEarly,               // finished on a day before the due day
  kOnTime,              // finished on the due day, not after the due instant
  kLate,                // finished after the due instant, or more than one supplement request
  kOpenWithinDeadline,  // unfinished at as_of, before the due-soon window
  kDueSoon,             // unfinished at as_of, inside the due-soon window, not yet overdue
  kOpenOverdue,         // unfinished at as_of and past due (or more than one supplement request)
};
const char* OnTimeClassName(OnTimeClass c);  // "not_counted", "early", "on_time", ...

// Portal status codes (TrangThaiHoSo), domain.md §1.
struct StatusStep {
  int status = 0;
  int64_t at_ms = 0;
};

// One DanhSachHoSoBoSung[] entry: NgayBoSung (supplement requested), NgayTiepNhanBoSung
// (supplement received), NgayHenTraTruoc / NgayHenTraMoi (due date before / after).
struct SupplementRound {
  std::optional<int64_t> requested_at, received_at, previous_due, new_due;
};

struct DossierFacts {
  std::string ma_ho_so;
  std::string ma_tthc;
  int status = 0;                            // TrangThaiHoSo
  std::optional<int64_t> received_at;        // NgayTiepNhan (required)
  std::optional<int64_t> due_at;             // NgayHenTra ("" = none)
  std::optional<int64_t> end_at;             // NgayKetThucXuLy
  std::vector<SupplementRound> supplements;  // DanhSachHoSoBoSung
  std::vector<StatusStep> history;           // any order; sorted by time when used

  // From the portal dossier item (string values, dates yyyyMMddHHmmss at utc_offset). Malformed
  // dates are errors naming the field ("$.DanhSachHoSoBoSung[1].NgayBoSung").
  static Result<DossierFacts> FromPortalItem(const nlohmann::json& item,
                                             std::vector<StatusStep> history,
                                             int utc_offset_minutes = 420);
  // The same from an arena view (intake: core/arena_json.h); the same facts and errors.
  static Result<DossierFacts> FromPortalItem(const ArenaJson& item,
                                             std::vector<StatusStep> history,
                                             int utc_offset_minutes = 420);
  // One progress item (CapNhatTienDoHoSoMC): TrangThai + ThoiDiemXuLy.
  static Result<StatusStep> StepFromProgressItem(const nlohmann::json& item,
                                                 int utc_offset_minutes = 420);
};

// Classification::explanation, {"class": ..., "deadline": ..., "reasons": [{...}, ...]}, kept
// as the text of its reasons (each object serialised as nlohmann would: keys in byte order)
// instead of a document: every classification (intake, indicators, reports) builds one and
// most are only written out. Json() is the document; Write appends the same bytes as
// serialising it. Strings are written with error_handler_t::replace: they come from JSON
// documents already read (the record, the rule and procedure files) or are constants, valid
// UTF-8 either way. Not thread-shared while being built.
class Explanation {
 public:
  // A reason member's value: null, a string (not owned: it lives until Add returns), an integer
  // or a double.
  struct Value {
    enum class Kind { kNull, kString, kInt, kDouble } kind;
    std::string_view text;
    int64_t integer = 0;
    double real = 0;
    Value(std::nullptr_t) : kind(Kind::kNull) {}
    Value(const char* s) : kind(Kind::kString), text(s) {}
    Value(const std::string& s) : kind(Kind::kString), text(s) {}
    Value(int v) : kind(Kind::kInt), integer(v) {}
    Value(int64_t v) : kind(Kind::kInt), integer(v) {}
    Value(double v) : kind(Kind::kDouble), real(v) {}
  };
  struct Member {
    const char* key;
    Value value;
  };

  // {"reasons": []}: what a classification starts with (a default one is null).
  void Start();
  // Appends one reason object (distinct keys). Precondition: Start() was called.
  void Add(std::initializer_list<Member> reason);
  void SetClass(const char* name) { class_ = name; }
  void SetDeadline(nlohmann::json deadline) {
    deadline_ = std::move(deadline);
    has_deadline_ = true;
  }
  bool is_null() const { return !started_; }
  nlohmann::json Json() const;
  void Write(std::string* out, nlohmann::json::error_handler_t handler) const;

 private:
  bool started_ = false;
  const char* class_ = nullptr;
  bool has_deadline_ = false;
  nlohmann::json deadline_;
  std::string reasons_;  // the reason objects, comma-separated
};

struct Classification {
  OnTimeClass cls = OnTimeClass::kNotCounted;
  int64_t as_of_ms = 0;
  std::optional<int64_t> start_ms;  // NgayTiepNhan / the rule's start
  std::optional<int64_t> due_ms;    // effective due instant (after supplement pauses)
  std::optional<int64_t> end_ms;    // end of processing, if at or before as_of
  std::optional<int> end_status;    // the status that ended it (dossiers)
  std::string due_source;           // "NgayHenTra", "NgayHenTraMoi", "procedure", "legal_rule"
  // Processing time from start to end (or as_of), supplement waits excluded.
  int64_t elapsed_ms = 0;          // calendar time
  int64_t elapsed_working_ms = 0;  // working time (calendar working hours)
  int64_t paused_ms = 0, paused_working_ms = 0;
  int supplement_requests = 0;
  bool clock_paused = false;  // waiting for a supplement at as_of
  std::optional<int64_t> due_soon_from_ms;
  // When the class will change by the passage of time alone, and to what.
  std::optional<int64_t> next_change_ms;
  std::optional<OnTimeClass> next_class;
  std::string rule_id;  // petitions: the deadline rule used
  // Petitions: every legal step of the kind/round (config/deadlines.json), each
  // {"rule_id","step","description","legal_basis","day_type","start","due","state",
  //  "met_on"|"overdue_by_days"|"late_by_days", "used_for_classification"}; state is one of
  // "not_started" (its start field is not set), "due", "overdue", "met", "met_late",
  // "untracked" (no record field shows it done: due date for information), "error".
  nlohmann::json steps;
  // Petitions: the earliest instant at which a step still "due" becomes "overdue" (its due
  // date's last ms + 1), so the scheduler looks again then and alerts on that step.
  std::optional<int64_t> next_step_change_ms;
  // {"class": "...", "reasons": [{"code": "...", ...}, ...]}: codes are stable identifiers
  // (e.g. "end_by_status", "supplement_pause", "multiple_supplement_requests",
  // "due_from_procedure", "judged_at_as_of", "not_received").
  Explanation explanation;

  // Submit-result shape: instants as ISO 8601 at utc_offset, durations in ms.
  nlohmann::json ToJson(int utc_offset_minutes = 420) const;
  // Appends ToJson(utc_offset_minutes) serialised (core/json_write.h, with `handler`), without
  // building it: the same bytes.
  void WriteJson(std::string* out, int utc_offset_minutes = 420,
                 nlohmann::json::error_handler_t handler = nlohmann::json::error_handler_t::strict) const;
};

class OnTimeClassifier {
 public:
  // procedures may be empty (ProcedureCatalogue::Empty()); all three must be non-null.
  OnTimeClassifier(std::shared_ptr<const WorkingCalendar> calendar,
                   std::shared_ptr<const ProcedureCatalogue> procedures,
                   std::shared_ptr<const DeadlineRules> rules);

  // The Decision 766 rule at instant `as_of_ms` (now, or the period's last day end). Errors:
  // NgayTiepNhan missing while the status is neither 1 nor 3 (kInvalidInput; in status 1 or 3 it
  // is kNotCounted, "not_received"); no NgayHenTra and MaTTHC not in the catalogue
  // (kNotFound); an instant outside the loaded calendar (kNotFound); a finished status with no
  // end time in history nor NgayKetThucXuLy (kInvalidInput).
  Result<Classification> ClassifyDossier(const DossierFacts& d, int64_t as_of_ms) const;

  // The petition against its legal deadline: the classification rule of its kind/round with
  // the lowest classify_priority whose start field is set at as_of (e.g. complaint: resolve from
  // accepted_at, else accept from received_at). End = resolved_at, else decision_at, for the
  // statuses resolved/rejected/withdrawn/forwarded/closed. Errors as for ComputeDeadline, plus
  // a finished status without resolved_at/decision_at (kInvalidInput).
  Result<Classification> ClassifyPetition(const PetitionFacts& p, int64_t as_of_ms) const;

  const WorkingCalendar& calendar() const { return *calendar_; }
  const ProcedureCatalogue& procedures() const { return *procedures_; }
  const DeadlineRules& rules() const { return *rules_; }

 private:
  // Every legal step of the petition's kind/round with its deadline and state at as_of
  // (Classification::steps); classified_by: the rule the classification used.
  // *next_step_change (may be null): see Classification::next_step_change_ms.
  nlohmann::json PetitionSteps(const PetitionFacts& p, int64_t as_of, const std::string& classified_by,
                               std::optional<int64_t>* next_step_change = nullptr) const;
  // Sets cls / due soon / next change for an open or finished record whose due is known.
  Status Decide(Classification* c, const DueSoonHorizon& horizon) const;

  std::shared_ptr<const WorkingCalendar> calendar_;
  std::shared_ptr<const ProcedureCatalogue> procedures_;
  std::shared_ptr<const DeadlineRules> rules_;
};

}  // namespace danvan::calendar
