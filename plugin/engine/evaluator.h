// Evaluates a record's derived state after every change: its deadline classification
// (calendar module) and its contributions to the indicators (indicators module).
// Immutable and thread-safe; rebuilt and swapped when the calendar, deadline rules or
// procedure catalogue change.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calendar/ontime.h"
#include "indicators/contributions.h"
#include "storage/store.h"

namespace danvan {

struct Evaluation {
  // The deadline: `classification` when one was made, else `deadline` ({"error": ...}, or
  // another answer; null when the kind has no deadline). DeadlineJson() is the submit result's
  // "deadline" member, WriteDeadline() the same serialised without building it.
  std::optional<calendar::Classification> classification;
  nlohmann::json deadline;
  bool has_deadline() const { return classification || !deadline.is_null(); }
  nlohmann::json DeadlineJson() const { return classification ? classification->ToJson() : deadline; }
  void WriteDeadline(std::string* out, nlohmann::json::error_handler_t handler) const;
  // WriteDeadline's bytes once the engine has written them for the stored record (strict, so
  // valid UTF-8: the same bytes under any handler); WriteDeadline then copies them instead of
  // serialising the classification again. Empty until then.
  std::string deadline_text;
  std::vector<indicators::Contribution> contributions;
  std::string cls;          // on-time class name ("" when none)
  std::optional<int64_t> next_change_ms;
  std::string next_class;
};

class RecordEvaluator {
 public:
  explicit RecordEvaluator(std::shared_ptr<const calendar::OnTimeClassifier> classifier)
      : classifier_(std::move(classifier)) {}

  // data: the record's current data object; history: its status history (any order);
  // tags: its current tags (array); now_ms: the engine clock. The data is nlohmann's document
  // or an arena view (Data = nlohmann::json or ArenaJson, both instantiated in evaluator.cc):
  // the same evaluation for the same document.
  template <typename Data>
  Evaluation Evaluate(const std::string& kind, const Data& data,
                      const std::vector<HistoryRow>& history, const nlohmann::json& tags,
                      int64_t event_time_ms, int64_t now_ms, bool synced_to_portal) const;

  // The classification of a record as of an instant (for the scheduler's alerts).
  template <typename Data>
  Result<calendar::Classification> Classify(const std::string& kind, const Data& data,
                                            const std::vector<HistoryRow>& history,
                                            const nlohmann::json& tags, int64_t as_of_ms) const;

  const calendar::OnTimeClassifier& classifier() const { return *classifier_; }

 private:
  int64_t ClampToCalendar(int64_t ms) const;
  std::shared_ptr<const calendar::OnTimeClassifier> classifier_;
};

}  // namespace danvan
