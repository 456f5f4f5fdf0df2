// A chunked job on its own thread with progress a bar can show (total, done), used for
// re-evaluating records after the data their deadlines depend on changed (a calendar year's
// file, config/deadlines.json, the procedure catalogue).
//
// Threading: every method may be called from any thread. The job thread never outlives the
// object: Cancel() and the destructor stop it between chunks and join it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace danvan {

class BackgroundJob {
 public:
  // Applies one chunk of the job's items (e.g. record pks); runs on the job thread.
  using ApplyChunk = std::function<Status(const std::vector<int64_t>& chunk)>;
  // Runs on the job thread after the last chunk succeeded (not when cancelled or failed).
  using OnDone = std::function<void()>;

  explicit BackgroundJob(std::string name) : name_(std::move(name)) {}
  ~BackgroundJob() { Cancel(); }
  BackgroundJob(const BackgroundJob&) = delete;
  BackgroundJob& operator=(const BackgroundJob&) = delete;

  // Starts the job over `items`, `chunk_size` at a time. kConflict while one is running.
  Status Start(std::string reason, std::vector<int64_t> items, size_t chunk_size, ApplyChunk apply,
               OnDone on_done = nullptr);
  // Stops between chunks and joins. Safe to call when nothing runs.
  void Cancel();
  // {"name","running","reason","total","done","error"} (error: the last failure, or absent).
  nlohmann::json StatusJson() const;
  bool running() const { return running_.load(); }

 private:
  void Run(std::vector<int64_t> items, size_t chunk_size, ApplyChunk apply, OnDone on_done);

  const std::string name_;
  std::mutex thread_mu_;  // Start/Cancel one at a time
  std::thread thread_;    // guarded by thread_mu_
  std::atomic<bool> running_{false};
  std::atomic<bool> cancel_{false};
  std::atomic<int64_t> total_{0}, done_{0};
  mutable std::mutex info_mu_;
  std::string reason_, error_;  // guarded by info_mu_
};

}  // namespace danvan
