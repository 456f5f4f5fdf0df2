// Record intake: from raw bytes to a validated, normalised event, or precise field errors.
// Pure (no storage); thread-safe after construction.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/arena_json.h"
#include "core/bounded_input.h"
#include "core/json_schema.h"
#include "core/status.h"
#include "outbox/portal_payload.h"
#include "storage/store.h"

namespace danvan {

struct IntakeLimits {
  int64_t max_event_bytes = 262144;
  int64_t quarantine_raw_max_bytes = 65536;
  // Most arrays/objects nested in one another in an event, the envelope being level 1; checked
  // before anything recurses over the event (core/bounded_input.h).
  int max_json_depth = kDefaultMaxJsonDepth;
};

// A validated event, ready to be applied to the store.
struct ParsedEvent {
  RecordKey key;
  std::string unit;
  std::string order_basis;  // "version" | "time"
  int64_t order_key = 0;
  std::string event_time;
  int64_t event_time_ms = 0;
  std::string status;       // kind-specific status ("" when none)
  bool is_progress_step = false;  // dossier: a CapNhatTienDoHoSoMC progress item
  int64_t step_at_ms = 0;         // progress step: ThoiDiemXuLy
  // The whole envelope (data included) as read into the caller's arena (core/arena_json.h):
  // what tagging, the evaluation and the export read, without a heap copy (issue 16). Valid
  // while that arena lives and is not Reset (the whole batch: Engine::SubmitBatch / Submit);
  // null from Parse(raw), which has no arena of the caller's. Null for a progress step:
  // nothing reads a step's envelope (it is not tagged, and its record is evaluated with the
  // item's data); its data is data_json, parsed again only to export it.
  const ArenaJson* event = nullptr;
  nlohmann::json updated_at;  // the envelope's updated_at as given (null when absent): answers
  std::string data_json;    // canonical dump of data (sorted keys)
  std::string data_hash;    // SHA-256 hex of data_json; "" for a progress step (not read)
  std::vector<nlohmann::json> notes;  // e.g. text conversions
  std::string tags_json = "[]";       // tags of this event's data (set before storing)
  // The same tags' names and values only, [{"tag","value"}]: what evaluation reads
  // (Engine::TagEvent); the answer and the store take tags_json.
  nlohmann::json tags = nlohmann::json::array();
};

struct IntakeOutcome {
  bool ok = false;
  ParsedEvent parsed;              // valid when ok
  std::vector<FieldError> errors;  // when !ok
  // What could be read of the key for a rejected event (for quarantine and the result).
  RecordKey partial_key;
  std::string partial_unit;
  std::string repaired;  // the input after legacy-encoding repair (empty when unchanged)
  // Rejected because the same version (or updated_at) was already stored with other content:
  // answered DANVAN_CONFLICT rather than DANVAN_INVALID_INPUT (set by the engine).
  bool conflict = false;
};

class Intake {
 public:
  // Loads the record schemas from schemas_dir/records/.
  static Result<std::unique_ptr<Intake>> Create(const std::string& schemas_dir, IntakeLimits limits);

  // Never throws; every refusal is in IntakeOutcome::errors, each naming a JSON path, with
  // valid UTF-8 text (a refused event's bytes are echoed with U+FFFD for invalid bytes).
  IntakeOutcome Parse(std::string_view raw) const;
  // The same, the event read into `arena` (core/arena_json.h) rather than a heap document: its
  // checks, repair and canonical dump read the arena view, and ParsedEvent::event points into
  // it (the only pointer into the arena): the caller keeps the arena while it reads the
  // event. Precondition: `arena` is this thread's for the call.
  IntakeOutcome Parse(std::string_view raw, JsonArena* arena) const;
  const IntakeLimits& limits() const { return limits_; }
  // Dossier and progress items longer than the portal accepts are refused (set at open when
  // export to the portal is enabled, and again by a configuration reload). Thread-safe: a
  // Parse running meanwhile keeps the limits it started with.
  void SetPortalFieldLimits(PortalFieldLimits limits) {
    auto next = std::make_shared<const PortalFieldLimits>(std::move(limits));
    std::lock_guard lock(portal_limits_mu_);
    portal_limits_ = std::move(next);
  }

 private:
  Intake() = default;
  IntakeOutcome ParseChecked(std::string_view raw, JsonArena* arena) const;
  IntakeLimits limits_;
  mutable std::mutex portal_limits_mu_;
  std::shared_ptr<const PortalFieldLimits> portal_limits_;  // guarded by portal_limits_mu_
  std::shared_ptr<const JsonSchema> envelope_;
  std::shared_ptr<const JsonSchema> progress_;
  std::map<std::string, std::shared_ptr<const JsonSchema>> kinds_;
};

std::string Sha256Hex(std::string_view data);

}  // namespace danvan
