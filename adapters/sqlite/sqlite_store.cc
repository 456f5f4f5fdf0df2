#include "sqlite/sqlite_store.h"

#include "sqlite/file_mode.h"
#include "sqlite/sqlite_outbox_sql.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

namespace danvan {
namespace {

using namespace Poco::Data::Keywords;
using Poco::Data::Session;
using Poco::Data::Statement;

// Schema migrations, applied in order and recorded in schema_migrations. Never edit a
// shipped migration: append a new one.
const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> kMigrations = {
      // 1: records, history, quarantine.
      R"sql(
CREATE TABLE records (
  pk INTEGER PRIMARY KEY,
  source TEXT NOT NULL, kind TEXT NOT NULL, rid TEXT NOT NULL,
  unit TEXT NOT NULL,
  order_basis TEXT NOT NULL, order_key INTEGER NOT NULL,
  event_time TEXT NOT NULL, event_time_ms INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT '',
  data TEXT NOT NULL, data_hash TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  first_seen_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
  has_item INTEGER NOT NULL DEFAULT 1,
  contrib TEXT NOT NULL DEFAULT '[]',
  deadline TEXT NOT NULL DEFAULT 'null',
  synced INTEGER NOT NULL DEFAULT 0,
  UNIQUE (source, kind, rid));
CREATE INDEX records_kind_unit ON records (kind, unit);
CREATE TABLE record_history (
  id INTEGER PRIMARY KEY,
  record_pk INTEGER NOT NULL REFERENCES records(pk),
  order_key INTEGER NOT NULL, status TEXT NOT NULL, at_ms INTEGER NOT NULL,
  event_time TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
  received_ms INTEGER NOT NULL);
CREATE INDEX record_history_pk ON record_history (record_pk, at_ms);
CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL,
  source TEXT NOT NULL, kind TEXT NOT NULL, rid TEXT NOT NULL,
  errors TEXT NOT NULL, raw BLOB, raw_size INTEGER NOT NULL);
CREATE TABLE deadline_watch (
  record_pk INTEGER PRIMARY KEY REFERENCES records(pk),
  next_change_ms INTEGER, next_class TEXT NOT NULL DEFAULT '',
  alerted TEXT NOT NULL DEFAULT '');
CREATE INDEX deadline_watch_next ON deadline_watch (next_change_ms);
)sql",
      // 2: export to the national portal: outbox, dead letters, hash-chained export log,
      // administrator settings (code mappings).
      R"sql(
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  destination TEXT NOT NULL, record_pk INTEGER NOT NULL REFERENCES records(pk),
  record_id TEXT NOT NULL, unit TEXT NOT NULL, op TEXT NOT NULL, seq INTEGER NOT NULL,
  payload TEXT NOT NULL, idempotency_key TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '', lease_until_ms INTEGER NOT NULL DEFAULT 0,
  done_ms INTEGER NOT NULL DEFAULT 0,
  batch_key TEXT NOT NULL DEFAULT '',
  UNIQUE (destination, record_pk, seq));
CREATE INDEX outbox_ready ON outbox (destination, state, next_attempt_ms);
CREATE TABLE dead_letter (
  id INTEGER PRIMARY KEY, outbox_id INTEGER NOT NULL, destination TEXT NOT NULL,
  record_id TEXT NOT NULL, op TEXT NOT NULL, payload TEXT NOT NULL, last_error TEXT NOT NULL,
  attempts INTEGER NOT NULL, dead_ms INTEGER NOT NULL, resent_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE export_log (
  seq INTEGER PRIMARY KEY, destination TEXT NOT NULL, at_ms INTEGER NOT NULL,
  op TEXT NOT NULL, record_id TEXT NOT NULL, url TEXT NOT NULL, http_status INTEGER NOT NULL,
  outcome TEXT NOT NULL, request_hash TEXT NOT NULL, request_masked TEXT NOT NULL,
  response_body TEXT NOT NULL, prev_hash TEXT NOT NULL, entry_hash TEXT NOT NULL);
CREATE INDEX export_log_dest ON export_log (destination, seq);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE journal (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL,
  body TEXT NOT NULL, recorded_ms INTEGER NOT NULL);
CREATE INDEX journal_kind_key ON journal (kind, key);
)sql",
      // 3: the journal was added to migration 2 after databases had been made with the first
      // version of it (the 1M-record benchmark database): create it where it is missing.
      R"sql(
CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL,
  body TEXT NOT NULL, recorded_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS journal_kind_key ON journal (kind, key);
)sql",
      // 4: the export log keeps no personal data (plugin/outbox/export_log.h): summaries and
      // hashes (format 2). Existing entries are marked format 1; the outbox scrubs them at open.
      R"sql(
ALTER TABLE export_log ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
ALTER TABLE export_log ADD COLUMN request_summary TEXT NOT NULL DEFAULT '';
ALTER TABLE export_log ADD COLUMN response_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE export_log ADD COLUMN response_summary TEXT NOT NULL DEFAULT '';
CREATE INDEX export_log_format ON export_log (format, destination);
)sql",
      // 5: people's decisions on the reading of letters (tags.review, issue 12).
      R"sql(
CREATE TABLE IF NOT EXISTS tag_review (
  source TEXT NOT NULL, kind TEXT NOT NULL, rid TEXT NOT NULL,
  action TEXT NOT NULL, decision TEXT NOT NULL, proposed TEXT NOT NULL,
  reviewer TEXT NOT NULL, why TEXT NOT NULL, at_ms INTEGER NOT NULL,
  PRIMARY KEY (source, kind, rid));
)sql",
      // 6 (outbox, issue 11): an item whose earlier attempt may have been applied without our
      // knowing (ambiguous), derived progress steps (0 host, 1 derived, 2 derived then matched
      // by the host's step), and which node holds a lease (released at once when that node
      // starts again).
      R"sql(
ALTER TABLE outbox ADD COLUMN ambiguous INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN derived INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
)sql",
      // 7 (issue 15): the audit trail of administrative ops is the journal's kind "audit",
      // listed newest first a page at a time (audit.list).
      R"sql(
CREATE INDEX IF NOT EXISTS journal_kind_id ON journal (kind, id);
)sql",
      // 8 (intake speed, issue 16): the compact form of each record's history
      // (storage/history_digest.h), so intake reads one row per record instead of its whole
      // history. Existing records get theirs from the history they have.
      R"sql(
ALTER TABLE records ADD COLUMN history_digest TEXT NOT NULL DEFAULT '';
UPDATE records SET history_digest = coalesce((SELECT group_concat(
    CASE h.outcome WHEN 'applied' THEN 'a' WHEN 'stale' THEN 's' WHEN 'step' THEN 't' ELSE 'x' END
    || h.order_key || ',' || h.at_ms || ',' || length(CAST(h.status AS BLOB)) || ':' || h.status, '')
  FROM record_history AS h WHERE h.record_pk = records.pk), '');
)sql",
      // 9 (open at city scale, issue 16): the checkpoint of the in-memory indicator aggregates
      // (engine/index_checkpoint.h). index_cells holds the folded aggregates; contrib_pending
      // names each record whose contributions changed since, with what the cells counted for
      // it, written by these triggers in the same transaction as the change. An existing
      // database starts with no checkpoint (settings key index_checkpoint absent): the engine
      // resets it at the next open (every record pending from "[]").
      R"sql(
CREATE TABLE IF NOT EXISTS index_cells (key TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS contrib_pending (pk INTEGER PRIMARY KEY, base_unit TEXT NOT NULL,
  base_contrib TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS records_contrib_pending_insert AFTER INSERT ON records
  WHEN NEW.contrib <> '[]'
BEGIN
  INSERT OR IGNORE INTO contrib_pending (pk, base_unit, base_contrib) VALUES (NEW.pk, NEW.unit, '[]');
END;
CREATE TRIGGER IF NOT EXISTS records_contrib_pending_update AFTER UPDATE OF unit, contrib ON records
  WHEN NEW.contrib IS NOT OLD.contrib OR NEW.unit IS NOT OLD.unit
BEGIN
  INSERT OR IGNORE INTO contrib_pending (pk, base_unit, base_contrib) VALUES (OLD.pk, OLD.unit, OLD.contrib);
END;
CREATE TRIGGER IF NOT EXISTS records_contrib_pending_delete AFTER DELETE ON records
  WHEN OLD.contrib <> '[]'
BEGIN
  INSERT OR IGNORE INTO contrib_pending (pk, base_unit, base_contrib) VALUES (OLD.pk, OLD.unit, OLD.contrib);
END;
)sql",
  };
  return kMigrations;
}

std::once_flag g_register_once;

// Every read connection stayed busy for the whole of SqliteOptions::read_wait_ms: RETRY_LATER.
class ReadersBusy : public Poco::Exception {
 public:
  explicit ReadersBusy(const std::string& msg) : Poco::Exception(msg) {}
};

// SQLITE_BUSY (any extended code) from a statement: another connection holds a lock this one
// needs. The writer's transactions take the write lock at BEGIN (SqliteStore::Begin), so this is
// rare inside one (WAL recovery); nothing of the transaction is kept: RETRY_LATER.
bool IsBusy(const Poco::Exception& e) {
  return dynamic_cast<const Poco::Data::SQLite::DBLockedException*>(&e) != nullptr ||
         (dynamic_cast<const Poco::Data::DataException*>(&e) != nullptr && (e.code() & 0xff) == SQLITE_BUSY);
}

// The write lock was not free within storage.busy_timeout_ms: held by another connection (as a
// rule another process: a sqlite3 shell, a backup tool, a second program on the file), or by
// this plugin's other writer waiting for one.
Status StoreBusy(const std::string& what, int busy_timeout_ms) {
  return Status::RetryLater(what + ": khóa ghi của kho dữ liệu bị giữ (thường bởi một tiến trình khác) quá " +
                            std::to_string(busy_timeout_ms) +
                            " ms (storage.busy_timeout_ms); chưa ghi gì, thử lại sau");
}

