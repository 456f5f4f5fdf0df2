// Scoring and report query ops (issue 5), registered on an Engine through RegisterOp:
//   score, score.reproduce, score.manual, score.manual.list, report.
// Rubrics are read from <config_dir>/rubric/<name>.json (validated with
// <schemas_dir>/rubric.schema.json) and cached per file state; manual entries, stored scores and
// every rubric version used are kept in the store's append-only journal ("manual_entry",
// "score", "rubric"), so a stored score is recomputed exactly with the rubric it used.
#pragma once

#include "engine/engine.h"

namespace danvan {

void RegisterReportOps(Engine& engine);

}  // namespace danvan
