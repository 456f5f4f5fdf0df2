// Readers for the report's record scan (engine/report_ops.cc, the action lists): a record's
// contributions and the top-level text fields of its data, read from their stored JSON without
// building a document. The scan reads thousands of records a report at city scale, and their
// documents (a node and often a string allocation per value) were most of its malloc time
// (bench/RESULTS.md, fourteenth session). Each reader gives what the document path gives
// (json::parse without exceptions, then indicators::Contribution::FromJson or a top-level
// `is_string()` look-up), and hands text of any other shape to that same path.
//
// Not thread-safe: one reader per scanning thread; its buffers are reused from record to record.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace danvan {

// A record's contributions ([[series, day, value(, unit)], ...]: indicators/contributions.h),
// without their units (the action lists read the series, day and value only).
class ContributionReader {
 public:
  struct Item {
    std::string series;
    int64_t day = 0;
    double value = 0;
  };

  // Reads `text`. False when it is not a JSON array (the document path's `!is_array()`): the
  // record is skipped. Text of another shape inside the array (an item that is not
  // [string, number, number(, string)]) is kept as its document and converted on the first
  // Items() call by Contribution::FromJson, so it throws where the document path threw.
  bool Read(std::string_view text);

  // The items of the last successful Read, in their order. May throw (see Read).
  std::span<const Item> Items();

  // Sum of the values of `series` on days <= day; *first_day: the first such day with a
  // positive value (INT64_MAX when none).
  double LevelAt(std::string_view series, int64_t day, int64_t* first_day);
  // Whether `series` has a non-zero value on a day in [from, to].
  bool FlowIn(std::string_view series, int64_t from, int64_t to);

 private:
  class Sax;
  std::vector<Item> items_;  // reused: the strings keep their buffers
  size_t size_ = 0;          // items_ in use (the rest keep their buffers for the next record)
  nlohmann::json fallback_;  // the document of text of another shape (null when none)
  bool converted_ = true;
};

// The top-level string members named at construction of a JSON object (a record's data),
// as `j.find(name)` and `is_string()` on its document give them: the last occurrence of a
// name wins, and a member that is not a string reads as absent ("").
class TopLevelStrings {
 public:
  explicit TopLevelStrings(std::vector<std::string> names);

  // Reads `text`. False when it is not a JSON object (the document path's `!is_object()`).
  bool Read(std::string_view text);

  // The value of the i-th name of the constructor ("" when absent or not a string).
  const std::string& Get(size_t i) const { return present_[i] ? values_[i] : empty_; }

 private:
  class Sax;
  std::vector<std::string> names_;
  std::vector<std::string> values_;  // reused
  std::vector<char> present_;
  std::string empty_;
};

}  // namespace danvan
