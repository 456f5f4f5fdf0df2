#include "engine/index_checkpoint.h"

#include <algorithm>
#include <optional>
#include <set>
#include <unordered_set>

#include "engine/intake.h"

namespace danvan {

std::string IndexCheckpointFingerprint(const std::string& units_sha256,
                                       const std::vector<std::string>& tracked_series) {
  // Cell format 1; a change of the encoding bumps it.
  std::string basis = "cells:1;units:" + units_sha256 + ";tracked:";
  std::set<std::string> sorted(tracked_series.begin(), tracked_series.end());
  for (const auto& s : sorted) basis += s + ",";
  return "1:" + Sha256Hex(basis);
}

Result<CheckpointLoad> LoadIndexCheckpoint(Store& store, const ContribExpander& expand,
                                           indicators::SeriesIndex* index,
                                           indicators::RecordSeriesIndex* record_index) {
  CheckpointLoad load;
  std::vector<indicators::Delta> deltas;
  Status st = store.LoadIndexCheckpoint(
      [&](const IndexCell& cell) {
        ++load.cells;
        load.keys.push_back(cell.key);
        bool ok = false;
        if (indicators::SeriesIndex::IsCellKey(cell.key)) ok = index->LoadCell(cell.key, cell.data);
        else if (indicators::RecordSeriesIndex::IsCellKey(cell.key))
          ok = record_index->LoadCell(cell.key, cell.data);
        if (!ok) ++load.bad_cells;
      },
      [&](const PendingContribution& p) {
        ++load.pending;
        load.max_pending_pk = p.pk;
        expand(p.pk, p.base_unit, p.base_contrib, -1, &deltas);
        if (p.exists) expand(p.pk, p.unit, p.contrib, +1, &deltas);
        if (deltas.size() > 100000) {
          index->Apply(deltas);
          record_index->Apply(deltas);
          deltas.clear();
        }
      });
  if (!st.ok()) return st;
  index->Apply(deltas);
  record_index->Apply(deltas);
  return load;
}

Result<int64_t> FoldPendingContributions(Store& store, const ContribExpander& expand,
                                         const std::vector<std::string>& tracked_series,
                                         int64_t max_rows, const FoldLimits& limits) {
  auto tx_or = store.BeginBefore(limits.begin_by);
  if (!tx_or.ok()) return tx_or.status();
  StoreTransaction& tx = *tx_or.value();
  // The touched cells, loaded on first touch into scratch indexes and written back when the
  // scratch holds limits.scratch_bytes of them (and at the end). A cell touched again after
  // that is read back from this same transaction, so the result is the one of folding all the
  // rows at once; the rows are dropped and everything committed together.
  std::optional<indicators::SeriesIndex> cells;
  std::optional<indicators::RecordSeriesIndex> record_cells;
  std::unordered_set<std::string> loaded;
  std::vector<std::string> order;  // the touched keys, for writing back
  size_t scratch_bytes = 0;        // the loaded cells' encoded bytes and keys
  auto reset_scratch = [&] {
    cells.emplace();
    record_cells.emplace(tracked_series);
    std::unordered_set<std::string>().swap(loaded);
    std::vector<std::string>().swap(order);
    scratch_bytes = 0;
  };
  reset_scratch();
  auto touch = [&](const std::string& key) -> Status {
    if (!loaded.insert(key).second) return Status::Ok();
    order.push_back(key);
    scratch_bytes += key.size() + 64;
    auto got = tx.GetIndexCells({key});
    if (!got.ok()) return got.status();
    for (const auto& c : got.value()) {
      scratch_bytes += c.data.size();
      const bool ok = indicators::SeriesIndex::IsCellKey(c.key) ? cells->LoadCell(c.key, c.data)
                                                                : record_cells->LoadCell(c.key, c.data);
      if (!ok) return Status::Internal("index checkpoint: malformed cell " + c.key);
    }
    return Status::Ok();
  };
  // Encodes the touched cells and writes them, limits.write_cells at a time.
  auto write_back = [&]() -> Status {
    std::vector<IndexCell> out;
    out.reserve(std::min(order.size(), limits.write_cells));
    for (const auto& key : order) {
      if (indicators::SeriesIndex::IsCellKey(key)) {
        const size_t sep = key.find('\x1f', 2);
        out.push_back({key, cells->EncodeCell(key.substr(2, sep - 2), key.substr(sep + 1))});
      } else {
        out.push_back({key, record_cells->EncodeCell(key)});
      }
      if (out.size() >= limits.write_cells) {
        if (Status st = tx.PutIndexCells(out); !st.ok()) return st;
        out.clear();
      }
    }
    return tx.PutIndexCells(out);
  };
  int64_t folded = 0, last_pk = 0;
  std::vector<indicators::Delta> deltas;
  while (folded < max_rows) {
    auto rows = tx.PendingContributions(last_pk, std::min<int64_t>(limits.page_rows, max_rows - folded));
    if (!rows.ok()) return rows.status();
    if (rows->empty()) break;
    for (const auto& p : rows.value()) {
      deltas.clear();
      expand(p.pk, p.base_unit, p.base_contrib, -1, &deltas);
      if (p.exists) expand(p.pk, p.unit, p.contrib, +1, &deltas);
      for (const auto& d : deltas) {
        Status st = touch(indicators::SeriesIndex::CellKey(d.series, d.unit));
        if (!st.ok()) return st;
        if (d.record_pk != 0 && d.own_unit && record_cells->Tracks(d.series)) {
          st = touch(indicators::RecordSeriesIndex::CellKey(d.series, d.day));
          if (!st.ok()) return st;
        }
      }
      cells->Apply(deltas);
      record_cells->Apply(deltas);
      if (scratch_bytes >= limits.scratch_bytes) {
        if (Status st = write_back(); !st.ok()) return st;
        reset_scratch();
      }
    }
    folded += static_cast<int64_t>(rows->size());
    last_pk = rows->back().pk;
  }
  if (folded == 0) return int64_t{0};
  Status st = write_back();
  if (!st.ok()) return st;
  st = tx.DropPendingContributions(last_pk);
  if (!st.ok()) return st;
  st = tx.Commit();
  if (!st.ok()) return st;
  return folded;
}

Status WriteIndexCheckpointFromMemory(Store& store, const indicators::SeriesIndex& index,
                                      const indicators::RecordSeriesIndex& record_index,
                                      const CheckpointLoad& load) {
  auto tx_or = store.Begin();
  if (!tx_or.ok()) return tx_or.status();
  StoreTransaction& tx = *tx_or.value();
  std::unordered_set<std::string> present;
  std::vector<IndexCell> cells;
  constexpr size_t kChunk = 2000;  // cells encoded at a time (bounded memory)
  auto flush = [&]() -> Status {
    Status st = tx.PutIndexCells(cells);
    cells.clear();
    return st;
  };
  for (const auto& [series, unit] : index.Keys()) {
    std::string key = indicators::SeriesIndex::CellKey(series, unit);
    cells.push_back({key, index.EncodeCell(series, unit)});
    present.insert(std::move(key));
    if (cells.size() >= kChunk) {
      if (Status st = flush(); !st.ok()) return st;
    }
  }
  for (const auto& key : record_index.CellKeys()) {
    cells.push_back({key, record_index.EncodeCell(key)});
    present.insert(key);
    if (cells.size() >= kChunk) {
      if (Status st = flush(); !st.ok()) return st;
    }
  }
  for (const auto& key : load.keys)
    if (!present.count(key)) cells.push_back({key, ""});  // no sums left: delete
  if (Status st = flush(); !st.ok()) return st;
  if (load.max_pending_pk > 0) {
    Status st = tx.DropPendingContributions(load.max_pending_pk);
    if (!st.ok()) return st;
  }
  return tx.Commit();
}

Status ResetIndexCheckpoint(Store& store, const std::string& fingerprint) {
  auto tx_or = store.Begin();
  if (!tx_or.ok()) return tx_or.status();
  StoreTransaction& tx = *tx_or.value();
  Status st = tx.ResetIndexCheckpoint();
  if (!st.ok()) return st;
  st = tx.SetSetting(kIndexCheckpointSetting, fingerprint);
  if (!st.ok()) return st;
  return tx.Commit();
}

}  // namespace danvan
