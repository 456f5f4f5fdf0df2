// Time source. The core never calls the system clock directly so tests inject time.
#pragma once

#include <cstdint>
#include <functional>

namespace danvan {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC. Thread-safe.
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
};

// A clock driven by a function (e.g. the host's now_ms callback) or set by tests.
class FunctionClock final : public Clock {
 public:
  explicit FunctionClock(std::function<int64_t()> fn) : fn_(std::move(fn)) {}
  int64_t NowMs() const override { return fn_(); }

 private:
  std::function<int64_t()> fn_;
};

}  // namespace danvan
