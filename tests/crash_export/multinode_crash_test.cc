// multinode_crash_test: three host processes on one PostgreSQL database (issue 17), one of them
// killed with SIGKILL mid-run and restarted, all exporting to one portal stand-in.
//
// The stand-in runs in its strict mode (one answer per call, all or nothing, no idempotency:
// a dossier sent twice is refused as existing, a step sent twice is applied twice), over real
// HTTPS with a test CA made at test time. Each node is a crash_export_child (libdanvan.so
// through dlopen + danvan_get_api) with its own `instance` name on the same database, submitting
// its third of the plan (export_plan.h, DANVAN_PLAN_SHARD=k/3: every dossier's events come from
// one node, in order) while every node's sender threads claim from the one shared outbox: a
// node exports the others' dossiers too. Node 1 is SIGKILLed at seeded random moments
// (DANVAN_MULTINODE_KILLS, default 3) while it submits and exports, and restarted from its last
// acknowledged point each time; the items it had leased come back to any node after lease_ms.
//
// At the end every node submits the rest of its part and waits until the shared queue is
// empty; then each answers the indicator queries. The test asserts: everything acknowledged
// reached the portal exactly once in effect, in per-dossier order (export_checks.h), nothing
// was dead-lettered, the one export-log chain verifies, and every node's indicators equal a
// recomputation (a node opened afterwards, its aggregates rebuilt from the stored contributions)
// and count every dossier as received and synced.
//
// Runs with DANVAN_TEST_ENGINE=postgres (ctest -L postgres); skipped otherwise.
// Seed: DANVAN_CRASH_SEED (default 2026, printed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "crash_export/export_checks.h"
#include "crash_export/export_plan.h"
#include "engine/test_support.h"
#include "standin_process.h"
#include "test_pki.h"