Status FromPoco(const std::string& what, const Poco::Exception& e) {
  if (dynamic_cast<const ReadersBusy*>(&e)) return Status::RetryLater(e.message());
  if (IsBusy(e))
    return Status::RetryLater(what + ": kho dữ liệu đang bị một kết nối khác khóa (" + e.displayText() +
                              "); chưa ghi gì, thử lại sau");
  return Status::IoError(what + ": " + e.displayText());
}

// Refuses at once a path SQLite cannot use as a database: Poco::Data retries a failed
// connection for its login timeout (60 s) before it reports the error. A directory, device or
// FIFO is refused by its type; an existing file that cannot be read as a database
// (/proc/self/mem, a file of another format) by one open and read through the SQLite API,
// without creating anything; a new file's directory must exist and be writable.
Status ProbeDatabasePath(const SqliteOptions& o) {
  auto refuse = [&](const std::string& why) {
    return Status::IoError("không mở được cơ sở dữ liệu '" + o.path + "': " + why);
  };
  struct stat st {};
  if (::stat(o.path.c_str(), &st) != 0) {
    if (errno != ENOENT) return refuse(std::strerror(errno));
    const std::string parent = std::filesystem::path(o.path).parent_path().string();
    const std::string dir = parent.empty() ? "." : parent;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return refuse("thư mục '" + dir + "' không tồn tại");
    if (::access(dir.c_str(), W_OK | X_OK) != 0) return refuse("không có quyền ghi vào thư mục '" + dir + "'");
    return Status::Ok();  // SQLite creates the file
  }
  if (!S_ISREG(st.st_mode))
    return refuse("đường dẫn không phải tệp thông thường (thư mục, thiết bị hoặc FIFO)");
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(o.path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, o.busy_timeout_ms);
    rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
  }
  const std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  sqlite3_close_v2(db);
  if (rc != SQLITE_OK) return refuse(message);
  return Status::Ok();
}

// The read connections: at most SqliteOptions::read_connections, opened on first use and kept
// open; each serves one thread at a time. A reader that finds them all busy waits for one (at
// most read_wait_ms, then ReadersBusy): a query never fails because other queries are running.
// Thread-safe.
class ReaderPool {
 public:
  explicit ReaderPool(const SqliteOptions& o) : options_(o), max_(std::max(1, o.read_connections)) {}
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // One connection, given back to the pool when the lease ends.
  class Lease {
   public:
    Lease(ReaderPool* pool, std::unique_ptr<Session> session)
        : pool_(pool), session_(std::move(session)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), session_(std::move(other.session_)) {
      other.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ && session_) pool_->Give(std::move(session_));
    }
    Session& session() { return *session_; }

   private:
    ReaderPool* pool_;
    std::unique_ptr<Session> session_;
  };

  // Throws ReadersBusy after read_wait_ms without a free connection, Poco::Exception when a new
  // connection cannot be opened.
  Lease Acquire() {
    std::unique_lock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.read_wait_ms);
    if (!cv_.wait_until(lock, deadline, [&] { return !idle_.empty() || open_ < max_; }))
      throw ReadersBusy("cả " + std::to_string(max_) + " kết nối đọc đều bận quá " +
                        std::to_string(options_.read_wait_ms) + " ms (limits.read_wait_ms); thử lại sau");
    if (!idle_.empty()) {
      std::unique_ptr<Session> s = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(s));
    }
    ++open_;  // this slot is ours while the connection opens, outside the lock
    lock.unlock();
    try {
      auto s = std::make_unique<Session>("SQLite", options_.path);
      *s << "PRAGMA busy_timeout=" + std::to_string(options_.busy_timeout_ms), now;
      return Lease(this, std::move(s));
    } catch (...) {
      lock.lock();
      --open_;
      cv_.notify_one();
      throw;
    }
  }

 private:
  void Give(std::unique_ptr<Session> s) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(s));
    cv_.notify_one();
  }

  const SqliteOptions options_;
  const int max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Session>> idle_;  // guarded by mu_
  int open_ = 0;  // connections open or opening; guarded by mu_
};

void ApplyPragmas(Session& session, const SqliteOptions& o) {
  session << "PRAGMA busy_timeout=" + std::to_string(o.busy_timeout_ms), now;
  session << std::string("PRAGMA synchronous=") + (o.synchronous_full ? "FULL" : "NORMAL"), now;
  session << "PRAGMA foreign_keys=ON", now;
}

// Reads records rows in the column order used by every SELECT below.
constexpr const char* kRecordColumns =
    "pk, source, kind, rid, unit, order_basis, order_key, event_time, event_time_ms, status, "
    "data, data_hash, tags, first_seen_ms, updated_ms, has_item, contrib, deadline, synced, "
    "history_digest";

// Reads the records rows selected by `where` (bound with the given values).
template <typename... Binds>
std::vector<RecordRow> SelectRecords(Session& session, const std::string& where, Binds&... binds) {
  std::vector<Poco::Int64> pk, order_key, etms, first, upd, has_item, synced;
  std::vector<std::string> src, kind, rid, unit, basis, etime, status, data, hash, tags, contrib,
      deadline, digest;
  Statement stmt(session);
  stmt << std::string("SELECT ") + kRecordColumns + " FROM records " + where, into(pk), into(src),
      into(kind), into(rid), into(unit), into(basis), into(order_key), into(etime), into(etms),
      into(status), into(data), into(hash), into(tags), into(first), into(upd), into(has_item),
      into(contrib), into(deadline), into(synced), into(digest);
  (stmt, ..., use(binds));
  stmt.execute();
  std::vector<RecordRow> out(pk.size());
  for (size_t i = 0; i < pk.size(); ++i) {
    RecordRow& r = out[i];
    r.pk = pk[i];
    r.key = {src[i], kind[i], rid[i]};
    r.unit = unit[i];
    r.order_basis = basis[i];
    r.order_key = order_key[i];
    r.event_time = etime[i];
    r.event_time_ms = etms[i];
    r.status = status[i];
    r.data_json = data[i];
    r.data_hash = hash[i];
    r.tags_json = tags[i];
    r.first_seen_ms = first[i];
    r.updated_ms = upd[i];
    r.has_item = has_item[i] != 0;
    r.contrib_json = contrib[i];
    r.deadline_json = deadline[i];
    r.synced = synced[i] != 0;
    r.history_digest = digest[i];
  }
  return out;
}

// Calls fn for each records row selected by `where` (its ?s bound to `texts`, in order), one row
// at a time: a raw statement stepped on the session's connection, so memory stays one row however
// many rows match. (SelectRecords holds the whole result twice over: at 10M events a drill-down
// over a city's subtree held ~10^5 rows at once, and the heap kept the ~200 MB it grew to.)
// fn runs while the statement is open: it must not use this connection. Throws
// Poco::Data::DataException on an SQLite error (the statement is finalized either way).
void StepRecords(Session& session, const std::string& where, const std::vector<std::string>& texts,
                 const std::function<void(const RecordRow&)>& fn) {
  sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(session);
  sqlite3_stmt* raw = nullptr;
  const std::string sql = std::string("SELECT ") + kRecordColumns + " FROM records " + where;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
    throw Poco::Data::DataException(sqlite3_errmsg(db));
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  for (size_t i = 0; i < texts.size(); ++i)
    if (sqlite3_bind_text(raw, static_cast<int>(i + 1), texts[i].data(), static_cast<int>(texts[i].size()),
                          SQLITE_TRANSIENT) != SQLITE_OK)
      throw Poco::Data::DataException(sqlite3_errmsg(db));
  auto text = [&](int col, std::string* out) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(raw, col));
    out->assign(p ? p : "", p ? static_cast<size_t>(sqlite3_column_bytes(raw, col)) : 0);
  };
  RecordRow r;  // reused: its strings keep their buffers from row to row
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    r.pk = sqlite3_column_int64(raw, 0);
    text(1, &r.key.source);
    text(2, &r.key.kind);
    text(3, &r.key.id);
    text(4, &r.unit);
    text(5, &r.order_basis);
    r.order_key = sqlite3_column_int64(raw, 6);
    text(7, &r.event_time);
    r.event_time_ms = sqlite3_column_int64(raw, 8);
    text(9, &r.status);
    text(10, &r.data_json);
    text(11, &r.data_hash);
    text(12, &r.tags_json);
    r.first_seen_ms = sqlite3_column_int64(raw, 13);
    r.updated_ms = sqlite3_column_int64(raw, 14);
    r.has_item = sqlite3_column_int64(raw, 15) != 0;
    text(16, &r.contrib_json);
    text(17, &r.deadline_json);
    r.synced = sqlite3_column_int64(raw, 18) != 0;
    text(19, &r.history_digest);
    fn(r);
  }
  if (rc != SQLITE_DONE) throw Poco::Data::DataException(sqlite3_errmsg(db));
}

constexpr const char* kOutboxColumns =
    "id, destination, record_pk, record_id, unit, op, seq, payload, idempotency_key, state, "
    "attempts, next_attempt_ms, created_ms, last_error, ambiguous, derived, lease_until_ms";

std::optional<RecordRow> SelectRecord(Session& session, const RecordKey& key) {
  std::string s = key.source, k = key.kind, i = key.id;
  auto rows = SelectRecords(session, "WHERE source=? AND kind=? AND rid=?", s, k, i);
  if (rows.empty()) return std::nullopt;
  return std::move(rows[0]);
}

std::optional<RecordRow> SelectRecordByPk(Session& session, int64_t record_pk) {
  Poco::Int64 pk = record_pk;
  auto rows = SelectRecords(session, "WHERE pk=?", pk);
  if (rows.empty()) return std::nullopt;
  return std::move(rows[0]);
}

