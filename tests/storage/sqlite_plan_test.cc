// The outbox statements intake runs for every dossier event do work bounded by the record's
// own items, not by the queue: SQLite's virtual-machine steps (sqlite3_stmt_status
// SQLITE_STMTSTATUS_VM_STEP, a count, not a time) of each statement on one record are the same
// with 20 and with 5,000 pending items of other records. Before sqlite_outbox_sql.h, the
// planner took outbox_ready for SupersedeDossierOps and walked every pending item of the
// destination per event (pg_bench: 127 events/s, 18 CPU-s for 4,800 events, bench/RESULTS.md).
#include <gtest/gtest.h>

#include <sqlite3.h>

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

}  // namespace
}  // namespace danvan
