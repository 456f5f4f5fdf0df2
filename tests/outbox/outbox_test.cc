// The export pipeline end to end: engine -> outbox -> HTTPS -> portal stand-in, with the
// stand-in misbehaving on purpose. Each test asserts the items' final state in the store and
// what the stand-in received. Every test runs against the stand-in's two modes: "Lenient"
// (answers item by item, honours Idempotency-Key) and "Strict" (the published protocol at its
// strictest: one answer per call, all or nothing, no idempotency, the portal's field limits;
// tools/portal-standin/README.md "Strict mode"), which is what the plugin must not rely on.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/timeutil.h"
#include "engine/test_support.h"
#include "portal/portal_config.h"
#include "portal/portal_http_client.h"
#include "standin_process.h"
#include "test_pki.h"

namespace danvan {
namespace {

using nlohmann::json;
using testing::GetTestPki;
using testing::StandinProcess;
using testing::TempDir;

constexpr const char* kPassword = "mat-khau-thu-nghiem-2023";
constexpr const char* kPortalUnit = "000.00.20.H26";

json DossierData(const std::string& id, const std::string& status, const std::string& unit_proc = "1.005090") {
  json d = {{"MaHoSo", id},
            {"MaTTHC", unit_proc},
            {"TenTTHC", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"},
            {"KenhThucHien", "2"},
            {"ChuHoSo", "Phạm Thị Thu Hương"},
            {"LoaiDoiTuong", "1"},
            {"SoDienThoai", "0912345678"},
            {"TrichYeuHoSo", "Đề nghị cấp bản sao bằng tốt nghiệp THPT năm 2015"},
            {"NgayTiepNhan", "20230301083000"},
            {"NgayHenTra", "20230306170000"},
            {"TrangThaiHoSo", status},
            {"NgayKetThucXuLy", status == "9" || status == "10" ? "20230303100000" : ""}};
  return d;
}

json Event(const std::string& id, int version, const std::string& status, const std::string& time) {
  return {{"kind", "dossier"}, {"source", "motcua-hp"}, {"id", id}, {"unit", "SGDDT.VP"},
          {"version", version}, {"event_time", time}, {"data", DossierData(id, status)}};
}

class OutboxTest : public ::testing::TestWithParam<bool> {
 protected:
  bool strict() const { return GetParam(); }

  // Stand-in arguments for the mode under test, plus `extra`.
  std::vector<std::string> StandinArgs(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"--style", "both", "--username", "danvan", "--dstcode", "VN:GOV:H26"};
    if (strict()) a.push_back("--strict");
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  void StartStandin(std::vector<std::string> extra = {}) {
    const auto& pki = GetTestPki();
    standin_ = std::make_unique<StandinProcess>(
        pki.server_cert, pki.server_key, StandinArgs(std::move(extra)),
        std::vector<std::string>{std::string("DANVAN_STANDIN_PASSWORD=") + kPassword});
    ASSERT_TRUE(standin_->started()) << standin_->stderr_text();
  }

  void SetUp() override {
    StartStandin();
    setenv("DANVAN_TEST_OUTBOX_PASSWORD", kPassword, 1);
  }

  json Config(json outbox = json::object()) {
    json o = {{"backoff_base_ms", 20}, {"backoff_cap_ms", 200}, {"poll_interval_ms", 10},
              {"held_retry_ms", 100000}, {"derived_step_delay_ms", 50},
              {"mappings", {{"units", {{"SGDDT.VP", kPortalUnit}}},
                            {"procedures", {{"1.005090", "1.005090"}}}}}};
    o.update(outbox);
    return {{"portal",
             {{"style", "envelope"},
              {"base_url", standin_->url()},
              {"default_madonvi", kPortalUnit},
              {"connect_timeout_ms", 2000},
              {"read_timeout_ms", 2000},
              {"tls", {{"ca_file", GetTestPki().ca_cert}}},
              {"envelope", {{"username", "danvan"}, {"password_env", "DANVAN_TEST_OUTBOX_PASSWORD"},
                            {"dstcode", "VN:GOV:H26"}}}}},
            {"outbox", o}};
  }

  void Open(json extra) {
    engine_ = testing::OpenEngine(testing::ConfigFor(dir_.path() / "o.sqlite", extra));
  }

  json Q(const json& req) {
    auto r = engine_->Query(req.dump());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : json();
  }

  // Waits until the queue has no pending item (or the time runs out).
  bool Drain(int seconds = 30) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < until) {
      json s = Q({{"op", "outbox.status"}});
      if (s["queue"].value("pending", 0) == 0 && s["queue"].value("held", 0) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // Waits until pred(outbox.status) holds (or the time runs out); returns the last status.
  json WaitStatus(const std::function<bool(const json&)>& pred, int seconds = 30) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    json s;
    while (std::chrono::steady_clock::now() < until) {
      s = Q({{"op", "outbox.status"}});
      if (pred(s)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return s;
  }

  // Calls of `service` the stand-in received (each once, whatever its outcome).
  int64_t Calls(const std::string& service) {
    int64_t n = 0;
    const json calls = standin_->Get("/_control/calls");
    for (const auto& c : calls) n += c.value("service", "") == service;
    return n;
  }

  static int64_t Requests(const json& stats, const std::string& service) {
    int64_t n = 0;
    if (!stats["requests"].contains(service)) return 0;
    for (const auto& [k, v] : stats["requests"][service].items()) n += v.get<int64_t>();
    return n;
  }

  void SubmitLifecycle(const std::string& id) {
    ASSERT_EQ(engine_->Submit(Event(id, 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
    ASSERT_EQ(engine_->Submit(Event(id, 2, "4", "2023-03-01T14:00:00+07:00").dump()).result["outcome"], "accepted");
    ASSERT_EQ(engine_->Submit(Event(id, 3, "9", "2023-03-03T10:00:00+07:00").dump()).result["outcome"], "accepted");
  }

  TempDir dir_;
  std::unique_ptr<StandinProcess> standin_;
  std::unique_ptr<Engine> engine_;
};

TEST_P(OutboxTest, ExportsDossierAndEveryStatusInOrderOnce) {
  Open(Config());
  SubmitLifecycle("H26.20-230301-0001");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json received = standin_->Received();
  ASSERT_TRUE(received["dossiers"].contains("H26.20-230301-0001")) << received.dump();
  EXPECT_EQ(received["dossiers"]["H26.20-230301-0001"]["item"]["TrangThaiHoSo"], "9");
  EXPECT_EQ(received["dossiers"]["H26.20-230301-0001"]["unit"], kPortalUnit);
  std::vector<std::string> statuses;
  for (const auto& p : received["progress"]) {
    EXPECT_FALSE(p["duplicate"].get<bool>());
    EXPECT_FALSE(p["out_of_order"].get<bool>());
    statuses.push_back(p["item"]["TrangThai"]);
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"2", "4", "9"}));
  json status = Q({{"op", "outbox.status"}});
  // Every item done (dossier versions a later one superseded included), none left or dead.
  EXPECT_GE(status["queue"].value("done", 0), 4) << status.dump();
  EXPECT_EQ(status["queue"].value("pending", 0), 0);
  EXPECT_EQ(status["dead_letters"], 0);
  EXPECT_EQ(status["residual"]["steps_resent_after_ambiguity"], 0);
  json verify = Q({{"op", "exportlog.verify"}});
  EXPECT_TRUE(verify["valid"].get<bool>()) << verify.dump();
  EXPECT_GE(verify["entries"].get<int>(), 2);
  // The synced-dossier indicator follows the portal's confirmation.
  json ind = Q({{"op", "indicators"}, {"unit", "SGDDT"}, {"period", {{"kind", "month"}, {"year", 2023}, {"month", 3}}},
                {"ids", {"idx766.synced"}}});
  EXPECT_EQ(ind["indicators"][0]["numerator"], 1) << ind.dump();
}

TEST_P(OutboxTest, AlreadyExistsBecomesUpdate) {
  Open(Config());
  // The portal already has the dossier (sent by another system earlier).
  ASSERT_EQ(engine_->Submit(Event("H26.20-230301-0002", 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  ASSERT_TRUE(engine_->Stop(5000).ok());
  // A second engine on a fresh database does not know it was synced: create -> "đã tồn tại".
  TempDir other;
  auto second = testing::OpenEngine(testing::ConfigFor(other.path() / "o2.sqlite", Config()));
  ASSERT_EQ(second->Submit(Event("H26.20-230301-0002", 5, "4", "2023-03-02T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(second->Start().ok());
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until &&
         second->Query(R"({"op":"outbox.status"})").value()["queue"].value("pending", 0) > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  json d = standin_->Received()["dossiers"]["H26.20-230301-0002"];
  EXPECT_EQ(d["creates"], 1);
  EXPECT_GE(d["updates"].get<int>(), 1) << second->Query(R"({"op":"outbox.status"})").value().dump()
                                         << standin_->Get("/_control/calls").dump();
  EXPECT_EQ(d["duplicate_creates"], 1);
  EXPECT_EQ(d["item"]["TrangThaiHoSo"], "4");
  EXPECT_EQ(second->Query(R"({"op":"outbox.status"})").value()["dead_letters"], 0);
}

TEST_P(OutboxTest, RetryableErrorsBackOffThenSucceed) {
  standin_->Faults({{"fail_next", 3}, {"fail_status", 503}});
  Open(Config());
  SubmitLifecycle("H26.20-230301-0003");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  EXPECT_EQ(standin_->Received()["dossiers"]["H26.20-230301-0003"]["item"]["TrangThaiHoSo"], "9");
  EXPECT_EQ(standin_->Received()["progress"].size(), 3u);
  json status = Q({{"op", "outbox.status"}});
  EXPECT_EQ(status["dead_letters"], 0);
  EXPECT_TRUE(Q({{"op", "exportlog.verify"}})["valid"].get<bool>());
}

TEST_P(OutboxTest, TooManyRequestsHonoursRetryAfter) {
  standin_->Faults({{"fail_next", 1}, {"fail_status", 429}, {"retry_after", "1"}});
  Open(Config());
  ASSERT_EQ(engine_->Submit(Event("H26.20-230301-0004", 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  // Backoff is capped at 200 ms in this config: only Retry-After explains a wait of ~1 s.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  EXPECT_TRUE(standin_->Received()["dossiers"].contains("H26.20-230301-0004"));
}

TEST_P(OutboxTest, DroppedConnectionsAndLostResponsesLeaveOnlyCountedDuplicates) {
  // A connection dropped before the portal applied the call, then two answers lost after it did.
  standin_->Faults({{"drop_next", 1}, {"drop_after_apply_next", 2}});
  Open(Config());
  SubmitLifecycle("H26.20-230301-0005");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json stats = standin_->Stats();
  json status = Q({{"op", "outbox.status"}});
  // No idempotency is relied on: a step whose answer was lost may be applied twice, but only
  // such a step, and every one is counted.
  EXPECT_LE(stats["duplicate_steps"].get<int>(), status["residual"]["steps_resent_after_ambiguity"].get<int>())
      << stats.dump() << status.dump();
  EXPECT_EQ(stats["out_of_order_steps"], 0) << stats.dump();
  json d = standin_->Received()["dossiers"]["H26.20-230301-0005"];
  EXPECT_EQ(d["item"]["TrangThaiHoSo"], "9");
  // A create whose answer was lost is looked up, not sent again ("đã tồn tại" never seen).
  EXPECT_EQ(d["duplicate_creates"], 0) << d.dump();
  EXPECT_EQ(status["dead_letters"], 0);
}

TEST_P(OutboxTest, ExpiredSessionMidBatchLogsInAgain) {
  Open(Config());
  SubmitLifecycle("H26.20-230301-0006");
  standin_->Faults({{"expire_sessions_after", 1}});
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  EXPECT_GE(standin_->Stats()["logins"].get<int>(), 2);
  EXPECT_EQ(standin_->Received()["progress"].size(), 3u);
  EXPECT_EQ(Q({{"op", "outbox.status"}})["dead_letters"], 0);
}

TEST_P(OutboxTest, PermanentErrorGoesToDeadLetterAndResendDelivers) {
  standin_->Faults({{"fail_next", 1}, {"fail_status", 400}});
  Open(Config());
  ASSERT_EQ(engine_->Submit(Event("H26.20-230301-0007", 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  json dead;
  while (std::chrono::steady_clock::now() < until) {
    dead = Q({{"op", "outbox.dead_letters"}});
    if (!dead["items"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(dead["items"].size(), 1u) << dead.dump();
  EXPECT_EQ(dead["items"][0]["op"], "dossier");
  EXPECT_NE(dead["items"][0]["last_error"].get<std::string>().find("400"), std::string::npos);
  // The later progress step waits behind the dead dossier: order is never broken.
  EXPECT_FALSE(standin_->Received()["dossiers"].contains("H26.20-230301-0007"));
  EXPECT_EQ(standin_->Received()["progress"].size(), 0u);
  Q({{"op", "outbox.resend"}, {"id", dead["items"][0]["id"]}});
  ASSERT_TRUE(Drain());
  EXPECT_TRUE(standin_->Received()["dossiers"].contains("H26.20-230301-0007"));
  EXPECT_EQ(standin_->Received()["progress"].size(), 1u);
  EXPECT_EQ(Q({{"op", "outbox.status"}})["dead_letters"], 0);
}

TEST_P(OutboxTest, MissingMappingHoldsTheRecordUntilAdded) {
  json cfg = Config();
  cfg["outbox"]["mappings"]["units"] = json::object();  // no unit mapping
  Open(cfg);
  ASSERT_EQ(engine_->Submit(Event("H26.20-230301-0008", 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  json status;
  while (std::chrono::steady_clock::now() < until) {
    status = Q({{"op", "outbox.status"}});
    if (status["queue"].value("held", 0) > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(status["queue"].value("held", 0), 0) << status.dump();
  EXPECT_NE(status["last_error"]["message"].get<std::string>().find("SGDDT.VP"), std::string::npos) << status.dump();
  EXPECT_EQ(standin_->Stats()["dossiers"], 0);
  Q({{"op", "outbox.mappings.set"},
     {"mappings", {{"units", {{"SGDDT.VP", kPortalUnit}}}, {"procedures", {{"1.005090", "1.005090"}}}}}});
  ASSERT_TRUE(Drain());
  EXPECT_TRUE(standin_->Received()["dossiers"].contains("H26.20-230301-0008"));
}

TEST_P(OutboxTest, BackPressureAnswersRetryLater) {
  Open(Config({{"max_queued", 3}}));
  // Not started: nothing drains the queue. Each lifecycle event enqueues a dossier item (once
  // while waiting) and a progress step.
  EXPECT_EQ(engine_->Submit(Event("H26.20-230301-0009", 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  EXPECT_EQ(engine_->Submit(Event("H26.20-230301-0009", 2, "4", "2023-03-01T14:00:00+07:00").dump()).result["outcome"], "accepted");
  auto a = engine_->Submit(Event("H26.20-230301-0010", 1, "2", "2023-03-01T08:30:00+07:00").dump());
  EXPECT_EQ(a.status.code(), Status::Code::kRetryLater);
  EXPECT_EQ(a.result["outcome"], "retry_later");
  // Nothing of the refused event was stored.
  auto got = engine_->Query(R"({"op":"record.get","source":"motcua-hp","kind":"dossier","id":"H26.20-230301-0010"})");
  EXPECT_EQ(got.status().code(), Status::Code::kNotFound);
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  EXPECT_EQ(engine_->Submit(Event("H26.20-230301-0010", 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
}

TEST_P(OutboxTest, ExportLogChainDetectsAlteredAndDeletedEntries) {
  Open(Config());
  SubmitLifecycle("H26.20-230301-0011");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  ASSERT_TRUE(engine_->Stop(5000).ok());
  ASSERT_TRUE(Q({{"op", "exportlog.verify"}})["valid"].get<bool>());
  const std::string db = (dir_.path() / "o.sqlite").string();
  auto exec = [&](const char* sql) { ASSERT_NO_THROW(testing::ExecStoreSql(db, sql)) << sql; };
  // Two exchanges: the dossier (seq 1) and its three steps in one call (seq 2).
  exec("UPDATE export_log SET response_summary = replace(response_summary, '0', '1') WHERE seq = 1");
  json v = Q({{"op", "exportlog.verify"}});
  EXPECT_FALSE(v["valid"].get<bool>());
  ASSERT_FALSE(v["problems"].empty());
  EXPECT_EQ(v["problems"][0]["seq"], 1) << v.dump();
  exec("DELETE FROM export_log WHERE seq = 1");
  v = Q({{"op", "exportlog.verify"}});
  EXPECT_FALSE(v["valid"].get<bool>());
  EXPECT_EQ(v["problems"][0]["seq"], 2) << v.dump();  // the entry after the gap
  exec("DELETE FROM export_log WHERE seq = (SELECT max(seq) FROM export_log)");  // the newest
  v = Q({{"op", "exportlog.verify"}});
  EXPECT_FALSE(v["valid"].get<bool>()) << v.dump();
  EXPECT_EQ(v["problems"].back()["problem"].get<std::string>().find("các mục cuối"), 0u) << v.dump();
}

TEST_P(OutboxTest, ReconciliationRequeuesWhatThePortalLost) {
  Open(Config());
  SubmitLifecycle("H26.20-230301-0012");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  standin_->Reset();  // the portal lost everything
  Q({{"op", "outbox.reconcile"}});
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until &&
         !standin_->Received()["dossiers"].contains("H26.20-230301-0012"))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(Drain());
  json r = standin_->Received();
  EXPECT_TRUE(r["dossiers"].contains("H26.20-230301-0012"));
  EXPECT_EQ(r["progress"].size(), 3u);
  EXPECT_EQ(Q({{"op", "outbox.status"}})["last_reconcile"]["missing_requeued"], 1);
}

// LayThuTuc feeds the procedure catalogue used by the deadline rules: the portal's processing
// time replaces the shipped one, the stored dossiers of that procedure are re-evaluated, and the
// fetched details survive a restart.
TEST_P(OutboxTest, ProcedureRefreshFromLayThuTucUpdatesDeadlines) {
  const auto procedures = dir_.path() / "portal-procedures.json";
  {
    std::ofstream out(procedures);
    out << json{{"procedures",
                 {{{"MaTTHC", "1.005090"}, {"TenTTHC", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"},
                   {"MaLinhVuc", "G09-VB"}, {"TenLinhVuc", "Hệ thống văn bằng, chứng chỉ"},
                   {"CoQuanThucHien", "Sở Giáo dục và Đào tạo"}, {"ThoiGianGiaiQuyet", "3"},
                   {"DonViThoiGian", "Ngày làm việc"}, {"MucDo", "4"}, {"PhiLePhi", json::array()}}}}}
               .dump();
  }
  StartStandin({"--procedures", procedures.string()});
  Open(Config());
  // A dossier without NgayHenTra: its due date comes from the catalogue.
  json ev = Event("H26.20-230301-0031", 1, "4", "2023-03-01T08:30:00+07:00");
  ev["data"].erase("NgayHenTra");
  ASSERT_EQ(engine_->Submit(ev.dump()).result["outcome"], "accepted");
  const json before = Q({{"op", "record.get"}, {"source", "motcua-hp"}, {"kind", "dossier"},
                         {"id", "H26.20-230301-0031"}})["record"]["deadline"];
  EXPECT_EQ(Q({{"op", "procedures.get"}, {"code", "1.005090"}})["processing_time"]["unit"], "hours");

  // Bad requests are refused with the field named.
  auto empty = engine_->Query(json({{"op", "procedures.refresh"}, {"codes", json::array()}}).dump());
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("/codes"), std::string::npos) << empty.status().message();
  auto unknown = engine_->Query(json({{"op", "procedures.get"}, {"code", "9.999999"}}).dump());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Status::Code::kNotFound);

  ASSERT_TRUE(engine_->Start().ok());
  json req = Q({{"op", "procedures.refresh"}, {"codes", {"1.005090", "9.999999"}}});
  EXPECT_TRUE(req["scheduled"].get<bool>());
  json status;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    status = Q({{"op", "procedures.status"}});
    if (!status["last"].is_null() && !status["pending"].get<bool>()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(status["last"].is_null()) << status.dump();
  EXPECT_EQ(status["last"]["fetched"], 1) << status.dump();
  ASSERT_EQ(status["last"]["failures"].size(), 1u) << status.dump();
  EXPECT_EQ(status["last"]["failures"][0]["code"], "9.999999");
  EXPECT_EQ(status["last"]["merge"]["changed"], json::array({"1.005090"})) << status.dump();
  EXPECT_EQ(status["last"]["merge"]["reevaluated"], 1) << status.dump();
  json proc = Q({{"op", "procedures.get"}, {"code", "1.005090"}});
  EXPECT_EQ(proc["processing_time"]["value"], 3) << proc.dump();
  EXPECT_EQ(proc["processing_time"]["unit"], "working_days") << proc.dump();
  const json after = Q({{"op", "record.get"}, {"source", "motcua-hp"}, {"kind", "dossier"},
                        {"id", "H26.20-230301-0031"}})["record"]["deadline"];
  ASSERT_TRUE(before.is_object()) << before.dump();
  EXPECT_NE(after, before) << after.dump();
  EXPECT_EQ(Requests(standin_->Stats(), "LayThuTuc"), 2);

  // The fetched details are kept and applied again at the next open.
  engine_.reset();
  Open(Config());
  EXPECT_EQ(Q({{"op", "procedures.get"}, {"code", "1.005090"}})["processing_time"]["unit"], "working_days");
}

TEST_P(OutboxTest, MultiDossierCallSettlesEachDossierAlone) {
  // The portal already has A (sent earlier by another system); it refuses C by a business rule.
  const std::string a = "H26.20-230301-0021", b = "H26.20-230301-0022", c = "H26.20-230301-0023",
                    d = "H26.20-230301-0024";
  Open(Config());
  ASSERT_EQ(engine_->Submit(Event(a, 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  ASSERT_TRUE(engine_->Stop(5000).ok());
  engine_.reset();
  const json before = standin_->Stats();
  standin_->Faults({{"reject_items", {c}}});
  // A fresh database does not know A was synced: A goes as create in the same call as B, C, D.
  TempDir other;
  engine_ = testing::OpenEngine(testing::ConfigFor(other.path() / "o2.sqlite",
                                                   Config({{"dossiers_per_call", 10}, {"derived_step_delay_ms", 0}})));
  ASSERT_EQ(engine_->Submit(Event(a, 5, "4", "2023-03-02T08:30:00+07:00").dump()).result["outcome"], "accepted");
  for (const auto& id : {b, c, d})
    ASSERT_EQ(engine_->Submit(Event(id, 1, "2", "2023-03-01T09:00:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  // Left: C's dossier item dead, C's progress step waiting behind it.
  json status = WaitStatus([](const json& s) {
    return s["dead_letters"] == 1 && s["queue"].value("pending", 0) == 1 && s["queue"].value("done", 0) == 6;
  });
  ASSERT_EQ(status["dead_letters"], 1) << status.dump();
  ASSERT_EQ(status["queue"].value("done", 0), 6) << status.dump();
  json dead = Q({{"op", "outbox.dead_letters"}});
  ASSERT_EQ(dead["items"].size(), 1u) << dead.dump();
  EXPECT_EQ(dead["items"][0]["record_id"], c);
  EXPECT_EQ(dead["items"][0]["op"], "dossier");
  EXPECT_NE(dead["items"][0]["last_error"].get<std::string>().find("-1"), std::string::npos) << dead.dump();
  json received = standin_->Received();
  // A: "already exists" -> updated alone; B and D created once; C not applied.
  EXPECT_EQ(received["dossiers"][a]["creates"], 1);
  EXPECT_EQ(received["dossiers"][a]["duplicate_creates"], 1);
  EXPECT_EQ(received["dossiers"][a]["updates"], 1);
  EXPECT_EQ(received["dossiers"][a]["item"]["TrangThaiHoSo"], "4");
  for (const auto& id : {b, d}) {
    EXPECT_EQ(received["dossiers"][id]["creates"], 1) << id;
    EXPECT_EQ(received["dossiers"][id]["updates"], 0) << id;
  }
  EXPECT_FALSE(received["dossiers"].contains(c));
  std::set<std::string> stepped;
  for (const auto& p : received["progress"]) {
    EXPECT_FALSE(p["duplicate"].get<bool>());
    stepped.insert(p["MaHoSo"].get<std::string>());
  }
  EXPECT_EQ(stepped, (std::set<std::string>{a, b, d}));
  // Lenient (per-item answers): one create call for the four dossiers and one update call for A
  // alone. Strict (one answer per call, the first offender named as data[i], nothing applied):
  // the create call is refused for A ("-3 ... data[0]": A goes as an update alone), the other
  // three again (refused for C, data[1]: C dead-lettered alone), then B and D together.
  // One progress call for the steps of A, B and D either way.
  json stats = standin_->Stats();
  EXPECT_EQ(Requests(stats, "DongBoHoSoMC") - Requests(before, "DongBoHoSoMC"), strict() ? 4 : 2)
      << stats.dump();
  EXPECT_EQ(Requests(stats, "CapNhatTienDoHoSoMC") - Requests(before, "CapNhatTienDoHoSoMC"), 1) << stats.dump();
  EXPECT_TRUE(Q({{"op", "exportlog.verify"}})["valid"].get<bool>());
  // The portal accepts C once the rule no longer applies: re-send from the dead letters.
  standin_->Faults({{"reject_items", json::array()}});
  Q({{"op", "outbox.resend"}, {"id", dead["items"][0]["id"]}});
  ASSERT_TRUE(Drain());
  received = standin_->Received();
  EXPECT_EQ(received["dossiers"][c]["creates"], 1);
  size_t c_steps = 0;
  for (const auto& p : received["progress"]) c_steps += p["MaHoSo"] == c;
  EXPECT_EQ(c_steps, 1u);
  EXPECT_EQ(Q({{"op", "outbox.status"}})["dead_letters"], 0);
}

TEST_P(OutboxTest, RetriedMultiDossierBatchKeepsOrderAndCountsItsDuplicates) {
  // Every call's first answers are lost after the portal applied it: the dossiers are looked up
  // (TraCuuHoSo) instead of created again; the steps go again one per call, each counted as a
  // possible duplicate; order per dossier holds and nothing is lost.
  Open(Config({{"dossiers_per_call", 10}}));
  const std::vector<std::string> ids = {"H26.20-230301-0031", "H26.20-230301-0032", "H26.20-230301-0033"};
  for (const auto& id : ids) SubmitLifecycle(id);
  standin_->Faults({{"drop_after_apply_next", 4}});
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json received = standin_->Received();
  for (const auto& id : ids) {
    ASSERT_TRUE(received["dossiers"].contains(id)) << id;
    EXPECT_EQ(received["dossiers"][id]["creates"], 1) << id;
    EXPECT_EQ(received["dossiers"][id]["duplicate_creates"], 0) << id;
    EXPECT_EQ(received["dossiers"][id]["item"]["TrangThaiHoSo"], "9") << id;
  }
  std::map<std::string, std::vector<std::string>> per;
  for (const auto& p : received["progress"]) {
    EXPECT_FALSE(p["out_of_order"].get<bool>());
    auto& v = per[p["MaHoSo"]];
    if (p["duplicate"].get<bool>()) continue;
    v.push_back(p["item"]["TrangThai"]);
  }
  for (const auto& id : ids) EXPECT_EQ(per[id], (std::vector<std::string>{"2", "4", "9"})) << id;
  json stats = standin_->Stats();
  json status = Q({{"op", "outbox.status"}});
  EXPECT_LE(stats["duplicate_steps"].get<int>(), status["residual"]["steps_resent_after_ambiguity"].get<int>())
      << stats.dump() << status.dump();
  EXPECT_GE(status["residual"]["dossier_lookups_after_ambiguity"].get<int>(), 1) << status.dump();
  EXPECT_EQ(status["dead_letters"], 0);
}

TEST_P(OutboxTest, RegroupedRetryIsAppliedOncePerDossier) {
  // The lenient stand-in's per-dossier idempotency keys (a gateway that honours them applies
  // each dossier's part once whatever batch it comes back in). The strict portal has none.
  if (strict()) GTEST_SKIP() << "the strict portal ignores Idempotency-Key";
  auto cfg = ParsePortalConfig(Config()["portal"]);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  auto client_or = MakePortalClient(cfg.value());
  ASSERT_TRUE(client_or.ok()) << client_or.status().ToString();
  auto& client = *client_or.value();
  auto step = [](const std::string& id, const std::string& st, const std::string& at) {
    return json{{"MaHoSo", id}, {"NguoiXuLy", "Nguyễn Văn An"}, {"ChucDanh", "Chuyên viên"},
                {"ThoiDiemXuLy", at}, {"PhongBanXuLy", "Văn phòng Sở"},
                {"NoiDungXuLy", "Chuyển xử lý"}, {"TrangThai", st}, {"NgayBatDau", at},
                {"NgayKetThucTheoQuyDinh", ""}};
  };
  const std::string a = "H26.20-230301-0041", b = "H26.20-230301-0042", c = "H26.20-230301-0043";
  std::vector<json> dossiers;
  for (const auto& id : {a, b, c}) dossiers.push_back(DossierData(id, "2"));
  ASSERT_TRUE(client.SyncDossiers(dossiers, false, {kPortalUnit, "ka,kb,kc"}).ok());
  const std::string ka = "dvcqg:" + a + ":progress:2-3", kb = "dvcqg:" + b + ":progress:2-3",
                    kc = "dvcqg:" + c + ":progress:2-3";
  // [A, A, B, B] applied, both answers lost.
  standin_->Faults({{"drop_after_apply_next", 1}});
  SendResult lost = client.SyncProgress(
      {step(a, "2", "20230301083000"), step(a, "4", "20230301140000"),
       step(b, "2", "20230301090000"), step(b, "4", "20230301150000")},
      {kPortalUnit, ka + "," + kb});
  ASSERT_EQ(lost.outcome, PortalOutcome::kRetryable) << lost.message;
  // Retried in another batch: [B, B, C, C]. B is answered from the first apply, C applied.
  SendResult again = client.SyncProgress(
      {step(b, "2", "20230301090000"), step(b, "4", "20230301150000"),
       step(c, "2", "20230301091000"), step(c, "4", "20230301151000")},
      {kPortalUnit, kb + "," + kc});
  ASSERT_TRUE(again.ok()) << again.message;
  ASSERT_EQ(again.items.size(), 4u);
  for (const auto& it : again.items) EXPECT_EQ(it.outcome, PortalOutcome::kSuccess);
  json stats = standin_->Stats();
  EXPECT_EQ(stats["progress_steps"], 6);  // A 2, B 2, C 2: B not applied twice
  EXPECT_EQ(stats["duplicate_steps"], 0);
  // The same keys in another order than their dossiers would not line up: the stand-in then
  // takes the whole header as one key, so a mismatched list is never silently half-replayed.
  SendResult mixed = client.SyncProgress({step(a, "9", "20230302100000")}, {kPortalUnit, ka + "," + kc});
  ASSERT_TRUE(mixed.ok()) << mixed.message;
  EXPECT_EQ(standin_->Stats()["progress_steps"], 7);
}

// ---- Issue 11: exactly once in effect, as a strict portal sees it ----------------------------

json StepEvent(const std::string& id, int version, const std::string& status, const std::string& at,
               const std::string& event_time, const std::string& person = "Trần Văn Bình") {
  return {{"kind", "dossier"}, {"source", "motcua-hp"}, {"id", id}, {"unit", "SGDDT.VP"},
          {"version", version}, {"event_time", event_time},
          {"data", {{"MaHoSo", id}, {"TrangThai", status}, {"ThoiDiemXuLy", at},
                    {"NguoiXuLy", person}, {"ChucDanh", "Chuyên viên"},
                    {"PhongBanXuLy", "Văn phòng Sở"}, {"NoiDungXuLy", "Bước " + status + " của cán bộ"},
                    {"NgayBatDau", at}, {"NgayKetThucTheoQuyDinh", ""}}}};
}

// The steps the portal holds for one dossier, in arrival order.
std::vector<json> StepsOf(const json& received, const std::string& id) {
  std::vector<json> out;
  for (const auto& p : received["progress"])
    if (p["MaHoSo"] == id) out.push_back(p);
  return out;
}

// Item 1: a host that sends its own step for a status change gets that step once, with its
// content and its time, even when its event_time is a little later than the step's true time;
// a host that sends dossier items only gets a step per status change with the event's time.
TEST_P(OutboxTest, HostStepReplacesTheDerivedOneAndDossierOnlyHostsGetEveryStatus) {
  Open(Config({{"derived_step_delay_ms", 2000}}));
  const std::string both = "H26.20-230301-0101", only = "H26.20-230301-0102";
  // Host A: the dossier item first (event_time 08:30:05), its own step (08:30:00) right after.
  ASSERT_EQ(engine_->Submit(Event(both, 1, "2", "2023-03-01T08:30:05+07:00").dump()).result["outcome"], "accepted");
  ASSERT_EQ(engine_->Submit(StepEvent(both, 2, "2", "20230301083000", "2023-03-01T08:30:06+07:00").dump()).result["outcome"], "accepted");
  ASSERT_EQ(engine_->Submit(StepEvent(both, 3, "4", "20230301140000", "2023-03-01T14:00:01+07:00").dump()).result["outcome"], "accepted");
  ASSERT_EQ(engine_->Submit(Event(both, 4, "4", "2023-03-01T14:00:02+07:00").dump()).result["outcome"], "accepted");
  // Host B: dossier items only.
  SubmitLifecycle(only);
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json received = standin_->Received();
  auto a = StepsOf(received, both);
  ASSERT_EQ(a.size(), 2u) << received["progress"].dump();
  EXPECT_EQ(a[0]["item"]["TrangThai"], "2");
  EXPECT_EQ(a[0]["item"]["ThoiDiemXuLy"], "20230301083000");  // the host's time, not 08:30:05
  EXPECT_EQ(a[0]["item"]["NguoiXuLy"], "Trần Văn Bình");        // the host's content
  EXPECT_EQ(a[1]["item"]["TrangThai"], "4");
  EXPECT_EQ(a[1]["item"]["NoiDungXuLy"], "Bước 4 của cán bộ");
  auto b = StepsOf(received, only);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0]["item"]["ThoiDiemXuLy"], "20230301083000");
  EXPECT_EQ(b[1]["item"]["ThoiDiemXuLy"], "20230301140000");
  EXPECT_EQ(b[2]["item"]["ThoiDiemXuLy"], "20230303100000");
  EXPECT_EQ(standin_->Stats()["duplicate_steps"], 0);
  EXPECT_EQ(standin_->Stats()["out_of_order_steps"], 0);
  json status = Q({{"op", "outbox.status"}});
  EXPECT_EQ(status["residual"]["host_steps_replacing_derived"], 1) << status.dump();

  // A host step that comes after the derived one already left is not sent again.
  ASSERT_EQ(engine_->Submit(Event(both, 5, "9", "2023-03-03T10:00:00+07:00").dump()).result["outcome"], "accepted");
  // has steps: no derived step for this dossier any more; the host's own step goes.
  ASSERT_EQ(engine_->Submit(StepEvent(both, 6, "9", "20230303100000", "2023-03-03T10:00:01+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(Drain());
  EXPECT_EQ(StepsOf(standin_->Received(), both).size(), 3u);
  EXPECT_EQ(standin_->Stats()["duplicate_steps"], 0);
}

TEST_P(OutboxTest, HostStepAfterTheDerivedOneLeftIsNotSentAgain) {
  Open(Config({{"derived_step_delay_ms", 0}}));
  const std::string id = "H26.20-230301-0103";
  ASSERT_EQ(engine_->Submit(Event(id, 1, "2", "2023-03-01T08:30:05+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  ASSERT_EQ(StepsOf(standin_->Received(), id).size(), 1u);
  ASSERT_EQ(engine_->Submit(StepEvent(id, 2, "2", "20230301083000", "2023-03-01T08:30:06+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(Drain());
  EXPECT_EQ(StepsOf(standin_->Received(), id).size(), 1u) << standin_->Received()["progress"].dump();
  EXPECT_EQ(Q({{"op", "outbox.status"}})["residual"]["host_steps_after_derived_sent"], 1);
}

// Item 2: a create retried together with a new dossier; the portal answers "-3 ... đã tồn tại"
// for the call. Only the existing dossier becomes an update; the new one is created.
TEST_P(OutboxTest, RetriedCreateInACallWithANewDossierDeadLettersNothing) {
  const std::string old_id = "H26.20-230301-0111", new_id = "H26.20-230301-0112";
  Open(Config());
  ASSERT_EQ(engine_->Submit(Event(old_id, 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  ASSERT_TRUE(engine_->Stop(5000).ok());
  engine_.reset();
  // A fresh database (as after the create's answer was lost and forgotten): both as creates in
  // one call.
  TempDir other;
  engine_ = testing::OpenEngine(testing::ConfigFor(other.path() / "o2.sqlite", Config({{"dossiers_per_call", 10}})));
  ASSERT_EQ(engine_->Submit(Event(old_id, 2, "4", "2023-03-01T14:00:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_EQ(engine_->Submit(Event(new_id, 1, "2", "2023-03-01T09:00:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json received = standin_->Received();
  EXPECT_EQ(received["dossiers"][old_id]["item"]["TrangThaiHoSo"], "4");
  EXPECT_EQ(received["dossiers"][old_id]["updates"], 1);
  ASSERT_TRUE(received["dossiers"].contains(new_id));
  EXPECT_EQ(received["dossiers"][new_id]["creates"], 1);
  EXPECT_EQ(received["dossiers"][new_id]["updates"], 0);
  EXPECT_EQ(StepsOf(received, new_id).size(), 1u);
  EXPECT_EQ(Q({{"op", "outbox.status"}})["dead_letters"], 0);
}

// Item 3: one step of a call refused; the portal names it (data[i]). Only that step is
// dead-lettered; the other dossier's steps and the refused dossier's earlier step are applied,
// its later step waits behind the refused one (order per dossier).
TEST_P(OutboxTest, OneRefusedStepDeadLettersOnlyItself) {
  // This portal allows ChucDanh up to 20 characters (the shipped limits do not limit it, so the
  // plugin accepts the step at intake and only the portal refuses it).
  const auto limits = dir_.path() / "limits.json";
  std::ofstream(limits) << json{{"source", "test"}, {"version", "t"}, {"dossier", json::object()},
                                {"progress", {{"ChucDanh", {{"max_chars", 20}, {"source", "test"}}}}}}.dump();
  StartStandin({"--field-limits", limits.string()});
  Open(Config({{"dossiers_per_call", 10}, {"steps_per_call", 10}}));
  const std::string x = "H26.20-230301-0121", y = "H26.20-230301-0122";
  for (const auto& id : {x, y})
    ASSERT_EQ(engine_->Submit(Event(id, 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  ASSERT_TRUE(engine_->Stop(5000).ok());
  for (const auto& id : {x, y}) {
    ASSERT_EQ(engine_->Submit(StepEvent(id, 2, "4", "20230301140000", "2023-03-01T14:00:00+07:00").dump()).result["outcome"], "accepted");
    json bad = StepEvent(id, 3, "5", "20230302090000", "2023-03-02T09:00:00+07:00");
    if (id == x) bad["data"]["ChucDanh"] = "Phó Chánh Văn phòng Sở Giáo dục và Đào tạo";  // 41 characters
    ASSERT_EQ(engine_->Submit(bad.dump()).result["outcome"], "accepted");
    ASSERT_EQ(engine_->Submit(StepEvent(id, 4, "4", "20230302150000", "2023-03-02T15:00:00+07:00").dump()).result["outcome"], "accepted");
  }
  ASSERT_TRUE(engine_->Start().ok());
  json status = WaitStatus([](const json& s) { return s["dead_letters"] == 1 && s["queue"].value("pending", 0) == 1; });
  json dead = Q({{"op", "outbox.dead_letters"}});
  ASSERT_EQ(dead["items"].size(), 1u) << dead.dump() << status.dump();
  EXPECT_EQ(dead["items"][0]["record_id"], x);
  EXPECT_EQ(dead["items"][0]["payload"]["TrangThai"], "5");
  json received = standin_->Received();
  std::vector<std::string> xs, ys;
  for (const auto& p : StepsOf(received, x)) xs.push_back(p["item"]["TrangThai"]);
  for (const auto& p : StepsOf(received, y)) ys.push_back(p["item"]["TrangThai"]);
  EXPECT_EQ(xs, (std::vector<std::string>{"2", "4"}));       // the refused 5 and the 4 behind it: not
  EXPECT_EQ(ys, (std::vector<std::string>{"2", "4", "5", "4"}));
  EXPECT_EQ(status["queue"].value("pending", 0), 1) << status.dump();  // x's last step waits
}

// Item 3: the portal's field limits are checked at intake, the field named.
TEST_P(OutboxTest, IntakeRefusesFieldsLongerThanThePortalAccepts) {
  Open(Config());
  const std::string id = "H26.20-230301-0131";
  ASSERT_EQ(engine_->Submit(Event(id, 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  json step = StepEvent(id, 2, "4", "20230301140000", "2023-03-01T14:00:00+07:00",
                        "Nguyễn Thị Phương Thảo - Chuyên viên Phòng Giáo dục Trung học");  // 61
  auto r = engine_->Submit(step.dump());
  EXPECT_EQ(r.status.code(), Status::Code::kInvalidInput);
  ASSERT_EQ(r.result["outcome"], "rejected") << r.result.dump();
  EXPECT_EQ(r.result["errors"][0]["path"], "/data/NguoiXuLy") << r.result.dump();
  EXPECT_EQ(r.result["errors"][0]["code"], "schema.max_length") << r.result.dump();
  EXPECT_NE(r.result["errors"][0]["reason"].get<std::string>().find("50"), std::string::npos);
}

// Item 4: a create whose answer was lost is looked up (TraCuuHoSo) and not sent again.
TEST_P(OutboxTest, LostCreateAnswerIsLookedUpNotResent) {
  standin_->Faults({{"drop_after_apply_next", 1}});
  Open(Config());
  const std::string id = "H26.20-230301-0141";
  ASSERT_EQ(engine_->Submit(Event(id, 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json d = standin_->Received()["dossiers"][id];
  EXPECT_EQ(d["creates"], 1);
  EXPECT_EQ(d["duplicate_creates"], 0);
  EXPECT_EQ(d["updates"], 0);  // the portal had it as we would send it
  EXPECT_EQ(Calls("DongBoHoSoMC"), 1);
  json residual = Q({{"op", "outbox.status"}})["residual"];
  EXPECT_EQ(residual["dossier_lookups_after_ambiguity"], 1) << residual.dump();
  EXPECT_EQ(residual["dossiers_not_resent"], 1) << residual.dump();
}

// Item 4: a progress call whose answer was lost: its steps go again one per call, each counted;
// the duplicates the portal then holds never exceed the count.
TEST_P(OutboxTest, LostProgressAnswerIsResentOnePerCallAndCounted) {
  Open(Config());
  const std::string id = "H26.20-230301-0151";
  ASSERT_EQ(engine_->Submit(Event(id, 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  ASSERT_TRUE(engine_->Stop(5000).ok());
  for (int v = 2; v <= 4; ++v)
    ASSERT_EQ(engine_->Submit(StepEvent(id, v, std::to_string(v + 2), "2023030" + std::to_string(v) + "100000",
                                        "2023-03-0" + std::to_string(v) + "T10:00:00+07:00").dump()).result["outcome"], "accepted");
  const int64_t calls_before = Calls("CapNhatTienDoHoSoMC");
  standin_->Faults({{"drop_after_apply_next", 1}});
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json stats = standin_->Stats();
  json residual = Q({{"op", "outbox.status"}})["residual"];
  EXPECT_EQ(residual["steps_resent_after_ambiguity"], 3) << residual.dump();
  // All three were applied before the answer was lost, so each resend is a duplicate: the
  // count is exact here and an upper bound in general.
  EXPECT_EQ(stats["duplicate_steps"], 3) << standin_->Get("/_control/calls").dump();
  // One lost call of three steps, then three calls of one step.
  EXPECT_EQ(Calls("CapNhatTienDoHoSoMC") - calls_before, 4) << stats.dump();
}

// Item 5: per dossier, items leave in the order their changes happened: a waiting dossier
// update never jumps ahead of the steps queued after it.
TEST_P(OutboxTest, DossierUpdateNeverOvertakesStepsQueuedAfterIt) {
  Open(Config());
  const std::string id = "H26.20-230301-0161";
  json v1 = Event(id, 1, "2", "2023-03-01T08:30:00+07:00");
  v1["data"]["GhiChu"] = "v1";
  ASSERT_EQ(engine_->Submit(v1.dump()).result["outcome"], "accepted");
  ASSERT_EQ(engine_->Submit(StepEvent(id, 2, "2", "20230301083000", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  ASSERT_TRUE(engine_->Stop(5000).ok());
  // Stopped: v2 with its step, then v3 with its step, all queued before anything is sent.
  json v2 = Event(id, 3, "4", "2023-03-01T14:00:00+07:00");
  v2["data"]["GhiChu"] = "v2";
  json v3 = Event(id, 5, "9", "2023-03-03T10:00:00+07:00");
  v3["data"]["GhiChu"] = "v3";
  ASSERT_EQ(engine_->Submit(v2.dump()).result["outcome"], "accepted");
  ASSERT_EQ(engine_->Submit(StepEvent(id, 4, "4", "20230301140000", "2023-03-01T14:00:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_EQ(engine_->Submit(v3.dump()).result["outcome"], "accepted");
  ASSERT_EQ(engine_->Submit(StepEvent(id, 6, "9", "20230303100000", "2023-03-03T10:00:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  // Each applied item's change index: the dossier by its version (GhiChu), a step by status.
  const std::map<std::string, int> dossier_change = {{"v1", 1}, {"v2", 2}, {"v3", 3}};
  const std::map<std::string, int> step_change = {{"2", 1}, {"4", 2}, {"9", 3}};
  int last = 0;
  std::string seen;
  const json received = standin_->Received();
  for (const auto& a : received["applied"]) {
    if (a["MaHoSo"] != id) continue;
    const bool dossier = a["kind"] == "dossier";
    const int change = dossier ? dossier_change.at(a["note"]) : step_change.at(a["status"]);
    seen += (dossier ? "D" : "S") + a["status"].get<std::string>() + " ";
    EXPECT_GE(change, last) << "order violated: " << seen;
    last = std::max(last, change);
  }
  EXPECT_EQ(standin_->Received()["dossiers"][id]["item"]["TrangThaiHoSo"], "9");
  EXPECT_EQ(last, 3) << seen;
}

// Item 6: Retry-After is counted from when the answer arrived, not from when the call began.
TEST_P(OutboxTest, RetryAfterCountsFromTheAnswer) {
  standin_->Faults({{"fail_next", 1}, {"fail_status", 429}, {"retry_after", "1"},
                    {"delay_ms", 800}, {"delay_next", 1}});
  Open(Config());
  ASSERT_EQ(engine_->Submit(Event("H26.20-230301-0171", 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json calls = standin_->Get("/_control/calls");
  ASSERT_GE(calls.size(), 2u) << calls.dump();
  ASSERT_EQ(calls[0]["http"], 429) << calls.dump();
  // calls[i]["t"]: when the stand-in answered; the retry must come >= 1 s after the 429 left.
  EXPECT_GE(calls[1]["t"].get<int64_t>() - calls[0]["t"].get<int64_t>(), 1000) << calls.dump();
}

// Item 7: a node that died mid-pass gets its own claimed items back at once when it starts
// again, not after the lease (120 s by default); another node's leases are left alone.
TEST_P(OutboxTest, StartingNodeReleasesItsOwnStaleLeasesAtOnce) {
  const std::string mine = "H26.20-230301-0181", theirs = "H26.20-230301-0182";
  json cfg = Config({{"lease_ms", 120000}});
  cfg["instance"] = "motcua-node-1";
  Open(cfg);
  for (const auto& id : {mine, theirs})
    ASSERT_EQ(engine_->Submit(Event(id, 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  engine_.reset();
  // What a node killed between claiming and finishing leaves behind (lease 120 s ahead).
  {
    const std::string far = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch()).count() + 120000);
    for (const auto& [id, owner] : {std::pair<std::string, std::string>{mine, "motcua-node-1"}, {theirs, "motcua-node-2"}}) {
      const std::string sql = "UPDATE outbox SET lease_until_ms=" + far + ", lease_owner='" + owner +
                              "' WHERE record_id='" + id + "' AND op='dossier'";
      ASSERT_NO_THROW(testing::ExecStoreSql(dir_.path() / "o.sqlite", sql)) << sql;
    }
  }
  Open(cfg);
  ASSERT_TRUE(engine_->Start().ok());
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until && !standin_->Received()["dossiers"].contains(mine))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  json received = standin_->Received();
  EXPECT_TRUE(received["dossiers"].contains(mine)) << "own lease not released at start";
  EXPECT_FALSE(received["dossiers"].contains(theirs)) << "another node's lease was taken";
  EXPECT_EQ(Q({{"op", "outbox.status"}})["residual"]["leases_released_at_start"], 1);
}

// Two nodes on one PostgreSQL database: node A exports (several dossiers per call, each first
// success marking its record synced) while node B applies new versions of the same dossiers in
// batches. Finishing takes the records' locks first, in intake's order, so neither waits for
// the other crosswise: the server detects no deadlock and no submit answers RETRY_LATER.
TEST_P(OutboxTest, FinishingItemsAndIntakeOnAnotherNodeNeverDeadlock) {
  if (!testing::UsingPostgres()) GTEST_SKIP() << "several nodes share a PostgreSQL database only";
  if (strict()) GTEST_SKIP() << "the lock order does not depend on the portal's mode";
  json cfg = Config({{"dossiers_per_call", 8}, {"poll_interval_ms", 1}});
  cfg["instance"] = "node-a";
  Open(cfg);
  json cfg_b = cfg;
  cfg_b["instance"] = "node-b";
  auto b = testing::OpenEngine(testing::ConfigFor(dir_.path() / "o.sqlite", cfg_b));
  const auto deadlocks = [&] {
    return testing::QueryStoreInt(dir_.path() / "o.sqlite",
                                  "SELECT deadlocks FROM pg_stat_database WHERE datname=current_database()");
  };
  const int64_t deadlocks_before = deadlocks();
  ASSERT_TRUE(engine_->Start().ok());
  constexpr int kDossiers = 24;
  int retry_later = 0;
  std::string last_error;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  for (int version = 1; version <= 400 && std::chrono::steady_clock::now() < until; ++version) {
    std::string batch;
    for (int i = 0; i < kDossiers; ++i) {
      const std::string id = "H26.20-230301-09" + std::to_string(10 + i);
      char time[40];
      std::snprintf(time, sizeof time, "2023-03-01T%02d:%02d:00+07:00", 8 + version / 60, version % 60);
      batch += Event(id, version, version == 1 ? "2" : version % 2 ? "4" : "5", time).dump() + "\n";
    }
    auto r = b->SubmitBatch(batch);
    if (!r.status.ok()) {
      ASSERT_EQ(r.status.code(), Status::Code::kRetryLater) << r.status.ToString();
      ++retry_later;
      last_error = r.status.message();
    }
  }
  EXPECT_TRUE(Drain(60));
  // The statistics collector publishes a backend's counts when its transaction ends and it
  // goes idle: give it a moment.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(deadlocks() - deadlocks_before, 0) << "the server broke deadlocks (last submit error: " << last_error << ")";
  EXPECT_EQ(retry_later, 0) << last_error;
  EXPECT_EQ(Q({{"op", "outbox.status"}})["dead_letters"], 0);
}

// Two nodes whose schedulers are due for the scheduled reconciliation at the same moment: one
// of them runs it (a transaction-scoped job lock, Store::TryLockJob), not both. The test holds
// the row of the job's "next run" setting locked, so whichever node claims first waits inside
// its claim transaction; without the job lock the other node reads the same due setting, waits
// on the same row and runs the reconciliation too.
// The senders' timers count from Start, not from when each new sender thread first runs: a
// sender scheduled late (a loaded host) must not push its first reconciliation one interval
// further. Here every sender's first look at the clock waits until the clock has moved past
// the first interval; the reconciliation is due, and runs.
TEST_P(OutboxTest, ScheduledReconcileCountsFromStartEvenWhenASenderRunsLate) {
  if (strict()) GTEST_SKIP() << "the timer does not depend on the portal's mode";
  constexpr int64_t kInterval = 600000;
  const int64_t t0 = *ParseIsoTime("2023-03-01T09:00:00+07:00");
  std::atomic<int64_t> now{t0};
  std::mutex moved_mu;
  std::condition_variable moved_cv;
  bool moved = false;
  const auto clock = std::make_shared<FunctionClock>([&] {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    if (std::string_view(name).substr(0, 11) == "danvan-send") {
      std::unique_lock lock(moved_mu);
      moved_cv.wait_for(lock, std::chrono::seconds(10), [&] { return moved; });
    }
    return now.load();
  });
  auto engine = testing::OpenEngine(testing::ConfigFor(dir_.path() / "o.sqlite", Config({{"reconcile_interval_ms", kInterval}})), clock);
  ASSERT_TRUE(engine->Start().ok());
  {
    std::lock_guard lock(moved_mu);
    now = t0 + kInterval + 1;
    moved = true;
  }
  moved_cv.notify_all();
  json last;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    auto s = engine->Query(R"({"op":"outbox.status"})");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    last = s.value().value("last_reconcile", json());
    if (!last.is_null()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(last.is_null()) << "the reconciliation due one interval after Start did not run";
  ASSERT_TRUE(engine->Stop(5000).ok());
}

TEST_P(OutboxTest, ScheduledReconcileDueOnTwoNodesAtOnceRunsOnOne) {
  if (!testing::UsingPostgres()) GTEST_SKIP() << "several nodes share a PostgreSQL database only";
  if (strict()) GTEST_SKIP() << "the job lock does not depend on the portal's mode";
  constexpr int64_t kInterval = 600000;
  const int64_t t0 = *ParseIsoTime("2023-03-01T09:00:00+07:00");
  std::atomic<int64_t> now{t0};
  const auto clock = std::make_shared<FunctionClock>([&now] { return now.load(); });
  const auto db = dir_.path() / "o.sqlite";
  std::vector<std::unique_ptr<Engine>> nodes;
  for (const char* instance : {"node-a", "node-b"}) {
    json cfg = Config({{"reconcile_interval_ms", kInterval}});
    cfg["instance"] = instance;
    nodes.push_back(testing::OpenEngine(testing::ConfigFor(db, cfg), clock));
  }
  // A run by a third node long ago: due for everyone.
  const std::string key = "outbox.reconcile_next.dvcqg";
  testing::ExecStoreSql(db, "INSERT INTO settings (key, value) VALUES ('" + key +
                                "', '{\"next_ms\":0,\"node\":\"node-old\"}')");
  for (auto& n : nodes) ASSERT_TRUE(n->Start().ok());
  const auto waiting = [&] {
    // A row lock is waited for on the holder's transaction id (no database in pg_locks).
    return testing::QueryStoreInt(db, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                                      "WHERE NOT l.granted AND a.datname = current_database()");
  };
  testing::ExecStoreSql(db, "BEGIN; SELECT value FROM settings WHERE key='" + key + "' FOR UPDATE");
  now = t0 + kInterval + 1;  // both senders' timers are due now
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until && waiting() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GT(waiting(), 0) << "no node claimed the reconciliation";
  // Both senders poll every 10 ms: in a second each has tried its claim many times over.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int64_t waiting_before_release = waiting();
  testing::ExecStoreSql(db, "ROLLBACK");
  const auto ran = [&] {
    int n = 0;
    for (auto& e : nodes) {
      auto s = e->Query(R"({"op":"outbox.status"})");
      EXPECT_TRUE(s.ok()) << s.status().ToString();
      n += s.ok() && s.value().contains("last_reconcile") && !s.value()["last_reconcile"].is_null();
    }
    return n;
  };
  until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until && ran() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a second run would be done by now
  EXPECT_EQ(ran(), 1) << waiting_before_release << " claim(s) were waiting on the setting's row";
  EXPECT_EQ(waiting_before_release, 1);
  const json next = json::parse(testing::QueryStoreText(db, "SELECT value FROM settings WHERE key='" + key + "'"));
  EXPECT_EQ(next["next_ms"], t0 + kInterval + 1 + kInterval) << next.dump();
  for (auto& n : nodes) ASSERT_TRUE(n->Stop(5000).ok());
}

// Item 8: a refusal that means the configuration is wrong pauses the destination with an alert;
// nothing is dead-lettered; and a required setting missing fails open with its path.
TEST_P(OutboxTest, ConfigurationRefusalPausesWithAlertInsteadOfDeadLettering) {
  json cfg = Config();
  cfg["portal"]["envelope"]["dstcode"] = "VN:GOV:SAI";  // not the gateway's
  auto parsed = ParseEngineConfig(testing::ConfigFor(dir_.path() / "o.sqlite", cfg));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto alerts = std::make_shared<std::vector<std::string>>();
  auto alerts_mu = std::make_shared<std::mutex>();
  HostHooks hooks;
  hooks.alert = [alerts, alerts_mu](const std::string& a) {
    std::lock_guard lock(*alerts_mu);
    alerts->push_back(a);
  };
  auto e = Engine::Open(parsed.value(), hooks);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  engine_ = std::move(e).value();
  ASSERT_EQ(engine_->Submit(Event("H26.20-230301-0191", 1, "2", "2023-03-01T08:30:00+07:00").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  json status = WaitStatus([](const json& s) { return s.contains("pause"); }, 10);
  ASSERT_TRUE(status.contains("pause")) << status.dump();
  EXPECT_NE(status["pause"]["reason"].get<std::string>().find("dstcode"), std::string::npos) << status.dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  status = Q({{"op", "outbox.status"}});
  EXPECT_EQ(status["dead_letters"], 0) << status.dump();
  EXPECT_EQ(status["queue"].value("pending", 0), 2) << status.dump();  // the dossier and its step
  {
    std::lock_guard lock(*alerts_mu);
    ASSERT_EQ(alerts->size(), 1u);
    EXPECT_EQ(json::parse(alerts->front())["type"], "export_paused");
  }
  ASSERT_TRUE(engine_->Stop(5000).ok());
  engine_.reset();

  json no_dst = Config();
  no_dst["portal"]["envelope"].erase("dstcode");
  auto refused = ParseEngineConfig(testing::ConfigFor(dir_.path() / "o.sqlite", no_dst));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("dstcode"), std::string::npos) << refused.status().message();
}

// Item 9: every field of the portal's dossier item the host gives is sent.
TEST_P(OutboxTest, FurtherDossierFieldsReachThePortal) {
  Open(Config());
  json ev = Event("H26.20-230301-0201", 1, "3", "2023-03-01T08:30:00+07:00");
  ev["data"]["SoBienNhan"] = "BN-2023-000201";
  ev["data"]["NgayNopHoSo"] = "20230301081500";
  ev["data"]["NoiNopHoSo"] = "Bộ phận Một cửa Sở GD&ĐT Hải Phòng";
  ev["data"]["NgayTuChoi"] = "20230301090000";
  ev["data"]["DanhSachTepDinhKemKhac"] = json::array({{{"TepDinhKemId", "k1"}, {"TenTepDinhKem", "giay_uy_quyen.pdf"}}});
  ev["data"]["DSKetNoiCSDL"] = json::array({{{"MaCSDL", "CSDLQGDC"}, {"KetQua", "1"}}});
  ASSERT_EQ(engine_->Submit(ev.dump()).result["outcome"], "accepted");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json item = standin_->Received()["dossiers"]["H26.20-230301-0201"]["item"];
  EXPECT_EQ(item["SoBienNhan"], "BN-2023-000201");
  EXPECT_EQ(item["NgayNopHoSo"], "20230301081500");
  EXPECT_EQ(item["NoiNopHoSo"], "Bộ phận Một cửa Sở GD&ĐT Hải Phòng");
  EXPECT_EQ(item["NgayTuChoi"], "20230301090000");
  EXPECT_EQ(item["DanhSachTepDinhKemKhac"][0]["TenTepDinhKem"], "giay_uy_quyen.pdf");
  EXPECT_EQ(item["DSKetNoiCSDL"][0]["MaCSDL"], "CSDLQGDC");
}

// domain.md §1: the portal's dossier item requires NgayTiepNhan. An online dossier that is only
// submitted (TrangThaiHoSo 1) has none: it is stored but nothing is queued for the portal, and a
// progress step for it waits with it. Once received (status 2 with NgayTiepNhan) the dossier is
// sent, then the steps in order.
TEST_P(OutboxTest, DossierBeforeReceiptIsHeldUntilReceived) {
  Open(Config());
  const std::string id = "H26.20-230301-0009";
  json ev = Event(id, 1, "1", "2023-03-01T07:00:00+07:00");
  ev["data"]["NgayTiepNhan"] = "";
  ev["data"]["NgayHenTra"] = "";
  auto a = engine_->Submit(ev.dump());
  ASSERT_EQ(a.result["outcome"], "accepted") << a.result.dump();
  EXPECT_EQ(a.result["pending"]["code"], "awaiting_reception");
  json step = {{"kind", "dossier"}, {"source", "motcua-hp"}, {"id", id}, {"unit", "SGDDT.VP"},
               {"version", 2}, {"event_time", "2023-03-01T08:30:00+07:00"},
               {"data", {{"MaHoSo", id}, {"TrangThai", "2"}, {"ThoiDiemXuLy", "20230301083000"},
                         {"NguoiXuLy", "Trần Văn Bình"}, {"PhongBanXuLy", "Văn phòng Sở"},
                         {"NoiDungXuLy", "Tiếp nhận hồ sơ"}}}};
  ASSERT_EQ(engine_->Submit(step.dump()).result["outcome"], "accepted");
  EXPECT_EQ(Q({{"op", "outbox.status"}})["queue"].value("pending", 0), 0);
  ASSERT_EQ(engine_->Submit(Event(id, 3, "4", "2023-03-01T14:00:00+07:00").dump()).result["outcome"],
            "accepted");
  EXPECT_GT(Q({{"op", "outbox.status"}})["queue"].value("pending", 0), 0);
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json received = standin_->Received();
  ASSERT_TRUE(received["dossiers"].contains(id)) << received.dump();
  EXPECT_EQ(received["dossiers"][id]["item"]["NgayTiepNhan"], "20230301083000");
  EXPECT_EQ(received["dossiers"][id]["item"]["TrangThaiHoSo"], "4");
  ASSERT_FALSE(received["progress"].empty());
  EXPECT_EQ(received["progress"][0]["item"]["TrangThai"], "2");
  for (const auto& p : received["progress"]) EXPECT_FALSE(p["out_of_order"].get<bool>());
  EXPECT_EQ(Q({{"op", "outbox.status"}})["dead_letters"], 0);
}

// Migration 6 (issue 11): a database made before it (schema version 5: no outbox.ambiguous,
// derived, lease_owner), with items still queued, opens, migrates and exports them.
TEST_P(OutboxTest, DatabaseAtVersionFiveMigratesAndExportsWhatWasQueued) {
  Open(Config());
  const std::string id = "H26.20-230301-0211";
  SubmitLifecycle(id);
  engine_.reset();
  {
    for (const char* sql : {"ALTER TABLE outbox DROP COLUMN ambiguous", "ALTER TABLE outbox DROP COLUMN derived",
                            "ALTER TABLE outbox DROP COLUMN lease_owner",
                            // migration 8 (records.history_digest, issue 16) came later
                            "ALTER TABLE records DROP COLUMN history_digest",
                            "DELETE FROM schema_migrations WHERE version >= 6"})
      ASSERT_NO_THROW(testing::ExecStoreSql(dir_.path() / "o.sqlite", sql)) << sql;
  }
  Open(Config());
  EXPECT_EQ(Q({{"op", "stats"}})["storage"].value("schema_version", 0), 9) << Q({{"op", "stats"}}).dump();
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json received = standin_->Received();
  EXPECT_EQ(received["dossiers"][id]["item"]["TrangThaiHoSo"], "9");
  EXPECT_EQ(StepsOf(received, id).size(), 3u) << received["progress"].dump();
  EXPECT_EQ(standin_->Stats()["duplicate_steps"], 0);
}

INSTANTIATE_TEST_SUITE_P(Portal, OutboxTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Strict" : "Lenient"; });

}  // namespace
}  // namespace danvan
