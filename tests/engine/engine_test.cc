#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/timeutil.h"
#include "engine/test_support.h"

namespace danvan {
namespace {

using testing::DossierEvent;
using testing::PetitionEvent;
using testing::TempDir;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { engine_ = testing::OpenEngine(testing::ConfigFor(dir_.path() / "t.sqlite")); }
  nlohmann::json Submit(const nlohmann::json& ev) {
    auto a = engine_->Submit(ev.dump());
    return a.result;
  }
  TempDir dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, AcceptsThenDuplicateThenStale) {
  EXPECT_EQ(Submit(DossierEvent("H31.01-230301-0001", 2, "4"))["outcome"], "accepted");
  EXPECT_EQ(Submit(DossierEvent("H31.01-230301-0001", 2, "4"))["outcome"], "duplicate");
  auto stale = Submit(DossierEvent("H31.01-230301-0001", 1, "2"));
  EXPECT_EQ(stale["outcome"], "stale");
  EXPECT_EQ(stale["current_version"], 2);
  EXPECT_EQ(Submit(DossierEvent("H31.01-230301-0001", 3, "9"))["outcome"], "accepted");

  auto got = engine_->Query(R"({"op":"record.get","source":"motcua-hp","kind":"dossier","id":"H31.01-230301-0001"})");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got.value()["record"]["status"], "9");
  EXPECT_EQ(got.value()["record"]["version"], 3);
  const auto& h = got.value()["history"];
  ASSERT_EQ(h.size(), 3u);  // applied v2, stale v1, applied v3
  int stale_count = 0;
  for (const auto& e : h) stale_count += e["outcome"] == "stale";
  EXPECT_EQ(stale_count, 1);
}

TEST_F(EngineTest, SameVersionDifferentContentIsRejectedAsConflict) {
  Submit(DossierEvent("H31.01-1", 1, "2"));
  // README "Record events": the same version with different content is a conflict; the ABI
  // (danvan.h) has DANVAN_CONFLICT for it, distinct from malformed input.
  auto a = engine_->Submit(DossierEvent("H31.01-1", 1, "4").dump());
  EXPECT_EQ(a.status.code(), Status::Code::kConflict) << a.status.ToString();
  EXPECT_EQ(a.result["outcome"], "rejected");
  EXPECT_EQ(a.result["conflict"], true);
  EXPECT_EQ(a.result["errors"][0]["path"], "/version");
  // Malformed input keeps INVALID_INPUT.
  auto bad = DossierEvent("H31.01-1b", 1, "4");
  bad["data"]["KenhThucHien"] = 2;
  EXPECT_EQ(engine_->Submit(bad.dump()).status.code(), Status::Code::kInvalidInput);
  // In a batch the line says it; the batch itself is fine.
  auto b = engine_->SubmitBatch(DossierEvent("H31.01-1", 1, "9").dump() + "\n");
  EXPECT_TRUE(b.status.ok());
  EXPECT_EQ(b.result["results"][0]["conflict"], true);
}

TEST_F(EngineTest, RejectsWithFieldPathAndKeepsInQuarantine) {
  auto ev = DossierEvent("H31.01-2", 1, "4");
  ev["data"].erase("NgayTiepNhan");
  ev["data"]["KenhThucHien"] = 2;  // wrong type: the portal wants strings
  auto r = Submit(ev);
  ASSERT_EQ(r["outcome"], "rejected");
  std::set<std::string> paths;
  for (const auto& e : r["errors"]) paths.insert(e["path"]);
  EXPECT_TRUE(paths.count("/data/NgayTiepNhan")) << r.dump();
  EXPECT_TRUE(paths.count("/data/KenhThucHien")) << r.dump();
  auto q = engine_->Query(R"({"op":"quarantine.list"})");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q.value()["items"].size(), 1u);
  EXPECT_EQ(q.value()["items"][0]["key"]["id"], "H31.01-2");
  EXPECT_NE(q.value()["items"][0]["raw"].get<std::string>().find("KenhThucHien"), std::string::npos);
}

TEST_F(EngineTest, InvalidDateValuesAreRejected) {
  auto ev = DossierEvent("H31.01-3", 1, "4");
  ev["data"]["NgayHenTra"] = "20230231170000";  // 31 February
  auto r = Submit(ev);
  ASSERT_EQ(r["outcome"], "rejected");
  EXPECT_EQ(r["errors"][0]["path"], "/data/NgayHenTra");
}

