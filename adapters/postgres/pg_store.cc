#include "postgres/pg_store.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

namespace danvan {
namespace {

// Advisory lock classes (the first key of pg_advisory_xact_lock(int, int)); the second key is
// hashtext() of what is locked. Transaction-scoped unless said otherwise.
constexpr int kLockRecordKey = 74101;   // a record (source, kind, id): intake, MarkSynced
constexpr int kLockOutboxQueue = 74102; // a record's outbox queue (destination, record_pk): seq
constexpr int kLockExportChain = 74103; // a destination's export-log chain
constexpr int kLockMigrations = 74104;  // session: migrations (one node applies them)
constexpr int kLockNode = 74105;        // session: the second-open guard of a node id
constexpr int kLockJob = 74106;         // a periodic job run by one node at a time (deadline scan)

// Schema migrations: the same numbered steps as the SQLite engine (sqlite_store.cc), in
// PostgreSQL's dialect. Never edit a shipped migration: append a new one (with its SQLite twin).
const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> kMigrations = {
      // 1: records, history, quarantine.
      R"sql(
CREATE TABLE records (
  pk BIGSERIAL PRIMARY KEY,
  source TEXT NOT NULL, kind TEXT NOT NULL, rid TEXT NOT NULL,
  unit TEXT NOT NULL,
  order_basis TEXT NOT NULL, order_key BIGINT NOT NULL,
  event_time TEXT NOT NULL, event_time_ms BIGINT NOT NULL,
  status TEXT NOT NULL DEFAULT '',
  data TEXT NOT NULL, data_hash TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  first_seen_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
  has_item BIGINT NOT NULL DEFAULT 1,
  contrib TEXT NOT NULL DEFAULT '[]',
  deadline TEXT NOT NULL DEFAULT 'null',
  synced BIGINT NOT NULL DEFAULT 0,
  UNIQUE (source, kind, rid));
CREATE INDEX records_kind_unit ON records (kind, unit);
CREATE TABLE record_history (
  id BIGSERIAL PRIMARY KEY,
  record_pk BIGINT NOT NULL REFERENCES records(pk),
  order_key BIGINT NOT NULL, status TEXT NOT NULL, at_ms BIGINT NOT NULL,
  event_time TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
  received_ms BIGINT NOT NULL);
CREATE INDEX record_history_pk ON record_history (record_pk, at_ms);
CREATE TABLE quarantine (
  id BIGSERIAL PRIMARY KEY, received_ms BIGINT NOT NULL,
  source TEXT NOT NULL, kind TEXT NOT NULL, rid TEXT NOT NULL,
  errors TEXT NOT NULL, raw BYTEA, raw_size BIGINT NOT NULL);
CREATE TABLE deadline_watch (
  record_pk BIGINT PRIMARY KEY REFERENCES records(pk),
  next_change_ms BIGINT, next_class TEXT NOT NULL DEFAULT '',
  alerted TEXT NOT NULL DEFAULT '');
CREATE INDEX deadline_watch_next ON deadline_watch (next_change_ms);
)sql",
      // 2: export to the national portal.
      R"sql(
CREATE TABLE outbox (
  id BIGSERIAL PRIMARY KEY,
  destination TEXT NOT NULL, record_pk BIGINT NOT NULL REFERENCES records(pk),
  record_id TEXT NOT NULL, unit TEXT NOT NULL, op TEXT NOT NULL, seq BIGINT NOT NULL,
  payload TEXT NOT NULL, idempotency_key TEXT NOT NULL,
  state TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_ms BIGINT NOT NULL, created_ms BIGINT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '', lease_until_ms BIGINT NOT NULL DEFAULT 0,
  done_ms BIGINT NOT NULL DEFAULT 0,
  batch_key TEXT NOT NULL DEFAULT '',
  UNIQUE (destination, record_pk, seq));
CREATE INDEX outbox_ready ON outbox (destination, state, next_attempt_ms);
CREATE TABLE dead_letter (
  id BIGSERIAL PRIMARY KEY, outbox_id BIGINT NOT NULL, destination TEXT NOT NULL,
  record_id TEXT NOT NULL, op TEXT NOT NULL, payload TEXT NOT NULL, last_error TEXT NOT NULL,
  attempts BIGINT NOT NULL, dead_ms BIGINT NOT NULL, resent_ms BIGINT NOT NULL DEFAULT 0);
CREATE TABLE export_log (
  seq BIGSERIAL PRIMARY KEY, destination TEXT NOT NULL, at_ms BIGINT NOT NULL,
  op TEXT NOT NULL, record_id TEXT NOT NULL, url TEXT NOT NULL, http_status BIGINT NOT NULL,
  outcome TEXT NOT NULL, request_hash TEXT NOT NULL, request_masked TEXT NOT NULL,
  response_body TEXT NOT NULL, prev_hash TEXT NOT NULL, entry_hash TEXT NOT NULL);
CREATE INDEX export_log_dest ON export_log (destination, seq);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE journal (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL,
  body TEXT NOT NULL, recorded_ms BIGINT NOT NULL);
CREATE INDEX journal_kind_key ON journal (kind, key);
)sql",
      // 3: (SQLite: the journal for databases made before it was in migration 2.)
      R"sql(
CREATE TABLE IF NOT EXISTS journal (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL,
  body TEXT NOT NULL, recorded_ms BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS journal_kind_key ON journal (kind, key);
)sql",
      // 4: export log format 2 (no personal data).
      R"sql(
ALTER TABLE export_log ADD COLUMN format BIGINT NOT NULL DEFAULT 1;
ALTER TABLE export_log ADD COLUMN request_summary TEXT NOT NULL DEFAULT '';
ALTER TABLE export_log ADD COLUMN response_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE export_log ADD COLUMN response_summary TEXT NOT NULL DEFAULT '';
CREATE INDEX export_log_format ON export_log (format, destination);
)sql",
      // 5: tag reviews.
      R"sql(
CREATE TABLE IF NOT EXISTS tag_review (
  source TEXT NOT NULL, kind TEXT NOT NULL, rid TEXT NOT NULL,
  action TEXT NOT NULL, decision TEXT NOT NULL, proposed TEXT NOT NULL,
  reviewer TEXT NOT NULL, why TEXT NOT NULL, at_ms BIGINT NOT NULL,
  PRIMARY KEY (source, kind, rid));
)sql",
      // 6: outbox ambiguity, derived steps, lease owner.
      R"sql(
ALTER TABLE outbox ADD COLUMN ambiguous BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN derived BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
)sql",
      // 7: audit pages.
      R"sql(
CREATE INDEX IF NOT EXISTS journal_kind_id ON journal (kind, id);
)sql",
      // 8: history digest (storage/history_digest.h).
      R"sql(
ALTER TABLE records ADD COLUMN history_digest TEXT NOT NULL DEFAULT '';
UPDATE records SET history_digest = coalesce((SELECT string_agg(
    CASE h.outcome WHEN 'applied' THEN 'a' WHEN 'stale' THEN 's' WHEN 'step' THEN 't' ELSE 'x' END
    || h.order_key || ',' || h.at_ms || ',' || octet_length(h.status) || ':' || h.status, ''
    ORDER BY h.id)
  FROM record_history AS h WHERE h.record_pk = records.pk), '');
)sql",
      // 9: the indicator checkpoint (sqlite_store.cc, migration 9; engine/index_checkpoint.h).
      R"sql(
CREATE TABLE IF NOT EXISTS index_cells (key TEXT PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS contrib_pending (pk BIGINT PRIMARY KEY, base_unit TEXT NOT NULL,
  base_contrib TEXT NOT NULL);
CREATE OR REPLACE FUNCTION danvan_contrib_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.contrib <> '[]' THEN
      INSERT INTO contrib_pending (pk, base_unit, base_contrib) VALUES (NEW.pk, NEW.unit, '[]')
        ON CONFLICT (pk) DO NOTHING;
    END IF;
  ELSIF TG_OP = 'DELETE' THEN
    IF OLD.contrib <> '[]' THEN
      INSERT INTO contrib_pending (pk, base_unit, base_contrib) VALUES (OLD.pk, OLD.unit, OLD.contrib)
        ON CONFLICT (pk) DO NOTHING;
    END IF;
  ELSIF NEW.contrib IS DISTINCT FROM OLD.contrib OR NEW.unit IS DISTINCT FROM OLD.unit THEN
    INSERT INTO contrib_pending (pk, base_unit, base_contrib) VALUES (OLD.pk, OLD.unit, OLD.contrib)
      ON CONFLICT (pk) DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS records_contrib_pending ON records;
CREATE TRIGGER records_contrib_pending AFTER INSERT OR UPDATE OR DELETE ON records
  FOR EACH ROW EXECUTE FUNCTION danvan_contrib_pending();
)sql",
  };
  return kMigrations;
}

// PostgreSQL-only steps, numbered from 1001 in the same schema_migrations table (so the shared
// numbering of the steps above never collides with them).
const std::vector<const char*>& PgOnlyMigrations() {
  static const std::vector<const char*> kSteps = {
      // 1001 (idempotent: a shared step re-applied may come before it again): which transaction and node last wrote each record (the change feed: other nodes'
      // commits, for the in-memory aggregates of each node), and the outbox's lease scan.
      R"sql(
ALTER TABLE records ADD COLUMN IF NOT EXISTS change_xid xid8;
ALTER TABLE records ADD COLUMN IF NOT EXISTS changed_by TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS records_change_xid ON records (change_xid);
CREATE INDEX IF NOT EXISTS outbox_record_seq ON outbox (destination, record_pk, seq);
)sql",
      // 1002: the contributions change log the nodes follow (pg_store.h, ChangeFeed).
      R"sql(
CREATE TABLE IF NOT EXISTS contrib_log (
  id BIGSERIAL PRIMARY KEY, xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  node TEXT NOT NULL, record_pk BIGINT NOT NULL,
  old_unit TEXT NOT NULL, old_contrib TEXT NOT NULL, new_unit TEXT NOT NULL, new_contrib TEXT NOT NULL,
  at_ms BIGINT NOT NULL DEFAULT (extract(epoch from now()) * 1000)::bigint);
CREATE INDEX IF NOT EXISTS contrib_log_xid ON contrib_log (xid);
CREATE OR REPLACE FUNCTION danvan_log_contrib() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.contrib <> '[]' THEN
      INSERT INTO contrib_log (node, record_pk, old_unit, old_contrib, new_unit, new_contrib)
      VALUES (NEW.changed_by, NEW.pk, NEW.unit, '[]', NEW.unit, NEW.contrib);
    END IF;
  ELSIF NEW.contrib IS DISTINCT FROM OLD.contrib OR NEW.unit IS DISTINCT FROM OLD.unit THEN
    INSERT INTO contrib_log (node, record_pk, old_unit, old_contrib, new_unit, new_contrib)
    VALUES (NEW.changed_by, NEW.pk, OLD.unit, OLD.contrib, NEW.unit, NEW.contrib);
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS records_contrib_log ON records;
CREATE TRIGGER records_contrib_log AFTER INSERT OR UPDATE ON records
  FOR EACH ROW EXECUTE FUNCTION danvan_log_contrib();
)sql",
      // 1003: 1001's outbox_record_seq repeats the index of the outbox's UNIQUE (destination,
      // record_pk, seq) column for column: every outbox insert and state change wrote both. The
      // per-record statements (supersede, freeze, derived steps) use the UNIQUE index as well
      // (EXPLAIN ANALYZE on 800,000 pending rows, bench/RESULTS.md, "PostgreSQL").
      R"sql(
