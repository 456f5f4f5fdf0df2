// The admin console through real HTTP on a free loopback port, in front of a real engine on a
// real SQLite file: password hashes, log-in, lockout, session expiry, CSRF, roles, the body
// limit, the error shape, the configuration checks (off by default, loopback only), thread
// lifecycle, escaping, and /metrics parsed by a strict text-format parser.
#include <gtest/gtest.h>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <Poco/DOM/DOMParser.h>
#include <Poco/DOM/Document.h>
#include <Poco/AutoPtr.h>
#include <Poco/Zip/ZipArchive.h>
#include <Poco/Zip/ZipStream.h>

#include "console/console.h"
#include "console/docx.h"
#include "console/password.h"
#include "engine/test_support.h"
#include "prom_parser.h"

namespace danvan {
namespace {

using nlohmann::json;
using testing::TempDir;

class ManualClock final : public Clock {
 public:
  int64_t NowMs() const override { return now.load(); }
  std::atomic<int64_t> now{1700000000000};
};

struct Reply {
  int status = 0;
  std::string body;
  std::string set_cookie;
  std::string location;
  std::string content_type;
  json Json() const { return json::parse(body, nullptr, false); }
};

// One HTTP exchange on a fresh connection.
Reply Http(int port, const std::string& method, const std::string& path, const std::string& body = "",
           const std::map<std::string, std::string>& headers = {}) {
  Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port));
  s.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST") req.setContentLength(static_cast<std::streamsize>(body.size()));
  s.sendRequest(req) << body;
  Poco::Net::HTTPResponse resp;
  std::istream& in = s.receiveResponse(resp);
  Reply r;
  r.status = resp.getStatus();
  Poco::StreamCopier::copyToString(in, r.body);
  r.set_cookie = resp.get("Set-Cookie", "");
  r.location = resp.get("Location", "");
  r.content_type = resp.getContentType();
  return r;
}

std::string Cookie(const Reply& login) { return login.set_cookie.substr(0, login.set_cookie.find(';')); }

size_t ThreadCount() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/task");
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

const std::string& AdminHash() {
  static const std::string h = console::HashPassword("mật-khẩu-quản-trị", 100000).value();
  return h;
}
const std::string& ViewerHash() {
  static const std::string h = console::HashPassword("mat-khau-xem-2023", 100000).value();
  return h;
}

json ConsoleSection(json extra = json::object()) {
  json c = {{"enabled", true},
            {"bind", "127.0.0.1"},
            {"port", 0},
            {"threads", 3},
            {"max_body_bytes", 4096},
            {"session_idle_ms", 600000},
            {"lockout", {{"max_failures", 3}, {"duration_ms", 60000}}},
            {"users", json::array({{{"name", "quantri"}, {"role", "admin"}, {"password_hash", AdminHash()}},
                                   {{"name", "lanhdao"}, {"role", "viewer"}, {"password_hash", ViewerHash()}}})}};
  c.update(extra, true);
  return c;
}

class ConsoleTest : public ::testing::Test {
 protected:
  void Open(json console_extra = json::object()) {
    setenv("DANVAN_TEST_METRICS_TOKEN", "metrics-token-0123456789abcdef", 1);
    json section = ConsoleSection(console_extra);
    engine_ = testing::OpenEngine(testing::ConfigFor(dir_.path() / "c.sqlite", {{"console", section}}), clock_);
    ASSERT_TRUE(engine_->Start().ok());
    port_ = engine_->console_port();
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (engine_) engine_->Stop(5000);
  }
  // Logs in; the session cookie ("danvan_session=...") and the page's CSRF token.
  std::pair<std::string, std::string> Login(const std::string& user, const std::string& password) {
    Reply r = Http(port_, "POST", "/login", "username=" + user + "&password=" + Encode(password),
                   {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(r.status, 303) << r.body;
    const std::string cookie = Cookie(r);
    Reply page = Http(port_, "GET", "/health", "", {{"Cookie", cookie}});
    std::smatch m;
    std::regex csrf("name=\"csrf-token\" content=\"([0-9a-f]{64})\"");
    EXPECT_TRUE(std::regex_search(page.body, m, csrf)) << page.body.substr(0, 400);
    return {cookie, m.size() > 1 ? m[1].str() : ""};
  }
  static std::string Encode(const std::string& s) {
    std::string out;
    Poco::URI::encode(s, "&=+?/#", out);
    return out;
  }
  Reply Api(const std::pair<std::string, std::string>& session, const json& op) {
    return Http(port_, "POST", "/api/query", op.dump(),
                {{"Cookie", session.first}, {"X-CSRF-Token", session.second}, {"Content-Type", "application/json"}});
  }

  TempDir dir_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::unique_ptr<Engine> engine_;
  int port_ = 0;
};

TEST(ConsolePassword, HashVerifiesOnlyItsPassword) {
  auto h = console::HashPassword("Hải Phòng 2023!", 100000);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.value().rfind("pbkdf2-sha256$100000$", 0), 0u) << h.value();
  auto parsed = console::ParsePasswordHash(h.value(), 100000);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->salt.size(), 16u);
  EXPECT_TRUE(console::VerifyPassword("Hải Phòng 2023!", parsed.value()));
  EXPECT_FALSE(console::VerifyPassword("Hai Phong 2023!", parsed.value()));
  EXPECT_FALSE(console::VerifyPassword("", parsed.value()));
  // Two hashes of one password differ (random salt).
  EXPECT_NE(console::HashPassword("Hải Phòng 2023!", 100000).value(), h.value());
  // Fewer rounds than the configured minimum, or a malformed string, are refused.
  EXPECT_FALSE(console::ParsePasswordHash(h.value(), 200000).ok());
  EXPECT_FALSE(console::ParsePasswordHash("pbkdf2-sha256$100000$c2FsdA==$a2V5", 100000).ok());
  EXPECT_FALSE(console::ParsePasswordHash("md5$abc", 100000).ok());
  // RFC 7914 §11 test vector of PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1, dkLen=64): the
  // first 32 bytes, so the derivation is the standard one.
  console::PasswordHash v{1, "salt", std::string("\x55\xac\x04\x6e\x56\xe3\x08\x9f\xec\x16\x91\xc2\x25\x44\xb6\x05"
                                                 "\xf9\x41\x85\x21\x6d\xde\x04\x65\xe6\x8b\x9d\x57\xc2\x0d\xac\xbc", 32)};
  EXPECT_TRUE(console::VerifyPassword("passwd", v));
}

