#include "console/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "core/timeutil.h"

namespace danvan::console {
namespace {

const char* const kKinds[] = {"dossier", "petition", "reception", "dvk_model", "plan_task"};

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void Help(std::string* out, const char* name, const char* type, const char* help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void Sample(std::string* out, const std::string& name, const std::string& labels, double v) {
  *out += name;
  if (!labels.empty()) *out += "{" + labels + "}";
  *out += ' ' + Num(v) + '\n';
}

std::string Label(const char* k, std::string_view v) { return std::string(k) + "=\"" + PromEscape(v) + "\""; }

double NumberOr(const nlohmann::json& j, const char* key, double def = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : def;
}

}  // namespace

const char* RouteName(Route r) {
  switch (r) {
    case Route::kPage: return "page";
    case Route::kApi: return "api";
    case Route::kLogin: return "login";
    case Route::kMetrics: return "metrics";
    case Route::kStatic: return "static";
    case Route::kCount: break;
  }
  return "other";
}

std::string PromEscape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void RequestHistogram::Observe(Route route, double seconds) {
  Series& s = series_[static_cast<size_t>(route)];
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.count.fetch_add(1, std::memory_order_relaxed);
  s.sum_us.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e6), std::memory_order_relaxed);
}

void RequestHistogram::Render(std::string* out) const {
  const char* name = "danvan_console_request_duration_seconds";
  Help(out, name, "histogram", "Time to answer a console HTTP request, by route.");
  for (size_t r = 0; r < series_.size(); ++r) {
    const Series& s = series_[r];
    const std::string route = Label("route", RouteName(static_cast<Route>(r)));
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBounds.size(); ++i) {
      cumulative += s.buckets[i].load(std::memory_order_relaxed);
      Sample(out, std::string(name) + "_bucket", route + "," + Label("le", Num(kBounds[i])), cumulative);
    }
    cumulative += s.buckets[kBounds.size()].load(std::memory_order_relaxed);
    Sample(out, std::string(name) + "_bucket", route + ",le=\"+Inf\"", cumulative);
    Sample(out, std::string(name) + "_sum", route, s.sum_us.load(std::memory_order_relaxed) / 1e6);
    // The count equals the +Inf bucket (both read from the same increments).
    Sample(out, std::string(name) + "_count", route, cumulative);
  }
}

