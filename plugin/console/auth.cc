#include "console/auth.h"

#include <algorithm>

namespace danvan::console {

Authenticator::Authenticator(const ConsoleConfig& config, const Clock* clock)
    : config_(config), clock_(clock) {
  dummy_.iterations = config.password_min_iterations;
  dummy_.salt = std::string(16, 's');
  dummy_.key = std::string(32, 'k');
}

LoginOutcome Authenticator::Login(const std::string& name, const std::string& password,
                                  std::string* token, int64_t* locked_until_ms) {
  const int64_t now = clock_->NowMs();
  {
    std::lock_guard lock(mu_);
    auto it = failures_.find(name);
    if (it != failures_.end() && it->second.locked_until_ms > now) {
      if (locked_until_ms) *locked_until_ms = it->second.locked_until_ms;
      return LoginOutcome::kLocked;
    }
  }
  const ConsoleUser* user = nullptr;
  for (const auto& u : config_.users)
    if (ConstantTimeEquals(u.name, name)) user = &u;
  const bool ok = VerifyPassword(password, user ? user->hash : dummy_) && user != nullptr;
  std::lock_guard lock(mu_);
  if (!ok) {
    const size_t cap = 4 * (config_.users.size() + 256);
    if (!failures_.count(name) && failures_.size() >= cap) {
      auto oldest = std::min_element(failures_.begin(), failures_.end(), [](const auto& a, const auto& b) {
        return a.second.last_ms < b.second.last_ms;
      });
      failures_.erase(oldest);
    }
    Failures& f = failures_[name];
    if (f.locked_until_ms && f.locked_until_ms <= now) f = Failures{};  // a served lock starts afresh
    f.last_ms = now;
    if (++f.count >= config_.lockout_max_failures) {
      f.locked_until_ms = now + config_.lockout_ms;
      if (locked_until_ms) *locked_until_ms = f.locked_until_ms;
      return LoginOutcome::kLocked;
    }
    return LoginOutcome::kBadCredentials;
  }
  failures_.erase(name);
  std::string t = RandomHex(32);
  std::string csrf = RandomHex(32);
  if (t.empty() || csrf.empty()) return LoginOutcome::kBadCredentials;
  // Expired sessions go first, then the least recently used one when still full.
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const Session& s = it->second;
    if (now - s.last_seen_ms >= config_.session_idle_ms || now - s.created_ms >= config_.session_max_ms)
      it = sessions_.erase(it);
    else
      ++it;
  }
  if (static_cast<int64_t>(sessions_.size()) >= config_.max_sessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.last_seen_ms < b.second.last_seen_ms;
    });
    sessions_.erase(oldest);
  }
  sessions_[Sha256Hex(t)] = Session{user->name, user->role, csrf, now, now};
  *token = t;
  return LoginOutcome::kOk;
}

std::optional<Session> Authenticator::Find(const std::string& token) {
  if (token.size() != 64) return std::nullopt;
  const int64_t now = clock_->NowMs();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(Sha256Hex(token));
  if (it == sessions_.end()) return std::nullopt;
  Session& s = it->second;
  if (now - s.last_seen_ms >= config_.session_idle_ms || now - s.created_ms >= config_.session_max_ms) {
    sessions_.erase(it);
    return std::nullopt;
  }
  s.last_seen_ms = now;
  return s;
}

void Authenticator::Logout(const std::string& token) {
  std::lock_guard lock(mu_);
  sessions_.erase(Sha256Hex(token));
}

void Authenticator::AdoptFrom(Authenticator& from) {
  if (&from == this) return;
  std::map<std::string, Session> sessions;
  std::map<std::string, Failures> failures;
  {
    std::lock_guard lock(from.mu_);
    sessions = from.sessions_;
    failures = from.failures_;
  }
  auto same_user = [&](const Session& s) {
    const ConsoleUser* now = nullptr;
    for (const auto& u : config_.users)
      if (u.name == s.user) now = &u;
    if (!now || now->role != s.role) return false;
    for (const auto& u : from.config_.users)
      if (u.name == s.user)
        return u.hash.iterations == now->hash.iterations && u.hash.salt == now->hash.salt && u.hash.key == now->hash.key;
    return false;
  };
  std::lock_guard lock(mu_);
  for (auto& [k, s] : sessions)
    if (static_cast<int64_t>(sessions_.size()) < config_.max_sessions && same_user(s)) sessions_.emplace(k, std::move(s));
  const size_t cap = 4 * (config_.users.size() + 256);
  for (auto& [k, f] : failures)
    if (failures_.size() < cap) failures_.emplace(k, f);
}

size_t Authenticator::session_count() {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace danvan::console