DROP INDEX IF EXISTS outbox_record_seq;
)sql",
  };
  return kSteps;
}

// An error from the server or the connection (internal; converted to Status at each call).
struct PgError {
  std::string sqlstate;
  std::string message;
};

Status ToStatus(const std::string& what, const PgError& e) {
  // Deadlock, serialization failure, lock not available, connection trouble: try again later.
  if (e.sqlstate == "40P01" || e.sqlstate == "40001" || e.sqlstate == "55P03" ||
      e.sqlstate.rfind("08", 0) == 0 || e.sqlstate == "57P01")
    return Status::RetryLater(what + ": " + e.message);
  return Status::IoError(what + ": " + e.message);
}

// A query result; frees itself.
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&&) = delete;
  ~PgResult() {
    if (r_) PQclear(r_);
  }
  int Rows() const { return PQntuples(r_); }
  bool IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
  }
  int64_t Int(int row, int col) const {
    if (IsNull(row, col)) return 0;
    return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
  }
  std::string Bytea(int row, int col) const {
    if (IsNull(row, col)) return std::string();
    size_t n = 0;
    unsigned char* p = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col)), &n);
    if (!p) return std::string();
    std::string out(reinterpret_cast<const char*>(p), n);
    PQfreemem(p);
    return out;
  }
  int64_t Affected() const {
    const char* n = PQcmdTuples(r_);
    return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
  }

 private:
  PGresult* r_;
};

// PostgreSQL text must be valid UTF-8 without NUL: bytes that are not (possible only in
// quarantined input, which keeps what could be read) become U+FFFD.
std::string ValidText(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && c != 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && n == 2) ok = c >= 0xC2;
    if (ok && n == 3) {
      const unsigned char d = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && d < 0xA0) && !(c == 0xED && d >= 0xA0);
    }
    if (ok && n == 4) {
      const unsigned char d = static_cast<unsigned char>(s[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && d < 0x90) && !(c == 0xF4 && d >= 0x90);
    }
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// Query parameters (text format, except bytea values sent as binary).
class Params {
 public:
  Params& S(std::string v) {
    values_.push_back(std::move(v));
    formats_.push_back(0);
    return *this;
  }
  Params& I(int64_t v) { return S(std::to_string(v)); }
  Params& B(std::string bytes) {
    values_.push_back(std::move(bytes));
    formats_.push_back(1);
    return *this;
  }
  // A text[] literal.
  Params& TextArray(const std::vector<std::string>& items) {
    std::string a = "{";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) a += ',';
      a += '"';
      for (char ch : items[i]) {
        if (ch == '"' || ch == '\\') a += '\\';
        a += ch;
      }
      a += '"';
    }
    a += '}';
    return S(std::move(a));
  }
  Params& IntArray(const std::vector<int64_t>& items) {
    std::string a = "{";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) a += ',';
      a += std::to_string(items[i]);
    }
    a += '}';
    return S(std::move(a));
  }
  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Values() const {
    std::vector<const char*> v;
    for (const auto& s : values_) v.push_back(s.c_str());
    return v;
  }
  std::vector<int> Lengths() const {
    std::vector<int> v;
    for (const auto& s : values_) v.push_back(static_cast<int>(s.size()));
    return v;
  }
  const std::vector<int>& Formats() const { return formats_; }

 private:
  std::vector<std::string> values_;
  std::vector<int> formats_;
};

// One connection and its prepared statements. Not thread-safe: used by one thread at a time
// (the writer under the store's write mutex, a reader under its pool lease).
class Conn {
 public:
  Conn(const PgOptions& o, const std::string& application) : options_(o), application_(application) {}
  ~Conn() {
    if (c_) PQfinish(c_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Connects (or reconnects after the connection broke). Throws PgError.
  void Ensure() {
    if (c_ && PQstatus(c_) == CONNECTION_OK) return;
    if (c_) {
      PQfinish(c_);
      c_ = nullptr;
    }
    prepared_.clear();
    const char* keys[] = {"dbname", "password", "application_name", "client_encoding", nullptr};
    const char* values[] = {options_.conninfo.c_str(),
                            options_.password.empty() ? nullptr : options_.password.c_str(),
                            application_.c_str(), "UTF8", nullptr};
    // expand_dbname=1: "dbname" carries the whole connection string; the password is passed
    // on its own, so it never appears in a string that could be logged.
    c_ = PQconnectdbParams(keys, values, 1);
    if (!c_ || PQstatus(c_) != CONNECTION_OK) {
      std::string msg = c_ ? PQerrorMessage(c_) : "out of memory";
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      if (c_) PQfinish(c_);
      c_ = nullptr;
      throw PgError{"08001", "không kết nối được PostgreSQL (" + Target() + "): " + msg};
    }
    // Server notices ("already exists, skipping") are not for the host's stderr.
    PQsetNoticeProcessor(c_, [](void*, const char*) {}, nullptr);
    Simple("SET TIME ZONE 'UTC'");
    if (!options_.synchronous_full) Simple("SET synchronous_commit=off");
  }

  std::string Target() const {
    PQconninfoOption* opts = PQconninfoParse(options_.conninfo.c_str(), nullptr);
    std::string host, port, db;
    for (PQconninfoOption* o = opts; o && o->keyword; ++o) {
      if (!o->val) continue;
      const std::string k = o->keyword;
      if (k == "host" || k == "hostaddr") host = o->val;
      if (k == "port") port = o->val;
      if (k == "dbname") db = o->val;
    }
    if (opts) PQconninfoFree(opts);
    return "postgresql://" + (host.empty() ? std::string("localhost") : host) +
           (port.empty() ? "" : ":" + port) + "/" + db;
  }

  // Runs one or more statements without parameters. Throws PgError.
  void Simple(const std::string& sql) { Check(PQexec(c_, sql.c_str()), sql); }

  // Runs a parameterised statement, prepared on first use on this connection. Throws PgError.
  PgResult Exec(const std::string& sql, const Params& p = Params()) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "s" + std::to_string(prepared_.size() + 1);
      Check(PQprepare(c_, name.c_str(), sql.c_str(), p.size(), nullptr), sql);
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    auto values = p.Values();
    auto lengths = p.Lengths();
    return Check(PQexecPrepared(c_, it->second.c_str(), p.size(), values.data(), lengths.data(),
                                p.Formats().data(), 0),
                 sql);
  }

  // Runs a parameterised statement once, unprepared (DECLARE ... CURSOR). Throws PgError.
  PgResult ExecOnce(const std::string& sql, const Params& p = Params()) {
    auto values = p.Values();
    auto lengths = p.Lengths();
    return Check(PQexecParams(c_, sql.c_str(), p.size(), nullptr, values.data(), lengths.data(),
                              p.Formats().data(), 0),
                 sql);
  }

  // Rolls back whatever is open, ignoring errors (the connection may be broken).
  void RollbackQuietly() {
    if (!c_ || PQstatus(c_) != CONNECTION_OK) return;
    if (PQtransactionStatus(c_) == PQTRANS_IDLE) return;
    PQclear(PQexec(c_, "ROLLBACK"));
  }

 private:
  PgResult Check(PGresult* r, const std::string& sql) {
    const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return PgResult(r);
    PgError e;
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    e.sqlstate = state ? state : (PQstatus(c_) != CONNECTION_OK ? "08006" : "XX000");
    const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    e.message = primary ? primary : PQerrorMessage(c_);
    while (!e.message.empty() && e.message.back() == '\n') e.message.pop_back();
    if (r) PQclear(r);
    if (PQstatus(c_) != CONNECTION_OK) prepared_.clear();
    throw e;
  }

  const PgOptions& options_;
  std::string application_;
  PGconn* c_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;
};

// The read connections (as the SQLite engine's ReaderPool): at most read_connections, opened on
// first use; a reader finding them all busy waits up to read_wait_ms, then RETRY_LATER.
class ReadPool {
 public:
  explicit ReadPool(const PgOptions& o) : options_(o), max_(std::max(1, o.read_connections)) {}

  class Lease {
   public:
    Lease(ReadPool* pool, std::unique_ptr<Conn> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ && c_) {
        c_->RollbackQuietly();
        pool_->Give(std::move(c_));
      }
    }
    Conn& conn() { return *c_; }

   private:
    ReadPool* pool_;
    std::unique_ptr<Conn> c_;
  };

  // Throws PgError ("55P03" when every connection stayed busy for read_wait_ms).
  Lease Acquire() {
    std::unique_lock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.read_wait_ms);
    if (!cv_.wait_until(lock, deadline, [&] { return !idle_.empty() || open_ < max_; }))
      throw PgError{"55P03", "cả " + std::to_string(max_) + " kết nối đọc đều bận quá " +
                                 std::to_string(options_.read_wait_ms) + " ms (limits.read_wait_ms); thử lại sau"};
    std::unique_ptr<Conn> c;
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;
      c = std::make_unique<Conn>(options_, "danvan-read-" + options_.node);
    }
    lock.unlock();
    try {
      c->Ensure();
    } catch (...) {
      lock.lock();
      --open_;
      cv_.notify_one();
      throw;
    }
    return Lease(this, std::move(c));
  }

 private:
  void Give(std::unique_ptr<Conn> c) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(c));
    cv_.notify_one();
  }

  const PgOptions& options_;
  const int max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
  int open_ = 0;                             // guarded by mu_
};

