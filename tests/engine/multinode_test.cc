// Several nodes on one PostgreSQL database (issue 17): each node's in-memory indicator
// aggregates follow the others' commits. Runs with DANVAN_TEST_ENGINE=postgres (ctest -L
// postgres); skipped on SQLite (one owner per file).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "engine/test_support.h"

namespace danvan {
namespace {

using testing::DossierEvent;
using testing::PetitionEvent;
using testing::TempDir;

std::unique_ptr<Engine> OpenNode(const TempDir& dir, const std::string& instance) {
  return testing::OpenEngine(testing::ConfigFor(dir.path() / "shared.sqlite", {{"instance", instance}}));
}

nlohmann::json Indicators(Engine& e, const std::string& unit) {
  auto r = e.Query(nlohmann::json{{"op", "indicators"}, {"unit", unit},
                                  {"period", {{"kind", "month"}, {"year", 2023}, {"month", 3}}}}.dump());
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
  for (int n = 0; n < 3; ++n) {
    threads.emplace_back([&, n] {
      for (int i = 0; i < 30; ++i) {
        // Shared ids: every node sends versions of D-0..D-9; own ids: D-<n>-<i>.
        const std::string shared = "H-" + std::to_string(i % 10);
        const std::vector<std::string> statuses = {"2", "4", "9"};
        nodes[n]->Submit(DossierEvent(shared, 1 + (i + n) % 3, statuses[(i + n) % 3]).dump());
        nodes[n]->Submit(DossierEvent("H-" + std::to_string(n) + "-" + std::to_string(i), 1,
                                      statuses[i % 3]).dump());
        nodes[n]->Submit(PetitionEvent("P-" + std::to_string(n) + "-" + std::to_string(i), 1,
                                       i % 2 ? "received" : "resolved").dump());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto fresh = OpenNode(dir, "node-check");
  for (const char* unit : {"SGDDT", "SGDDT.VP", "SGDDT.TTRA"}) {
    const nlohmann::json expected = Indicators(*fresh, unit);
    ASSERT_TRUE(expected.is_array() && !expected.empty());
    bool any = false;
    for (const auto& ind : expected) any = any || (ind["value"].is_number() && ind["value"].get<double>() > 0);
    EXPECT_TRUE(any) << "nothing counted: " << expected.dump();
    for (auto& node : nodes) EXPECT_EQ(Indicators(*node, unit), expected) << unit;
  }
}

}  // namespace
}  // namespace danvan