TEST_F(EngineTest, InvalidUtf8IsRejectedWithOffset) {
  std::string raw = PetitionEvent("DT-1", 1, "received").dump();
  size_t pos = raw.find("Khi");
  raw[pos] = static_cast<char>(0xC3);  // lead byte followed by ASCII
  auto a = engine_->Submit(raw);
  EXPECT_FALSE(a.status.ok());
  EXPECT_EQ(a.result["outcome"], "rejected");
  EXPECT_NE(a.result["errors"][0]["reason"].get<std::string>().find("byte " + std::to_string(pos)),
            std::string::npos);
}

TEST_F(EngineTest, OversizeEventAndUnknownKind) {
  auto ev = PetitionEvent("DT-2", 1, "received");
  ev["kind"] = "letter";
  auto r = Submit(ev);
  ASSERT_EQ(r["outcome"], "rejected");
  EXPECT_EQ(r["errors"][0]["path"], "/kind");
  ev = PetitionEvent("DT-3", 1, "received");
  ev["data"]["content"] = std::string(300000, 'a');
  r = Submit(ev);
  ASSERT_EQ(r["outcome"], "rejected");
  EXPECT_NE(r["errors"][0]["reason"].get<std::string>().find("quá lớn"), std::string::npos);
}

TEST_F(EngineTest, ProgressStepsAppendHistoryAndDeduplicate) {
  nlohmann::json step = {{"kind", "dossier"}, {"source", "motcua-hp"}, {"id", "H31.01-4"},
                         {"unit", "SGDDT.VP"}, {"version", 1},
                         {"event_time", "2023-03-01T09:00:00+07:00"},
                         {"data", {{"MaHoSo", "H31.01-4"}, {"TrangThai", "2"},
                                   {"ThoiDiemXuLy", "20230301090000"}, {"NguoiXuLy", "Trần Thị Bình"}}}};
  EXPECT_EQ(Submit(step)["outcome"], "accepted");  // before the item: placeholder record
  EXPECT_EQ(Submit(step)["outcome"], "duplicate");
  EXPECT_EQ(Submit(DossierEvent("H31.01-4", 1, "4"))["outcome"], "accepted");
  auto got = engine_->Query(R"({"op":"record.get","source":"motcua-hp","kind":"dossier","id":"H31.01-4"})");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value()["record"]["status"], "4");
  EXPECT_EQ(got.value()["history"].size(), 2u);
}

TEST_F(EngineTest, BatchCommitsOnceAndReportsPerLine) {
  std::string jsonl = DossierEvent("B-1", 1, "2").dump() + "\n" + "{not json\n\n" +
                      PetitionEvent("B-2", 1, "received").dump() + "\n" +
                      DossierEvent("B-1", 1, "2").dump() + "\n";
  auto a = engine_->SubmitBatch(jsonl);
  ASSERT_TRUE(a.status.ok());
  const auto& rs = a.result["results"];
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0]["outcome"], "accepted");
  EXPECT_EQ(rs[1]["outcome"], "rejected");
  EXPECT_EQ(rs[1]["index"], 1);
  EXPECT_EQ(rs[2]["index"], 3);  // the empty line is skipped but counted
  EXPECT_EQ(rs[3]["outcome"], "duplicate");
  EXPECT_EQ(a.result["summary"]["accepted"], 2);
  auto stats = engine_->Query(R"({"op":"stats"})");
  EXPECT_EQ(stats.value()["records"], 2);
  EXPECT_EQ(stats.value()["quarantined"], 1);
}