TEST(ConsoleConfig, OffByDefaultAndLoopbackOnlyWithoutTls) {
  TempDir dir;
  auto plain = ParseEngineConfig(testing::ConfigFor(dir.path() / "a.sqlite"));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->console.enabled);
  EXPECT_EQ(plain->console.bind, "127.0.0.1");
  auto e = testing::OpenEngine(testing::ConfigFor(dir.path() / "a.sqlite"));
  ASSERT_TRUE(e->Start().ok());
  EXPECT_EQ(e->console_port(), 0);  // nothing listens
  e->Stop(5000);

  auto open_bind = ParseEngineConfig(
      testing::ConfigFor(dir.path() / "b.sqlite", {{"console", ConsoleSection({{"bind", "0.0.0.0"}})}}));
  ASSERT_FALSE(open_bind.ok());
  EXPECT_NE(open_bind.status().message().find("/console/bind"), std::string::npos) << open_bind.status().message();
  auto lan = ParseEngineConfig(
      testing::ConfigFor(dir.path() / "b.sqlite", {{"console", ConsoleSection({{"bind", "192.168.1.10"}})}}));
  ASSERT_FALSE(lan.ok());
  // With HTTPS configured a non-loopback address is allowed.
  auto tls = ParseEngineConfig(testing::ConfigFor(
      dir.path() / "b.sqlite",
      {{"console", ConsoleSection({{"bind", "0.0.0.0"}, {"tls", {{"cert_file", "/etc/c.pem"}, {"key_file", "/etc/k.pem"}}}})}}));
  EXPECT_TRUE(tls.ok()) << tls.status().message();
  // Enabled with no user, and a hash below the minimum rounds, are refused with their paths.
  auto nouser = ParseEngineConfig(
      testing::ConfigFor(dir.path() / "b.sqlite", {{"console", ConsoleSection({{"users", json::array()}})}}));
  ASSERT_FALSE(nouser.ok());
  EXPECT_NE(nouser.status().message().find("/console/users"), std::string::npos);
  json weak = ConsoleSection();
  weak["users"][0]["password_hash"] = console::HashPassword("x", 1000).value();
  auto weak_cfg = ParseEngineConfig(testing::ConfigFor(dir.path() / "b.sqlite", {{"console", weak}}));
  ASSERT_FALSE(weak_cfg.ok());
  EXPECT_NE(weak_cfg.status().message().find("/console/users/0/password_hash"), std::string::npos)
      << weak_cfg.status().message();
}