constexpr const char* kRecordColumns =
    "r.pk, r.source, r.kind, r.rid, r.unit, r.order_basis, r.order_key, r.event_time, "
    "r.event_time_ms, r.status, r.data, r.data_hash, r.tags, r.first_seen_ms, r.updated_ms, "
    "r.has_item, r.contrib, r.deadline, r.synced, r.history_digest";

RecordRow ReadRecord(const PgResult& r, int i, int c0 = 0) {
  RecordRow row;
  row.pk = r.Int(i, c0 + 0);
  row.key = {r.Text(i, c0 + 1), r.Text(i, c0 + 2), r.Text(i, c0 + 3)};
  row.unit = r.Text(i, c0 + 4);
  row.order_basis = r.Text(i, c0 + 5);
  row.order_key = r.Int(i, c0 + 6);
  row.event_time = r.Text(i, c0 + 7);
  row.event_time_ms = r.Int(i, c0 + 8);
  row.status = r.Text(i, c0 + 9);
  row.data_json = r.Text(i, c0 + 10);
  row.data_hash = r.Text(i, c0 + 11);
  row.tags_json = r.Text(i, c0 + 12);
  row.first_seen_ms = r.Int(i, c0 + 13);
  row.updated_ms = r.Int(i, c0 + 14);
  row.has_item = r.Int(i, c0 + 15) != 0;
  row.contrib_json = r.Text(i, c0 + 16);
  row.deadline_json = r.Text(i, c0 + 17);
  row.synced = r.Int(i, c0 + 18) != 0;
  row.history_digest = r.Text(i, c0 + 19);
  return row;
}

constexpr const char* kOutboxColumns =
    "o.id, o.destination, o.record_pk, o.record_id, o.unit, o.op, o.seq, o.payload, "
    "o.idempotency_key, o.state, o.attempts, o.next_attempt_ms, o.created_ms, o.last_error, "
    "o.ambiguous, o.derived, o.lease_until_ms";

OutboxItem ReadOutbox(const PgResult& r, int i) {
  OutboxItem it{r.Int(i, 0),  r.Text(i, 1),  r.Int(i, 2),  r.Text(i, 3),  r.Text(i, 4),
                r.Text(i, 5), r.Int(i, 6),   r.Text(i, 7), r.Text(i, 8),  r.Text(i, 9),
                r.Int(i, 10), r.Int(i, 11),  r.Int(i, 12), r.Text(i, 13)};
  it.ambiguous = r.Int(i, 14) != 0;
  it.derived = r.Int(i, 15);
  it.lease_until_ms = r.Int(i, 16);
  return it;
}

std::vector<HistoryRow> SelectHistory(Conn& c, int64_t record_pk) {
  PgResult r = c.Exec(
      "SELECT order_key, status, at_ms, event_time, outcome, detail, received_ms FROM "
      "record_history WHERE record_pk=$1 ORDER BY at_ms, order_key, id",
      Params().I(record_pk));
  std::vector<HistoryRow> out;
  out.reserve(r.Rows());
  for (int i = 0; i < r.Rows(); ++i)
    out.push_back({record_pk, r.Int(i, 0), r.Text(i, 1), r.Int(i, 2), r.Text(i, 3), r.Text(i, 4),
                   r.Text(i, 5), r.Int(i, 6)});
  return out;
}

std::vector<ExportLogRow> ReadLog(Conn& c, const std::string& destination, const std::string& tail,
                                  int64_t after_seq) {
  PgResult r = c.Exec(
      "SELECT seq, destination, at_ms, op, record_id, url, http_status, outcome, request_hash, "
      "request_masked, response_body, prev_hash, entry_hash, format, request_summary, "
      "response_hash, response_summary FROM export_log WHERE destination=$1 AND seq>$2 " + tail,
      Params().S(destination).I(after_seq));
  std::vector<ExportLogRow> out(r.Rows());
  for (int i = 0; i < r.Rows(); ++i) {
    ExportLogRow& e = out[i];
    e.seq = r.Int(i, 0);
    e.destination = r.Text(i, 1);
    e.at_ms = r.Int(i, 2);
    e.op = r.Text(i, 3);
    e.record_id = r.Text(i, 4);
    e.url = r.Text(i, 5);
    e.http_status = static_cast<int>(r.Int(i, 6));
    e.outcome = r.Text(i, 7);
    e.request_hash = r.Text(i, 8);
    e.request_masked = r.Text(i, 9);
    e.response_body = r.Text(i, 10);
    e.prev_hash = r.Text(i, 11);
    e.entry_hash = r.Text(i, 12);
    e.format = static_cast<int>(r.Int(i, 13));
    e.request_summary = r.Text(i, 14);
    e.response_hash = r.Text(i, 15);
    e.response_summary = r.Text(i, 16);
  }
  return out;
}

