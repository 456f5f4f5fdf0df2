// The outbox statements intake runs for every dossier event do work bounded by the record's
// own items, not by the queue: SQLite's virtual-machine steps (sqlite3_stmt_status
// SQLITE_STMTSTATUS_VM_STEP, a count, not a time) of each statement on one record are the same
// with 20 and with 5,000 pending items of other records. Before sqlite_outbox_sql.h, the
// planner took outbox_ready for SupersedeDossierOps and walked every pending item of the
// destination per event (pg_bench: 127 events/s, 18 CPU-s for 4,800 events, bench/RESULTS.md).
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include "engine/test_support.h"
#include "sqlite/sqlite_outbox_sql.h"
#include "sqlite/sqlite_store.h"

namespace danvan {
namespace {

class SqliteOutboxPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_.path() / "plan.sqlite").string();
    SqliteOptions o;
    o.path = path_;
    o.synchronous_full = false;
    auto store = OpenSqliteStore(o);  // creates the schema through the store's own migrations
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store.value().reset();
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db_), SQLITE_OK);
    // The record under test: a dossier item sent, one frozen, one waiting; a derived step.
    Exec("INSERT INTO outbox (destination, record_pk, record_id, unit, op, seq, payload, "
         "idempotency_key, state, next_attempt_ms, created_ms, derived) VALUES "
         "('portal', 1, 'H26.20-1', 'SGDDT.VP', 'dossier', 1, '{}', 'k1', 'done', 0, 0, 0),"
         "('portal', 1, 'H26.20-1', 'SGDDT.VP', 'dossier', 2, '{\"v\":2}', 'k2', 'pending', 0, 0, 0),"
         "('portal', 1, 'H26.20-1', 'SGDDT.VP', 'progress', 3, '{}', 'k3', 'pending', 0, 0, 1),"
         "('portal', 1, 'H26.20-1', 'SGDDT.VP', 'dossier', 4, '', 'k4', 'pending', 0, 0, 0)");
    QueueOthers(2, 21);
  }
  void TearDown() override {
    if (db_) sqlite3_close(db_);
  }

  void Exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  }

  // Pending dossier items (realistic size, not yet frozen) of records [from, to).
  void QueueOthers(int from, int to) {
    Exec("BEGIN");
    Exec("WITH RECURSIVE n(i) AS (SELECT " + std::to_string(from) + " UNION ALL SELECT i + 1 FROM n "
         "WHERE i + 1 < " + std::to_string(to) + ") INSERT INTO outbox (destination, record_pk, "
         "record_id, unit, op, seq, payload, idempotency_key, state, next_attempt_ms, created_ms) "
         "SELECT 'portal', i, 'H26.20-' || i, 'SGDDT.VP', 'dossier', 1, '', 'k-' || i, 'pending', "
         "i, 0 FROM n");
    Exec("COMMIT");
  }

  // Virtual-machine steps of one execution of `sql` on record 1 (undone afterwards).
  int64_t Steps(const char* sql, int parameters) {
    Exec("SAVEPOINT probe");
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
    if (!stmt) return -1;
    // The parameters, in order (sqlite_outbox_sql.h): the new payload (FreezeDossierOps) or
    // done_ms (SupersedeDossierOps), then destination, record_pk, now_ms, synced as far as
    // the statement has them.
    const std::string s = sql;
    int index = 1;
    if (s.rfind("UPDATE outbox SET payload=?", 0) == 0) sqlite3_bind_text(stmt, index++, "{\"v\":4}", -1, SQLITE_TRANSIENT);
    if (s.rfind("UPDATE outbox SET state='done', done_ms=?", 0) == 0) sqlite3_bind_int64(stmt, index++, 5000);
    sqlite3_bind_text(stmt, index++, "portal", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, index++, 1);
    if (index <= parameters) sqlite3_bind_int64(stmt, index++, 1'000'000);  // now_ms
    if (index <= parameters) sqlite3_bind_int64(stmt, index++, 0);          // synced
    EXPECT_EQ(index, parameters + 1) << sql;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db_);
    const int64_t steps = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, 0);
    sqlite3_finalize(stmt);
    Exec("ROLLBACK TO probe");
    Exec("RELEASE probe");
    return steps;
  }

  testing::TempDir dir_;
  std::string path_;
  sqlite3* db_ = nullptr;
};