TEST_F(ConsoleTest, LoginSetsAStrictHttpOnlyCookieAndWrongPasswordIsRefused) {
  Open();
  Reply anon = Http(port_, "GET", "/health");
  EXPECT_EQ(anon.status, 303);
  EXPECT_EQ(anon.location, "/login");
  Reply bad = Http(port_, "POST", "/login", "username=quantri&password=sai", {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_NE(bad.body.find("Sai tên đăng nhập hoặc mật khẩu"), std::string::npos);
  EXPECT_TRUE(bad.set_cookie.empty());
  Reply unknown = Http(port_, "POST", "/login", "username=khongco&password=sai", {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(unknown.status, 401);
  Reply ok = Http(port_, "POST", "/login", "username=quantri&password=" + Encode("mật-khẩu-quản-trị"),
                  {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(ok.status, 303);
  EXPECT_NE(ok.set_cookie.find("HttpOnly"), std::string::npos) << ok.set_cookie;
  EXPECT_NE(ok.set_cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(ok.set_cookie.find("Secure"), std::string::npos);  // plain HTTP on loopback
  Reply page = Http(port_, "GET", "/health", "", {{"Cookie", Cookie(ok)}});
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Tình trạng hệ thống"), std::string::npos);
}

TEST_F(ConsoleTest, LockoutAfterConfiguredFailuresThenExpires) {
  Open();
  const std::string form = "application/x-www-form-urlencoded";
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(Http(port_, "POST", "/login", "username=quantri&password=sai", {{"Content-Type", form}}).status, 401);
  // The third failure (lockout.max_failures = 3) locks the name.
  EXPECT_EQ(Http(port_, "POST", "/login", "username=quantri&password=sai", {{"Content-Type", form}}).status, 429);
  // Now even the right password is refused...
  const std::string good = "username=quantri&password=" + Encode("mật-khẩu-quản-trị");
  Reply locked = Http(port_, "POST", "/login", good, {{"Content-Type", form}});
  EXPECT_EQ(locked.status, 429);
  EXPECT_NE(locked.body.find("tạm khóa"), std::string::npos);
  // ...another user is not affected...
  EXPECT_EQ(Http(port_, "POST", "/login", "username=lanhdao&password=mat-khau-xem-2023", {{"Content-Type", form}}).status, 303);
  // ...and after lockout.duration_ms the right password works again.
  clock_->now += 60001;
  EXPECT_EQ(Http(port_, "POST", "/login", good, {{"Content-Type", form}}).status, 303);
}

TEST_F(ConsoleTest, SessionExpiresAfterIdleTime) {
  Open();
  auto s = Login("quantri", "mật-khẩu-quản-trị");
  EXPECT_EQ(Api(s, {{"op", "stats"}}).status, 200);
  clock_->now += 599000;  // still inside session_idle_ms (600000): refreshed by the use
  EXPECT_EQ(Api(s, {{"op", "stats"}}).status, 200);
  clock_->now += 600000;
  Reply expired = Api(s, {{"op", "stats"}});
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.Json()["errors"][0]["code"], "console.unauthenticated");
  EXPECT_EQ(Http(port_, "GET", "/health", "", {{"Cookie", s.first}}).status, 303);
}

TEST_F(ConsoleTest, MutatingRequestsNeedTheSessionsCsrfToken) {
  Open();
  auto s = Login("quantri", "mật-khẩu-quản-trị");
  const json op = {{"op", "stats"}};
  Reply none = Http(port_, "POST", "/api/query", op.dump(), {{"Cookie", s.first}});
  EXPECT_EQ(none.status, 403);
  EXPECT_EQ(none.Json()["errors"][0]["code"], "console.csrf");
  Reply wrong = Http(port_, "POST", "/api/query", op.dump(),
                     {{"Cookie", s.first}, {"X-CSRF-Token", std::string(64, 'a')}});
  EXPECT_EQ(wrong.status, 403);
  // Another session's token does not work either.
  auto other = Login("lanhdao", "mat-khau-xem-2023");
  EXPECT_EQ(Http(port_, "POST", "/api/query", op.dump(), {{"Cookie", s.first}, {"X-CSRF-Token", other.second}}).status, 403);
  EXPECT_EQ(Api(s, op).status, 200);
  // Log-out is a mutation too.
  EXPECT_EQ(Http(port_, "POST", "/logout", "csrf=x", {{"Cookie", s.first}, {"Content-Type", "application/x-www-form-urlencoded"}}).status, 403);
  EXPECT_EQ(Http(port_, "POST", "/logout", "csrf=" + s.second, {{"Cookie", s.first}, {"Content-Type", "application/x-www-form-urlencoded"}}).status, 303);
  EXPECT_EQ(Api(s, op).status, 401);
}

TEST_F(ConsoleTest, ViewerRunsReadOpsOnlyAndErrorsHaveTheAbiShape) {
  Open();
  auto viewer = Login("lanhdao", "mat-khau-xem-2023");
  EXPECT_EQ(Api(viewer, {{"op", "stats"}}).status, 200);
  EXPECT_EQ(Api(viewer, {{"op", "tags.review"}, {"action", "list"}}).status, 200);
  for (const json& op : {json{{"op", "outbox.resend"}, {"id", 1}},
                         json{{"op", "tags.review"}, {"action", "confirm"}, {"source", "s"}, {"kind", "petition"}, {"id", "x"}},
                         json{{"op", "report"}, {"kind", "annual"}, {"year", 2023}, {"format", "all"}, {"path", "x"}},
                         json{{"op", "quarantine.list"}}, json{{"op", "config.reload"}}}) {
    Reply r = Api(viewer, op);
    EXPECT_EQ(r.status, 403) << op.dump();
    EXPECT_EQ(r.Json()["errors"][0]["code"], "console.forbidden") << r.body;
  }
  auto admin = Login("quantri", "mật-khẩu-quản-trị");
  Reply missing = Api(admin, {{"op", "no.such.op"}});
  EXPECT_EQ(missing.status, 404);
  json doc = missing.Json();
  EXPECT_EQ(doc["status"], "not_found");
  EXPECT_TRUE(doc["errors"][0].contains("message_en"));
  EXPECT_EQ(doc["errors"][0]["path"], "/op");
  Reply bad = Api(admin, {{"op", "quarantine.list"}, {"limit", "x"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["errors"][0]["path"], "/limit");
  Reply junk = Http(port_, "POST", "/api/query", "{not json", {{"Cookie", admin.first}, {"X-CSRF-Token", admin.second}});
  EXPECT_EQ(junk.status, 400);
  EXPECT_EQ(junk.Json()["status"], "invalid_input");
}

// Reading must not write: showing the ranking computes the scores without journalling them;
// only an explicit "score" by an admin stores a result (and a viewer may only compute).
TEST_F(ConsoleTest, IndicatorsPageComputesScoresWithoutJournallingThem) {
  Open();
  ASSERT_TRUE(engine_->Submit(testing::PetitionEvent("DT-2023-000001", 1, "received").dump()).status.ok());
  auto journalled = [&] {
    auto rows = engine_->services().store->ListJournal("score", "");
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->size() : size_t{0};
  };
  auto viewer = Login("lanhdao", "mat-khau-xem-2023");
  auto admin = Login("quantri", "mật-khẩu-quản-trị");
  for (const auto* who : {&viewer, &admin})
    for (int i = 0; i < 2; ++i) {
      Reply page = Http(port_, "GET", "/indicators?period=2023", "", {{"Cookie", who->first}});
      ASSERT_EQ(page.status, 200);
      EXPECT_NE(page.body.find("id=\"ranking\""), std::string::npos);
      EXPECT_EQ(page.body.find("class=\"error\""), std::string::npos) << page.body;
    }
  EXPECT_EQ(journalled(), 0u) << "a page view wrote the scoring journal";
  const json period = {{"kind", "year"}, {"year", 2023}};
  // A viewer computes; storing is refused.
  Reply computed = Api(viewer, {{"op", "score"}, {"period", period}, {"journal", false}});
  ASSERT_EQ(computed.status, 200) << computed.body;
  EXPECT_FALSE(computed.Json().contains("journal_id"));
  EXPECT_EQ(computed.Json()["journaled"], false);
  EXPECT_EQ(Api(viewer, {{"op", "score"}, {"period", period}}).status, 403);
  EXPECT_EQ(Api(viewer, {{"op", "score"}, {"period", period}, {"journal", true}}).status, 403);
  EXPECT_EQ(journalled(), 0u);
  // The admin's explicit scoring journals (the page's "Chấm điểm và lưu" sends journal true).
  Reply stored = Api(admin, {{"op", "score"}, {"period", period}, {"journal", true}});
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_TRUE(stored.Json().contains("journal_id"));
  EXPECT_EQ(journalled(), 1u);
  EXPECT_EQ(Api(admin, {{"op", "score"}, {"period", period}, {"journal", "yes"}}).Json()["errors"][0]["path"], "/journal");
}

// Long operations report done of total: re-tagging (started from the console), report
// generation; the health page draws the bars and /metrics' re-tag gauges follow the same count.
TEST_F(ConsoleTest, LongOperationsReportProgressWithATotal) {
  Open();
  for (int i = 1; i <= 5; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "DT-2023-%06d", i);
    ASSERT_TRUE(engine_->Submit(testing::PetitionEvent(id, 1, "received").dump()).status.ok());
  }
  ASSERT_TRUE(engine_->Submit(testing::DossierEvent("H31.01-230301-0001", 1, "2").dump()).status.ok());
  auto admin = Login("quantri", "mật-khẩu-quản-trị");
  auto viewer = Login("lanhdao", "mat-khau-xem-2023");
  // Nothing ran yet: every job idle, with its total.
  Reply idle = Api(viewer, {{"op", "progress"}});
  ASSERT_EQ(idle.status, 200) << idle.body;
  std::set<std::string> jobs;
  const json idle_doc = idle.Json();
  for (const auto& j : idle_doc["jobs"]) {
    jobs.insert(j["job"].get<std::string>());
    EXPECT_TRUE(j.contains("done") && j.contains("total") && j.contains("percent") && j.contains("state")) << j.dump();
  }
  EXPECT_EQ(jobs, (std::set<std::string>{"retag", "deadlines.reevaluation", "report"}));
  EXPECT_EQ(Api(viewer, {{"op", "progress"}, {"job", "nope"}}).Json()["errors"][0]["path"], "/job");

  ASSERT_EQ(Api(admin, {{"op", "tagging.reload"}}).status, 200);
  json retag;
  for (int i = 0; i < 400; ++i) {
    retag = Api(viewer, {{"op", "progress"}, {"job", "retag"}}).Json()["jobs"][0];
    if (retag["state"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(retag["state"], "done") << retag.dump();
  EXPECT_EQ(retag["total"], 6) << retag.dump();
  EXPECT_EQ(retag["done"], 6) << retag.dump();
  EXPECT_EQ(retag["percent"], 100);
  EXPECT_EQ(Api(admin, {{"op", "tagging.status"}}).Json()["total"], 6);
  Reply m = Http(port_, "GET", "/metrics", "", {{"Cookie", viewer.first}});
  auto parsed = prom::Parse(m.body);
  ASSERT_TRUE(parsed.error.empty()) << parsed.error;
  EXPECT_EQ(parsed.Value("danvan_retag_total_records", {}), 6);
  EXPECT_EQ(parsed.Value("danvan_retag_processed_records", {}), 6);
  EXPECT_EQ(parsed.Value("danvan_retag_running", {}), 0);
  EXPECT_EQ(parsed.Value("danvan_job_total_steps", {{"job", "retag"}}), 6);

  // A report: one step per unit scored, the aggregate, the tables, the action lists.
  ASSERT_EQ(Api(viewer, {{"op", "report"}, {"kind", "six_month"}, {"year", 2023}}).status, 200);
  json report = Api(viewer, {{"op", "progress"}, {"job", "report"}}).Json()["jobs"][0];
  EXPECT_EQ(report["state"], "done") << report.dump();
  EXPECT_GT(report["total"].get<int64_t>(), 3) << report.dump();
  EXPECT_EQ(report["done"], report["total"]) << report.dump();
  EXPECT_NE(report["reason"].get<std::string>().find("2023"), std::string::npos);
  // A refused request starts no run (checked before any work).
  EXPECT_EQ(Api(admin, {{"op", "report"}, {"kind", "annual"}, {"year", 2023}, {"format", "all"}, {"path", "../x"}}).status, 400);
  EXPECT_EQ(Api(viewer, {{"op", "report"}, {"kind", "annual"}, {"year", 2023}, {"rubric", "nope"}}).status, 404);
  EXPECT_EQ(Api(viewer, {{"op", "progress"}, {"job", "report"}}).Json()["jobs"][0]["state"], "done");

  // The health page draws one bar per job, with the same count.
  Reply page = Http(port_, "GET", "/health", "", {{"Cookie", admin.first}});
  EXPECT_NE(page.body.find("id=\"job-retag\" data-job=\"retag\" data-state=\"done\""), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("<progress max=\"6\" value=\"6\"></progress> <span class=\"progress-text\">6/6 (100%) — xong"),
            std::string::npos);
  EXPECT_NE(page.body.find("data-op=\"tagging.reload\""), std::string::npos);
  Reply viewer_page = Http(port_, "GET", "/health", "", {{"Cookie", viewer.first}});
  EXPECT_NE(viewer_page.body.find("id=\"job-retag\""), std::string::npos);
  EXPECT_EQ(viewer_page.body.find("data-op=\"tagging.reload\""), std::string::npos);
}

TEST_F(ConsoleTest, ConfigurationPageIsForAdminsAndHidesSecrets) {
  Open({{"metrics", {{"token_env", "DANVAN_TEST_METRICS_TOKEN"}}}});
  auto viewer = Login("lanhdao", "mat-khau-xem-2023");
  Reply v = Http(port_, "GET", "/config", "", {{"Cookie", viewer.first}});
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ(v.body.find("id=\"config\""), std::string::npos);
  EXPECT_NE(v.body.find("cần vai trò quản trị"), std::string::npos);
  auto admin = Login("quantri", "mật-khẩu-quản-trị");
  Reply a = Http(port_, "GET", "/config", "", {{"Cookie", admin.first}});
  ASSERT_EQ(a.status, 200);
  EXPECT_NE(a.body.find("id=\"config\""), std::string::npos);
  EXPECT_NE(a.body.find("&quot;password_hash&quot;: &quot;***&quot;"), std::string::npos) << a.body;
  EXPECT_EQ(a.body.find(AdminHash()), std::string::npos);
  EXPECT_NE(a.body.find("&quot;token_env&quot;: &quot;DANVAN_TEST_METRICS_TOKEN&quot;"), std::string::npos);
  EXPECT_EQ(a.body.find("metrics-token-0123456789abcdef"), std::string::npos);
}

TEST_F(ConsoleTest, BodyLargerThanTheLimitIsRefusedUnread) {
  Open();
  auto s = Login("quantri", "mật-khẩu-quản-trị");
  json big = {{"op", "stats"}, {"pad", std::string(5000, 'x')}};  // max_body_bytes 4096
  Reply r = Api(s, big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.Json()["errors"][0]["code"], "console.body_too_large");
  // The login form is held to the same limit.
  Reply login = Http(port_, "POST", "/login", "username=quantri&password=" + std::string(5000, 'x'),
                     {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(login.status, 413);
}

TEST_F(ConsoleTest, PagesEscapeRecordText) {
  Open();
  json ev = testing::PetitionEvent("DT-2023-XSS", 1, "received");
  ev["data"]["title"] = "<script>alert('x')</script> & \"đơn\"";
  ev["data"]["received_at"] = "2023-01-03";
  ASSERT_TRUE(engine_->Submit(ev.dump()).status.ok());
  clock_->now = 1704067200000;  // 2024-01-01: long overdue
  auto s = Login("quantri", "mật-khẩu-quản-trị");
  Reply page = Http(port_, "GET", "/petitions", "", {{"Cookie", s.first}});
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("DT-2023-XSS"), std::string::npos) << page.body;
  EXPECT_EQ(page.body.find("<script>alert"), std::string::npos);
  EXPECT_NE(page.body.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;đơn&quot;"), std::string::npos);
}

TEST_F(ConsoleTest, MetricsNeedTokenOrSessionAndParseAsPrometheusText) {
  Open({{"metrics", {{"token_env", "DANVAN_TEST_METRICS_TOKEN"}}}});
  ASSERT_TRUE(engine_->Submit(testing::DossierEvent("H31.01-230301-0001", 1, "2").dump()).status.ok());
  ASSERT_TRUE(engine_->Submit(testing::PetitionEvent("DT-2023-000001", 1, "received").dump()).status.ok());
  EXPECT_EQ(Http(port_, "GET", "/metrics").status, 401);
  EXPECT_EQ(Http(port_, "GET", "/metrics", "", {{"Authorization", "Bearer wrong-token-0123456789"}}).status, 401);
  Http(port_, "GET", "/login");  // one request in the histogram's login route
  // The latency is recorded just after the answer is sent: wait until it is counted.
  Reply m;
  for (int i = 0; i < 100; ++i) {
    m = Http(port_, "GET", "/metrics", "", {{"Authorization", "Bearer metrics-token-0123456789abcdef"}});
    if (m.body.find("danvan_console_request_duration_seconds_count{route=\"login\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type.rfind("text/plain; version=0.0.4", 0), 0u) << m.content_type;
  auto parsed = prom::Parse(m.body);
  ASSERT_TRUE(parsed.error.empty()) << parsed.error << "\n" << m.body;
  EXPECT_EQ(parsed.Value("danvan_records", {{"kind", "dossier"}}), 1);
  EXPECT_EQ(parsed.Value("danvan_records", {{"kind", "petition"}}), 1);
  EXPECT_EQ(parsed.types["danvan_console_request_duration_seconds"], "histogram");
  EXPECT_GE(parsed.Value("danvan_console_request_duration_seconds_count", {{"route", "login"}}), 1);
  EXPECT_TRUE(parsed.Has("danvan_outbox_oldest_item_age_seconds"));
  EXPECT_TRUE(parsed.Has("danvan_retag_processed_records"));
  EXPECT_TRUE(parsed.Has("danvan_tags"));
  // A session reads it too.
  auto s = Login("lanhdao", "mat-khau-xem-2023");
  EXPECT_EQ(Http(port_, "GET", "/metrics", "", {{"Cookie", s.first}}).status, 200);
}

TEST(PromParser, RefusesMalformedText) {
  EXPECT_TRUE(prom::Parse("# TYPE a gauge\na 1\n").error.empty());
  EXPECT_FALSE(prom::Parse("a 1\n").error.empty());                          // no TYPE
  EXPECT_FALSE(prom::Parse("# TYPE a gauge\na{x=\"1} 1\n").error.empty());  // open quote
  EXPECT_FALSE(prom::Parse("# TYPE a gauge\na one\n").error.empty());        // not a number
  EXPECT_FALSE(prom::Parse("# TYPE a gauge\na 1\na 2\n").error.empty());     // duplicate series
  EXPECT_FALSE(prom::Parse("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n")
                   .error.empty());  // buckets not cumulative
  EXPECT_FALSE(prom::Parse("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n").error.empty());
}

TEST(ConsoleDocx, FillsSplitPlaceholdersRepeatsListsAndEscapes) {
  // Word often splits a placeholder over runs; the first run's formatting is kept.
  const std::string xml =
      "<w:document><w:body><w:p><w:pPr><w:jc w:val=\"center\"/></w:pPr><w:r><w:rPr><w:b/></w:rPr><w:t>Số: {{so_</w:t></w:r>"
      "<w:r><w:t xml:space=\"preserve\">ky_hieu}}</w:t></w:r></w:p>"
      "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>{{noi_nhan}}</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
      "<w:p><w:r><w:t>{{khong_biet}}</w:t></w:r></w:p><w:p/></w:body></w:document>";
  console::DocxValues v;
  v.scalars["so_ky_hieu"] = "12/BC-SGDĐT <b>&";
  v.lists["noi_nhan"] = {"- Ban Dân vận Thành ủy;", "- Lưu: VT."};
  const std::string out = console::FillDocumentXml(xml, v);
  EXPECT_NE(out.find("<w:p><w:pPr><w:jc w:val=\"center\"/></w:pPr><w:r><w:rPr><w:b/></w:rPr><w:t xml:space=\"preserve\">"
                     "Số: 12/BC-SGDĐT &lt;b&gt;&amp;</w:t></w:r><w:r><w:t></w:t></w:r></w:p>"),
            std::string::npos) << out;
  EXPECT_NE(out.find("<w:tc><w:p><w:r><w:t xml:space=\"preserve\">- Ban Dân vận Thành ủy;</w:t></w:r></w:p>"
                     "<w:p><w:r><w:t xml:space=\"preserve\">- Lưu: VT.</w:t></w:r></w:p></w:tc>"),
            std::string::npos) << out;
  EXPECT_NE(out.find("{{khong_biet}}"), std::string::npos);  // unknown placeholders stay
  // An empty list removes its paragraph.
  v.lists["noi_nhan"].clear();
  EXPECT_EQ(console::FillDocumentXml(xml, v).find("noi_nhan"), std::string::npos);
}

// Downloads the six-month Word draft of 2023 and returns its word/document.xml ("" on any
// failure, reported as a test failure); checks the package's content types and relations exist.
std::string WordDraftDocumentXml(int port, const std::string& cookie) {
  Reply r = Http(port, "GET", "/download/report?kind=six_month&year=2023&format=docx", "", {{"Cookie", cookie}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  if (r.status != 200) return "";
  // Unzip it and take word/document.xml.
  std::istringstream in(r.body);
  Poco::Zip::ZipArchive archive(in);
  std::set<std::string> names;
  std::string document;
  for (auto it = archive.headerBegin(); it != archive.headerEnd(); ++it) {
    names.insert(it->first);
    if (it->first != "word/document.xml") continue;
    std::istringstream src(r.body);
    Poco::Zip::ZipInputStream zin(src, it->second, true);
    Poco::StreamCopier::copyToString(zin, document);
  }
  EXPECT_TRUE(names.count("[Content_Types].xml") && names.count("_rels/.rels")) << names.size();
  return document;
}

TEST_F(ConsoleTest, WordDraftInDecree30LayoutDownloadsAndOpens) {
  // The issuing agency's details are in reports.decree30; the shipped template is used.
  engine_ = testing::OpenEngine(
      testing::ConfigFor(dir_.path() / "c.sqlite",
                         {{"console", ConsoleSection()},
                          {"reports", {{"decree30", {{"agency_parent", "UBND THÀNH PHỐ HẢI PHÒNG"},
                                                     {"agency", "SỞ GIÁO DỤC VÀ ĐÀO TẠO"},
                                                     {"symbol", "BC-SGDĐT"},
                                                     {"place", "Hải Phòng"},
                                                     {"addressees", {"Ban Dân vận Thành ủy", "UBND thành phố <Hải Phòng>"}},
                                                     {"signer_title", "GIÁM ĐỐC"}}}}}}),
      clock_);
  ASSERT_TRUE(engine_->Start().ok());
  port_ = engine_->console_port();
  ASSERT_TRUE(engine_->Submit(testing::PetitionEvent("DT-2023-000009", 1, "received").dump()).status.ok());
  auto viewer = Login("lanhdao", "mat-khau-xem-2023");  // a viewer may download reports
  const std::string document = WordDraftDocumentXml(port_, viewer.first);
  ASSERT_FALSE(document.empty());
  Poco::XML::DOMParser parser;
  EXPECT_NO_THROW(Poco::AutoPtr<Poco::XML::Document> doc = parser.parseString(document));
  for (const char* want : {"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "UBND THÀNH PHỐ HẢI PHÒNG",
                           "SỞ GIÁO DỤC VÀ ĐÀO TẠO", "Số:       /BC-SGDĐT", "Hải Phòng, ngày 15 tháng 6 năm 2023",
                           "KẾT QUẢ CÔNG TÁC DÂN VẬN 6 THÁNG ĐẦU NĂM 2023", "Nơi nhận:", "- Ban Dân vận Thành ủy;",
                           "- UBND thành phố &lt;Hải Phòng&gt;;", "- Lưu: VT.", "GIÁM ĐỐC"})
    EXPECT_NE(document.find(want), std::string::npos) << want;
  EXPECT_EQ(document.find("{{"), std::string::npos);
}

// A reload that leaves the console running (no console change) is what the Word draft's
// reports.decree30 details show at once, not the document read at open.
TEST_F(ConsoleTest, WordDraftFollowsAReloadThatKeepsTheConsole) {
  Open();
  ASSERT_TRUE(engine_->Submit(testing::PetitionEvent("DT-2023-000009", 1, "received").dump()).status.ok());
  auto admin = Login("quantri", "mật-khẩu-quản-trị");
  json doc = engine_->live_config()->raw;
  doc["reports"]["decree30"]["agency"] = "SỞ GIÁO DỤC SAU TẢI LẠI";
  Reply reload = Api(admin, {{"op", "config.reload"}, {"config", doc}});
  ASSERT_EQ(reload.status, 200) << reload.body;
  EXPECT_FALSE(reload.Json()["effects"].contains("console")) << reload.body;
  ASSERT_EQ(engine_->console_port(), port_);
  const std::string document = WordDraftDocumentXml(port_, admin.first);
  EXPECT_NE(document.find("SỞ GIÁO DỤC SAU TẢI LẠI"), std::string::npos);
}

int FreePort() {
  Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
  return s.address().port();
}

bool Refused(int port) {
  try {
    Http(port, "GET", "/login");
    return false;
  } catch (const Poco::Exception&) {
    return true;
  }
}

// A configuration reload applies the console section live: the console restarts on its new
// port once the requests in flight are answered (a slow one included), the administrator's
// session goes on, no thread is left behind at close; a taken port refuses the whole reload
// and a disabled console stops.
TEST_F(ConsoleTest, ReloadRestartsTheConsoleLiveWithoutLosingRequestsInFlight) {
  const size_t threads_before = ThreadCount();
  Open();
  const int old_port = port_;
  auto admin = Login("quantri", "mật-khẩu-quản-trị");
  json doc = engine_->live_config()->raw;
  const int new_port = FreePort();
  doc["console"]["port"] = new_port;
  doc["console"]["threads"] = 2;

  // A request in flight: headers and half of its body sent, the handler waiting for the rest.
  const std::string body = json{{"op", "stats"}}.dump();
  Poco::Net::HTTPClientSession slow("127.0.0.1", static_cast<Poco::UInt16>(old_port));
  slow.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest slow_req("POST", "/api/query", Poco::Net::HTTPMessage::HTTP_1_1);
  slow_req.set("Cookie", admin.first);
  slow_req.set("X-CSRF-Token", admin.second);
  slow_req.setContentType("application/json");
  slow_req.setContentLength(static_cast<std::streamsize>(body.size()));
  std::ostream& slow_out = slow.sendRequest(slow_req);
  slow_out << body.substr(0, 4);
  slow_out.flush();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  // The reload through the console itself: answered before the console restarts.
  Reply reload = Api(admin, {{"op", "config.reload"}, {"config", doc}});
  ASSERT_EQ(reload.status, 200) << reload.body;
  EXPECT_TRUE(reload.Json()["effects"].contains("console")) << reload.body;
  // The restart waits for the slow request: the old console still owns it.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(engine_->console_port(), 0) << "the new console serves before the request in flight was answered";
  slow_out << body.substr(4);
  slow_out.flush();
  Poco::Net::HTTPResponse slow_resp;
  std::string slow_body;
  Poco::StreamCopier::copyToString(slow.receiveResponse(slow_resp), slow_body);
  EXPECT_EQ(slow_resp.getStatus(), 200) << slow_body;
  EXPECT_TRUE(json::parse(slow_body, nullptr, false).contains("records")) << slow_body;

  for (int i = 0; i < 200 && engine_->console_port() != new_port; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  ASSERT_EQ(engine_->console_port(), new_port);
  port_ = new_port;
  EXPECT_TRUE(Refused(old_port)) << "the old port still answers";
  {
    // The console's socket has no SO_REUSEPORT: nobody can share its port (and so take some of
    // its connections), even a socket asking for SO_REUSEPORT itself.
    Poco::Net::ServerSocket thief;
    EXPECT_THROW(thief.bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(new_port)), true, true),
                 Poco::Exception);
  }
  // The same session, on the new console.
  Reply health = Http(new_port, "GET", "/health", "", {{"Cookie", admin.first}});
  EXPECT_EQ(health.status, 200) << health.body.substr(0, 300);
  Reply shown = Api(admin, {{"op", "config.show"}});
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(shown.Json()["console_server"]["state"], "running") << shown.body;
  EXPECT_EQ(shown.Json()["console_server"]["port"], new_port);

  // A port already taken: the whole reload is refused, naming /console/port; nothing changes.
  Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", 0));
  json clash = doc;
  clash["console"]["port"] = taken.address().port();
  clash["log"] = {{"level", "debug"}};
  Reply refused = Api(admin, {{"op", "config.reload"}, {"config", clash}});
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(refused.Json()["errors"][0]["path"], "/console/port") << refused.body;
  EXPECT_NE(Api(admin, {{"op", "config.show"}}).Json()["config"].value("log", json::object()).value("level", ""), "debug");
  EXPECT_EQ(engine_->console_port(), new_port);

  // Disabled by a reload: the console stops (the reload's answer still arrives).
  json off = doc;
  off["console"]["enabled"] = false;
  Reply disabled = Api(admin, {{"op", "config.reload"}, {"config", off}});
  EXPECT_EQ(disabled.status, 200) << disabled.body;
  for (int i = 0; i < 200 && !Refused(new_port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_TRUE(Refused(new_port));
  EXPECT_EQ(engine_->console_port(), 0);
  json state;
  for (int i = 0; i < 200; ++i) {
    auto show = engine_->Query(R"({"op":"config.show"})");
    ASSERT_TRUE(show.ok());
    state = show.value()["console_server"];
    if (state["state"] == "disabled") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(state["state"], "disabled") << state.dump();

  engine_->Stop(5000);
  engine_.reset();
  EXPECT_EQ(ThreadCount(), threads_before) << "a console or worker thread outlived close";
}

TEST(ConsoleLifecycle, StopJoinsEveryThreadEvenWithAKeptAliveConnection) {
  ManualClock clock;
  Logger logger;
  console::ConsoleConfig cfg;
  cfg.enabled = true;
  cfg.port = 0;
  cfg.threads = 4;
  const size_t before = ThreadCount();
  {
    std::atomic<int> calls{0};
    console::Console c(cfg, {}, [&](const json&) -> Result<json> { ++calls; return json::object(); }, &clock, &logger);
    ASSERT_TRUE(c.Start().ok());
    ASSERT_TRUE(c.Start().ok());  // a second start is a no-op
    EXPECT_GT(ThreadCount(), before);
    // A client holding a keep-alive connection open does not keep a thread alive past Stop.
    Poco::Net::HTTPClientSession held("127.0.0.1", static_cast<Poco::UInt16>(c.port()));
    held.setKeepAlive(true);
    Poco::Net::HTTPRequest req("GET", "/login", Poco::Net::HTTPMessage::HTTP_1_1);
    req.setKeepAlive(true);
    held.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::string body;
    Poco::StreamCopier::copyToString(held.receiveResponse(resp), body);
    EXPECT_EQ(resp.getStatus(), 200);
    const auto t0 = std::chrono::steady_clock::now();
    c.Stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    EXPECT_EQ(ThreadCount(), before);
    c.Stop();  // idempotent
  }
  EXPECT_EQ(ThreadCount(), before);
}

}  // namespace
}  // namespace danvan
