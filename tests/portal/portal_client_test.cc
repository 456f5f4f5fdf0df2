// The portal client against the stand-in over real HTTPS (certificates made at test time).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timespan.h>
#include <gtest/gtest.h>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "outbox/portal_client.h"
#include "outbox/portal_payload.h"
#include "portal/portal_config.h"
#include "portal/http_transport.h"
#include "portal/portal_http_client.h"
#include "standin_process.h"
#include "test_pki.h"

namespace danvan {
namespace {

using nlohmann::json;
using testing::GetTestPki;
using testing::StandinProcess;

constexpr const char* kPassword = "Mật-khẩu-thử-2023";
constexpr const char* kClientSecret = "bí-mật-oauth-7f3a";
constexpr const char* kDstcode = "VPUBND-HP";
constexpr const char* kUnit = "000.00.20.H26";

std::vector<std::string> StandinEnv() {
  return {std::string("DANVAN_STANDIN_PASSWORD=") + kPassword,
          std::string("DANVAN_STANDIN_CLIENT_SECRET=") + kClientSecret};
}

void SetClientSecrets() {
  setenv("DANVAN_TEST_PORTAL_PASSWORD", kPassword, 1);
  setenv("DANVAN_TEST_OAUTH_SECRET", kClientSecret, 1);
}

json EnvelopeJson(const std::string& url) {
  return {{"style", "envelope"},
          {"base_url", url},
          {"default_madonvi", kUnit},
          {"connect_timeout_ms", 2000},
          {"read_timeout_ms", 3000},
          {"tls", {{"ca_file", GetTestPki().ca_cert}}},
          {"envelope",
           {{"username", "danvan"},
            {"password_env", "DANVAN_TEST_PORTAL_PASSWORD"},
            {"dstcode", kDstcode}}}};
}

json PerOpJson(const std::string& url) {
  return {{"style", "per_operation"},
          {"base_url", url},
          {"default_madonvi", kUnit},
          {"connect_timeout_ms", 2000},
          {"read_timeout_ms", 3000},
          {"tls", {{"ca_file", GetTestPki().ca_cert}}},
          {"per_operation",
           {{"oauth2",
             {{"token_url", url + "/oauth/token"},
              {"client_id", "danvan"},
              {"client_secret_env", "DANVAN_TEST_OAUTH_SECRET"}}}}}};
}

PortalConfig Parse(const json& j) {
  SetClientSecrets();
  auto c = ParsePortalConfig(j);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.value();
}

std::unique_ptr<PortalClient> Client(const PortalConfig& c) {
  auto r = MakePortalClient(c);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r.value());
}

PortalMappings Mappings() {
  PortalMappings m;
  m.units["SGDDT.TTRA"] = kUnit;
  m.procedures["GD-BANSAO"] = "1.005090";
  return m;
}

// A realistic wire dossier made by the payload mapper.
json Dossier(const std::string& code, const std::string& status = "2") {
  json data = {{"MaHoSo", code},
               {"MaTTHC", "GD-BANSAO"},
               {"TenTTHC", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"},
               {"KenhThucHien", 2},
               {"ChuHoSo", "Phạm Thị Thu Hương"},
               {"LoaiDoiTuong", 1},
               {"TrichYeuHoSo", "Đề nghị cấp bản sao bằng tốt nghiệp trung học phổ thông năm 2015"},
               {"NgayTiepNhan", "2023-03-02T09:15:00+07:00"},
               {"NgayHenTra", "2023-03-02T17:15:00+07:00"},
               {"TrangThaiHoSo", status},
               {"DinhDanhCHS", json::array({{{"LoaiDinhDanh", "1"}, {"SoDinhDanh", "031190001234"}}})},
               {"DanhSachLePhi", json::array({{{"TenPhiLePhi", "Phí cấp bản sao"}, {"Gia", 3000}}})}};
  auto r = MapDossierItem("rec-" + code, "SGDDT.TTRA", data, Mappings());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r->item;
}

json Step(const std::string& code, int status, const std::string& time) {
  json data = {{"MaHoSo", code},         {"TrangThai", status},
               {"ThoiDiemXuLy", time},   {"NguoiXuLy", "Nguyễn Văn Nam"},
               {"ChucDanh", "Chuyên viên"}, {"PhongBanXuLy", "Phòng Khảo thí và Quản lý chất lượng"},
               {"NoiDungXuLy", "Chuyển bước xử lý"}};
  auto r = MapProgressItem("rec-" + code, "SGDDT.TTRA", data, Mappings());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r->item;
}

class PortalClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    standin_ = new StandinProcess(GetTestPki().server_cert, GetTestPki().server_key,
                                  {"--dstcode", kDstcode, "--seed", "7"}, StandinEnv());
    ASSERT_TRUE(standin_->started()) << standin_->stderr_text();
  }
  static void TearDownTestSuite() {
    delete standin_;
    standin_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(standin_, nullptr);
    standin_->Reset();
  }
  static StandinProcess* standin_;
};
StandinProcess* PortalClientTest::standin_ = nullptr;

TEST_F(PortalClientTest, EnvelopeCreateAlreadyExistsThenUpdate) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  json d = Dossier("H26.20-230302-0001");
  SendResult r = client->SyncDossiers({d}, false);
  ASSERT_EQ(r.outcome, PortalOutcome::kSuccess) << r.message << r.exchange.response_body;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.error_code, "0");
  // Exact bytes for the export log; the session is masked in the storable copy.
  json sent = json::parse(r.exchange.request_body);
  EXPECT_EQ(sent["service"], "DongBoHoSoMC");
  EXPECT_EQ(sent["madonvi"], kUnit);
  EXPECT_EQ(sent["isUpdating"], "False");
  EXPECT_EQ(sent["data"][0], d);
  EXPECT_EQ(sent["session"].get<std::string>().size(), 32u);
  EXPECT_EQ(json::parse(r.exchange.request_body_masked)["session"], "***");
  EXPECT_EQ(r.exchange.url, standin_->url() + "/integration");
  EXPECT_EQ(json::parse(r.exchange.response_body)["result"][0]["status"], "created");
  EXPECT_EQ(r.exchange.request_body.find(kPassword), std::string::npos);

  SendResult again = client->SyncDossiers({d}, false);
  EXPECT_EQ(again.outcome, PortalOutcome::kAlreadyExists) << again.message;
  EXPECT_EQ(again.error_code, "-3");
  EXPECT_NE(again.message.find("đã tồn tại"), std::string::npos);

  json updated = Dossier("H26.20-230302-0001", "4");
  SendResult up = client->SyncDossiers({updated}, true);
  ASSERT_EQ(up.outcome, PortalOutcome::kSuccess) << up.message;
  EXPECT_EQ(json::parse(up.exchange.request_body)["isUpdating"], "True");

  json rec = standin_->Received()["dossiers"]["H26.20-230302-0001"];
  EXPECT_EQ(rec["creates"], 1);
  EXPECT_EQ(rec["updates"], 1);
  EXPECT_EQ(rec["duplicate_creates"], 1);
  EXPECT_EQ(rec["item"]["TrangThaiHoSo"], "4");
  EXPECT_EQ(rec["unit"], kUnit);
  EXPECT_EQ(standin_->Stats()["logins"], 1);  // one session for all three calls
}

