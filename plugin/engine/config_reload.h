// The configuration's data files and a live reload's plan (issue 15, "Configuration").
//
// Engine::Open and the config.reload op load a configuration the same way: ParseEngineConfig
// (schema and section checks), then LoadConfigData (every data file it names, each checked by
// its schema). A reload then compares the new configuration with the one in force
// (PlanReload): what can change while the plugin runs is listed by section; what cannot
// (storage, schemas_dir, instance, limits, the unit hierarchy and indicator catalogue the
// aggregates are built on, the outbox's thread and queue identity) is refused, each with the
// field's JSON path and the reason.
//
// Pure functions over their arguments (files are read, nothing is written); thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calendar/deadline_rules.h"
#include "calendar/procedures.h"
#include "calendar/working_calendar.h"
#include "core/json_schema.h"
#include "core/status.h"
#include "engine/engine.h"
#include "indicators/catalog.h"
#include "indicators/units.h"
#include "outbox/portal_payload.h"
#include "portal/portal_config.h"
#include "tagging/rules.h"

namespace danvan {

// Everything a configuration's data files hold, loaded and checked.
struct ConfigData {
  std::shared_ptr<const tagging::RuleSet> rules;
  std::shared_ptr<const indicators::UnitTree> units;
  std::shared_ptr<const indicators::IndicatorCatalog> catalog;
  std::shared_ptr<const calendar::WorkingCalendar> calendar;
  std::shared_ptr<const calendar::DeadlineRules> deadline_rules;
  // The procedure file's catalogue, before the portal's LayThuTuc answers are merged in.
  std::shared_ptr<const calendar::ProcedureCatalogue> procedures;
  std::optional<PortalConfig> portal;             // when export is enabled
  std::optional<PortalFieldLimits> field_limits;  // when export is enabled
  // SHA-256 fingerprints of the file contents (a file edited in place is a change too).
  std::string rules_sha256;        // the rule file, its cues and letter-model files
  std::string units_sha256;        // indicators.units_file
  std::string indicators_sha256;   // indicators.config_file
  std::string deadline_inputs_sha256;  // calendar directory, deadline rules, procedures
};

// Loads every data file `config` names, in the order open always has (rules, units, indicator
// catalogue, calendar, deadline rules, procedures, portal, field limits).
// collect_all=false (open): stops at the first failure and returns its Status as it is.
// collect_all=true (reload): goes on and returns InvalidInput whose message is a JSON array of
// FieldError objects ({"path","reason","code"}), one per failing file, path = the
// configuration key that names it.
// in_force (reload): the data in force; its rule pack is reused when the files are unchanged.
Result<ConfigData> LoadConfigData(const EngineConfig& config, const SecretLookup& secret,
                                  bool collect_all, const ConfigData* in_force = nullptr);

// SHA-256 of the calendar's <year>.json files (name and bytes, in name order), the deadline
// rules and the procedure catalogue: what a record's deadline depends on.
Result<std::string> DeadlineInputsSha256(const EngineConfig& config);

// SHA-256 of a rule pack: the rule file and, when it reads letters, its cues and model files.
Result<std::string> RulePackSha256(const std::string& rules_file, const JsonReadLimits& limits);

// SHA-256 of a configuration document (its canonical compact dump: keys sorted): the
// before/after hashes of the audit trail and config.show.
std::string ConfigSha256(const nlohmann::json& document);

// What a reload changes.
struct ReloadPlan {
  std::vector<FieldError> refused;  // cannot change while running (code config.not_live)
  std::vector<std::string> changed;  // JSON paths of the settings that change, sorted
  bool rules = false;            // rule pack or letter model: swap, then re-tag everything
  bool deadline_inputs = false;  // calendar, deadline rules, procedures: re-evaluate deadlines
  bool portal = false;           // portal settings: new client from the next outbox pass
  bool outbox = false;           // outbox settings (intervals, backoff, mappings...)
  bool mappings = false;         // outbox.mappings of the file
  bool field_limits = false;     // outbox.field_limits_file
  bool log_level = false;
  bool scheduler_interval = false;
  bool console = false;          // the console section: the console restarts with it
};

// Compares the configuration in force with the new one (both parsed, data loaded).
ReloadPlan PlanReload(const EngineConfig& running, const ConfigData& running_data,
                      const EngineConfig& next, const ConfigData& next_data);

// The errors of a failed ParseEngineConfig ("path: reason" lines, or one line) as FieldErrors.
std::vector<FieldError> FieldErrorsOf(const Status& status, const std::string& default_path);

// A copy of a configuration document with every secret-looking value replaced by "***".
// References by name (keys ending in _env or _file) are kept: they are not secrets. The
// schema allows no secret values, so this is a second line of defence for config.show.
nlohmann::json RedactSecrets(const nlohmann::json& document);

}  // namespace danvan
