// Intake's batch-shaped write path (engine/intake_apply.cc): the history digest kept in each
// record row, its migration, group commit of concurrent single submits, and that a batch gives
// exactly what the same events submitted one by one give.
#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "abi/abi_errors.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "engine/intake.h"
#include "engine/test_support.h"
#include "storage/history_digest.h"

namespace danvan {
namespace {

using testing::DossierEvent;
using testing::PetitionEvent;
using testing::TempDir;

nlohmann::json StepEvent(const std::string& id, const std::string& status, const std::string& at) {
  return {{"kind", "dossier"}, {"source", "motcua-hp"}, {"id", id}, {"unit", "SGDDT.VP"},
          {"version", 1}, {"event_time", "2023-03-01T09:00:00+07:00"},
          {"data", {{"MaHoSo", id}, {"TrangThai", status}, {"ThoiDiemXuLy", at},
                    {"NguoiXuLy", "Trần Thị Bình"}}}};
}

nlohmann::json RecordGet(Engine& e, const std::string& kind, const std::string& id) {
  auto got = e.Query(nlohmann::json{{"op", "record.get"}, {"source", "motcua-hp"}, {"kind", kind},
                                    {"id", id}}.dump());
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  return got.ok() ? got.value() : nlohmann::json();
}

// On the store of either engine (test_support.h).
void ExecSql(const std::filesystem::path& db, const std::vector<std::string>& sqls) {
  for (const auto& sql : sqls) ASSERT_NO_THROW(testing::ExecStoreSql(db, sql)) << sql;
}

std::string QueryText(const std::filesystem::path& db, const std::string& sql) {
  try {
    return testing::QueryStoreText(db, sql);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
    return "";
  }
}

int64_t QueryInt(const std::filesystem::path& db, const std::string& sql) {
  try {
    const std::string v = testing::QueryStoreText(db, sql);
    return v.empty() ? -1 : std::stoll(v);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
    return -1;
  }
}

TEST(HistoryDigestTest, RoundTripsAnyStatusAndSortsLikeTheHistory) {
  std::string d;
  AppendDigest(&d, {0, 3, "9", 3000, "", "applied", "", 0});
  AppendDigest(&d, {0, 1, "a,b:7;", 1000, "", "step", "", 0});
  AppendDigest(&d, {0, 2, "", 1000, "", "stale", "", 0});
  std::vector<HistoryRow> h;
  ASSERT_TRUE(DigestHistory(d, 42, &h));
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].status, "a,b:7;");
  EXPECT_EQ(h[0].outcome, "step");
  EXPECT_EQ(h[0].record_pk, 42);
  EXPECT_EQ(h[1].outcome, "stale");
  EXPECT_EQ(h[1].order_key, 2);
  EXPECT_EQ(h[2].status, "9");
  EXPECT_EQ(h[2].at_ms, 3000);
  ASSERT_TRUE(DigestHistory("", 42, &h));
  EXPECT_TRUE(h.empty());
  EXPECT_FALSE(DigestHistory(d + "t1,2,99:x", 42, &h));  // status longer than what is left
  EXPECT_FALSE(DigestHistory("a1,2", 42, &h));
}

class IntakeBatchTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> Open(const std::string& name) {
    return testing::OpenEngine(testing::ConfigFor(dir_.path() / name), clock_);
  }
  TempDir dir_;
  // A fixed clock: the two engines compared below see the same instants.
  std::shared_ptr<Clock> clock_ = std::make_shared<FunctionClock>([] { return int64_t{1678500000000}; });
};