TEST_F(EngineTest, ConcurrentSubmitsFromManyThreads) {
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto a = engine_->Submit(DossierEvent("T" + std::to_string(t) + "-" + std::to_string(i), 1, "2").dump());
        accepted += a.result["outcome"] == "accepted";
        auto q = engine_->Query(R"({"op":"stats"})");
        ASSERT_TRUE(q.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(accepted.load(), 200);
  EXPECT_EQ(engine_->Query(R"({"op":"stats"})").value()["records"], 200);
}

TEST(EngineConfigTest, EveryErrorListedWithPath) {
  auto c = ParseEngineConfig(R"({"storage":{"engine":"oracle","path":1},"limits":{"max_event_bytes":-5},"bogus":true,
    "schemas_dir":")" + std::string(DANVAN_SOURCE_ROOT) + R"(/schemas"})");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("/storage/engine"), std::string::npos) << m;
  EXPECT_NE(m.find("/storage/path"), std::string::npos) << m;
  EXPECT_NE(m.find("/limits/max_event_bytes"), std::string::npos) << m;
  EXPECT_NE(m.find("/bogus"), std::string::npos) << m;
}

TEST(EngineReopenTest, DataSurvivesReopen) {
  TempDir dir;
  std::string cfg = testing::ConfigFor(dir.path() / "r.sqlite");
  {
    auto e = testing::OpenEngine(cfg);
    EXPECT_EQ(e->Submit(DossierEvent("R-1", 1, "2").dump()).result["outcome"], "accepted");
  }
  auto e = testing::OpenEngine(cfg);
  EXPECT_EQ(e->Submit(DossierEvent("R-1", 1, "2").dump()).result["outcome"], "duplicate");
}

}  // namespace
}  // namespace danvan

