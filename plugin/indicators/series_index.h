// In-memory aggregates: per (series, unit) day-indexed sums kept as month buckets, so any
// unit x date-range figure is a handful of additions, never a scan of records.
//
// The durable source is each record's stored contribution list (records.contrib), written in
// the same transaction as the record; at open the index is loaded from its checkpoint plus the
// records changed since (engine/index_checkpoint.h) and it is updated after every commit.
// Deltas commute, so concurrent committers may apply in any order.
//
// Memory (issue 16, city scale): series and unit names are interned (a key is two 32-bit ids);
// a key's months are a sorted flat array of 24-byte headers (month, a bit per day that has a
// value, the month's total) and its days one flat byte array of the non-zero day sums only,
// each a zigzag varint (a count of 1 takes one byte, not eight). A day whose sum returns to zero
// is removed, and a month with no day left with it. Updating a day re-encodes its month (at
// most 31 values); a range query adds month totals and decodes at most two months' days.
//
// A query reads many series of one unit (issue 16: the 52 indicators read about 60 series):
// Read() resolves the unit and a SeriesList's names once, under one shared lock, to the cells'
// buckets, through a table of the cells by unit and series (no hash lookup per term).
//
// Thread-safety: Apply and Load take an exclusive lock, reads a shared lock (a FairSharedMutex:
// host threads querying in a loop cannot starve intake's Apply, nor Apply the queries).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/fair_shared_mutex.h"

namespace danvan::indicators {

struct Delta {
  std::string series;
  std::string unit;
  int64_t day = 0;
  double value = 0;
  // The record the delta comes from (0 when unknown), and whether `unit` is the unit the
  // contribution counts for rather than one of its ancestors (RecordSeriesIndex keeps only those).
  int64_t record_pk = 0;
  bool own_unit = false;
};

class SeriesIndex;

// Series names a caller reads together, resolved to an index's internal ids on first use and
// again only after that index has learnt a new series name or been cleared (IndicatorCatalog
// keeps one for all its terms). Immutable names; the resolution cache has its own lock, so one
// list may be used by many threads and with several indexes.
class SeriesList {
 public:
  explicit SeriesList(std::vector<std::string> names) : names_(std::move(names)) {}
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }

 private:
  friend class SeriesIndex;
  std::vector<std::string> names_;
  mutable std::mutex mu_;
  mutable uint64_t stamp_ = 0;      // SeriesIndex::names_stamp_ the ids were resolved at (0: none)
  mutable std::vector<uint32_t> ids_;  // by name; UINT32_MAX: not a series of that index
};

// Sums are kept as integers in millionths of a unit, so they are exact and do not depend on the
// order deltas arrive in: the same data gives the same figures to the last digit whether the
// index was built during intake or loaded at open (reports are compared byte for byte).
// Contribution values are counts or day durations; a millionth of a day is 0.09 s.
class SeriesIndex {
  struct Buckets;

 public:
  // One unit's cells for a SeriesList, read under a shared lock held while the Reader lives:
  // the same figures as Range and Level. Precondition: the thread holding a Reader calls no other
  // method of the index until it is gone (the lock is not recursive: a writer queued in between
  // would deadlock it). Movable, not copyable.
  class Reader {
   public:
    // Range(list[i], unit, from_day, to_day), Level(list[i], unit, day).
    double Range(size_t i, int64_t from_day, int64_t to_day) const;
    double Level(size_t i, int64_t day) const;

   private:
    friend class SeriesIndex;
    std::shared_lock<FairSharedMutex> lock_;
    std::vector<const Buckets*> cells_;  // by list position; null: no sums
  };
  Reader Read(const std::string& unit, const SeriesList& list) const;

  void Apply(const std::vector<Delta>& deltas);
  // Sum of the series over days [from_day, to_day].
  double Range(const std::string& series, const std::string& unit, int64_t from_day,
               int64_t to_day) const;
  // Sum of the series over all days <= day (the level of a +1/-1 series on that day).
  double Level(const std::string& series, const std::string& unit, int64_t day) const;
  void Clear();
  size_t bucket_count() const;  // months with at least one non-zero day
  size_t key_count() const;
  // Bytes held by the index's own structures (headers, day values, name tables, hash nodes;
  // an estimate of the allocator's view).
  size_t memory_bytes() const;

