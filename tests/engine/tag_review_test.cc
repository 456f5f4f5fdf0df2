// tags.review (issue 12): the review list, confirm and correct with who and why; a decision is
// stored, journalled, survives re-tagging and a restart, and is what the indicators count.
#include <gtest/gtest.h>

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "core/timeutil.h"
#include "engine/test_support.h"

namespace danvan {
namespace {

using testing::TempDir;

nlohmann::json Letter(const std::string& id, const std::string& content, const nlohmann::json& extra = {}) {
  nlohmann::json data = {{"title", ""}, {"content", content}, {"received_at", "2023-04-03"}, {"status", "received"}};
  if (extra.is_object()) data.update(extra);
  return {{"kind", "petition"}, {"source", "motcua-hp"}, {"id", id}, {"unit", "SGDDT.TTRA"},
          {"version", 1}, {"event_time", "2023-04-03T10:00:00+07:00"}, {"data", data}};
}

bool Has(const nlohmann::json& tags, const std::string& tag, const std::string& value = "") {
  for (const auto& t : tags)
    if (t["tag"] == tag && (value.empty() || t.value("value", "") == value)) return true;
  return false;
}

std::string Value(const nlohmann::json& tags, const std::string& tag) {
  for (const auto& t : tags)
    if (t["tag"] == tag) return t.value("value", "");
  return "";
}

class TagReviewTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() { engine_ = testing::OpenEngine(testing::ConfigFor(dir_.path() / "t.sqlite")); }
  nlohmann::json Tags(const std::string& id) {
    auto r = engine_->Query(nlohmann::json{{"op", "record.get"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", id}}.dump());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value()["record"]["tags"] : nlohmann::json::array();
  }
  Result<nlohmann::json> Review(nlohmann::json req) {
    req["op"] = "tags.review";
    return engine_->Query(req.dump());
  }
  int64_t Indicator(const std::string& id) {
    auto q = engine_->Query(nlohmann::json{{"op", "indicators"}, {"unit", "SGDDT"},
                                           {"period", {{"kind", "month"}, {"year", 2023}, {"month", 4}}},
                                           {"ids", {id}}}.dump());
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? q.value()["indicators"][0]["value"].get<int64_t>() : -1;
  }
  TempDir dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(TagReviewTest, UnsureLettersAreListedAndACorrectionIsKeptAuditedAndCounted) {
  // Two words say almost nothing: the reading is unsure and the letter goes on the list.
  ASSERT_EQ(engine_->Submit(Letter("DT-R-1", "Xin gặp.").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(Has(Tags("DT-R-1"), "needs_review")) << Tags("DT-R-1").dump();
  auto list = Review({{"action", "list"}});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list.value()["pending"], 1) << list.value().dump();
  EXPECT_EQ(list.value()["items"][0]["key"]["id"], "DT-R-1");
  EXPECT_TRUE(list.value()["items"][0]["reading"]["flags"].contains("group"));
  EXPECT_FALSE(list.value()["items"][0]["weak"].empty());

  // A correction needs who and why, and is checked against the invariants.
  auto no_why = Review({{"action", "correct"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-1"},
                        {"by", "cv.thanhtra"}, {"set", {{"kind", "denunciation"}}}});
  ASSERT_EQ(no_why.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(no_why.status().message().find("/why"), std::string::npos);
  auto broken = Review({{"action", "correct"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-1"},
                        {"by", "cv.thanhtra"}, {"why", "x"},
                        {"set", {{"kind", "complaint"}, {"flags", {{"anonymous", true}}}}}});
  ASSERT_EQ(broken.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(broken.status().message().find("/set/flags/anonymous"), std::string::npos);

  const int64_t staff_before = Indicator("petition.staff_conduct");
  auto fixed = Review({{"action", "correct"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-1"},
                       {"by", "cv.thanhtra"}, {"why", "Đã gặp công dân: tố cáo thái độ của kế toán"},
                       {"set", {{"kind", "denunciation"}, {"flags", {{"staff_conduct", true}}}}}});
  ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
  nlohmann::json tags = Tags("DT-R-1");
  EXPECT_EQ(Value(tags, "petition_kind"), "denunciation") << tags.dump();
  EXPECT_TRUE(Has(tags, "staff_conduct"));
  EXPECT_FALSE(Has(tags, "needs_review"));
  EXPECT_EQ(Review({{"action", "list"}}).value()["pending"], 0);
  // The indicators count the corrected tags.
  EXPECT_EQ(Indicator("petition.staff_conduct"), staff_before + 1);
  EXPECT_EQ(Indicator("petition.received.denunciation"), 1);
  // Audited: stored with who and why, and journalled.
  auto decided = Review({{"action", "list"}, {"decided", true}}).value();
  ASSERT_EQ(decided["decided"], 1);
  EXPECT_EQ(decided["items"][0]["decision"]["by"], "cv.thanhtra");
  EXPECT_EQ(decided["items"][0]["decision"]["kind"], "denunciation");
  EXPECT_FALSE(decided["items"][0]["proposed"].is_null());

  // A new version of the letter and a restart keep the decision.
  auto v2 = Letter("DT-R-1", "Xin gặp lãnh đạo.");
  v2["version"] = 2;
  ASSERT_EQ(engine_->Submit(v2.dump()).result["outcome"], "accepted");
  EXPECT_EQ(Value(Tags("DT-R-1"), "petition_kind"), "denunciation");
  engine_.reset();
  Open();
  EXPECT_EQ(Value(Tags("DT-R-1"), "text_kind"), "denunciation");

  // Background re-tagging after a rule reload keeps it too.
  auto reload = engine_->Query(R"({"op":"tagging.reload"})");
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  for (int i = 0; i < 200 && engine_->Query(R"({"op":"tagging.status"})").value()["running"].get<bool>(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  tags = Tags("DT-R-1");
  EXPECT_EQ(Value(tags, "text_kind"), "denunciation");
  EXPECT_EQ(Value(tags, "letter_reading"), "reviewed");
}

TEST_F(TagReviewTest, ConfirmFreezesTheReadingAndUnknownRecordsAreRefused) {
  const std::string text =
      "Tôi tố cáo hiệu trưởng Trường THCS Kiến Thụy lập chứng từ khống để rút tiền quỹ, đề nghị Thanh tra Sở xác minh, xử lý nghiêm.";
  ASSERT_EQ(engine_->Submit(Letter("DT-R-2", text).dump()).result["outcome"], "accepted");
  const std::string kind = Value(Tags("DT-R-2"), "text_kind");
  auto ok = Review({{"action", "confirm"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-2"}, {"by", "cv.a"}});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  nlohmann::json tags = Tags("DT-R-2");
  EXPECT_EQ(Value(tags, "text_kind"), kind);
  for (const auto& t : tags) {
    if (t["tag"] == "text_kind") {
      EXPECT_EQ(t["rule"], "review.confirm");
    }
  }
  auto missing = Review({{"action", "confirm"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "nope"}, {"by", "cv.a"}});
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  auto bad = Review({{"action", "approve"}});
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidInput);
  auto no_by = Review({{"action", "confirm"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-2"}});
  ASSERT_EQ(no_by.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(no_by.status().message().find("/by"), std::string::npos);
}

// The shipped rule pack under another version: re-tagging with it rewrites every record's tags
// (each tag names the version that set it).
std::string RulesAsVersion(const std::filesystem::path& dir, const std::string& version) {
  nlohmann::json rules = nlohmann::json::parse(std::ifstream(std::string(DANVAN_SOURCE_ROOT) + "/config/rules/default.json"));
  rules["version"] = version;
  // The letter reading's files are named relative to the pack: made absolute for the copy.
  for (const char* f : {"cues_file", "model_file"})
    rules["reading"][f] = std::string(DANVAN_SOURCE_ROOT) + "/config/rules/" + rules["reading"][f].get<std::string>();
  const std::string path = (dir / ("rules-" + version + ".json")).string();
  std::ofstream(path) << rules.dump();
  return path;
}

// Letters DT-P-<from>..DT-P-<to-1>, sent in batches of 250.
void SubmitLetters(Engine& engine, int from, int to, const std::string& unit = "SGDDT.TTRA") {
  std::string batch;
  for (int i = from; i < to; ++i) {
    nlohmann::json e = Letter("DT-P-" + std::to_string(i), "Kiến nghị nhà trường công khai các khoản thu đầu năm học số " +
                                                              std::to_string(i) + ".");
    e["unit"] = unit;
    batch += e.dump() + "\n";
    if ((i - from + 1) % 250 == 0 || i + 1 == to) {
      auto a = engine.SubmitBatch(batch);
      ASSERT_TRUE(a.status.ok()) << a.status.ToString();
      ASSERT_EQ(a.result["summary"]["accepted"], static_cast<int>(std::count(batch.begin(), batch.end(), '\n')))
          << a.result.dump().substr(0, 2000);
      batch.clear();
    }
  }
}

// Every tag's rules_version, "" when they differ (a record half re-tagged).
std::string VersionOf(const nlohmann::json& tags) {
  std::string v;
  for (const auto& t : tags) {
    if (t.value("rule", "").rfind("review.", 0) == 0) continue;  // a reviewer's decision
    const std::string tv = t.value("rules_version", "");
    if (v.empty()) v = tv;
    else if (v != tv) return "";
  }
  return v;
}

// Re-tagging walks the stored records in pages by key (issue 16: bounded memory at city scale,
// 863 MiB at 1M events when the whole table was read first): every record is re-tagged, across
// several pages, also one whose unit is not in the unit file (the walk by unit missed it), and a
// reviewer's decision is kept.
TEST_F(TagReviewTest, RetagReachesEveryRecordAcrossPagesAndKeepsReviews) {
  SubmitLetters(*engine_, 0, 450);
  SubmitLetters(*engine_, 450, 451, "SGDDT.KHONG_CO_TRONG_CAY");
  ASSERT_EQ(engine_->Submit(Letter("DT-R-1", "Xin gặp.").dump()).result["outcome"], "accepted");
  auto fixed = Review({{"action", "correct"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-R-1"},
                       {"by", "cv.thanhtra"}, {"why", "Đã gặp công dân: tố cáo"}, {"set", {{"kind", "denunciation"}}}});
  ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
  ASSERT_EQ(VersionOf(Tags("DT-P-450")), "2026.1");

  auto reload = engine_->Query(nlohmann::json{{"op", "tagging.reload"}, {"path", RulesAsVersion(dir_.path(), "2026.9")}}.dump());
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  for (int i = 0; i < 3000 && engine_->Query(R"({"op":"tagging.status"})").value()["running"].get<bool>(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto status = engine_->Query(R"({"op":"tagging.status"})").value();
  ASSERT_FALSE(status["running"].get<bool>());
  EXPECT_EQ(status["processed"], 452) << status.dump();
  auto progress = engine_->Query(R"({"op":"progress","job":"retag"})").value();
  EXPECT_NE(progress.dump().find("\"total\":452"), std::string::npos) << progress.dump();
  for (int i = 0; i <= 450; ++i) {
    const std::string id = "DT-P-" + std::to_string(i);
    ASSERT_EQ(VersionOf(Tags(id)), "2026.9") << id << " " << Tags(id).dump();
  }
  nlohmann::json tags = Tags("DT-R-1");
  EXPECT_EQ(Value(tags, "text_kind"), "denunciation") << tags.dump();
  EXPECT_EQ(Value(tags, "letter_reading"), "reviewed");
}

// Close stops a re-tagging between pages and waits for it: no thread outlives the engine, no
// record is left half re-tagged, and the pages after the stop keep their tags.
TEST(RetagCloseTest, CloseStopsTheWalkBetweenPages) {
  TempDir dir;
  const auto db = dir.path() / "close.sqlite";
  // The re-tagging thread reads the clock once per page: the second time, it waits here until
  // close has begun (the first page is committed, the second is being re-tagged).
  std::mutex mu;
  std::condition_variable cv;
  bool reached = false, released = false;
  int retag_reads = 0;
  auto clock = std::make_shared<FunctionClock>([&]() -> int64_t {
    char name[32] = {0};
    pthread_getname_np(pthread_self(), name, sizeof name);
    if (std::string(name) == "danvan-retag") {
      std::unique_lock lock(mu);
      if (++retag_reads == 2) {
        reached = true;
        cv.notify_all();
        cv.wait_for(lock, std::chrono::seconds(60), [&] { return released; });
      }
    }
    return *ParseIsoTime("2023-05-02T09:00:00+07:00");
  });
  auto engine = testing::OpenEngine(testing::ConfigFor(db), clock);
  SubmitLetters(*engine, 0, 1000);
  auto reload = engine->Query(nlohmann::json{{"op", "tagging.reload"}, {"path", RulesAsVersion(dir.path(), "2026.9")}}.dump());
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return reached; }));
  }
  // Close on another thread; the page in progress is let go once close has had time to ask the
  // walk to stop (the margin decides only whether the stop is seen before the third page).
  std::thread closer([&] { engine.reset(); });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  {
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  }
  closer.join();
  // Reopened (the configured pack, 2026.1, is in force again; nothing re-tags by itself).
  engine = testing::OpenEngine(testing::ConfigFor(db), clock);
  int renewed = 0, kept = 0;
  for (int i = 0; i < 1000; ++i) {
    auto r = engine->Query(nlohmann::json{{"op", "record.get"}, {"source", "motcua-hp"}, {"kind", "petition"},
                                          {"id", "DT-P-" + std::to_string(i)}}.dump());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const std::string v = VersionOf(r.value()["record"]["tags"]);
    ASSERT_FALSE(v.empty()) << "half re-tagged: DT-P-" << i;
    (v == "2026.9" ? renewed : kept)++;
  }
  // Two pages of 200 (the one committed before the wait and the one in progress), no more.
  EXPECT_EQ(renewed, 400);
  EXPECT_EQ(kept, 600);
}

}  // namespace
}  // namespace danvan