std::string MetricsRenderer::Render(const RequestHistogram& histogram, int64_t sessions,
                                    uint64_t login_failures) {
  std::string out;
  std::vector<std::string> failed;
  auto stats = dispatch_({{"op", "stats"}});
  if (stats.ok()) {
    const auto& s = stats.value();
    Help(&out, "danvan_records", "gauge", "Stored records by kind.");
    const auto by_kind = s.value("records_by_kind", nlohmann::json::object());
    for (const char* k : kKinds) Sample(&out, "danvan_records", Label("kind", k), NumberOr(by_kind, k));
    Help(&out, "danvan_quarantined_events", "gauge", "Rejected events kept in quarantine.");
    Sample(&out, "danvan_quarantined_events", "", NumberOr(s, "quarantined"));
  } else {
    failed.push_back("stats");
  }
  // tags.count reads every record: recounted at most every tags_refresh_ms.
  {
    std::lock_guard lock(tags_mu_);
    const int64_t now = clock_->NowMs();
    if (tags_at_ms_ < 0 || now - tags_at_ms_ >= tags_refresh_ms_) {
      std::string text;
      bool ok = true;
      for (const char* k : kKinds) {
        auto tags = dispatch_({{"op", "tags.count"}, {"kind", k}});
        if (!tags.ok()) {
          ok = false;
          failed.push_back("tags.count");
          break;
        }
        const nlohmann::json total = tags.value().value("total", nlohmann::json::object());
        for (const auto& [tag, n] : total.items())
          if (n.is_number()) Sample(&text, "danvan_tags", Label("kind", k) + "," + Label("tag", tag), n.get<double>());
      }
      if (ok) {
        tags_text_ = std::move(text);
        tags_at_ms_ = now;
      }
    }
    if (tags_at_ms_ >= 0) {
      Help(&out, "danvan_tags", "gauge", "Tags on stored records, by record kind and tag (recounted periodically).");
      out += tags_text_;
    }
  }
  auto ob = dispatch_({{"op", "outbox.status"}});
  if (ob.ok()) {
    const auto& o = ob.value();
    const std::string dest = Label("destination", o.value("destination", ""));
    Help(&out, "danvan_outbox_items", "gauge",
         "Outbox items by destination and state (sent, pending, held, inflight...): the sends by outcome.");
    const nlohmann::json queue = o.value("queue", nlohmann::json::object());
    for (const auto& [state, n] : queue.items())
      if (n.is_number()) Sample(&out, "danvan_outbox_items", dest + "," + Label("state", state), n.get<double>());
    Help(&out, "danvan_outbox_queue_depth", "gauge", "Items waiting to be sent (the back-pressure count).");
    Sample(&out, "danvan_outbox_queue_depth", dest, NumberOr(o, "queued"));
    Help(&out, "danvan_outbox_oldest_item_age_seconds", "gauge", "Age of the oldest item waiting to be sent.");
    Sample(&out, "danvan_outbox_oldest_item_age_seconds", dest, NumberOr(o, "oldest_pending_age_ms") / 1000.0);
    Help(&out, "danvan_outbox_dead_letters", "gauge", "Dead letters not re-sent.");
    Sample(&out, "danvan_outbox_dead_letters", dest, NumberOr(o, "dead_letters"));
    Help(&out, "danvan_outbox_paused", "gauge", "1 while the destination is paused for a configuration error.");
    Sample(&out, "danvan_outbox_paused", dest, o.value("paused", false) ? 1 : 0);
    Help(&out, "danvan_outbox_last_success_timestamp_seconds", "gauge", "When the last call succeeded (0: never).");
    double last = 0;
    if (o.contains("last_success") && o["last_success"].is_string())
      if (auto ms = ParseIsoTime(o["last_success"].get<std::string>())) last = *ms / 1000.0;
    Sample(&out, "danvan_outbox_last_success_timestamp_seconds", dest, last);
    Help(&out, "danvan_outbox_events_total", "counter",
         "What the exporters did about failures (README \"What is and is not guaranteed\").");
    const nlohmann::json residual = o.value("residual", nlohmann::json::object());
    for (const auto& [event, n] : residual.items())
      if (n.is_number()) Sample(&out, "danvan_outbox_events_total", dest + "," + Label("event", event), n.get<double>());
  } else {
    failed.push_back("outbox.status");
  }
  // Long operations (the `progress` op): the re-tagging's gauges and every job's done/total.
  auto progress = dispatch_({{"op", "progress"}});
  if (progress.ok()) {
    nlohmann::json retag = nlohmann::json::object();
    std::map<std::string, nlohmann::json> latest;  // the first (most recent) run of each job
    for (const auto& j : progress.value().value("jobs", nlohmann::json::array())) {
      const std::string job = j.value("job", "");
      if (!latest.count(job)) latest[job] = j;
      if (job == "retag") retag = j;
    }
    Help(&out, "danvan_retag_running", "gauge", "1 while stored records are being re-tagged.");
    Sample(&out, "danvan_retag_running", "", retag.value("state", "") == "running" ? 1 : 0);
    Help(&out, "danvan_retag_processed_records", "gauge",
         "Records re-tagged by the current or last run (of danvan_retag_total_records).");
    Sample(&out, "danvan_retag_processed_records", "", NumberOr(retag, "done"));
    Help(&out, "danvan_retag_total_records", "gauge", "Records the current or last re-tagging run goes through.");
    Sample(&out, "danvan_retag_total_records", "", NumberOr(retag, "total"));
    Help(&out, "danvan_retag_changed_records", "gauge", "Records whose tags changed in the current or last run.");
    Sample(&out, "danvan_retag_changed_records", "", NumberOr(retag.value("detail", nlohmann::json::object()), "changed"));
    Help(&out, "danvan_job_done_steps", "gauge", "Steps done by the current or last run of a long operation.");
    for (const auto& [job, j] : latest) Sample(&out, "danvan_job_done_steps", Label("job", job), NumberOr(j, "done"));
    Help(&out, "danvan_job_total_steps", "gauge", "Steps in all of the current or last run of a long operation.");
    for (const auto& [job, j] : latest) Sample(&out, "danvan_job_total_steps", Label("job", job), NumberOr(j, "total"));
    Help(&out, "danvan_job_running", "gauge", "1 while a long operation runs.");
    for (const auto& [job, j] : latest)
      Sample(&out, "danvan_job_running", Label("job", job), j.value("state", "") == "running" ? 1 : 0);
  } else {
    failed.push_back("progress");
  }
  histogram.Render(&out);
  Help(&out, "danvan_console_sessions", "gauge", "Live console sessions.");
  Sample(&out, "danvan_console_sessions", "", static_cast<double>(sessions));
  Help(&out, "danvan_console_login_failures_total", "counter", "Refused console log-ins (bad password or locked).");
  Sample(&out, "danvan_console_login_failures_total", "", static_cast<double>(login_failures));
  Help(&out, "danvan_metrics_op_error", "gauge", "1 for a query op that failed while rendering this page.");
  for (const auto& op : failed) Sample(&out, "danvan_metrics_op_error", Label("op", op), 1);
  return out;
}

}  // namespace danvan::console