TEST_F(PortalClientTest, ResponsesMatchResponseSchema) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  std::ifstream in(std::string(DANVAN_SOURCE_ROOT) + "/schemas/portal/response.schema.json");
  json schema_doc = json::parse(in);
  valijson::Schema schema;
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter sa(schema_doc);
  parser.populateSchema(sa, schema);
  std::vector<std::string> bodies;
  bodies.push_back(client->SyncDossiers({Dossier("H26.20-230302-0002")}, false).exchange.response_body);
  bodies.push_back(client->SyncDossiers({Dossier("H26.20-230302-0002")}, false).exchange.response_body);
  json bad = Dossier("H26.20-230302-0003");
  bad["NgayTiepNhan"] = "2023-03-02";
  bodies.push_back(client->SyncDossiers({bad}, false).exchange.response_body);
  bodies.push_back(client->Lookup("H26.20-230302-0002").exchange.response_body);
  for (const auto& b : bodies) {
    json doc = json::parse(b);
    valijson::Validator v;
    valijson::adapters::NlohmannJsonAdapter ta(doc);
    EXPECT_TRUE(v.validate(schema, ta, nullptr)) << b;
  }
}

TEST_F(PortalClientTest, ProgressInOrderAppliedOnce) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  const std::string code = "H26.20-230302-0010";
  ASSERT_TRUE(client->SyncDossiers({Dossier(code)}, false).ok());
  std::vector<json> steps = {Step(code, 2, "20230302091500"), Step(code, 4, "20230302100000"),
                             Step(code, 9, "20230302150000"), Step(code, 10, "20230302163000")};
  SendResult r = client->SyncProgress(steps, {"", code + ":progress:1-4"});
  ASSERT_TRUE(r.ok()) << r.message;
  json progress = standin_->Received()["progress"];
  ASSERT_EQ(progress.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(progress[i]["seq"], i + 1);
    EXPECT_EQ(progress[i]["item"], steps[i]);
    EXPECT_FALSE(progress[i]["duplicate"].get<bool>());
    EXPECT_FALSE(progress[i]["out_of_order"].get<bool>());
    EXPECT_EQ(progress[i]["idempotency_key"], code + ":progress:1-4");
  }
  // The stand-in notices a step sent out of order and one sent twice.
  ASSERT_TRUE(client->SyncProgress({Step(code, 5, "20230302120000")}).ok());
  ASSERT_TRUE(client->SyncProgress({steps[3]}).ok());
  json stats = standin_->Stats();
  EXPECT_EQ(stats["out_of_order_steps"], 1);  // 12:00 after 16:30
  EXPECT_EQ(stats["duplicate_steps"], 1);
}

TEST_F(PortalClientTest, ProgressForUnknownDossierIsPermanent) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  SendResult r = client->SyncProgress({Step("H26.20-230302-0099", 4, "20230302100000")});
  EXPECT_EQ(r.outcome, PortalOutcome::kPermanent);
  EXPECT_EQ(r.error_code, "-4");
}

TEST_F(PortalClientTest, SchemaRejectionIsPermanentAndNamesField) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  json d = Dossier("H26.20-230302-0020");
  d["NgayHenTra"] = "20230230170000";  // 30 February
  d["TrangThaiHoSo"] = "11";
  SendResult r = client->SyncDossiers({d}, false);
  EXPECT_EQ(r.outcome, PortalOutcome::kPermanent);
  EXPECT_EQ(r.http_status, 400);
  EXPECT_NE(r.message.find("NgayHenTra"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("TrangThaiHoSo"), std::string::npos) << r.message;
  EXPECT_EQ(standin_->Stats()["dossiers"], 0);
}

TEST_F(PortalClientTest, InjectedServerErrorsAreRetryable) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  ASSERT_TRUE(client->Lookup("x").ok());  // logged in
  for (int status : {500, 502, 503, 504, 408, 425}) {
    standin_->Faults({{"fail_next", 1}, {"fail_status", status}});
    SendResult r = client->SyncDossiers({Dossier("H26.20-230302-0030")}, false);
    EXPECT_EQ(r.outcome, PortalOutcome::kRetryable) << status;
    EXPECT_EQ(r.http_status, status);
    EXPECT_EQ(r.retry_after_ms, -1);
  }
  EXPECT_EQ(standin_->Stats()["dossiers"], 0);
  SendResult ok = client->SyncDossiers({Dossier("H26.20-230302-0030")}, false);
  EXPECT_EQ(ok.outcome, PortalOutcome::kSuccess) << ok.message;
}

TEST_F(PortalClientTest, ClientErrorsArePermanent) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  ASSERT_TRUE(client->Lookup("x").ok());
  for (int status : {400, 404, 409, 422}) {
    standin_->Faults({{"fail_next", 1}, {"fail_status", status}});
    SendResult r = client->SyncDossiers({Dossier("H26.20-230302-0031")}, false);
    EXPECT_EQ(r.outcome, PortalOutcome::kPermanent) << status;
    EXPECT_EQ(r.http_status, status);
  }
}

