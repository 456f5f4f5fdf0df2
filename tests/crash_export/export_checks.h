// What crash_export_test and multinode_crash_test check: reading crash_export_child's
// acknowledgement log (one {"from":a,"to":b} line per call that returned DANVAN_OK, appended
// with write() + fsync()) and what the portal stand-in must hold at the end.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "crash_export/export_plan.h"

namespace danvan::crash_export {

// The unsigned number in environment variable `name`, or `def` when it is unset or empty.
inline uint64_t EnvU64(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : def;
}

inline std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads the ack log from *offset, truncates a torn last line (it acknowledges nothing) and
// returns the acknowledged end of the plan so far (the next index to submit).
inline size_t ReadAcks(const std::filesystem::path& path, size_t* offset, size_t next,
                       std::set<size_t>* acked) {
  if (!std::filesystem::exists(path)) return next;
  std::string text = Slurp(path).substr(*offset);
  size_t complete = text.rfind('\n');
  complete = complete == std::string::npos ? 0 : complete + 1;
  if (complete < text.size()) std::filesystem::resize_file(path, *offset + complete);
  size_t pos = 0;
  while (pos < complete) {
    size_t end = text.find('\n', pos);
    nlohmann::json a = nlohmann::json::parse(text.begin() + static_cast<std::ptrdiff_t>(pos),
                                             text.begin() + static_cast<std::ptrdiff_t>(end));
    pos = end + 1;
    const size_t from = a.at("from"), to = a.at("to");
    EXPECT_EQ(from, next) << "acknowledged ranges must follow each other";
    for (size_t i = from; i < to; ++i) acked->insert(i);
    next = to;
  }
  *offset += complete;
  return next;
}


// What the portal stand-in must hold after a run: every acknowledged dossier (`acked`, in plan
// order) with its final acknowledged status, every acknowledged status transition once, in
// order, none invented; a step applied twice only after an ambiguous failure and never more
// often than the exporters counted (`residual`: outbox.status residual); no step's first
// arrival out of order. `received` and `stats` are the stand-in's /_control answers.
inline void ExpectPortalHasExactlyTheAcknowledged(const std::vector<const PlanEvent*>& acked,
                                                  const nlohmann::json& received,
                                                  const nlohmann::json& stats,
                                                  const nlohmann::json& residual) {
  using nlohmann::json;
  std::map<std::string, std::string> final_status;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> transitions;
  for (const PlanEvent* e : acked) {
    if (e->step) continue;  // the dossier item of the same transition carries the same pair
    auto& t = transitions[e->id];
    if (t.empty() || t.back().second < e->time) t.emplace_back(e->status, e->time);
    final_status[e->id] = e->status;  // acked in plan order: the last one is the final
  }
  std::printf("stand-in stats: %s\nexporters' residual counts: %s\n", stats.dump().c_str(),
              residual.dump().c_str());
  // A step applied twice only after an ambiguous failure, never more than counted.
  EXPECT_LE(stats.value("duplicate_steps", -1), residual.value("steps_resent_after_ambiguity", 0))
      << "a progress step was applied twice more often than the exporters counted";
  const json& dossiers = received["dossiers"];
  EXPECT_EQ(dossiers.size(), final_status.size());
  for (const auto& [id, status] : final_status) {
    ASSERT_TRUE(dossiers.contains(id)) << "acknowledged dossier " << id << " never reached the portal";
    EXPECT_EQ(dossiers[id]["item"].value("TrangThaiHoSo", ""), status)
        << id << ": the portal has status " << dossiers[id]["item"].value("TrangThaiHoSo", "")
        << ", the last acknowledged status is " << status;
    EXPECT_EQ(dossiers[id].value("unit", ""), kPortalUnit);
  }
  // Every transition, in arrival order, none invented; a repeat (counted above) is skipped.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> got;
  std::map<std::string, std::set<std::pair<std::string, std::string>>> seen;
  for (const json& p : received["progress"]) {
    const std::string id = p["item"].value("MaHoSo", "");
    auto pair = std::make_pair(p["item"].value("TrangThai", ""), p["item"].value("ThoiDiemXuLy", ""));
    if (!seen[id].insert(pair).second) continue;
    got[id].push_back(pair);
  }
  int wrong = 0;
  for (const auto& [id, want] : transitions) {
    if (got[id] != want && ++wrong <= 10) {
      std::string g, w;
      for (const auto& [s, t] : got[id]) g += s + "@" + t + " ";
      for (const auto& [s, t] : want) w += s + "@" + t + " ";
      ADD_FAILURE() << id << ": the portal received [" << g << "], acknowledged [" << w << "]";
    }
  }
  EXPECT_EQ(wrong, 0) << "dossiers whose transitions differ from the acknowledged ones";
  // The stand-in flags a step older than one already applied for its dossier: allowed only for
  // a repeat (counted above), never for a step's first arrival.
  int64_t first_out_of_order = 0, repeat_out_of_order = 0, recreates = 0;
  for (const json& p : received["progress"])
    if (p.value("out_of_order", false)) ++(p.value("duplicate", false) ? repeat_out_of_order : first_out_of_order);
  for (const auto& [id, d] : dossiers.items()) recreates += d.value("duplicate_creates", int64_t{0});
  std::printf("out of order: %lld first arrivals, %lld repeats; creates of a dossier the portal had: "
              "%lld (refused as already existing, never applied twice)\n",
              static_cast<long long>(first_out_of_order), static_cast<long long>(repeat_out_of_order),
              static_cast<long long>(recreates));
  EXPECT_EQ(first_out_of_order, 0);
  EXPECT_EQ(got.size(), transitions.size()) << "steps of unknown dossiers";
}

}  // namespace danvan::crash_export
