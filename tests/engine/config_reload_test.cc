// Live configuration reload and the audit trail (issue 15): config.reload, config.show,
// audit.list on an engine over a real SQLite file.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "core/timeutil.h"
#include "engine/test_support.h"

namespace danvan {
namespace {

using json = nlohmann::json;

class ConfigReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = json::parse(testing::ConfigFor(dir_.path() / "r.sqlite"));
    engine_ = testing::OpenEngine(base_.dump());
  }

  Result<json> Reload(const json& doc, bool dry_run = false, const std::string& actor = "") {
    json req = {{"op", "config.reload"}, {"config", doc}};
    if (dry_run) req["dry_run"] = true;
    if (!actor.empty()) req["actor"] = actor;
    return engine_->Query(req.dump());
  }
  json Q(const json& req) {
    auto r = engine_->Query(req.dump());
    EXPECT_TRUE(r.ok()) << req.dump() << ": " << r.status().ToString();
    return r.ok() ? r.value() : json();
  }
  std::string Sha() { return Q({{"op", "config.show"}})["sha256"].get<std::string>(); }
  // The errors of a refused reload: {path: code}.
  static std::map<std::string, std::string> Errors(const Status& st) {
    std::map<std::string, std::string> out;
    json arr = json::parse(st.message(), nullptr, false);
    if (!arr.is_array()) {
      out["<not an array>"] = st.message();
      return out;
    }
    for (const auto& e : arr) out[e.value("path", "")] = e.value("code", "");
    return out;
  }
  // A copy of the shipped rule pack with another version and no letter reading.
  std::string RulePackV2() {
    json rules = json::parse(std::ifstream(std::string(DANVAN_SOURCE_ROOT) + "/config/rules/default.json"));
    rules["version"] = "2023.2";
    rules.erase("reading");
    json kept = json::array();
    for (const auto& r : rules["rules"]) {
      const std::string dump = r.dump();
      if (dump.find("\"tag\":\"text_kind") == std::string::npos &&
          dump.find("\"tag\":\"petition_kind\"") == std::string::npos)
        kept.push_back(r);
    }
    rules["rules"] = kept;
    const auto path = dir_.path() / "rules-v2.json";
    std::ofstream(path) << rules.dump();
    return path.string();
  }
  void WaitRetag() {
    for (int i = 0; i < 500 && Q({{"op", "tagging.status"}})["running"].get<bool>(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  testing::TempDir dir_;
  json base_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(ConfigReloadTest, InvalidDocumentListsEveryErrorAndChangesNothing) {
  const std::string sha = Sha();
  const std::string version = Q({{"op", "tagging.status"}})["rules_version"];
  json bad = base_;
  bad["bogus"] = 1;                                              // schema: unknown key
  bad["log"] = {{"level", "loud"}};                              // schema: enum
  bad["deadlines"] = {{"scan_interval_ms", 5}};                  // range check of open
  auto r = Reload(bad);
  ASSERT_EQ(r.status().code(), Status::Code::kInvalidInput);
  auto errors = Errors(r.status());
  EXPECT_TRUE(errors.count("/bogus")) << r.status().message();
  EXPECT_TRUE(errors.count("/log/level")) << r.status().message();
  // Data files: every failing one listed, with the configuration key that names it.
  json bad_files = base_;
  bad_files["tagging"] = {{"rules_file", (dir_.path() / "no-such-rules.json").string()}};
  bad_files["deadlines"] = {{"rules_file", (dir_.path() / "no-such-deadlines.json").string()}};
  bad_files["calendar"] = {{"dir", dir_.path().string()}};  // a directory without year files
  bad_files["storage"]["path"] = (dir_.path() / "other.sqlite").string();
  r = Reload(bad_files);
  ASSERT_EQ(r.status().code(), Status::Code::kInvalidInput);
  errors = Errors(r.status());
  EXPECT_EQ(errors["/tagging/rules_file"], "config.invalid") << r.status().message();
  EXPECT_EQ(errors["/deadlines/rules_file"], "config.invalid") << r.status().message();
  EXPECT_EQ(errors["/calendar/dir"], "config.invalid") << r.status().message();
  EXPECT_EQ(errors["/storage/path"], "config.not_live") << r.status().message();
  // Not a configuration at all, both sources, a directory as the file.
  EXPECT_EQ(engine_->Query(R"({"op":"config.reload","config":[1,2]})").status().code(), Status::Code::kInvalidInput);
  EXPECT_EQ(engine_->Query(json{{"op", "config.reload"}, {"config", base_}, {"path", "/etc/hostname"}}.dump()).status().code(),
            Status::Code::kInvalidInput);
  auto dir = engine_->Query(json{{"op", "config.reload"}, {"path", dir_.path().string()}}.dump());
  EXPECT_EQ(dir.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(dir.status().message().find("/path"), std::string::npos) << dir.status().message();
  // Nothing changed.
  EXPECT_EQ(Sha(), sha);
  EXPECT_EQ(Q({{"op", "tagging.status"}})["rules_version"], version);
  EXPECT_EQ(Q({{"op", "config.show"}})["effective"]["scan_interval_ms"], 1000);
}

TEST_F(ConfigReloadTest, StorageAndLimitsAreRefusedNamingTheField) {
  const std::string sha = Sha();
  json next = base_;
  next["storage"]["path"] = (dir_.path() / "elsewhere.sqlite").string();
  next["storage"]["synchronous"] = "normal";
  next["limits"] = {{"max_event_bytes", 1024}};
  next["instance"] = "node-2";
  next["log"] = {{"level", "debug"}};  // would be fine alone: the whole document is refused
  auto r = Reload(next);
  ASSERT_EQ(r.status().code(), Status::Code::kInvalidInput);
  auto errors = Errors(r.status());
  for (const char* path : {"/storage/path", "/storage/synchronous", "/limits/max_event_bytes", "/instance"})
    EXPECT_EQ(errors[path], "config.not_live") << path << ": " << r.status().message();
  EXPECT_NE(r.status().message().find("không đổi được khi plugin đang chạy"), std::string::npos);
  EXPECT_EQ(Sha(), sha);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "elsewhere.sqlite"));
}

TEST_F(ConfigReloadTest, DryRunValidatesOnly) {
  const std::string sha = Sha();
  json next = base_;
  next["deadlines"] = {{"scan_interval_ms", 250}};
  auto r = Reload(next, /*dry_run=*/true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()["valid"], true);
  EXPECT_EQ(r.value()["changed"], json::array({"/deadlines/scan_interval_ms"}));
  EXPECT_NE(r.value()["after_sha256"], sha);
  EXPECT_EQ(Sha(), sha);
  EXPECT_EQ(Q({{"op", "config.show"}})["effective"]["scan_interval_ms"], 1000);
}

TEST_F(ConfigReloadTest, AValidDocumentIsAppliedLive) {
  const std::string before = Sha();
  json next = base_;
  next["deadlines"] = {{"scan_interval_ms", 250}};
  next["log"] = {{"level", "warn"}};
  next["reports"] = {{"dir", (dir_.path() / "bao-cao").string()}};
  auto r = Reload(next, false, "Nguyễn Văn An");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()["before_sha256"], before);
  const std::string after = Sha();
  EXPECT_NE(after, before);
  EXPECT_EQ(r.value()["after_sha256"], after);
  auto shown = Q({{"op", "config.show"}});
  EXPECT_EQ(shown["effective"]["scan_interval_ms"], 250);
  EXPECT_EQ(shown["effective"]["reports_dir"], (dir_.path() / "bao-cao").string());
  // The report op writes into the new reports.dir.
  auto rep = engine_->Query(R"({"op":"report","kind":"six_month","year":2023,"format":"all","path":"hk1"})");
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "bao-cao" / "hk1"));
  // Audited: who, what, before and after.
  auto audit = Q({{"op", "audit.list"}, {"filter_op", "config.reload"}});
  ASSERT_EQ(audit["items"].size(), 1u) << audit.dump();
  const json& e = audit["items"][0];
  EXPECT_EQ(e["actor"], "Nguyễn Văn An");
  EXPECT_EQ(e["outcome"], "ok");
  EXPECT_EQ(e["details"]["before_sha256"], before);
  EXPECT_EQ(e["details"]["after_sha256"], after);
  EXPECT_TRUE(ParseIsoTime(e["at"].get<std::string>()).has_value()) << e.dump();
}

