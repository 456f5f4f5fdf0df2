// The `console` section of the configuration (schemas/config.schema.json): the admin web
// console served by the plugin. Off by default, loopback by default.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "console/password.h"
#include "core/json_schema.h"

namespace danvan::console {

enum class Role { kViewer, kAdmin };

struct ConsoleUser {
  std::string name;
  Role role = Role::kViewer;
  PasswordHash hash;
};

// Every number has its default in the schema's "default" and here; the schema bounds them.
struct ConsoleConfig {
  bool enabled = false;
  std::string bind = "127.0.0.1";
  int port = 8787;                 // 0: any free port (tests; the bound port is logged)
  std::string tls_cert_file;       // both set: HTTPS
  std::string tls_key_file;
  bool https() const { return !tls_cert_file.empty(); }
  int threads = 4;                 // request threads (the server's own pool)
  int max_queued = 32;             // accepted connections waiting for a thread
  int64_t max_body_bytes = 1 << 20;
  int64_t socket_timeout_ms = 10000;  // per read/write; a slow client cannot hold a thread longer
  int64_t session_idle_ms = 1800000;  // a session unused this long expires
  int64_t session_max_ms = 28800000;  // and every session after this long
  int64_t max_sessions = 256;         // the oldest is dropped beyond this
  int lockout_max_failures = 5;       // failed logins in a row before the name is locked
  int64_t lockout_ms = 900000;        // how long it stays locked
  int64_t password_min_iterations = 100000;
  std::vector<ConsoleUser> users;
  std::string metrics_token;          // from metrics.token_env / token_file; empty: session only
  int64_t metrics_tags_refresh_ms = 60000;  // tag counts are recounted at most this often
};

using SecretLookupFn = std::function<std::optional<std::string>(const std::string& name)>;

// Reads the section (already checked against the schema) into *out, appending every error with
// its JSON path (/console/...) to *errors. A missing section gives the defaults (disabled).
// Refused: a non-loopback bind without tls; enabled with no user; a password hash of fewer
// than password_min_iterations rounds; two users of the same name.
void ParseConsoleConfig(const nlohmann::json& doc_console, const SecretLookupFn& secret,
                        ConsoleConfig* out, std::vector<FieldError>* errors);

}  // namespace danvan::console