TEST_F(PortalClientTest, RateLimitHonoursRetryAfterSecondsAndDate) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  standin_->Faults({{"fail_next", 1}, {"fail_status", 429}, {"retry_after", "7"}});
  SendResult r = client->SyncDossiers({Dossier("H26.20-230302-0040")}, false);
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable);
  EXPECT_EQ(r.http_status, 429);
  EXPECT_EQ(r.retry_after_ms, 7000);

  Poco::DateTime at;
  at += Poco::Timespan(30, 0);
  std::string date = Poco::DateTimeFormatter::format(at, Poco::DateTimeFormat::HTTP_FORMAT);
  standin_->Faults({{"fail_next", 1}, {"fail_status", 503}, {"retry_after", date}});
  SendResult r2 = client->SyncDossiers({Dossier("H26.20-230302-0040")}, false);
  EXPECT_EQ(r2.outcome, PortalOutcome::kRetryable);
  EXPECT_GT(r2.retry_after_ms, 25'000);
  EXPECT_LE(r2.retry_after_ms, 31'000);
  EXPECT_EQ(standin_->Stats()["dossiers"], 0);
}

TEST_F(PortalClientTest, SlowResponseTimesOutAndIsRetryable) {
  json j = EnvelopeJson(standin_->url());
  j["read_timeout_ms"] = 300;
  auto client = Client(Parse(j));
  ASSERT_TRUE(client->Lookup("x").ok());
  standin_->Faults({{"delay_ms", 1200}, {"delay_next", 1}});
  const std::string code = "H26.20-230302-0050";
  auto t0 = std::chrono::steady_clock::now();
  SendResult r = client->SyncDossiers({Dossier(code)}, false);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_NE(r.message.find("hết thời gian chờ"), std::string::npos) << r.message;
  EXPECT_LT(took, std::chrono::milliseconds(1100));
  // The portal applied it after all (the answer was lost): the resend finds it already there.
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  SendResult again = client->SyncDossiers({Dossier(code)}, false);
  EXPECT_EQ(again.outcome, PortalOutcome::kAlreadyExists) << again.message;
  EXPECT_EQ(standin_->Received()["dossiers"][code]["creates"], 1);
}

TEST_F(PortalClientTest, DroppedConnectionBeforeApplyIsRetriedOnceOnFreshConnection) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  ASSERT_TRUE(client->Lookup("x").ok());  // the keep-alive connection is now reused
  // A look-up is harmless to repeat: resent once on a fresh connection.
  standin_->Faults({{"drop_next", 1}});
  LookupResult l = client->Lookup("H26.20-230302-0060");
  EXPECT_EQ(l.outcome, PortalOutcome::kSuccess) << l.message;
  EXPECT_EQ(l.attempts, 2);
  // A dossier create is not: the outbox looks it up before sending it again (issue 11).
  standin_->Faults({{"drop_next", 1}});
  const std::string code = "H26.20-230302-0060";
  SendResult r = client->SyncDossiers({Dossier(code)}, false);
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable) << r.message;
  EXPECT_TRUE(r.ambiguous);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_FALSE(standin_->Received()["dossiers"].contains(code));
  json req = standin_->Stats()["requests"]["DongBoHoSoMC"];
  EXPECT_EQ(req["dropped"], 1);
}

TEST_F(PortalClientTest, DroppedConnectionTwiceSurfacesAsRetryable) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  ASSERT_TRUE(client->Lookup("x").ok());
  standin_->Faults({{"drop_next", 2}});
  SendResult r = client->SyncDossiers({Dossier("H26.20-230302-0061")}, false);
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable);
  EXPECT_EQ(r.http_status, 0);
  // The request reached the server before the connection closed: it may have been applied.
  EXPECT_TRUE(r.ambiguous);
  EXPECT_EQ(standin_->Stats()["dossiers"], 0);
}

TEST_F(PortalClientTest, ProgressDroppedAfterApplyWithoutKeyIsNotResentByTransport) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  const std::string code = "H26.20-230302-0070";
  ASSERT_TRUE(client->SyncDossiers({Dossier(code)}, false).ok());
  standin_->Faults({{"drop_after_apply_next", 1}});
  SendResult r = client->SyncProgress({Step(code, 4, "20230302100000")});
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable);
  EXPECT_EQ(r.attempts, 1);
  // Applied although the answer was lost; resending without a key applies it twice, which the
  // stand-in reports.
  EXPECT_EQ(standin_->Stats()["progress_steps"], 1);
  ASSERT_TRUE(client->SyncProgress({Step(code, 4, "20230302100000")}).ok());
  EXPECT_EQ(standin_->Stats()["duplicate_steps"], 1);
}

TEST_F(PortalClientTest, ProgressDroppedAfterApplyIsNeverResentByTransportEvenWithKey) {
  // The national portal honours no idempotency key (issue 11): a progress call is never resent
  // transparently, key or not; the outcome is reported as ambiguous for the outbox to handle.
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  const std::string code = "H26.20-230302-0071";
  ASSERT_TRUE(client->SyncDossiers({Dossier(code)}, false).ok());
  standin_->Faults({{"drop_after_apply_next", 1}});
  PortalCallOptions opt{"", code + ":progress:1-2"};
  std::vector<json> steps = {Step(code, 4, "20230302100000"), Step(code, 9, "20230302140000")};
  SendResult r = client->SyncProgress(steps, opt);
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable) << r.message;
  EXPECT_TRUE(r.ambiguous);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.exchange.idempotency_key, code + ":progress:1-2");
  json stats = standin_->Stats();
  EXPECT_EQ(stats["progress_steps"], 2);
  EXPECT_EQ(stats["duplicate_steps"], 0);
}

TEST_F(PortalClientTest, MalformedBodyIsRetryableAndResendFindsDossier) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  const std::string code = "H26.20-230302-0080";
  standin_->Faults({{"malformed_next", 1}});
  SendResult r = client->SyncDossiers({Dossier(code)}, false);
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable);
  EXPECT_TRUE(r.ambiguous);  // applied, answer unreadable
  EXPECT_EQ(r.http_status, 200);
  EXPECT_NE(r.exchange.response_body.find("<html>"), std::string::npos);
  EXPECT_EQ(client->SyncDossiers({Dossier(code)}, false).outcome, PortalOutcome::kAlreadyExists);
}