namespace danvan {
namespace {

using testing::TempDir;

nlohmann::json UnclassifiedPetition(const std::string& id, const std::string& content) {
  return {{"kind", "petition"}, {"source", "motcua-hp"}, {"id", id}, {"unit", "SGDDT.TTRA"},
          {"version", 1}, {"event_time", "2023-04-03T10:00:00+07:00"},
          {"data", {{"title", "Đơn của phụ huynh học sinh"}, {"content", content},
                    {"received_at", "2023-04-03"}, {"status", "received"}}}};
}

bool HasTagValue(const nlohmann::json& tags, const std::string& tag, const std::string& value = "") {
  for (const auto& t : tags)
    if (t["tag"] == tag && (value.empty() || t.value("value", "") == value)) return true;
  return false;
}

class TaggingIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { engine_ = testing::OpenEngine(testing::ConfigFor(dir_.path() / "t.sqlite")); }
  TempDir dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(TaggingIntegrationTest, SubmitResultCarriesExplainableTagsAndIndicatorsFollowThem) {
  auto r = engine_->Submit(UnclassifiedPetition("DT-T-1",
      "Tôi làm đơn này khiếu nại quyết định kỷ luật của hiệu trưởng đối với con tôi, đề nghị xem xét lại.").dump()).result;
  ASSERT_EQ(r["outcome"], "accepted") << r.dump();
  ASSERT_TRUE(HasTagValue(r["tags"], "petition_kind", "complaint")) << r["tags"].dump();
  for (const auto& t : r["tags"]) {
    EXPECT_FALSE(t["rule"].get<std::string>().empty());
    EXPECT_EQ(t["rules_version"], "2026.1");
  }
  auto ind = engine_->Query(R"({"op":"indicators","unit":"SGDDT","period":{"kind":"month","year":2023,"month":4},
                                "ids":["petition.received.complaint","petition.received.unclassified"]})");
  ASSERT_TRUE(ind.ok()) << ind.status().ToString();
  EXPECT_EQ(ind.value()["indicators"][0]["value"], 1) << ind.value().dump();
  EXPECT_EQ(ind.value()["indicators"][1]["value"], 0);
  auto explain = engine_->Query(R"({"op":"tags.explain","source":"motcua-hp","kind":"petition","id":"DT-T-1"})");
  ASSERT_TRUE(explain.ok());
  EXPECT_TRUE(HasTagValue(explain.value()["tags"], "petition_kind", "complaint"));
}

TEST_F(TaggingIntegrationTest, LegacyTcvn3TextIsConvertedWithANote) {
  // "Dân vận khéo" in TCVN3 (domain.md §6), inside an otherwise UTF-8 event.
  std::string tcvn3 = "\x44\xa9\x6e\x20\x76\xcb\x6e\x20\x6b\x68\xd0\x6f";
  nlohmann::json ev = {{"kind", "dvk_model"}, {"source", "motcua-hp"}, {"id", "DVK-T-1"}, {"unit", "SGDDT.VP"},
                       {"version", 1}, {"event_time", "2023-05-10T09:00:00+07:00"},
                       {"data", {{"name", "PLACEHOLDER"}, {"model_type", "model"}, {"registered_at", "2023-05-10"}}}};
  std::string raw = ev.dump();
  raw.replace(raw.find("PLACEHOLDER"), 11, "M\xab h\xd8nh " + tcvn3 + " tr\xad\xeang h\xac\x63");
  auto a = engine_->Submit(raw);
  ASSERT_EQ(a.result["outcome"], "accepted") << a.result.dump();
  ASSERT_TRUE(a.result.contains("notes")) << a.result.dump();
  auto got = engine_->Query(R"({"op":"record.get","source":"motcua-hp","kind":"dvk_model","id":"DVK-T-1"})");
  ASSERT_TRUE(got.ok());
  EXPECT_NE(got.value()["record"]["data"]["name"].get<std::string>().find("Dân vận khéo"), std::string::npos)
      << got.value()["record"]["data"].dump();
}

TEST_F(TaggingIntegrationTest, ReloadRetagsInTheBackgroundAndJournalsTheChanges) {
  const std::string staff = "Tôi phản ánh thái độ hách dịch, gây phiền hà của cán bộ văn thư khi tiếp nhận hồ sơ.";
  ASSERT_EQ(engine_->Submit(UnclassifiedPetition("DT-T-2", staff).dump()).result["outcome"], "accepted");
  ASSERT_EQ(engine_->Submit(UnclassifiedPetition("DT-T-3", "Kiến nghị nhà trường công khai các khoản thu đầu năm học.").dump()).result["outcome"], "accepted");
  auto before = engine_->Query(R"({"op":"record.get","source":"motcua-hp","kind":"petition","id":"DT-T-2"})").value();
  ASSERT_TRUE(HasTagValue(before["record"]["tags"], "staff_conduct")) << before["record"]["tags"].dump();
  const char* q = R"({"op":"indicators","unit":"SGDDT","period":{"kind":"month","year":2023,"month":4},"ids":["petition.staff_conduct"]})";
  auto other = engine_->Query(R"({"op":"record.get","source":"motcua-hp","kind":"petition","id":"DT-T-3"})").value();
  const int staff_records = 1 + (HasTagValue(other["record"]["tags"], "staff_conduct") ? 1 : 0);
  EXPECT_EQ(engine_->Query(q).value()["indicators"][0]["value"], staff_records);

  // A bad rule file leaves the rules in force.
  nlohmann::json rules = nlohmann::json::parse(std::ifstream(std::string(DANVAN_SOURCE_ROOT) + "/config/rules/default.json"));
  nlohmann::json bad = rules;
  bad["rules"][0]["when"] = {{"field", "noi_dung_khong_co"}, {"op", "exists"}};
  std::ofstream(dir_.path() / "bad.json") << bad.dump();
  auto refused = engine_->Query(nlohmann::json{{"op", "tagging.reload"}, {"path", (dir_.path() / "bad.json").string()}}.dump());
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidInput);
  EXPECT_EQ(engine_->Query(R"({"op":"tagging.status"})").value()["rules_version"], "2026.1");

