// Internals shared by console.cc (server, routing, API) and pages.cc (HTML pages).
#pragma once

#include <atomic>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "console/auth.h"
#include "console/console.h"
#include "console/metrics.h"

namespace danvan::console {

struct Console::Shared {
  ConsoleConfig config;
  ConsoleEnv env;
  Dispatch dispatch;
  const Clock* clock;
  const Logger* logger;
  Authenticator auth;
  RequestHistogram histogram;
  MetricsRenderer metrics;
  std::atomic<uint64_t> login_failures{0};

  Shared(ConsoleConfig c, ConsoleEnv e, Dispatch d, const Clock* cl, const Logger* lg)
      : config(std::move(c)), env(std::move(e)), dispatch(std::move(d)), clock(cl), logger(lg),
        auth(config, cl), metrics(dispatch, cl, config.metrics_tags_refresh_ms) {}
};

// What a page handler gets.
struct PageRequest {
  Console::Shared& shared;
  const Session& session;
  std::map<std::string, std::string> params;  // query parameters (first value of each)
  std::string Param(const std::string& k, const std::string& def = "") const {
    auto it = params.find(k);
    return it == params.end() ? def : it->second;
  }
};

// Runs an op for the page as the session's user (role checked, actor set). The answer or the
// error document ({"status","errors"}).
Result<nlohmann::json> RunOp(Console::Shared& shared, const Session& session, nlohmann::json request);

// Whether a viewer may run this op document (read ops only).
bool ViewerMay(const nlohmann::json& request);

// The HTML of a page by its path ("/health"...); nullopt when no such page.
std::optional<std::string> RenderPage(const std::string& path, const PageRequest& req);
std::string RenderLogin(const std::string& message, bool https);

// The configuration with every secret-looking value replaced by "***".
nlohmann::json RedactConfig(const nlohmann::json& config);

extern const char kConsoleJs[];
extern const char kConsoleCss[];

}  // namespace danvan::console