// One batch with several events of the same records (steps before the item, duplicates, a
// newer version, a stale one, a conflict, a bad line) stores exactly what the same events
// submitted one at a time store.
TEST_F(IntakeBatchTest, BatchStoresWhatSingleSubmitsStore) {
  const std::vector<nlohmann::json> events = {
      StepEvent("D-1", "2", "20230301090000"),
      StepEvent("D-1", "2", "20230301090000"),  // duplicate step
      DossierEvent("D-1", 1, "2"),
      StepEvent("D-1", "4", "20230302100000"),
      DossierEvent("D-1", 3, "4"),
      DossierEvent("D-1", 2, "2"),              // stale
      DossierEvent("D-1", 3, "4"),              // duplicate
      DossierEvent("D-1", 3, "9"),              // conflict
      PetitionEvent("P-1", 1, "received"),
      PetitionEvent("P-1", 2, "resolved"),
      DossierEvent("D-2", 1, "4", "SGDDT.TTRA"),
      DossierEvent("D-2", 2, "9"),              // moves to another unit
  };
  std::string jsonl;
  for (const auto& e : events) jsonl += e.dump() + "\n";
  jsonl += "{not json\n";

  auto batch = Open("batch.sqlite");
  auto a = batch->SubmitBatch(jsonl);
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  auto single = Open("single.sqlite");
  std::vector<nlohmann::json> one_by_one;
  for (const auto& e : events) one_by_one.push_back(single->Submit(e.dump()).result);
  one_by_one.push_back(single->Submit("{not json").result);

  const auto& rs = a.result["results"];
  ASSERT_EQ(rs.size(), one_by_one.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    nlohmann::json r = rs[i];
    r.erase("index");
    EXPECT_EQ(r, one_by_one[i]) << "event " << i;
  }
  EXPECT_EQ(rs[1]["outcome"], "duplicate");
  EXPECT_EQ(rs[5]["outcome"], "stale");
  EXPECT_EQ(rs[7]["outcome"], "rejected");
  for (const auto& [kind, id] : std::vector<std::pair<std::string, std::string>>{
           {"dossier", "D-1"}, {"dossier", "D-2"}, {"petition", "P-1"}}) {
    EXPECT_EQ(RecordGet(*batch, kind, id), RecordGet(*single, kind, id)) << id;
  }
  for (const auto* q : {R"({"op":"stats"})",
                        R"({"op":"indicators","unit":"SGDDT","period":"2023-03"})"}) {
    auto x = batch->Query(q), y = single->Query(q);
    ASSERT_EQ(x.ok(), y.ok()) << q;
    if (x.ok()) {
      nlohmann::json xs = x.value(), ys = y.value();
      if (xs.contains("storage")) xs["storage"].erase("path"), ys["storage"].erase("path");
      EXPECT_EQ(xs, ys) << q;
    }
  }
  batch.reset();
  single.reset();
  std::vector<HistoryRow> digest;
  ASSERT_TRUE(DigestHistory(
      QueryText(dir_.path() / "batch.sqlite", "SELECT history_digest FROM records WHERE rid='D-1'"), 1, &digest));
  // step 2, applied v1, step 4, applied v3, stale v2: one digest entry per history row.
  EXPECT_EQ(static_cast<int64_t>(digest.size()),
            QueryInt(dir_.path() / "batch.sqlite",
                     "SELECT count(*) FROM record_history h JOIN records r ON r.pk=h.record_pk "
                     "WHERE r.rid='D-1'"));
  EXPECT_EQ(digest.size(), 5u);
}