namespace danvan {
namespace {

using nlohmann::json;
using testing::GetTestPki;
using testing::StandinProcess;
namespace fs = std::filesystem;
namespace cx = crash_export;

constexpr int kNodes = 3;
constexpr int kPlanDossiers = 240;

using cx::EnvU64;
// One node: a crash_export_child in mode "settle" on its part of the plan.
struct Node {
  pid_t pid = -1;
  int ready = -1;  // read end: 'R' when open and exporting, 'D' when the queue is drained
  int go = -1;     // write end of its stdin: one byte lets it answer the indicator queries
  size_t ack_offset = 0, next = 0;
  std::set<size_t> acked;  // indices into the node's part of the plan
};

class MultiNodeCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::UsingPostgres()) GTEST_SKIP() << "several nodes share a PostgreSQL database only";
    const auto& pki = GetTestPki();
    standin_ = std::make_unique<StandinProcess>(
        pki.server_cert, pki.server_key,
        std::vector<std::string>{"--style", "envelope", "--username", "danvan", "--dstcode",
                                 "VN:GOV:H26", "--strict"},
        std::vector<std::string>{std::string("DANVAN_STANDIN_PASSWORD=") + cx::kPassword});
    ASSERT_TRUE(standin_->started()) << standin_->stderr_text();
    setenv(cx::kPasswordEnv, cx::kPassword, 1);  // inherited by the children
    char tmpl[] = "/tmp/danvan-multinode-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_ = dir_ / "shared";
  }

  void TearDown() override {
    for (auto& n : nodes_) Reap(n, /*kill_first=*/true);
  }

  // The configuration of node k: the export settings of crash_export_test, on the shared
  // PostgreSQL database, under the node's own instance name.
  fs::path WriteConfig(int k) {
    json c = cx::EngineConfig("", standin_->url(), GetTestPki().ca_cert, json::object());
    c["storage"] = {{"engine", "postgres"},
                    {"postgres",
                     {{"conninfo", testing::PgConninfoFor(db_)}, {"password_file", testing::PgPasswordFile()}}}};
    c["instance"] = "node-" + std::to_string(k);
    c["reports"] = {{"dir", dir_.string()}};
    const fs::path p = dir_ / ("config-" + std::to_string(k) + ".json");
    std::ofstream(p) << c.dump();
    return p;
  }

  void Spawn(int k, uint64_t seed) {
    Node& n = nodes_[k];
    int ready[2], go[2];
    ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
    const std::string config = WriteConfig(k).string(),
                      acks = (dir_ / ("ack-" + std::to_string(k) + ".log")).string(),
                      result = (dir_ / ("result-" + std::to_string(k) + ".json")).string(),
                      start = std::to_string(n.next), seed_s = std::to_string(seed),
                      fd = std::to_string(ready[1]), plan_seed = std::to_string(plan_seed_),
                      dossiers = std::to_string(kPlanDossiers),
                      shard = std::to_string(k) + "/" + std::to_string(kNodes);
    const pid_t pid = fork();
    if (pid == 0) {
      dup2(go[0], STDIN_FILENO);  // dup2 clears FD_CLOEXEC on the copy
      fcntl(ready[1], F_SETFD, 0);
      setenv("DANVAN_PLAN_SHARD", shard.c_str(), 1);
      execl(DANVAN_CRASH_EXPORT_CHILD, DANVAN_CRASH_EXPORT_CHILD, DANVAN_LIB, config.c_str(),
            acks.c_str(), start.c_str(), seed_s.c_str(), fd.c_str(), plan_seed.c_str(),
            dossiers.c_str(), "settle", result.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(ready[1]);
    close(go[0]);
    ASSERT_GT(pid, 0);
    n.pid = pid;
    n.ready = ready[0];
    n.go = go[1];
  }

  // Reads one byte of the node's ready pipe: 'R', 'D', or 0 when it closed (the child died).
  static char ReadSignal(const Node& n) {
    char byte = 0;
    ssize_t r;
    do r = read(n.ready, &byte, 1);
    while (r < 0 && errno == EINTR);
    return r == 1 ? byte : 0;
  }

  // Waits for the node's process (SIGKILLing it first if asked); returns its wait status.
  int Reap(Node& n, bool kill_first) {
    int wstatus = 0;
    if (n.pid > 0) {
      if (kill_first) kill(n.pid, SIGKILL);
      while (waitpid(n.pid, &wstatus, 0) < 0 && errno == EINTR) {
      }
    }
    if (n.ready >= 0) close(n.ready);
    if (n.go >= 0) close(n.go);
    n.pid = n.ready = n.go = -1;
    return wstatus;
  }

  void ReadNodeAcks(int k) {
    Node& n = nodes_[k];
    n.next = cx::ReadAcks(dir_ / ("ack-" + std::to_string(k) + ".log"), &n.ack_offset, n.next, &n.acked);
  }

  std::unique_ptr<StandinProcess> standin_;
  fs::path dir_, db_;
  uint64_t plan_seed_ = 0;
  std::array<Node, kNodes> nodes_;
};

TEST_F(MultiNodeCrashTest, AcknowledgedExportedOnceInOrderAndEveryNodesIndicatorsRecomputed) {
  const uint64_t seed = EnvU64("DANVAN_CRASH_SEED", 2026);
  const int kills = static_cast<int>(EnvU64("DANVAN_MULTINODE_KILLS", 3));
  std::printf("multinode_crash_test: seed %llu (set DANVAN_CRASH_SEED to replay), %d kills of node 1, dir %s\n",
              static_cast<unsigned long long>(seed), kills, dir_.c_str());
  std::mt19937_64 rng(seed);
  plan_seed_ = seed;
  const auto plan = cx::MakePlan(plan_seed_, kPlanDossiers, 12);
  std::vector<std::vector<cx::PlanEvent>> parts;
  for (int k = 0; k < kNodes; ++k)
    parts.push_back(cx::Shard(plan, std::to_string(k) + "/" + std::to_string(kNodes)));

  for (int k = 0; k < kNodes; ++k) {
    Spawn(k, rng());
    ASSERT_EQ(ReadSignal(nodes_[k]), 'R') << "node " << k << " did not open (see its stderr)";
  }
  // Node 1 dies mid-run, `kills` times; the others carry on.
  for (int round = 1; round <= kills; ++round) {
    const int delay_ms = std::uniform_int_distribution<int>(150, 900)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    const int wstatus = Reap(nodes_[1], /*kill_first=*/true);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "round " << round << ": node 1 ended on its own, exit status "
        << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1) << " (see its stderr)";
    const size_t before = nodes_[1].next;
    ReadNodeAcks(1);
    std::printf("round %d: node 1 killed after %d ms, %zu/%zu of its events acknowledged (+%zu)\n",
                round, delay_ms, nodes_[1].next, parts[1].size(), nodes_[1].next - before);
    std::fflush(stdout);
    Spawn(1, rng());
    ASSERT_EQ(ReadSignal(nodes_[1]), 'R') << "node 1 did not reopen (see its stderr)";
  }
  EXPECT_LT(nodes_[1].next, parts[1].size()) << "node 1 had finished its part before a kill: "
                                                "the kills were not mid-run";

  // Every node drains the shared queue, then all answer the indicator queries at once.
  for (int k = 0; k < kNodes; ++k)
    ASSERT_EQ(ReadSignal(nodes_[k]), 'D') << "node " << k << " did not drain the queue (see its stderr)";
  for (int k = 0; k < kNodes; ++k) {
    const char go = 'G';
    ASSERT_EQ(write(nodes_[k].go, &go, 1), 1);
  }
  std::vector<json> results;
  for (int k = 0; k < kNodes; ++k) {
    const int wstatus = Reap(nodes_[k], /*kill_first=*/false);
    ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
        << "node " << k << " failed (exit " << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1) << ")";
    ReadNodeAcks(k);
    ASSERT_EQ(nodes_[k].next, parts[k].size());
    results.push_back(json::parse(cx::Slurp(dir_ / ("result-" + std::to_string(k) + ".json"))));
  }

  // The portal: every acknowledged event's effect once, in order (acknowledged = all of them).
  std::vector<const cx::PlanEvent*> acked;
  {
    std::set<std::string> acked_keys;  // event lines (unique in the plan)
    for (int k = 0; k < kNodes; ++k)
      for (size_t i : nodes_[k].acked) acked_keys.insert(parts[k][i].line);
    for (const auto& e : plan)
      if (acked_keys.count(e.line)) acked.push_back(&e);
  }
  ASSERT_EQ(acked.size(), plan.size());
  json residual = json::object();
  for (const auto& r : results) {
    EXPECT_TRUE(r["verify"].value("valid", false)) << r["verify"].dump();
    EXPECT_GT(r["verify"].value("entries", 0), 0);
    EXPECT_EQ(r["status"].value("dead_letters", -1), 0) << r["dead_letters"].dump();
    // The counters are shared (stored); the last answer has them all.
    const json res = r["status"].value("residual", json::object());
    if (res.value("steps_resent_after_ambiguity", 0) >= residual.value("steps_resent_after_ambiguity", 0))
      residual = res;
  }
  cx::ExpectPortalHasExactlyTheAcknowledged(acked, standin_->Received(), standin_->Stats(), residual);

  // Every node's indicators: a recomputation from the stored contributions (a node opened now).
  json config = json::parse(testing::ConfigFor(db_, {{"instance", "node-check"}, {"reports", {{"dir", dir_.string()}}}}));
  auto check = testing::OpenEngine(config.dump());
  int positive = 0;
  for (const json& q : cx::IndicatorQueries()) {
    auto r = check->Query(q.dump());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const json expected = r.value()["indicators"];
    ASSERT_TRUE(expected.is_array() && !expected.empty()) << q.dump();
    for (const auto& ind : expected) {
      if (ind.contains("value") && ind["value"].is_number() && ind["value"].get<double>() > 0) ++positive;
      // Every dossier was exported, so the portal-sync rate (idx766.synced) is 1 where counted.
      if (ind.value("id", "") == "idx766.synced" && ind.contains("value") && ind["value"].is_number()) {
        EXPECT_DOUBLE_EQ(ind["value"].get<double>(), 1.0) << q.dump() << " " << ind.dump();
      }
    }
    for (int k = 0; k < kNodes; ++k)
      EXPECT_EQ(results[k]["indicators"][q.dump()], expected) << "node " << k << ", " << q.dump();
  }
  EXPECT_GT(positive, 0) << "nothing counted at all";
  if (!HasFailure()) fs::remove_all(dir_);
  else std::printf("ack logs and results kept in %s\n", dir_.c_str());
}

}  // namespace
}  // namespace danvan