TEST_F(SqliteOutboxPlanTest, PerRecordStatementsDoNotWalkTheQueue) {
  std::vector<int64_t> small;
  for (const auto& st : sqlite_sql::kPerRecordOutboxStatements) small.push_back(Steps(st.sql, st.parameters));
  QueueOthers(21, 5021);
  size_t i = 0;
  for (const auto& st : sqlite_sql::kPerRecordOutboxStatements) {
    const int64_t large = Steps(st.sql, st.parameters);
    EXPECT_GT(small[i], 0) << st.name;
    // Equal in principle; a little slack for a deeper B-tree.
    EXPECT_LE(large, small[i] + 20) << st.name << ": " << small[i] << " steps with 20 items queued, "
                                    << large << " with 5,020";
    ++i;
  }
}

// What a commit writes (issue 16, sixth step): every page a transaction changes is one more WAL
// frame in the commit that single submits wait for. An update that keeps a record's unit writes
// no page of records_kind_unit (an UPDATE naming an indexed column rewrites its entry even when
// the value is the same), and a deadline watch set to what it already is writes nothing. Read
// from the WAL itself: after a TRUNCATE checkpoint it holds exactly the next commit's frames,
// each headed by its page number (https://www.sqlite.org/fileformat.html#the_write_ahead_log).
class SqliteWritePagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_.path() / "pages.sqlite").string();
    SqliteOptions o;
    o.path = path_;
    o.synchronous_full = false;
    auto store = OpenSqliteStore(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto tx = store_->Begin();
    ASSERT_TRUE(tx.ok()) << tx.status().ToString();
    row_.key = {"motcua", "dossier", "D-1"};
    row_.unit = "UBND.P1";
    row_.order_basis = "version";
    row_.order_key = 1;
    row_.event_time = "2023-03-01T09:00:00+07:00";
    row_.data_json = "{}";
    row_.data_hash = "h1";
    row_.contrib_json = R"([["d.recv",19417,1.0]])";
    auto pk = tx.value()->PutRecord(row_);
    ASSERT_TRUE(pk.ok()) << pk.status().ToString();
    row_.pk = pk.value();
    ASSERT_TRUE(tx.value()->SetWatch(row_.pk, 5000, "due_soon").ok());
    ASSERT_TRUE(tx.value()->Commit().ok());
    ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }
  void TearDown() override {
    if (db_) sqlite3_close(db_);
  }

  // As the indicator checkpoint does when it has folded the record's contributions.
  void DropPending() {
    auto tx = store_->Begin();
    ASSERT_TRUE(tx.ok()) << tx.status().ToString();
    ASSERT_TRUE(tx.value()->DropPendingContributions(row_.pk).ok());
    ASSERT_TRUE(tx.value()->Commit().ok());
  }

  // The root page of a table or index (each fits one page here).
  int64_t Root(const std::string& name) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, "SELECT rootpage FROM sqlite_schema WHERE name=?", -1, &st, nullptr), SQLITE_OK);
    sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    int64_t page = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    EXPECT_GT(page, 0) << name;
    return page;
  }

  // The pages of one transaction run by `fn` (the WAL emptied before it).
  template <typename Fn>
  std::set<int64_t> PagesWrittenBy(Fn fn) {
    EXPECT_TRUE(store_->Checkpoint().ok());
    auto tx = store_->Begin();
    EXPECT_TRUE(tx.ok()) << tx.status().ToString();
    if (!tx.ok()) return {};
    fn(*tx.value());
    EXPECT_TRUE(tx.value()->Commit().ok());
    std::ifstream wal(path_ + "-wal", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(wal)), std::istreambuf_iterator<char>());
    std::set<int64_t> pages;
    if (bytes.size() < 32) return pages;
    auto be32 = [&](size_t at) {
      return (int64_t{static_cast<unsigned char>(bytes[at])} << 24) |
             (int64_t{static_cast<unsigned char>(bytes[at + 1])} << 16) |
             (int64_t{static_cast<unsigned char>(bytes[at + 2])} << 8) | static_cast<unsigned char>(bytes[at + 3]);
    };
    const int64_t page_size = be32(8);
    for (size_t at = 32; at + 24 + page_size <= bytes.size(); at += 24 + static_cast<size_t>(page_size))
      pages.insert(be32(at));
    return pages;
  }

  // The pending contribution base of the record: "unit|contrib", or "" when none.
  std::string PendingBase() {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, "SELECT base_unit || '|' || base_contrib FROM contrib_pending WHERE pk=?",
                                 -1, &st, nullptr), SQLITE_OK);
    sqlite3_bind_int64(st, 1, row_.pk);
    std::string base;
    if (sqlite3_step(st) == SQLITE_ROW) base = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return base;
  }

  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
  RecordRow row_;
  sqlite3* db_ = nullptr;
};

