// The storage interface the core depends on. Engines live in adapters/ (SQLite by default,
// PostgreSQL for several host nodes sharing one state).
//
// Threading: a Store is shared by all host threads. Begin() hands out the single write
// transaction (callers block until the previous one ends: writes are serialised, as SQLite
// requires); reads run concurrently on separate connections and see committed data only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace danvan {

struct RecordKey {
  std::string source;
  std::string kind;
  std::string id;
};

// The current state of a record: the last applied event.
struct RecordRow {
  int64_t pk = 0;
  RecordKey key;
  std::string unit;
  // Ordering of events of this record: "version" (envelope version) or "time" (updated_at).
  std::string order_basis;
  int64_t order_key = 0;
  std::string event_time;      // as sent (ISO 8601)
  int64_t event_time_ms = 0;
  std::string status;          // kind-specific status code ("" when the kind has none)
  std::string data_json;       // the event's data object, canonical JSON
  std::string data_hash;       // SHA-256 (hex) of data_json; decides duplicate vs conflict
  std::string tags_json = "[]";  // explainable tags of the current version (JSON array)
  int64_t first_seen_ms = 0;
  int64_t updated_ms = 0;      // when the plugin last changed this row
  bool has_item = true;        // dossier: false while only progress steps have arrived
  // Derived state, written in the same transaction as the record:
  std::string contrib_json = "[]";   // indicator contributions (indicators/contributions.h)
  std::string deadline_json = "null";  // deadline classification (calendar/ontime.h)
  bool synced = false;               // the portal has confirmed this dossier (outbox)
};

// A record's pending deadline alert: when its on-time class changes by itself next.
struct DeadlineWatch {
  int64_t record_pk = 0;
  int64_t next_change_ms = 0;
  std::string next_class;
  std::string alerted;  // classes already alerted, comma-separated ("due_soon,open_overdue")
};

// One event of a record's history (applied, stale or a progress step).
struct HistoryRow {
  int64_t record_pk = 0;
  int64_t order_key = 0;
  std::string status;
  int64_t at_ms = 0;           // when the status took effect (event time or ThoiDiemXuLy)
  std::string event_time;
  std::string outcome;         // "applied", "stale", "step"
  std::string detail_json;     // step item or a note; "" when none
  int64_t received_ms = 0;
};

struct QuarantineRow {
  int64_t id = 0;
  int64_t received_ms = 0;
  std::string source, kind, record_id;  // as far as they could be read ("" otherwise)
  std::string errors_json;               // [{"path":..,"reason":..}]
  std::string raw;                       // the input, capped
  int64_t raw_size = 0;                  // the input's full size
};

struct StoreStats {
  struct KindUnitCount {
    std::string kind, unit;
    int64_t count = 0;
  };
  std::vector<KindUnitCount> records;
  int64_t history_rows = 0;
  int64_t quarantined = 0;
  int64_t schema_version = 0;
  std::string location;  // file path or connection target (no secrets)
};

// The single write transaction. Destroying it without Commit() rolls back.
class StoreTransaction {
 public:
  virtual ~StoreTransaction() = default;
  virtual Result<std::optional<RecordRow>> GetRecord(const RecordKey& key) = 0;
  // Inserts (row.pk == 0) or updates the row; returns its pk.
  virtual Result<int64_t> PutRecord(const RecordRow& row) = 0;
  virtual Status AppendHistory(const HistoryRow& row) = 0;
  // True when a step with this (record, status, at_ms) is already in the history.
  virtual Result<bool> HasStep(int64_t record_pk, const std::string& status, int64_t at_ms) = 0;
  virtual Status Quarantine(const QuarantineRow& row) = 0;
  virtual Result<std::vector<HistoryRow>> GetHistory(int64_t record_pk) = 0;
  // Sets (or clears, when next_change_ms is nullopt) the record's deadline watch; keeps the
  // classes already alerted unless reset_alerted.
  virtual Status SetWatch(int64_t record_pk, std::optional<int64_t> next_change_ms,
                          const std::string& next_class) = 0;
  virtual Status MarkAlerted(int64_t record_pk, const std::string& alerted) = 0;
  virtual Result<std::optional<RecordRow>> GetRecordByPk(int64_t pk) = 0;
  // Makes every change of this transaction durable (per the configured synchronous mode).
  virtual Status Commit() = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual Result<std::unique_ptr<StoreTransaction>> Begin() = 0;
  virtual Result<std::optional<RecordRow>> GetRecord(const RecordKey& key) = 0;
  virtual Result<std::vector<HistoryRow>> GetHistory(int64_t record_pk) = 0;
  virtual Result<std::vector<QuarantineRow>> ListQuarantine(int64_t limit, int64_t offset) = 0;
  virtual Result<StoreStats> Stats() = 0;
  // Calls fn(unit, contrib_json) for every record (to rebuild the in-memory aggregates).
  virtual Status ForEachContribution(
      const std::function<void(const std::string& unit, const std::string& contrib)>& fn) = 0;
  // Calls fn(row) for every record of `kind` whose unit is in `units` (explain, re-tagging).
  virtual Status ForEachRecord(const std::string& kind, const std::vector<std::string>& units,
                               const std::function<void(const RecordRow&)>& fn) = 0;
  // Watches due at or before now_ms, earliest first.
  virtual Result<std::vector<DeadlineWatch>> DueWatches(int64_t now_ms, int64_t limit) = 0;
};

}  // namespace danvan
