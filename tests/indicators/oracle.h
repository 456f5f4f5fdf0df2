// Test and benchmark support for the indicators: a random record-event stream generator with
// its own model of the expected final state, and two oracles that do not use the engine's
// incremental aggregates:
//   - Recompute: reads every stored record (and its status history) straight from the SQLite
//     file, evaluates it with a fresh RecordEvaluator built from the same config files, and
//     feeds the contributions into a fresh SeriesIndex expanded over UnitTree::Chain;
//   - plain SQL GROUP BY counts over the records table (json_extract on data).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/evaluator.h"
#include "indicators/catalog.h"
#include "indicators/series_index.h"
#include "indicators/units.h"


namespace danvan::indtest {

// Epoch ms of a Vietnam-time civil instant.
int64_t VnMs(int y, unsigned m, unsigned d, int hh = 0, int mm = 0);
std::string PortalTime(int64_t ms);  // yyyyMMddHHmmss, UTC+7
std::string IsoDate(int64_t ms);     // YYYY-MM-DD of the UTC+7 day
std::string IsoTime(int64_t ms);     // 2023-03-02T09:15:00+07:00

// ---------------------------------------------------------------------------------------------
// Generator

struct GenOptions {
  uint64_t seed = 1;
  int dossiers = 60, petitions = 30, receptions = 10, dvk_models = 8, plan_tasks = 6;
  std::vector<std::string> units;       // envelope units to draw from
  std::vector<std::string> procedures;  // MaTTHC codes (an unknown one is added)
  int64_t first_ms = 0, last_ms = 0;    // record start times are drawn in [first, last)
  int64_t now_ms = 0;                   // no event happens after now
  double progress_share = 0.5;          // share of status changes also sent as progress items
  double move_share = 0;                // share of dossiers/petitions moved to another unit by a later version
};

// What the generator knows about each record's final state (an oracle independent of storage).
struct ModelRecord {
  std::string kind, id, unit;
  bool dossier_counted = false;  // received and not refused at reception
  int64_t start_day = 0;         // dossier NgayTiepNhan day / petition received_at day
  std::string petition_kind = {};
};

struct GeneratedStream {
  std::vector<nlohmann::json> events;  // one per version / progress step, in causal order
  std::vector<ModelRecord> records;
};

GeneratedStream Generate(const GenOptions& o);
// The ids of config/procedures.json.
std::vector<std::string> ProcedureCodes(const std::string& config_dir);

// ---------------------------------------------------------------------------------------------
// From-scratch recomputation

struct Recomputed {
  std::unique_ptr<indicators::SeriesIndex> index;
  int64_t records = 0;
  int64_t history_rows = 0;
  int64_t contrib_mismatches = 0;         // stored records.contrib != recomputed
  std::vector<std::string> mismatch_ids;  // first few
};

class Oracle {
 public:
  // Loads units, indicator catalogue, calendar, deadline rules and procedures from config_dir.
  static std::unique_ptr<Oracle> Load(const std::string& config_dir, const std::string& schemas_dir);

  Recomputed Recompute(const std::string& db_path, int64_t now_ms) const;
  std::vector<indicators::IndicatorValue> Compute(const indicators::SeriesIndex& index,
                                                  const std::string& unit,
                                                  const nlohmann::json& period_spec,
                                                  int64_t today_day) const;

  const indicators::UnitTree& units() const { return *units_; }
  const indicators::IndicatorCatalog& catalog() const { return *catalog_; }
  const RecordEvaluator& evaluator() const { return *evaluator_; }

 private:
  std::shared_ptr<const indicators::UnitTree> units_;
  std::shared_ptr<const indicators::IndicatorCatalog> catalog_;
  std::shared_ptr<const RecordEvaluator> evaluator_;
};

// ---------------------------------------------------------------------------------------------
// SQL oracle (plain GROUP BY over records)

class SqlOracle {
 public:
  // The store at db_path: a SQLite file, or the PostgreSQL test database named after it.
  explicit SqlOracle(const std::string& db_path);
  // Dossiers received (status not 1/3) with NgayTiepNhan in [from, to], per unit.
  std::map<std::string, int64_t> DossiersReceivedByUnit(int64_t from_day, int64_t to_day);
  // Dossiers finished (NgayKetThucXuLy in [from, to], status 7..10) per unit, and those finished
  // by NgayHenTra (NgayKetThucXuLy <= NgayHenTra), per unit.
  std::map<std::string, std::pair<int64_t, int64_t>> DossiersFinishedByUnit(int64_t from_day,
                                                                            int64_t to_day);
  // Petitions received in [from, to] by petition_kind, for the given units.
  std::map<std::string, int64_t> PetitionsByKind(const std::vector<std::string>& units,
                                                 int64_t from_day, int64_t to_day);

 private:
  std::string db_;
};

// Sum over units of a per-unit map restricted to `units`.
int64_t SumFor(const std::map<std::string, int64_t>& by_unit, const std::vector<std::string>& units);

}  // namespace danvan::indtest
