// Issue 10 finding 10: the SQLite file and its -wal and -shm hold citizens' personal data and
// are never readable by other users: created 0600 (0640 with storage.file_mode), whatever the
// umask, and an existing file with wider permissions is tightened at open, with a warning.
// On PostgreSQL (ctest -L postgres) the plugin writes no database file (the server keeps its
// data directory 0700 itself); what the plugin holds there is the password, and the equivalent
// guarantee is that it never leaves the configuration's secret source: not in a log line, the
// stats, an error message or the connection string.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <mutex>

#include "engine/test_support.h"

namespace danvan {
namespace {

using nlohmann::json;
using testing::TempDir;

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

struct LogCapture {
  std::mutex mu;
  std::vector<std::string> lines;
  static void Sink(void* self, int32_t, const char* m, size_t n) {
    auto* c = static_cast<LogCapture*>(self);
    std::lock_guard lock(c->mu);
    c->lines.emplace_back(m, n);
  }
  std::string All() {
    std::lock_guard lock(mu);
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  }
};

std::unique_ptr<Engine> Open(const std::string& db, const json& extra, LogCapture* logs) {
  auto cfg = ParseEngineConfig(testing::ConfigFor(db, extra));
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  HostHooks hooks;
  hooks.logger = Logger(&LogCapture::Sink, logs, LogLevel::kInfo);
  auto e = Engine::Open(cfg.value(), std::move(hooks));
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

// Writes one record so the -wal and -shm files exist.
void Touch(Engine& e) {
  auto a = e.Submit(testing::PetitionEvent("DT-2023-000777", 1, "received").dump());
  ASSERT_EQ(a.result["outcome"], "accepted") << a.result.dump();
}

class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t m) : old_(umask(m)) {}
  ~UmaskGuard() { umask(old_); }

 private:
  mode_t old_;
};

TEST(StorageFiles, CreatedOwnerOnlyWhateverTheUmask) {
  if (testing::UsingPostgres()) GTEST_SKIP() << "the SQLite file's mode is the subject; on PostgreSQL the plugin writes no database file (StorageFiles.PostgresPasswordNeverLeavesTheConfiguration)";
  TempDir dir;
  const std::string db = (dir.path() / "danvan.sqlite").string();
  UmaskGuard permissive(0);  // a host started with umask 0 would otherwise make them 0666
  LogCapture logs;
  auto e = Open(db, json::object(), &logs);
  ASSERT_TRUE(e);
  Touch(*e);
  EXPECT_EQ(ModeOf(db), 0600u);
  EXPECT_EQ(ModeOf(db + "-wal"), 0600u);
  EXPECT_EQ(ModeOf(db + "-shm"), 0600u);
  EXPECT_EQ(logs.All().find("storage_file_mode"), std::string::npos) << logs.All();
}

TEST(StorageFiles, GroupReadableWhenConfigured) {
  if (testing::UsingPostgres()) GTEST_SKIP() << "the SQLite file's mode is the subject; on PostgreSQL the plugin writes no database file (StorageFiles.PostgresPasswordNeverLeavesTheConfiguration)";
  TempDir dir;
  const std::string db = (dir.path() / "danvan.sqlite").string();
  UmaskGuard usual(022);
  LogCapture logs;
  auto e = Open(db, {{"storage", {{"engine", "sqlite"}, {"path", db}, {"file_mode", "0640"}}}}, &logs);
  ASSERT_TRUE(e);
  Touch(*e);
  EXPECT_EQ(ModeOf(db), 0640u);
  EXPECT_EQ(ModeOf(db + "-wal"), 0640u);
  EXPECT_EQ(ModeOf(db + "-shm"), 0640u);
}

TEST(StorageFiles, ExistingWorldReadableFilesAreTightenedWithAWarning) {
  if (testing::UsingPostgres()) GTEST_SKIP() << "the SQLite file's mode is the subject; on PostgreSQL the plugin writes no database file (StorageFiles.PostgresPasswordNeverLeavesTheConfiguration)";
  TempDir dir;
  const std::string db = (dir.path() / "danvan.sqlite").string();
  UmaskGuard usual(022);
  {
    LogCapture logs;
    auto e = Open(db, json::object(), &logs);
    ASSERT_TRUE(e);
    Touch(*e);
    // As an earlier version (or a copy by hand) left them: world-readable.
    for (const char* s : {"", "-wal", "-shm"}) ASSERT_EQ(chmod((db + s).c_str(), 0644), 0);
    // A second engine on the same file while the first still holds -wal and -shm.
    LogCapture second_logs;
    auto again = Open(db, json::object(), &second_logs);
    ASSERT_TRUE(again);
    EXPECT_EQ(ModeOf(db), 0600u);
    EXPECT_EQ(ModeOf(db + "-wal"), 0600u);
    EXPECT_EQ(ModeOf(db + "-shm"), 0600u);
    const std::string l = second_logs.All();
    EXPECT_NE(l.find("\"event\":\"storage_file_mode_tightened\""), std::string::npos) << l;
    EXPECT_NE(l.find("\"from\":\"0644\""), std::string::npos) << l;
    EXPECT_NE(l.find("\"to\":\"0600\""), std::string::npos) << l;
    EXPECT_NE(l.find("danvan.sqlite-wal"), std::string::npos) << l;
  }
  // A narrower file is left as it is (0640 configured, 0600 found).
  LogCapture logs;
  auto e = Open(db, {{"storage", {{"engine", "sqlite"}, {"path", db}, {"file_mode", "0640"}}}}, &logs);
  ASSERT_TRUE(e);
  EXPECT_EQ(ModeOf(db), 0600u);
}

TEST(StorageFiles, FileModeOutsideTheTwoAllowedValuesIsRefused) {
  TempDir dir;
  const std::string db = (dir.path() / "danvan.sqlite").string();
  auto cfg = ParseEngineConfig(
      testing::ConfigFor(db, {{"storage", {{"engine", "sqlite"}, {"path", db}, {"file_mode", "0644"}}}}));
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("/storage/file_mode"), std::string::npos) << cfg.status().message();
}

