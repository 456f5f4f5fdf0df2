// Shared by the engine's own translation units (engine.cc, intake_apply.cc); not an interface
// for other modules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_schema.h"
#include "engine/engine.h"
#include "engine/intake.h"
#include "storage/store.h"

namespace danvan {

// An event after parsing (outside the write lock), waiting to be applied.
struct Engine::Prepared {
  size_t index = 0;
  std::string_view raw;
  IntakeOutcome outcome;
};

nlohmann::json KeyJson(const RecordKey& k);

// What a stored dossier still waits for before the portal can take it, or null. `data` is the
// row's data object (parsed from row.data_json by the one-argument form).
nlohmann::json DossierPending(const RecordRow& row, const nlohmann::json& data);
nlohmann::json DossierPending(const RecordRow& row);
bool PortalAccepts(const RecordRow& row, const nlohmann::json& data);
bool PortalAccepts(const RecordRow& row);

nlohmann::json ErrorsJson(const std::vector<FieldError>& errors);

}  // namespace danvan
