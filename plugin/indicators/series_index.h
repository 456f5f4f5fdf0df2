// In-memory aggregates: per (series, unit) day-indexed sums kept as month buckets, so any
// unit x date-range figure is a handful of additions, never a scan of records.
//
// The durable source is each record's stored contribution list (records.contrib), written in
// the same transaction as the record; the index is rebuilt from it at open and updated after
// every commit. Deltas commute, so concurrent committers may apply in any order.
//
// Thread-safety: Apply takes an exclusive lock, reads a shared lock.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace danvan::indicators {

struct Delta {
  std::string series;
  std::string unit;
  int64_t day = 0;
  double value = 0;
  // The record the delta comes from (0 when unknown), and whether `unit` is the unit the
  // contribution counts for rather than one of its ancestors (RecordSeriesIndex keeps only those).
  int64_t record_pk = 0;
  bool own_unit = false;
};

// Sums are kept as integers in millionths of a unit, so they are exact and do not depend on the
// order deltas arrive in: the same data gives the same figures to the last digit whether the
// index was built during intake or rebuilt at open (reports are compared byte for byte).
// Contribution values are counts or day durations; a millionth of a day is 0.09 s.
class SeriesIndex {
 public:
  void Apply(const std::vector<Delta>& deltas);
  // Sum of the series over days [from_day, to_day].
  double Range(const std::string& series, const std::string& unit, int64_t from_day,
               int64_t to_day) const;
  // Sum of the series over all days <= day (the level of a +1/-1 series on that day).
  double Level(const std::string& series, const std::string& unit, int64_t day) const;
  size_t bucket_count() const;

 private:
  struct Month {
    int64_t total = 0;  // millionths
    std::array<int64_t, 31> days{};
  };
  using Buckets = std::map<int64_t, Month>;  // key: year*12 + month-1
  static int64_t Prefix(const Buckets& b, int64_t day);
  const Buckets* Find(const std::string& series, const std::string& unit) const;

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Buckets> data_;  // key: series + '\x1f' + unit
};

}  // namespace danvan::indicators