  // Version 2023.2 reads no letters (no "reading" section): staff conduct is no longer seen.
  nlohmann::json v2 = rules;
  v2["version"] = "2023.2";
  v2.erase("reading");
  nlohmann::json kept = nlohmann::json::array();
  for (const auto& r : v2["rules"]) {
    // Rules reading the reading's tags go with it.
    const std::string dump = r.dump();
    if (dump.find("\"tag\":\"text_kind") == std::string::npos &&
        dump.find("\"tag\":\"petition_kind\"") == std::string::npos)
      kept.push_back(r);
  }
  v2["rules"] = kept;
  std::ofstream(dir_.path() / "v2.json") << v2.dump();
  auto reload = engine_->Query(nlohmann::json{{"op", "tagging.reload"}, {"path", (dir_.path() / "v2.json").string()}}.dump());
  ASSERT_TRUE(reload.ok()) << reload.status().ToString();
  for (int i = 0; i < 200 && engine_->Query(R"({"op":"tagging.status"})").value()["running"].get<bool>(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto status = engine_->Query(R"({"op":"tagging.status"})").value();
  EXPECT_EQ(status["rules_version"], "2023.2");
  EXPECT_EQ(status["processed"], 2);
  EXPECT_EQ(status["changed"], 2);
  auto changes = engine_->Query(R"({"op":"tagging.changes","version":"2023.2"})").value();
  ASSERT_EQ(changes["items"].size(), 2u) << changes.dump();
  EXPECT_EQ(changes["items"][0]["record"]["id"], "DT-T-2");
  bool staff_removed = false;
  for (const auto& r : changes["items"][0]["diff"]["removed"]) staff_removed |= r["tag"] == "staff_conduct";
  EXPECT_TRUE(staff_removed) << changes.dump();
  auto after = engine_->Query(R"({"op":"record.get","source":"motcua-hp","kind":"petition","id":"DT-T-2"})").value();
  EXPECT_FALSE(HasTagValue(after["record"]["tags"], "staff_conduct"));
  for (const auto& t : after["record"]["tags"]) EXPECT_EQ(t["rules_version"], "2023.2");
  // The indicators follow the new tags.
  EXPECT_EQ(engine_->Query(q).value()["indicators"][0]["value"], 0);
}

}  // namespace
}  // namespace danvan

namespace danvan {
namespace {

// An engine in a temporary directory on an injected clock (`now`) that keeps every alert it
// raises (`alerts`, guarded by `mu`).
struct AlertingEngine {
  explicit AlertingEngine(const char* start) : now(*ParseIsoTime(start)) {
    auto cfg = ParseEngineConfig(testing::ConfigFor(dir.path() / "a.sqlite"));
    if (!cfg.ok()) throw std::runtime_error(cfg.status().ToString());
    HostHooks hooks;
    hooks.clock = std::make_shared<FunctionClock>([this] { return now.load(); });
    hooks.alert = [this](const std::string& a) {
      std::lock_guard lock(mu);
      alerts.push_back(nlohmann::json::parse(a));
    };
    auto opened = Engine::Open(cfg.value(), std::move(hooks));
    if (!opened.ok()) throw std::runtime_error(opened.status().ToString());
    engine = std::move(opened).value();
  }
  int Scan() { return engine->Query(R"({"op":"deadlines.scan"})").value()["alerts_fired"].get<int>(); }

  testing::TempDir dir;
  std::atomic<int64_t> now;
  std::mutex mu;
  std::vector<nlohmann::json> alerts;  // guarded by mu
  std::unique_ptr<Engine> engine;
};

// The scheduler alerts the host once when a dossier becomes due soon and once when it becomes
// overdue, driven by the (injected) clock, not by new events.
TEST(DeadlineAlertsTest, DueSoonAndOverdueFireOnceEach) {
  AlertingEngine ae("2023-03-01T09:00:00+07:00");
  auto& e = *ae.engine;
  auto& now = ae.now;
  auto& mu = ae.mu;
  auto& alerts = ae.alerts;
  auto r = e.Submit(testing::DossierEvent("H31-ALERT-1", 1, "4").dump()).result;
  ASSERT_EQ(r["outcome"], "accepted");
  EXPECT_EQ(r["deadline"]["class"], "open_within_deadline") << r.dump();

  auto scan = [&] { return ae.Scan(); };
  EXPECT_EQ(scan(), 0);
  now = *ParseIsoTime("2023-03-06T12:00:00+07:00");  // the due day (NgayHenTra 06/03 17:00)
  EXPECT_EQ(scan(), 1);
  EXPECT_EQ(scan(), 0);  // once only
  now = *ParseIsoTime("2023-03-07T09:00:00+07:00");
  EXPECT_EQ(scan(), 1);
  EXPECT_EQ(scan(), 0);
  std::lock_guard lock(mu);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0]["type"], "due_soon");
  EXPECT_EQ(alerts[1]["type"], "overdue");
  EXPECT_EQ(alerts[1]["record"]["id"], "H31-ALERT-1");
  // The indicators see the dossier overdue without any new event.
  auto ind = e.Query(R"({"op":"indicators","unit":"SGDDT","period":{"kind":"month","year":2023,"month":3},"ids":["dossier.open_overdue"]})");
  EXPECT_EQ(ind.value()["indicators"][0]["value"], 1) << ind.value().dump();
}

