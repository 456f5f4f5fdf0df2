// Checkpoint of the in-memory indicator aggregates, so that open does not re-read every
// record (issue 16: open <= 1 s at 10M events).
//
// What is stored (storage/store.h, PendingContribution): the aggregates folded into cells
// (one per (series, unit) for SeriesIndex, one per (tracked series, month) for
// RecordSeriesIndex), and a pending row for every record whose contributions changed since the
// last fold, written by triggers in the same transaction as the change. So at every commit
//   aggregates = cells + sum over pending rows of (current contributions - base).
// Open loads the cells and replays the pending rows; a SIGKILL anywhere (between a commit and
// a fold, inside a fold) leaves that equation true, because a fold is one transaction: it adds
// the pending rows' differences into the cells they touch and drops those rows.
//
// The cells hold fully expanded aggregates (each unit's ancestors included), so they depend on
// the unit tree and on the tracked series as well as on the records: the fingerprint below is
// stored beside them (settings key "index_checkpoint"), and a different one at open starts the
// checkpoint over (every record pending from "[]": one full replay, then folds).
//
// Threading: the functions take the store's write transaction (Fold, Reset) or a read
// snapshot (Load); they touch no engine state besides the indexes handed to Load.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "indicators/record_index.h"
#include "indicators/series_index.h"
#include "storage/store.h"

namespace danvan {

inline constexpr char kIndexCheckpointSetting[] = "index_checkpoint";

// Expands a record's stored contributions (JSON) into deltas, times sign (Engine::ExpandDeltas).
using ContribExpander = std::function<void(int64_t pk, const std::string& unit,
                                           const std::string& contrib_json, double sign,
                                           std::vector<indicators::Delta>* out)>;

std::string IndexCheckpointFingerprint(const std::string& units_sha256,
                                       const std::vector<std::string>& tracked_series);

struct CheckpointLoad {
  int64_t cells = 0;
  int64_t pending = 0;     // pending rows replayed
  int64_t bad_cells = 0;   // malformed cells (the caller starts over)
  int64_t max_pending_pk = 0;
  std::vector<std::string> keys;  // the cells read
};

// Loads the cells and replays the pending rows into the (empty) indexes.
Result<CheckpointLoad> LoadIndexCheckpoint(Store& store, const ContribExpander& expand,
                                           indicators::SeriesIndex* index,
                                           indicators::RecordSeriesIndex* record_index);

// What a fold holds at once (issue 16: re-tagging at 10M changes records all over the city, so
// one fold of 5,000 rows touched most cells and held them all, decoded, plus their encodings:
// transients of 13-16 MiB).
struct FoldLimits {
  int64_t page_rows = 200;               // pending rows read at a time
  size_t scratch_bytes = size_t{1} << 20;  // loaded cells' encoded bytes before writing them back
  size_t write_cells = 500;              // cells encoded per write
  // The fold is given up (RETRY_LATER, nothing folded) if the store's write lock is not free
  // by then (Store::BeginBefore): stop's timeout.
  std::chrono::steady_clock::time_point begin_by = std::chrono::steady_clock::time_point::max();
};

// One write transaction: folds up to max_rows pending rows (lowest pks first) into the cells.
// Returns how many rows were folded (0: nothing pending). Memory: one page of pending rows, one
// record's deltas, and the touched cells up to about limits.scratch_bytes of their encoding
// (held decoded: about twice that), whatever the rows touch.
Result<int64_t> FoldPendingContributions(Store& store, const ContribExpander& expand,
                                         const std::vector<std::string>& tracked_series,
                                         int64_t max_rows, const FoldLimits& limits = {});

// Only where this process is the store's single writer and nothing has written since `load`
// (SQLite at open: the store lock, before any submit or thread): one write transaction that
// stores the indexes as the cells (the loaded cells they no longer have deleted) and drops the
// pending rows `load` replayed. Turns a large backlog (a reset) into cells in one pass.
Status WriteIndexCheckpointFromMemory(Store& store, const indicators::SeriesIndex& index,
                                      const indicators::RecordSeriesIndex& record_index,
                                      const CheckpointLoad& load);

// One write transaction: no cells, every record pending from "[]", the fingerprint stored.
Status ResetIndexCheckpoint(Store& store, const std::string& fingerprint);

}  // namespace danvan