// Runs `select` through a cursor, `chunk` rows at a time, so memory stays bounded for scans of
// the whole table; fn gets each chunk. Throws PgError.
// snapshot_out: the snapshot the scan read (pg_snapshot text), when not null.
void ForEachChunk(Conn& c, const std::string& select, const Params& p,
                  const std::function<void(const PgResult&)>& fn, int chunk = 2000,
                  std::string* snapshot_out = nullptr) {
  c.Simple("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (snapshot_out) *snapshot_out = c.Exec("SELECT pg_current_snapshot()::text").Text(0, 0);
  c.ExecOnce("DECLARE danvan_scan NO SCROLL CURSOR FOR " + select, p);
  const std::string fetch = "FETCH " + std::to_string(chunk) + " FROM danvan_scan";
  for (;;) {
    PgResult r = c.ExecOnce(fetch);
    if (r.Rows() == 0) break;
    fn(r);
    if (r.Rows() < chunk) break;
  }
  c.Simple("CLOSE danvan_scan; COMMIT");
}

class PgTransaction final : public StoreTransaction {
 public:
  PgTransaction(Conn& c, const std::string& node, std::unique_lock<std::mutex> lock)
      : c_(c), node_(node), lock_(std::move(lock)) {}
  ~PgTransaction() override {
    if (!done_) c_.RollbackQuietly();
  }

  Result<std::optional<RecordRow>> GetRecord(const RecordKey& key) override {
    auto rows = GetRecords({key});
    if (!rows.ok()) return rows.status();
    return std::move(rows.value()[0]);
  }

  Result<int64_t> PutRecord(const RecordRow& r) override {
    try {
      if (r.pk == 0) {
        PgResult res = c_.Exec(
            "INSERT INTO records (source, kind, rid, unit, order_basis, order_key, event_time, "
            "event_time_ms, status, data, data_hash, tags, first_seen_ms, updated_ms, has_item, "
            "contrib, deadline, synced, history_digest, change_xid, changed_by) VALUES "
            "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,"
            "pg_current_xact_id(),$20) RETURNING pk",
            Params().S(r.key.source).S(r.key.kind).S(r.key.id).S(r.unit).S(r.order_basis)
                .I(r.order_key).S(r.event_time).I(r.event_time_ms).S(r.status).S(r.data_json)
                .S(r.data_hash).S(r.tags_json).I(r.first_seen_ms).I(r.updated_ms)
                .I(r.has_item ? 1 : 0).S(r.contrib_json).S(r.deadline_json).I(r.synced ? 1 : 0)
                .S(r.history_digest).S(node_));
        return res.Int(0, 0);
      }
      UpdateOne(r);
      return r.pk;
    } catch (const PgError& e) {
      return ToStatus("write record", e);
    }
  }

  Status AppendHistory(const HistoryRow& h) override { return AppendHistories({h}); }

  Result<std::vector<std::optional<RecordRow>>> GetRecords(const std::vector<RecordKey>& keys) override {
    try {
      std::vector<std::string> s, k, i;
      s.reserve(keys.size());
      k.reserve(keys.size());
      i.reserve(keys.size());
      for (const auto& key : keys) {
        s.push_back(key.source);
        k.push_back(key.kind);
        i.push_back(key.id);
      }
      Params p;
      p.TextArray(s).TextArray(k).TextArray(i);
      // Another node reading the same record for writing waits until this transaction ends
      // (also for a key that does not exist yet: the lock is on the key, not the row). Taken in
      // one order (by hash) so two batches never wait for each other crosswise.
      c_.Exec(
          "SELECT count(*) FROM (SELECT pg_advisory_xact_lock(" + std::to_string(kLockRecordKey) +
              ", x.h) FROM (SELECT DISTINCT hashtext(u.s || chr(31) || u.k || chr(31) || u.i) AS h "
              "FROM unnest($1::text[], $2::text[], $3::text[]) AS u(s, k, i) ORDER BY 1) AS x) AS l",
          p);
      PgResult r = c_.Exec(std::string("SELECT u.n, ") + kRecordColumns +
                               " FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY "
                               "AS u(s, k, i, n) JOIN records r ON r.source=u.s AND r.kind=u.k AND "
                               "r.rid=u.i",
                           p);
      std::vector<std::optional<RecordRow>> out(keys.size());
      for (int row = 0; row < r.Rows(); ++row) {
        const int64_t n = r.Int(row, 0);
        if (n >= 1 && n <= static_cast<int64_t>(keys.size())) out[n - 1] = ReadRecord(r, row, 1);
      }
      return out;
    } catch (const PgError& e) {
      return ToStatus("read records", e);
    }
  }

  Status UpdateRecords(const std::vector<const RecordRow*>& rows) override {
    if (rows.empty()) return Status::Ok();
    try {
      std::set<int64_t> seen;
      bool unique = true;
      for (const RecordRow* r : rows) unique = unique && seen.insert(r->pk).second;
      if (!unique || rows.size() == 1) {  // one statement per row, in order
        for (const RecordRow* r : rows) UpdateOne(*r);
        return Status::Ok();
      }
      std::vector<int64_t> pk, order_key, etms, upd, has_item, synced;
      std::vector<std::string> unit, basis, etime, status, data, hash, tags, contrib, deadline, digest;
      for (const RecordRow* r : rows) {
        pk.push_back(r->pk);
        unit.push_back(r->unit);
        basis.push_back(r->order_basis);
        order_key.push_back(r->order_key);
        etime.push_back(r->event_time);
        etms.push_back(r->event_time_ms);
        status.push_back(r->status);
        data.push_back(r->data_json);
        hash.push_back(r->data_hash);
        tags.push_back(r->tags_json);
        upd.push_back(r->updated_ms);
        has_item.push_back(r->has_item ? 1 : 0);
        contrib.push_back(r->contrib_json);
        deadline.push_back(r->deadline_json);
        synced.push_back(r->synced ? 1 : 0);
        digest.push_back(r->history_digest);
      }
      Params p;
      p.IntArray(pk).TextArray(unit).TextArray(basis).IntArray(order_key).TextArray(etime)
          .IntArray(etms).TextArray(status).TextArray(data).TextArray(hash).TextArray(tags)
          .IntArray(upd).IntArray(has_item).TextArray(contrib).TextArray(deadline)
          .IntArray(synced).TextArray(digest).S(node_);
      c_.Exec(
          "UPDATE records AS r SET unit=u.unit, order_basis=u.basis, order_key=u.okey, "
          "event_time=u.etime, event_time_ms=u.etms, status=u.status, data=u.data, "
          "data_hash=u.hash, tags=u.tags, updated_ms=u.upd, has_item=u.has_item, "
          "contrib=u.contrib, deadline=u.deadline, synced=u.synced, history_digest=u.digest, "
          "change_xid=pg_current_xact_id(), changed_by=$17 FROM unnest($1::bigint[], $2::text[], "
          "$3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::text[], "
          "$9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::text[], $14::text[], "
          "$15::bigint[], $16::text[]) AS u(pk, unit, basis, okey, etime, etms, status, data, "
          "hash, tags, upd, has_item, contrib, deadline, synced, digest) WHERE r.pk=u.pk",
          p);
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("write records", e);
    }
  }

  Status AppendHistories(const std::vector<HistoryRow>& rows) override {
    if (rows.empty()) return Status::Ok();
    try {
      std::vector<int64_t> pk, okey, at, rec;
      std::vector<std::string> status, etime, outcome, detail;
      for (const auto& h : rows) {
        pk.push_back(h.record_pk);
        okey.push_back(h.order_key);
        status.push_back(h.status);
        at.push_back(h.at_ms);
        etime.push_back(h.event_time);
        outcome.push_back(h.outcome);
        detail.push_back(h.detail_json);
        rec.push_back(h.received_ms);
      }
      Params p;
      p.IntArray(pk).IntArray(okey).TextArray(status).IntArray(at).TextArray(etime)
          .TextArray(outcome).TextArray(detail).IntArray(rec);
      // Ids follow the order of the rows (ORDER BY the ordinality).
      c_.Exec(
          "INSERT INTO record_history (record_pk, order_key, status, at_ms, event_time, outcome, "
          "detail, received_ms) SELECT a, b, c, d, e, f, g, h FROM unnest($1::bigint[], "
          "$2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], "
          "$8::bigint[]) WITH ORDINALITY AS u(a, b, c, d, e, f, g, h, n) ORDER BY n",
          p);
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("write history", e);
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
      PgResult r = c_.Exec(
          "SELECT 1 FROM record_history WHERE record_pk=$1 AND at_ms=$2 AND status=$3 AND "
          "outcome='step' LIMIT 1",
          Params().I(record_pk).I(at_ms).S(status));
      return r.Rows() > 0;
    } catch (const PgError& e) {
      return ToStatus("read history", e);
    }
  }

  Status Quarantine(const QuarantineRow& q) override {
    try {
      c_.Exec(
          "INSERT INTO quarantine (received_ms, source, kind, rid, errors, raw, raw_size) "
          "VALUES ($1,$2,$3,$4,$5,$6,$7)",
          Params().I(q.received_ms).S(ValidText(q.source)).S(ValidText(q.kind))
              .S(ValidText(q.record_id)).S(ValidText(q.errors_json)).B(q.raw).I(q.raw_size));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("write quarantine", e);
    }
  }

  Result<std::vector<HistoryRow>> GetHistory(int64_t record_pk) override {
    try {
      return SelectHistory(c_, record_pk);
    } catch (const PgError& e) {
      return ToStatus("read history", e);
    }
  }

  Status SetWatch(int64_t record_pk, std::optional<int64_t> next_change_ms,
                  const std::string& next_class) override {
    try {
      if (!next_change_ms) {
        c_.Exec("UPDATE deadline_watch SET next_change_ms=NULL, next_class='' WHERE record_pk=$1",
                Params().I(record_pk));
        return Status::Ok();
      }
      c_.Exec(
          "INSERT INTO deadline_watch (record_pk, next_change_ms, next_class) VALUES ($1,$2,$3) "
          "ON CONFLICT (record_pk) DO UPDATE SET next_change_ms=excluded.next_change_ms, "
          "next_class=excluded.next_class",
          Params().I(record_pk).I(*next_change_ms).S(next_class));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("write deadline watch", e);
    }
  }

  Status MarkAlerted(int64_t record_pk, const std::string& alerted) override {
    try {
      c_.Exec("UPDATE deadline_watch SET alerted=$1 WHERE record_pk=$2", Params().S(alerted).I(record_pk));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("write deadline watch", e);
    }
  }

  Result<std::optional<RecordRow>> GetRecordByPk(int64_t pk) override {
    try {
      // Locked by its key, as GetRecords does: a node marking a dossier synced and another
      // applying a new version of it do not overwrite each other's change.
      PgResult k = c_.Exec("SELECT source, kind, rid FROM records WHERE pk=$1", Params().I(pk));
      if (k.Rows() == 0) return std::optional<RecordRow>();
      auto rows = GetRecords({{k.Text(0, 0), k.Text(0, 1), k.Text(0, 2)}});
      if (!rows.ok()) return rows.status();
      return std::move(rows.value()[0]);
    } catch (const PgError& e) {
      return ToStatus("read record", e);
    }
  }

  Status LockRecords(const std::vector<int64_t>& record_pks) override {
    if (record_pks.empty()) return Status::Ok();
    try {
      // The same locks as GetRecords (on the key's hash), in the same order (by hash).
      c_.Exec("SELECT count(*) FROM (SELECT pg_advisory_xact_lock(" + std::to_string(kLockRecordKey) +
                  ", x.h) FROM (SELECT DISTINCT hashtext(source || chr(31) || kind || chr(31) || rid) AS h "
                  "FROM records WHERE pk = ANY($1::bigint[]) ORDER BY 1) AS x) AS l",
              Params().IntArray(record_pks));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("lock records", e);
    }
  }

  Result<bool> TryLockJob(const std::string& job) override {
    try {
      PgResult r = c_.Exec("SELECT pg_try_advisory_xact_lock(" + std::to_string(kLockJob) + ", hashtext($1))",
                           Params().S(job));
      return r.Text(0, 0) == "t";
    } catch (const PgError& e) {
      return ToStatus("lock job " + job, e);
    }
  }

  Result<int64_t> EnqueueOutbox(const OutboxItem& it) override {
    try {
      // Two nodes queueing for the same record take turns: seq stays gap-free and unique.
      c_.Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kLockOutboxQueue) +
                  ", hashtext($1 || chr(31) || $2::text))",
              Params().S(it.destination).I(it.record_pk));
      PgResult s = c_.Exec(
          "SELECT coalesce(max(seq), 0) + 1 FROM outbox WHERE destination=$1 AND record_pk=$2",
          Params().S(it.destination).I(it.record_pk));
      const int64_t seq = s.Int(0, 0);
      std::string key = it.idempotency_key;
      if (key.empty()) key = it.destination + ":" + it.record_id + ":" + it.op + ":" + std::to_string(seq);
      PgResult r = c_.Exec(
          "INSERT INTO outbox (destination, record_pk, record_id, unit, op, seq, payload, "
          "idempotency_key, state, next_attempt_ms, created_ms, derived, ambiguous) "
          "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) RETURNING id",
          Params().S(it.destination).I(it.record_pk).S(it.record_id).S(it.unit).S(it.op).I(seq)
              .S(it.payload).S(key).S(it.state).I(it.next_attempt_ms).I(it.created_ms)
              .I(it.derived).I(it.ambiguous ? 1 : 0));
      return r.Int(0, 0);
    } catch (const PgError& e) {
      return ToStatus("enqueue export", e);
    }
  }

  Result<bool> HasWaitingDossierOp(const std::string& destination, int64_t record_pk,
                                   int64_t now_ms) override {
    try {
      PgResult r = c_.Exec(
          "SELECT 1 FROM outbox WHERE destination=$1 AND record_pk=$2 AND op='dossier' "
          "AND state IN ('pending','held') AND lease_until_ms < $3 AND payload='' LIMIT 1",
          Params().S(destination).I(record_pk).I(now_ms));
      return r.Rows() > 0;
    } catch (const PgError& e) {
      return ToStatus("read outbox", e);
    }
  }

  Result<std::vector<OutboxItem>> ClaimOutbox(const std::string& destination, int64_t now_ms,
                                              int64_t lease_until_ms, int64_t limit,
                                              int64_t steps_per_call, const std::string& owner) override {
    // Inside the explicit transaction of Begin(): the row locks of FOR UPDATE last until the
    // lease is written and committed, so a node claiming at the same moment skips these rows
    // (SKIP LOCKED) and, once committed, sees their lease.
    static const std::string kHeads = std::string("SELECT ") + kOutboxColumns +
        " FROM outbox AS o WHERE o.destination=$1 AND o.state='pending' AND o.next_attempt_ms<=$2 "
        "AND o.lease_until_ms<$2 AND NOT EXISTS (SELECT 1 FROM outbox p WHERE "
        "p.destination=o.destination AND p.record_pk=o.record_pk AND p.seq<o.seq AND "
        "p.state<>'done') ORDER BY o.next_attempt_ms, o.id LIMIT $3 FOR UPDATE OF o SKIP LOCKED";
    // Members and followers belong to a record whose head this transaction holds: no other
    // node claims them, but intake on another node may supersede or freeze them: wait for it.
    static const std::string kBatchMembers = std::string("SELECT ") + kOutboxColumns +
        " FROM outbox AS o WHERE o.destination=$1 AND o.record_pk=$2 AND o.seq>$3 AND "
        "o.batch_key=$4 AND o.state='pending' ORDER BY o.seq FOR UPDATE OF o";
    static const std::string kFollowers = std::string("SELECT ") + kOutboxColumns +
        " FROM outbox AS o WHERE o.destination=$1 AND o.record_pk=$2 AND o.seq>$3 AND "
        "o.state<>'done' ORDER BY o.seq LIMIT $4 FOR UPDATE OF o";
    try {
      std::vector<OutboxItem> heads;
      {
        PgResult r = c_.Exec(kHeads, Params().S(destination).I(now_ms).I(limit));
        for (int i = 0; i < r.Rows(); ++i) heads.push_back(ReadOutbox(r, i));
      }
      // The heads' records, tried without waiting: a record that intake (or another node's
      // finish) is changing is left for the next pass. Intake holds a record and then updates
      // its items; waiting here for one of those items while holding its head would be a
      // deadlock. Holding the record, the members and followers below wait for nobody.
      std::set<int64_t> free_records;
      if (!heads.empty()) {
        std::vector<int64_t> pks;
        for (const auto& h : heads) pks.push_back(h.record_pk);
        PgResult r = c_.Exec("SELECT pk, pg_try_advisory_xact_lock(" + std::to_string(kLockRecordKey) +
                                 ", hashtext(source || chr(31) || kind || chr(31) || rid)) FROM records "
                                 "WHERE pk = ANY($1::bigint[])",
                             Params().IntArray(pks));
        for (int i = 0; i < r.Rows(); ++i)
          if (r.Text(i, 1) == "t") free_records.insert(r.Int(i, 0));
      }
      std::vector<OutboxItem> claimed;
      for (const auto& h : heads) {
        if (!free_records.count(h.record_pk)) continue;
        claimed.push_back(h);
        if (h.op != "progress") continue;
        std::string key;
        {
          PgResult r = c_.Exec("SELECT batch_key FROM outbox WHERE id=$1", Params().I(h.id));
          if (r.Rows() > 0) key = r.Text(0, 0);
        }
        if (!key.empty()) {
          PgResult r = c_.Exec(kBatchMembers, Params().S(destination).I(h.record_pk).I(h.seq).S(key));
          for (int i = 0; i < r.Rows(); ++i) claimed.push_back(ReadOutbox(r, i));
          continue;
        }
        if (steps_per_call > 1) {
          PgResult r = c_.Exec(kFollowers, Params().S(destination).I(h.record_pk).I(h.seq).I(steps_per_call - 1));
          for (int i = 0; i < r.Rows(); ++i) {
            OutboxItem f = ReadOutbox(r, i);
            if (f.op != "progress" || f.state != "pending" || f.next_attempt_ms > now_ms) break;
            claimed.push_back(std::move(f));
          }
        }
        key = std::to_string(h.seq) + "-" + std::to_string(claimed.back().seq);
        std::vector<int64_t> ids;
        for (size_t i = claimed.size(); i-- > 0 && claimed[i].record_pk == h.record_pk && claimed[i].seq >= h.seq;) {
          ids.push_back(claimed[i].id);
          if (claimed[i].seq == h.seq) break;
        }
        c_.Exec("UPDATE outbox SET batch_key=$1 WHERE id = ANY($2::bigint[])", Params().S(key).IntArray(ids));
      }
      std::vector<int64_t> ids;
      for (auto& c : claimed) {
        if (c.lease_until_ms > 0) c.ambiguous = true;
        c.lease_until_ms = lease_until_ms;
        ids.push_back(c.id);
      }
      if (!ids.empty())
        c_.Exec("UPDATE outbox SET lease_until_ms=$1, lease_owner=$2 WHERE id = ANY($3::bigint[])",
                Params().I(lease_until_ms).S(owner).IntArray(ids));
      return claimed;
    } catch (const PgError& e) {
      return ToStatus("claim outbox", e);
    }
  }

  Status FinishOutbox(const OutboxItem& it, const std::string& state, int64_t now_ms) override {
    try {
      c_.Exec(
          "UPDATE outbox SET state=$1, attempts=$2, next_attempt_ms=$3, last_error=$4, "
          "lease_until_ms=0, done_ms=$5, ambiguous=$6 WHERE id=$7",
          Params().S(state).I(it.attempts).I(it.next_attempt_ms).S(ValidText(it.last_error))
              .I(state == "done" ? now_ms : 0).I(it.ambiguous ? 1 : 0).I(it.id));
      if (state == "dead")
        c_.Exec(
            "INSERT INTO dead_letter (outbox_id, destination, record_id, op, payload, last_error, "
            "attempts, dead_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
            Params().I(it.id).S(it.destination).S(it.record_id).S(it.op).S(it.payload)
                .S(ValidText(it.last_error)).I(it.attempts).I(now_ms));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("finish outbox item", e);
    }
  }

  Result<int64_t> ReleaseLeases(const std::string& destination, const std::string& owner,
                                int64_t now_ms) override {
    try {
      PgResult r = c_.Exec(
          "UPDATE outbox SET lease_until_ms=0, ambiguous=1, next_attempt_ms=LEAST(next_attempt_ms, $1) "
          "WHERE destination=$2 AND lease_owner=$3 AND lease_until_ms>0 AND state='pending'",
          Params().I(now_ms).S(destination).S(owner));
      return r.Affected();
    } catch (const PgError& e) {
      return ToStatus("release leases", e);
    }
  }

  Status FreezeDossierOps(const std::string& destination, int64_t record_pk,
                          const std::string& data_json) override {
    try {
      c_.Exec(
          "UPDATE outbox SET payload=$1 WHERE destination=$2 AND record_pk=$3 AND op='dossier' AND "
          "state IN ('pending','held','dead') AND payload=''",
          Params().S(data_json).S(destination).I(record_pk));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("freeze dossier items", e);
    }
  }

  Result<int64_t> SupersedeDossierOps(const std::string& destination, int64_t record_pk,
                                      int64_t now_ms, bool synced) override {
    try {
      PgResult r = c_.Exec(
          "UPDATE outbox SET state='done', done_ms=$1, last_error='superseded by a later version' "
          "WHERE destination=$2 AND record_pk=$3 AND op='dossier' AND state='pending' AND "
          "lease_until_ms<$1 AND ($4::bigint = 1 OR EXISTS (SELECT 1 FROM outbox p WHERE "
          "p.destination=outbox.destination AND p.record_pk=outbox.record_pk AND p.op='dossier' "
          "AND p.seq<outbox.seq AND p.state IN ('pending','held','dead')))",
          Params().I(now_ms).S(destination).I(record_pk).I(synced ? 1 : 0));
      return r.Affected();
    } catch (const PgError& e) {
      return ToStatus("supersede dossier items", e);
    }
  }

  Result<std::vector<OutboxItem>> DerivedSteps(const std::string& destination,
                                               int64_t record_pk) override {
    try {
      PgResult r = c_.Exec(std::string("SELECT ") + kOutboxColumns +
                               " FROM outbox AS o WHERE o.destination=$1 AND o.record_pk=$2 AND "
                               "o.op='progress' AND o.derived=1 ORDER BY o.seq",
                           Params().S(destination).I(record_pk));
      std::vector<OutboxItem> out;
      for (int i = 0; i < r.Rows(); ++i) out.push_back(ReadOutbox(r, i));
      return out;
    } catch (const PgError& e) {
      return ToStatus("read outbox", e);
    }
  }

  Status RewriteOutboxItem(const OutboxItem& it) override {
    try {
      c_.Exec("UPDATE outbox SET payload=$1, idempotency_key=$2, next_attempt_ms=$3, derived=$4 WHERE id=$5",
              Params().S(it.payload).S(it.idempotency_key).I(it.next_attempt_ms).I(it.derived).I(it.id));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("rewrite outbox item", e);
    }
  }

  Result<std::vector<std::string>> SentProgress(const std::string& destination,
                                                int64_t record_pk) override {
    try {
      PgResult r = c_.Exec(
          "SELECT payload FROM outbox WHERE destination=$1 AND record_pk=$2 AND op='progress' "
          "AND state='done' ORDER BY seq",
          Params().S(destination).I(record_pk));
      std::vector<std::string> out;
      for (int i = 0; i < r.Rows(); ++i) out.push_back(r.Text(i, 0));
      return out;
    } catch (const PgError& e) {
      return ToStatus("read outbox", e);
    }
  }

  Result<int64_t> ReleaseHeld(const std::string& destination, int64_t now_ms) override {
    try {
      PgResult r = c_.Exec(
          "UPDATE outbox SET state='pending', next_attempt_ms=$1 WHERE destination=$2 AND state='held'",
          Params().I(now_ms).S(destination));
      return r.Affected();
    } catch (const PgError& e) {
      return ToStatus("release held items", e);
    }
  }

  Result<int64_t> ResumePending(const std::string& destination, int64_t from_ms, int64_t now_ms) override {
    try {
      PgResult r = c_.Exec(
          "UPDATE outbox SET next_attempt_ms=$1 WHERE destination=$2 AND state='pending' AND "
          "next_attempt_ms>=$3",
          Params().I(now_ms).S(destination).I(from_ms));
      return r.Affected();
    } catch (const PgError& e) {
      return ToStatus("resume pending items", e);
    }
  }

  Status ResendDeadLetter(int64_t dead_letter_id, int64_t now_ms) override {
    try {
      PgResult r = c_.Exec("SELECT outbox_id, resent_ms FROM dead_letter WHERE id=$1 FOR UPDATE",
                           Params().I(dead_letter_id));
      if (r.Rows() == 0)
        return Status::NotFound("không có thư chết (dead letter) số " + std::to_string(dead_letter_id));
      if (r.Int(0, 1) != 0)
        return Status::Conflict("thư chết số " + std::to_string(dead_letter_id) + " đã được gửi lại");
      c_.Exec("UPDATE outbox SET state='pending', attempts=0, next_attempt_ms=$1, lease_until_ms=0 "
              "WHERE id=$2 AND state='dead'",
              Params().I(now_ms).I(r.Int(0, 0)));
      c_.Exec("UPDATE dead_letter SET resent_ms=$1 WHERE id=$2", Params().I(now_ms).I(dead_letter_id));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("resend dead letter", e);
    }
  }

  Result<std::optional<ExportLogRow>> LastExportLog(const std::string& destination) override {
    try {
      // One chain per destination whatever the number of nodes: the caller reads the head and
      // appends after it within this transaction; another node's append waits here.
      c_.Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kLockExportChain) + ", hashtext($1))",
              Params().S(destination));
      auto rows = ReadLog(c_, destination, "ORDER BY seq DESC LIMIT 1", -1);
      if (rows.empty()) return std::optional<ExportLogRow>();
      return std::optional<ExportLogRow>(rows[0]);
    } catch (const PgError& e) {
      return ToStatus("read export log", e);
    }
  }

  Status AppendExportLog(const ExportLogRow& r) override {
    try {
      c_.Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kLockExportChain) + ", hashtext($1))",
              Params().S(r.destination));
      c_.Exec(
          "INSERT INTO export_log (destination, at_ms, op, record_id, url, http_status, outcome, "
          "request_hash, request_masked, response_body, prev_hash, entry_hash, format, "
          "request_summary, response_hash, response_summary) VALUES "
          "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
          Params().S(r.destination).I(r.at_ms).S(r.op).S(r.record_id).S(r.url).I(r.http_status)
              .S(r.outcome).S(r.request_hash).S(ValidText(r.request_masked))
              .S(ValidText(r.response_body)).S(r.prev_hash).S(r.entry_hash).I(r.format)
              .S(r.request_summary).S(r.response_hash).S(r.response_summary));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("write export log", e);
    }
  }

  Status RewriteExportLog(const ExportLogRow& r) override {
    try {
      c_.Exec(
          "UPDATE export_log SET request_masked=$1, response_body=$2, prev_hash=$3, entry_hash=$4, "
          "format=$5, request_summary=$6, response_hash=$7, response_summary=$8 WHERE seq=$9",
          Params().S(ValidText(r.request_masked)).S(ValidText(r.response_body)).S(r.prev_hash)
              .S(r.entry_hash).I(r.format).S(r.request_summary).S(r.response_hash)
              .S(r.response_summary).I(r.seq));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("rewrite export log", e);
    }
  }

  Status SetSetting(const std::string& key, const std::string& value) override {
    try {
      c_.Exec("INSERT INTO settings (key, value) VALUES ($1,$2) ON CONFLICT (key) DO UPDATE SET "
              "value=excluded.value",
              Params().S(key).S(value));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("write setting", e);
    }
  }

  Result<std::optional<std::string>> GetSettingInTx(const std::string& key) override {
    try {
      PgResult r = c_.Exec("SELECT value FROM settings WHERE key=$1", Params().S(key));
      if (r.Rows() == 0) return std::optional<std::string>();
      return std::optional<std::string>(r.Text(0, 0));
    } catch (const PgError& e) {
      return ToStatus("read setting", e);
    }
  }

  Result<int64_t> AppendJournal(const JournalRow& row) override {
    try {
      PgResult r = c_.Exec("INSERT INTO journal (kind, key, body, recorded_ms) VALUES ($1,$2,$3,$4) RETURNING id",
                           Params().S(row.kind).S(row.key).S(row.body).I(row.recorded_ms));
      return r.Int(0, 0);
    } catch (const PgError& e) {
      return ToStatus("write journal", e);
    }
  }

  Status PutTagReview(const TagReviewRow& r) override {
    try {
      c_.Exec(
          "INSERT INTO tag_review (source, kind, rid, action, decision, proposed, reviewer, why, "
          "at_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (source, kind, rid) DO UPDATE "
          "SET action=excluded.action, decision=excluded.decision, proposed=excluded.proposed, "
          "reviewer=excluded.reviewer, why=excluded.why, at_ms=excluded.at_ms",
          Params().S(r.key.source).S(r.key.kind).S(r.key.id).S(r.action).S(r.decision)
              .S(r.proposed).S(r.reviewer).S(r.why).I(r.at_ms));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("write tag review", e);
    }
  }

  Result<std::vector<PendingContribution>> PendingContributions(int64_t after_pk, int64_t limit) override {
    try {
      // Other nodes' writers add pending rows concurrently: lock them out (their trigger's
      // insert waits) until this transaction ends, so the rows read are the rows dropped.
      if (!pending_locked_) {
        c_.Simple("LOCK TABLE contrib_pending IN EXCLUSIVE MODE");
        pending_locked_ = true;
      }
      PgResult r = c_.Exec(
          "SELECT p.pk, p.base_unit, p.base_contrib, r.pk IS NOT NULL, coalesce(r.unit, ''), "
          "coalesce(r.contrib, '[]') FROM contrib_pending AS p LEFT JOIN records AS r ON r.pk = p.pk "
          "WHERE p.pk > $1 ORDER BY p.pk LIMIT $2",
          Params().I(after_pk).I(limit));
      std::vector<PendingContribution> out;
      for (int i = 0; i < r.Rows(); ++i) {
        PendingContribution p;
        p.pk = r.Int(i, 0);
        p.base_unit = r.Text(i, 1);
        p.base_contrib = r.Text(i, 2);
        p.exists = r.Text(i, 3) == "t";
        p.unit = r.Text(i, 4);
        p.contrib = r.Text(i, 5);
        out.push_back(std::move(p));
      }
      return out;
    } catch (const PgError& e) {
      return ToStatus("read pending contributions", e);
    }
  }

  Result<std::vector<IndexCell>> GetIndexCells(const std::vector<std::string>& keys) override {
    try {
      std::vector<IndexCell> out;
      PgResult r = c_.Exec("SELECT key, data FROM index_cells WHERE key = ANY($1::text[])",
                           Params().TextArray(keys));
      for (int i = 0; i < r.Rows(); ++i) out.push_back({r.Text(i, 0), r.Bytea(i, 1)});
      return out;
    } catch (const PgError& e) {
      return ToStatus("read index cells", e);
    }
  }

  Status PutIndexCells(const std::vector<IndexCell>& cells) override {
    try {
      std::vector<std::string> gone;
      for (const auto& c : cells) {
        if (c.data.empty()) {
          gone.push_back(c.key);
          continue;
        }
        c_.Exec("INSERT INTO index_cells (key, data) VALUES ($1, $2) "
                "ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                Params().S(c.key).B(c.data));
      }
      if (!gone.empty())
        c_.Exec("DELETE FROM index_cells WHERE key = ANY($1::text[])", Params().TextArray(gone));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("write index cells", e);
    }
  }

  Status DropPendingContributions(int64_t up_to_pk) override {
    try {
      c_.Exec("DELETE FROM contrib_pending WHERE pk <= $1", Params().I(up_to_pk));
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("drop pending contributions", e);
    }
  }

  Status ResetIndexCheckpoint() override {
    try {
      if (!pending_locked_) {
        c_.Simple("LOCK TABLE contrib_pending IN EXCLUSIVE MODE");
        pending_locked_ = true;
      }
      c_.Simple("DELETE FROM index_cells");
      c_.Simple("DELETE FROM contrib_pending");
      c_.Simple("INSERT INTO contrib_pending (pk, base_unit, base_contrib) "
                "SELECT pk, unit, '[]' FROM records WHERE contrib <> '[]'");
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("reset index checkpoint", e);
    }
  }

  Status Commit() override {
    try {
      c_.Simple("COMMIT");
      done_ = true;
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("commit", e);
    }
  }

 private:
  void UpdateOne(const RecordRow& r) {
    c_.Exec(
        "UPDATE records SET unit=$1, order_basis=$2, order_key=$3, event_time=$4, "
        "event_time_ms=$5, status=$6, data=$7, data_hash=$8, tags=$9, updated_ms=$10, "
        "has_item=$11, contrib=$12, deadline=$13, synced=$14, history_digest=$15, "
        "change_xid=pg_current_xact_id(), changed_by=$16 WHERE pk=$17",
        Params().S(r.unit).S(r.order_basis).I(r.order_key).S(r.event_time).I(r.event_time_ms)
            .S(r.status).S(r.data_json).S(r.data_hash).S(r.tags_json).I(r.updated_ms)
            .I(r.has_item ? 1 : 0).S(r.contrib_json).S(r.deadline_json).I(r.synced ? 1 : 0)
            .S(r.history_digest).S(node_).I(r.pk));
  }

  Conn& c_;
  const std::string& node_;
  std::unique_lock<std::mutex> lock_;
  bool done_ = false;
  bool pending_locked_ = false;  // this transaction holds contrib_pending EXCLUSIVE
};

