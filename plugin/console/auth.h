// Console authentication state: who may log in (users, lockout) and the live sessions.
//
// Thread-safe: every method takes the one mutex; PBKDF2 runs outside it. Memory is bounded:
// at most max_sessions sessions and 4 * (users + 256) lockout entries (names that are not users
// are tracked too, so a probe cannot tell them apart; the oldest entry is dropped beyond that).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "console/console_config.h"
#include "core/clock.h"

namespace danvan::console {

struct Session {
  std::string user;
  Role role = Role::kViewer;
  std::string csrf;  // sent back in X-CSRF-Token or the form field "csrf" on every mutation
  int64_t created_ms = 0;
  int64_t last_seen_ms = 0;
};

enum class LoginOutcome { kOk, kBadCredentials, kLocked };

class Authenticator {
 public:
  // `clock` must outlive this object.
  Authenticator(const ConsoleConfig& config, const Clock* clock);

  // Checks the password (PBKDF2 even for an unknown name, against a dummy hash, so the time
  // does not tell whether the name exists). On success *token is the new session's cookie value.
  LoginOutcome Login(const std::string& name, const std::string& password, std::string* token,
                     int64_t* locked_until_ms);
  // The session of a cookie value, refreshed; nullopt when unknown or expired (then removed).
  std::optional<Session> Find(const std::string& token);
  void Logout(const std::string& token);
  size_t session_count();
  // Takes over `from`'s sessions (a console restarted by a configuration reload), except those
  // of users that are gone or whose role or password hash changed (their holders log in
  // again). The lockout state is kept too. At most max_sessions are kept.
  void AdoptFrom(Authenticator& from);

 private:
  struct Failures {
    int count = 0;
    int64_t locked_until_ms = 0;
    int64_t last_ms = 0;
  };
  const ConsoleConfig& config_;
  const Clock* clock_;
  PasswordHash dummy_;
  std::mutex mu_;
  // Keyed by SHA-256 of the token: the map's comparisons never run over the secret itself.
  std::map<std::string, Session> sessions_;    // guarded by mu_
  std::map<std::string, Failures> failures_;   // guarded by mu_
};

}  // namespace danvan::console
