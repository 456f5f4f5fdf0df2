// The report model: the JSON document every report format is rendered from. The engine fills
// it (indicator figures from plugin/indicators, ranked UnitScores from plugin/scoring, action
// lists from stored records) and hands it to the writers (reports/writers.h). The writers never
// read storage or the clock: the same model gives byte-identical output.
//
// JSON shape (ToJson / ReportModelFromJson; "?" marks optional fields):
// {
//   "meta": {
//     "kind": "six_month" | "annual",
//     "title"?: "BÁO CÁO ...",            // default from kind and period label
//     "period": {kind, from, to, label},   // scoring::Period; `to` is the cut-off day
//     "previous_period"?: {...},           // the period the "previous" figures come from
//     "cut_off": "2023-06-15",             // last day counted (15/6 or 10/12 by default)
//     "due": "2023-06-15"?,                // date the report must be sent (plan section III)
//     "scope": "unit" | "department",
//     "unit": {code, name, parent},        // the unit the report is generated for
//     "rubric": {"id", "version"},
//     "generated_at"?: "2023-06-16T08:00:00+07:00",  // only if the caller wants it printed
//     "generated_by"?: "Văn phòng Sở"
//   },
//   "indicator_tables": [{
//     "id": "idx766", "title": "Chỉ số phục vụ ...", "unit_code"?: "SGDDT",
//     "rows": [{"indicator_id": "idx766.on_time", "label"?: "...", "format"?: "percent",
//               "current": IndicatorValue?, "previous": IndicatorValue?}]
//   }],
//   "scores": [UnitScore...],              // scoring::ToJson, in Rank() order (held packed:
//                                          // scoring/packed_scores.h)
//   "actions": {                           // held as packed rows (reports/packed_list.h)
//     "overdue_petitions": [{id, title, kind, unit, received_at, due_at, days_overdue, assignee}],
//     "cases": [{id, title, kind, unit, received_at, status, flags: ["protracted", "complex",
//                "group", "reraised"], note}],
//     "missed_head_reception": [{unit_code, unit_name, month: "2023-03"}],
//     "late_plan_tasks": [{plan_id, task_no, title, lead_unit, due, progress_percent, status}],
//     "dvk_models": [{name, model_type, field, registering_unit, registered_at,
//                     recognition_level, recognition_decision, recognised_at}]
//   },
//   "summary"?: ["...", ...]               // filled by ComposeSummary when absent
// }
// Row "format" defaults from the indicator id (DefaultIndicatorFormat): "percent" shows the
// ratio, "count" the numerator, "days" the ratio as days, "fraction" numerator/denominator.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "reports/packed_list.h"
#include "scoring/model.h"
#include "scoring/packed_scores.h"

