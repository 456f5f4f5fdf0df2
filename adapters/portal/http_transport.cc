#include "portal/http_transport.h"

#include <pthread.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <utility>

#include <Poco/Crypto/EVPPKey.h>
#include <Poco/Crypto/X509Certificate.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/DNS.h>
#include <Poco/Net/HostEntry.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/URI.h>

namespace danvan {

std::string HttpResponse::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  }
  return "";
}

std::string ParsedUrl::Origin() const {
  return scheme + "://" + host + ":" + std::to_string(port);
}

Result<ParsedUrl> ParseUrl(const std::string& url) {
  try {
    Poco::URI uri(url);
    ParsedUrl p;
    p.scheme = uri.getScheme();
    if (p.scheme != "https" && p.scheme != "http") {
      return Status::InvalidInput("URL " + url + ": scheme must be https");
    }
    p.host = uri.getHost();
    if (p.host.empty()) return Status::InvalidInput("URL " + url + ": no host");
    p.port = uri.getPort();
    p.path = uri.getPathEtc();
    while (!p.path.empty() && p.path.back() == '/') p.path.pop_back();
    return p;
  } catch (const Poco::Exception& e) {
    return Status::InvalidInput("URL " + url + ": " + e.displayText());
  }
}

namespace {

using Clock = std::chrono::steady_clock;

// Reads the response body, at most kMaxResponseBytes (http_transport.h): a portal or gateway
// that sends an endless answer must not grow the host's memory. Past the limit the request fails
// (kOther) and the connection, which still holds unread bytes, is dropped.
void ReadBodyBounded(std::istream& is, const Poco::Net::HTTPResponse& resp, std::string* body) {
  if (resp.hasContentLength() && resp.getContentLength64() > kMaxResponseBytes)
    throw Poco::DataFormatException("response body announced larger than the limit",
                                    std::to_string(resp.getContentLength64()) + " bytes");
  char buf[16384];
  while (is) {
    is.read(buf, sizeof buf);
    const std::streamsize n = is.gcount();
    if (n <= 0) break;
    if (static_cast<int64_t>(body->size()) + n > kMaxResponseBytes)
      throw Poco::DataFormatException("response body larger than the limit",
                                      std::to_string(kMaxResponseBytes) + " bytes");
    body->append(buf, static_cast<size_t>(n));
  }
}

// Blocks SIGPIPE in the calling thread while a request is in flight (OpenSSL writes with
// write(2), which raises SIGPIPE on a closed connection and would kill the host) and swallows
// a SIGPIPE raised meanwhile.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    pending_before_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SigpipeGuard() {
    if (!pending_before_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        sigtimedwait(&set_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_, old_;
  bool pending_before_ = false;
};

void InitSslOnce() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

// Lets another thread abort the connection of a sender that is blocked in connect, the TLS
// handshake, send or receive (the plugin's close must not wait for a hung portal).
//
// The gate keeps its own duplicate of the connection's descriptor: shutdown(2) acts on the
// connection, not on a descriptor number, so shutting our duplicate down wakes the sender's
// blocked call, and the number we hold can never have been closed and reused by someone else
// (Poco closes its own descriptor on errors, on the sender's thread, without telling us).
class CancelGate {
 public:
  ~CancelGate() { Disarm(); }

  // Sender thread: the socket of a new connection, before connecting it. Throws when cancelled.
  void Arm(int fd) {
    std::lock_guard lock(mu_);
    CloseLocked();
    if (cancelled_.load()) throw Poco::Net::ConnectionAbortedException("cancelled");
    fd_ = ::dup(fd);
  }
  // Sender thread: the connection is gone (session reset).
  void Disarm() {
    std::lock_guard lock(mu_);
    CloseLocked();
  }
  // Any thread.
  void Cancel() {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  bool cancelled() const { return cancelled_.load(); }
  // Sender thread: the session's connect (and handshake) completed.
  void Connected() { connected_ = true; }
  bool TakeConnected() { return std::exchange(connected_, false); }

 private:
  void CloseLocked() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  std::mutex mu_;
  int fd_ = -1;  // guarded by mu_
  std::atomic<bool> cancelled_{false};
  bool connected_ = false;  // sender thread only
};

// Makes a socket, hands it to the gate (so Cancel can shut it down mid-connect), connects it
// within connect_timeout and leaves it with send/receive timeouts of io_timeout.
Poco::Net::StreamSocket ConnectGated(const Poco::Net::SocketAddress& address, CancelGate* gate,
                                     Poco::Timespan connect_timeout, Poco::Timespan io_timeout) {
  Poco::Net::StreamSocket plain(address.family());
  gate->Arm(plain.impl()->sockfd());
  plain.connect(address, connect_timeout);
  plain.setReceiveTimeout(io_timeout);
  plain.setSendTimeout(io_timeout);
  plain.setNoDelay(true);
  return plain;
}

// Poco's sessions connect inside sendRequest; these ones make the socket first and hand it to
// the gate, then connect and (HTTPS) shake hands on it. Connect and handshake are bounded by
// the connect timeout, as in Poco's own connect; send and receive by their timeouts.
class GatedHttpsSession final : public Poco::Net::HTTPSClientSession {
 public:
  GatedHttpsSession(const std::string& host, uint16_t port, Poco::Net::Context::Ptr context,
                    CancelGate* gate, Poco::Timespan connect_timeout, Poco::Timespan io_timeout)
      : HTTPSClientSession(host, port, context),
        context_(std::move(context)),
        gate_(gate),
        connect_timeout_(connect_timeout),
        io_timeout_(io_timeout) {}

 protected:
  void connect(const Poco::Net::SocketAddress& address) override {
    // The handshake is part of connecting: bounded by the connect timeout.
    Poco::Net::StreamSocket plain = ConnectGated(address, gate_, connect_timeout_, connect_timeout_);
    // Handshake and peer verification (host name, chain) with the session's context.
    Poco::Net::SecureStreamSocket secure =
        Poco::Net::SecureStreamSocket::attach(plain, getHost(), context_);
    secure.setReceiveTimeout(io_timeout_);
    secure.setSendTimeout(io_timeout_);
    attachSocket(secure);
    gate_->Connected();
  }

 private:
  Poco::Net::Context::Ptr context_;
  CancelGate* gate_;
  Poco::Timespan connect_timeout_, io_timeout_;
};

class GatedHttpSession final : public Poco::Net::HTTPClientSession {
 public:
  GatedHttpSession(const std::string& host, uint16_t port, CancelGate* gate,
                   Poco::Timespan connect_timeout, Poco::Timespan io_timeout)
      : HTTPClientSession(host, port),
        gate_(gate),
        connect_timeout_(connect_timeout),
        io_timeout_(io_timeout) {}

 protected:
  void connect(const Poco::Net::SocketAddress& address) override {
    attachSocket(ConnectGated(address, gate_, connect_timeout_, io_timeout_));
    gate_->Connected();
  }

 private:
  CancelGate* gate_;
  Poco::Timespan connect_timeout_, io_timeout_;
};

class PocoHttpsTransport final : public HttpTransport {
 public:
  PocoHttpsTransport(ParsedUrl url, Poco::Net::Context::Ptr context, const PortalConfig& config)
      : url_(std::move(url)),
        context_(std::move(context)),
        connect_timeout_(config.connect_timeout_ms * 1000),
        read_timeout_(config.read_timeout_ms * 1000),
        keep_alive_(config.keep_alive),
        keep_alive_idle_ms_(config.keep_alive_idle_ms),
        user_agent_(config.user_agent) {}

  std::string Origin() const override { return url_.Origin(); }

  void Cancel() override { gate_.Cancel(); }

  TransportResult Send(const HttpRequest& request) override {
    SigpipeGuard sigpipe_guard;
    TransportResult result;
    for (int attempt = 1; attempt <= 2; ++attempt) {
      result = TransportResult();
      result.attempts = attempt;
      if (gate_.cancelled()) {
        result.error = TransportError::kCancelled;
        result.error_message = "request cancelled: the plugin is closing";
        ResetSession();
        return result;
      }
      bool reused = PrepareSession();
      bool got_response_bytes = false;
      gate_.TakeConnected();
      try {
        Poco::Net::HTTPRequest req(request.method, request.path_and_query,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
        req.setKeepAlive(keep_alive_);
        req.set("User-Agent", user_agent_);
        req.set("Accept", "application/json");
        for (const auto& [k, v] : request.headers) req.set(k, v);
        if (!request.body.empty() || request.method == "POST") {
          req.setContentType(request.content_type);
          req.setContentLength(static_cast<std::streamsize>(request.body.size()));
        }
        std::ostream& os = session_->sendRequest(req);
        os.write(request.body.data(), static_cast<std::streamsize>(request.body.size()));
        os.flush();
        if (!os) throw Poco::Net::ConnectionResetException("write failed");
        Poco::Net::HTTPResponse resp;
        std::istream& is = session_->receiveResponse(resp);
        got_response_bytes = true;
        result.response.status = static_cast<int>(resp.getStatus());
        result.response.reason = resp.getReason();
        for (const auto& [k, v] : resp) result.response.headers.emplace_back(k, v);
        ReadBodyBounded(is, resp, &result.response.body);
        if (resp.hasContentLength() &&
            static_cast<int64_t>(result.response.body.size()) != resp.getContentLength64()) {
          throw Poco::Net::ConnectionResetException("response body truncated");
        }
        if (!keep_alive_ || !resp.getKeepAlive()) {
          ResetSession();
        } else {
          last_used_ = Clock::now();
        }
        return result;
      } catch (const Poco::TimeoutException& e) {
        Fail(&result, TransportError::kTimeout, e);
      } catch (const Poco::Net::SSLConnectionUnexpectedlyClosedException& e) {
        Fail(&result, TransportError::kClosed, e);
      } catch (const Poco::Net::SSLException& e) {
        Fail(&result, TransportError::kTls, e);
      } catch (const Poco::Net::NoMessageException& e) {
        Fail(&result, TransportError::kClosed, e);
      } catch (const Poco::Net::ConnectionResetException& e) {
        Fail(&result, TransportError::kClosed, e);
      } catch (const Poco::Net::ConnectionAbortedException& e) {
        Fail(&result, TransportError::kClosed, e);
      } catch (const Poco::Net::ConnectionRefusedException& e) {
        Fail(&result, TransportError::kConnect, e);
      } catch (const Poco::Net::DNSException& e) {
        Fail(&result, TransportError::kConnect, e);
      } catch (const Poco::Net::MessageException& e) {
        Fail(&result, TransportError::kClosed, e);
      } catch (const Poco::IOException& e) {
        // Poco reports some handshake failures as plain IOException with the OpenSSL text.
        Fail(&result, e.displayText().find("SSL") != std::string::npos ? TransportError::kTls
                                                                        : TransportError::kOther,
             e);
      } catch (const Poco::Exception& e) {
        Fail(&result, TransportError::kOther, e);
      } catch (const std::exception& e) {
        result.error = TransportError::kOther;
        result.error_message = e.what();
        ResetSession();
      }
      // Sent when a reused connection or one connected for this request was up.
      result.request_sent = reused || gate_.TakeConnected();
      if (gate_.cancelled()) {  // whatever Poco made of the shut-down connection
        result.error = TransportError::kCancelled;
        result.error_message = "request cancelled: the plugin is closing";
        return result;
      }
      // Retry once only for the stale keep-alive race: reused connection, closed before any
      // response byte. Anything else is for the caller to classify.
      if (!(request.retry_on_stale && reused && !got_response_bytes &&
            result.error == TransportError::kClosed)) {
        break;
      }
    }
    return result;
  }

 private:
  void Fail(TransportResult* r, TransportError kind, const Poco::Exception& e) {
    r->error = kind;
    r->error_message = e.displayText();
    ResetSession();
  }

  void ResetSession() {
    if (session_) {
      try {
        session_->reset();
      } catch (...) {
      }
    }
    session_.reset();
    gate_.Disarm();
  }

  // Returns true when an existing (keep-alive) connection will be reused.
  bool PrepareSession() {
    if (session_ && session_->connected()) {
      auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_used_);
      bool stale = idle.count() > keep_alive_idle_ms_;
      if (!stale) {
        // A readable idle socket means the server closed it (or sent garbage): do not reuse.
        try {
          stale = session_->socket().poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ |
                                                                 Poco::Net::Socket::SELECT_ERROR);
        } catch (...) {
          stale = true;
        }
      }
      if (!stale) return true;
      ResetSession();
    }
    if (!session_) {
      if (url_.scheme == "https") {
        session_ = std::make_unique<GatedHttpsSession>(url_.host, url_.port, context_, &gate_,
                                                       connect_timeout_, read_timeout_);
      } else {
        session_ = std::make_unique<GatedHttpSession>(url_.host, url_.port, &gate_,
                                                      connect_timeout_, read_timeout_);
      }
      session_->setTimeout(connect_timeout_, read_timeout_, read_timeout_);
      session_->setKeepAlive(keep_alive_);
      session_->setKeepAliveTimeout(Poco::Timespan(keep_alive_idle_ms_ * 1000));
    }
    return false;
  }

  ParsedUrl url_;
  Poco::Net::Context::Ptr context_;
  Poco::Timespan connect_timeout_, read_timeout_;
  bool keep_alive_;
  int64_t keep_alive_idle_ms_;
  std::string user_agent_;
  CancelGate gate_;  // before session_: the session's connect uses it
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  Clock::time_point last_used_{};
};

}  // namespace

namespace {

// The TLS client context of the portal settings: the configured CA (or the system's), strict
// verification, TLS 1.2 or later, the client certificate when configured.
Result<Poco::Net::Context::Ptr> MakeClientContext(const PortalConfig& config) {
  try {
    const auto& tls = config.tls;
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", "", tls.ca_file,
        // STRICT: Poco skips the host-name check for "localhost" in RELAXED mode.
        tls.verify ? Poco::Net::Context::VERIFY_STRICT : Poco::Net::Context::VERIFY_NONE, 9,
        /*loadDefaultCAs=*/tls.verify && tls.ca_file.empty());
    context->enableExtendedCertificateVerification(tls.verify);
    context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                              Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
    if (!tls.client_cert_file.empty()) {
      context->useCertificate(Poco::Crypto::X509Certificate(tls.client_cert_file));
      context->usePrivateKey(Poco::Crypto::EVPPKey("", tls.client_key_file, tls.client_key_password));
    }
    return context;
  } catch (const Poco::Exception& e) {
    return Status::InvalidInput("portal.tls: " + e.displayText());
  }
}

int64_t ElapsedMs(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since)
      .count();
}

}  // namespace