TEST_F(SqliteWritePagesTest, UpdateKeepingTheUnitLeavesTheUnitIndexAlone) {
  const int64_t records = Root("records"), by_unit = Root("records_kind_unit");
  ASSERT_NO_FATAL_FAILURE(DropPending());
  RecordRow changed = row_;
  changed.order_key = 2;
  changed.data_json = R"({"TrangThai":"2"})";
  changed.contrib_json = R"([["d.recv",19417,1.0],["d.open_ok",19418,1.0]])";
  auto pages = PagesWrittenBy([&](StoreTransaction& tx) { ASSERT_TRUE(tx.UpdateRecords({&changed}).ok()); });
  EXPECT_TRUE(pages.count(records)) << "the record's own page is written";
  EXPECT_FALSE(pages.count(by_unit)) << "records_kind_unit rewritten for an unchanged unit";
  // The indicator checkpoint's base is the row before the batch.
  EXPECT_EQ(PendingBase(), std::string("UBND.P1|") + row_.contrib_json);

  // A unit that changes is written, and the base stays the first one (unit and contrib before).
  RecordRow moved = changed;
  moved.unit = "UBND.P2";
  moved.contrib_json = R"([["d.recv",19417,1.0]])";
  pages = PagesWrittenBy([&](StoreTransaction& tx) { ASSERT_TRUE(tx.UpdateRecords({&moved}).ok()); });
  EXPECT_TRUE(pages.count(by_unit));
  EXPECT_EQ(PendingBase(), std::string("UBND.P1|") + row_.contrib_json);
  auto got = store_->GetRecordByPk(row_.pk);
  ASSERT_TRUE(got.ok() && got.value());
  EXPECT_EQ(got.value()->unit, "UBND.P2");
  EXPECT_EQ(got.value()->contrib_json, moved.contrib_json);
  EXPECT_EQ(got.value()->order_key, 2);

  // The unit alone, from a checkpointed base: the base is (old unit, the unchanged contrib).
  ASSERT_NO_FATAL_FAILURE(DropPending());
  RecordRow back = moved;
  back.unit = "UBND.P1";
  pages = PagesWrittenBy([&](StoreTransaction& tx) { ASSERT_TRUE(tx.UpdateRecords({&back}).ok()); });
  EXPECT_TRUE(pages.count(by_unit));
  EXPECT_EQ(PendingBase(), std::string("UBND.P2|") + moved.contrib_json);
  got = store_->GetRecordByPk(row_.pk);
  ASSERT_TRUE(got.ok() && got.value());
  EXPECT_EQ(got.value()->unit, "UBND.P1");
}

TEST_F(SqliteWritePagesTest, WatchSetToWhatItIsWritesNothing) {
  const int64_t watch = Root("deadline_watch"), next = Root("deadline_watch_next");
  auto set = [&](std::optional<int64_t> at, const std::string& cls) {
    return PagesWrittenBy([&](StoreTransaction& tx) { ASSERT_TRUE(tx.SetWatch(row_.pk, at, cls).ok()); });
  };
  EXPECT_TRUE(set(5000, "due_soon").empty());
  auto pages = set(5000, "overdue");  // the class alone changes
  EXPECT_TRUE(pages.count(watch));
  pages = set(7000, "overdue");
  EXPECT_TRUE(pages.count(watch) && pages.count(next));
  pages = set(std::nullopt, "");
  EXPECT_TRUE(pages.count(watch) && pages.count(next));
  EXPECT_TRUE(set(std::nullopt, "").empty());
  auto due = store_->DueWatches(INT64_MAX, 10);
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due.value().empty());
  pages = set(9000, "open_ok");
  EXPECT_TRUE(pages.count(watch) && pages.count(next));
  due = store_->DueWatches(INT64_MAX, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due.value().size(), 1u);
  EXPECT_EQ(due.value()[0].next_change_ms, 9000);
  EXPECT_EQ(due.value()[0].next_class, "open_ok");
}

}  // namespace
}  // namespace danvan