// The guard session's application_name: "danvan-guard pid <pid>, host <host>" (the server keeps
// at most 63 bytes), read by a second opener of the same node to name the holder.
std::string GuardApplicationName() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '?';
  std::string name = "danvan-guard pid " + std::to_string(getpid()) + ", host " + host;
  if (name.size() > 63) name.resize(63);
  while (!name.empty() && (static_cast<unsigned char>(name.back()) & 0xC0) == 0x80) name.pop_back();  // no half UTF-8 character
  return name;
}

class PgStore final : public Store, public ChangeFeed {
 public:
  explicit PgStore(const PgOptions& o)
      : options_(o), writer_(options_, "danvan-write-" + o.node), guard_(options_, GuardApplicationName()),
        readers_(options_) {}

  Status Init() {
    try {
      // The second-open guard: one process per node id. The server drops the lock with the
      // connection (close, crash, SIGKILL), so a stale one never needs cleaning.
      guard_.Ensure();
      PgResult g = guard_.Exec("SELECT pg_try_advisory_lock(" + std::to_string(kLockNode) + ", hashtext($1))",
                               Params().S(options_.node));
      if (g.Text(0, 0) != "t") {
        // Name the holder as the SQLite engine's lock file does (pid, host): the guard session
        // holding this lock carries them in its application_name.
        PgResult h = guard_.Exec(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = " + std::to_string(kLockNode) +
                " AND l.objsubid = 2 AND l.objid::text::bigint = (hashtext($1)::bigint + 4294967296) % 4294967296 "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            Params().S(options_.node));
        std::string holder = h.Rows() > 0 ? h.Text(0, 0) : "";
        const std::string prefix = "danvan-guard ";
        holder = holder.rfind(prefix, 0) == 0 ? holder.substr(prefix.size()) + ", " : "";
        return Status::Conflict("cơ sở dữ liệu " + writer_.Target() + " đang được nút này mở ở một tiến trình khác (" +
                                holder + "instance '" + options_.node +
                                "'); mỗi nút cần một tên riêng (instance), hoặc đóng handle đó (close) trước khi mở lại");
      }
      writer_.Ensure();
      // Nodes starting together: the first applies the migrations, the others wait for it.
      writer_.Simple("SELECT pg_advisory_lock(" + std::to_string(kLockMigrations) + ", 0)");
      Status st = Migrate();
      try {
        writer_.Simple("SELECT pg_advisory_unlock(" + std::to_string(kLockMigrations) + ", 0)");
      } catch (const PgError&) {
      }
      return st;
    } catch (const PgError& e) {
      return ToStatus("open " + writer_.Target(), e);
    }
  }

