// Per-record entries of the few series whose records a report lists by name (overdue
// petitions, flagged cases, head-of-unit reception sessions, late plan tasks, "Dân vận khéo"
// models), so a report finds its rows without reading every record of a kind.
//
// Memory (issue 16, city scale: ~3*10^5 entries at 10M events): per series, a sorted vector of
// 32-day blocks, each a sorted flat vector of 24-byte entries with interned units.
//
// Same lifecycle as SeriesIndex: rebuilt from records.contrib at open and updated after every
// commit from the same deltas. Only deltas that carry their record (record_pk != 0) and are the
// record's own entry (own_unit: the first unit of the chain, not an ancestor's copy) of a
// tracked series are kept. Entries are candidates: the caller re-checks each record it fetches.
//
// Thread-safety: Apply takes an exclusive lock, reads a shared lock (FairSharedMutex: neither
// starves the other); no method calls another while it holds the lock.
#pragma once

#include <cstdint>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/fair_shared_mutex.h"
#include "indicators/series_index.h"

namespace danvan::indicators {

class RecordSeriesIndex {
 public:
  explicit RecordSeriesIndex(std::vector<std::string> tracked_series);

  bool Tracks(const std::string& series) const;
  void Apply(const std::vector<Delta>& deltas);

  struct Entry {
    int64_t record_pk = 0;
    std::string unit;  // the unit the entry counts for (the record's or its lead unit)
    int64_t day = 0;
    double value = 0;
  };
  // Entries of `series` on days in [from_day, to_day], by day then record.
  std::vector<Entry> Between(const std::string& series, int64_t from_day, int64_t to_day) const;
  // Records whose level of `series` on `day` (the sum of their entries up to it) is positive,
  // with that level's unit (the unit of the record's latest entry up to the day), by record.
  std::vector<std::pair<int64_t, std::string>> PositiveLevel(const std::string& series,
                                                             int64_t day) const;
  size_t entry_count() const;
  void Clear();
  size_t memory_bytes() const;  // estimate of the entries' and names' allocations

  // --- Checkpoint cells (engine/index_checkpoint.h): one per (series, month) ---
  // Key "r" 0x1f series 0x1f month key (year*12 + month-1, decimal). Data: per entry int64 day,
  // int64 record pk, IEEE-754 double value (as int64 bits), uint32 unit length, unit bytes;
  // little-endian. Empty = no entries (delete the cell).
  static std::string CellKey(const std::string& series, int64_t day);
  static bool IsCellKey(const std::string& key);
  std::string EncodeCell(const std::string& key) const;
  std::vector<std::string> CellKeys() const;  // the cells that have entries
  // Applies the cell's entries as deltas. False (nothing applied) when malformed.
  bool LoadCell(const std::string& key, const std::string& data);

 private:
  // One entry: a record's sum on one day. 24 bytes (the std::map node it replaces took ~72, plus
  // the allocator's overhead).
  struct Slot {
    int64_t record_pk = 0;
    double value = 0;
    uint32_t unit = 0;  // index into units_
    uint8_t off = 0;    // the day within its block: day = block * kBlockDays + off
  };
  // The days [block * kBlockDays, block * kBlockDays + kBlockDays - 1] of one series: a flat vector
  // sorted by (off, record_pk), i.e. by (day, record_pk). An update moves at most one block's
  // entries (hundreds to a few thousand at city scale). Fixed blocks, not calendar months, so
  // every int64 day has its place; a checkpoint cell (a calendar month) spans at most two blocks.
  static constexpr int64_t kBlockDays = 32;
  struct Block {
    int64_t block = 0;  // day >> 5 (floor(day / kBlockDays))
    std::vector<Slot> entries;
  };
  using Blocks = std::vector<Block>;  // by block
  // Calls fn(day, slot) for the entries of `blocks` on days [from_day, to_day], in order.
  template <class Fn>
  static void ForEachBetween(const Blocks& blocks, int64_t from_day, int64_t to_day, Fn fn);
  // Adds value to (day, record_pk); drops the entry when it cancels out.
  void AddLocked(Blocks* blocks, const Delta& d);
  // Gives back a block's spare capacity (after a load, whose appends doubled it).
  static void Shrink(Blocks* blocks, int64_t from_day, int64_t to_day);
  uint32_t Intern(const std::string& unit);

  const std::set<std::string> tracked_;
  mutable FairSharedMutex mu_;
  std::unordered_map<std::string, Blocks> data_;  // by series; no empty block is kept
  std::vector<std::string> units_;
  std::unordered_map<std::string, uint32_t> unit_ids_;
};

}  // namespace danvan::indicators