// The same batch answered as text (the ABI's path: each event answered as soon as it is
// applied and freed then, its record's documents moved out for its later events and freed
// after its last one) stores and answers what single submits do. D-1's step after its item,
// its stale and duplicate versions and D-2's second version read documents of earlier events
// of the batch; P-1 and D-2 are interleaved with D-1.
TEST_F(IntakeBatchTest, TextBatchFreeingEachEventStoresWhatSingleSubmitsStore) {
  const std::vector<nlohmann::json> events = {
      StepEvent("D-1", "2", "20230301090000"),
      DossierEvent("D-2", 1, "4", "SGDDT.TTRA"),
      StepEvent("D-1", "2", "20230301090000"),  // duplicate step
      DossierEvent("D-1", 1, "2"),
      PetitionEvent("P-1", 1, "received"),
      StepEvent("D-1", "4", "20230302100000"),  // reads D-1's item (an earlier event's data)
      DossierEvent("D-1", 3, "4"),
      DossierEvent("D-2", 2, "9"),              // moves to another unit
      DossierEvent("D-1", 2, "2"),              // stale: reads version 3's data
      PetitionEvent("P-1", 2, "resolved"),
      DossierEvent("D-1", 3, "4"),              // duplicate
      DossierEvent("D-1", 3, "9"),              // conflict
      StepEvent("D-1", "5", "20230303100000"),
      PetitionEvent("P-1", 1, "received"),      // stale: reads version 2's data and tags
  };
  std::string jsonl;
  for (const auto& e : events) jsonl += e.dump() + "\n";
  jsonl += "{not json\n";

  auto batch = Open("batch.sqlite");
  auto a = batch->SubmitBatch(jsonl, &abi::NormalizeResultErrors);
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  ASSERT_TRUE(a.result.is_null());
  const nlohmann::json answer = nlohmann::json::parse(a.result_text);
  auto single = Open("single.sqlite");
  std::vector<nlohmann::json> one_by_one;
  for (const auto& e : events) one_by_one.push_back(single->Submit(e.dump()).result);
  one_by_one.push_back(single->Submit("{not json").result);

  const auto& rs = answer["results"];
  ASSERT_EQ(rs.size(), one_by_one.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    nlohmann::json r = rs[i];
    r.erase("index");
    nlohmann::json expected = one_by_one[i];
    abi::NormalizeResultErrors(expected);
    EXPECT_EQ(r, expected) << "event " << i;
    EXPECT_EQ(rs[i]["index"], i) << "event " << i;
  }
  EXPECT_EQ(rs[5]["outcome"], "accepted");
  EXPECT_EQ(rs[8]["outcome"], "stale");
  EXPECT_EQ(rs[10]["outcome"], "duplicate");
  EXPECT_EQ(rs[11]["outcome"], "rejected");
  EXPECT_EQ(rs[13]["outcome"], "stale");
  EXPECT_EQ(answer["summary"], (nlohmann::json{{"accepted", 9}, {"duplicate", 2}, {"events", 15},
                                               {"rejected", 2}, {"stale", 2}}));
  for (const auto& [kind, id] : std::vector<std::pair<std::string, std::string>>{
           {"dossier", "D-1"}, {"dossier", "D-2"}, {"petition", "P-1"}}) {
    EXPECT_EQ(RecordGet(*batch, kind, id), RecordGet(*single, kind, id)) << id;
  }
  batch.reset();
  single.reset();
  // Every stored row of both stores, in one text each (the dialects aggregate differently).
  const std::vector<std::string> dumps =
      testing::UsingPostgres()
          ? std::vector<std::string>{
                "SELECT string_agg(rid||unit||status||data_hash||tags||deadline||contrib, '|' ORDER BY rid) "
                "FROM records",
                "SELECT string_agg(h.outcome||h.status||h.at_ms||h.detail, '|' ORDER BY r.rid, h.id) "
                "FROM record_history h JOIN records r ON r.pk=h.record_pk"}
          : std::vector<std::string>{
                "SELECT group_concat(rid||unit||status||data_hash||tags||deadline||contrib, '|') "
                "FROM (SELECT * FROM records ORDER BY rid)",
                "SELECT group_concat(outcome||status||at_ms||detail, '|') FROM "
                "(SELECT h.* FROM record_history h JOIN records r ON r.pk=h.record_pk "
                "ORDER BY r.rid, h.rowid)"};
  for (const std::string& sql : dumps) {
    EXPECT_EQ(QueryText(dir_.path() / "batch.sqlite", sql), QueryText(dir_.path() / "single.sqlite", sql))
        << sql;
  }
}