TEST_F(ConfigReloadTest, ARulePackChangeRetagsEveryRecord) {
  const std::string staff = "Tôi phản ánh thái độ hách dịch, gây phiền hà của cán bộ văn thư khi tiếp nhận hồ sơ.";
  json ev = testing::PetitionEvent("DT-RL-1", 1, "received");
  ev["data"].erase("petition_kind");
  ev["data"]["title"] = "Phản ánh thái độ cán bộ";
  ev["data"]["content"] = staff;
  ASSERT_EQ(engine_->Submit(ev.dump()).result["outcome"], "accepted");
  ASSERT_EQ(Q({{"op", "tagging.status"}})["rules_version"], "2026.1");
  json next = base_;
  next["tagging"] = {{"rules_file", RulePackV2()}};
  auto r = Reload(next);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()["effects"]["retag"]["version"], "2023.2");
  WaitRetag();
  auto status = Q({{"op", "tagging.status"}});
  EXPECT_EQ(status["rules_version"], "2023.2");
  EXPECT_EQ(status["processed"], 1);
  auto rec = Q({{"op", "record.get"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-RL-1"}});
  for (const auto& t : rec["record"]["tags"]) EXPECT_EQ(t["rules_version"], "2023.2") << t.dump();
  // The same document again changes nothing and re-tags nothing.
  r = Reload(next);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()["changed"], json::array());
  EXPECT_FALSE(r.value()["effects"].contains("retag"));
}

TEST_F(ConfigReloadTest, ACalendarChangeReevaluatesDeadlinesLive) {
  const auto cal_dir = dir_.path() / "calendar";
  std::filesystem::create_directories(cal_dir);
  for (const auto& f : std::filesystem::directory_iterator(std::string(DANVAN_SOURCE_ROOT) + "/config/calendar"))
    std::filesystem::copy_file(f.path(), cal_dir / f.path().filename());
  ASSERT_EQ(engine_->Submit(testing::PetitionEvent("DT-RL-CAL", 1, "received").dump()).result["outcome"], "accepted");
  auto due = [&]() -> std::string {
    auto got = Q({{"op", "record.get"}, {"source", "motcua-hp"}, {"kind", "petition"}, {"id", "DT-RL-CAL"}});
    for (const auto& s : got["record"]["deadline"]["steps"])
      if (s["rule_id"] == "complaint.intake") return s.value("due", "").substr(0, 10);
    return "";
  };
  const std::string before = due();
  ASSERT_FALSE(before.empty());
  // The same calendar from another directory: nothing to re-evaluate.
  json next = base_;
  next["calendar"] = {{"dir", cal_dir.string()}};
  ASSERT_TRUE(Reload(next).ok());
  // The copy gains a holiday on the due day: the stored petition's deadline moves.
  json cal = json::parse(std::ifstream(cal_dir / "2023.json"));
  cal["days"].push_back({{"date", before}, {"type", "holiday"}, {"name", "Ngày nghỉ thêm (thử nghiệm)"},
                         {"source", "test"}});
  std::ofstream(cal_dir / "2023.json") << cal.dump(1);
  auto r = Reload(next);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r.value()["effects"].contains("reevaluate_deadlines")) << r.value().dump();
  json status;
  for (int i = 0; i < 500; ++i) {
    status = Q({{"op", "deadlines.status"}});
    if (!status["reevaluation"]["running"].get<bool>()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(status["reevaluation"]["done"], 1) << status.dump();
  EXPECT_GT(due(), before);
}

// 4 threads submit and query while the configuration is reloaded 50 times (the scan interval
// and the log level alternate at every reload, the rule pack every 10: each change of pack
// re-tags every record while the threads go on): every submit is answered, nothing is lost,
// and the configuration in force is always one of the documents.
TEST_F(ConfigReloadTest, FourThreadsSubmitAndQueryWhileReloading50Times) {
  const std::string v2 = RulePackV2();
  auto doc = [&](int i) {
    json d = base_;
    if (i % 2) {
      d["deadlines"] = {{"scan_interval_ms", 50}};
      d["log"] = {{"level", "debug"}};
    }
    if ((i / 10) % 2) d["tagging"] = {{"rules_file", v2}};
    return d;
  };
  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load() || i < 20; ++i) {
        auto ev = (i % 2) ? testing::PetitionEvent("DT-CC-" + std::to_string(t) + "-" + std::to_string(i), 1, "received")
                          : testing::DossierEvent("000.20.31.H31-CC-" + std::to_string(t) + "-" + std::to_string(i), 1, "2");
        auto s = engine_->Submit(ev.dump());
        if (s.status.ok() && s.result["outcome"] == "accepted") ++accepted;
        else if (s.status.code() != Status::Code::kRetryLater) ++failures;
        auto q = engine_->Query(R"({"op":"indicators","unit":"SGDDT","period":{"kind":"year","year":2023}})");
        if (!q.ok()) ++failures;
        if (!engine_->Query(R"({"op":"config.show"})").ok()) ++failures;
        if (i > 2000) break;
      }
    });
  }
  std::set<std::string> shas;
  for (int i = 0; i < 50; ++i) {
    auto r = Reload(doc(i));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    shas.insert(r.value()["after_sha256"].get<std::string>());
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(shas.size(), 4u);
  EXPECT_TRUE(shas.count(Sha()));
  WaitRetag();
  EXPECT_EQ(Q({{"op", "stats"}})["records"], accepted.load());
  EXPECT_EQ(Q({{"op", "tagging.status"}})["rules_version"], "2026.1");  // doc(49): the shipped pack
  auto audit = Q({{"op", "audit.list"}, {"filter_op", "config.reload"}, {"limit", 1000}});
  EXPECT_EQ(audit["items"].size(), 50u);
}

