// The export pipeline end to end: engine -> outbox -> HTTPS -> portal stand-in, with the
// stand-in misbehaving on purpose. Each test asserts the items' final state in the store and
// what the stand-in received.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "engine/test_support.h"
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
  exec("UPDATE export_log SET response_body = replace(response_body, '0', '1') WHERE seq = 1");
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

}  // namespace
}  // namespace danvan
