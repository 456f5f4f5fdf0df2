// Memory of a rule reload (issue 16: re-tagging the 10M-event city grew the plugin from 80 to
// 132 MiB; 17 MB of it at the reload itself). tagging.reload of the pack in force parsed the
// letter model again (a ~3 MB file, its JSON document and a second model) although its bytes
// were the ones in force; that transient stays in the process as free heap the allocator keeps.
// This program counts the bytes the C++ code holds (tests/counting_new.h), so the test asserts
// on the reload's allocation high-water mark, not on RSS or time.
//
// Its own executable: the replaced operators apply to the whole program.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "counting_new.h"
#include "engine/index_checkpoint.h"
#include "engine/test_support.h"
#include "sqlite/sqlite_store.h"

namespace danvan {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
namespace counting = testing::counting;

json Q(Engine& e, const json& req) {
  auto r = e.Query(req.dump());
  EXPECT_TRUE(r.ok()) << req.dump() << ": " << r.status().ToString();
  return r.ok() ? r.value() : json();
}

void WaitRetag(Engine& e) {
  for (int i = 0; i < 1000 && Q(e, {{"op", "tagging.status"}})["running"].get<bool>(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_FALSE(Q(e, {{"op", "tagging.status"}})["running"].get<bool>());
}

// The letter model versions named in a record's tag evidence.
std::set<std::string> ModelVersions(Engine& e, const std::string& id) {
  std::set<std::string> out;
  const json tags = Q(e, {{"op", "tags.explain"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", id}})["tags"];
  for (const auto& t : tags)
    for (const auto& ev : t.value("evidence", json::array()))
      if (ev.is_object() && ev.contains("model")) out.insert(ev["model"].get<std::string>());
  return out;
}

TEST(RetagReloadMemory, ThePackInForceIsReusedAndAChangedModelIsLoaded) {
  testing::TempDir dir;
  auto engine = testing::OpenEngine(testing::ConfigFor(dir.path() / "m.sqlite"));
  json ev = testing::PetitionEvent("DT-MEM-1", 1, "received");
  ev["data"].erase("petition_kind");
  ev["data"]["title"] = "Khiếu nại quyết định kỷ luật";
  ev["data"]["content"] = "Tôi làm đơn này khiếu nại quyết định kỷ luật của hiệu trưởng đối với con tôi, đề nghị xem xét lại.";
  ASSERT_EQ(engine->Submit(ev.dump()).result["outcome"], "accepted");
  const fs::path config = fs::path(DANVAN_SOURCE_ROOT) / "config";
  const std::string shipped_model =
      json::parse(std::ifstream(config / "tagging/letter_model.json"))["version"].get<std::string>();
  ASSERT_EQ(ModelVersions(*engine, "DT-MEM-1"), std::set<std::string>{shipped_model});

  // The configured pack, unchanged: re-tagged with the rule set in force. Reading its files to
  // compare them (~3.3 MB: the model's bytes) is all the reload may hold; parsing the model
  // again held ~50 MB.
  const int64_t base = counting::ResetPeak();
  json reload = Q(*engine, {{"op", "tagging.reload"}});
  const int64_t held = counting::Peak() - base;
  ::testing::Test::RecordProperty("reload_held_bytes", std::to_string(held));
  EXPECT_EQ(reload["retagging"], "started");
  EXPECT_LT(held, 6 << 20) << "a reload of the pack in force held " << held << " bytes at once";
  WaitRetag(*engine);
  EXPECT_EQ(Q(*engine, {{"op", "tagging.status"}})["processed"], 1);

  // The same rule file naming a model whose bytes differ (another version): loaded, and the
  // re-tagging reads with it.
  json model = json::parse(std::ifstream(config / "tagging/letter_model.json"));
  model["version"] = "letters-reloaded-test";
  std::ofstream(dir.path() / "letter_model.json") << model.dump();
  fs::copy_file(config / "tagging/cues.json", dir.path() / "cues.json");
  json rules = json::parse(std::ifstream(config / "rules/default.json"));
  rules["reading"]["cues_file"] = (dir.path() / "cues.json").string();
  rules["reading"]["model_file"] = (dir.path() / "letter_model.json").string();
  std::ofstream(dir.path() / "rules.json") << rules.dump();
  Q(*engine, {{"op", "tagging.reload"}, {"path", (dir.path() / "rules.json").string()}});
  WaitRetag(*engine);
  EXPECT_EQ(ModelVersions(*engine, "DT-MEM-1"), std::set<std::string>{"letters-reloaded-test"});

  // And back to the configured pack: its files differ from the ones in force now, so it is
  // loaded again, not mistaken for the pack in force.
  Q(*engine, {{"op", "tagging.reload"}});
  WaitRetag(*engine);
  EXPECT_EQ(ModelVersions(*engine, "DT-MEM-1"), std::set<std::string>{shipped_model});
}

// The fold of pending contributions into the checkpoint cells (engine/index_checkpoint.h) after
// changes all over the city, as a re-tagging makes them: every cell is touched. At 10M events
// the cells hold 36 MB encoded; folding 5,000 such rows held every touched cell decoded plus all
// their encodings at once (RSS +13-16 MiB per fold). Now the scratch is written back when it
// holds FoldLimits::scratch_bytes of cells, and the result is the same as folding at once. The
// limits are scaled down here (the cells ~2 MB, not 36) to keep the test light.
constexpr int kFoldRecords = 300, kFoldUnits = 30, kFoldSeries = 24, kFoldDays = 1800;
constexpr int kFoldDaysPerRecord = 50;
constexpr int64_t kFoldFirstDay = 19358;  // 2023-01-01

// Record pk counts in its unit for every series, on days spread over five years; contributions
// "A" and "B" put it on different days ("[]": nothing).
void FoldExpand(int64_t pk, const std::string& unit, const std::string& contrib, double sign,
                std::vector<indicators::Delta>* out) {
  if (contrib == "[]") return;
  const int64_t shift = contrib == "B" ? 3 : 0;
  for (int s = 0; s < kFoldSeries; ++s) {
    for (int k = 0; k < kFoldDaysPerRecord; ++k) {
      indicators::Delta d;
      d.series = "s" + std::to_string(s);
      d.unit = unit;
      d.day = kFoldFirstDay + (pk * 5 + k * 11 + s + shift) % kFoldDays;
      d.value = sign * (1000 + (pk * 31 + k * 17) % 4000);  // 5 bytes a day encoded
      d.record_pk = pk;
      d.own_unit = true;
      out->push_back(std::move(d));
    }
  }
}

// Every record's contributions set to `contrib` in one transaction (pending rows by trigger).
void SetContribs(Store& store, const std::string& contrib) {
  auto tx = store.Begin();
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  std::vector<RecordRow> rows(kFoldRecords);
  std::vector<const RecordRow*> changed;
  for (int r = 0; r < kFoldRecords; ++r) {
    RecordRow& row = rows[r];
    row.key = {"motcua-hp", "petition", "DT-FOLD-" + std::to_string(r)};
    row.unit = "SGDDT.U" + std::to_string(r % kFoldUnits);
    row.order_basis = "version";
    row.order_key = 1;
    row.data_json = "{}";
    row.contrib_json = contrib;
    if (contrib == "A") {
      auto pk = tx.value()->PutRecord(row);
      ASSERT_TRUE(pk.ok()) << pk.status().ToString();
      ASSERT_EQ(pk.value(), r + 1);
    } else {
      row.pk = r + 1;
      changed.push_back(&row);
    }
  }
  if (!changed.empty()) {
    ASSERT_TRUE(tx.value()->UpdateRecords(changed).ok());
  }
  ASSERT_TRUE(tx.value()->Commit().ok());
}

std::map<std::string, std::string> AllCells(Store& store) {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(store.LoadIndexCheckpoint([&](const IndexCell& c) { out[c.key] = c.data; },
                                        [](const PendingContribution&) {}).ok());
  return out;
}

TEST(RetagFoldMemory, AFoldTouchingEveryCellHoldsABoundedPartOfThem) {
  testing::TempDir dir;
  SqliteOptions o;
  o.path = (dir.path() / "fold.sqlite").string();
  o.synchronous_full = false;
  auto opened = OpenSqliteStore(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Store& store = *opened.value();
  const ContribExpander expand = FoldExpand;
  const std::vector<std::string> tracked = {"s0"};
  ASSERT_NO_FATAL_FAILURE(SetContribs(store, "A"));
  ASSERT_EQ(store.CountPendingContributions().value(), kFoldRecords);
  auto first = FoldPendingContributions(store, expand, tracked, 1000000);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first.value(), kFoldRecords);
  size_t encoded = 0;
  for (const auto& [k, v] : AllCells(store)) encoded += k.size() + v.size();

  // Every record changed: the fold touches every cell.
  ASSERT_NO_FATAL_FAILURE(SetContribs(store, "B"));
  const int64_t base = counting::ResetPeak();
  FoldLimits limits;
  limits.page_rows = 100;
  limits.scratch_bytes = 256 << 10;
  limits.write_cells = 100;
  auto folded = FoldPendingContributions(store, expand, tracked, 5000, limits);
  const int64_t held = counting::Peak() - base;
  ASSERT_TRUE(folded.ok()) << folded.status().ToString();
  EXPECT_EQ(folded.value(), kFoldRecords);
  ::testing::Test::RecordProperty("fold_held_bytes", std::to_string(held));
  ::testing::Test::RecordProperty("cells_encoded_bytes", std::to_string(encoded));
  EXPECT_GT(encoded, size_t{6} * limits.scratch_bytes) << "the cells must be well over the scratch";
  EXPECT_LT(held, 1536 << 10) << "a fold of every cell (" << encoded << " bytes encoded) held " << held
                           << " bytes at once";

  // The cells are those of every record's current contributions, folded at once.
  indicators::SeriesIndex want;
  indicators::RecordSeriesIndex want_records(tracked);
  std::vector<indicators::Delta> deltas;
  for (int r = 1; r <= kFoldRecords; ++r) {
    deltas.clear();
    FoldExpand(r, "SGDDT.U" + std::to_string((r - 1) % kFoldUnits), "B", 1, &deltas);
    want.Apply(deltas);
    want_records.Apply(deltas);
  }
  std::map<std::string, std::string> expected;
  for (const auto& [series, unit] : want.Keys())
    expected[indicators::SeriesIndex::CellKey(series, unit)] = want.EncodeCell(series, unit);
  for (const auto& key : want_records.CellKeys()) expected[key] = want_records.EncodeCell(key);
  EXPECT_TRUE(AllCells(store) == expected);
  EXPECT_EQ(store.CountPendingContributions().value(), 0);
}

}  // namespace
}  // namespace danvan
