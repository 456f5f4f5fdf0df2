#include "engine/progress.h"

#include <algorithm>

#include "core/timeutil.h"

namespace danvan {

const char* JobStateName(JobProgress::State s) {
  switch (s) {
    case JobProgress::State::kIdle: return "idle";
    case JobProgress::State::kRunning: return "running";
    case JobProgress::State::kDone: return "done";
    case JobProgress::State::kFailed: return "failed";
    case JobProgress::State::kCancelled: return "cancelled";
  }
  return "idle";
}

void JobProgress::Begin(int64_t total, std::string reason, int64_t now_ms) {
  std::lock_guard lock(mu_);
  state_ = State::kRunning;
  done_ = 0;
  total_ = std::max<int64_t>(0, total);
  started_ms_ = now_ms;
  finished_ms_ = 0;
  reason_ = std::move(reason);
  error_.clear();
  detail_ = nlohmann::json::object();
}

void JobProgress::SetTotal(int64_t total) {
  std::lock_guard lock(mu_);
  total_ = std::max<int64_t>(0, total);
}

void JobProgress::Advance(int64_t steps) {
  std::lock_guard lock(mu_);
  done_ += steps;
}

void JobProgress::SetDetail(const std::string& key, nlohmann::json value) {
  std::lock_guard lock(mu_);
  detail_[key] = std::move(value);
}

void JobProgress::Finish(State state, std::string error, int64_t now_ms) {
  std::lock_guard lock(mu_);
  state_ = state;
  error_ = std::move(error);
  finished_ms_ = now_ms;
}

JobProgress::State JobProgress::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

nlohmann::json JobProgress::ToJson() const {
  std::lock_guard lock(mu_);
  // done never shows above total (a total counted before records were added meanwhile).
  const int64_t total = std::max(total_, done_);
  int percent = 0;
  if (state_ == State::kDone) percent = 100;
  else if (total > 0) percent = static_cast<int>(done_ * 100 / total);
  nlohmann::json j = {{"job", job_},
                      {"state", JobStateName(state_)},
                      {"done", done_},
                      {"total", total},
                      {"percent", percent},
                      {"reason", reason_},
                      {"started_at", started_ms_ ? nlohmann::json(FormatIsoTime(started_ms_)) : nlohmann::json()},
                      {"finished_at", finished_ms_ ? nlohmann::json(FormatIsoTime(finished_ms_)) : nlohmann::json()},
                      {"detail", detail_}};
  if (!error_.empty()) j["error"] = error_;
  return j;
}

std::shared_ptr<JobProgress> ReportProgressBoard::Start(std::string reason, int64_t now_ms) {
  auto run = std::make_shared<JobProgress>("report");
  run->Begin(0, std::move(reason), now_ms);
  std::lock_guard lock(mu_);
  runs_.push_front(run);
  // Forget the oldest finished runs beyond kKept (a running one stays listed).
  for (size_t i = runs_.size(); i > kKept; --i) {
    auto it = std::find_if(runs_.rbegin(), runs_.rend(),
                           [](const auto& r) { return r->state() != JobProgress::State::kRunning; });
    if (it == runs_.rend()) break;
    runs_.erase(std::next(it).base());
  }
  return run;
}

std::vector<std::shared_ptr<const JobProgress>> ReportProgressBoard::Runs() const {
  std::lock_guard lock(mu_);
  return {runs_.begin(), runs_.end()};
}

}  // namespace danvan
