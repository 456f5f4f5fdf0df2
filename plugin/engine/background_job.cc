#include "engine/background_job.h"

#include <pthread.h>

#include <algorithm>

namespace danvan {

Status BackgroundJob::Start(std::string reason, std::vector<int64_t> items, size_t chunk_size,
                            ApplyChunk apply, OnDone on_done) {
  std::lock_guard lock(thread_mu_);
  if (running_) {
    std::lock_guard info(info_mu_);
    return Status::Conflict("đang chạy " + name_ + " (" + reason_ + "); thử lại sau");
  }
  if (thread_.joinable()) thread_.join();  // the previous run has finished
  {
    std::lock_guard info(info_mu_);
    reason_ = std::move(reason);
    error_.clear();
  }
  cancel_ = false;
  total_ = static_cast<int64_t>(items.size());
  done_ = 0;
  running_ = true;
  thread_ = std::thread([this, items = std::move(items), chunk_size = std::max<size_t>(1, chunk_size),
                         apply = std::move(apply), on_done = std::move(on_done)]() mutable {
    Run(std::move(items), chunk_size, std::move(apply), std::move(on_done));
  });
  return Status::Ok();
}

void BackgroundJob::Run(std::vector<int64_t> items, size_t chunk_size, ApplyChunk apply,
                        OnDone on_done) {
  pthread_setname_np(pthread_self(), "danvan-job");
  bool failed = false;
  for (size_t i = 0; i < items.size() && !cancel_; i += chunk_size) {
    std::vector<int64_t> chunk(items.begin() + i, items.begin() + std::min(items.size(), i + chunk_size));
    Status st = apply(chunk);
    if (!st.ok()) {
      std::lock_guard info(info_mu_);
      error_ = st.message();
      failed = true;
      break;
    }
    done_ += static_cast<int64_t>(chunk.size());
  }
  if (!failed && !cancel_ && on_done) on_done();
  running_ = false;
}

void BackgroundJob::Cancel() {
  std::lock_guard lock(thread_mu_);
  cancel_ = true;
  if (thread_.joinable()) thread_.join();
}

nlohmann::json BackgroundJob::StatusJson() const {
  std::lock_guard info(info_mu_);
  nlohmann::json j = {{"name", name_}, {"running", running_.load()}, {"reason", reason_},
                      {"total", total_.load()}, {"done", done_.load()}};
  if (!error_.empty()) j["error"] = error_;
  return j;
}

}  // namespace danvan
