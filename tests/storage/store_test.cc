// Store-level tests of the guarantees several nodes rely on, on the engine the run selects
// (SQLite, or PostgreSQL with DANVAN_TEST_ENGINE=postgres: ctest -L postgres). On SQLite the
// "nodes" are threads of one process sharing one Store (one owner per SQLite file); on
// PostgreSQL each node is its own Store (own connections, own node id) on one database.
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/test_support.h"
#include "postgres/pg_store.h"
#include "sqlite/sqlite_store.h"

namespace danvan {
namespace {

using testing::TempDir;
using testing::UsingPostgres;

constexpr const char* kDest = "portal";

class StoreTest : public ::testing::Test {
 protected:
  // A store on the test's database as node `node`.
  std::unique_ptr<Store> OpenNode(const std::string& node) {
    const auto db = dir_.path() / "s.sqlite";
    if (UsingPostgres()) {
      PgOptions o;
      o.conninfo = testing::PgConninfoFor(db);
      o.password = testing::PgPassword();
      o.node = node;
      auto s = OpenPgStore(o);
      EXPECT_TRUE(s.ok()) << s.status().ToString();
      return s.ok() ? std::move(s).value() : nullptr;
    }
    SqliteOptions o;
    o.path = db.string();
    o.synchronous_full = false;
    auto s = OpenSqliteStore(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // `n` nodes: distinct stores on PostgreSQL, the same store n times on SQLite.
  std::vector<Store*> Nodes(int n) {
    std::vector<Store*> out;
    for (int i = 0; i < n; ++i) {
      if (UsingPostgres() || owned_.empty()) owned_.push_back(OpenNode("node-" + std::to_string(i + 1)));
      out.push_back(owned_.back().get());
    }
    return out;
  }

  // Records with `items` queued outbox items each (a dossier then progress steps), ready at 0.
  void Queue(Store& s, int records, int items) {
    auto tx = s.Begin();
    ASSERT_TRUE(tx.ok()) << tx.status().ToString();
    for (int r = 0; r < records; ++r) {
      RecordRow row;
      row.key = {"motcua", "dossier", "D-" + std::to_string(r)};
      row.unit = "U";
      row.order_basis = "version";
      row.order_key = 1;
      row.event_time = "2023-03-01T09:00:00+07:00";
      row.data_json = "{}";
      row.data_hash = "h";
      auto pk = tx.value()->PutRecord(row);
      ASSERT_TRUE(pk.ok()) << pk.status().ToString();
      for (int i = 0; i < items; ++i) {
        OutboxItem it;
        it.destination = kDest;
        it.record_pk = pk.value();
        it.record_id = row.key.id;
        it.unit = "U";
        it.op = i == 0 ? "dossier" : "progress";
        it.payload = i == 0 ? "" : "step-" + std::to_string(i);
        it.state = "pending";
        ASSERT_TRUE(tx.value()->EnqueueOutbox(it).ok());
      }
    }
    ASSERT_TRUE(tx.value()->Commit().ok());
  }

  TempDir dir_;
  std::vector<std::unique_ptr<Store>> owned_;
};

// Three claimers in parallel: no item is held by two at once, every item is finished exactly
// once, and the items of each record are sent in seq order.
TEST_F(StoreTest, ParallelClaimersNeverShareAnItemAndKeepEachRecordsOrder) {
  auto nodes = Nodes(3);
  ASSERT_NO_FATAL_FAILURE(Queue(*nodes[0], 40, 3));
  std::mutex mu;
  std::set<int64_t> in_flight;
  std::map<int64_t, int> finished;                  // item id -> times finished
  std::map<int64_t, std::vector<int64_t>> order;    // record -> seqs in the order sent
  std::atomic<int> overlaps{0}, errors{0};
  auto claimer = [&](Store* s, std::string owner) {
    for (int round = 0; round < 400; ++round) {
      auto tx = s->Begin();
      if (!tx.ok()) { ++errors; return; }
      auto claimed = tx.value()->ClaimOutbox(kDest, 1000, 1000 + 600000, 4, 1, owner);
      if (!claimed.ok() || !tx.value()->Commit().ok()) { ++errors; return; }
      tx.value().reset();
      if (claimed.value().empty()) {
        std::lock_guard lock(mu);
        if (finished.size() == 120) return;
        continue;
      }
      {
        std::lock_guard lock(mu);
        for (const auto& it : claimed.value()) {
          if (!in_flight.insert(it.id).second) ++overlaps;
          order[it.record_pk].push_back(it.seq);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // "sending"
      {
        std::lock_guard lock(mu);
        for (const auto& it : claimed.value()) in_flight.erase(it.id);
      }
      auto fin = s->Begin();
      if (!fin.ok()) { ++errors; return; }
      for (const auto& it : claimed.value()) {
        if (!fin.value()->FinishOutbox(it, "done", 1001).ok()) { ++errors; return; }
      }
      if (!fin.value()->Commit().ok()) { ++errors; return; }
      std::lock_guard lock(mu);
      for (const auto& it : claimed.value()) ++finished[it.id];
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back(claimer, nodes[i], "node-" + std::to_string(i + 1));
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(overlaps.load(), 0) << "an item was held by two claimers at once";
  ASSERT_EQ(finished.size(), 120u);
  for (const auto& [id, n] : finished) EXPECT_EQ(n, 1) << "item " << id;
  for (const auto& [pk, seqs] : order) EXPECT_EQ(seqs, (std::vector<int64_t>{1, 2, 3})) << "record " << pk;
  auto status = nodes[0]->OutboxStatus(kDest);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status.value().by_state["done"], 120);
}

// A claimer that dies after claiming (its claim committed, never finished): nobody gets its
// items while the lease runs; after it they come back, marked ambiguous (the portal may have
// applied them), to another node.
TEST_F(StoreTest, KilledClaimersItemsComeBackAfterTheLease) {
  auto first = OpenNode("node-a");
  ASSERT_NO_FATAL_FAILURE(Queue(*first, 3, 1));
  {
    auto tx = first->Begin();
    ASSERT_TRUE(tx.ok());
    auto claimed = tx.value()->ClaimOutbox(kDest, 1000, 61000, 10, 1, "node-a");
    ASSERT_TRUE(claimed.ok());
    EXPECT_EQ(claimed.value().size(), 3u);
    ASSERT_TRUE(tx.value()->Commit().ok());
  }
  first.reset();  // dies: on PostgreSQL its connections (and row locks) are gone
  auto second = UsingPostgres() ? OpenNode("node-b") : OpenNode("node-a");
  auto claim = [&](int64_t now) {
    auto tx = second->Begin();
    EXPECT_TRUE(tx.ok());
    auto claimed = tx.value()->ClaimOutbox(kDest, now, now + 60000, 10, 1, "node-b");
    EXPECT_TRUE(claimed.ok());
    EXPECT_TRUE(tx.value()->Commit().ok());
    return claimed.ok() ? claimed.value() : std::vector<OutboxItem>();
  };
  EXPECT_TRUE(claim(60999).empty()) << "claimed while the dead node's lease runs";
  auto back = claim(61001);
  ASSERT_EQ(back.size(), 3u);
  for (const auto& it : back) EXPECT_TRUE(it.ambiguous) << it.id;
}

// Inside open transactions (PostgreSQL): a claim not yet committed keeps its rows from a
// second node's claim (FOR UPDATE SKIP LOCKED), which takes other items without waiting.
TEST_F(StoreTest, UncommittedClaimIsSkippedNotSharedByAnotherNode) {
  if (!UsingPostgres()) GTEST_SKIP() << "SQLite has one writer at a time: claims never overlap";
  auto nodes = Nodes(2);
  ASSERT_NO_FATAL_FAILURE(Queue(*nodes[0], 4, 1));
  auto a = nodes[0]->Begin();
  ASSERT_TRUE(a.ok());
  auto got_a = a.value()->ClaimOutbox(kDest, 1000, 61000, 2, 1, "node-1");
  ASSERT_TRUE(got_a.ok());
  ASSERT_EQ(got_a.value().size(), 2u);
  auto b = nodes[1]->Begin();
  ASSERT_TRUE(b.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto got_b = b.value()->ClaimOutbox(kDest, 1000, 61000, 10, 1, "node-2");
  ASSERT_TRUE(got_b.ok()) << got_b.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2)) << "waited for the other claim";
  ASSERT_EQ(got_b.value().size(), 2u);
  std::set<int64_t> ids;
  for (const auto& it : got_a.value()) ids.insert(it.id);
  for (const auto& it : got_b.value()) EXPECT_EQ(ids.count(it.id), 0u) << "item " << it.id << " claimed twice";
  ASSERT_TRUE(a.value()->Commit().ok());
  ASSERT_TRUE(b.value()->Commit().ok());
}

// The second-open guard is per node on PostgreSQL: the same node id twice is refused, other
// ids share the database.
TEST_F(StoreTest, SecondOpenOfTheSameNodeIsRefused) {
  if (!UsingPostgres()) GTEST_SKIP() << "SQLite's guard is the file lock (core/store_lock.h), tested by the ABI tests";
  auto one = OpenNode("node-1");
  ASSERT_TRUE(one);
  PgOptions o;
  o.conninfo = testing::PgConninfoFor(dir_.path() / "s.sqlite");
  o.password = testing::PgPassword();
  o.node = "node-1";
  auto again = OpenPgStore(o);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kConflict) << again.status().ToString();
  // The holder named as the SQLite lock file names it (pid, host, instance).
  EXPECT_NE(again.status().message().find("pid " + std::to_string(getpid()) + ", host "), std::string::npos)
      << again.status().message();
  EXPECT_NE(again.status().message().find("instance 'node-1'"), std::string::npos) << again.status().message();
  o.node = "node-2";
  auto other = OpenPgStore(o);
  EXPECT_TRUE(other.ok()) << other.status().ToString();
  one.reset();
  o.node = "node-1";  // released with the connection
  auto later = OpenPgStore(o);
  EXPECT_TRUE(later.ok()) << later.status().ToString();
}

// Nodes starting at the same moment on an empty database: one applies the migrations, the
// others wait and find them applied.
TEST_F(StoreTest, NodesStartingTogetherMigrateOnce) {
  if (!UsingPostgres()) GTEST_SKIP() << "one owner per SQLite file";
  std::vector<std::unique_ptr<Store>> stores(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] { stores[i] = OpenNode("start-" + std::to_string(i)); });
  for (auto& t : threads) t.join();
  for (auto& s : stores) {
    ASSERT_TRUE(s);
    auto st = s->Stats();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st.value().schema_version, 9);
  }
  EXPECT_EQ(testing::QueryStoreInt(dir_.path() / "s.sqlite", "SELECT count(*) FROM schema_migrations WHERE version < 1000"), 9);
}

// No table carries two indexes on the same columns in the same order: every index costs a write
// per row on the intake and export paths (PostgreSQL's migration 1001 once added one that
// repeated the outbox's UNIQUE (destination, record_pk, seq); the planner used either).
TEST_F(StoreTest, NoTwoIndexesCoverTheSameColumns) {
  ASSERT_TRUE(OpenNode("node-1"));  // migrated, then closed
  const auto db = dir_.path() / "s.sqlite";
  const std::string sql =
      UsingPostgres()
          ? "SELECT string_agg(t.relname || '(' || i.indkey::text || ')', ', ') FROM pg_index i "
            "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = current_schema() GROUP BY i.indrelid, i.indkey::text, "
            "coalesce(i.indpred::text, '') HAVING count(*) > 1"
          : "SELECT group_concat(tbl || '(' || cols || ')', ', ') FROM ("
            "  SELECT m.name AS tbl, il.name AS idx, il.partial AS partial, "
            "    (SELECT group_concat(ii.name, ',') FROM (SELECT name FROM pragma_index_info(il.name) "
            "     ORDER BY seqno) AS ii) AS cols "
            "  FROM sqlite_master AS m, pragma_index_list(m.name) AS il WHERE m.type = 'table') "
            "GROUP BY tbl, cols, partial HAVING count(*) > 1";
  EXPECT_EQ(testing::QueryStoreText(db, sql), "") << "the same columns indexed twice";
  // The check itself sees an index added on the same columns as an existing one.
  testing::QueryStoreText(db, "CREATE INDEX probe_twin ON outbox (destination, state, next_attempt_ms)");
  EXPECT_NE(testing::QueryStoreText(db, sql), "");
}

// Appends to one destination's export log from several nodes at once stay one chain: each
// entry's prev_hash is the entry before it.
TEST_F(StoreTest, ExportLogStaysOneChainAcrossNodes) {
  auto nodes = Nodes(3);
  std::atomic<int> errors{0};
  auto appender = [&](Store* s, int who) {
    for (int i = 0; i < 20; ++i) {
      auto tx = s->Begin();
      if (!tx.ok()) { ++errors; return; }
      auto last = tx.value()->LastExportLog(kDest);
      if (!last.ok()) { ++errors; return; }
      ExportLogRow row;
      row.destination = kDest;
      row.op = "dossier";
      row.record_id = std::to_string(who) + "-" + std::to_string(i);
      row.outcome = "ok";
      row.prev_hash = last.value() ? last.value()->entry_hash : "";
      row.entry_hash = row.prev_hash + "/" + row.record_id;
      std::this_thread::sleep_for(std::chrono::microseconds(300));  // widen the window
      if (!tx.value()->AppendExportLog(row).ok() || !tx.value()->Commit().ok()) { ++errors; return; }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back(appender, nodes[i], i);
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  auto log = nodes[0]->ReadExportLog(kDest, 0, 1000);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log.value().size(), 60u);
  std::string prev;
  for (const auto& e : log.value()) {
    EXPECT_EQ(e.prev_hash, prev) << "fork at seq " << e.seq;
    prev = e.entry_hash;
  }
}

// Two nodes applying changes to the same record at once: each reads it for writing in turn
// (no lost update).
TEST_F(StoreTest, ConcurrentWritersOfOneRecordLoseNoUpdate) {
  auto nodes = Nodes(2);
  ASSERT_NO_FATAL_FAILURE(Queue(*nodes[0], 1, 0));
  std::atomic<int> errors{0};
  auto bump = [&](Store* s) {
    for (int i = 0; i < 50; ++i) {
      auto tx = s->Begin();
      if (!tx.ok()) { ++errors; return; }
      auto rows = tx.value()->GetRecords({{"motcua", "dossier", "D-0"}});
      if (!rows.ok() || !rows.value()[0]) { ++errors; return; }
      RecordRow r = *rows.value()[0];
      r.order_key += 1;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (!tx.value()->UpdateRecords({&r}).ok() || !tx.value()->Commit().ok()) { ++errors; return; }
    }
  };
  std::thread t1(bump, nodes[0]), t2(bump, nodes[1]);
  t1.join();
  t2.join();
  EXPECT_EQ(errors.load(), 0);
  auto row = nodes[0]->GetRecord({"motcua", "dossier", "D-0"});
  ASSERT_TRUE(row.ok() && row.value());
  EXPECT_EQ(row.value()->order_key, 101);
}

// Batch calls read and write many rows at once (multi-row statements on PostgreSQL) with the
// same results as one at a time.
TEST_F(StoreTest, BatchCallsMatchSingleCalls) {
  auto s = OpenNode("node-1");
  ASSERT_NO_FATAL_FAILURE(Queue(*s, 5, 0));
  auto tx = s->Begin();
  ASSERT_TRUE(tx.ok());
  std::vector<RecordKey> keys = {{"motcua", "dossier", "D-3"}, {"motcua", "dossier", "nope"},
                                 {"motcua", "dossier", "D-1"}, {"motcua", "dossier", "D-3"}};
  auto rows = tx.value()->GetRecords(keys);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows.value().size(), 4u);
  ASSERT_TRUE(rows.value()[0] && rows.value()[2] && rows.value()[3]);
  EXPECT_FALSE(rows.value()[1]);
  EXPECT_EQ(rows.value()[0]->key.id, "D-3");
  EXPECT_EQ(rows.value()[2]->key.id, "D-1");
  RecordRow a = *rows.value()[0], b = *rows.value()[2];
  a.data_json = R"({"x":"quote \" backslash \\ comma , brace }"})";
  a.status = "5";
  b.tags_json = R"(["t1","t2"])";
  b.synced = true;
  ASSERT_TRUE(tx.value()->UpdateRecords({&a, &b}).ok());
  std::vector<HistoryRow> h = {{a.pk, 1, "2", 10, "e", "applied", "", 1},
                               {a.pk, 2, "5", 20, "e", "step", R"({"k":"v"})", 2},
                               {b.pk, 1, "2", 5, "e", "applied", "", 3}};
  ASSERT_TRUE(tx.value()->AppendHistories(h).ok());
  ASSERT_TRUE(tx.value()->Commit().ok());
  auto ga = s->GetRecord(a.key);
  ASSERT_TRUE(ga.ok() && ga.value());
  EXPECT_EQ(ga.value()->data_json, a.data_json);
  EXPECT_EQ(ga.value()->status, "5");
  auto gb = s->GetRecordByPk(b.pk);
  ASSERT_TRUE(gb.ok() && gb.value());
  EXPECT_EQ(gb.value()->tags_json, b.tags_json);
  EXPECT_TRUE(gb.value()->synced);
  auto ha = s->GetHistory(a.pk);
  ASSERT_TRUE(ha.ok());
  ASSERT_EQ(ha.value().size(), 2u);
  EXPECT_EQ(ha.value()[1].detail_json, R"({"k":"v"})");
  EXPECT_EQ(ha.value()[1].outcome, "step");
}


// A scan hands rows over as it reads them (issue 16): at 10M events a drill-down over a city's
// subtree matched ~10^5 records, and the SQLite store held them all at once (twice), so the heap
// grew by ~165 MB and kept it. 5,000 records of 4 KB (20 MB) are scanned; when fn sees the first
// row the heap has grown by less than 8 MB (PostgreSQL reads 500-row chunks), and every row has
// every column as a single-record read gives it. mallinfo2 sees glibc's heap only: under a
// sanitizer's allocator it reports nothing, and the memory half is skipped.
TEST_F(StoreTest, ScansHandRowsOverAsTheyAreRead) {
  auto s = OpenNode("node-1");
  constexpr int kRecords = 5000;
  const std::string filler(4000, 'x');
  {
    auto tx = s->Begin();
    ASSERT_TRUE(tx.ok()) << tx.status().ToString();
    for (int r = 0; r < kRecords; ++r) {
      RecordRow row;
      row.key = {"motcua", r % 2 ? "petition" : "dossier", "R-" + std::to_string(r)};
      row.unit = r % 3 ? "UBND.P1" : "UBND.P2";
      row.order_basis = r % 5 ? "version" : "time";
      row.order_key = r * 7;
      row.event_time = "2023-03-01T09:00:00+07:00";
      row.event_time_ms = 1677636000000 + r;
      row.status = std::to_string(r % 9);
      row.data_json = R"({"title":"Đơn số )" + std::to_string(r) + R"(","pad":")" + filler + "\"}";
      row.data_hash = "h" + std::to_string(r);
      row.tags_json = r % 4 ? "[]" : R"([{"tag":"đất đai"}])";
      row.first_seen_ms = 1000 + r;
      row.updated_ms = 2000 + r;
      row.has_item = r % 6 != 0;
      row.contrib_json = R"([{"s":"p.recv","d":19417,"v":1}])";
      row.deadline_json = r % 7 ? "null" : R"({"class":"open_overdue"})";
      row.synced = r % 8 == 0;
      row.history_digest = r % 10 ? "" : "digest-" + std::to_string(r);
      auto pk = tx.value()->PutRecord(row);
      ASSERT_TRUE(pk.ok()) << pk.status().ToString();
    }
    ASSERT_TRUE(tx.value()->Commit().ok());
  }
  const bool heap_visible = mallinfo2().uordblks > 0;
  auto same = [&](const RecordRow& got) {
    auto want = s->GetRecordByPk(got.pk);
    if (!want.ok() || !want.value()) return false;
    const RecordRow& w = *want.value();
    return std::tie(got.key.source, got.key.kind, got.key.id, got.unit, got.order_basis, got.order_key,
                    got.event_time, got.event_time_ms, got.status, got.data_json, got.data_hash, got.tags_json,
                    got.first_seen_ms, got.updated_ms, got.has_item, got.contrib_json, got.deadline_json,
                    got.synced, got.history_digest) ==
           std::tie(w.key.source, w.key.kind, w.key.id, w.unit, w.order_basis, w.order_key, w.event_time,
                    w.event_time_ms, w.status, w.data_json, w.data_hash, w.tags_json, w.first_seen_ms,
                    w.updated_ms, w.has_item, w.contrib_json, w.deadline_json, w.synced, w.history_digest);
  };
  // fn does not call the store (the scans' rule): sampled rows are compared afterwards.
  int rows = 0;
  int64_t last_pk = 0;
  bool ordered = true;
  std::vector<RecordRow> sample;
  size_t heap_before = mallinfo2().uordblks, heap_at_first = 0;
  Status st = s->ForEachRecord("dossier", {"UBND.P1", "UBND.P2"}, [&](const RecordRow& row) {
    if (rows++ == 0) heap_at_first = mallinfo2().uordblks;
    if (row.pk <= last_pk) ordered = false;
    last_pk = row.pk;
    if (rows % 97 == 1) sample.push_back(row);
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(rows, kRecords / 2);
  EXPECT_TRUE(ordered);
  for (const auto& row : sample) EXPECT_TRUE(same(row)) << row.key.id;
  if (heap_visible) {
    EXPECT_LT(heap_at_first - std::min(heap_at_first, heap_before), size_t{8} << 20)
        << "the scan held the matching rows before handing over the first";
  }
  // By pk: the same, over every record.
  std::vector<int64_t> pks;
  ASSERT_TRUE(s->ForEachRecord("petition", {"UBND.P1", "UBND.P2"}, [&](const RecordRow& row) {
    pks.push_back(row.pk);
  }).ok());
  ASSERT_TRUE(s->ForEachRecord("dossier", {"UBND.P1", "UBND.P2"}, [&](const RecordRow& row) {
    pks.push_back(row.pk);
  }).ok());
  std::sort(pks.begin(), pks.end());
  rows = 0;
  sample.clear();
  heap_before = mallinfo2().uordblks;
  st = s->ForEachRecordByPk(pks, [&](const RecordRow& row) {
    if (rows++ == 0) heap_at_first = mallinfo2().uordblks;
    if (rows % 89 == 1) sample.push_back(row);
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(rows, kRecords);
  for (const auto& row : sample) EXPECT_TRUE(same(row)) << row.key.id;
  if (heap_visible) {
    EXPECT_LT(heap_at_first - std::min(heap_at_first, heap_before), size_t{8} << 20)
        << "the read by pk held a chunk's rows before handing over the first";
  }
}

}  // namespace
}  // namespace danvan
