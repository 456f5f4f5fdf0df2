// The indicator checkpoint (engine/index_checkpoint.h, issue 16): an open that loads the
// checkpoint and replays the records changed since gives exactly what a full recomputation
// from every record gives, whether the last run folded its changes (stop), did not (closed or
// killed between commits and folds), came from a database made before the checkpoint existed
// (migration 9), or left a damaged cell. On SQLite here and on PostgreSQL (engine_test_pg).
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "engine/report_ops.h"
#include "engine/test_support.h"

namespace danvan {
namespace {

using testing::TempDir;

std::string Two(int v) { return (v < 10 ? "0" : "") + std::to_string(v); }

// Dossiers and petitions spread over units and months, `versions` versions each (each version
// changes the record's contributions: status, dates, unit).
std::vector<nlohmann::json> Workload(int records, int round) {
  static const char* kUnits[] = {"SGDDT.VP", "SGDDT.TTRA", "SGDDT.GDTRH", "SGDDT.KHTC", "SGDDT.TCCB"};
  static const char* kDossierStatus[] = {"2", "4", "5", "9", "10"};
  static const char* kPetitionStatus[] = {"received", "accepted", "in_progress", "resolved"};
  std::vector<nlohmann::json> out;
  for (int i = 0; i < records; ++i) {
    const int month = 1 + (i * 7) % 12, day = 1 + (i * 3) % 25;
    const std::string unit = kUnits[(i + round) % 5];
    const int version = round + 1;
    if (i % 3 != 2) {
      auto ev = testing::DossierEvent("H31.CK-" + std::to_string(i), version, kDossierStatus[(i + round) % 5], unit);
      ev["event_time"] = "2023-" + Two(month) + "-" + Two(day) + "T09:00:00+07:00";
      ev["data"]["NgayTiepNhan"] = "2023" + Two(month) + Two(day) + "083000";
      ev["data"]["NgayHenTra"] = "2023" + Two(month) + Two(std::min(28, day + 3)) + "170000";
      if (std::string(ev["data"]["TrangThaiHoSo"]) == "10" || std::string(ev["data"]["TrangThaiHoSo"]) == "9")
        ev["data"]["NgayKetThucXuLy"] = "2023" + Two(month) + Two(std::min(28, day + 2 + i % 5)) + "160000";
      out.push_back(ev);
    } else {
      auto ev = testing::PetitionEvent("DT-CK-" + std::to_string(i), version, kPetitionStatus[(i + round) % 4], unit);
      ev["event_time"] = "2023-" + Two(month) + "-" + Two(day) + "T10:00:00+07:00";
      ev["data"]["received_at"] = "2023-" + Two(month) + "-" + Two(day);
      if (std::string(ev["data"]["status"]) == "resolved")
        ev["data"]["resolved_at"] = "2023-" + Two(month) + "-" + Two(std::min(28, day + 1 + i % 20));
      out.push_back(ev);
    }
  }
  return out;
}

void SubmitAll(Engine& e, const std::vector<nlohmann::json>& events) {
  std::string batch;
  for (const auto& ev : events) batch += ev.dump() + "\n";
  auto a = e.SubmitBatch(batch);
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  ASSERT_EQ(a.result["summary"]["rejected"], 0) << a.result.dump().substr(0, 2000);
}

// Removes what depends on the moment of the call from an answer.
void StripVolatile(nlohmann::json& j) {
  if (j.is_object()) {
    for (const char* k : {"as_of", "elapsed_ms", "computed_at", "generated_at"}) j.erase(k);
    for (auto& [k, v] : j.items()) StripVolatile(v);
  } else if (j.is_array()) {
    for (auto& v : j) StripVolatile(v);
  }
}

// Everything the aggregates answer: every unit's indicators for every month and the year, and
// every tracked series' per-record entries.
std::string Snapshot(Engine& e) {
  std::string out;
  auto units = e.Query(R"({"op":"units"})");
  EXPECT_TRUE(units.ok());
  for (const auto& u : units.value()["units"]) {
    std::vector<nlohmann::json> periods = {{{"kind", "year"}, {"year", 2023}}};
    for (int m = 1; m <= 12; ++m) periods.push_back({{"kind", "month"}, {"year", 2023}, {"month", m}});
    for (const auto& p : periods) {
      auto a = e.Query(nlohmann::json({{"op", "indicators"}, {"unit", u["code"]}, {"period", p}}).dump());
      EXPECT_TRUE(a.ok()) << a.status().ToString();
      nlohmann::json j = a.value();
      StripVolatile(j);
      out += j.dump() + "\n";
    }
  }
  const auto s = e.services();
  for (const auto& series : ActionListSeries())
    for (const auto& en : s.record_index->Between(series, INT64_MIN / 4, INT64_MAX / 4))
      out += series + " " + std::to_string(en.record_pk) + " " + en.unit + " " + std::to_string(en.day) + " " +
             std::to_string(en.value) + "\n";
  return out;
}

int64_t Pending(Engine& e) {
  auto st = e.Query(R"({"op":"stats"})");
  EXPECT_TRUE(st.ok());
  return st.value()["indicators_index"]["checkpoint_pending"].get<int64_t>();
}

class IndexCheckpointTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> Open(int64_t fold_rows = 10000) {
    return testing::OpenEngine(testing::ConfigFor(db_, {{"indicators", {{"checkpoint_fold_rows", fold_rows}}}}));
  }
  // A recomputation from every record's stored contributions: the checkpoint started over.
  std::string Recomputed() {
    testing::ExecStoreSql(db_, "DELETE FROM settings WHERE key = 'index_checkpoint'");
    auto e = Open();
    EXPECT_EQ(testing::QueryStoreInt(db_, "SELECT count(*) FROM index_cells"), 0);
    return Snapshot(*e);
  }
  // Submits 200 records' events and stops (the stop folds every change into the cells): the
  // indicators answered live, or "" (and a failure) when the engine did not start or stop.
  std::string LiveAfterWorkload() {
    auto e = Open();
    if (!e->Start().ok()) {
      ADD_FAILURE() << "start failed";
      return {};
    }
    SubmitAll(*e, Workload(200, 0));
    std::string live = Snapshot(*e);
    if (!e->Stop(30000).ok()) {
      ADD_FAILURE() << "stop failed";
      return {};
    }
    return live;
  }
  TempDir dir_;
  std::filesystem::path db_ = dir_.path() / "ck.sqlite";
};

TEST_F(IndexCheckpointTest, StopFoldsAndReopenLoadsTheCellsOnly) {
  std::string live;
  {
    auto e = Open();
    ASSERT_TRUE(e->Start().ok());
    SubmitAll(*e, Workload(300, 0));
    SubmitAll(*e, Workload(300, 1));
    EXPECT_GT(Pending(*e), 0);
    live = Snapshot(*e);
    // The workload reaches the per-record index and moves figures (else equality proves little).
    EXPECT_GT(std::count(live.begin(), live.end(), '\n') - 13 * 43, 40) << "too few action-list entries";
    EXPECT_NE(live.find("\"value\":3"), std::string::npos);
    ASSERT_TRUE(e->Stop(30000).ok());
    EXPECT_EQ(Pending(*e), 0);  // stop folded every change
  }
  EXPECT_GT(testing::QueryStoreInt(db_, "SELECT count(*) FROM index_cells"), 0);
  {
    auto e = Open();
    EXPECT_EQ(Pending(*e), 0);
    EXPECT_EQ(Snapshot(*e), live);
  }
  EXPECT_EQ(Recomputed(), live);
}

// The state a SIGKILL leaves between commits and the next fold (tests/crash does the real
// kill): records committed, their pending rows not folded. Cells from an earlier fold.
TEST_F(IndexCheckpointTest, ChangesAfterTheLastFoldAreReplayed) {
  std::string live;
  {
    auto e = Open();
    ASSERT_TRUE(e->Start().ok());
    SubmitAll(*e, Workload(300, 0));
    ASSERT_TRUE(e->Stop(30000).ok());  // folded
    SubmitAll(*e, Workload(200, 1));    // changes 200 of them: pending, never folded
    SubmitAll(*e, Workload(400, 2));    // and 100 new ones
    live = Snapshot(*e);
    EXPECT_GT(Pending(*e), 0);
  }  // closed without stop: no fold
  EXPECT_GT(testing::QueryStoreInt(db_, "SELECT count(*) FROM contrib_pending"), 0);
  {
    auto e = Open();
    EXPECT_EQ(Snapshot(*e), live);
  }
  {
    // A backlog of a fold's worth or more is folded at open (SQLite: written from memory).
    auto e = Open(/*fold_rows=*/1);
    EXPECT_EQ(Pending(*e), 0);
    EXPECT_EQ(Snapshot(*e), live);
  }
  {
    auto e = Open();
    EXPECT_EQ(Snapshot(*e), live);
  }
  EXPECT_EQ(Recomputed(), live);
}

// A database from before migration 9 (no tables, no triggers, no fingerprint): the next open
// migrates, starts the checkpoint over, and from then on the triggers keep it.
TEST_F(IndexCheckpointTest, DatabaseFromBeforeTheCheckpointIsMigrated) {
  std::string live;
  {
    auto e = Open();
    SubmitAll(*e, Workload(300, 0));
    live = Snapshot(*e);
  }
  if (testing::UsingPostgres()) {
    testing::ExecStoreSql(db_, "DROP TRIGGER records_contrib_pending ON records");
  } else {
    for (const char* t : {"insert", "update", "delete"})
      testing::ExecStoreSql(db_, std::string("DROP TRIGGER records_contrib_pending_") + t);
  }
  testing::ExecStoreSql(db_, "DROP TABLE index_cells");
  testing::ExecStoreSql(db_, "DROP TABLE contrib_pending");
  testing::ExecStoreSql(db_, "DELETE FROM settings WHERE key = 'index_checkpoint'");
  testing::ExecStoreSql(db_, "DELETE FROM schema_migrations WHERE version = 9");
  {
    auto e = Open();
    EXPECT_EQ(Snapshot(*e), live);
    ASSERT_TRUE(e->Start().ok());
    SubmitAll(*e, Workload(300, 1));
    live = Snapshot(*e);
    ASSERT_TRUE(e->Stop(30000).ok());
  }
  {
    auto e = Open();
    EXPECT_EQ(Pending(*e), 0);
    EXPECT_EQ(Snapshot(*e), live);
  }
  EXPECT_EQ(Recomputed(), live);
}

TEST_F(IndexCheckpointTest, DamagedCellIsNeverUsed) {
  const std::string live = LiveAfterWorkload();
  ASSERT_FALSE(live.empty());
  // Three bytes: not a whole month header.
  testing::ExecStoreSql(db_, testing::UsingPostgres()
                                 ? "UPDATE index_cells SET data = '\\x010203'::bytea WHERE key = (SELECT min(key) FROM index_cells)"
                                 : "UPDATE index_cells SET data = x'010203' WHERE key = (SELECT min(key) FROM index_cells)");
  auto e = Open();
  EXPECT_EQ(Snapshot(*e), live);
}

// Cells damaged so that each one still parses (redteam, fourteenth session): a series cell
// whose two day values are valid varints of 2^62 millionths (the month total overflowed int64:
// undefined behaviour, and figures of 9.2e12 answered), and a per-record cell holding an entry
// of another month (answered in the action lists, and written back under the wrong key). Both
// are refused, so the open starts over from the records and answers what it answered live.
TEST_F(IndexCheckpointTest, DamagedCellThatStillParsesIsNeverUsed) {
  if (testing::UsingPostgres()) GTEST_SKIP() << "the cells are edited with SQLite's blob syntax";
  const std::string live = LiveAfterWorkload();
  ASSERT_FALSE(live.empty());
  // June 2023 (month key 24281 = 0x5ED9), days 1 and 2, 20 bytes: zigzag(2^62) = 2^63 twice.
  const std::string overflow = "x'D95E0000" "03000000" "14000000" "80808080808080808001" "80808080808080808001'";
  testing::ExecStoreSql(db_, "UPDATE index_cells SET data = " + overflow +
                                 " WHERE key = (SELECT min(key) FROM index_cells WHERE key LIKE 's%')");
  {
    auto e = Open();
    EXPECT_EQ(Snapshot(*e), live);
    ASSERT_TRUE(e->Start().ok());
    ASSERT_TRUE(e->Stop(30000).ok());  // folds: the cells are written again
  }
  // A per-record cell: its entries, then one of record 1 on 2023-06-15 (day 19523 = 0x4C43),
  // value 1.0, unit "SGDDT.VP" (8 bytes), whatever month the cell's key names (not June: the
  // workload's months are spread, the cell chosen is the first key).
  const std::string entry = "x'434C000000000000" "0100000000000000" "000000000000F03F" "08000000" "53474444542E5650'";
  ASSERT_GT(testing::QueryStoreInt(db_, "SELECT count(*) FROM index_cells WHERE key LIKE 'r%' AND key NOT LIKE '%24281'"), 0);
  testing::ExecStoreSql(db_, "UPDATE index_cells SET data = data || " + entry +
                                 " WHERE key = (SELECT min(key) FROM index_cells WHERE key LIKE 'r%' AND key NOT LIKE '%24281')");
  auto e = Open();
  EXPECT_EQ(Snapshot(*e), live);
}

// A units file of another tree: the cells (which hold every ancestor's sums) start over.
TEST_F(IndexCheckpointTest, FingerprintChangeStartsOver) {
  const std::string live = LiveAfterWorkload();
  ASSERT_FALSE(live.empty());
  testing::ExecStoreSql(db_, "UPDATE settings SET value = '1:other' WHERE key = 'index_checkpoint'");
  auto e = Open();
  EXPECT_EQ(Snapshot(*e), live);
  EXPECT_NE(testing::QueryStoreText(db_, "SELECT value FROM settings WHERE key = 'index_checkpoint'"), "1:other");
}

}  // namespace
}  // namespace danvan
