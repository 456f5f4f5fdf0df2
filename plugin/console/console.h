// The admin web console (issue 15): an HTTP(S) server inside the plugin (Poco::Net::HTTPServer
// on its own thread pool), started by Engine::Start when console.enabled is true.
//
// Every page and every API call goes through `dispatch`, the engine's query dispatcher (the
// same Engine::Query the ABI's `query` calls), with "actor" set to the logged-in user so the
// audit trail records who did it. The console never touches the store itself.
//
// Lifecycle and threading: Start and Stop may be called from several threads (serialised by a
// mutex); Stop (and the destructor) stops accepting, aborts the open connections, and joins
// every request thread and the acceptor before returning: no thread outlives Stop. `dispatch`
// must stay callable until Stop returns.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "console/auth.h"
#include "console/console_config.h"
#include "console/metrics.h"
#include "core/clock.h"
#include "core/logger.h"
#include "core/status.h"

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}
}  // namespace Poco

namespace danvan::console {

// What the console shows and needs beyond the query ops.
struct ConsoleEnv {
  std::string version;        // plugin version and build id
  // The configuration in force (shown redacted; the Word draft's reports.decree30): called per
  // request, so a reload that leaves the console running is seen at once. Must not be empty.
  std::function<nlohmann::json()> config_in_force;
  std::string reports_dir;    // reports.dir: where the report op writes (downloads are read there)
  std::string config_dir;     // the data directory (default Word template: reports/bao-cao-nd30.docx)
  // Checks a configuration document without applying it: every error "path: reason", one per
  // line; empty when valid. May be empty (then the page says validation is unavailable).
  std::function<Status(const std::string& document)> validate_config;
};

class Console {
 public:
  // `clock` and `logger` must outlive the console.
  Console(ConsoleConfig config, ConsoleEnv env, Dispatch dispatch, const Clock* clock,
          const Logger* logger);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Binds and starts serving; IoError naming /console/port when the address cannot be bound,
  // /console/tls when the certificate or key cannot be loaded. A second Start is a no-op.
  Status Start();
  // Stops and joins every thread (see above). Idempotent. A Start after Stop serves again
  // (the sessions are kept).
  // graceful=false (stop, close): open connections are aborted at once; a request being
  // handled finishes, but its answer may be cut off.
  // graceful=true (a configuration reload restarting the console): no new connection is
  // accepted, every request being handled finishes and its answer is sent, idle kept-alive
  // connections are closed. Bounded by socket_timeout_ms and the ops' own waits. Never call it
  // from a request thread of this console (it waits for that request).
  void Stop(bool graceful = false);
  // Takes over the sessions of `previous` (same users, roles and password hashes): a console
  // restarted by a configuration reload keeps its administrators logged in. Before Start.
  void AdoptSessions(Console& previous);
  // The bound port (after Start; useful with console.port 0).
  int port() const { return port_.load(); }

  // Internal: the request handler's view (console.cc).
  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  std::mutex mu_;
  std::unique_ptr<Poco::ThreadPool> pool_;       // guarded by mu_
  std::unique_ptr<Poco::Net::HTTPServer> server_;  // guarded by mu_
  std::atomic<int> port_{0};
};

// Whether the console's address can be bound now (a reload checks a new bind or port before
// applying anything): IoError naming /console/port when it is in use or not local.
Status CheckCanBind(const ConsoleConfig& config);

// HTML-escapes text for element content and quoted attribute values (& < > " ').
std::string HtmlEscape(std::string_view text);

}  // namespace danvan::console
