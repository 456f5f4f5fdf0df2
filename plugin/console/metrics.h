// /metrics: the plugin's state in the Prometheus text exposition format (version 0.0.4), read
// through the same query ops as the ABI's `query` (stats, tags.count, outbox.status,
// progress), plus the console's own request latency histogram.
//
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"

namespace danvan::console {

using Dispatch = std::function<Result<nlohmann::json>(const nlohmann::json& request)>;

// The console's request routes, the label of the latency histogram.
enum class Route { kPage = 0, kApi, kLogin, kMetrics, kStatic, kCount };
const char* RouteName(Route r);

class RequestHistogram {
 public:
  // Upper bounds in seconds (Prometheus' default buckets).
  static constexpr std::array<double, 11> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                     0.5,   1.0,  2.5,   5.0,  10.0};
  void Observe(Route route, double seconds);
  void Render(std::string* out) const;

 private:
  struct Series {
    std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets{};  // last: +Inf only
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_us{0};
  };
  std::array<Series, static_cast<size_t>(Route::kCount)> series_;
};

class MetricsRenderer {
 public:
  // `dispatch` and `clock` must outlive this object.
  MetricsRenderer(Dispatch dispatch, const Clock* clock, int64_t tags_refresh_ms)
      : dispatch_(std::move(dispatch)), clock_(clock), tags_refresh_ms_(tags_refresh_ms) {}

  // The whole exposition. An op that fails is reported as danvan_metrics_op_error{op} 1 and its
  // series are left out; the rest is still rendered.
  std::string Render(const RequestHistogram& histogram, int64_t sessions, uint64_t login_failures);

 private:
  Dispatch dispatch_;
  const Clock* clock_;
  int64_t tags_refresh_ms_;
  std::mutex tags_mu_;
  int64_t tags_at_ms_ = -1;     // guarded by tags_mu_
  std::string tags_text_;       // guarded by tags_mu_: the danvan_tags samples last counted
};

// A label value escaped for the text format (backslash, double quote, line feed).
std::string PromEscape(std::string_view value);

}  // namespace danvan::console
