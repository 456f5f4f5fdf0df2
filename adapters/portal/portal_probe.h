// The adapter test (issue 15): log in and one harmless look-up against the configured portal,
// each step reported with its timing and, when it fails, a message in Vietnamese and English.
//
// Steps, in order; the first failure ends the run and the later steps are "skipped":
//   dns     the base URL's host name resolves
//   tcp     a TCP connection opens within portal.connect_timeout_ms
//   tls     the TLS handshake succeeds with portal.tls (CA, client certificate), host name checked
//   login   a fresh session (envelope) or token (OAuth2); "none" when the style has no log-in
//   lookup  TraCuuHoSo of a dossier code that cannot exist (kAdapterTestDossier): read-only,
//           "not found" is the expected answer
//
// Threading: PortalProbe runs one check at a time on a thread of its own (a query op must not
// wait on the network); Start, StatusJson and Cancel may be called from any threads. The
// thread never outlives the object: Cancel (and the destructor) aborts the portal request in
// flight and joins; a DNS look-up is bounded by the system resolver's timeouts, a connect by
// portal.connect_timeout_ms.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"
#include "outbox/portal_client.h"
#include "portal/portal_config.h"

namespace danvan {

// The dossier code the look-up asks for (no portal dossier code has this form).
inline constexpr const char* kAdapterTestDossier = "DANVAN-KIEM-TRA-KET-NOI";

// Runs every step synchronously. `client_slot`: where the client in use is published (under
// `mu`) so that another thread can Cancel it; may be null.
nlohmann::json RunPortalProbe(const PortalConfig& config, const Clock* clock,
                              std::mutex* mu = nullptr, PortalClient** client_slot = nullptr);

class PortalProbe {
 public:
  explicit PortalProbe(const Clock* clock) : clock_(clock) {}
  ~PortalProbe() { Cancel(); }
  PortalProbe(const PortalProbe&) = delete;
  PortalProbe& operator=(const PortalProbe&) = delete;

  // Starts a check with `config`. Conflict while one runs.
  Status Start(PortalConfig config, int64_t now_ms);
  // {"state":"idle"|"running"|"done","started","ok","steps":[...]} (steps of the last run).
  nlohmann::json StatusJson() const;
  // Aborts a running check and joins its thread. Idempotent.
  void Cancel();

 private:
  const Clock* clock_;
  std::mutex thread_mu_;  // Start/Cancel one at a time
  std::thread thread_;    // guarded by thread_mu_
  std::atomic<bool> running_{false};
  mutable std::mutex mu_;
  nlohmann::json report_ = nullptr;  // guarded by mu_
  int64_t started_ms_ = 0;           // guarded by mu_
  PortalClient* client_ = nullptr;   // guarded by mu_: the client in use, for Cancel
  bool cancelled_ = false;           // guarded by mu_
};

}  // namespace danvan
