// The export pipeline end to end: engine -> outbox -> HTTPS -> portal stand-in, with the
// stand-in misbehaving on purpose. Each test asserts the items' final state in the store and
// what the stand-in received.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

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

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& pki = GetTestPki();
    standin_ = std::make_unique<StandinProcess>(
        pki.server_cert, pki.server_key,
        std::vector<std::string>{"--style", "both", "--username", "danvan", "--dstcode", "VN:GOV:H26"},
        std::vector<std::string>{std::string("DANVAN_STANDIN_PASSWORD=") + kPassword});
    ASSERT_TRUE(standin_->started()) << standin_->stderr_text();
    setenv("DANVAN_TEST_OUTBOX_PASSWORD", kPassword, 1);
  }

  json Config(json outbox = json::object()) {
    json o = {{"backoff_base_ms", 20}, {"backoff_cap_ms", 200}, {"poll_interval_ms", 10},
              {"held_retry_ms", 100000},
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

TEST_F(OutboxTest, ExportsDossierAndEveryStatusInOrderOnce) {
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
  EXPECT_EQ(status["queue"]["done"], 4);
  EXPECT_EQ(status["dead_letters"], 0);
  json verify = Q({{"op", "exportlog.verify"}});
  EXPECT_TRUE(verify["valid"].get<bool>()) << verify.dump();
  EXPECT_GE(verify["entries"].get<int>(), 2);
  // The synced-dossier indicator follows the portal's confirmation.
  json ind = Q({{"op", "indicators"}, {"unit", "SGDDT"}, {"period", {{"kind", "month"}, {"year", 2023}, {"month", 3}}},
                {"ids", {"idx766.synced"}}});
  EXPECT_EQ(ind["indicators"][0]["numerator"], 1) << ind.dump();
}

TEST_F(OutboxTest, AlreadyExistsBecomesUpdate) {
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
  EXPECT_GE(d["updates"].get<int>(), 1);
  EXPECT_EQ(d["duplicate_creates"], 1);
  EXPECT_EQ(d["item"]["TrangThaiHoSo"], "4");
  EXPECT_EQ(second->Query(R"({"op":"outbox.status"})").value()["dead_letters"], 0);
}

TEST_F(OutboxTest, RetryableErrorsBackOffThenSucceed) {
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

TEST_F(OutboxTest, TooManyRequestsHonoursRetryAfter) {
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

TEST_F(OutboxTest, DroppedConnectionsAndLostResponsesApplyOnce) {
  standin_->Faults({{"drop_next", 1}, {"drop_after_apply_next", 2}});
  Open(Config());
  SubmitLifecycle("H26.20-230301-0005");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  json stats = standin_->Stats();
  EXPECT_EQ(stats["duplicate_steps"], 0) << stats.dump();
  EXPECT_EQ(stats["out_of_order_steps"], 0) << stats.dump();
  EXPECT_EQ(standin_->Received()["dossiers"]["H26.20-230301-0005"]["item"]["TrangThaiHoSo"], "9");
}

TEST_F(OutboxTest, ExpiredSessionMidBatchLogsInAgain) {
  Open(Config());
  SubmitLifecycle("H26.20-230301-0006");
  standin_->Faults({{"expire_sessions_after", 1}});
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  EXPECT_GE(standin_->Stats()["logins"].get<int>(), 2);
  EXPECT_EQ(standin_->Received()["progress"].size(), 3u);
  EXPECT_EQ(Q({{"op", "outbox.status"}})["dead_letters"], 0);
}

TEST_F(OutboxTest, PermanentErrorGoesToDeadLetterAndResendDelivers) {
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

TEST_F(OutboxTest, MissingMappingHoldsTheRecordUntilAdded) {
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

TEST_F(OutboxTest, BackPressureAnswersRetryLater) {
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

TEST_F(OutboxTest, ExportLogChainDetectsAlteredAndDeletedEntries) {
  Open(Config());
  SubmitLifecycle("H26.20-230301-0011");
  ASSERT_TRUE(engine_->Start().ok());
  ASSERT_TRUE(Drain());
  ASSERT_TRUE(engine_->Stop(5000).ok());
  ASSERT_TRUE(Q({{"op", "exportlog.verify"}})["valid"].get<bool>());
  const std::string db = (dir_.path() / "o.sqlite").string();
  auto exec = [&](const char* sql) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(h, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(h);
  };
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
  exec("DELETE FROM export_log WHERE seq = 2");  // the newest entry: caught by the chain head
  v = Q({{"op", "exportlog.verify"}});
  EXPECT_FALSE(v["valid"].get<bool>()) << v.dump();
}

TEST_F(OutboxTest, ReconciliationRequeuesWhatThePortalLost) {
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
TEST_F(OutboxTest, ProcedureRefreshFromLayThuTucUpdatesDeadlines) {
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
  const auto& pki = GetTestPki();
  standin_ = std::make_unique<StandinProcess>(
      pki.server_cert, pki.server_key,
      std::vector<std::string>{"--style", "both", "--username", "danvan", "--dstcode", "VN:GOV:H26",
                               "--procedures", procedures.string()},
      std::vector<std::string>{std::string("DANVAN_STANDIN_PASSWORD=") + kPassword});
  ASSERT_TRUE(standin_->started()) << standin_->stderr_text();
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

TEST_F(OutboxTest, MultiDossierCallSettlesEachDossierAlone) {
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
                                                   Config({{"dossiers_per_call", 10}})));
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
  // One create call for the four dossiers, one update call for A alone, one progress call for
  // the steps of A, B and D.
  json stats = standin_->Stats();
  EXPECT_EQ(Requests(stats, "DongBoHoSoMC") - Requests(before, "DongBoHoSoMC"), 2) << stats.dump();
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

TEST_F(OutboxTest, RetriedMultiDossierBatchIsAppliedOnce) {
  // Every call's first two answers are lost after the portal applied it (the transport resends
  // once on a fresh connection, so both tries are lost): the outbox must retry the batches and
  // the portal must apply each dossier and each step exactly once.
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
  ASSERT_EQ(received["progress"].size(), 9u) << received.dump();
  std::map<std::string, std::vector<std::string>> per;
  for (const auto& p : received["progress"]) {
    EXPECT_FALSE(p["duplicate"].get<bool>());
    EXPECT_FALSE(p["out_of_order"].get<bool>());
    per[p["MaHoSo"]].push_back(p["item"]["TrangThai"]);
    // Each dossier's part of a batch carries its own key.
    EXPECT_NE(p["idempotency_key"].get<std::string>().find(p["MaHoSo"].get<std::string>()), std::string::npos);
  }
  for (const auto& id : ids) EXPECT_EQ(per[id], (std::vector<std::string>{"2", "4", "9"})) << id;
  json stats = standin_->Stats();
  EXPECT_GE(stats["idempotent_replays"].get<int>(), 3) << stats.dump();
  EXPECT_EQ(stats["duplicate_steps"], 0);
  EXPECT_EQ(Q({{"op", "outbox.status"}})["dead_letters"], 0);
}

TEST_F(OutboxTest, RegroupedRetryIsAppliedOncePerDossier) {
  // A retry may regroup dossiers (other senders, the claim limit, a crash). The per-dossier keys
  // of a batch make the portal apply each dossier's part once whatever batch it comes back in.
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
  standin_->Faults({{"drop_after_apply_next", 2}});
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

// domain.md §1: the portal's dossier item requires NgayTiepNhan. An online dossier that is only
// submitted (TrangThaiHoSo 1) has none: it is stored but nothing is queued for the portal, and a
// progress step for it waits with it. Once received (status 2 with NgayTiepNhan) the dossier is
// sent, then the steps in order.
TEST_F(OutboxTest, DossierBeforeReceiptIsHeldUntilReceived) {
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

}  // namespace
}  // namespace danvan
