// deadlines.list (issue 15, the console's "overdue and due-soon" page): the unfinished records
// of a kind whose stored deadline classification is overdue or due soon at the clock's now.
// Read-only; registered on an Engine through RegisterOp.
#pragma once

#include "engine/engine.h"

namespace danvan {

void RegisterDeadlineListOps(Engine& engine);

}  // namespace danvan