Result<std::unique_ptr<HttpTransport>> MakePocoTransport(const std::string& url,
                                                         const PortalConfig& config) {
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  // The same rule as ParsePortalConfig, for any other caller: no clear text, no unverified TLS.
  if (!config.insecure_test_only && (parsed->scheme != "https" || !config.tls.verify))
    return Status::InvalidInput("URL " + url + ": cần https:// và kiểm tra chứng chỉ (portal.insecure_test_only chỉ dùng khi kiểm thử)");
  InitSslOnce();
  Poco::Net::Context::Ptr context;
  if (parsed->scheme == "https") {
    auto c = MakeClientContext(config);
    if (!c.ok()) return c.status();
    context = c.value();
  }
  return std::unique_ptr<HttpTransport>(
      new PocoHttpsTransport(std::move(parsed.value()), context, config));
}

std::vector<ProbeStep> ProbeConnection(const std::string& url, const PortalConfig& config) {
  std::vector<ProbeStep> steps;
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) {
    steps.push_back({"dns", false, 0, "", parsed.status().message()});
    return steps;
  }
  const Poco::Timespan connect_timeout(config.connect_timeout_ms * 1000);
  // 1. The host name.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Poco::Net::IPAddress> addresses;
  try {
    Poco::Net::IPAddress literal;
    if (Poco::Net::IPAddress::tryParse(parsed->host, literal)) {
      addresses.push_back(literal);
    } else {
      const Poco::Net::HostEntry entry = Poco::Net::DNS::hostByName(parsed->host);
      for (const auto& a : entry.addresses()) addresses.push_back(a);
    }
  } catch (const Poco::Exception& e) {
    steps.push_back({"dns", false, ElapsedMs(t0), "", e.displayText()});
    return steps;
  }
  if (addresses.empty()) {
    steps.push_back({"dns", false, ElapsedMs(t0), "", "no address"});
    return steps;
  }
  std::string list;
  for (const auto& a : addresses) list += (list.empty() ? "" : ", ") + a.toString();
  steps.push_back({"dns", true, ElapsedMs(t0), parsed->host + " -> " + list, ""});
  // 2. A TCP connection to the first address that answers.
  t0 = std::chrono::steady_clock::now();
  Poco::Net::StreamSocket plain;
  std::string last_error, connected_to;
  for (const auto& a : addresses) {
    try {
      Poco::Net::SocketAddress sa(a, parsed->port);
      Poco::Net::StreamSocket s(sa.family());
      s.connect(sa, connect_timeout);
      plain = s;
      connected_to = sa.toString();
      break;
    } catch (const Poco::Exception& e) {
      last_error = e.displayText();
    }
  }
  if (connected_to.empty()) {
    steps.push_back({"tcp", false, ElapsedMs(t0), "", last_error});
    return steps;
  }
  steps.push_back({"tcp", true, ElapsedMs(t0), connected_to, ""});
  if (parsed->scheme != "https") {
    steps.push_back({"tls", true, 0, "http:// (portal.insecure_test_only): no TLS", ""});
    return steps;
  }
  // 3. The TLS handshake with the configured CA, host name checked.
  t0 = std::chrono::steady_clock::now();
  InitSslOnce();
  auto context = MakeClientContext(config);
  if (!context.ok()) {
    steps.push_back({"tls", false, ElapsedMs(t0), "", context.status().message()});
    return steps;
  }
  try {
    plain.setReceiveTimeout(connect_timeout);
    plain.setSendTimeout(connect_timeout);
    Poco::Net::SecureStreamSocket secure =
        Poco::Net::SecureStreamSocket::attach(plain, parsed->host, context.value());
    secure.completeHandshake();
    std::string detail = "TLS";
    if (secure.havePeerCertificate()) {
      Poco::Crypto::X509Certificate cert = secure.peerCertificate();
      detail = cert.subjectName() + " (" + cert.issuerName() + ")";
    }
    steps.push_back({"tls", true, ElapsedMs(t0), detail, ""});
    secure.close();
  } catch (const Poco::Exception& e) {
    steps.push_back({"tls", false, ElapsedMs(t0), "", e.displayText()});
  }
  return steps;
}

}  // namespace danvan