// A record's history, oldest first. A raw statement on the session's connection: the report's
// action lists read the history of every overdue petition (thousands at city scale), and
// Poco's statement, bindings and per-column vectors cost more than the read itself. Text
// columns are read up to their first NUL, as Poco's extractor reads them. Throws
// Poco::Data::DataException on an SQLite error.
std::vector<HistoryRow> SelectHistory(Session& s, int64_t record_pk) {
  sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(s);
  sqlite3_stmt* raw = nullptr;
  static constexpr char kSql[] =
      "SELECT order_key, status, at_ms, event_time, outcome, detail, received_ms FROM "
      "record_history WHERE record_pk=? ORDER BY at_ms, order_key, id";
  if (sqlite3_prepare_v2(db, kSql, sizeof kSql, &raw, nullptr) != SQLITE_OK)
    throw Poco::Data::DataException(sqlite3_errmsg(db));
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  if (sqlite3_bind_int64(raw, 1, record_pk) != SQLITE_OK) throw Poco::Data::DataException(sqlite3_errmsg(db));
  auto text = [raw](int col) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(raw, col));
    return p ? std::string(p) : std::string();
  };
  std::vector<HistoryRow> out;
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW)
    out.push_back({record_pk, sqlite3_column_int64(raw, 0), text(1), sqlite3_column_int64(raw, 2), text(3), text(4),
                   text(5), sqlite3_column_int64(raw, 6)});
  if (rc != SQLITE_DONE) throw Poco::Data::DataException(sqlite3_errmsg(db));
  return out;
}

std::vector<ExportLogRow> ReadLog(Session& s, const std::string& destination,
                                  const std::string& tail, int64_t after_seq) {
  std::vector<Poco::Int64> seq, at, http, format;
  std::vector<std::string> dest, op, rid, url, outcome, rh, rm, resp, prev, hash, rsum, resph, respsum;
  std::string d = destination;
  Poco::Int64 after = after_seq;
  Statement stmt(s);
  stmt << "SELECT seq, destination, at_ms, op, record_id, url, http_status, outcome, request_hash, "
          "request_masked, response_body, prev_hash, entry_hash, format, request_summary, "
          "response_hash, response_summary FROM export_log WHERE destination=? AND seq>? " + tail,
      into(seq), into(dest), into(at), into(op), into(rid), into(url), into(http), into(outcome),
      into(rh), into(rm), into(resp), into(prev), into(hash), into(format), into(rsum),
      into(resph), into(respsum), use(d), use(after);
  stmt.execute();
  std::vector<ExportLogRow> out(seq.size());
  for (size_t i = 0; i < seq.size(); ++i) {
    ExportLogRow& r = out[i];
    r.seq = seq[i];
    r.destination = dest[i];
    r.at_ms = at[i];
    r.op = op[i];
    r.record_id = rid[i];
    r.url = url[i];
    r.http_status = static_cast<int>(http[i]);
    r.outcome = outcome[i];
    r.request_hash = rh[i];
    r.request_masked = rm[i];
    r.response_body = resp[i];
    r.prev_hash = prev[i];
    r.entry_hash = hash[i];
    r.format = static_cast<int>(format[i]);
    r.request_summary = rsum[i];
    r.response_hash = resph[i];
    r.response_summary = respsum[i];
  }
  return out;
}

// The writer connection's per-event statements, compiled once and reused by every write
// transaction. Poco::Data compiles a statement from its text at every execution, which was 24%
// of intake CPU (bench/RESULTS.md); the statements intake runs for each event go through the
// sqlite3 API on the same connection (Poco::Data::SQLite::Utility::dbHandle), the rest stay on
// Poco::Data. Transactions are still begun and committed through the Poco session.
// Threading: owned by SqliteStore and used only in its writer turn (WriterTurn).
class WriterStatements {
 public:
  explicit WriterStatements(sqlite3* db) : db_(db) {}
  ~WriterStatements() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  }
  WriterStatements(const WriterStatements&) = delete;
  WriterStatements& operator=(const WriterStatements&) = delete;

  // One execution of a cached statement: bind, step, read columns. Resets the statement and
  // clears its bindings when it goes out of scope, whatever happened.
  class Run {
   public:
    Run(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    ~Run() {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;
    Run& Bind(int index, const std::string& text) {
      // SQLITE_TRANSIENT: SQLite copies the text, so temporaries are safe to bind.
      Check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
      return *this;
    }
    // SQLITE_STATIC: no copy. Precondition: `text` outlives this Run's last Step (a field of
    // the row being written, not a temporary: binding an rvalue does not compile).
    Run& BindRef(int index, const std::string& text) {
      Check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC));
      return *this;
    }
    Run& BindRef(int index, std::string&& text) = delete;
    Run& BindBlob(int index, const std::string& bytes) {
      Check(sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT));
      return *this;
    }
    Run& Bind(int index, int64_t value) {
      Check(sqlite3_bind_int64(stmt_, index, value));
      return *this;
    }
    // True when a row is available, false when the statement is done.
    bool Step() {
      const int rc = sqlite3_step(stmt_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      Check(rc);
      return false;
    }
    int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
    std::string Text(int column) const {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
      return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
    }

   private:
    void Check(int rc) const {
      if (rc != SQLITE_OK) throw Poco::Data::DataException(sqlite3_errmsg(db_), rc);
    }
    sqlite3* db_;
    sqlite3_stmt* stmt_;
  };

  // sql must outlive the cache (a string literal or a static): statements are keyed by address.
  Run Prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* stmt = nullptr;
      const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) throw Poco::Data::DataException(sqlite3_errmsg(db_), rc);
      it = cache_.emplace(sql, stmt).first;
    }
    return Run(db_, it->second);
  }
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  int64_t Changes() const { return sqlite3_changes(db_); }

 private:
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

RecordRow ReadRecordColumns(const WriterStatements::Run& r) {
  RecordRow row;
  row.pk = r.Int(0);
  row.key = {r.Text(1), r.Text(2), r.Text(3)};
  row.unit = r.Text(4);
  row.order_basis = r.Text(5);
  row.order_key = r.Int(6);
  row.event_time = r.Text(7);
  row.event_time_ms = r.Int(8);
  row.status = r.Text(9);
  row.data_json = r.Text(10);
  row.data_hash = r.Text(11);
  row.tags_json = r.Text(12);
  row.first_seen_ms = r.Int(13);
  row.updated_ms = r.Int(14);
  row.has_item = r.Int(15) != 0;
  row.contrib_json = r.Text(16);
  row.deadline_json = r.Text(17);
  row.synced = r.Int(18) != 0;
  row.history_digest = r.Text(19);
  return row;
}

OutboxItem ReadOutboxColumns(const WriterStatements::Run& r) {
  OutboxItem it{r.Int(0),  r.Text(1),  r.Int(2),  r.Text(3),  r.Text(4), r.Text(5),  r.Int(6),
                r.Text(7), r.Text(8),  r.Text(9), r.Int(10), r.Int(11), r.Int(12), r.Text(13)};
  it.ambiguous = r.Int(14) != 0;
  it.derived = r.Int(15);
  it.lease_until_ms = r.Int(16);
  return it;
}

const std::string& SelectRecordByKeySql() {
  static const std::string sql =
      std::string("SELECT ") + kRecordColumns + " FROM records WHERE source=? AND kind=? AND rid=?";
  return sql;
}

// The one writer connection's turn, held by a write transaction (or a checkpoint) from its
// begin to its end; taking it can wait with a deadline (SqliteStore::BeginBefore). A mutex and
// a condition variable rather than std::timed_mutex: its deadline wait (pthread_mutex_clocklock)
// is not seen by ThreadSanitizer, which then reports every unlock as one of an unlocked mutex.
class WriterTurn {
 public:
  // Ends the turn when it goes out of scope.
  class Held {
   public:
    explicit Held(WriterTurn* turn) : turn_(turn) {}
    Held(Held&& other) noexcept : turn_(other.turn_) { other.turn_ = nullptr; }
    Held& operator=(Held&&) = delete;
    ~Held() {
      if (turn_) turn_->Give();
    }

   private:
    WriterTurn* turn_;
  };

  Held Take() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !taken_; });
    taken_ = true;
    return Held(this);
  }
  // nullopt when the turn is still taken at `deadline`.
  std::optional<Held> TakeUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return !taken_; })) return std::nullopt;
    taken_ = true;
    return Held(this);
  }

 private:
  // Notifies under the lock: once it is released, the next holder may end the store's last
  // transaction and the store (this turn with it) may be destroyed.
  void Give() {
    std::lock_guard lock(mu_);
    taken_ = false;
    cv_.notify_one();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool taken_ = false;  // guarded by mu_
};

class SqliteStore;

class SqliteTransaction final : public StoreTransaction {
 public:
  SqliteTransaction(Session& session, WriterStatements& statements, WriterTurn::Held turn)
      : session_(session), statements_(statements), turn_(std::move(turn)) {}
  ~SqliteTransaction() override {
    if (!done_) {
      // Begun by SqliteStore::Begin on the handle, so ended on it too (not Poco's rollback).
      sqlite3_exec(Poco::Data::SQLite::Utility::dbHandle(session_), "ROLLBACK", nullptr, nullptr, nullptr);
      try {
        if (secure_delete_) session_ << "PRAGMA secure_delete=OFF", now;
      } catch (const Poco::Exception&) {
      }
    }
  }

  Result<std::optional<RecordRow>> GetRecord(const RecordKey& key) override {
    try {
      auto run = statements_.Prepare(SelectRecordByKeySql().c_str());
      run.Bind(1, key.source).Bind(2, key.kind).Bind(3, key.id);
      if (!run.Step()) return std::optional<RecordRow>();
      return std::optional<RecordRow>(ReadRecordColumns(run));
    } catch (const Poco::Exception& e) {
      return FromPoco("read record", e);
    }
  }

