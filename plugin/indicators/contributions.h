// What one record adds to the aggregates: a list of (series, day, value, unit) items computed
// from its current state alone. On every change the engine subtracts the old list and adds the
// new one, in the same transaction that stores the record (records.contrib).
//
// Series are day-indexed. "Flow" series count events on a day (received, resolved, ...) and are
// read as a range sum; "level" series are +1 when a state begins and -1 when it ends (open within
// deadline, overdue, ...) and are read as the sum up to a day, i.e. the state on that day. With
// levels, a dossier that is open within its deadline today and overdue tomorrow needs no update
// when time passes: both intervals are known from its due date.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/arena_json.h"

namespace danvan::indicators {

struct Contribution {
  std::string series;
  int64_t day = 0;
  double value = 0;
  std::string unit;  // "" = the record's unit
  nlohmann::json ToJson() const;
  static Contribution FromJson(const nlohmann::json& j);
};

// Deadline facts of a dossier, from the calendar module (Decision 766 on-time rule).
struct DossierTiming {
  bool counted = false;                // received (not status 1 / never-started 3)
  int64_t received_day = 0;
  std::optional<int64_t> end_day;      // end of processing by the 766 priority
  std::optional<int64_t> due_day;      // effective due day, supplement pauses added
  std::optional<bool> ended_on_time;   // when ended: early or on time
  bool ended_early = false;
  bool late_by_supplements = false;    // more than one supplement request
  double processing_days = 0;          // when ended: working days used, pauses excluded
};

struct PetitionTiming {
  int64_t received_day = 0;
  std::optional<int64_t> due_day;
  std::optional<int64_t> resolved_day;
};

// Facts about a procedure from the catalogue (config/procedures.json, later LayThuTuc).
struct ProcedureFacts {
  bool known = false;
  bool fully_online = false;
  bool paper_result = true;
};

struct RecordFacts {
  std::string kind;
  const nlohmann::json* data = nullptr;
  const ArenaJson* arena_data = nullptr;  // read instead of `data` when set (intake's view)
  const nlohmann::json* tags = nullptr;  // array of {"tag","value",...}
  int64_t event_day = 0;
  bool synced_to_portal = false;          // the outbox confirmed the dossier at the portal
  std::optional<DossierTiming> dossier;   // kind == dossier
  std::optional<PetitionTiming> petition; // kind == petition
  ProcedureFacts procedure;
};

std::vector<Contribution> ContributionsFor(const RecordFacts& facts);

// True when the record carries the tag (any value, or the given value).
bool HasTag(const nlohmann::json* tags, const std::string& tag, const std::string& value = "");
std::string TagValue(const nlohmann::json* tags, const std::string& tag);

}  // namespace danvan::indicators
