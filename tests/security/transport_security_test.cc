// Issue 10 finding 11: plain HTTP and disabled certificate verification are impossible in a
// production configuration. http:// (base_url, OAuth2 token_url) and tls.verify=false are
// refused at open with a Vietnamese error naming the field, unless the test-only switch
// portal.insecure_test_only is set; then the engine says so at error level at every open and
// every start. The transport refuses them too for any caller that skips the configuration.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "engine/test_support.h"
#include "portal/http_transport.h"
#include "portal/portal_config.h"
#include "standin_process.h"
#include "test_pki.h"

namespace danvan {
namespace {

using nlohmann::json;
using testing::GetTestPki;
using testing::StandinProcess;

constexpr const char* kPassword = "mat-khau-thu-nghiem-2023";

json Portal(const std::string& url) {
  setenv("DANVAN_TEST_TRANSPORT_PASSWORD", kPassword, 1);
  return {{"style", "envelope"},
          {"base_url", url},
          {"default_madonvi", "000.00.20.H26"},
          {"connect_timeout_ms", 2000},
          {"read_timeout_ms", 2000},
          {"tls", {{"ca_file", GetTestPki().ca_cert}}},
          // dstcode is required at open (issue 11 item 8).
          {"envelope", {{"username", "danvan"}, {"password_env", "DANVAN_TEST_TRANSPORT_PASSWORD"},
                        {"dstcode", "VN:GOV:H26"}}}};
}

TEST(TransportSecurity, PlainHttpBaseUrlIsRefusedNamingTheField) {
  auto c = ParsePortalConfig(Portal("http://lgsp.haiphong.gov.vn/ngsp"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidInput);
  EXPECT_EQ(c.status().message().rfind("portal.base_url: ", 0), 0u) << c.status().message();
  EXPECT_NE(c.status().message().find("https://"), std::string::npos);
  EXPECT_NE(c.status().message().find("không mã hóa"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("portal.insecure_test_only"), std::string::npos);
}

TEST(TransportSecurity, DisabledVerificationIsRefusedNamingTheField) {
  json j = Portal("https://lgsp.haiphong.gov.vn/ngsp");
  j["tls"]["verify"] = false;
  auto c = ParsePortalConfig(j);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("portal.tls.verify: ", 0), 0u) << c.status().message();
  EXPECT_NE(c.status().message().find("kiểm tra chứng chỉ"), std::string::npos) << c.status().message();
  // Verification stays on when the key is absent, and "true" is accepted.
  j["tls"]["verify"] = true;
  ASSERT_TRUE(ParsePortalConfig(j).ok());
  EXPECT_TRUE(ParsePortalConfig(Portal("https://lgsp.haiphong.gov.vn"))->tls.verify);
}

TEST(TransportSecurity, PlainHttpTokenUrlIsRefusedNamingTheField) {
  setenv("DANVAN_TEST_TRANSPORT_SECRET", "bi-mat-oauth", 1);
  json j = {{"style", "per_operation"},
            {"base_url", "https://api.ngsp.gov.vn"},
            {"per_operation",
             {{"oauth2", {{"token_url", "http://id.ngsp.gov.vn/token"}, {"client_id", "hp-sgddt"},
                          {"client_secret_env", "DANVAN_TEST_TRANSPORT_SECRET"}}}}}};
  auto c = ParsePortalConfig(j);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("portal.per_operation.oauth2.token_url: ", 0), 0u) << c.status().message();
  EXPECT_EQ(c.status().message().find("bi-mat-oauth"), std::string::npos);
}

TEST(TransportSecurity, ProductionConfigurationWithPlainHttpFailsOpen) {
  testing::TempDir dir;
  json portal = Portal("http://127.0.0.1:8080");
  auto cfg = ParseEngineConfig(testing::ConfigFor(dir.path() / "t.sqlite", {{"portal", portal}}));
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(cfg.status().message().find("/portal"), std::string::npos) << cfg.status().message();
  EXPECT_NE(cfg.status().message().find("portal.base_url"), std::string::npos) << cfg.status().message();
}

TEST(TransportSecurity, TransportRefusesClearTextAndUnverifiedTlsWithoutTheSwitch) {
  PortalConfig cfg;
  EXPECT_FALSE(MakePocoTransport("http://127.0.0.1:8080", cfg).ok());
  cfg.tls.verify = false;
  EXPECT_FALSE(MakePocoTransport("https://127.0.0.1:8443", cfg).ok());
  cfg.insecure_test_only = true;
  EXPECT_TRUE(MakePocoTransport("https://127.0.0.1:8443", cfg).ok());
  EXPECT_TRUE(MakePocoTransport("http://127.0.0.1:8080", cfg).ok());
}

struct LogCapture {
  std::mutex mu;
  std::vector<std::pair<int32_t, std::string>> lines;
  static void Sink(void* self, int32_t level, const char* m, size_t n) {
    auto* c = static_cast<LogCapture*>(self);
    std::lock_guard lock(c->mu);
    c->lines.emplace_back(level, std::string(m, n));
  }
  std::vector<std::string> Matching(const std::string& needle) {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& [level, text] : lines)
      if (text.find(needle) != std::string::npos) {
        EXPECT_EQ(level, static_cast<int32_t>(LogLevel::kError)) << text;
        out.push_back(text);
      }
    return out;
  }
};

TEST(TransportSecurity, TestOnlySwitchWorksAndIsLoggedAsAnErrorAtEveryOpenAndStart) {
  // A stand-in whose certificate no configured CA trusts: only verify=false reaches it.
  StandinProcess rogue(GetTestPki().rogue_server_cert, GetTestPki().rogue_server_key,
                       {"--username", "danvan"},
                       {std::string("DANVAN_STANDIN_PASSWORD=") + kPassword});
  ASSERT_TRUE(rogue.started()) << rogue.stderr_text();
  json portal = Portal(rogue.url());
  portal["tls"]["verify"] = false;
  portal["insecure_test_only"] = true;
  json outbox = {{"backoff_base_ms", 20}, {"poll_interval_ms", 10}, {"synthesize_progress", false},
                 {"mappings", {{"units", {{"SGDDT.VP", "000.00.20.H26"}}},
                               {"procedures", {{"1.005090", "1.005090"}}}}}};
  testing::TempDir dir;
  auto cfg = ParseEngineConfig(
      testing::ConfigFor(dir.path() / "t.sqlite", {{"portal", portal}, {"outbox", outbox}}));
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  LogCapture logs;
  HostHooks hooks;
  hooks.logger = Logger(&LogCapture::Sink, &logs, LogLevel::kInfo);
  auto opened = Engine::Open(cfg.value(), std::move(hooks));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Engine& e = *opened.value();
  EXPECT_EQ(logs.Matching("portal_insecure_test_only").size(), 1u);  // at open
  ASSERT_EQ(e.Submit(testing::DossierEvent("000.00.20.H26-230301-0042", 1, "2").dump()).result["outcome"], "accepted");
  ASSERT_TRUE(e.Start().ok());
  // It does export (that is what the switch allows), over unverified TLS.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (rogue.Stats().value("dossiers", 0) == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(rogue.Stats().value("dossiers", 0), 1);
  ASSERT_TRUE(e.Stop(5000).ok());
  ASSERT_TRUE(e.Start().ok());
  // Let the sender reach its loop before stopping (a stop right after start could deadlock
  // before issue 10 finding 3 is fixed; this test is about the warning, not that race).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(e.Stop(5000).ok());
  const auto warnings = logs.Matching("portal_insecure_test_only");
  ASSERT_EQ(warnings.size(), 3u);  // open + two starts
  EXPECT_NE(warnings[1].find("\"when\":\"start\""), std::string::npos) << warnings[1];
  EXPECT_NE(warnings[2].find("never in production"), std::string::npos) << warnings[2];
}

}  // namespace
}  // namespace danvan