// domain.md §3: a petition has several legal steps, each with its own clock. A complaint
// received on 3/4/2023 and never accepted: the acceptance step (Luật Khiếu nại 2011, Điều 27,
// 10 days) is what the class is judged on and is told by the class's overdue alert; the intake
// step (Thông tư 05/2021/TT-TTCP, Điều 6, 10 working days) falls overdue later and gets its own
// alert when it does, once, with the step and its legal basis, without any new event.
TEST(DeadlineAlertsTest, EveryLegalStepOfAPetitionIsAlertedWhenItFallsOverdue) {
  AlertingEngine ae("2023-04-03T11:00:00+07:00");
  auto& e = *ae.engine;
  auto& now = ae.now;
  auto& mu = ae.mu;
  auto& alerts = ae.alerts;
  auto r = e.Submit(testing::PetitionEvent("DT-STEPS-1", 1, "received").dump()).result;
  ASSERT_EQ(r["outcome"], "accepted") << r.dump();
  auto step_due = [&](const std::string& rule) -> std::string {
    auto got = e.Query(R"({"op":"record.get","source":"motcua-hp","kind":"petition","id":"DT-STEPS-1"})");
    if (!got.ok()) return "";
    for (const auto& s : got.value()["record"]["deadline"]["steps"])
      if (s["rule_id"] == rule) return s.value("due", "");
    return "";
  };
  const std::string accept_due = step_due("complaint.r1.accept");
  const std::string intake_due = step_due("complaint.intake");
  ASSERT_FALSE(accept_due.empty());
  ASSERT_FALSE(intake_due.empty());
  ASSERT_LT(accept_due, intake_due);  // 10 calendar days end before 10 working days
  auto scan = [&] { return ae.Scan(); };
  auto day_after = [](const std::string& due) {
    return *ParseIsoTime(due.substr(0, 10) + "T12:00:00+07:00") + 24 * 3600 * 1000;
  };
  // The day after the acceptance step's due date: the class's overdue alert only.
  now = day_after(accept_due);
  ASSERT_LT(now.load(), *ParseIsoTime(intake_due.substr(0, 10) + "T00:00:00+07:00"));
  EXPECT_EQ(scan(), 1);
  EXPECT_EQ(scan(), 0);
  // The day after the intake step's due date: that step's alert, once.
  now = day_after(intake_due);
  EXPECT_EQ(scan(), 1);
  EXPECT_EQ(scan(), 0);
  std::lock_guard lock(mu);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0]["type"], "overdue");
  EXPECT_EQ(alerts[0]["rule_id"], "complaint.r1.accept");
  EXPECT_EQ(alerts[1]["type"], "step_overdue");
  EXPECT_EQ(alerts[1]["rule_id"], "complaint.intake");
  EXPECT_EQ(alerts[1]["step"], "intake");
  EXPECT_EQ(alerts[1]["overdue_by_days"], 1);
  EXPECT_NE(alerts[1]["legal_basis"].get<std::string>().find("05/2021/TT-TTCP"), std::string::npos);
  EXPECT_EQ(alerts[1]["record"]["id"], "DT-STEPS-1");
}