// Issue 10: a portal answer is read up to 16 MiB (kMaxResponseBytes) and parsed with the nesting
// limit: an endless body and a body nested 200,000 deep are retryable failures of that call,
// neither grows memory without bound nor overflows the sender's stack (copying the nested
// `result` recursed once per level). The next call works.
TEST_F(PortalClientTest, OversizedOrDeeplyNestedAnswerIsRetryableNotACrash) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  standin_->Faults({{"oversize_next", 1}, {"oversize_bytes", 20 << 20}});
  SendResult big = client->SyncDossiers({Dossier("H26.20-230302-0095")}, false);
  EXPECT_EQ(big.outcome, PortalOutcome::kRetryable) << big.message;
  EXPECT_LE(big.exchange.response_body.size(), static_cast<size_t>(kMaxResponseBytes));
  EXPECT_NE(big.message.find("larger than the limit"), std::string::npos) << big.message;

  standin_->Faults({{"deep_next", 1}, {"deep_levels", 200000}});
  SendResult deep = client->SyncDossiers({Dossier("H26.20-230302-0096")}, false);
  EXPECT_EQ(deep.outcome, PortalOutcome::kRetryable) << deep.message;
  EXPECT_EQ(deep.http_status, 200);

  EXPECT_EQ(client->SyncDossiers({Dossier("H26.20-230302-0097")}, false).outcome, PortalOutcome::kSuccess);
}

TEST_F(PortalClientTest, ErrorCodeAsNumberAndDoubleZeroAreSuccess) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  standin_->Faults({{"error_code_as_number", true}});
  SendResult a = client->SyncDossiers({Dossier("H26.20-230302-0090")}, false);
  EXPECT_EQ(a.outcome, PortalOutcome::kSuccess) << a.exchange.response_body;
  EXPECT_TRUE(json::parse(a.exchange.response_body)["error_code"].is_number());
  SendResult dup = client->SyncDossiers({Dossier("H26.20-230302-0090")}, false);
  EXPECT_EQ(dup.outcome, PortalOutcome::kAlreadyExists);
  EXPECT_EQ(dup.error_code, "-3");
  standin_->Faults({{"error_code_as_number", false}, {"success_code", "00"}});
  SendResult b = client->SyncDossiers({Dossier("H26.20-230302-0091")}, false);
  EXPECT_EQ(b.outcome, PortalOutcome::kSuccess);
  EXPECT_EQ(b.error_code, "00");
}

TEST_F(PortalClientTest, ExpiredSessionMidBatchLogsInAgain) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  const std::string code = "H26.20-230302-0100";
  ASSERT_TRUE(client->SyncDossiers({Dossier(code)}, false).ok());
  std::vector<json> steps;
  for (int i = 0; i < 20; ++i) {
    char t[16];
    std::snprintf(t, sizeof t, "2023030210%02d00", i * 2);
    steps.push_back(Step(code, i % 2 ? 4 : 5, t));
  }
  // Chunks of 10; the session expires between the chunks.
  std::vector<json> first(steps.begin(), steps.begin() + 10), second(steps.begin() + 10, steps.end());
  ASSERT_TRUE(client->SyncProgress(first).ok());
  standin_->Post("/_control/expire_sessions", json::object());
  SendResult r = client->SyncProgress(second);
  ASSERT_EQ(r.outcome, PortalOutcome::kSuccess) << r.message;
  EXPECT_EQ(r.attempts, 3);  // rejected call, log-in, resend
  json stats = standin_->Stats();
  EXPECT_EQ(stats["logins"], 2);
  EXPECT_EQ(stats["progress_steps"], 20);
  EXPECT_EQ(stats["duplicate_steps"], 0);
  EXPECT_EQ(stats["out_of_order_steps"], 0);
  // Expiry triggered by the stand-in after N requests behaves the same.
  standin_->Faults({{"expire_sessions_after", 0}});
  EXPECT_TRUE(client->Lookup(code).found);
  EXPECT_EQ(standin_->Stats()["logins"], 3);
}

TEST_F(PortalClientTest, WrongPasswordIsAuthFailure) {
  json j = EnvelopeJson(standin_->url());
  setenv("DANVAN_TEST_WRONG_PASSWORD", "sai", 1);
  j["envelope"]["password_env"] = "DANVAN_TEST_WRONG_PASSWORD";
  auto c = ParsePortalConfig(j);
  ASSERT_TRUE(c.ok());
  auto client = Client(c.value());
  SendResult r = client->SyncDossiers({Dossier("H26.20-230302-0110")}, false);
  EXPECT_EQ(r.outcome, PortalOutcome::kPermanent);
  EXPECT_TRUE(r.auth_failed);
  EXPECT_EQ(r.message.find("sai"), std::string::npos);
  EXPECT_EQ(standin_->Stats()["dossiers"], 0);
}

TEST_F(PortalClientTest, LookupAndProcedures) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  const std::string code = "H26.20-230302-0120";
  LookupResult miss = client->Lookup(code);
  EXPECT_TRUE(miss.ok());
  EXPECT_FALSE(miss.found);
  ASSERT_TRUE(client->SyncDossiers({Dossier(code)}, false).ok());
  LookupResult hit = client->Lookup(code);
  EXPECT_TRUE(hit.found);
  EXPECT_EQ(hit.result[0]["MaHoSo"], code);
  auto proc = client->GetProcedure("1.005090");
  ASSERT_TRUE(proc.ok()) << proc.status().ToString();
  EXPECT_EQ((*proc)["TenTTHC"], "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc");
  EXPECT_NE(json::parse(hit.exchange.request_body)["service"], "LayThuTuc");
  auto none = client->GetProcedure("9.999999");
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  auto list = client->ListProcedures();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 3u);
  standin_->Faults({{"fail_next", 1}, {"fail_status", 503}});
  EXPECT_EQ(client->GetProcedure("1.005090").status().code(), Status::Code::kRetryLater);
}

