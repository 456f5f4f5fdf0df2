// Scoring and report query ops (issue 5), registered on an Engine through RegisterOp:
//   score, score.reproduce, score.manual, score.manual.list, report.
// Rubrics are read from <config_dir>/rubric/<name>.json (validated with
// <schemas_dir>/rubric.schema.json) and cached per file state; manual entries, stored scores and
// every rubric version used are kept in the store's append-only journal ("manual_entry",
// "score", "rubric"), so a stored score is recomputed exactly with the rubric it used.
#pragma once

#include <string>
#include <vector>

#include "engine/engine.h"

namespace danvan {

void RegisterReportOps(Engine& engine);

// The contribution series whose records the report's action lists name (overdue petitions,
// flagged cases, head-of-unit reception sessions, late plan tasks, "Dân vận khéo" models): the
// engine keeps them per record (indicators::RecordSeriesIndex) so a report does not scan records.
const std::vector<std::string>& ActionListSeries();

}  // namespace danvan