// domain.md §3 and §5: a working-day deadline follows the calendar. When the calendar changes
// (here an extra day off on Monday 10/4/2023 announced after the complaint was received), the
// stored record is re-evaluated at the next open, in the background, and its intake step
// (Thông tư 05/2021/TT-TTCP, Điều 6: 10 working days) ends one working day later.
TEST(DeadlineInputsTest, ACalendarChangeReevaluatesStoredRecordsAtOpen) {
  testing::TempDir dir;
  const auto cal_dir = dir.path() / "calendar";
  std::filesystem::create_directories(cal_dir);
  for (const auto& f : std::filesystem::directory_iterator(std::string(DANVAN_SOURCE_ROOT) + "/config/calendar"))
    std::filesystem::copy_file(f.path(), cal_dir / f.path().filename());
  const std::string cfg_text =
      testing::ConfigFor(dir.path() / "a.sqlite", {{"calendar", {{"dir", cal_dir.string()}}}});
  auto clock = std::make_shared<FunctionClock>([] { return *ParseIsoTime("2023-04-03T11:00:00+07:00"); });
  auto intake_due = [](Engine& e) -> std::string {
    auto got = e.Query(R"({"op":"record.get","source":"motcua-hp","kind":"petition","id":"DT-CAL-1"})");
    if (!got.ok()) return "";
    for (const auto& s : got.value()["record"]["deadline"]["steps"])
      if (s["rule_id"] == "complaint.intake") return s.value("due", "").substr(0, 10);
    return "";
  };
  std::string before;
  {
    auto e = testing::OpenEngine(cfg_text, clock);
    ASSERT_EQ(e->Submit(testing::PetitionEvent("DT-CAL-1", 1, "received").dump()).result["outcome"], "accepted");
    before = intake_due(*e);
    ASSERT_FALSE(before.empty());
    // Nothing changed since this open: no re-evaluation.
    EXPECT_FALSE(e->Query(R"({"op":"deadlines.status"})").value()["reevaluation"]["running"].get<bool>());
  }
  {
    nlohmann::json cal = nlohmann::json::parse(std::ifstream(cal_dir / "2023.json"));
    cal["days"].push_back({{"date", "2023-04-10"}, {"type", "holiday"}, {"name", "Ngày nghỉ thêm (thử nghiệm)"},
                           {"source", "test"}});
    std::ofstream(cal_dir / "2023.json") << cal.dump(1);
  }
  auto e = testing::OpenEngine(cfg_text, clock);
  nlohmann::json status;
  for (int i = 0; i < 500; ++i) {
    status = e->Query(R"({"op":"deadlines.status"})").value();
    if (!status["reevaluation"]["running"].get<bool>()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(status["reevaluation"]["running"].get<bool>()) << status.dump();
  EXPECT_EQ(status["reevaluation"]["total"], 1) << status.dump();
  EXPECT_EQ(status["reevaluation"]["done"], 1) << status.dump();
  const std::string after = intake_due(*e);
  ASSERT_FALSE(after.empty());
  // One working day later: the next working day after `before` (weekends skipped).
  int64_t next = LocalDay(*ParseIsoTime(before + "T12:00:00+07:00")) + 1;
  while (true) {
    const int weekday = static_cast<int>((next + 4) % 7);  // 1970-01-01 was a Thursday (4)
    if (weekday != 0 && weekday != 6) break;
    ++next;
  }
  EXPECT_EQ(after, FormatIsoDate(next)) << "before " << before;
}

// Indicators that count petitions by their on-time class say which legal step that class is
// judged on (issue 13 item 2), from config/deadlines.json.
TEST_F(EngineTest, PetitionDeadlineIndicatorsNameTheirSteps) {
  auto ind = engine_->Query(R"({"op":"indicators","unit":"SGDDT","period":{"kind":"month","year":2023,"month":4},"ids":["petition.resolved_on_time","petition.received"]})");
  ASSERT_TRUE(ind.ok()) << ind.status().ToString();
  const auto& basis = ind.value()["petition_deadline_steps"];
  ASSERT_EQ(basis["indicators"], nlohmann::json::array({"petition.resolved_on_time"})) << basis.dump();
  bool resolve = false;
  for (const auto& s : basis["steps"])
    if (s["rule_id"] == "complaint.r1.resolve") {
      resolve = true;
      EXPECT_EQ(s["start_from"], "accepted_at");
      EXPECT_NE(s["legal_basis"].get<std::string>().find("Khiếu nại"), std::string::npos);
    }
  EXPECT_TRUE(resolve) << basis.dump();
}

// domain.md §1 (status codes) and §2 ("only received dossiers count (statuses 1 and 3 never
// started)"): a dossier newly submitted online (1) or refused at reception (3) has no
// NgayTiepNhan yet. It is accepted and stored, classified not_counted, and contributes to no
// indicator of the 766 index; any other status still needs NgayTiepNhan.
TEST_F(EngineTest, DossierBeforeReceiptIsStoredAndNotCounted) {
  for (const char* st : {"1", "3"}) {
    const std::string id = std::string("H31.01-230301-10") + st;
    auto ev = DossierEvent(id, 1, st);
    ev["data"]["NgayTiepNhan"] = "";
    ev["data"]["NgayHenTra"] = "";
    if (std::string(st) == "1") ev["data"].erase("NgayTiepNhan");  // absent or empty: both fine
    auto r = Submit(ev);
    ASSERT_EQ(r["outcome"], "accepted") << r.dump();
    EXPECT_EQ(r["deadline"]["class"], "not_counted") << r.dump();
    EXPECT_EQ(r["deadline"]["explanation"]["reasons"][0]["code"], "not_received");
    EXPECT_EQ(r["pending"]["code"], "awaiting_reception");
    auto got = engine_->Query(nlohmann::json{{"op", "record.get"}, {"source", "motcua-hp"},
                                             {"kind", "dossier"}, {"id", id}}.dump());
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got.value()["record"]["status"], st);
    EXPECT_EQ(got.value()["record"]["pending"]["code"], "awaiting_reception");
  }
  auto stats = engine_->Query(R"({"op":"stats"})");
  EXPECT_EQ(stats.value()["records_by_kind"]["dossier"], 2);
  // Neither is in the received count nor in the on-time denominator.
  auto ind = engine_->Query(R"({"op":"indicators","unit":"SGDDT","period":{"kind":"month","year":2023,"month":3},"ids":["dossier.received","idx766.on_time"]})");
  ASSERT_TRUE(ind.ok()) << ind.status().ToString();
  for (const auto& i : ind.value()["indicators"]) {
    EXPECT_EQ(i.value("numerator", 0.0), 0) << i.dump();
    EXPECT_EQ(i.value("denominator", 0.0), 0) << i.dump();
  }
  // Received later: the same record now counts, with its deadline.
  auto later = Submit(DossierEvent("H31.01-230301-101", 2, "4"));
  ASSERT_EQ(later["outcome"], "accepted");
  EXPECT_NE(later["deadline"]["class"], "not_counted");
  EXPECT_FALSE(later.contains("pending"));
  // Status 4 without NgayTiepNhan is still refused, naming the field.
  auto bad = DossierEvent("H31.01-230301-102", 1, "4");
  bad["data"].erase("NgayTiepNhan");
  auto rb = Submit(bad);
  ASSERT_EQ(rb["outcome"], "rejected");
  EXPECT_EQ(rb["errors"][0]["path"], "/data/NgayTiepNhan") << rb.dump();
  bad["data"]["NgayTiepNhan"] = "";
  rb = Submit(bad);
  ASSERT_EQ(rb["outcome"], "rejected");
  EXPECT_EQ(rb["errors"][0]["path"], "/data/NgayTiepNhan") << rb.dump();
}

// A progress item (CapNhatTienDoHoSoMC) for a dossier not seen yet is stored the same way as a
// dossier before receipt: accepted, classified not_counted with its reason, pending, no indicator.
TEST_F(EngineTest, LoneProgressItemIsPendingLikeADossierBeforeReceipt) {
  nlohmann::json step = {{"kind", "dossier"}, {"source", "motcua-hp"}, {"id", "H31.01-230301-200"},
                         {"unit", "SGDDT.VP"}, {"version", 1}, {"event_time", "2023-03-01T09:00:00+07:00"},
                         {"data", {{"MaHoSo", "H31.01-230301-200"}, {"TrangThai", "4"},
                                   {"ThoiDiemXuLy", "20230301090000"}}}};
  auto r = Submit(step);
  ASSERT_EQ(r["outcome"], "accepted");
  EXPECT_EQ(r["deadline"]["class"], "not_counted") << r.dump();
  EXPECT_EQ(r["deadline"]["explanation"]["reasons"][0]["code"], "no_dossier_item");
  EXPECT_EQ(r["pending"]["code"], "awaiting_dossier_item");
  auto got = engine_->Query(R"({"op":"record.get","source":"motcua-hp","kind":"dossier","id":"H31.01-230301-200"})");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value()["record"]["has_item"], false);
  EXPECT_EQ(got.value()["record"]["pending"]["code"], "awaiting_dossier_item");
  auto ind = engine_->Query(R"({"op":"indicators","unit":"SGDDT","period":{"kind":"month","year":2023,"month":3},"ids":["dossier.received"]})");
  EXPECT_EQ(ind.value()["indicators"][0].value("numerator", 0.0), 0);
}

}  // namespace
}  // namespace danvan
