// libFuzzer target: every data file an administrator or a query op can load (tagging rules,
// calendar years, deadline rules, procedure catalogue, units, indicator catalogue, rubric).
// The first byte picks the loader; the rest is written to a temporary file and loaded through
// the same path-based entry point the engine uses, so size, nesting and type checks are fuzzed.
#include <cstdint>
#include <cstdio>
#include <string>

#include <unistd.h>

#include "calendar/deadline_rules.h"
#include "calendar/procedures.h"
#include "calendar/working_calendar.h"
#include "indicators/catalog.h"
#include "indicators/units.h"
#include "scoring/rubric.h"
#include "tagging/rules.h"

namespace {

const std::string kSchemas = DANVAN_SOURCE_ROOT "/schemas";

std::string TempPath() {
  static const std::string path = [] {
    char dir_template[] = "/tmp/danvan-fuzz-files-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    return std::string(dir != nullptr ? dir : "/tmp") + "/2023.json";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string path = TempPath();
  FILE* f = fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  fwrite(data + 1, 1, size - 1, f);
  fclose(f);
  switch (data[0] % 7) {
    case 0: (void)danvan::tagging::RuleSet::FromFile(path, kSchemas); break;
    case 1: (void)danvan::calendar::WorkingCalendar::LoadFiles({path}, kSchemas); break;
    case 2: (void)danvan::calendar::DeadlineRules::Load(path, kSchemas); break;
    case 3: (void)danvan::calendar::ProcedureCatalogue::Load(path, kSchemas); break;
    case 4: (void)danvan::indicators::UnitTree::LoadFile(path, kSchemas); break;
    case 5: (void)danvan::indicators::IndicatorCatalog::LoadFile(path, kSchemas); break;
    default: (void)danvan::scoring::Rubric::FromFile(path, kSchemas + "/rubric.schema.json"); break;
  }
  return 0;
}