// A record read from the store in a later call is evaluated with its stored tags (read as
// [{"tag","value"}] without their evidence, intake_apply.cc): a petition classified only by its
// tags keeps its kind when a stale version re-evaluates it, so its contributions and deadline
// stay those of the tagged kind (with the stored tags dropped it would count as
// "unclassified" and get another deadline).
TEST_F(IntakeBatchTest, RecordReadFromStoreIsEvaluatedWithItsStoredTags) {
  auto petition = [](int version) {
    nlohmann::json e = PetitionEvent("P-9", version, "received");
    e["data"].erase("petition_kind");
    return e;
  };
  auto engine = Open("tags.sqlite");
  auto first = engine->SubmitBatch(petition(2).dump() + "\n", &abi::NormalizeResultErrors);
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  const std::string tagged = "SELECT tags FROM records WHERE rid='P-9'";
  const std::string contrib = "SELECT contrib FROM records WHERE rid='P-9'";
  const std::string deadline = "SELECT deadline FROM records WHERE rid='P-9'";
  const auto db = dir_.path() / "tags.sqlite";
  const std::string contrib_before = QueryText(db, contrib);
  const std::string deadline_before = QueryText(db, deadline);
  ASSERT_NE(QueryText(db, tagged).find("\"petition_kind\""), std::string::npos);
  ASSERT_NE(contrib_before.find("\"p.recv.complaint\""), std::string::npos) << contrib_before;
  // The stale version, in a call of its own: the record comes from the store.
  auto second = engine->SubmitBatch(petition(1).dump() + "\n", &abi::NormalizeResultErrors);
  ASSERT_TRUE(second.status.ok()) << second.status.ToString();
  EXPECT_NE(second.result_text.find("\"outcome\":\"stale\""), std::string::npos) << second.result_text;
  EXPECT_EQ(QueryText(db, contrib), contrib_before);
  EXPECT_EQ(QueryText(db, deadline), deadline_before);
  // The same through a single submit (the group commit's path).
  auto third = engine->Submit(petition(1).dump());
  ASSERT_TRUE(third.status.ok()) << third.status.ToString();
  EXPECT_EQ(QueryText(db, contrib), contrib_before);
  EXPECT_EQ(QueryText(db, deadline), deadline_before);
}

// Migration 7 (issue 16): a database made before it (no records.history_digest) opens, gets
// each record's digest from its history, and intake goes on as before: a step already stored
// is a duplicate, the deadline still counts the stored steps.
TEST_F(IntakeBatchTest, DatabaseAtVersionSixGetsHistoryDigests) {
  const auto db = dir_.path() / "m.sqlite";
  nlohmann::json deadline_before;
  {
    auto e = Open("m.sqlite");
    ASSERT_EQ(e->Submit(DossierEvent("M-1", 1, "2").dump()).result["outcome"], "accepted");
    ASSERT_EQ(e->Submit(StepEvent("M-1", "2", "20230301090000").dump()).result["outcome"], "accepted");
    ASSERT_EQ(e->Submit(StepEvent("M-1", "5", "20230302090000").dump()).result["outcome"], "accepted");
    deadline_before = RecordGet(*e, "dossier", "M-1")["record"]["deadline"];
  }
  const std::string digest_before = QueryText(db, "SELECT history_digest FROM records WHERE rid='M-1'");
  ASSERT_FALSE(digest_before.empty());
  ExecSql(db, {"ALTER TABLE records DROP COLUMN history_digest",
               "DELETE FROM schema_migrations WHERE version >= 8"});
  auto e = Open("m.sqlite");
  auto stats = e->Query(R"({"op":"stats"})");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats.value()["storage"].value("schema_version", 0), 9) << stats.value().dump();
  // The same entries as intake wrote (in any order).
  std::vector<HistoryRow> migrated, original;
  ASSERT_TRUE(DigestHistory(QueryText(db, "SELECT history_digest FROM records WHERE rid='M-1'"), 1, &migrated));
  ASSERT_TRUE(DigestHistory(digest_before, 1, &original));
  ASSERT_EQ(migrated.size(), 3u);
  ASSERT_EQ(migrated.size(), original.size());
  for (size_t i = 0; i < migrated.size(); ++i) {
    EXPECT_EQ(migrated[i].status, original[i].status);
    EXPECT_EQ(migrated[i].at_ms, original[i].at_ms);
    EXPECT_EQ(migrated[i].outcome, original[i].outcome);
    EXPECT_EQ(migrated[i].order_key, original[i].order_key);
  }
  EXPECT_EQ(e->Submit(StepEvent("M-1", "5", "20230302090000").dump()).result["outcome"], "duplicate");
  EXPECT_EQ(RecordGet(*e, "dossier", "M-1")["record"]["deadline"], deadline_before);
  // A newer item is evaluated with the stored steps (the same deadline as a fresh database).
  ASSERT_EQ(e->Submit(DossierEvent("M-1", 2, "5").dump()).result["outcome"], "accepted");
  auto fresh = Open("fresh.sqlite");
  fresh->Submit(DossierEvent("M-1", 1, "2").dump());
  fresh->Submit(StepEvent("M-1", "2", "20230301090000").dump());
  fresh->Submit(StepEvent("M-1", "5", "20230302090000").dump());
  fresh->Submit(DossierEvent("M-1", 2, "5").dump());
  EXPECT_EQ(RecordGet(*e, "dossier", "M-1")["record"]["deadline"],
            RecordGet(*fresh, "dossier", "M-1")["record"]["deadline"]);
}

