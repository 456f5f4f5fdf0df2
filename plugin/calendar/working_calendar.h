// Working-day calendar of Vietnamese state agencies, loaded from yearly data files
// (config/calendar/<year>.json, schema schemas/calendar.schema.json).
//
// Days are civil day numbers (days since 1970-01-01, core/timeutil.h) in Vietnam local time;
// instants are ms since the epoch UTC. The loaded years must be contiguous; any day outside
// them is an error value (kNotFound, "ngoài phạm vi lịch đã nạp"), never a guess.
//
// Thread-safety: a WorkingCalendar is immutable once built and is shared as
// std::shared_ptr<const WorkingCalendar>; every method is const and safe to call concurrently.
// Cost: day queries are O(1); AddWorkingDays / AddWorkingMs are O(log days) (prefix sums);
// loading parses and validates one small file per year.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/bounded_input.h"
#include "core/status.h"

namespace danvan::calendar {

enum class DayKind : uint8_t {
  kWorkday = 0,      // ordinary working day
  kWeekend,          // weekly rest day
  kHoliday,          // public holiday of the Labour Code (art. 112)
  kCompensatoryOff,  // off because a holiday fell on a weekly rest day
  kSwappedOff,       // working day swapped to off (make-up on another day)
  kGrantedOff,       // extra day off granted by the government
  kMakeupWorking,    // weekend day worked in exchange
};
const char* DayKindName(DayKind kind);  // "workday", "weekend", "holiday", ...

struct DayInfo {
  int64_t day = 0;
  bool working = false;
  DayKind kind = DayKind::kWorkday;
  // From the data file (empty for days that follow the weekly pattern).
  std::string name;
  std::string source;
  std::string note;
  bool unconfirmed = false;
};

class WorkingCalendar {
 public:
  // Loads every "<yyyy>.json" in `dir`, validating each with `schemas_dir`/calendar.schema.json.
  // Each file is read within `limits` (core/bounded_input.h).
  static Result<std::shared_ptr<const WorkingCalendar>> LoadDirectory(
      const std::string& dir, const std::string& schemas_dir, const JsonReadLimits& limits = {});
  // Loads the given year files (any order; years must be distinct and contiguous).
  static Result<std::shared_ptr<const WorkingCalendar>> LoadFiles(
      const std::vector<std::string>& files, const std::string& schemas_dir,
      const JsonReadLimits& limits = {});
  // From already parsed documents; `labels` name them in error messages. Documents must already
  // be schema-valid (LoadFiles validates); semantic checks are done here.
  static Result<std::shared_ptr<const WorkingCalendar>> FromDocuments(
      const std::vector<nlohmann::json>& docs, const std::vector<std::string>& labels);

  int first_year() const { return first_year_; }
  int last_year() const { return last_year_; }
  int64_t first_day() const { return first_day_; }
  int64_t last_day() const { return first_day_ + static_cast<int64_t>(days_.size()) - 1; }
  bool Covers(int64_t day) const { return day >= first_day() && day <= last_day(); }
  // UTC offset of the calendar's local time (Vietnam: 420).
  int utc_offset_minutes() const { return utc_offset_minutes_; }

  // Local civil day of an instant; first and last ms of a local day.
  int64_t DayOf(int64_t epoch_ms) const;
  int64_t StartOfDayMs(int64_t day) const;
  int64_t EndOfDayMs(int64_t day) const;  // last millisecond of the day (23:59:59.999)

  Result<bool> IsWorkingDay(int64_t day) const;
  Result<DayInfo> Describe(int64_t day) const;
  // First working day strictly after `day`.
  Result<int64_t> NextWorkingDay(int64_t day) const;
  // `day` itself if it is a working day, else the next one.
  Result<int64_t> OnOrNextWorkingDay(int64_t day) const;
  // n > 0: the n-th working day after `day` (`day` itself not counted; "within 5 working days of
  // receipt" ends on AddWorkingDays(receipt_day, 5)). n < 0: the |n|-th working day before `day`.
  // n == 0: `day`.
  Result<int64_t> AddWorkingDays(int64_t day, int64_t n) const;
  // Number of working days d with from < d <= to (negative if to < from), so that
  // WorkingDaysBetween(d, AddWorkingDays(d, n)) == n.
  Result<int64_t> WorkingDaysBetween(int64_t from, int64_t to) const;

  // Working hours: each working day has the periods of its year's file (working_hours.periods,
  // hours_per_day). Working time in [from_ms, to_ms) (0 if to <= from).
  Result<int64_t> WorkingMsBetween(int64_t from_ms, int64_t to_ms) const;
  // The instant at which `working_ms` (>= 0) of working time has elapsed from `from_ms`. 0 gives
  // from_ms. A result that completes exactly at the end of a period is that end instant.
  Result<int64_t> AddWorkingMs(int64_t from_ms, int64_t working_ms) const;
  // hours_per_day of the day's year, in ms (the length of a "working day" of processing time).
  Result<int64_t> WorkingDayLengthMs(int64_t day) const;

 private:
  struct Period {
    int64_t start_ms;  // offset from local midnight
    int64_t end_ms;
  };
  struct YearData {
    std::vector<Period> periods;
    int64_t day_length_ms = 0;  // hours_per_day
    int64_t periods_ms = 0;     // sum of periods (== day_length_ms, checked at load)
  };
  struct Entry {
    std::string name, source, note;
    bool unconfirmed = false;
  };
  struct Day {
    DayKind kind;
    bool working;
    int32_t entry;  // index into entries_, -1 for none
    int16_t year_index;
  };

  WorkingCalendar() = default;
  Result<size_t> Index(int64_t day) const;
  // Working ms in [day start + from_offset, day start + to_offset) of day index i.
  int64_t DayWorkingMs(size_t i, int64_t from_offset, int64_t to_offset) const;

  int first_year_ = 0, last_year_ = 0;
  int64_t first_day_ = 0;
  int utc_offset_minutes_ = 420;
  std::vector<Day> days_;
  std::vector<YearData> years_;
  std::vector<Entry> entries_;
  std::vector<int64_t> prefix_days_;  // prefix_days_[k] = working days among indices < k
  std::vector<int64_t> prefix_ms_;    // prefix_ms_[k] = working ms among indices < k
};

}  // namespace danvan::calendar