TEST_F(PortalClientTest, PerOperationStyleWithOAuth2) {
  auto client = Client(Parse(PerOpJson(standin_->url())));
  const std::string code = "H26.20-230302-0130";
  SendResult c = client->SyncDossiers({Dossier(code)}, false, {"", "k-create-" + code});
  ASSERT_EQ(c.outcome, PortalOutcome::kSuccess) << c.message << c.exchange.response_body;
  EXPECT_NE(c.exchange.url.find("/api/SynsTTHCC/DongBoHoSoMC?MaDinhDanhDV=000.00.20.H26&isUpdating=False"),
            std::string::npos)
      << c.exchange.url;
  EXPECT_TRUE(json::parse(c.exchange.request_body).is_array());
  EXPECT_EQ(client->SyncDossiers({Dossier(code)}, false).outcome, PortalOutcome::kAlreadyExists);
  SendResult u = client->SyncDossiers({Dossier(code, "4")}, true);
  ASSERT_TRUE(u.ok()) << u.message;
  EXPECT_NE(u.exchange.url.find("isUpdating=True"), std::string::npos);
  ASSERT_TRUE(client->SyncProgress({Step(code, 4, "20230302100000")}).ok());
  EXPECT_TRUE(client->Lookup(code).found);
  EXPECT_TRUE(client->GetProcedure("1.004831").ok());
  json stats = standin_->Stats();
  EXPECT_EQ(stats["tokens_issued"], 1);  // cached across calls
  EXPECT_EQ(standin_->Received()["dossiers"][code]["updates"], 1);

  // Token revoked at the gateway: 401, new token, resent.
  standin_->Post("/_control/expire_sessions", json::object());
  SendResult after = client->SyncProgress({Step(code, 9, "20230302140000")});
  ASSERT_TRUE(after.ok()) << after.message;
  EXPECT_EQ(after.attempts, 3);
  EXPECT_EQ(standin_->Stats()["tokens_issued"], 2);
}

TEST_F(PortalClientTest, PerOperationWrongClientSecretIsAuthFailure) {
  json j = PerOpJson(standin_->url());
  setenv("DANVAN_TEST_WRONG_SECRET", "khong-dung", 1);
  j["per_operation"]["oauth2"]["client_secret_env"] = "DANVAN_TEST_WRONG_SECRET";
  auto c = ParsePortalConfig(j);
  ASSERT_TRUE(c.ok());
  auto client = Client(c.value());
  SendResult r = client->SyncDossiers({Dossier("H26.20-230302-0140")}, false);
  EXPECT_EQ(r.outcome, PortalOutcome::kPermanent);
  EXPECT_TRUE(r.auth_failed);
}

TEST_F(PortalClientTest, PayloadMappingErrorHoldsOnlyThatRecord) {
  auto client = Client(Parse(EnvelopeJson(standin_->url())));
  PortalMappings m = Mappings();
  json good = {{"MaHoSo", "H26.20-230302-0150"}, {"MaTTHC", "GD-BANSAO"},
               {"NgayTiepNhan", "2023-03-02T09:15:00+07:00"}, {"TrangThaiHoSo", "2"}};
  json unmapped = good;
  unmapped["MaHoSo"] = "H26.20-230302-0151";
  unmapped["MaTTHC"] = "GD-CHUACO";
  std::vector<json> batch;
  std::vector<std::string> held;
  for (const auto& [id, data] : {std::pair{"r1", good}, std::pair{"r2", unmapped}}) {
    auto w = MapDossierItem(id, "SGDDT.TTRA", data, m);
    if (w.ok()) {
      batch.push_back(w->item);
    } else {
      held.push_back(w.status().message());
    }
  }
  ASSERT_EQ(held.size(), 1u);
  EXPECT_NE(held[0].find("r2"), std::string::npos);
  EXPECT_NE(held[0].find("GD-CHUACO"), std::string::npos);
  ASSERT_TRUE(client->SyncDossiers(batch, false).ok());
  // The mapping is added; the held record goes through.
  m.procedures["GD-CHUACO"] = "1.005092";
  auto w = MapDossierItem("r2", "SGDDT.TTRA", unmapped, m);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(client->SyncDossiers({w->item}, false, {w->madonvi, ""}).ok());
  json dossiers = standin_->Received()["dossiers"];
  EXPECT_EQ(dossiers.size(), 2u);
  EXPECT_EQ(dossiers["H26.20-230302-0151"]["item"]["MaTTHC"], "1.005092");
}