namespace danvan::reports {

using scoring::IndicatorValue;
using scoring::PackedScores;
using scoring::Period;
using scoring::ScoreSummary;
using scoring::UnitRef;
using scoring::UnitScore;

struct ReportMeta {
  std::string kind = "six_month";  // "six_month" | "annual"
  std::string title;
  Period period;
  std::optional<Period> previous_period;
  std::string cut_off;
  std::string due;
  std::string scope = "unit";  // "unit" | "department"
  UnitRef unit;
  std::string rubric_id;
  std::string rubric_version;
  std::string generated_at;
  std::string generated_by;
};

struct IndicatorRow {
  std::string indicator_id;
  std::string label;   // empty: DefaultIndicatorLabel
  std::string format;  // empty: DefaultIndicatorFormat
  std::optional<IndicatorValue> current;
  std::optional<IndicatorValue> previous;
};

struct IndicatorTable {
  std::string id;
  std::string title;
  std::string unit_code;  // the unit the figures are for; empty = meta.unit
  std::vector<IndicatorRow> rows;
};

struct OverduePetition {
  std::string id, title, kind, unit, received_at, due_at, assignee;
  int days_overdue = 0;
  // Every legal step overdue at the report's date (domain.md §3), e.g.
  // "Thụ lý khiếu nại lần đầu: hạn 13/4/2023, quá 3 ngày" (Vietnamese, one per step).
  std::vector<std::string> overdue_steps = {};
};

struct CaseItem {
  std::string id, title, kind, unit, received_at, status, note;
  std::vector<std::string> flags;  // "protracted", "complex", "group", "reraised"
};

struct MissedReception {
  std::string unit_code, unit_name, month;  // month "2023-03"
};

struct LateTask {
  std::string plan_id, task_no, title, lead_unit, due, status;
  double progress_percent = 0;
};

struct DvkModel {
  std::string name, model_type, field, registering_unit, registered_at;
  std::string recognition_level, recognition_decision, recognised_at;  // empty if not recognised
};

// The fields of each item, for PackedList (reports/packed_list.h).
template <typename F>
void Fields(OverduePetition& x, F&& f) {
  f(x.id), f(x.title), f(x.kind), f(x.unit), f(x.received_at), f(x.due_at), f(x.assignee);
  f(x.days_overdue), f(x.overdue_steps);
}
template <typename F>
void Fields(CaseItem& x, F&& f) {
  f(x.id), f(x.title), f(x.kind), f(x.unit), f(x.received_at), f(x.status), f(x.note), f(x.flags);
}
template <typename F>
void Fields(MissedReception& x, F&& f) {
  f(x.unit_code), f(x.unit_name), f(x.month);
}
template <typename F>
void Fields(LateTask& x, F&& f) {
  f(x.plan_id), f(x.task_no), f(x.title), f(x.lead_unit), f(x.due), f(x.status), f(x.progress_percent);
}
template <typename F>
void Fields(DvkModel& x, F&& f) {
  f(x.name), f(x.model_type), f(x.field), f(x.registering_unit), f(x.registered_at);
  f(x.recognition_level), f(x.recognition_decision), f(x.recognised_at);
}

// Packed (one byte string per item): a city's annual report lists ~34,000 items.
struct ReportActions {
  PackedList<OverduePetition> overdue_petitions;
  PackedList<CaseItem> cases;
  PackedList<MissedReception> missed_head_reception;
  PackedList<LateTask> late_plan_tasks;
  PackedList<DvkModel> dvk_models;
};

struct ReportModel {
  ReportMeta meta;
  std::vector<IndicatorTable> indicator_tables;
  PackedScores scores;  // Rank() order; compact (scoring/packed_scores.h)
  ReportActions actions;
  std::vector<std::string> summary;
};

nlohmann::json ToJson(const ReportModel& m);
// Writes ToJson(m).dump(2) followed by a newline, byte for byte, without building the document:
// one action-list item or unit score is a document at a time (bounded memory for city-scale
// reports). Internal for text that is not UTF-8 (what dump would throw for); the stream's
// own failure is the caller's to check.
Status WriteJson(const ReportModel& m, std::ostream& out);
// Strict: InvalidInput naming the field for wrong types or unknown kind/scope/format values.
Result<ReportModel> ReportModelFromJson(const nlohmann::json& j);

// Vietnamese label and display format for the indicator ids of the contract
// (config/rubric/README.md); unknown ids return the id itself and "count".
std::string DefaultIndicatorLabel(const std::string& id);
std::string DefaultIndicatorFormat(const std::string& id);
// "BÁO CÁO KẾT QUẢ CÔNG TÁC DÂN VẬN 6 THÁNG ĐẦU NĂM 2023" etc. when meta.title is empty.
std::string ReportTitle(const ReportMeta& meta);
// Vietnamese names for model values: petition kinds, case flags, task status, DVK fields...
std::string KindLabel(const std::string& value);

// A few Vietnamese sentences built only from the model's figures (indicator tables of the
// report's own unit, scores, action lists). Sentences whose figures are missing are left out.
std::vector<std::string> ComposeSummary(const ReportModel& m);
// Sets m->summary from ComposeSummary when it is empty.
void FillSummary(ReportModel* m);

}  // namespace danvan::reports