  Result<int64_t> PutRecord(const RecordRow& r) override {
    try {
      if (r.pk == 0) {
        auto run = statements_.Prepare(
            "INSERT INTO records (source, kind, rid, unit, order_basis, order_key, "
            "event_time, event_time_ms, status, data, data_hash, tags, first_seen_ms, "
            "updated_ms, has_item, contrib, deadline, synced, history_digest) VALUES "
            "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
        run.BindRef(1, r.key.source).BindRef(2, r.key.kind).BindRef(3, r.key.id).BindRef(4, r.unit);
        run.BindRef(5, r.order_basis).Bind(6, r.order_key).BindRef(7, r.event_time).Bind(8, r.event_time_ms);
        run.BindRef(9, r.status).BindRef(10, r.data_json).BindRef(11, r.data_hash).BindRef(12, r.tags_json);
        run.Bind(13, r.first_seen_ms).Bind(14, r.updated_ms).Bind(15, int64_t{r.has_item ? 1 : 0});
        run.BindRef(16, r.contrib_json).BindRef(17, r.deadline_json).Bind(18, int64_t{r.synced ? 1 : 0});
        run.BindRef(19, r.history_digest);
        run.Step();
        return statements_.LastInsertRowid();
      }
      Update(r);
      return r.pk;
    } catch (const Poco::Exception& e) {
      return FromPoco("write record", e);
    }
  }

  Status AppendHistory(const HistoryRow& h) override {
    try {
      Append(h);
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("write history", e);
    }
  }

  Result<std::vector<std::optional<RecordRow>>> GetRecords(const std::vector<RecordKey>& keys) override {
    try {
      std::vector<std::optional<RecordRow>> out;
      out.reserve(keys.size());
      for (const auto& key : keys) {
        auto run = statements_.Prepare(SelectRecordByKeySql().c_str());
        run.Bind(1, key.source).Bind(2, key.kind).Bind(3, key.id);
        if (run.Step()) out.emplace_back(ReadRecordColumns(run));
        else out.emplace_back();
      }
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("read records", e);
    }
  }

  Status UpdateRecords(const std::vector<const RecordRow*>& rows) override {
    try {
      for (const RecordRow* r : rows) Update(*r);
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("write records", e);
    }
  }

  Status AppendHistories(const std::vector<HistoryRow>& rows) override {
    try {
      for (const auto& h : rows) Append(h);
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("write history", e);
    }
  }

  Status SetWatches(const std::vector<WatchUpdate>& watches) override {
    for (const auto& w : watches) {
      Status st = SetWatch(w.record_pk, w.next_change_ms, w.next_class);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  Result<bool> HasStep(int64_t record_pk, const std::string& status, int64_t at_ms) override {
    try {
      auto run = statements_.Prepare(
          "SELECT 1 FROM record_history WHERE record_pk=? AND at_ms=? AND status=? AND "
          "outcome='step' LIMIT 1");
      run.Bind(1, record_pk).Bind(2, at_ms).Bind(3, status);
      return run.Step();
    } catch (const Poco::Exception& e) {
      return FromPoco("read history", e);
    }
  }

  Status Quarantine(const QuarantineRow& q) override {
    try {
      auto run = statements_.Prepare(
          "INSERT INTO quarantine (received_ms, source, kind, rid, errors, raw, raw_size) "
          "VALUES (?,?,?,?,?,?,?)");
      run.Bind(1, q.received_ms).Bind(2, q.source).Bind(3, q.kind).Bind(4, q.record_id);
      run.Bind(5, q.errors_json).BindBlob(6, q.raw).Bind(7, q.raw_size);
      run.Step();
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("write quarantine", e);
    }
  }

  Result<std::vector<HistoryRow>> GetHistory(int64_t record_pk) override {
    try {
      auto run = statements_.Prepare(
          "SELECT order_key, status, at_ms, event_time, outcome, detail, received_ms FROM "
          "record_history WHERE record_pk=? ORDER BY at_ms, order_key, id");
      run.Bind(1, record_pk);
      std::vector<HistoryRow> out;
      while (run.Step())
        out.push_back({record_pk, run.Int(0), run.Text(1), run.Int(2), run.Text(3), run.Text(4),
                       run.Text(5), run.Int(6)});
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("read history", e);
    }
  }

  Result<std::optional<RecordRow>> GetRecordByPk(int64_t pk) override {
    static const std::string kSql = std::string("SELECT ") + kRecordColumns + " FROM records WHERE pk=?";
    try {
      auto run = statements_.Prepare(kSql.c_str());
      run.Bind(1, pk);
      if (!run.Step()) return std::optional<RecordRow>();
      return std::optional<RecordRow>(ReadRecordColumns(run));
    } catch (const Poco::Exception& e) {
      return FromPoco("read record", e);
    }
  }

  Status SetWatch(int64_t record_pk, std::optional<int64_t> next_change_ms,
                  const std::string& next_class) override {
    try {
      // A watch that stays as it is is not written (intake sets every touched record's watch):
      // no page of deadline_watch or deadline_watch_next becomes dirty.
      if (!next_change_ms) {
        auto run = statements_.Prepare(
            "UPDATE deadline_watch SET next_change_ms=NULL, next_class='' WHERE record_pk=? AND "
            "(next_change_ms IS NOT NULL OR next_class<>'')");
        run.Bind(1, record_pk);
        run.Step();
        return Status::Ok();
      }
      auto run = statements_.Prepare(
          "INSERT INTO deadline_watch (record_pk, next_change_ms, next_class) VALUES (?,?,?) "
          "ON CONFLICT(record_pk) DO UPDATE SET next_change_ms=excluded.next_change_ms, "
          "next_class=excluded.next_class WHERE next_change_ms IS NOT excluded.next_change_ms OR "
          "next_class<>excluded.next_class");
      run.Bind(1, record_pk).Bind(2, *next_change_ms).Bind(3, next_class);
      run.Step();
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("write deadline watch", e);
    }
  }

  Status MarkAlerted(int64_t record_pk, const std::string& alerted) override {
    try {
      Poco::Int64 pk = record_pk;
      std::string a = alerted;
      session_ << "UPDATE deadline_watch SET alerted=? WHERE record_pk=?", use(a), use(pk), now;
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("write deadline watch", e);
    }
  }

  Result<int64_t> EnqueueOutbox(const OutboxItem& it) override {
    try {
      int64_t seq = 0;
      {
        auto run = statements_.Prepare(sqlite_sql::kOutboxNextSeq);
        run.Bind(1, it.destination).Bind(2, it.record_pk);
        if (run.Step()) seq = run.Int(0);
      }
      std::string key = it.idempotency_key;
      if (key.empty()) key = it.destination + ":" + it.record_id + ":" + it.op + ":" + std::to_string(seq);
      auto run = statements_.Prepare(
          "INSERT INTO outbox (destination, record_pk, record_id, unit, op, seq, payload, "
          "idempotency_key, state, next_attempt_ms, created_ms, derived, ambiguous) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
      run.Bind(1, it.destination).Bind(2, it.record_pk).Bind(3, it.record_id).Bind(4, it.unit);
      run.Bind(5, it.op).Bind(6, seq).Bind(7, it.payload).Bind(8, key).Bind(9, it.state);
      run.Bind(10, it.next_attempt_ms).Bind(11, it.created_ms).Bind(12, it.derived);
      run.Bind(13, int64_t{it.ambiguous ? 1 : 0});
      run.Step();
      return statements_.LastInsertRowid();
    } catch (const Poco::Exception& e) {
      return FromPoco("enqueue export", e);
    }
  }

  Result<bool> HasWaitingDossierOp(const std::string& destination, int64_t record_pk,
                                   int64_t now_ms) override {
    try {
      auto run = statements_.Prepare(sqlite_sql::kHasWaitingDossierOp);
      run.Bind(1, destination).Bind(2, record_pk).Bind(3, now_ms);
      return run.Step();
    } catch (const Poco::Exception& e) {
      return FromPoco("read outbox", e);
    }
  }

  Result<std::vector<OutboxItem>> ClaimOutbox(const std::string& destination, int64_t now_ms,
                                              int64_t lease_until_ms, int64_t limit,
                                              int64_t steps_per_call, const std::string& owner) override {
    static const std::string kHeads = std::string("SELECT ") + kOutboxColumns +
        " FROM outbox AS o WHERE destination=? AND state='pending' AND next_attempt_ms<=? AND "
        "lease_until_ms<? AND NOT EXISTS (SELECT 1 FROM outbox p WHERE "
        "p.destination=o.destination AND p.record_pk=o.record_pk AND p.seq<o.seq AND "
        "p.state<>'done') ORDER BY next_attempt_ms, id LIMIT ?";
    static const std::string kBatchMembers = std::string("SELECT ") + kOutboxColumns +
        " FROM outbox WHERE destination=? AND record_pk=? AND seq>? AND batch_key=? AND "
        "state='pending' ORDER BY seq";
    // Done items between steps (a dossier version superseded by a later one) are skipped.
    static const std::string kFollowers = std::string("SELECT ") + kOutboxColumns +
        " FROM outbox WHERE destination=? AND record_pk=? AND seq>? AND state<>'done' ORDER BY seq LIMIT ?";
    try {
      // Heads: the first not-done item of each record, ready and not leased.
      std::vector<OutboxItem> heads;
      {
        auto run = statements_.Prepare(kHeads.c_str());
        run.Bind(1, destination).Bind(2, now_ms).Bind(3, now_ms).Bind(4, limit);
        while (run.Step()) heads.push_back(ReadOutboxColumns(run));
      }
      std::vector<OutboxItem> claimed;
      for (const auto& h : heads) {
        claimed.push_back(h);
        if (h.op != "progress") continue;
        // A batch keeps the members of its first attempt on every retry, so its idempotency
        // key (derived from the batch) stays the same and a lost response is never re-applied
        // under another key.
        std::string key;
        {
          auto run = statements_.Prepare("SELECT batch_key FROM outbox WHERE id=?");
          run.Bind(1, h.id);
          if (run.Step()) key = run.Text(0);
        }
        if (!key.empty()) {
          auto run = statements_.Prepare(kBatchMembers.c_str());
          run.Bind(1, destination).Bind(2, h.record_pk).Bind(3, h.seq).Bind(4, key);
          while (run.Step()) claimed.push_back(ReadOutboxColumns(run));
          continue;
        }
        if (steps_per_call > 1) {
          auto run = statements_.Prepare(kFollowers.c_str());
          run.Bind(1, destination).Bind(2, h.record_pk).Bind(3, h.seq).Bind(4, steps_per_call - 1);
          while (run.Step()) {
            OutboxItem f = ReadOutboxColumns(run);
            // A step not due yet (a derived step waiting for the host's) stops the batch.
            if (f.op != "progress" || f.state != "pending" || f.next_attempt_ms > now_ms) break;
            claimed.push_back(std::move(f));
          }
        }
        key = std::to_string(h.seq) + "-" + std::to_string(claimed.back().seq);
        for (size_t i = claimed.size(); i-- > 0 && claimed[i].record_pk == h.record_pk && claimed[i].seq >= h.seq;) {
          auto run = statements_.Prepare("UPDATE outbox SET batch_key=? WHERE id=?");
          run.Bind(1, key).Bind(2, claimed[i].id);
          run.Step();
          if (claimed[i].seq == h.seq) break;
        }
      }
      for (auto& c : claimed) {
        // A lease that ran out unfinished: that attempt may have reached the portal.
        if (c.lease_until_ms > 0) c.ambiguous = true;
        c.lease_until_ms = lease_until_ms;
        auto run = statements_.Prepare("UPDATE outbox SET lease_until_ms=?, lease_owner=? WHERE id=?");
        run.Bind(1, lease_until_ms).Bind(2, owner).Bind(3, c.id);
        run.Step();
      }
      return claimed;
    } catch (const Poco::Exception& e) {
      return FromPoco("claim outbox", e);
    }
  }

  Status FinishOutbox(const OutboxItem& it, const std::string& state, int64_t now_ms) override {
    try {
      {
        auto run = statements_.Prepare(
            "UPDATE outbox SET state=?, attempts=?, next_attempt_ms=?, last_error=?, "
            "lease_until_ms=0, done_ms=?, ambiguous=? WHERE id=?");
        run.Bind(1, state).Bind(2, it.attempts).Bind(3, it.next_attempt_ms).Bind(4, it.last_error);
        run.Bind(5, state == "done" ? now_ms : int64_t{0}).Bind(6, int64_t{it.ambiguous ? 1 : 0});
        run.Bind(7, it.id);
        run.Step();
      }
      if (state == "dead") {
        auto run = statements_.Prepare(
            "INSERT INTO dead_letter (outbox_id, destination, record_id, op, payload, "
            "last_error, attempts, dead_ms) VALUES (?,?,?,?,?,?,?,?)");
        run.Bind(1, it.id).Bind(2, it.destination).Bind(3, it.record_id).Bind(4, it.op);
        run.Bind(5, it.payload).Bind(6, it.last_error).Bind(7, it.attempts).Bind(8, now_ms);
        run.Step();
      }
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("finish outbox item", e);
    }
  }

  Result<int64_t> ReleaseLeases(const std::string& destination, const std::string& owner,
                                int64_t now_ms) override {
    try {
      auto run = statements_.Prepare(
          "UPDATE outbox SET lease_until_ms=0, ambiguous=1, next_attempt_ms=min(next_attempt_ms, ?) "
          "WHERE destination=? AND lease_owner=? AND lease_until_ms>0 AND state='pending'");
      run.Bind(1, now_ms).Bind(2, destination).Bind(3, owner);
      run.Step();
      return statements_.Changes();
    } catch (const Poco::Exception& e) {
      return FromPoco("release leases", e);
    }
  }

  Status FreezeDossierOps(const std::string& destination, int64_t record_pk,
                          const std::string& data_json) override {
    try {
      auto run = statements_.Prepare(sqlite_sql::kFreezeDossierOps);
      run.Bind(1, data_json).Bind(2, destination).Bind(3, record_pk);
      run.Step();
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("freeze dossier items", e);
    }
  }

  Result<int64_t> SupersedeDossierOps(const std::string& destination, int64_t record_pk,
                                      int64_t now_ms, bool synced) override {
    try {
      auto run = statements_.Prepare(sqlite_sql::kSupersedeDossierOps);
      run.Bind(1, now_ms).Bind(2, destination).Bind(3, record_pk).Bind(4, now_ms);
      run.Bind(5, int64_t{synced ? 1 : 0});
      run.Step();
      return statements_.Changes();
    } catch (const Poco::Exception& e) {
      return FromPoco("supersede dossier items", e);
    }
  }

  Result<std::vector<OutboxItem>> DerivedSteps(const std::string& destination,
                                               int64_t record_pk) override {
    try {
      std::vector<OutboxItem> out;
      auto run = statements_.Prepare(sqlite_sql::kDerivedSteps);
      run.Bind(1, destination).Bind(2, record_pk);
      while (run.Step()) out.push_back(ReadOutboxColumns(run));
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("read outbox", e);
    }
  }

  Status RewriteOutboxItem(const OutboxItem& it) override {
    try {
      auto run = statements_.Prepare(
          "UPDATE outbox SET payload=?, idempotency_key=?, next_attempt_ms=?, derived=? WHERE id=?");
      run.Bind(1, it.payload).Bind(2, it.idempotency_key).Bind(3, it.next_attempt_ms);
      run.Bind(4, it.derived).Bind(5, it.id);
      run.Step();
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("rewrite outbox item", e);
    }
  }

  Result<std::optional<std::string>> GetSettingInTx(const std::string& key) override {
    try {
      auto run = statements_.Prepare("SELECT value FROM settings WHERE key=?");
      run.Bind(1, key);
      if (!run.Step()) return std::optional<std::string>();
      return std::optional<std::string>(run.Text(0));
    } catch (const Poco::Exception& e) {
      return FromPoco("read setting", e);
    }
  }

  Result<std::vector<std::string>> SentProgress(const std::string& destination,
                                                int64_t record_pk) override {
    try {
      std::string dest = destination;
      Poco::Int64 rpk = record_pk;
      std::vector<std::string> payloads;
      session_ << "SELECT payload FROM outbox WHERE destination=? AND record_pk=? AND op='progress' "
                  "AND state='done' ORDER BY seq", use(dest), use(rpk), into(payloads), now;
      return payloads;
    } catch (const Poco::Exception& e) {
      return FromPoco("read outbox", e);
    }
  }

  Result<int64_t> ReleaseHeld(const std::string& destination, int64_t now_ms) override {
    try {
      std::string dest = destination;
      Poco::Int64 n = now_ms;
      session_ << "UPDATE outbox SET state='pending', next_attempt_ms=? WHERE destination=? AND state='held'",
          use(n), use(dest), now;
      Poco::Int64 changed = 0;
      session_ << "SELECT changes()", into(changed), now;
      return static_cast<int64_t>(changed);
    } catch (const Poco::Exception& e) {
      return FromPoco("release held items", e);
    }
  }

  Result<int64_t> ResumePending(const std::string& destination, int64_t from_ms, int64_t now_ms) override {
    try {
      std::string dest = destination;
      Poco::Int64 n = now_ms, from = from_ms;
      session_ << "UPDATE outbox SET next_attempt_ms=? WHERE destination=? AND state='pending' "
                  "AND next_attempt_ms>=?",
          use(n), use(dest), use(from), now;
      Poco::Int64 changed = 0;
      session_ << "SELECT changes()", into(changed), now;
      return static_cast<int64_t>(changed);
    } catch (const Poco::Exception& e) {
      return FromPoco("resume pending items", e);
    }
  }

  Status ResendDeadLetter(int64_t dead_letter_id, int64_t now_ms) override {
    try {
      Poco::Int64 id = dead_letter_id, n = now_ms;
      std::vector<Poco::Int64> outbox_id, resent;
      session_ << "SELECT outbox_id, resent_ms FROM dead_letter WHERE id=?", use(id), into(outbox_id),
          into(resent), now;
      if (outbox_id.empty()) return Status::NotFound("không có thư chết (dead letter) số " + std::to_string(dead_letter_id));
      if (resent[0] != 0) return Status::Conflict("thư chết số " + std::to_string(dead_letter_id) + " đã được gửi lại");
      Poco::Int64 oid = outbox_id[0];
      session_ << "UPDATE outbox SET state='pending', attempts=0, next_attempt_ms=?, lease_until_ms=0 "
                  "WHERE id=? AND state='dead'", use(n), use(oid), now;
      session_ << "UPDATE dead_letter SET resent_ms=? WHERE id=?", use(n), use(id), now;
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("resend dead letter", e);
    }
  }

  Result<std::optional<ExportLogRow>> LastExportLog(const std::string& destination) override {
    try {
      auto rows = ReadLog(session_, destination, "ORDER BY seq DESC LIMIT 1", -1);
      if (rows.empty()) return std::optional<ExportLogRow>();
      return std::optional<ExportLogRow>(rows[0]);
    } catch (const Poco::Exception& e) {
      return FromPoco("read export log", e);
    }
  }

  Status AppendExportLog(const ExportLogRow& r) override {
    try {
      auto run = statements_.Prepare(
          "INSERT INTO export_log (destination, at_ms, op, record_id, url, http_status, "
          "outcome, request_hash, request_masked, response_body, prev_hash, entry_hash, format, "
          "request_summary, response_hash, response_summary) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      run.Bind(1, r.destination).Bind(2, r.at_ms).Bind(3, r.op).Bind(4, r.record_id).Bind(5, r.url);
      run.Bind(6, int64_t{r.http_status}).Bind(7, r.outcome).Bind(8, r.request_hash);
      run.Bind(9, r.request_masked).Bind(10, r.response_body).Bind(11, r.prev_hash).Bind(12, r.entry_hash);
      run.Bind(13, int64_t{r.format}).Bind(14, r.request_summary).Bind(15, r.response_hash);
      run.Bind(16, r.response_summary);
      run.Step();
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("write export log", e);
    }
  }

  Status RewriteExportLog(const ExportLogRow& r) override {
    try {
      // The replaced bodies hold personal data: zero the space they free, not just unlink it.
      if (!secure_delete_) {
        session_ << "PRAGMA secure_delete=ON", now;
        secure_delete_ = true;
      }
      auto run = statements_.Prepare(
          "UPDATE export_log SET request_masked=?, response_body=?, prev_hash=?, entry_hash=?, "
          "format=?, request_summary=?, response_hash=?, response_summary=? WHERE seq=?");
      run.Bind(1, r.request_masked).Bind(2, r.response_body).Bind(3, r.prev_hash);
      run.Bind(4, r.entry_hash).Bind(5, int64_t{r.format}).Bind(6, r.request_summary);
      run.Bind(7, r.response_hash).Bind(8, r.response_summary).Bind(9, r.seq);
      run.Step();
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("rewrite export log", e);
    }
  }

  Result<int64_t> AppendJournal(const JournalRow& r) override {
    try {
      // Bound by reference (useRef): a score's body is ~10 MB at city scale, not copied here.
      Poco::Int64 at = r.recorded_ms, id = 0;
      session_ << "INSERT INTO journal (kind, key, body, recorded_ms) VALUES (?,?,?,?)", useRef(r.kind),
          useRef(r.key), useRef(r.body), use(at), now;
      session_ << "SELECT last_insert_rowid()", into(id), now;
      return static_cast<int64_t>(id);
    } catch (const Poco::Exception& e) {
      return FromPoco("write journal", e);
    }
  }

  Status PutTagReview(const TagReviewRow& r) override {
    try {
      std::string source = r.key.source, kind = r.key.kind, rid = r.key.id, action = r.action,
                  decision = r.decision, proposed = r.proposed, reviewer = r.reviewer, why = r.why;
      Poco::Int64 at = r.at_ms;
      session_ << "INSERT INTO tag_review (source, kind, rid, action, decision, proposed, reviewer, "
                  "why, at_ms) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(source, kind, rid) DO UPDATE "
                  "SET action=excluded.action, decision=excluded.decision, proposed=excluded.proposed, "
                  "reviewer=excluded.reviewer, why=excluded.why, at_ms=excluded.at_ms",
          use(source), use(kind), use(rid), use(action), use(decision), use(proposed), use(reviewer),
          use(why), use(at), now;
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("write tag review", e);
    }
  }

  Result<std::vector<PendingContribution>> PendingContributions(int64_t after_pk, int64_t limit) override {
    try {
      // Under the write transaction nobody else writes: no lock needed beyond it.
      static const char* kSql =
          "SELECT p.pk, p.base_unit, p.base_contrib, r.pk IS NOT NULL, coalesce(r.unit, ''), "
          "coalesce(r.contrib, '[]') FROM contrib_pending AS p LEFT JOIN records AS r ON r.pk = p.pk "
          "WHERE p.pk > ? ORDER BY p.pk LIMIT ?";
      auto run = statements_.Prepare(kSql);
      run.Bind(1, after_pk).Bind(2, limit);
      std::vector<PendingContribution> out;
      while (run.Step()) {
        PendingContribution p;
        p.pk = run.Int(0);
        p.base_unit = run.Text(1);
        p.base_contrib = run.Text(2);
        p.exists = run.Int(3) != 0;
        p.unit = run.Text(4);
        p.contrib = run.Text(5);
        out.push_back(std::move(p));
      }
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("read pending contributions", e);
    }
  }

  Result<std::vector<IndexCell>> GetIndexCells(const std::vector<std::string>& keys) override {
    try {
      static const char* kSql = "SELECT data FROM index_cells WHERE key = ?";
      std::vector<IndexCell> out;
      for (const auto& k : keys) {
        auto run = statements_.Prepare(kSql);
        run.Bind(1, k);
        if (run.Step()) out.push_back({k, run.Text(0)});
      }
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("read index cells", e);
    }
  }

  Status PutIndexCells(const std::vector<IndexCell>& cells) override {
    try {
      static const char* kPut =
          "INSERT INTO index_cells (key, data) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET data=excluded.data";
      static const char* kDel = "DELETE FROM index_cells WHERE key = ?";
      for (const auto& c : cells) {
        if (c.data.empty()) {
          auto run = statements_.Prepare(kDel);
          run.Bind(1, c.key);
          run.Step();
        } else {
          auto run = statements_.Prepare(kPut);
          run.Bind(1, c.key).BindBlob(2, c.data);
          run.Step();
        }
      }
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("write index cells", e);
    }
  }

  Status DropPendingContributions(int64_t up_to_pk) override {
    try {
      auto run = statements_.Prepare("DELETE FROM contrib_pending WHERE pk <= ?");
      run.Bind(1, up_to_pk);
      run.Step();
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("drop pending contributions", e);
    }
  }

  Status ResetIndexCheckpoint() override {
    try {
      session_ << "DELETE FROM index_cells", now;
      session_ << "DELETE FROM contrib_pending", now;
      session_ << "INSERT INTO contrib_pending (pk, base_unit, base_contrib) "
                  "SELECT pk, unit, '[]' FROM records WHERE contrib <> '[]'", now;
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("reset index checkpoint", e);
    }
  }

  Status SetSetting(const std::string& key, const std::string& value) override {
    try {
      std::string k = key, v = value;
      session_ << "INSERT INTO settings (key, value) VALUES (?,?) ON CONFLICT(key) DO UPDATE SET "
                  "value=excluded.value", use(k), use(v), now;
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("write setting", e);
    }
  }

  Status Commit() override {
    try {
      sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(session_);
      const int rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      // Still open after a failed COMMIT: the destructor rolls it back.
      if (rc != SQLITE_OK) throw Poco::Data::DataException(sqlite3_errmsg(db), rc);
      done_ = true;
      if (secure_delete_) session_ << "PRAGMA secure_delete=OFF", now;
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("commit", e);
    }
  }

 private:
  // Throw Poco::Data::DataException on failure (callers convert).
  // The unit is written by its own statement, only when it changed: an UPDATE that names an
  // indexed column rewrites that index's entry even when the value is the same, and
  // records_kind_unit was ~0.6 WAL frames per event of single submits (bench/RESULTS.md, issue 16,
  // sixth step). The contrib_pending triggers see both statements; their INSERT OR IGNORE keeps
  // the first (unit, contrib) base, the one before this update, whichever statement fires first.
  void Update(const RecordRow& r) {
    {
      auto run = statements_.Prepare("UPDATE records SET unit=?2 WHERE pk=?1 AND unit<>?2");
      run.Bind(1, r.pk).BindRef(2, r.unit);
      run.Step();
    }
    auto run = statements_.Prepare(
        "UPDATE records SET order_basis=?, order_key=?, event_time=?, "
        "event_time_ms=?, status=?, data=?, data_hash=?, tags=?, updated_ms=?, "
        "has_item=?, contrib=?, deadline=?, synced=?, history_digest=? WHERE pk=?");
    run.BindRef(1, r.order_basis).Bind(2, r.order_key).BindRef(3, r.event_time);
    run.Bind(4, r.event_time_ms).BindRef(5, r.status).BindRef(6, r.data_json).BindRef(7, r.data_hash);
    run.BindRef(8, r.tags_json).Bind(9, r.updated_ms).Bind(10, int64_t{r.has_item ? 1 : 0});
    run.BindRef(11, r.contrib_json).BindRef(12, r.deadline_json).Bind(13, int64_t{r.synced ? 1 : 0});
    run.BindRef(14, r.history_digest).Bind(15, r.pk);
    run.Step();
  }
  void Append(const HistoryRow& h) {
    auto run = statements_.Prepare(
        "INSERT INTO record_history (record_pk, order_key, status, at_ms, event_time, "
        "outcome, detail, received_ms) VALUES (?,?,?,?,?,?,?,?)");
    run.Bind(1, h.record_pk).Bind(2, h.order_key).BindRef(3, h.status).Bind(4, h.at_ms);
    run.BindRef(5, h.event_time).BindRef(6, h.outcome).BindRef(7, h.detail_json).Bind(8, h.received_ms);
    run.Step();
  }

  Session& session_;
  WriterStatements& statements_;
  WriterTurn::Held turn_;
  bool done_ = false;
  bool secure_delete_ = false;  // set by RewriteExportLog for this transaction
};

class SqliteStore final : public Store {
 public:
  SqliteStore(const SqliteOptions& o)
      : options_(o),
        writer_("SQLite", o.path),
        readers_(o) {}

  Status Init() {
    try {
      writer_ << "PRAGMA journal_mode=WAL", now;
      ApplyPragmas(writer_, options_);
      writer_ << "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                 "applied_ms INTEGER NOT NULL)",
          now;
      Poco::Int64 current = 0;
      writer_ << "SELECT coalesce(max(version), 0) FROM schema_migrations", into(current), now;
      const auto& migrations = Migrations();
      if (current > static_cast<Poco::Int64>(migrations.size())) {
        return Status::IoError("cơ sở dữ liệu có phiên bản lược đồ " + std::to_string(current) +
                               " mới hơn phiên bản plugin hỗ trợ (" +
                               std::to_string(migrations.size()) + ")");
      }
      for (size_t v = static_cast<size_t>(current); v < migrations.size(); ++v) {
        writer_.begin();
        // Poco's SQLite binding executes one statement per call: split on ';'.
        std::string all = migrations[v];
        size_t start = 0;
        while (start < all.size()) {
          size_t end = all.find(';', start);
          // A trigger's body has its own ';': the statement ends at "END;".
          const size_t trigger = all.find("CREATE TRIGGER", start);
          if (trigger != std::string::npos && trigger < end) end = all.find("END;", trigger) + 3;
          if (end == std::string::npos) end = all.size();
          std::string stmt = all.substr(start, end - start);
          if (stmt.find_first_not_of(" \n\t") != std::string::npos) writer_ << stmt, now;
          start = end + 1;
        }
        Poco::Int64 version = static_cast<Poco::Int64>(v + 1), at = 0;
        writer_ << "INSERT INTO schema_migrations VALUES (?, strftime('%s','now')*1000)",
            use(version), now;
        (void)at;
        writer_.commit();
      }
      schema_version_ = static_cast<int64_t>(migrations.size());
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("open " + options_.path, e);
    }
  }

  Status Checkpoint() override {
    WriterTurn::Held turn = write_turn_.Take();
    try {
      sqlite3_busy_timeout(Poco::Data::SQLite::Utility::dbHandle(writer_), options_.busy_timeout_ms);
      writer_ << "PRAGMA wal_checkpoint(TRUNCATE)", now;
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("checkpoint", e);
    }
  }

  Result<std::unique_ptr<StoreTransaction>> Begin() override {
    return BeginBefore(std::chrono::steady_clock::time_point::max());
  }

  Result<std::unique_ptr<StoreTransaction>> BeginBefore(std::chrono::steady_clock::time_point until) override {
    // storage.busy_timeout_ms bounds the whole wait for the write lock: for this process's
    // other writer (the writer turn) and another process's (SQLite's lock) together. Waiting for each
    // in turn, a submit queued behind a background write that was itself waiting out another
    // process's lock took two timeouts or more, past what close waits for a submit in progress.
    const auto deadline =
        std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms));
    // busy_timeout_ms 0: no write waits for another process's lock, so none holds the turn
    // waiting for one; the plugin's own writes take turns as they always did.
    std::optional<WriterTurn::Held> turn =
        options_.busy_timeout_ms <= 0 && until == std::chrono::steady_clock::time_point::max()
            ? std::optional<WriterTurn::Held>(write_turn_.Take())
            : write_turn_.TakeUntil(deadline);
    if (!turn) return StoreBusy("begin", options_.busy_timeout_ms);
    try {
      if (!statements_)
        statements_ = std::make_unique<WriterStatements>(Poco::Data::SQLite::Utility::dbHandle(writer_));
      // IMMEDIATE: the write lock is taken here, waiting for another process's write as long
      // as storage.busy_timeout_ms allows. A deferred BEGIN (Poco's begin) read first and then
      // upgraded to a write, and SQLite does not call the busy handler for that upgrade (it
      // could deadlock): every write failed at once, as an I/O error, while another process
      // held the lock, however briefly (SECURITY.md, fifteenth session).
      sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(writer_);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      sqlite3_busy_timeout(db, static_cast<int>(std::max<int64_t>(0, left.count())));
      const int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      if ((rc & 0xff) == SQLITE_BUSY) return StoreBusy("begin", options_.busy_timeout_ms);
      if (rc != SQLITE_OK) throw Poco::Data::DataException(sqlite3_errmsg(db), rc);
    } catch (const Poco::Exception& e) {
      return FromPoco("begin", e);
    }
    return std::unique_ptr<StoreTransaction>(new SqliteTransaction(writer_, *statements_, std::move(*turn)));
  }

  Result<std::optional<RecordRow>> GetRecord(const RecordKey& key) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      return SelectRecord(s, key);
    } catch (const Poco::Exception& e) {
      return FromPoco("read record", e);
    }
  }

