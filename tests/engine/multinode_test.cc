// Several nodes on one PostgreSQL database (issue 17): each node's in-memory indicator
// aggregates follow the others' commits. Runs with DANVAN_TEST_ENGINE=postgres (ctest -L
// postgres); skipped on SQLite (one owner per file).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/timeutil.h"
#include "engine/test_support.h"

namespace danvan {
namespace {

using testing::DossierEvent;
using testing::PetitionEvent;
using testing::TempDir;

std::unique_ptr<Engine> OpenNode(const TempDir& dir, const std::string& instance) {
  return testing::OpenEngine(testing::ConfigFor(dir.path() / "shared.sqlite", {{"instance", instance}}));
}

nlohmann::json Indicators(Engine& e, const std::string& unit, int month) {
  auto r = e.Query(nlohmann::json{{"op", "indicators"}, {"unit", unit},
                                  {"period", {{"kind", "month"}, {"year", 2023}, {"month", month}}}}.dump());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value()["indicators"] : nlohmann::json();
}

// Three nodes submit at once, partly to the same records (versions racing across nodes); then
// each node's indicators equal those of a node opened afterwards (its aggregates rebuilt from
// the stored contributions: the recomputation).
TEST(MultiNodeTest, EveryNodesIndicatorsFollowTheOthersCommits) {
  if (!testing::UsingPostgres()) GTEST_SKIP() << "several nodes share a PostgreSQL database only";
  TempDir dir;
  std::vector<std::unique_ptr<Engine>> nodes;
  for (int i = 1; i <= 3; ++i) nodes.push_back(OpenNode(dir, "node-" + std::to_string(i)));
  std::vector<std::thread> threads;
  std::atomic<int> failed{0}, accepted{0};
  // As a host does: RETRY_LATER (e.g. two nodes waiting for each other's record, resolved by
  // the server) is submitted again.
  auto submit = [&](Engine& e, const nlohmann::json& ev) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      auto a = e.Submit(ev.dump());
      if (a.status.ok()) {
        if (a.result.value("outcome", "") == "accepted") ++accepted;
        return;
      }
      if (a.status.code() != Status::Code::kRetryLater) {
        ADD_FAILURE() << a.status.ToString();
        ++failed;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ++failed;
  };
  for (int n = 0; n < 3; ++n) {
    threads.emplace_back([&, n] {
      for (int i = 0; i < 30; ++i) {
        // Shared ids: every node sends versions of H-0..H-9; own ids: H-<n>-<i>.
        const std::string shared = "H-" + std::to_string(i % 10);
        const std::vector<std::string> statuses = {"2", "4", "9"};
        submit(*nodes[n], DossierEvent(shared, 1 + (i + n) % 3, statuses[(i + n) % 3]));
        submit(*nodes[n], DossierEvent("H-" + std::to_string(n) + "-" + std::to_string(i), 1, statuses[i % 3]));
        submit(*nodes[n], PetitionEvent("P-" + std::to_string(n) + "-" + std::to_string(i), 1,
                                        i % 2 ? "received" : "resolved"));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(accepted.load(), 180);
  auto fresh = OpenNode(dir, "node-check");
  bool any = false;
  for (int month : {3, 4}) {
    for (const char* unit : {"SGDDT", "SGDDT.VP", "SGDDT.TTRA"}) {
      const nlohmann::json expected = Indicators(*fresh, unit, month);
      ASSERT_TRUE(expected.is_array() && !expected.empty());
      for (const auto& ind : expected)
        any = any || (ind.contains("value") && ind["value"].is_number() && ind["value"].get<double>() > 0);
      for (auto& node : nodes) EXPECT_EQ(Indicators(*node, unit, month), expected) << unit << " month " << month;
    }
  }
  EXPECT_TRUE(any) << "nothing counted at all";
}

// Two nodes scan deadlines at the same moment (their schedulers, or the deadlines.scan op):
// every due-soon and overdue alert is raised once in all, by one of them, not once per node.
TEST(MultiNodeTest, DeadlineScanRunsOnOneNodeAtATime) {
  if (!testing::UsingPostgres()) GTEST_SKIP() << "several nodes share a PostgreSQL database only";
  TempDir dir;
  std::atomic<int64_t> now{*ParseIsoTime("2023-03-01T09:00:00+07:00")};
  std::atomic<int> alerts{0};
  auto open = [&](const std::string& instance) {
    auto cfg = ParseEngineConfig(testing::ConfigFor(dir.path() / "shared.sqlite", {{"instance", instance}}));
    if (!cfg.ok()) throw std::runtime_error(cfg.status().ToString());
    HostHooks hooks;
    hooks.clock = std::make_shared<FunctionClock>([&now] { return now.load(); });
    hooks.alert = [&alerts](const std::string&) { ++alerts; };
    auto e = Engine::Open(cfg.value(), std::move(hooks));
    if (!e.ok()) throw std::runtime_error(e.status().ToString());
    return std::move(e).value();
  };
  auto a = open("node-1"), b = open("node-2");
  constexpr int kDossiers = 120;
  std::string batch;
  for (int i = 0; i < kDossiers; ++i)
    batch += DossierEvent("H31-SCAN-" + std::to_string(i), 1, "4").dump() + "\n";
  auto submitted = a->SubmitBatch(batch);
  ASSERT_TRUE(submitted.status.ok()) << submitted.status.ToString();
  // Both nodes scan at once; `fired` is what the scans report, `alerts` what the host got.
  auto scan_both = [&] {
    std::atomic<int> fired{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> t;
    for (Engine* e : {a.get(), b.get()}) {
      t.emplace_back([&, e] {
        while (!go) std::this_thread::yield();
        auto r = e->Query(R"({"op":"deadlines.scan"})");
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        fired += r.value()["alerts_fired"].get<int>();
      });
    }
    go = true;
    for (auto& th : t) th.join();
    return fired.load();
  };
  EXPECT_EQ(scan_both(), 0);
  now = *ParseIsoTime("2023-03-06T12:00:00+07:00");  // the due day: due soon
  const int due_soon = scan_both() + scan_both() + scan_both();
  EXPECT_EQ(due_soon, kDossiers) << "a due-soon alert raised by both nodes, or never";
  now = *ParseIsoTime("2023-03-07T09:00:00+07:00");  // overdue
  const int overdue = scan_both() + scan_both() + scan_both();
  EXPECT_EQ(overdue, kDossiers) << "an overdue alert raised by both nodes, or never";
  EXPECT_EQ(alerts.load(), 2 * kDossiers);
}

// storage.postgres: the password never in the configuration, a bad connection string named,
// the password read from its file; reports.dir required without a SQLite path.
TEST(PostgresConfigTest, PasswordOnlyFromFileEnvOrHostAndFieldsNamed) {
  TempDir dir;
  const std::string base = std::string(R"({"schemas_dir":")") + DANVAN_SOURCE_ROOT + R"(/schemas","config_dir":")" +
                           DANVAN_SOURCE_ROOT + R"(/config","reports":{"dir":"/tmp"},"storage":{"engine":"postgres","postgres":)";
  auto inline_pw = ParseEngineConfig(base + R"({"conninfo":"host=db dbname=d password=hunter2"}}})");
  ASSERT_FALSE(inline_pw.ok());
  EXPECT_NE(inline_pw.status().message().find("/storage/postgres/conninfo"), std::string::npos) << inline_pw.status().message();
  EXPECT_EQ(inline_pw.status().message().find("hunter2"), std::string::npos);
  auto bad = ParseEngineConfig(base + R"({"conninfo":"host=db nosuchkey=1"}}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/storage/postgres/conninfo"), std::string::npos) << bad.status().message();
  auto missing = ParseEngineConfig(base + R"({}}})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/storage/postgres/conninfo"), std::string::npos);
  auto no_file = ParseEngineConfig(base + R"({"conninfo":"host=db","password_file":"/nonexistent/pw"}}})");
  ASSERT_FALSE(no_file.ok());
  EXPECT_NE(no_file.status().message().find("password_file"), std::string::npos) << no_file.status().message();
  const auto pw = dir.path() / "pw";
  { std::ofstream(pw) << "s3cret\n"; }
  auto good = ParseEngineConfig(base + R"({"conninfo":"host=db","password_file":")" + pw.string() + R"("}}})");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good.value().pg_password, "s3cret");
  EXPECT_EQ(good.value().pg_conninfo, "host=db");
  auto host = ParseEngineConfig(base + R"({"conninfo":"host=db"}}})", [](const std::string& name) {
    return name == "storage.postgres.password" ? std::optional<std::string>("from-host") : std::nullopt;
  });
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host.value().pg_password, "from-host");
  const std::string no_reports = std::string(R"({"schemas_dir":")") + DANVAN_SOURCE_ROOT +
                                 R"(/schemas","config_dir":")" + DANVAN_SOURCE_ROOT + R"(/config","storage":{"engine":"postgres","postgres":{"conninfo":"host=db"}}})";
  auto r = ParseEngineConfig(no_reports);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/reports/dir"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace danvan
