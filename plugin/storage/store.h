// The storage interface the core depends on. Engines live in adapters/ (SQLite by default,
// PostgreSQL for several host nodes sharing one state).
//
// Threading: a Store is shared by all host threads. Begin() hands out the single write
// transaction (callers block until the previous one ends: writes are serialised, as SQLite
// requires); reads run concurrently on separate connections and see committed data only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
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
  // The compact form of the record's history (storage/history_digest.h), kept in step with
  // the history by whoever appends to it, so intake need not re-read the history.
  std::string history_digest;
};

// A record's pending deadline alert: when its on-time class changes by itself next.
struct DeadlineWatch {
  int64_t record_pk = 0;
  int64_t next_change_ms = 0;
  std::string next_class;
  std::string alerted;  // classes already alerted, comma-separated ("due_soon,open_overdue")
};

// A deadline watch change (SetWatch): set when next_change_ms has a value, cleared otherwise.
struct WatchUpdate {
  int64_t record_pk = 0;
  std::optional<int64_t> next_change_ms;
  std::string next_class;
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

// One unit of export work: a dossier (create/update) or a progress step, for one destination.
// Items of one (destination, record) are sent strictly in seq order.
struct OutboxItem {
  int64_t id = 0;
  std::string destination;
  int64_t record_pk = 0;
  std::string record_id;   // the dossier id (MaHoSo)
  std::string unit;        // host unit code (mapped to the portal unit code at send time)
  std::string op;          // "dossier" | "progress"
  int64_t seq = 0;
  std::string payload;     // progress: the step item; dossier: "" (the current data is sent)
  std::string idempotency_key;
  std::string state;       // "pending" | "held" | "done" | "dead"
  int64_t attempts = 0;
  int64_t next_attempt_ms = 0;
  int64_t created_ms = 0;
  std::string last_error;
  // An earlier attempt may have been applied by the portal without our knowing (its answer was
  // lost, or the node died between sending and recording): look before re-sending.
  bool ambiguous = false;
  // Progress: 0 sent by the host; 1 derived from a dossier item's status change (the host may
  // still send its own step for it); 2 derived and then matched by the host's own step.
  int64_t derived = 0;
  int64_t lease_until_ms = 0;  // > 0 while claimed (read only)
};

struct DeadLetterRow {
  int64_t id = 0;
  int64_t outbox_id = 0;
  std::string destination, record_id, op, payload, last_error;
  int64_t attempts = 0, dead_ms = 0, resent_ms = 0;
};

// One entry of the tamper-evident export log (hash chain per destination), without personal
// data: see outbox/export_log.h for what each field holds and the two formats.
struct ExportLogRow {
  int64_t seq = 0;
  std::string destination;
  int64_t at_ms = 0;
  std::string op, record_id, url;
  int http_status = 0;
  std::string outcome;
  std::string request_hash;      // SHA-256 of the exact request bytes
  std::string prev_hash, entry_hash;
  int format = 2;                // 1: legacy entry (whole bodies), 2: summaries and hashes
  std::string request_summary;   // format 2: non-personal identifiers of the request (JSON)
  std::string response_hash;     // format 2: SHA-256 of the exact response bytes
  std::string response_summary;  // format 2: the portal's codes per item (JSON)
  std::string request_masked;    // format 1 only (personal data; "" once scrubbed)
  std::string response_body;     // format 1 only (personal data; "" once scrubbed)
};

// An append-only, audited journal entry (manual assessments, stored scores, rubric sources).
struct JournalRow {
  int64_t id = 0;
  std::string kind;   // e.g. "manual_entry", "score", "rubric"
  std::string key;    // kind-specific key, e.g. "<rubric>|<period>|<unit>|<criterion>"
  std::string body;   // JSON
  int64_t recorded_ms = 0;
};

// A person's decision on the reading of a letter (tags.review), one current row per record;
// every decision is also journalled ("tag_review").
struct TagReviewRow {
  RecordKey key;
  std::string action;    // "confirm" or "correct"
  std::string decision;  // JSON {"kind","secondary":[...],"flags":{"complex":bool,...}}
  std::string proposed;  // JSON: the reading it confirmed or replaced (letter_reading evidence)
  std::string reviewer, why;
  int64_t at_ms = 0;
};

struct OutboxStatusRow {
  std::string destination;
  std::map<std::string, int64_t> by_state;
  int64_t oldest_pending_created_ms = 0;  // 0 when none
  int64_t dead_letters = 0;
};

// Checkpoint of the in-memory indicator aggregates (engine/index_checkpoint.h, issue 16).
// Invariant kept by every engine in the same transaction as each record change (triggers):
//   aggregates of every record's current contributions
//     = the stored cells + sum over pending rows of (current contributions - base)
// A pending row names a record whose contributions changed since the cells were last folded,
// and holds the unit and contributions the cells counted for it ("[]" when none).
struct PendingContribution {
  int64_t pk = 0;
  std::string base_unit, base_contrib;
  bool exists = true;               // false: the record was deleted since
  std::string unit, contrib = "[]";  // the record's current unit and contributions
};
// One stored cell of the checkpoint: an opaque key and its encoded value (empty = delete).
struct IndexCell {
  std::string key;
  std::string data;
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

