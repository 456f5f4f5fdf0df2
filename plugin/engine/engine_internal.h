// Shared by the engine's own translation units (engine.cc, engine_config.cc, engine_query.cc,
// engine_records.cc, engine_tags.cc, intake_apply.cc, admin_ops.cc); not an interface for other
// modules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_schema.h"
#include "engine/engine.h"
#include "engine/evaluator.h"
#include "engine/intake.h"
#include "storage/store.h"

namespace danvan {

// Store setting: the portal's LayThuTuc answers merged so far, by procedure code (JSON object).
inline constexpr const char* kPortalProceduresSetting = "procedures.portal";

// An event after parsing (outside the write lock), waiting to be applied.
struct Engine::Prepared {
  size_t index = 0;
  std::string_view raw;
  IntakeOutcome outcome;
};

// One event's answer in a submit result, kept as fields until it is answered: Json() builds
// the result object, Write() appends the same bytes as serialising it (core/json_write.h),
// without building it.
struct EventResult {
  size_t index = 0;
  const char* outcome = "";  // "accepted", "duplicate", "stale" or "rejected"
  // Not rejected: the event answered; the result is only used while it lives.
  const ParsedEvent* event = nullptr;
  std::optional<int64_t> current_version;  // stale: the version stored
  bool step = false;                       // an accepted progress step
  bool tags = false;                       // an accepted item: event->tags answered
  Evaluation evaluation;                   // its deadline answered when has_deadline()
  nlohmann::json pending;                  // DossierPending, or null
  nlohmann::json rejected;                 // rejected: the whole result object

  bool is_rejected() const { return rejected.is_object(); }
  nlohmann::json Json(bool with_index) const;
  void Write(bool with_index, std::string* out) const;  // strings with error_handler_t::replace
};

nlohmann::json KeyJson(const RecordKey& k);

// What a stored dossier still waits for before the portal can take it, or null. `data` is the
// row's data object (parsed from row.data_json by the one-argument form).
nlohmann::json DossierPending(const RecordRow& row, const nlohmann::json& data);
nlohmann::json DossierPending(const RecordRow& row, const ArenaJson& data);
nlohmann::json DossierPending(const RecordRow& row);
bool PortalAccepts(const RecordRow& row, const nlohmann::json& data);
bool PortalAccepts(const RecordRow& row, const ArenaJson& data);
bool PortalAccepts(const RecordRow& row);

nlohmann::json ErrorsJson(const std::vector<FieldError>& errors);

}  // namespace danvan
