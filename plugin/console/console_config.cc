#include "console/console_config.h"

#include <set>

#include <Poco/Net/IPAddress.h>

#include "portal/portal_config.h"

namespace danvan::console {

void ParseConsoleConfig(const nlohmann::json& c, const SecretLookupFn& secret, ConsoleConfig* out,
                        std::vector<FieldError>* errors) {
  ConsoleConfig cfg;
  if (!c.is_object()) {
    *out = cfg;
    return;
  }
  cfg.enabled = c.value("enabled", cfg.enabled);
  cfg.bind = c.value("bind", cfg.bind);
  cfg.port = c.value("port", cfg.port);
  cfg.threads = c.value("threads", cfg.threads);
  cfg.max_queued = c.value("max_queued", cfg.max_queued);
  cfg.max_body_bytes = c.value("max_body_bytes", cfg.max_body_bytes);
  cfg.socket_timeout_ms = c.value("socket_timeout_ms", cfg.socket_timeout_ms);
  cfg.session_idle_ms = c.value("session_idle_ms", cfg.session_idle_ms);
  cfg.session_max_ms = c.value("session_max_ms", cfg.session_max_ms);
  cfg.max_sessions = c.value("max_sessions", cfg.max_sessions);
  cfg.password_min_iterations = c.value("password_min_iterations", cfg.password_min_iterations);
  if (c.contains("lockout")) {
    cfg.lockout_max_failures = c["lockout"].value("max_failures", cfg.lockout_max_failures);
    cfg.lockout_ms = c["lockout"].value("duration_ms", cfg.lockout_ms);
  }
  if (c.contains("tls")) {
    cfg.tls_cert_file = c["tls"].value("cert_file", "");
    cfg.tls_key_file = c["tls"].value("key_file", "");
  }
  Poco::Net::IPAddress addr;
  if (!Poco::Net::IPAddress::tryParse(cfg.bind, addr)) {
    errors->push_back({"/console/bind", "cần địa chỉ IP (ví dụ 127.0.0.1 hoặc ::1), nhận được \"" +
                                            cfg.bind.substr(0, 64) + "\""});
  } else if (!addr.isLoopback() && !cfg.https()) {
    // Passwords and session cookies must not cross a network in clear text.
    errors->push_back({"/console/bind",
                       "chỉ được nghe trên địa chỉ loopback (127.0.0.1, ::1) khi chưa cấu hình HTTPS "
                       "(console.tls.cert_file, console.tls.key_file); nhận được " + cfg.bind});
  }
  std::set<std::string> names;
  if (c.contains("users") && c["users"].is_array()) {
    for (size_t i = 0; i < c["users"].size(); ++i) {
      const auto& u = c["users"][i];
      const std::string path = "/console/users/" + std::to_string(i);
      ConsoleUser user;
      user.name = u.value("name", "");
      user.role = u.value("role", "viewer") == "admin" ? Role::kAdmin : Role::kViewer;
      if (!names.insert(user.name).second)
        errors->push_back({path + "/name", "tên người dùng bị trùng: " + user.name});
      auto h = ParsePasswordHash(u.value("password_hash", ""), cfg.password_min_iterations);
      if (!h.ok()) {
        errors->push_back({path + "/password_hash", h.status().message()});
        continue;
      }
      user.hash = h.value();
      cfg.users.push_back(std::move(user));
    }
  }
  if (cfg.enabled && cfg.users.empty() && names.empty())
    errors->push_back({"/console/users", "bật bảng điều khiển (console.enabled) cần ít nhất một người dùng"});
  if (c.contains("metrics")) {
    const auto& m = c["metrics"];
    cfg.metrics_tags_refresh_ms = m.value("tags_refresh_ms", cfg.metrics_tags_refresh_ms);
    if (m.contains("token_env") || m.contains("token_file")) {
      auto token = ReadSecret(m, "token", true, secret, "console.metrics.token");
      if (!token.ok())
        errors->push_back({"/console/metrics", token.status().message()});
      else if (token.value().size() < 16)
        errors->push_back({"/console/metrics", "mã truy cập /metrics phải dài ít nhất 16 ký tự"});
      else
        cfg.metrics_token = token.value();
    }
  }
  *out = std::move(cfg);
}

}  // namespace danvan::console