  // --- Batch-shaped calls: intake applies a whole batch of events in one transaction, reading
  // every record it touches once and writing each changed record once. An engine with
  // multi-row statements (PostgreSQL) runs each call as one or a few statements; SQLite runs
  // one cached prepared statement per row. ---
  // The rows of `keys`, in the same order (nullopt where there is none).
  virtual Result<std::vector<std::optional<RecordRow>>> GetRecords(const std::vector<RecordKey>& keys) = 0;
  // Updates stored rows (every pk != 0), as PutRecord does.
  virtual Status UpdateRecords(const std::vector<const RecordRow*>& rows) = 0;
  // Appends history entries, in order.
  virtual Status AppendHistories(const std::vector<HistoryRow>& rows) = 0;
  // Applies watch changes in order, as SetWatch does.
  virtual Status SetWatches(const std::vector<WatchUpdate>& watches) = 0;

  // --- Outbox (written in the same transaction as the record change) ---
  // Inserts with the next seq of (destination, record_pk); returns the item id.
  virtual Result<int64_t> EnqueueOutbox(const OutboxItem& item) = 0;
  // True when a not-yet-claimed pending dossier item with no snapshot (payload "") exists: it is
  // the record's last item and will send the record's latest data.
  virtual Result<bool> HasWaitingDossierOp(const std::string& destination, int64_t record_pk,
                                           int64_t now_ms) = 0;
  // Claims up to `limit` items ready at now_ms whose earlier items (same destination and record)
  // are all done, plus, after a progress head, its following progress items (at most
  // steps_per_call per record); leases them to `owner` until lease_until_ms. An item whose
  // previous lease ran out unfinished comes back with ambiguous = true.
  virtual Result<std::vector<OutboxItem>> ClaimOutbox(const std::string& destination,
                                                      int64_t now_ms, int64_t lease_until_ms,
                                                      int64_t limit, int64_t steps_per_call,
                                                      const std::string& owner) = 0;
  // state "done", "pending" (retry at next_attempt_ms), "held" or "dead" (also copied to the
  // dead-letter table). Clears the lease; keeps item.ambiguous.
  virtual Status FinishOutbox(const OutboxItem& item, const std::string& state, int64_t now_ms) = 0;
  // The leases `owner` still holds (its previous run died mid-pass): released at once and the
  // items marked ambiguous. Returns how many.
  virtual Result<int64_t> ReleaseLeases(const std::string& destination, const std::string& owner,
                                        int64_t now_ms) = 0;
  // Dossier items of the record not sent yet (pending, held, dead) that would send the record's
  // latest data (payload "") get data_json as their snapshot: an item queued after them must
  // not be overtaken by a newer version of the dossier.
  virtual Status FreezeDossierOps(const std::string& destination, int64_t record_pk,
                                  const std::string& data_json) = 0;
  // Pending, unclaimed dossier items of the record are marked done, superseded by a newer
  // version about to be queued after them: every one when the portal has the dossier (synced),
  // else those after an earlier dossier item not done yet (that one creates the dossier before
  // any step). Returns how many.
  virtual Result<int64_t> SupersedeDossierOps(const std::string& destination, int64_t record_pk,
                                              int64_t now_ms, bool synced) = 0;
  // Progress items of the record with derived = 1 (unmatched derived steps), any state.
  virtual Result<std::vector<OutboxItem>> DerivedSteps(const std::string& destination,
                                                       int64_t record_pk) = 0;
  // Rewrites an item's payload, idempotency key, next_attempt_ms and derived flag (by id).
  virtual Status RewriteOutboxItem(const OutboxItem& item) = 0;
  // Payloads of the progress items of a record that were delivered, by seq.
  virtual Result<std::vector<std::string>> SentProgress(const std::string& destination,
                                                        int64_t record_pk) = 0;
  virtual Result<int64_t> ReleaseHeld(const std::string& destination, int64_t now_ms) = 0;
  // Pending items of `destination` waiting until at least `from_ms` (the end of a pause) are
  // due at now_ms (a configuration reload ended the pause). Returns how many.
  virtual Result<int64_t> ResumePending(const std::string& destination, int64_t from_ms, int64_t now_ms) = 0;
  virtual Status ResendDeadLetter(int64_t dead_letter_id, int64_t now_ms) = 0;
  virtual Result<std::optional<ExportLogRow>> LastExportLog(const std::string& destination) = 0;
  virtual Status AppendExportLog(const ExportLogRow& row) = 0;
  // Replaces the entry with row.seq (the one-time scrub of legacy entries, export_log.h).
  virtual Status RewriteExportLog(const ExportLogRow& row) = 0;
  virtual Status SetSetting(const std::string& key, const std::string& value) = 0;
  virtual Result<std::optional<std::string>> GetSettingInTx(const std::string& key) = 0;
  // Appends to the journal (never updated or deleted); returns the entry id.
  virtual Result<int64_t> AppendJournal(const JournalRow& row) = 0;
  // Inserts or replaces the record's current review decision.
  virtual Status PutTagReview(const TagReviewRow& row) = 0;
  // --- Several nodes on one database (PostgreSQL); no-ops where one process owns the store
  // (SQLite: the write transaction is already exclusive). ---
  // Takes, until this transaction ends, the write locks of these records (those intake takes
  // in GetRecords), in the one order every caller uses. Called first by a transaction that then
  // changes outbox items of the records and the records themselves (the exporters' finish),
  // so that it and intake (record, then its outbox items) never wait for each other crosswise.
  virtual Status LockRecords(const std::vector<int64_t>& record_pks) {
    (void)record_pks;
    return Status::Ok();
  }
  // True when this transaction now holds the lock of the periodic job `job` until it ends;
  // false at once when another node's transaction holds it (never waits).
  virtual Result<bool> TryLockJob(const std::string& job) {
    (void)job;
    return true;
  }
  // --- Indicator checkpoint (PendingContribution above), batch-shaped ---
  // The first `limit` pending rows with pk > after_pk, by pk, each with its record's current
  // state. Engines with concurrent writers first lock out other writers of pending rows until
  // this transaction ends, so what is read here is what is folded.
  virtual Result<std::vector<PendingContribution>> PendingContributions(int64_t after_pk, int64_t limit) = 0;
  // The stored cells among `keys` (missing keys are absent from the answer).
  virtual Result<std::vector<IndexCell>> GetIndexCells(const std::vector<std::string>& keys) = 0;
  // Upserts each cell; a cell with empty data is deleted.
  virtual Status PutIndexCells(const std::vector<IndexCell>& cells) = 0;
  // Removes the pending rows with pk <= up_to_pk (those just folded into the cells).
  virtual Status DropPendingContributions(int64_t up_to_pk) = 0;
  // Starts the checkpoint over: no cells, every record with contributions pending from "[]".
  virtual Status ResetIndexCheckpoint() = 0;
  // Makes every change of this transaction durable (per the configured synchronous mode).
  virtual Status Commit() = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual Result<std::unique_ptr<StoreTransaction>> Begin() = 0;
  // Begin, given up (RETRY_LATER) when the write lock is not free by `deadline` (SQLite: the
  // sooner of it and storage.busy_timeout_ms from now), for a caller with a bound of its own
  // (stop's timeout). An engine without such a wait begins as Begin does.
  virtual Result<std::unique_ptr<StoreTransaction>> BeginBefore(std::chrono::steady_clock::time_point deadline) {
    (void)deadline;
    return Begin();
  }
  // Copies committed changes into the main file and empties the write-ahead log, so replaced
  // data does not linger there (after the export-log scrub).
  virtual Status Checkpoint() = 0;
  virtual Result<std::optional<RecordRow>> GetRecord(const RecordKey& key) = 0;
  virtual Result<std::optional<RecordRow>> GetRecordByPk(int64_t pk) = 0;
  virtual Result<std::vector<HistoryRow>> GetHistory(int64_t record_pk) = 0;
  virtual Result<std::vector<QuarantineRow>> ListQuarantine(int64_t limit, int64_t offset) = 0;
  virtual Result<StoreStats> Stats() = 0;
  // Calls fn(pk, unit, contrib_json) for every record with contributions (to rebuild the
  // in-memory aggregates and the per-record index).
  virtual Status ForEachContribution(
      const std::function<void(int64_t pk, const std::string& unit, const std::string& contrib)>& fn) = 0;
  // Reads the indicator checkpoint in one consistent snapshot: fn_cell for every stored cell,
  // then fn_pending for every pending row (by pk). Engines with a change feed take their
  // contribution cursor from this snapshot, as ForEachContribution does.
  virtual Status LoadIndexCheckpoint(const std::function<void(const IndexCell&)>& fn_cell,
                                     const std::function<void(const PendingContribution&)>& fn_pending) = 0;
  // How many pending rows there are (decides when to fold them into the cells).
  virtual Result<int64_t> CountPendingContributions() = 0;
  // Calls fn(row) for every record of `kind` whose unit is in `units` (explain, re-tagging), by
  // pk. Rows are read as fn takes them (a chunk at a time at most), so memory does not grow with
  // the number of matching records; fn runs while the scan's read is open and must not call the
  // store (it would need another read connection: ReadersBusy when the pool is exhausted).
  virtual Status ForEachRecord(const std::string& kind, const std::vector<std::string>& units,
                               const std::function<void(const RecordRow&)>& fn) = 0;
  // Calls fn(row) for each record whose pk is in `pks` (missing ones are skipped), by pk; read
  // as ForEachRecord reads, with the same rule for fn.
  virtual Status ForEachRecordByPk(const std::vector<int64_t>& pks,
                                   const std::function<void(const RecordRow&)>& fn) = 0;
  // --- Outbox reads ---
  virtual Result<int64_t> CountQueued() = 0;  // items pending or held, all destinations
  virtual Result<OutboxStatusRow> OutboxStatus(const std::string& destination) = 0;
  virtual Result<std::vector<DeadLetterRow>> ListDeadLetters(int64_t limit, int64_t offset) = 0;
  virtual Result<std::vector<ExportLogRow>> ReadExportLog(const std::string& destination,
                                                          int64_t after_seq, int64_t limit) = 0;
  // Destinations having export-log entries of a format below `format`.
  virtual Result<std::vector<std::string>> ExportLogDestinationsBelowFormat(int format) = 0;
  virtual Result<std::optional<std::string>> GetSetting(const std::string& key) = 0;
  // Journal entries of `kind` whose key starts with key_prefix, oldest first.
  virtual Result<std::vector<JournalRow>> ListJournal(const std::string& kind,
                                                      const std::string& key_prefix) = 0;
  // One page of the journal entries of `kind`, newest first: ids below before_id (0 = from
  // the newest), at most `limit`; key_prefix "" = every key. Bounded by limit.
  virtual Result<std::vector<JournalRow>> ListJournalPage(const std::string& kind,
                                                          const std::string& key_prefix,
                                                          int64_t before_id, int64_t limit) = 0;
  // Every stored review decision (tags.review), by record key.
  virtual Result<std::vector<TagReviewRow>> ListTagReviews() = 0;
  // Dossiers the portal confirmed (records.synced = 1), pk > after_pk, by pk.
  virtual Result<std::vector<RecordRow>> SyncedDossiers(int64_t after_pk, int64_t limit) = 0;
  // One page of every record's pk (all kinds and units): pk > after_pk, ascending, at most
  // `limit` (re-tagging walks the table in such pages, never holding it whole).
  virtual Result<std::vector<int64_t>> RecordPksAfter(int64_t after_pk, int64_t limit) = 0;
  // Watches due at or before now_ms, earliest first.
  virtual Result<std::vector<DeadlineWatch>> DueWatches(int64_t now_ms, int64_t limit) = 0;
};

}  // namespace danvan