  Result<std::optional<RecordRow>> GetRecordByPk(int64_t pk) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      return SelectRecordByPk(s, pk);
    } catch (const Poco::Exception& e) {
      return FromPoco("read record", e);
    }
  }

  Result<std::vector<HistoryRow>> GetHistory(int64_t record_pk) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      return SelectHistory(s, record_pk);
    } catch (const Poco::Exception& e) {
      return FromPoco("read history", e);
    }
  }

  Status ForEachContribution(
      const std::function<void(int64_t, const std::string&, const std::string&)>& fn) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      Statement stmt(s);
      Poco::Int64 pk = 0;
      std::string unit, contrib;
      stmt << "SELECT pk, unit, contrib FROM records WHERE contrib <> '[]'", into(pk), into(unit),
          into(contrib), range(0, 1);
      while (!stmt.done()) {
        if (stmt.execute() > 0) fn(static_cast<int64_t>(pk), unit, contrib);
      }
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("read contributions", e);
    }
  }

  Status LoadIndexCheckpoint(const std::function<void(const IndexCell&)>& fn_cell,
                             const std::function<void(const PendingContribution&)>& fn_pending) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(lease.session());
      // One read transaction: the cells and the pending rows come from the same snapshot.
      // Raw statements: at city scale there are ~10^5 cells and Poco's per-row binding would
      // cost more than the open's whole budget.
      auto exec = [&](const char* sql) {
        if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
          throw Poco::Data::DataException(sqlite3_errmsg(db));
      };
      exec("BEGIN");
      struct Finish {
        sqlite3* db;
        ~Finish() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
      } finish{db};
      auto each = [&](const char* sql, const std::function<void(sqlite3_stmt*)>& fn) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK)
          throw Poco::Data::DataException(sqlite3_errmsg(db));
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) fn(stmt);
        sqlite3_finalize(stmt);
        if (rc != SQLITE_DONE) throw Poco::Data::DataException(sqlite3_errmsg(db));
      };
      auto text = [](sqlite3_stmt* st, int col) {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(st, col));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, col))) : std::string();
      };
      IndexCell cell;
      each("SELECT key, data FROM index_cells", [&](sqlite3_stmt* st) {
        cell.key = text(st, 0);
        cell.data = text(st, 1);
        fn_cell(cell);
      });
      PendingContribution p;
      each("SELECT p.pk, p.base_unit, p.base_contrib, r.pk IS NOT NULL, coalesce(r.unit, ''), "
           "coalesce(r.contrib, '[]') FROM contrib_pending AS p LEFT JOIN records AS r ON r.pk = p.pk "
           "ORDER BY p.pk",
           [&](sqlite3_stmt* st) {
             p.pk = sqlite3_column_int64(st, 0);
             p.base_unit = text(st, 1);
             p.base_contrib = text(st, 2);
             p.exists = sqlite3_column_int64(st, 3) != 0;
             p.unit = text(st, 4);
             p.contrib = text(st, 5);
             fn_pending(p);
           });
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("read index checkpoint", e);
    }
  }

  Result<int64_t> CountPendingContributions() override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Poco::Int64 n = 0;
      lease.session() << "SELECT count(*) FROM contrib_pending", into(n), now;
      return static_cast<int64_t>(n);
    } catch (const Poco::Exception& e) {
      return FromPoco("count pending contributions", e);
    }
  }

  Status ForEachRecord(const std::string& kind, const std::vector<std::string>& units,
                       const std::function<void(const RecordRow&)>& fn) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      // Units are bound as one JSON array and expanded by SQLite's json_each. Row by row: a
      // city's subtree has ~10^5 records of a kind.
      StepRecords(s, "WHERE kind=? AND unit IN (SELECT value FROM json_each(?)) ORDER BY pk",
                  {kind, nlohmann::json(units).dump()}, fn);
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("scan records", e);
    }
  }

  Status ForEachRecordByPk(const std::vector<int64_t>& pks,
                           const std::function<void(const RecordRow&)>& fn) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      // Bound as JSON arrays of at most kChunk keys (bounded statement size), read row by row.
      constexpr size_t kChunk = 2000;
      for (size_t from = 0; from < pks.size(); from += kChunk) {
        nlohmann::json arr = nlohmann::json::array();
        for (size_t i = from; i < std::min(pks.size(), from + kChunk); ++i) arr.push_back(pks[i]);
        StepRecords(s, "WHERE pk IN (SELECT value FROM json_each(?)) ORDER BY pk", {arr.dump()}, fn);
      }
      return Status::Ok();
    } catch (const Poco::Exception& e) {
      return FromPoco("read records", e);
    }
  }

  Result<int64_t> CountQueued() override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      Poco::Int64 n = 0;
      s << "SELECT count(*) FROM outbox WHERE state IN ('pending','held')", into(n), now;
      return static_cast<int64_t>(n);
    } catch (const Poco::Exception& e) {
      return FromPoco("count outbox", e);
    }
  }

  Result<OutboxStatusRow> OutboxStatus(const std::string& destination) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      OutboxStatusRow st;
      st.destination = destination;
      std::string d = destination;
      std::vector<std::string> state;
      std::vector<Poco::Int64> count;
      s << "SELECT state, count(*) FROM outbox WHERE destination=? GROUP BY state", use(d),
          into(state), into(count), now;
      for (size_t i = 0; i < state.size(); ++i) st.by_state[state[i]] = count[i];
      Poco::Nullable<Poco::Int64> oldest;
      s << "SELECT min(created_ms) FROM outbox WHERE destination=? AND state IN ('pending','held')",
          use(d), into(oldest), now;
      st.oldest_pending_created_ms = oldest.isNull() ? 0 : oldest.value();
      Poco::Int64 dead = 0;
      s << "SELECT count(*) FROM dead_letter WHERE destination=? AND resent_ms=0", use(d), into(dead), now;
      st.dead_letters = dead;
      return st;
    } catch (const Poco::Exception& e) {
      return FromPoco("outbox status", e);
    }
  }

  Result<std::vector<DeadLetterRow>> ListDeadLetters(int64_t limit, int64_t offset) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      Poco::Int64 lim = limit, off = offset;
      std::vector<Poco::Int64> id, oid, attempts, dead, resent;
      std::vector<std::string> dest, rid, op, payload, err;
      s << "SELECT id, outbox_id, destination, record_id, op, payload, last_error, attempts, dead_ms, "
           "resent_ms FROM dead_letter ORDER BY id LIMIT ? OFFSET ?",
          use(lim), use(off), into(id), into(oid), into(dest), into(rid), into(op), into(payload),
          into(err), into(attempts), into(dead), into(resent), now;
      std::vector<DeadLetterRow> out(id.size());
      for (size_t i = 0; i < id.size(); ++i)
        out[i] = {id[i], oid[i], dest[i], rid[i], op[i], payload[i], err[i], attempts[i], dead[i], resent[i]};
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("list dead letters", e);
    }
  }

  Result<std::vector<ExportLogRow>> ReadExportLog(const std::string& destination, int64_t after_seq,
                                                  int64_t limit) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      return ReadLog(s, destination, "ORDER BY seq LIMIT " + std::to_string(limit), after_seq);
    } catch (const Poco::Exception& e) {
      return FromPoco("read export log", e);
    }
  }

  Result<std::vector<std::string>> ExportLogDestinationsBelowFormat(int format) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      Poco::Int64 f = format;
      std::vector<std::string> dest;
      s << "SELECT DISTINCT destination FROM export_log WHERE format < ? ORDER BY destination",
          use(f), into(dest), now;
      return dest;
    } catch (const Poco::Exception& e) {
      return FromPoco("read export log", e);
    }
  }

  Result<std::optional<std::string>> GetSetting(const std::string& key) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      std::string k = key;
      std::vector<std::string> v;
      s << "SELECT value FROM settings WHERE key=?", use(k), into(v), now;
      if (v.empty()) return std::optional<std::string>();
      return std::optional<std::string>(v[0]);
    } catch (const Poco::Exception& e) {
      return FromPoco("read setting", e);
    }
  }

  Result<std::vector<JournalRow>> ListJournal(const std::string& kind,
                                              const std::string& key_prefix) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      std::string k = kind, lo = key_prefix, hi = key_prefix + "\xff";
      std::vector<Poco::Int64> id, at;
      std::vector<std::string> kinds, keys, body;
      s << "SELECT id, kind, key, body, recorded_ms FROM journal WHERE kind=? AND key>=? AND key<? "
           "ORDER BY id", use(k), use(lo), use(hi), into(id), into(kinds), into(keys), into(body),
          into(at), now;
      std::vector<JournalRow> out(id.size());
      for (size_t i = 0; i < id.size(); ++i) out[i] = {id[i], kinds[i], keys[i], body[i], at[i]};
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("read journal", e);
    }
  }

  Result<std::vector<JournalRow>> ListJournalPage(const std::string& kind, const std::string& key_prefix,
                                                  int64_t before_id, int64_t limit) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      std::string k = kind, lo = key_prefix, hi = key_prefix + "\xff";
      Poco::Int64 before = before_id > 0 ? before_id : INT64_MAX, lim = limit;
      std::vector<Poco::Int64> id, at;
      std::vector<std::string> kinds, keys, body;
      // Index journal_kind_id (migration 7) serves the order and the bound.
      s << "SELECT id, kind, key, body, recorded_ms FROM journal WHERE kind=? AND id<? AND key>=? "
           "AND key<? ORDER BY id DESC LIMIT ?", use(k), use(before), use(lo), use(hi), use(lim),
          into(id), into(kinds), into(keys), into(body), into(at), now;
      std::vector<JournalRow> out(id.size());
      for (size_t i = 0; i < id.size(); ++i) out[i] = {id[i], kinds[i], keys[i], body[i], at[i]};
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("read journal", e);
    }
  }

  Result<std::vector<TagReviewRow>> ListTagReviews() override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      std::vector<std::string> source, kind, rid, action, decision, proposed, reviewer, why;
      std::vector<Poco::Int64> at;
      s << "SELECT source, kind, rid, action, decision, proposed, reviewer, why, at_ms FROM tag_review "
           "ORDER BY source, kind, rid", into(source), into(kind), into(rid), into(action),
          into(decision), into(proposed), into(reviewer), into(why), into(at), now;
      std::vector<TagReviewRow> out(source.size());
      for (size_t i = 0; i < out.size(); ++i)
        out[i] = {{source[i], kind[i], rid[i]}, action[i], decision[i], proposed[i], reviewer[i], why[i], at[i]};
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("read tag reviews", e);
    }
  }

  Result<std::vector<RecordRow>> SyncedDossiers(int64_t after_pk, int64_t limit) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      Poco::Int64 after = after_pk;
      return SelectRecords(s, "WHERE kind='dossier' AND synced=1 AND pk>? ORDER BY pk LIMIT " +
                                  std::to_string(limit), after);
    } catch (const Poco::Exception& e) {
      return FromPoco("read synced dossiers", e);
    }
  }

  Result<std::vector<int64_t>> RecordPksAfter(int64_t after_pk, int64_t limit) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      Poco::Int64 after = after_pk, lim = limit;
      std::vector<Poco::Int64> pks;
      s << "SELECT pk FROM records WHERE pk>? ORDER BY pk LIMIT ?", use(after), use(lim), into(pks), now;
      return std::vector<int64_t>(pks.begin(), pks.end());
    } catch (const Poco::Exception& e) {
      return FromPoco("read record keys", e);
    }
  }

  Result<std::vector<DeadlineWatch>> DueWatches(int64_t now_ms, int64_t limit) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      Poco::Int64 n = now_ms, lim = limit;
      std::vector<Poco::Int64> pk, at;
      std::vector<std::string> cls, alerted;
      s << "SELECT record_pk, next_change_ms, next_class, alerted FROM deadline_watch WHERE "
           "next_change_ms IS NOT NULL AND next_change_ms <= ? ORDER BY next_change_ms LIMIT ?",
          use(n), use(lim), into(pk), into(at), into(cls), into(alerted), now;
      std::vector<DeadlineWatch> out(pk.size());
      for (size_t i = 0; i < pk.size(); ++i) out[i] = {pk[i], at[i], cls[i], alerted[i]};
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("read deadline watches", e);
    }
  }

  Result<std::vector<QuarantineRow>> ListQuarantine(int64_t limit, int64_t offset) override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      Poco::Int64 lim = limit, off = offset;
      std::vector<Poco::Int64> id, rec, size;
      std::vector<std::string> src, kind, rid, errors;
      std::vector<Poco::Data::BLOB> raw;
      s << "SELECT id, received_ms, source, kind, rid, errors, coalesce(raw, X''), raw_size FROM quarantine "
           "ORDER BY id LIMIT ? OFFSET ?",
          into(id), into(rec), into(src), into(kind), into(rid), into(errors), into(raw),
          into(size), use(lim), use(off), now;
      std::vector<QuarantineRow> out(id.size());
      for (size_t i = 0; i < out.size(); ++i) {
        out[i] = {id[i], rec[i], src[i], kind[i], rid[i], errors[i],
                  std::string(reinterpret_cast<const char*>(raw[i].rawContent()), raw[i].size()),
                  size[i]};
      }
      return out;
    } catch (const Poco::Exception& e) {
      return FromPoco("read quarantine", e);
    }
  }

  Result<StoreStats> Stats() override {
    try {
      ReaderPool::Lease lease = readers_.Acquire();
      Session& s = lease.session();
      StoreStats st;
      std::vector<std::string> kind, unit;
      std::vector<Poco::Int64> count;
      s << "SELECT kind, unit, count(*) FROM records GROUP BY kind, unit ORDER BY kind, unit",
          into(kind), into(unit), into(count), now;
      for (size_t i = 0; i < kind.size(); ++i) st.records.push_back({kind[i], unit[i], count[i]});
      Poco::Int64 h = 0, q = 0;
      s << "SELECT count(*) FROM record_history", into(h), now;
      s << "SELECT count(*) FROM quarantine", into(q), now;
      st.history_rows = h;
      st.quarantined = q;
      st.schema_version = schema_version_;
      st.location = options_.path;
      return st;
    } catch (const Poco::Exception& e) {
      return FromPoco("stats", e);
    }
  }

 private:
  SqliteOptions options_;
  WriterTurn write_turn_;
  Session writer_;  // guarded by write_turn_
  // Declared after writer_: finalized before the writer connection closes.
  std::unique_ptr<WriterStatements> statements_;  // guarded by write_turn_
  ReaderPool readers_;
  int64_t schema_version_ = 0;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  std::call_once(g_register_once, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  // Personal data: the file (and so its -wal and -shm) is never readable by other users.
  // Before the probe, which would otherwise create the file with the process umask.
  Status secured = SecureDatabaseFiles(options.path, options.file_mode, options.logger);
  if (!secured.ok()) return secured;
  Status usable = ProbeDatabasePath(options);
  if (!usable.ok()) return usable;
  try {
    auto store = std::make_unique<SqliteStore>(options);
    Status st = store->Init();
    if (!st.ok()) return st;
    return std::unique_ptr<Store>(std::move(store));
  } catch (const Poco::Exception& e) {
    return FromPoco("open " + options.path, e);
  }
}

}  // namespace danvan
