// Progress of the plugin's long operations (issue 15: "long operations report progress with a
// total, so a bar can show a percentage"): re-tagging, the deadline re-evaluation, report
// generation. Each run is a JobProgress (done of total, state, times); the `progress` query op
// reads them all, the console draws them as bars, danvanctl too, /metrics exports them.
//
// Threading: every method of both classes may be called from any thread (one small mutex each,
// never held while calling out).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace danvan {

class JobProgress {
 public:
  enum class State { kIdle, kRunning, kDone, kFailed, kCancelled };

  explicit JobProgress(std::string job) : job_(std::move(job)) {}

  // A new run of `total` steps (may be corrected with SetTotal once counted).
  void Begin(int64_t total, std::string reason, int64_t now_ms);
  void SetTotal(int64_t total);
  void Advance(int64_t steps = 1);
  // A named count shown beside the bar (e.g. "changed" records of a re-tagging).
  void SetDetail(const std::string& key, nlohmann::json value);
  void Finish(State state, std::string error, int64_t now_ms);

  State state() const;
  // {"job","state","done","total","percent","reason","started_at","finished_at","error",
  //  "detail"}; times ISO 8601 or null; percent 0..100 (100 once done, even with total 0).
  nlohmann::json ToJson() const;

 private:
  const std::string job_;
  mutable std::mutex mu_;
  State state_ = State::kIdle;  // all guarded by mu_
  int64_t done_ = 0, total_ = 0, started_ms_ = 0, finished_ms_ = 0;
  std::string reason_, error_;
  nlohmann::json detail_ = nlohmann::json::object();
};

const char* JobStateName(JobProgress::State s);

// Report runs (several may run at once: each request has its own), the most recent kept.
class ReportProgressBoard {
 public:
  // A new run, listed first; the oldest finished runs beyond kKept are forgotten.
  std::shared_ptr<JobProgress> Start(std::string reason, int64_t now_ms);
  // Newest first.
  std::vector<std::shared_ptr<const JobProgress>> Runs() const;

  static constexpr size_t kKept = 8;

 private:
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<JobProgress>> runs_;  // guarded by mu_; newest first
};

}  // namespace danvan