// PostgreSQL's counterpart of the tests above: the password never leaves its secret source. A
// successful open and a refused one (wrong password) are logged, answered and reported without
// it; the target is named as postgresql://host:port/db.
TEST(StorageFiles, PostgresPasswordNeverLeavesTheConfiguration) {
  if (!testing::UsingPostgres()) GTEST_SKIP() << "the PostgreSQL engine's password is the subject";
  TempDir dir;
  const std::string db = (dir.path() / "danvan.sqlite").string();
  const std::string password = testing::PgPassword();
  ASSERT_GE(password.size(), 8u);
  {
    LogCapture logs;
    auto e = Open(db, json::object(), &logs);
    ASSERT_TRUE(e);
    Touch(*e);
    auto stats = e->Query(R"({"op":"stats"})");
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    const std::string s = stats.value().dump();
    EXPECT_NE(s.find("postgresql://127.0.0.1:"), std::string::npos) << s;
    EXPECT_EQ(s.find(password), std::string::npos) << s;
    auto shown = e->Query(R"({"op":"config.show"})");
    ASSERT_TRUE(shown.ok()) << shown.status().ToString();
    EXPECT_EQ(shown.value().dump().find(password), std::string::npos);
    e.reset();
    EXPECT_EQ(logs.All().find(password), std::string::npos) << logs.All();
  }
  // A wrong password (from its file, 0600): refused, and neither password is in the answer or the log.
  const std::string wrong = "sai-" + password;
  const auto wrong_file = dir.path() / "wrong-password";
  { std::ofstream(wrong_file) << wrong << "\n"; }
  ASSERT_EQ(chmod(wrong_file.c_str(), 0600), 0);
  json cfg = json::parse(testing::ConfigFor(db));
  cfg["storage"]["postgres"]["password_file"] = wrong_file.string();
  cfg["instance"] = "node-wrong-password";
  auto parsed = ParseEngineConfig(cfg.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  LogCapture logs;
  HostHooks hooks;
  hooks.logger = Logger(&LogCapture::Sink, &logs, LogLevel::kDebug);
  auto refused = Engine::Open(parsed.value(), std::move(hooks));
  ASSERT_FALSE(refused.ok());
  const std::string msg = refused.status().ToString();
  EXPECT_NE(msg.find("postgresql://127.0.0.1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("password authentication failed"), std::string::npos) << msg;
  for (const std::string& secret : {password, wrong}) {
    EXPECT_EQ(msg.find(secret), std::string::npos) << msg;
    EXPECT_EQ(logs.All().find(secret), std::string::npos) << logs.All();
  }
}

}  // namespace
}  // namespace danvan