// Reloads racing start/stop from other threads, then close while the last reload's re-tagging
// runs: no deadlock, no crash, close joins the background work.
TEST_F(ConfigReloadTest, ReloadRacingStartStopAndClose) {
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(engine_->Submit(testing::PetitionEvent("DT-RS-" + std::to_string(i), 1, "received").dump()).status.ok());
  json a = base_, b = base_;
  b["tagging"] = {{"rules_file", RulePackV2()}};
  std::atomic<bool> stop{false};
  std::thread lifecycle([&] {
    while (!stop.load()) {
      (void)engine_->Start();
      (void)engine_->Stop(2000);
    }
  });
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Reload(i % 2 ? a : b).ok()) << i;
  stop = true;
  lifecycle.join();
  ASSERT_TRUE(Reload(b).ok());  // starts a re-tagging of 200 records
  const auto t0 = std::chrono::steady_clock::now();
  engine_.reset();  // close
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  // The store opens again with the configuration of the file (reload does not write it).
  engine_ = testing::OpenEngine(base_.dump());
  EXPECT_EQ(Q({{"op", "stats"}})["records"], 200);
}

TEST_F(ConfigReloadTest, AdministrativeOpsAreAuditedAndListedByPage) {
  // Refused ops are audited too, with their errors; the actor is validated first.
  auto r = engine_->Query(R"({"op":"outbox.resend","id":987654,"actor":"Trần Thị Hoa"})");
  EXPECT_FALSE(r.ok());
  r = engine_->Query(R"({"op":"outbox.mappings.set","mappings":{"units":{"SGDDT.VP":"000.00.20.H31"},"procedures":{}}})");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  auto bad_actor = engine_->Query(json{{"op", "outbox.mappings.set"}, {"mappings", json::object()},
                                       {"actor", "a\u0001b"}}.dump());
  EXPECT_EQ(bad_actor.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(bad_actor.status().message().find("/actor"), std::string::npos);
  r = engine_->Query(R"({"op":"tagging.reload"})");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  WaitRetag();
  // Reads are not audited.
  Q({{"op", "stats"}});
  Q({{"op", "tags.review"}, {"action", "list"}});

  auto all = Q({{"op", "audit.list"}});
  ASSERT_EQ(all["items"].size(), 3u) << all.dump();
  EXPECT_EQ(all["items"][0]["op"], "tagging.reload");  // newest first
  EXPECT_EQ(all["items"][0]["actor"], "host");
  EXPECT_EQ(all["items"][1]["op"], "outbox.mappings.set");
  EXPECT_EQ(all["items"][1]["details"]["units"], 1);
  EXPECT_EQ(all["items"][2]["op"], "outbox.resend");
  EXPECT_EQ(all["items"][2]["actor"], "Trần Thị Hoa");
  EXPECT_EQ(all["items"][2]["outcome"], "error");
  EXPECT_EQ(all["items"][2]["status"], "not_found");
  EXPECT_EQ(all["items"][2]["details"]["id"], 987654);
  // Pages.
  auto page1 = Q({{"op", "audit.list"}, {"limit", 2}});
  ASSERT_EQ(page1["items"].size(), 2u);
  auto page2 = Q({{"op", "audit.list"}, {"limit", 2}, {"before_id", page1["next_before_id"]}});
  ASSERT_EQ(page2["items"].size(), 1u);
  EXPECT_EQ(page2["items"][0]["op"], "outbox.resend");
  EXPECT_TRUE(page2["next_before_id"].is_null());
  EXPECT_EQ(engine_->Query(R"({"op":"audit.list","limit":0})").status().code(), Status::Code::kInvalidInput);
  EXPECT_EQ(engine_->Query(R"({"op":"audit.list","limit":1001})").status().code(), Status::Code::kInvalidInput);
  // Durable: the trail is in the store.
  engine_.reset();
  engine_ = testing::OpenEngine(base_.dump());
  EXPECT_EQ(Q({{"op", "audit.list"}})["items"].size(), 3u);
}

// Secrets stay references: neither config.show nor the audit trail holds a secret's value.
TEST_F(ConfigReloadTest, NoSecretInConfigShowOrAudit) {
  setenv("DANVAN_TEST_RELOAD_PASSWORD", "mat-khau-bi-mat-42", 1);
  json next = base_;
  next["portal"] = {{"style", "envelope"}, {"base_url", "https://localhost:1"},
                    {"envelope", {{"username", "danvan"}, {"password_env", "DANVAN_TEST_RELOAD_PASSWORD"},
                                  {"dstcode", "VN:GOV:H26"}}}};
  // Turning export on needs a restart: refused, naming /portal.
  auto r = Reload(next);
  ASSERT_EQ(r.status().code(), Status::Code::kInvalidInput);
  EXPECT_EQ(Errors(r.status())["/portal"], "config.not_live") << r.status().message();
  EXPECT_EQ(r.status().message().find("mat-khau-bi-mat-42"), std::string::npos);
  // Opened with the portal, a reload of its settings is applied.
  engine_.reset();
  engine_ = testing::OpenEngine(next.dump());
  next["portal"]["read_timeout_ms"] = 1234;
  r = Reload(next);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()["changed"], json::array({"/portal/read_timeout_ms"}));
  const std::string shown = Q({{"op", "config.show"}}).dump();
  EXPECT_NE(shown.find("DANVAN_TEST_RELOAD_PASSWORD"), std::string::npos);
  EXPECT_EQ(shown.find("mat-khau-bi-mat-42"), std::string::npos);
  EXPECT_EQ(Q({{"op", "audit.list"}}).dump().find("mat-khau-bi-mat-42"), std::string::npos);
}

}  // namespace
}  // namespace danvan
