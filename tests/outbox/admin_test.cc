// Administration against the national-portal stand-in over HTTPS (issue 15): the adapter test
// (adapter.test: DNS, TCP, TLS with the test CA, log-in, look-up), with a wrong password, an
// unreachable port and an untrusted CA; and a configuration reload of the portal settings that
// the running exporters pick up without a restart.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "engine/test_support.h"
#include "standin_process.h"
#include "test_pki.h"

namespace danvan {
namespace {

using nlohmann::json;
using testing::GetTestPki;
using testing::StandinProcess;

constexpr const char* kPassword = "mat-khau-quan-tri-2023";
constexpr const char* kPortalUnit = "000.00.20.H26";

// A TCP port on which nothing listens (bound then closed).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  close(fd);
  return ntohs(a.sin_port);
}

class AdminPortalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& pki = GetTestPki();
    standin_ = std::make_unique<StandinProcess>(
        pki.server_cert, pki.server_key,
        std::vector<std::string>{"--style", "both", "--username", "danvan", "--dstcode", "VN:GOV:H26"},
        std::vector<std::string>{std::string("DANVAN_STANDIN_PASSWORD=") + kPassword});
    ASSERT_TRUE(standin_->started()) << standin_->stderr_text();
    setenv("DANVAN_TEST_ADMIN_PASSWORD", kPassword, 1);
    setenv("DANVAN_TEST_ADMIN_WRONG", "khong-phai-mat-khau", 1);
  }

  json Config(const std::string& url, const std::string& password_env, const std::string& ca) {
    return json::parse(testing::ConfigFor(
        dir_.path() / "a.sqlite",
        {{"portal",
          {{"style", "envelope"},
           {"base_url", url},
           {"default_madonvi", kPortalUnit},
           {"connect_timeout_ms", 2000},
           {"read_timeout_ms", 3000},
           {"tls", {{"ca_file", ca}}},
           {"envelope", {{"username", "danvan"}, {"password_env", password_env}, {"dstcode", "VN:GOV:H26"}}}}},
         {"outbox",
          {{"backoff_base_ms", 20}, {"backoff_cap_ms", 100}, {"poll_interval_ms", 10},
           {"mappings", {{"units", {{"SGDDT.VP", kPortalUnit}}}, {"procedures", {{"1.005090", "1.005090"}}}}}}}}));
  }

  json Q(const json& req) {
    auto r = engine_->Query(req.dump());
    EXPECT_TRUE(r.ok()) << req.dump() << ": " << r.status().ToString();
    return r.ok() ? r.value() : json();
  }

  // Runs adapter.test to the end; the report.
  json AdapterTest() {
    Q({{"op", "adapter.test"}, {"actor", "Phòng CNTT"}});
    json s;
    for (int i = 0; i < 600; ++i) {
      s = Q({{"op", "adapter.test.status"}});
      if (s.value("state", "") == "done") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return s;
  }

  static json Step(const json& report, const std::string& name) {
    for (const auto& s : report["steps"])
      if (s["name"] == name) return s;
    return nullptr;
  }

  testing::TempDir dir_;
  std::unique_ptr<StandinProcess> standin_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(AdminPortalTest, AdapterTestReportsEveryStepAgainstTheStandin) {
  engine_ = testing::OpenEngine(Config(standin_->url(), "DANVAN_TEST_ADMIN_PASSWORD", GetTestPki().ca_cert).dump());
  json r = AdapterTest();
  ASSERT_EQ(r["state"], "done") << r.dump();
  EXPECT_TRUE(r["ok"].get<bool>()) << r.dump();
  for (const char* name : {"dns", "tcp", "tls", "login", "lookup"}) {
    json s = Step(r, name);
    ASSERT_FALSE(s.is_null()) << name << ": " << r.dump();
    EXPECT_TRUE(s["ok"].get<bool>()) << name << ": " << s.dump();
    EXPECT_GE(s["ms"].get<int64_t>(), 0);
  }
  EXPECT_NE(Step(r, "tls")["detail"].get<std::string>().find("localhost"), std::string::npos) << r.dump();
  EXPECT_NE(Step(r, "lookup")["detail"].get<std::string>().find("not found"), std::string::npos) << r.dump();
  // The look-up is harmless: the stand-in received no dossier and no step.
  json received = standin_->Received();
  EXPECT_TRUE(received["dossiers"].empty()) << received.dump();
  EXPECT_TRUE(received["progress"].empty()) << received.dump();
  // Audited, and the report holds no secret.
  auto audit = Q({{"op", "audit.list"}, {"filter_op", "adapter.test"}});
  ASSERT_EQ(audit["items"].size(), 1u);
  EXPECT_EQ(audit["items"][0]["actor"], "Phòng CNTT");
  EXPECT_EQ(r.dump().find(kPassword), std::string::npos);
}

TEST_F(AdminPortalTest, AWrongPasswordFailsAtLogIn) {
  engine_ = testing::OpenEngine(Config(standin_->url(), "DANVAN_TEST_ADMIN_WRONG", GetTestPki().ca_cert).dump());
  json r = AdapterTest();
  EXPECT_FALSE(r["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(r["failed_step"], "login");
  EXPECT_TRUE(Step(r, "tls")["ok"].get<bool>());
  json login = Step(r, "login");
  EXPECT_NE(login["message"].get<std::string>().find("từ chối đăng nhập"), std::string::npos) << login.dump();
  EXPECT_NE(login["message_en"].get<std::string>().find("refused the log-in"), std::string::npos) << login.dump();
  EXPECT_TRUE(Step(r, "lookup")["skipped"].get<bool>());
  EXPECT_EQ(r.dump().find("khong-phai-mat-khau"), std::string::npos);
}

TEST_F(AdminPortalTest, AnUnreachablePortFailsAtTcpConnect) {
  engine_ = testing::OpenEngine(
      Config("https://localhost:" + std::to_string(FreePort()), "DANVAN_TEST_ADMIN_PASSWORD", GetTestPki().ca_cert).dump());
  json r = AdapterTest();
  EXPECT_FALSE(r["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(r["failed_step"], "tcp");
  EXPECT_TRUE(Step(r, "dns")["ok"].get<bool>());
  EXPECT_NE(Step(r, "tcp")["message"].get<std::string>().find("kết nối TCP"), std::string::npos);
  for (const char* name : {"tls", "login", "lookup"}) EXPECT_TRUE(Step(r, name)["skipped"].get<bool>()) << name;
}

TEST_F(AdminPortalTest, AnUntrustedCertificateFailsAtTls) {
  engine_ = testing::OpenEngine(Config(standin_->url(), "DANVAN_TEST_ADMIN_PASSWORD", GetTestPki().rogue_ca_cert).dump());
  json r = AdapterTest();
  EXPECT_EQ(r["failed_step"], "tls") << r.dump();
  EXPECT_NE(Step(r, "tls")["message"].get<std::string>().find("portal.tls.ca_file"), std::string::npos);
}

// The exporters run with a wrong password (nothing leaves; the refused log-in pauses the
// destination for pause_ms, 5 minutes by default); a reload with the right one ends the pause,
// is picked up at the next pass and the dossier leaves, without stop, start or reopen.
TEST_F(AdminPortalTest, AReloadOfPortalSettingsReachesTheRunningExporters) {
  json bad = Config(standin_->url(), "DANVAN_TEST_ADMIN_WRONG", GetTestPki().ca_cert);
  engine_ = testing::OpenEngine(bad.dump());
  ASSERT_TRUE(engine_->Start().ok());
  json ev = testing::DossierEvent("000.20.31.H26-RELOAD-1", 1, "2");
  ASSERT_EQ(engine_->Submit(ev.dump()).result["outcome"], "accepted");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(standin_->Received()["dossiers"].empty());
  json good = bad;
  good["portal"]["envelope"]["password_env"] = "DANVAN_TEST_ADMIN_PASSWORD";
  auto r = engine_->Query(json{{"op", "config.reload"}, {"config", good}}.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()["changed"], json::array({"/portal/envelope"}));
  bool sent = false;
  for (int i = 0; i < 300 && !sent; ++i) {
    sent = standin_->Received()["dossiers"].contains("000.20.31.H26-RELOAD-1");
    if (!sent) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(sent) << Q({{"op", "outbox.status"}}).dump();
  ASSERT_TRUE(engine_->Stop(5000).ok());
}

}  // namespace
}  // namespace danvan