// A damaged digest is not trusted: the history is read and the digest written again.
TEST_F(IntakeBatchTest, DamagedDigestIsRebuiltFromTheHistory) {
  const auto db = dir_.path() / "d.sqlite";
  {
    auto e = Open("d.sqlite");
    e->Submit(DossierEvent("X-1", 1, "2").dump());
    e->Submit(StepEvent("X-1", "2", "20230301090000").dump());
  }
  ExecSql(db, {"UPDATE records SET history_digest='t1,2' WHERE rid='X-1'"});
  auto e = Open("d.sqlite");
  EXPECT_EQ(e->Submit(StepEvent("X-1", "2", "20230301090000").dump()).result["outcome"], "duplicate");
  EXPECT_EQ(e->Submit(StepEvent("X-1", "4", "20230302090000").dump()).result["outcome"], "accepted");
  e.reset();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM record_history h JOIN records r ON r.pk=h.record_pk "
                         "WHERE r.rid='X-1'"),
            3);
  std::vector<HistoryRow> h;
  ASSERT_TRUE(DigestHistory(QueryText(db, "SELECT history_digest FROM records WHERE rid='X-1'"), 1, &h));
  EXPECT_EQ(h.size(), 3u);
}

// Group commit: single submits from several threads that arrive while a transaction is open
// wait together and are applied in one transaction (one `now` for all of them); each caller
// gets its own result and its event is stored when its call returns.
TEST_F(IntakeBatchTest, ConcurrentSubmitsShareOneCommit) {
  std::atomic<int64_t> tick{1678500000000};
  auto clock = std::make_shared<FunctionClock>([&tick] { return tick.fetch_add(1); });
  const auto db = dir_.path() / "g.sqlite";
  auto e = testing::OpenEngine(testing::ConfigFor(db), clock);
  constexpr int kThreads = 8;
  std::vector<nlohmann::json> results(kThreads);
  std::vector<std::thread> threads;
  {
    // Hold the store's write transaction so the submits queue up behind it.
    auto tx = e->services().store->Begin();
    ASSERT_TRUE(tx.ok());
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto a = e->Submit(DossierEvent("G-" + std::to_string(t), 1, "2").dump());
        results[t] = a.result;
        results[t]["ok"] = a.status.ok();
        // Durable when the call returns: visible to another connection.
        results[t]["stored"] = QueryInt(db, "SELECT count(*) FROM records WHERE rid='G-" + std::to_string(t) + "'");
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }  // rolls back, releasing the write lock
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(results[t]["ok"], true) << results[t].dump();
    EXPECT_EQ(results[t]["outcome"], "accepted") << results[t].dump();
    EXPECT_EQ(results[t]["key"]["id"], "G-" + std::to_string(t));
    EXPECT_FALSE(results[t].contains("index"));
    EXPECT_EQ(results[t]["stored"], 1);
  }
  e.reset();
  // The first submit leads alone (it waited for the lock); the seven queued behind it are
  // applied by the next leader in one transaction: at most 2 distinct commit instants.
  EXPECT_LE(QueryInt(db, "SELECT count(DISTINCT first_seen_ms) FROM records"), 2);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM records"), kThreads);
}

