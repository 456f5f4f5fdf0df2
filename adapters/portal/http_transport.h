// The HTTP seam of the portal client: one origin (scheme://host:port), one connection.
// PocoHttpsTransport is the real one (Poco NetSSL over OpenSSL); tests may substitute their own
// (e.g. to inject faults without a server).
//
// Thread-safety: a transport instance is used by one thread at a time (it owns one keep-alive
// connection). Poco::Net::initializeSSL() is called once per process by MakePocoTransport.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "portal/portal_config.h"

namespace danvan {

struct HttpRequest {
  std::string method = "POST";
  std::string path_and_query;  // "/integration?x=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  // Resend once on a fresh connection when a reused keep-alive connection was closed before
  // any response byte arrived. Only for requests whose repetition is harmless (log-in, look-ups,
  // dossier create/update, anything carrying an idempotency key): the server may have applied
  // the first copy before closing.
  bool retry_on_stale = true;
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Case-insensitive header look-up, "" when absent.
  std::string Header(const std::string& name) const;
};

enum class TransportError {
  kNone,
  kConnect,  // DNS, refused, unreachable
  kTls,      // handshake or certificate verification failed
  kTimeout,  // connect or read timeout
  kClosed,   // connection closed or reset before a full response arrived
  kCancelled,  // Cancel() was called (the plugin is closing): the request may have been applied
  kOther,
};

struct TransportResult {
  TransportError error = TransportError::kNone;
  std::string error_message;  // for logs; never contains request bodies or credentials
  HttpResponse response;      // valid when error == kNone
  int attempts = 0;           // 2 when a stale keep-alive connection was retried
  // The connection was up when the request went out (a failure after that may come after the
  // server received, and applied, the request). False for connect and handshake failures.
  bool request_sent = false;
  bool ok() const { return error == TransportError::kNone; }
};

// The largest response body a transport reads (16 MiB: the portal's largest answers, a page
// of LayThuTuc or TraCuuHoSo, are well under 1 MiB); a longer one fails the request (kOther).
inline constexpr int64_t kMaxResponseBytes = 16LL << 20;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends and reads the whole response. Before reusing an idle keep-alive connection it checks
  // whether the server has closed it (and reconnects if so). If the request still went out on a
  // reused connection that the server closed before any response byte arrived and
  // request.retry_on_stale is set, it is sent once more on a fresh connection (the "server
  // closed an idle connection" race). SIGPIPE is blocked for the calling thread during the call.
  virtual TransportResult Send(const HttpRequest& request) = 0;
  // "https://host:port" of this transport, for URLs in the export log.
  virtual std::string Origin() const = 0;
  // Aborts the request in flight (connect, TLS handshake, send or receive: the connection is
  // shut down) and makes every later Send fail at once with kCancelled. Thread-safe and
  // non-blocking: the one call that may come from another thread than Send's (the plugin's
  // close, so that joining a sender never waits for a hung portal).
  virtual void Cancel() = 0;
};

// Splits "https://host:port/prefix" into origin and path prefix.
struct ParsedUrl {
  std::string scheme, host, path;  // path without trailing '/', "" for none
  uint16_t port = 0;
  std::string Origin() const;
};
Result<ParsedUrl> ParseUrl(const std::string& url);

// A transport to url's origin with the TLS, timeout and keep-alive settings of config.
// Fails (InvalidInput) when the CA file or client certificate/key cannot be loaded.
Result<std::unique_ptr<HttpTransport>> MakePocoTransport(const std::string& url,
                                                         const PortalConfig& config);

// One step of a connection check (the adapter test, portal/portal_probe.h).
struct ProbeStep {
  std::string name;  // "dns", "tcp", "tls", "login", "lookup"
  bool ok = false;
  int64_t ms = 0;      // how long the step took
  std::string detail;  // what it found (addresses, certificate subject); never a credential
  std::string error;   // why it failed (Poco's or the portal's words), "" when ok
};

// Resolves url's host, opens a TCP connection (connect_timeout_ms) and, for https, completes
// the TLS handshake with config's CA and client certificate, checking the host name. Stops at
// the first failing step. Blocking (DNS is bounded by the system resolver's timeouts); never
// sends a request.
std::vector<ProbeStep> ProbeConnection(const std::string& url, const PortalConfig& config);

}  // namespace danvan
