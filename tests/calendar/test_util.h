// Shared helpers for the calendar tests: repo data paths and time literals in Vietnam time.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "calendar/deadline_rules.h"
#include "calendar/ontime.h"
#include "calendar/procedures.h"
#include "calendar/working_calendar.h"
#include "core/timeutil.h"

namespace danvan::calendar::testing {

inline std::string Root() { return DANVAN_SOURCE_ROOT; }
inline std::string SchemasDir() { return Root() + "/schemas"; }
inline std::string CalendarDir() { return Root() + "/config/calendar"; }

// "2023-03-01T08:00:00" read at UTC+7.
inline int64_t T(const std::string& iso) {
  auto t = ParseIsoTime(iso, 420);
  EXPECT_TRUE(t.has_value()) << iso;
  return t.value_or(0);
}
// Portal format yyyyMMddHHmmss of a local time literal.
inline std::string P(const std::string& iso) { return FormatPortalTime(T(iso), 420); }
inline int64_t D(const std::string& date) {
  auto d = ParseIsoDate(date);
  EXPECT_TRUE(d.has_value()) << date;
  return d.value_or(0);
}
inline std::string Iso(int64_t ms) { return FormatIsoTime(ms, 420); }

inline std::shared_ptr<const WorkingCalendar> ShippedCalendar() {
  static std::shared_ptr<const WorkingCalendar> cal = [] {
    auto r = WorkingCalendar::LoadDirectory(CalendarDir(), SchemasDir());
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value() : nullptr;
  }();
  return cal;
}
inline std::shared_ptr<const DeadlineRules> ShippedRules() {
  static std::shared_ptr<const DeadlineRules> rules = [] {
    auto r = DeadlineRules::Load(Root() + "/config/deadlines.json", SchemasDir());
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value() : nullptr;
  }();
  return rules;
}
inline std::shared_ptr<const ProcedureCatalogue> ShippedProcedures() {
  static std::shared_ptr<const ProcedureCatalogue> procs = [] {
    auto r = ProcedureCatalogue::Load(Root() + "/config/procedures.json", SchemasDir());
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value() : nullptr;
  }();
  return procs;
}

// A scratch directory under the build tree's temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("danvan_calendar_test_" +
             std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
             std::to_string(counter_++) + "_" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string p = (path_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

}  // namespace danvan::calendar::testing