// Gathering: host threads that submit at about the same time share one commit even when none
// of them finds a transaction open. Without it the first to arrive leads alone (it takes the
// queue under the same lock it joined it), so every round below takes two commits (main's code:
// 2 in every round, 3 runs of 3); with it the leader waits briefly for the thread that was in
// flight before, and a round is one commit (11 of 11 rounds in 6 runs of 6 at load 4). Two
// threads, released together each round: with eight, a loaded machine spreads their arrivals
// past the wait. One round of eleven in a single commit is enough to pass.
TEST_F(IntakeBatchTest, ThreadsSubmittingAtOnceShareOneCommitWithoutAnOpenTransaction) {
  std::atomic<int64_t> tick{1678500000000};
  auto clock = std::make_shared<FunctionClock>([&tick] { return tick.fetch_add(1); });
  const auto db = dir_.path() / "gather.sqlite";
  auto e = testing::OpenEngine(testing::ConfigFor(db), clock);
  constexpr int kThreads = 2, kRounds = 12;
  std::mutex mu;
  std::condition_variable cv;
  int round = 0, finished = 0;  // guarded by mu
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 1; r <= kRounds; ++r) {
        std::string event = DossierEvent("R" + std::to_string(r) + "-" + std::to_string(t), 1, "2").dump();
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return round >= r; });
        }
        auto a = e->Submit(event);
        if (!a.status.ok() || a.result["outcome"] != "accepted") ++failures;
        std::lock_guard lock(mu);
        ++finished;
        cv.notify_all();
      }
    });
  }
  for (int r = 1; r <= kRounds; ++r) {
    std::unique_lock lock(mu);
    round = r;
    cv.notify_all();
    cv.wait(lock, [&] { return finished == r * kThreads; });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  e.reset();
  // One `now` per group: the commits of a round are its distinct reception instants.
  int single = 0;
  std::string per_round;
  for (int r = 2; r <= kRounds; ++r) {
    const int64_t commits = QueryInt(db, "SELECT count(DISTINCT received_ms) FROM record_history h JOIN records d "
                                         "ON d.pk = h.record_pk WHERE d.rid LIKE 'R" + std::to_string(r) + "-%'");
    per_round += " " + std::to_string(commits);
    single += commits == 1;
  }
  EXPECT_GE(single, 1) << "commits per round:" << per_round;
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM records"), kThreads * kRounds);
}

// Group commit under many host threads, each submitting updates, duplicates and stale
// versions of its own records: every answer is its own event's (key, version, outcome), and
// when a call returns its event is committed and visible to a query on another connection
// (the record's history holds it): no caller is answered from another group's results or
// before its group's commit.
TEST_F(IntakeBatchTest, ManyThreadsEachAnswerIsItsOwnEventAndVisibleOnReturn) {
  const auto db = dir_.path() / "many.sqlite";
  auto e = testing::OpenEngine(testing::ConfigFor(db));  // synchronous FULL: the default
  constexpr int kThreads = 8, kRecords = 4;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto expect = [&](bool cond, const std::string& what) {
        if (!cond) {
          ++failures;
          ADD_FAILURE() << "thread " << t << ": " << what;
        }
      };
      for (int r = 0; r < kRecords; ++r) {
        const std::string id = "M-" + std::to_string(t) + "-" + std::to_string(r);
        // v1, v2, v3, v3 again (duplicate), v2 again (stale: kept in the history).
        const int versions[] = {1, 2, 3, 3, 2};
        const char* outcomes[] = {"accepted", "accepted", "accepted", "duplicate", "stale"};
        size_t history = 0;
        for (int i = 0; i < 5; ++i) {
          auto a = e->Submit(DossierEvent(id, versions[i], "2").dump());
          expect(a.status.ok(), id + " " + a.status.ToString());
          if (!a.status.ok()) continue;
          expect(a.result["key"]["id"] == id, id + ": answered " + a.result.dump());
          expect(a.result["version"] == versions[i], id + ": answered " + a.result.dump());
          expect(a.result["outcome"] == outcomes[i], id + ": answered " + a.result.dump());
          if (std::string(outcomes[i]) != "duplicate") ++history;
          const auto got = RecordGet(*e, "dossier", id);
          expect(got.contains("history") && got["history"].size() == history,
                 id + ": " + std::to_string(history) + " events returned, stored " + got.dump());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  e.reset();
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM records"), kThreads * kRecords);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM record_history"), kThreads * kRecords * 4);
}