TEST_F(PortalClientTest, OneClientPerThreadConcurrently) {
  // The outbox runs several sender threads, each with its own client instance.
  const PortalConfig cfg = Parse(EnvelopeJson(standin_->url()));
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = MakePortalClient(cfg);
      if (!client.ok()) return;
      for (int i = 0; i < kPerThread; ++i) {
        char code[40];
        std::snprintf(code, sizeof code, "H26.20-230303-%d%03d", t, i);
        if ((*client)->SyncDossiers({Dossier(code)}, false).ok() &&
            (*client)->SyncProgress({Step(code, 4, "20230303100000")}).ok()) {
          ++ok;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  json stats = standin_->Stats();
  EXPECT_EQ(stats["dossiers"], kThreads * kPerThread);
  EXPECT_EQ(stats["progress_steps"], kThreads * kPerThread);
  EXPECT_EQ(stats["duplicate_steps"], 0);
  EXPECT_EQ(stats["logins"], kThreads);
}

TEST_F(PortalClientTest, ConnectionRefusedIsRetryable) {
  // A port nobody listens on: bind, read the port, close.
  int port = 0;
  {
    StandinProcess tmp(GetTestPki().server_cert, GetTestPki().server_key, {}, StandinEnv());
    port = tmp.port();
  }
  auto client = Client(Parse(EnvelopeJson("https://localhost:" + std::to_string(port))));
  SendResult r = client->SyncDossiers({Dossier("H26.20-230302-0160")}, false);
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_NE(r.message.find("đăng nhập"), std::string::npos) << r.message;
  EXPECT_FALSE(r.ambiguous);  // nothing went out
}


// --- TLS ----------------------------------------------------------------------------------

TEST(PortalTlsTest, UntrustedServerCertificateRejectedWhenVerifying) {
  StandinProcess rogue(GetTestPki().rogue_server_cert, GetTestPki().rogue_server_key, {},
                       StandinEnv());
  ASSERT_TRUE(rogue.started()) << rogue.stderr_text();
  json j = EnvelopeJson(rogue.url());
  j.erase("envelope");
  j["envelope"] = {{"username", "danvan"}, {"password_env", "DANVAN_TEST_PORTAL_PASSWORD"},
                   {"dstcode", kDstcode}};
  auto client = Client(Parse(j));
  SendResult r = client->SyncDossiers({Dossier("H26.20-230302-0200")}, false);
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(rogue.Stats()["logins"], 0);  // not even the password went out
  EXPECT_EQ(rogue.Stats()["dossiers"], 0);

  // Same server with verification off works: it is the verification. Turning it off needs the
  // test-only switch (refused otherwise: tests/security/transport_security_test.cc).
  j["tls"]["verify"] = false;
  EXPECT_FALSE(ParsePortalConfig(j).ok());
  j["insecure_test_only"] = true;
  auto lax = Client(Parse(j));
  EXPECT_EQ(lax->SyncDossiers({Dossier("H26.20-230302-0200")}, false).outcome,
            PortalOutcome::kSuccess);
}

TEST(PortalTlsTest, HostNameMismatchRejected) {
  StandinProcess wrong(GetTestPki().wrong_host_cert, GetTestPki().wrong_host_key, {},
                       StandinEnv());
  ASSERT_TRUE(wrong.started()) << wrong.stderr_text();
  json j = EnvelopeJson(wrong.url());
  auto client = Client(Parse(j));
  SendResult r = client->Lookup("H26.20-230302-0201");
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(wrong.Stats()["logins"], 0);
}

TEST(PortalTlsTest, ClientCertificateRequiredByServer) {
  const auto& pki = GetTestPki();
  StandinProcess mtls(pki.server_cert, pki.server_key, {"--client-ca", pki.ca_cert},
                      StandinEnv());
  ASSERT_TRUE(mtls.started()) << mtls.stderr_text();
  json j = EnvelopeJson(mtls.url());
  auto without = Client(Parse(j));
  SendResult r = without->Lookup("H26.20-230302-0202");
  EXPECT_EQ(r.outcome, PortalOutcome::kRetryable);
  EXPECT_EQ(r.http_status, 0);

  j["tls"]["client_cert_file"] = pki.client_cert;
  j["tls"]["client_key_file"] = pki.client_key;
  auto with = Client(Parse(j));
  LookupResult ok = with->Lookup("H26.20-230302-0202");
  EXPECT_EQ(ok.outcome, PortalOutcome::kSuccess) << ok.message;
}

TEST(PortalOAuth2Test, TokenCachedUntilExpiryThenRefetchedBeforeUse) {
  const auto& pki = GetTestPki();
  StandinProcess s(pki.server_cert, pki.server_key, {"--token-ttl-s", "1"}, StandinEnv());
  ASSERT_TRUE(s.started());
  json j = PerOpJson(s.url());
  j["per_operation"]["oauth2"]["expiry_margin_ms"] = 0;
  j["per_operation"]["oauth2"]["basic_auth"] = true;
  auto client = Client(Parse(j));
  LookupResult a = client->Lookup("H26.20-230302-0300");
  ASSERT_TRUE(a.ok()) << a.message;
  EXPECT_EQ(a.attempts, 2);  // token + call
  EXPECT_EQ(client->Lookup("H26.20-230302-0300").attempts, 1);  // cached
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  LookupResult b = client->Lookup("H26.20-230302-0300");
  ASSERT_TRUE(b.ok()) << b.message;
  EXPECT_EQ(b.attempts, 2);  // fetched anew before the call, no 401 round trip
  json stats = s.Stats();
  EXPECT_EQ(stats["tokens_issued"], 2);
  EXPECT_EQ(stats["requests"]["TraCuuHoSo"].value("200:0", 0), 3);
  EXPECT_FALSE(stats["requests"]["TraCuuHoSo"].contains("401:-401"));
}

TEST(PortalKeepAliveTest, ServerClosedIdleConnectionIsReopened) {
  const auto& pki = GetTestPki();
  StandinProcess s(pki.server_cert, pki.server_key, {"--keep-alive-timeout-ms", "200"},
                   StandinEnv());
  ASSERT_TRUE(s.started());
  json j = EnvelopeJson(s.url());
  j["keep_alive_idle_ms"] = 60'000;  // the client would happily reuse it
  auto client = Client(Parse(j));
  ASSERT_TRUE(client->Lookup("a").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // server closes the idle one
  // Progress without a key is never resent blindly, so success here means the closed
  // connection was detected before sending.
  ASSERT_TRUE(client->SyncDossiers({Dossier("H26.20-230302-0210")}, false).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  SendResult r = client->SyncProgress({Step("H26.20-230302-0210", 4, "20230302100000")});
  EXPECT_EQ(r.outcome, PortalOutcome::kSuccess) << r.message;
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(s.Stats()["progress_steps"], 1);
}

// --- pure pieces --------------------------------------------------------------------------

PortalConfig DefaultConfig() {
  PortalConfig c;
  c.base_url = "https://portal.example.vn";
  return c;
}

SendResult Classify(int status, const std::string& body, std::string retry_after = "",
                    bool* expired = nullptr) {
  HttpResponse r;
  r.status = status;
  r.body = body;
  if (!retry_after.empty()) r.headers.emplace_back("Retry-After", retry_after);
  bool dummy;
  return ClassifyResponse(DefaultConfig(), r, 1'700'000'000'000, expired ? expired : &dummy);
}

TEST(PortalClassifyTest, Leniency) {
  EXPECT_EQ(Classify(200, R"({"error_code":0})").outcome, PortalOutcome::kSuccess);
  EXPECT_EQ(Classify(200, R"({"error_code":"0"})").outcome, PortalOutcome::kSuccess);
  EXPECT_EQ(Classify(200, R"({"error_code":"00","result":[1]})").outcome, PortalOutcome::kSuccess);
  EXPECT_EQ(Classify(200, R"({"error_code":"00","result":[1]})").result, json::array({1}));
  EXPECT_EQ(Classify(200, R"({"error_code":"3","message":"Hồ sơ đã tồn tại"})").outcome,
            PortalOutcome::kAlreadyExists);
  EXPECT_EQ(Classify(200, R"({"error_code":-3,"message":"Mã hồ sơ đã tồn tại trong hệ thống"})").outcome,
            PortalOutcome::kAlreadyExists);
  EXPECT_EQ(Classify(409, R"({"error_code":"-3","message":"Hồ sơ đã tồn tại"})").outcome,
            PortalOutcome::kAlreadyExists);
  EXPECT_EQ(Classify(200, R"({"error_code":"-1","message":"Sai định dạng"})").outcome,
            PortalOutcome::kPermanent);
  // A code written as a float reads as its integer; one that is no exact integer is kept as
  // written (CI's fuzzer found 1e76 converted to long: undefined behaviour).
  EXPECT_EQ(Classify(200, R"({"error_code":-3.0,"message":"Hồ sơ đã tồn tại"})").outcome,
            PortalOutcome::kAlreadyExists);
  EXPECT_EQ(Classify(200, R"({"error_code":-3.0})").error_code, "-3");
  for (const char* body : {R"({"error_code":1e76})", R"({"error_code":-1.5})",
                           R"({"error_code":11111111111111111111111111111111111111111})"}) {
    SendResult odd = Classify(200, body);
    EXPECT_FALSE(odd.error_code.empty()) << body;
    EXPECT_NE(odd.outcome, PortalOutcome::kSuccess) << body;
  }
  EXPECT_EQ(Classify(200, "<html>gateway</html>").outcome, PortalOutcome::kRetryable);
  EXPECT_EQ(Classify(200, "").outcome, PortalOutcome::kRetryable);
  for (int s : {408, 425, 429, 500, 502, 503, 504, 599}) {
    EXPECT_EQ(Classify(s, "").outcome, PortalOutcome::kRetryable) << s;
  }
  for (int s : {400, 404, 405, 410, 413, 422}) {
    EXPECT_EQ(Classify(s, "{}").outcome, PortalOutcome::kPermanent) << s;
  }
  bool expired = false;
  EXPECT_EQ(Classify(401, "", "", &expired).outcome, PortalOutcome::kRetryable);
  EXPECT_TRUE(expired);
  Classify(200, R"({"error_code":"-2","message":"Phiên làm việc đã hết hạn"})", "", &expired);
  EXPECT_TRUE(expired);
  Classify(200, R"({"error_code":"0","message":"Không hết hạn"})", "", &expired);
  EXPECT_FALSE(expired);
  SendResult overdue =
      Classify(200, R"({"error_code":"-8","message":"Hồ sơ đã hết hạn xử lý"})", "", &expired);
  EXPECT_FALSE(expired);
  EXPECT_EQ(overdue.outcome, PortalOutcome::kPermanent);
  Classify(200, R"({"error_code":"-1","message":"Session expired"})", "", &expired);
  EXPECT_TRUE(expired);

  PortalConfig c = DefaultConfig();
  c.retryable_error_codes = {"-99"};
  HttpResponse busy;
  busy.status = 200;
  busy.body = R"({"error_code":"-99","message":"Hệ thống bận"})";
  bool e;
  EXPECT_EQ(ClassifyResponse(c, busy, 0, &e).outcome, PortalOutcome::kRetryable);
}

// Issue 11: which answers leave the outcome unknown (re-sending may apply twice), and which
// refusals mean the configuration is wrong rather than the data.
TEST(PortalClassifyTest, AmbiguousAndConfigurationRefusals) {
  EXPECT_TRUE(Classify(502, "").ambiguous);
  EXPECT_TRUE(Classify(504, "").ambiguous);
  EXPECT_TRUE(Classify(200, "<html>oops").ambiguous);
  EXPECT_FALSE(Classify(503, "").ambiguous);
  EXPECT_FALSE(Classify(429, "").ambiguous);
  SendResult dst = Classify(200, R"({"error_code":"-5","message":"dstcode không hợp lệ"})");
  EXPECT_EQ(dst.outcome, PortalOutcome::kPermanent);
  EXPECT_TRUE(dst.config_error);
  EXPECT_TRUE(Classify(200, R"j({"error_code":"-6","message":"Thiếu mã đơn vị (madonvi / MaDinhDanhDV)"})j").config_error);
  EXPECT_TRUE(Classify(404, "").config_error);
  EXPECT_TRUE(Classify(405, "").config_error);
  SendResult data = Classify(200, R"j({"error_code":"-1","message":"Dữ liệu không hợp lệ tại data[2] (MaHoSo H26.20-230301-0001): NguoiXuLy dài 63 ký tự"})j");
  EXPECT_EQ(data.outcome, PortalOutcome::kPermanent);
  EXPECT_FALSE(data.config_error);
  EXPECT_FALSE(Classify(400, R"({"error_code":"-1","message":"data[0].TrangThai: sai"})").config_error);
}

TEST(PortalClassifyTest, RetryAfter) {
  const int64_t now = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
  EXPECT_EQ(ParseRetryAfter("120", now), 120'000);
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), 0);
  EXPECT_EQ(ParseRetryAfter("Tue, 14 Nov 2023 22:14:20 GMT", now), 60'000);
  EXPECT_EQ(ParseRetryAfter("Tue, 14 Nov 2023 22:00:00 GMT", now), 0);  // past
  EXPECT_EQ(ParseRetryAfter("", now), -1);
  EXPECT_EQ(ParseRetryAfter("soon", now), -1);
  EXPECT_EQ(Classify(429, "", "3").retry_after_ms, 3000);
}

bool ValidConfigBySchema(const json& doc) {
  std::ifstream in(std::string(DANVAN_SOURCE_ROOT) + "/schemas/portal-config.schema.json");
  json schema_doc = json::parse(in);
  valijson::Schema schema;
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter sa(schema_doc);
  parser.populateSchema(sa, schema);
  valijson::Validator v;
  valijson::adapters::NlohmannJsonAdapter ta(doc);
  return v.validate(schema, ta, nullptr);
}

TEST(PortalConfigTest, SchemaAcceptsTestConfigsAndRejectsInlineSecrets) {
  EXPECT_TRUE(ValidConfigBySchema(EnvelopeJson("https://localhost:8443")));
  EXPECT_TRUE(ValidConfigBySchema(PerOpJson("https://localhost:8443")));
  json inline_pw = EnvelopeJson("https://localhost:8443");
  inline_pw["envelope"]["password"] = "x";
  EXPECT_FALSE(ValidConfigBySchema(inline_pw));
  json inline_secret = PerOpJson("https://localhost:8443");
  inline_secret["per_operation"]["oauth2"]["client_secret"] = "x";
  EXPECT_FALSE(ValidConfigBySchema(inline_secret));
  json no_envelope = EnvelopeJson("https://localhost:8443");
  no_envelope.erase("envelope");
  EXPECT_FALSE(ValidConfigBySchema(no_envelope));
  // Issue 11 item 8: the gateway refuses every call without dstcode, so it is required.
  json no_dstcode = EnvelopeJson("https://localhost:8443");
  no_dstcode["envelope"].erase("dstcode");
  EXPECT_FALSE(ValidConfigBySchema(no_dstcode));
  auto refused = ParsePortalConfig(no_dstcode);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("portal.envelope.dstcode"), std::string::npos)
      << refused.status().message();
}

// Issue 11 item 10: the plugin's configuration schema carries the portal section with every key
// (not a bare object): a copy of portal-config.schema.json with its definitions inlined. This
// keeps the two identical.
TEST(PortalConfigTest, ConfigSchemaCarriesThePortalSchema) {
  auto load = [](const char* name) {
    std::ifstream in(std::string(DANVAN_SOURCE_ROOT) + "/schemas/" + name);
    return json::parse(in);
  };
  json portal = load("portal-config.schema.json");
  const json defs = portal["definitions"];
  std::function<json(const json&)> resolve = [&](const json& x) -> json {
    if (x.is_object()) {
      json out = json::object();
      if (x.contains("$ref") && x["$ref"].get<std::string>().rfind("#/definitions/", 0) == 0) {
        out = resolve(defs[x["$ref"].get<std::string>().substr(14)]);
      }
      for (auto it = x.begin(); it != x.end(); ++it)
        if (it.key() != "$ref") out[it.key()] = resolve(it.value());
      return out;
    }
    if (x.is_array()) {
      json out = json::array();
      for (const auto& e : x) out.push_back(resolve(e));
      return out;
    }
    return x;
  };
  json want = json::object();
  for (auto it = portal.begin(); it != portal.end(); ++it) {
    if (it.key() == "$schema" || it.key() == "$id" || it.key() == "definitions" || it.key() == "title" ||
        it.key() == "description")
      continue;
    want[it.key()] = resolve(it.value());
  }
  json got = load("config.schema.json")["properties"]["portal"];
  got.erase("description");
  EXPECT_EQ(got, want) << "schemas/config.schema.json /properties/portal differs from "
                          "schemas/portal-config.schema.json: copy it again (definitions inlined)";
  // Every outbox key is declared with its meaning, and unknown ones are refused.
  json outbox = load("config.schema.json")["properties"]["outbox"];
  EXPECT_EQ(outbox["additionalProperties"], false);
  for (const char* k : {"enabled", "destination", "senders", "claim_batch", "steps_per_call",
                        "dossiers_per_call", "lease_ms", "backoff_base_ms", "backoff_cap_ms",
                        "max_attempts", "max_age_ms", "max_queued", "poll_interval_ms",
                        "held_retry_ms", "reconcile_interval_ms", "procedures_refresh_interval_ms",
                        "synthesize_progress", "derived_step_delay_ms", "derived_step_match_ms", "pause_ms",
                        "field_limits_file", "mappings"}) {
    ASSERT_TRUE(outbox["properties"].contains(k)) << k;
    EXPECT_FALSE(outbox["properties"][k].value("description", "").empty()) << k;
  }
}

TEST(PortalConfigTest, SecretsFromEnvOrFileNeverInline) {
  setenv("DANVAN_TEST_PW2", "bí mật", 1);
  json j = {{"style", "envelope"},
            {"base_url", "https://lgsp.haiphong.gov.vn/"},
            {"envelope", {{"username", "u"}, {"password_env", "DANVAN_TEST_PW2"},
                          {"dstcode", "VN:GOV:H31"}}}};
  auto c = ParsePortalConfig(j);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->envelope.password, "bí mật");
  EXPECT_EQ(c->base_url, "https://lgsp.haiphong.gov.vn");
  EXPECT_TRUE(c->tls.verify);  // on by default
  std::string masked = ToMaskedJson(c.value()).dump();
  EXPECT_EQ(masked.find("bí mật"), std::string::npos);
  EXPECT_NE(masked.find("***"), std::string::npos);

  char path[] = "/tmp/danvan-secret-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "tu-tep\n", 7), 7);
  close(fd);
  json f = j;
  f["envelope"] = {{"username", "u"}, {"password_file", path}, {"dstcode", "VN:GOV:H31"}};
  auto cf = ParsePortalConfig(f);
  ASSERT_TRUE(cf.ok());
  EXPECT_EQ(cf->envelope.password, "tu-tep");
  unlink(path);

  json inline_pw = j;
  inline_pw["envelope"]["password"] = "lộ";
  auto bad = ParsePortalConfig(inline_pw);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("lộ"), std::string::npos);

  // Issue 10 (unbounded reads): a secret file is a regular file of at most 64 KiB. /dev/zero,
  // a directory and a 1 MiB file are refused naming the key, at once (before: /dev/zero grew
  // `open` without bound, a 1 MiB file became the password).
  const std::string big_path = std::string(path) + "-big";
  std::ofstream(big_path) << std::string(1 << 20, 'p');
  for (const std::string& bad : {std::string("/dev/zero"), std::string("/tmp"), big_path}) {
    json b = j;
    b["envelope"] = {{"username", "u"}, {"password_file", bad}, {"dstcode", "VN:GOV:H26"}};
    auto t0 = std::chrono::steady_clock::now();
    auto r = ParsePortalConfig(b);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2)) << bad;
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("password_file"), std::string::npos) << r.status().message();
  }
  unlink(big_path.c_str());
  // The CA bundle and client certificate files, read by OpenSSL at the first connection: checked
  // at parse time, so /dev/zero or a directory fails `open` naming the field.
  for (const char* key : {"ca_file", "client_cert_file"}) {
    json b = j;
    b["tls"] = {{key, "/dev/zero"}};
    if (std::string(key) == "client_cert_file") b["tls"]["client_key_file"] = GetTestPki().server_key;
    auto r = ParsePortalConfig(b);
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_NE(r.status().message().find(std::string("portal.tls.") + key), std::string::npos)
        << r.status().message();
  }
  {
    json b = j;
    b["tls"] = {{"ca_file", GetTestPki().ca_cert}};
    EXPECT_TRUE(ParsePortalConfig(b).ok()) << "a real CA file is still accepted";
  }

  json unset = j;
  unset["envelope"]["password_env"] = "DANVAN_TEST_NOT_SET_ANYWHERE";
  EXPECT_FALSE(ParsePortalConfig(unset).ok());
  json http_style = j;
  http_style["style"] = "soap";
  EXPECT_FALSE(ParsePortalConfig(http_style).ok());
}

}  // namespace
}  // namespace danvan