  Status Checkpoint() override { return Status::Ok(); }  // nothing to fold: the server's WAL

  Result<std::unique_ptr<StoreTransaction>> Begin() override {
    std::unique_lock<std::mutex> lock(write_mutex_);
    try {
      writer_.Ensure();
      writer_.Simple("BEGIN");
    } catch (const PgError& e) {
      return ToStatus("begin", e);
    }
    return std::unique_ptr<StoreTransaction>(new PgTransaction(writer_, options_.node, std::move(lock)));
  }

  Result<std::optional<RecordRow>> GetRecord(const RecordKey& key) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec(std::string("SELECT ") + kRecordColumns +
                                         " FROM records r WHERE r.source=$1 AND r.kind=$2 AND r.rid=$3",
                                     Params().S(key.source).S(key.kind).S(key.id));
      if (r.Rows() == 0) return std::optional<RecordRow>();
      return std::optional<RecordRow>(ReadRecord(r, 0));
    } catch (const PgError& e) {
      return ToStatus("read record", e);
    }
  }

  Result<std::optional<RecordRow>> GetRecordByPk(int64_t pk) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec(std::string("SELECT ") + kRecordColumns + " FROM records r WHERE r.pk=$1",
                                     Params().I(pk));
      if (r.Rows() == 0) return std::optional<RecordRow>();
      return std::optional<RecordRow>(ReadRecord(r, 0));
    } catch (const PgError& e) {
      return ToStatus("read record", e);
    }
  }

  Result<std::vector<HistoryRow>> GetHistory(int64_t record_pk) override {
    try {
      auto lease = readers_.Acquire();
      return SelectHistory(lease.conn(), record_pk);
    } catch (const PgError& e) {
      return ToStatus("read history", e);
    }
  }

  Result<std::vector<QuarantineRow>> ListQuarantine(int64_t limit, int64_t offset) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec(
          "SELECT id, received_ms, source, kind, rid, errors, raw, raw_size FROM quarantine "
          "ORDER BY id LIMIT $1 OFFSET $2",
          Params().I(limit).I(offset));
      std::vector<QuarantineRow> out;
      for (int i = 0; i < r.Rows(); ++i)
        out.push_back({r.Int(i, 0), r.Int(i, 1), r.Text(i, 2), r.Text(i, 3), r.Text(i, 4), r.Text(i, 5),
                       r.Bytea(i, 6), r.Int(i, 7)});
      return out;
    } catch (const PgError& e) {
      return ToStatus("read quarantine", e);
    }
  }

  Result<StoreStats> Stats() override {
    try {
      auto lease = readers_.Acquire();
      Conn& c = lease.conn();
      StoreStats st;
      PgResult r = c.Exec("SELECT kind, unit, count(*) FROM records GROUP BY kind, unit ORDER BY kind, unit");
      for (int i = 0; i < r.Rows(); ++i) st.records.push_back({r.Text(i, 0), r.Text(i, 1), r.Int(i, 2)});
      st.history_rows = c.Exec("SELECT count(*) FROM record_history").Int(0, 0);
      st.quarantined = c.Exec("SELECT count(*) FROM quarantine").Int(0, 0);
      st.schema_version = schema_version_;
      st.location = writer_.Target();
      return st;
    } catch (const PgError& e) {
      return ToStatus("stats", e);
    }
  }

  Status ForEachContribution(
      const std::function<void(int64_t, const std::string&, const std::string&)>& fn) override {
    try {
      auto lease = readers_.Acquire();
      std::string snapshot;
      ForEachChunk(lease.conn(), "SELECT pk, unit, contrib FROM records WHERE contrib <> '[]' ORDER BY pk",
                   Params(), [&](const PgResult& r) {
                     for (int i = 0; i < r.Rows(); ++i) fn(r.Int(i, 0), r.Text(i, 1), r.Text(i, 2));
                   }, 2000, &snapshot);
      std::lock_guard lock(cursor_mu_);
      contribution_cursor_ = snapshot;
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("read contributions", e);
    }
  }

  Status LoadIndexCheckpoint(const std::function<void(const IndexCell&)>& fn_cell,
                             const std::function<void(const PendingContribution&)>& fn_pending) override {
    try {
      auto lease = readers_.Acquire();
      Conn& c = lease.conn();
      // One REPEATABLE READ snapshot for the cells, the pending rows and the change cursor.
      c.Simple("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      try {
        const std::string snapshot = c.Exec("SELECT pg_current_snapshot()::text").Text(0, 0);
        auto scan = [&](const std::string& select, const std::function<void(const PgResult&)>& fn) {
          c.ExecOnce("DECLARE danvan_scan NO SCROLL CURSOR FOR " + select);
          for (;;) {
            PgResult r = c.ExecOnce("FETCH 2000 FROM danvan_scan");
            if (r.Rows() > 0) fn(r);
            if (r.Rows() < 2000) break;
          }
          c.Simple("CLOSE danvan_scan");
        };
        IndexCell cell;
        scan("SELECT key, data FROM index_cells", [&](const PgResult& r) {
          for (int i = 0; i < r.Rows(); ++i) {
            cell.key = r.Text(i, 0);
            cell.data = r.Bytea(i, 1);
            fn_cell(cell);
          }
        });
        PendingContribution p;
        scan("SELECT p.pk, p.base_unit, p.base_contrib, r.pk IS NOT NULL, coalesce(r.unit, ''), "
             "coalesce(r.contrib, '[]') FROM contrib_pending AS p LEFT JOIN records AS r ON r.pk = p.pk "
             "ORDER BY p.pk",
             [&](const PgResult& r) {
               for (int i = 0; i < r.Rows(); ++i) {
                 p.pk = r.Int(i, 0);
                 p.base_unit = r.Text(i, 1);
                 p.base_contrib = r.Text(i, 2);
                 p.exists = r.Text(i, 3) == "t";
                 p.unit = r.Text(i, 4);
                 p.contrib = r.Text(i, 5);
                 fn_pending(p);
               }
             });
        c.Simple("COMMIT");
        std::lock_guard lock(cursor_mu_);
        contribution_cursor_ = snapshot;
      } catch (...) {
        c.RollbackQuietly();
        throw;
      }
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("read index checkpoint", e);
    }
  }

  Result<int64_t> CountPendingContributions() override {
    try {
      auto lease = readers_.Acquire();
      return lease.conn().Exec("SELECT count(*) FROM contrib_pending").Int(0, 0);
    } catch (const PgError& e) {
      return ToStatus("count pending contributions", e);
    }
  }

  Status ForEachRecord(const std::string& kind, const std::vector<std::string>& units,
                       const std::function<void(const RecordRow&)>& fn) override {
    try {
      auto lease = readers_.Acquire();
      ForEachChunk(lease.conn(),
                   std::string("SELECT ") + kRecordColumns +
                       " FROM records r WHERE r.kind=$1 AND r.unit = ANY($2::text[]) ORDER BY r.pk",
                   Params().S(kind).TextArray(units), [&](const PgResult& r) {
                     for (int i = 0; i < r.Rows(); ++i) fn(ReadRecord(r, i));
                   }, 500);
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("scan records", e);
    }
  }

  Status ForEachRecordByPk(const std::vector<int64_t>& pks,
                           const std::function<void(const RecordRow&)>& fn) override {
    try {
      auto lease = readers_.Acquire();
      std::vector<int64_t> sorted = pks;
      std::sort(sorted.begin(), sorted.end());
      constexpr size_t kChunk = 1000;  // bounded memory for long lists
      for (size_t from = 0; from < sorted.size(); from += kChunk) {
        std::vector<int64_t> part(sorted.begin() + from, sorted.begin() + std::min(sorted.size(), from + kChunk));
        PgResult r = lease.conn().Exec(std::string("SELECT ") + kRecordColumns +
                                           " FROM records r WHERE r.pk = ANY($1::bigint[]) ORDER BY r.pk",
                                       Params().IntArray(part));
        for (int i = 0; i < r.Rows(); ++i) fn(ReadRecord(r, i));
      }
      return Status::Ok();
    } catch (const PgError& e) {
      return ToStatus("read records", e);
    }
  }

  Result<int64_t> CountQueued() override {
    try {
      auto lease = readers_.Acquire();
      return lease.conn().Exec("SELECT count(*) FROM outbox WHERE state IN ('pending','held')").Int(0, 0);
    } catch (const PgError& e) {
      return ToStatus("count outbox", e);
    }
  }

  Result<OutboxStatusRow> OutboxStatus(const std::string& destination) override {
    try {
      auto lease = readers_.Acquire();
      Conn& c = lease.conn();
      OutboxStatusRow st;
      st.destination = destination;
      PgResult r = c.Exec("SELECT state, count(*) FROM outbox WHERE destination=$1 GROUP BY state",
                          Params().S(destination));
      for (int i = 0; i < r.Rows(); ++i) st.by_state[r.Text(i, 0)] = r.Int(i, 1);
      st.oldest_pending_created_ms =
          c.Exec("SELECT min(created_ms) FROM outbox WHERE destination=$1 AND state IN ('pending','held')",
                 Params().S(destination)).Int(0, 0);
      st.dead_letters = c.Exec("SELECT count(*) FROM dead_letter WHERE destination=$1 AND resent_ms=0",
                               Params().S(destination)).Int(0, 0);
      return st;
    } catch (const PgError& e) {
      return ToStatus("outbox status", e);
    }
  }

  Result<std::vector<DeadLetterRow>> ListDeadLetters(int64_t limit, int64_t offset) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec(
          "SELECT id, outbox_id, destination, record_id, op, payload, last_error, attempts, dead_ms, "
          "resent_ms FROM dead_letter ORDER BY id LIMIT $1 OFFSET $2",
          Params().I(limit).I(offset));
      std::vector<DeadLetterRow> out;
      for (int i = 0; i < r.Rows(); ++i)
        out.push_back({r.Int(i, 0), r.Int(i, 1), r.Text(i, 2), r.Text(i, 3), r.Text(i, 4), r.Text(i, 5),
                       r.Text(i, 6), r.Int(i, 7), r.Int(i, 8), r.Int(i, 9)});
      return out;
    } catch (const PgError& e) {
      return ToStatus("list dead letters", e);
    }
  }

  Result<std::vector<ExportLogRow>> ReadExportLog(const std::string& destination, int64_t after_seq,
                                                  int64_t limit) override {
    try {
      auto lease = readers_.Acquire();
      return ReadLog(lease.conn(), destination, "ORDER BY seq LIMIT " + std::to_string(limit), after_seq);
    } catch (const PgError& e) {
      return ToStatus("read export log", e);
    }
  }

  Result<std::vector<std::string>> ExportLogDestinationsBelowFormat(int format) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec(
          "SELECT destination FROM export_log WHERE format < $1 GROUP BY destination "
          "ORDER BY destination COLLATE \"C\"",
          Params().I(format));
      std::vector<std::string> out;
      for (int i = 0; i < r.Rows(); ++i) out.push_back(r.Text(i, 0));
      return out;
    } catch (const PgError& e) {
      return ToStatus("read export log", e);
    }
  }

  Result<std::optional<std::string>> GetSetting(const std::string& key) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec("SELECT value FROM settings WHERE key=$1", Params().S(key));
      if (r.Rows() == 0) return std::optional<std::string>();
      return std::optional<std::string>(r.Text(0, 0));
    } catch (const PgError& e) {
      return ToStatus("read setting", e);
    }
  }

  // Journal keys compare byte-wise (COLLATE "C"), as SQLite's do.
  Result<std::vector<JournalRow>> ListJournal(const std::string& kind, const std::string& key_prefix) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec(
          "SELECT id, kind, key, body, recorded_ms FROM journal WHERE kind=$1 AND "
          "left(key, length($2)) = $2 ORDER BY id",
          Params().S(kind).S(key_prefix));
      std::vector<JournalRow> out;
      for (int i = 0; i < r.Rows(); ++i)
        out.push_back({r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Int(i, 4)});
      return out;
    } catch (const PgError& e) {
      return ToStatus("read journal", e);
    }
  }

  Result<std::vector<JournalRow>> ListJournalPage(const std::string& kind, const std::string& key_prefix,
                                                  int64_t before_id, int64_t limit) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec(
          "SELECT id, kind, key, body, recorded_ms FROM journal WHERE kind=$1 AND id<$2 AND "
          "left(key, length($3)) = $3 ORDER BY id DESC LIMIT $4",
          Params().S(kind).I(before_id > 0 ? before_id : INT64_MAX).S(key_prefix).I(limit));
      std::vector<JournalRow> out;
      for (int i = 0; i < r.Rows(); ++i)
        out.push_back({r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Int(i, 4)});
      return out;
    } catch (const PgError& e) {
      return ToStatus("read journal", e);
    }
  }

  Result<std::vector<TagReviewRow>> ListTagReviews() override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec(
          "SELECT source, kind, rid, action, decision, proposed, reviewer, why, at_ms FROM tag_review "
          "ORDER BY source COLLATE \"C\", kind COLLATE \"C\", rid COLLATE \"C\"");
      std::vector<TagReviewRow> out;
      for (int i = 0; i < r.Rows(); ++i)
        out.push_back({{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2)}, r.Text(i, 3), r.Text(i, 4), r.Text(i, 5),
                       r.Text(i, 6), r.Text(i, 7), r.Int(i, 8)});
      return out;
    } catch (const PgError& e) {
      return ToStatus("read tag reviews", e);
    }
  }

  Result<std::vector<RecordRow>> SyncedDossiers(int64_t after_pk, int64_t limit) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec(std::string("SELECT ") + kRecordColumns +
                                         " FROM records r WHERE r.kind='dossier' AND r.synced=1 AND "
                                         "r.pk>$1 ORDER BY r.pk LIMIT $2",
                                     Params().I(after_pk).I(limit));
      std::vector<RecordRow> out;
      for (int i = 0; i < r.Rows(); ++i) out.push_back(ReadRecord(r, i));
      return out;
    } catch (const PgError& e) {
      return ToStatus("read synced dossiers", e);
    }
  }

  Result<std::vector<int64_t>> RecordPksAfter(int64_t after_pk, int64_t limit) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec("SELECT pk FROM records WHERE pk>$1 ORDER BY pk LIMIT $2",
                                     Params().I(after_pk).I(limit));
      std::vector<int64_t> out;
      for (int i = 0; i < r.Rows(); ++i) out.push_back(r.Int(i, 0));
      return out;
    } catch (const PgError& e) {
      return ToStatus("read record keys", e);
    }
  }

  Result<std::vector<DeadlineWatch>> DueWatches(int64_t now_ms, int64_t limit) override {
    try {
      auto lease = readers_.Acquire();
      PgResult r = lease.conn().Exec(
          "SELECT record_pk, next_change_ms, next_class, alerted FROM deadline_watch WHERE "
          "next_change_ms IS NOT NULL AND next_change_ms <= $1 ORDER BY next_change_ms LIMIT $2",
          Params().I(now_ms).I(limit));
      std::vector<DeadlineWatch> out;
      for (int i = 0; i < r.Rows(); ++i) out.push_back({r.Int(i, 0), r.Int(i, 1), r.Text(i, 2), r.Text(i, 3)});
      return out;
    } catch (const PgError& e) {
      return ToStatus("read deadline watches", e);
    }
  }

  std::string ContributionCursor() override {
    std::lock_guard lock(cursor_mu_);
    return contribution_cursor_;
  }

  Result<std::string> FollowContributions(const std::string& cursor, const std::string& node,
                                          const std::function<void(const ContribChange&)>& fn) override {
    try {
      auto lease = readers_.Acquire();
      std::string next;
      // Entries of transactions the cursor's snapshot did not see (committed since), read in
      // the snapshot that becomes the next cursor.
      ForEachChunk(lease.conn(),
                   "SELECT record_pk, old_unit, old_contrib, new_unit, new_contrib FROM contrib_log "
                   "WHERE xid >= pg_snapshot_xmin($1::text::pg_snapshot) AND "
                   "NOT pg_visible_in_snapshot(xid, $1::text::pg_snapshot) AND node <> $2 ORDER BY id",
                   Params().S(cursor).S(node), [&](const PgResult& r) {
                     for (int i = 0; i < r.Rows(); ++i)
                       fn({r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Text(i, 4)});
                   }, 2000, &next);
      // Entries older than a week are read by every node long since (a node away longer
      // rebuilds its aggregates when it opens): removed once an hour.
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
      if (now_ms - last_prune_ms_.exchange(now_ms) > 3600000)
        lease.conn().Exec("DELETE FROM contrib_log WHERE at_ms < $1", Params().I(now_ms - 7LL * 86400000));
      return next;
    } catch (const PgError& e) {
      return ToStatus("read contribution changes", e);
    }
  }

 private:
  // Under the migration lock. Throws PgError.
  Status Migrate() {
    writer_.Simple("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)");
    const auto& shared = Migrations();
    const auto& own = PgOnlyMigrations();
    const int64_t current = writer_.Exec("SELECT coalesce(max(version), 0) FROM schema_migrations WHERE version < 1000").Int(0, 0);
    const int64_t current_own = writer_.Exec("SELECT coalesce(max(version), 1000) - 1000 FROM schema_migrations WHERE version > 1000").Int(0, 0);
    if (current > static_cast<int64_t>(shared.size()) || current_own > static_cast<int64_t>(own.size()))
      return Status::IoError("cơ sở dữ liệu có phiên bản lược đồ " + std::to_string(current) +
                             " mới hơn phiên bản plugin hỗ trợ (" + std::to_string(shared.size()) + ")");
    auto apply = [&](const char* sql, int64_t version) {
      writer_.Simple("BEGIN");
      try {
        writer_.Simple(sql);
        writer_.Exec("INSERT INTO schema_migrations VALUES ($1, (extract(epoch from now()) * 1000)::bigint) "
                     "ON CONFLICT (version) DO NOTHING",
                     Params().I(version));
        writer_.Simple("COMMIT");
      } catch (...) {
        writer_.RollbackQuietly();
        throw;
      }
    };
    for (size_t v = static_cast<size_t>(current); v < shared.size(); ++v) {
      apply(shared[v], static_cast<int64_t>(v + 1));
    }
    for (size_t v = static_cast<size_t>(current_own); v < own.size(); ++v)
      apply(own[v], static_cast<int64_t>(1000 + v + 1));
    schema_version_ = static_cast<int64_t>(shared.size());
    return Status::Ok();
  }

  PgOptions options_;
  std::mutex write_mutex_;
  Conn writer_;  // guarded by write_mutex_ (and used alone during Init)
  Conn guard_;   // holds the node's session advisory lock for the life of the store
  ReadPool readers_;
  int64_t schema_version_ = 0;
  std::mutex cursor_mu_;
  std::string contribution_cursor_;  // guarded by cursor_mu_
  std::atomic<int64_t> last_prune_ms_{0};
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPgStore(const PgOptions& options) {
  if (options.conninfo.empty()) return Status::InvalidInput("storage.postgres: thiếu chuỗi kết nối (conninfo)");
  auto store = std::make_unique<PgStore>(options);
  Status st = store->Init();
  if (!st.ok()) return st;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace danvan