// Close while a group commit is pending (the host racing close with submits, which the ABI
// forbids, or a disk stalling a commit longer than stop_timeout_ms): the engine is torn down
// only after every submit inside it has returned, each one acknowledged is stored, and none
// hangs. Before intake_calls_, the destructor stopped waiting at stop_timeout_ms (here 50 ms)
// and destroyed the store under the group's leader and its queued followers.
TEST_F(IntakeBatchTest, CloseDuringPendingGroupLosesNoAcknowledgedEvent) {
  const auto db = dir_.path() / "close.sqlite";
  auto e = testing::OpenEngine(testing::ConfigFor(db, {{"stop_timeout_ms", 50}}));
  constexpr int kThreads = 8;
  std::vector<int> ok(kThreads, -1);
  std::vector<std::thread> threads;
  std::thread closer;
  std::atomic<bool> closed{false};
  // The submitting threads use the engine itself, not `e`, which the closer resets.
  Engine* engine = e.get();
  {
    // A stalled commit: the store's write transaction held while the submits queue behind it.
    auto tx = e->services().store->Begin();
    ASSERT_TRUE(tx.ok());
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, engine, t] {
        auto a = engine->Submit(DossierEvent("C-" + std::to_string(t), 1, "2").dump());
        ok[t] = a.status.ok() ? 1 : 0;
        if (!a.status.ok()) {
          EXPECT_EQ(a.status.code(), Status::Code::kRetryLater) << a.status.ToString();
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    closer = std::thread([&] {
      e.reset();
      closed = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    // Still waiting for the submits inside (not torn down past stop_timeout_ms).
    EXPECT_FALSE(closed.load());
  }  // rolls back, releasing the write lock: the groups commit
  for (auto& th : threads) th.join();
  closer.join();
  EXPECT_TRUE(closed.load());
  int acknowledged = 0;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_NE(ok[t], -1);
    acknowledged += ok[t];
    // Whatever was acknowledged is stored; what was refused is not.
    EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM records WHERE rid='C-" + std::to_string(t) + "'"), ok[t]) << t;
  }
  // They were all inside the engine before close began: all of them applied.
  EXPECT_EQ(acknowledged, kThreads);
}

// The ABI's answers are written straight as text (EventResult::Write, Classification::WriteJson)
// instead of serialising a result document: on the sample generator's realistic mix (6,000
// events: items, progress steps, duplicates, stale versions, conflicts, bad lines, petitions
// with legal steps, dossiers awaiting reception) the text is byte for byte the document the
// ABI wrote before (errors normalised, then dumped with error_handler_t::replace), for
// batches and for single submits.
TEST_F(IntakeBatchTest, TextAnswersAreTheResultDocumentsSerialised) {
  const auto jsonl = dir_.path() / "sample.jsonl";
  const std::string cmd = "python3 " + std::string(DANVAN_SOURCE_ROOT) +
                          "/tools/sample-gen/gen_sample.py --seed 2023 --out " + jsonl.string() +
                          " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  // First, answers the sample does not give: a step before its dossier (pending, a deadline
  // that is not a classification), a dossier not received yet, one whose deadline cannot be
  // made (unknown procedure, no due date), legacy TCVN3 text (notes), invalid UTF-8.
  nlohmann::json unreceived = DossierEvent("X-2", 1, "1");
  unreceived["data"]["NgayTiepNhan"] = "";
  nlohmann::json no_deadline = DossierEvent("X-3", 1, "2");
  no_deadline["data"]["MaTTHC"] = "9.999999";
  no_deadline["data"]["NgayHenTra"] = "";
  std::string legacy = nlohmann::json{{"kind", "dvk_model"}, {"source", "motcua-hp"}, {"id", "DVK-X-4"},
                                      {"unit", "SGDDT.VP"}, {"version", 1},
                                      {"event_time", "2023-05-10T09:00:00+07:00"},
                                      {"data", {{"name", "PLACEHOLDER"}, {"model_type", "model"},
                                                {"registered_at", "2023-05-10"}}}}.dump();
  legacy.replace(legacy.find("PLACEHOLDER"), 11, "M\xab h\xd8nh \x44\xa9\x6e\x20\x76\xcb\x6e");
  std::vector<std::string> lines = {StepEvent("X-1", "2", "20230301090000").dump(), unreceived.dump(),
                                    no_deadline.dump(), legacy,
                                    R"({"kind":"dossier","source":"motcua-hp","id":"\xff\xfe"})"};
  {
    std::ifstream in(jsonl);
    std::string line;
    while (lines.size() < 6000 && std::getline(in, line)) lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 6000u);
  const auto replace = nlohmann::json::error_handler_t::replace;
  auto dom = Open("dom.sqlite");
  auto text = Open("text.sqlite");
  std::string all;  // every text answer, to check that each member of a result was met
  // Each record's last answered deadline: what its row stores (records.deadline).
  std::map<std::pair<std::string, std::string>, std::string> stored_deadline;
  for (size_t at = 0; at < lines.size(); at += 1000) {
    std::string batch;
    for (size_t i = at; i < at + 1000; ++i) batch += lines[i] + "\n";
    auto a = dom->SubmitBatch(batch);
    auto b = text->SubmitBatch(batch, &abi::NormalizeResultErrors);
    ASSERT_TRUE(a.status.ok() && b.status.ok()) << a.status.ToString() << b.status.ToString();
    EXPECT_TRUE(b.result.is_null());
    for (const auto& r : a.result["results"]) {
      if (r.contains("deadline"))
        stored_deadline[{r["key"]["kind"], r["key"]["id"]}] = r["deadline"].dump();
    }
    abi::NormalizeResultErrors(a.result);
    const std::string expected = DumpJson(a.result, replace);
    ASSERT_EQ(b.result_text, expected) << "batch at line " << at;
    all += b.result_text;
  }
  for (const char* member :
       {"\"outcome\":\"accepted\"", "\"outcome\":\"duplicate\"", "\"outcome\":\"stale\"",
        "\"outcome\":\"rejected\"", "\"current_version\":", "\"deadline\":{\"as_of\"",
        "\"deadline\":{\"error\"", "\"due_source\":", "\"end_status\":", "\"rule_id\":",
        "\"steps\":[", "\"pending\":", "\"step\":{\"at\"", "\"tags\":[{", "\"notes\":[",
        "\"updated_at\":", "\"version\":", "\"message_en\":"}) {
    EXPECT_NE(all.find(member), std::string::npos) << member;
  }
  ASSERT_GT(stored_deadline.size(), 500u);
  int checked = 0;
  for (const auto& [key, deadline] : stored_deadline) {
    if (++checked > 300) break;
    EXPECT_EQ(QueryText(dir_.path() / "text.sqlite", "SELECT deadline FROM records WHERE kind='" +
                                                        key.first + "' AND rid='" + key.second + "'"),
              deadline)
        << key.second;
  }
  // Single submits (the group-commit path) on fresh stores: the first 1,000 events.
  auto dom1 = Open("dom1.sqlite");
  auto text1 = Open("text1.sqlite");
  int written = 0;
  for (size_t i = 0; i < 1000; ++i) {
    auto a = dom1->Submit(lines[i]);
    auto b = text1->Submit(lines[i], /*as_text=*/true);
    EXPECT_EQ(a.status.ToString(), b.status.ToString()) << "line " << i;
    if (b.result_text.empty()) {
      // A rejected event: answered by its document, as before.
      EXPECT_EQ(b.result, a.result) << "line " << i;
      continue;
    }
    ++written;
    abi::NormalizeResultErrors(a.result);
    EXPECT_EQ(b.result_text, DumpJson(a.result, replace)) << "line " << i;
  }
  EXPECT_GT(written, 900);
}

// The stored data_hash is OpenSSL's SHA-256 since issue 16's fourth step (Poco's SHA2Engine
// before): the same lowercase hex digests, so stored hashes still match (duplicate detection),
// on the lengths around SHA-256's 64-byte blocks and padding, binary bytes, and a 256 KiB event.
TEST(Sha256HexTest, SameDigestsAsPocoBefore) {
  auto poco = [](const std::string& data) {
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    engine.update(data.data(), static_cast<unsigned>(data.size()));
    return Poco::DigestEngine::digestToHex(engine.digest());
  };
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string bytes;
  for (size_t n = 0; n <= 300; ++n) {
    bytes.push_back(static_cast<char>((n * 131 + 7) & 0xFF));
    ASSERT_EQ(Sha256Hex(bytes), poco(bytes)) << n;
  }
  const std::string big(262144, '\xE1');
  EXPECT_EQ(Sha256Hex(big), poco(big));
}

}  // namespace
}  // namespace danvan