  // --- Checkpoint cells (engine/index_checkpoint.h) ---
  // One cell per (series, unit): "s" 0x1f series 0x1f unit. Per month, little-endian: uint32
  // month key (year*12 + month-1), uint32 day mask, uint32 byte length, then one zigzag varint
  // (millionths) per set bit, by day. An empty string means no data (the cell is to be deleted).
  static std::string CellKey(const std::string& series, const std::string& unit);
  static bool IsCellKey(const std::string& key);
  std::string EncodeCell(const std::string& series, const std::string& unit) const;
  // Every (series, unit) that has sums.
  std::vector<std::pair<std::string, std::string>> Keys() const;
  // Adds the cell's sums to the index. False (and nothing added) when key or data is malformed.
  bool LoadCell(const std::string& key, const std::string& data);

 private:
  struct MonthHdr {
    int32_t month = 0;   // year*12 + month-1
    uint32_t mask = 0;   // bit d-1: day d has a value in bytes
    int64_t total = 0;   // sum of the month's days (millionths)
    uint32_t off = 0;    // the month's first byte in Buckets::bytes
    uint32_t len = 0;    // and its length
  };
  struct Buckets {
    std::vector<MonthHdr> months;  // by month
    std::vector<uint8_t> bytes;    // the set days' values as zigzag varints, month after month
  };
  // Decodes the first n values of a month.
  static void Decode(const Buckets& b, const MonthHdr& h, int n, int64_t* out);
  static uint64_t KeyOf(uint32_t series, uint32_t unit) { return (uint64_t{series} << 32) | unit; }
  uint32_t Intern(std::vector<std::string>* names, std::unordered_map<std::string, uint32_t>* ids,
                  const std::string& name);
  const Buckets* Find(const std::string& series, const std::string& unit) const;
  static void Add(Buckets* b, int32_t month, unsigned dom, int64_t v);
  static int64_t Prefix(const Buckets& b, int64_t day);
  // Sum over [from_day, to_day] (from_day <= to_day).
  static int64_t RangeSum(const Buckets& b, int64_t from_day, int64_t to_day);

  // Records that data_[KeyOf(s, u)] now exists (b) or is gone (null) in rows_.
  void SetCell(uint64_t key, const Buckets* b);
  // A new value of names_stamp_, unique in the process (so a SeriesList resolved against another
  // index, or this one before Clear, never matches).
  static uint64_t NewStamp();

  mutable FairSharedMutex mu_;
  std::unordered_map<uint64_t, Buckets> data_;  // node-based: a value's address is stable
  // rows_[unit id][series id]: the cell's buckets in data_, or null (rows grow on demand).
  std::vector<std::vector<const Buckets*>> rows_;
  uint64_t names_stamp_ = NewStamp();  // changes whenever a series name is interned or on Clear
  std::vector<std::string> series_names_, unit_names_;
  std::unordered_map<std::string, uint32_t> series_ids_, unit_ids_;
};

// The capacity a flat vector of the indexes is given when `size` elements need `more` room: an
// eighth more, not double. Cells are loaded at their exact size, so doubling every cell an update
// touches grew the index by the touched cells' size (re-tagging at 10M: +7 MiB); an eighth
// costs a copy of the vector every size/8 appended elements.
inline size_t GrownCapacity(size_t size, size_t more) { return size + more + size / 8 + 4; }

// Little-endian fixed-width encoding shared by the checkpoint cells.
void PutI64(std::string* out, int64_t v);
void PutU32(std::string* out, uint32_t v);
bool GetI64(const std::string& in, size_t* pos, int64_t* v);
bool GetU32(const std::string& in, size_t* pos, uint32_t* v);

}  // namespace danvan::indicators
