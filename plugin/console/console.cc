#include "console/console.h"

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPCookie.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include "abi/abi_errors.h"
#include "console/docx.h"
#include "console/internal.h"
#include "core/bounded_input.h"

namespace danvan::console {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;



HTTPResponse::HTTPStatus HttpStatusFor(Status::Code c) {
  switch (c) {
    case Status::Code::kOk: return HTTPResponse::HTTP_OK;
    case Status::Code::kRetryLater: return HTTPResponse::HTTP_SERVICE_UNAVAILABLE;
    case Status::Code::kInvalidInput: return HTTPResponse::HTTP_BAD_REQUEST;
    case Status::Code::kNotFound: return HTTPResponse::HTTP_NOT_FOUND;
    case Status::Code::kConflict: return HTTPResponse::HTTP_CONFLICT;
    default: return HTTPResponse::HTTP_INTERNAL_SERVER_ERROR;
  }
}

// A console refusal (authentication, CSRF, role, size): the ABI's error shape with its own code.
struct Refusal {
  HTTPResponse::HTTPStatus http;
  danvan_status status;
  std::string code, message, message_en;
};

void SecurityHeaders(HTTPServerResponse& resp, bool https) {
  // No inline script or style anywhere: the pages load /static/console.js and console.css only.
  resp.set("Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  resp.set("X-Content-Type-Options", "nosniff");
  resp.set("X-Frame-Options", "DENY");
  resp.set("Referrer-Policy", "no-referrer");
  resp.set("Cache-Control", "no-store");
  if (https) resp.set("Strict-Transport-Security", "max-age=31536000");
}

void Send(HTTPServerResponse& resp, HTTPResponse::HTTPStatus status, const std::string& type,
          const std::string& body, bool https) {
  if (resp.sent()) return;
  resp.setStatus(status);
  SecurityHeaders(resp, https);
  resp.setContentType(type);
  resp.setContentLength64(static_cast<Poco::Int64>(body.size()));
  resp.send().write(body.data(), static_cast<std::streamsize>(body.size()));
}

void SendJson(HTTPServerResponse& resp, HTTPResponse::HTTPStatus status, const nlohmann::json& j, bool https) {
  Send(resp, status, "application/json; charset=utf-8",
       j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), https);
}

void SendRefusal(HTTPServerResponse& resp, const Refusal& r, bool https) {
  SendJson(resp, r.http,
           nlohmann::json::parse(abi::ErrorDocument(r.status, {{r.code, "", r.message, r.message_en}})), https);
}

void SendStatus(HTTPServerResponse& resp, const Status& st, bool https) {
  const danvan_status s = abi::ToAbiStatus(st.code());
  SendJson(resp, HttpStatusFor(st.code()),
           nlohmann::json::parse(abi::ErrorDocument(s, abi::ErrorsFromStatus(st, abi::FallbackErrorCode(st.code())))), https);
}

void Redirect(HTTPServerResponse& resp, const std::string& to, bool https) {
  if (resp.sent()) return;
  resp.setStatus(HTTPResponse::HTTP_SEE_OTHER);
  SecurityHeaders(resp, https);
  resp.set("Location", to);
  resp.setContentLength(0);
  resp.send();
}

const Refusal kUnauthenticated{HTTPResponse::HTTP_UNAUTHORIZED, DANVAN_INVALID_INPUT, "console.unauthenticated",
                               "chưa đăng nhập hoặc phiên đã hết hạn", "not logged in, or the session expired"};
const Refusal kCsrf{HTTPResponse::HTTP_FORBIDDEN, DANVAN_INVALID_INPUT, "console.csrf",
                    "thiếu hoặc sai mã chống giả mạo yêu cầu (CSRF); hãy tải lại trang",
                    "missing or wrong CSRF token; reload the page"};
const Refusal kForbidden{HTTPResponse::HTTP_FORBIDDEN, DANVAN_INVALID_INPUT, "console.forbidden",
                         "vai trò người xem chỉ được chạy thao tác đọc; thao tác này cần vai trò quản trị",
                         "the viewer role may run read operations only; this one needs the admin role"};

std::string CookieName(bool https) { return https ? "__Host-danvan_session" : "danvan_session"; }

std::string SessionCookie(const std::string& value, bool https, bool clear) {
  std::string c = CookieName(https) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict";
  if (https) c += "; Secure";
  if (clear) c += "; Max-Age=0";
  return c;
}

// The request body, at most max bytes; nullopt when it is larger (nothing more is read).
std::optional<std::string> ReadBody(HTTPServerRequest& req, int64_t max) {
  if (req.hasContentLength() && req.getContentLength64() > max) return std::nullopt;
  std::string body;
  char buf[8192];
  std::istream& in = req.stream();
  while (in) {
    in.read(buf, sizeof buf);
    body.append(buf, static_cast<size_t>(in.gcount()));
    if (static_cast<int64_t>(body.size()) > max) return std::nullopt;
  }
  return body;
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

bool ViewerMay(const nlohmann::json& req) {
  // Read ops only (issue 15: viewers read indicators, rankings and reports). An op not listed
  // here, including every op added later, needs the admin role.
  static const std::set<std::string> kRead = {
      "ops", "stats", "units", "indicators", "indicators.explain", "record.get",
      "score.manual.list", "progress", "deadlines.status", "deadlines.list", "outbox.status", "tagging.status",
      "tags.count", "tags.explain", "procedures.status", "procedures.get"};
  const std::string op = req.value("op", "");
  if (kRead.count(op)) return true;
  if (op == "tags.review") return req.value("action", "list") == "list";
  // Scoring that only computes: a stored (journalled) score is an admin's explicit action.
  if (op == "score") return req.contains("journal") && req["journal"].is_boolean() && !req["journal"].get<bool>();
  if (op == "report") return req.value("format", "json") == "json";  // "all" writes files
  return false;
}

Result<nlohmann::json> RunOp(Console::Shared& sh, const Session& s, nlohmann::json req) {
  if (!req.is_object() || !req.contains("op") || !req["op"].is_string())
    return Status::InvalidInput("/op: yêu cầu phải là đối tượng JSON có trường \"op\" (chuỗi)");
  if (s.role != Role::kAdmin && !ViewerMay(req))
    return Status::InvalidInput("/op: vai trò người xem chỉ được chạy thao tác đọc; \"" +
                                req["op"].get<std::string>() + "\" cần vai trò quản trị");
  // The audit trail (issue 15) records who did it: the logged-in user, never what the page sent.
  req["actor"] = s.user;
  const std::string op = req["op"].get<std::string>();
  if (op == "tags.review") req["by"] = s.user;
  if (op == "score.manual") req["entered_by"] = s.user;
  return sh.dispatch(req);
}

namespace {

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(std::shared_ptr<Console::Shared> sh) : sh_(std::move(sh)) {}

  void handleRequest(HTTPServerRequest& req, HTTPServerResponse& resp) override {
    const auto t0 = std::chrono::steady_clock::now();
    Route route = Route::kPage;
    const bool https = sh_->config.https();
    try {
      Handle(req, resp, &route);
    } catch (const std::exception& e) {
      sh_->logger->Log(LogLevel::kError, "console_request_failed", {{"error", e.what()}});
      SendStatus(resp, Status::Internal(std::string("lỗi nội bộ của bảng điều khiển: ") + e.what()), https);
    } catch (...) {
      SendStatus(resp, Status::Internal("lỗi nội bộ của bảng điều khiển"), https);
    }
    sh_->histogram.Observe(route, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

 private:
  std::optional<std::pair<std::string, Session>> CurrentSession(HTTPServerRequest& req) {
    Poco::Net::NameValueCollection cookies;
    req.getCookies(cookies);
    const std::string token = cookies.get(CookieName(sh_->config.https()), "");
    if (token.empty()) return std::nullopt;
    auto s = sh_->auth.Find(token);
    if (!s) return std::nullopt;
    return std::make_pair(token, *s);
  }

  bool CsrfOk(HTTPServerRequest& req, const Session& s, const std::string& form_value) {
    std::string sent = req.get("X-CSRF-Token", form_value);
    return !sent.empty() && ConstantTimeEquals(sent, s.csrf);
  }

  void Handle(HTTPServerRequest& req, HTTPServerResponse& resp, Route* route) {
    const bool https = sh_->config.https();
    Poco::URI uri(req.getURI());
    const std::string path = uri.getPath();
    const std::string& method = req.getMethod();
    const bool post = method == "POST";
    if (!post && method != "GET" && method != "HEAD") {
      SendRefusal(resp, {HTTPResponse::HTTP_METHOD_NOT_ALLOWED, DANVAN_INVALID_INPUT, "console.method",
                         "phương thức không được hỗ trợ", "method not allowed"}, https);
      return;
    }
    std::string body;
    if (post) {
      auto b = ReadBody(req, sh_->config.max_body_bytes);
      if (!b) {
        SendRefusal(resp, {HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, DANVAN_INVALID_INPUT, "console.body_too_large",
                           "nội dung yêu cầu vượt quá " + std::to_string(sh_->config.max_body_bytes) +
                               " byte (console.max_body_bytes)",
                           "request body larger than console.max_body_bytes"}, https);
        return;
      }
      body = std::move(*b);
    }
    if (path.rfind("/static/", 0) == 0) {
      *route = Route::kStatic;
      if (path == "/static/console.js") return Send(resp, HTTPResponse::HTTP_OK, "text/javascript; charset=utf-8", kConsoleJs, https);
      if (path == "/static/console.css") return Send(resp, HTTPResponse::HTTP_OK, "text/css; charset=utf-8", kConsoleCss, https);
      return NotFound(resp);
    }
    if (path == "/login") {
      *route = Route::kLogin;
      if (!post) return Send(resp, HTTPResponse::HTTP_OK, "text/html; charset=utf-8", RenderLogin("", https), https);
      return Login(req, resp, body);
    }
    if (path == "/metrics") {
      *route = Route::kMetrics;
      return Metrics(req, resp);
    }
    auto current = CurrentSession(req);
    if (path.rfind("/api/", 0) == 0) {
      *route = Route::kApi;
      if (!current) return SendRefusal(resp, kUnauthenticated, https);
      if (!post) return SendRefusal(resp, {HTTPResponse::HTTP_METHOD_NOT_ALLOWED, DANVAN_INVALID_INPUT,
                                           "console.method", "cần POST", "POST required"}, https);
      if (!CsrfOk(req, current->second, "")) return SendRefusal(resp, kCsrf, https);
      if (path == "/api/query") return ApiQuery(resp, current->second, body);
      if (path == "/api/config/validate") return ApiValidate(resp, current->second, body);
      return NotFound(resp);
    }
    if (!current) return Redirect(resp, "/login", https);
    const Session& s = current->second;
    if (path == "/logout") {
      if (!post) return NotFound(resp);
      std::string form_csrf;
      try {
        Poco::Net::HTMLForm form;
        std::istringstream in(body);
        form.read(in);
        form_csrf = form.get("csrf", "");
      } catch (const Poco::Exception&) {
      }
      if (!CsrfOk(req, s, form_csrf)) return SendRefusal(resp, kCsrf, https);
      sh_->auth.Logout(current->first);
      resp.set("Set-Cookie", SessionCookie("", https, true));
      return Redirect(resp, "/login", https);
    }
    if (post) return SendRefusal(resp, kCsrf, https);  // no other form posts: the API takes them
    if (path == "/") return Redirect(resp, "/health", https);
    if (path == "/download/report") return DownloadReport(resp, s, uri);
    PageRequest pr{*sh_, s, {}};
    for (const auto& [k, v] : uri.getQueryParameters()) pr.params.emplace(k, v);
    auto html = RenderPage(path, pr);
    if (!html) return NotFound(resp);
    Send(resp, HTTPResponse::HTTP_OK, "text/html; charset=utf-8", *html, https);
  }

  void NotFound(HTTPServerResponse& resp) {
    SendRefusal(resp, {HTTPResponse::HTTP_NOT_FOUND, DANVAN_NOT_FOUND, "console.not_found",
                       "không có trang này", "no such page"}, sh_->config.https());
  }

  void Login(HTTPServerRequest& req, HTTPServerResponse& resp, const std::string& body) {
    const bool https = sh_->config.https();
    // Login CSRF: a form posted from another site carries its own Origin.
    const std::string origin = req.get("Origin", "");
    if (!origin.empty() && origin != "null") {
      const std::string host = req.get("Host", "");
      if (origin != (https ? "https://" : "http://") + host) return SendRefusal(resp, kCsrf, https);
    }
    Poco::Net::HTMLForm form;
    try {
      std::istringstream in(body);
      form.read(in);
    } catch (const Poco::Exception&) {
      return Send(resp, HTTPResponse::HTTP_BAD_REQUEST, "text/html; charset=utf-8",
                  RenderLogin("Biểu mẫu đăng nhập không hợp lệ.", https), https);
    }
    const std::string name = form.get("username", "").substr(0, 128);
    const std::string password = form.get("password", "").substr(0, 1024);
    std::string token;
    int64_t locked_until = 0;
    const LoginOutcome outcome = sh_->auth.Login(name, password, &token, &locked_until);
    if (outcome == LoginOutcome::kOk) {
      sh_->logger->Log(LogLevel::kInfo, "console_login", {{"user", name}});
      resp.set("Set-Cookie", SessionCookie(token, https, false));
      return Redirect(resp, "/health", https);
    }
    sh_->login_failures.fetch_add(1);
    sh_->logger->Log(LogLevel::kWarn, "console_login_refused",
                     {{"user", name}, {"locked", outcome == LoginOutcome::kLocked}});
    if (outcome == LoginOutcome::kLocked) {
      const int64_t minutes = std::max<int64_t>(1, (locked_until - sh_->clock->NowMs() + 59999) / 60000);
      return Send(resp, HTTPResponse::HTTP_TOO_MANY_REQUESTS, "text/html; charset=utf-8",
                  RenderLogin("Tài khoản tạm khóa do đăng nhập sai nhiều lần; thử lại sau " +
                                  std::to_string(minutes) + " phút.", https), https);
    }
    Send(resp, HTTPResponse::HTTP_UNAUTHORIZED, "text/html; charset=utf-8",
         RenderLogin("Sai tên đăng nhập hoặc mật khẩu.", https), https);
  }

  void Metrics(HTTPServerRequest& req, HTTPServerResponse& resp) {
    const bool https = sh_->config.https();
    bool allowed = false;
    const std::string auth = req.get("Authorization", "");
    if (!sh_->config.metrics_token.empty() && auth.rfind("Bearer ", 0) == 0)
      allowed = ConstantTimeEquals(auth.substr(7), sh_->config.metrics_token);
    if (!allowed) allowed = CurrentSession(req).has_value();
    if (!allowed) return SendRefusal(resp, kUnauthenticated, https);
    Send(resp, HTTPResponse::HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
         sh_->metrics.Render(sh_->histogram, static_cast<int64_t>(sh_->auth.session_count()),
                             sh_->login_failures.load()),
         https);
  }

  void ApiQuery(HTTPServerResponse& resp, const Session& s, const std::string& body) {
    const bool https = sh_->config.https();
    auto parsed = ParseJsonBounded(body, kDefaultMaxJsonDepth);
    if (!parsed.ok()) return SendStatus(resp, parsed.status(), https);
    if (s.role != Role::kAdmin && !ViewerMay(parsed.value())) return SendRefusal(resp, kForbidden, https);
    auto r = RunOp(*sh_, s, std::move(parsed).value());
    if (!r.ok()) return SendStatus(resp, r.status(), https);
    SendJson(resp, HTTPResponse::HTTP_OK, r.value(), https);
  }

  void ApiValidate(HTTPServerResponse& resp, const Session& s, const std::string& body) {
    const bool https = sh_->config.https();
    if (s.role != Role::kAdmin) return SendRefusal(resp, kForbidden, https);
    if (!sh_->env.validate_config)
      return SendStatus(resp, Status::NotFound("kiểm tra cấu hình không khả dụng"), https);
    Status st = sh_->env.validate_config(body);
    if (!st.ok()) return SendStatus(resp, st, https);
    SendJson(resp, HTTPResponse::HTTP_OK, {{"valid", true}}, https);
  }

  // GET /download/report?kind=six_month|annual&year=2023&format=html|xlsx|json
  void DownloadReport(HTTPServerResponse& resp, const Session& s, const Poco::URI& uri) {
    const bool https = sh_->config.https();
    std::map<std::string, std::string> q;
    for (const auto& [k, v] : uri.getQueryParameters()) q.emplace(k, v);
    const std::string kind = q["kind"], format = q.count("format") ? q["format"] : "html";
    int year = 0;
    try {
      year = std::stoi(q["year"]);
    } catch (...) {
      return SendStatus(resp, Status::InvalidInput("/year: cần năm (số nguyên)"), https);
    }
    static const std::map<std::string, std::pair<std::string, std::string>> kFormats = {
        {"html", {"report.html", "text/html; charset=utf-8"}},
        {"xlsx", {"report.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}},
        {"json", {"report.json", "application/json; charset=utf-8"}}};
    if (format == "docx") return DownloadDocx(resp, s, kind, year);
    auto f = kFormats.find(format);
    if (f == kFormats.end()) return SendStatus(resp, Status::InvalidInput("/format: cần html, xlsx, json hoặc docx"), https);
    const std::string dir = "console-download-" + RandomHex(8);
    // The report op writes every format into reports.dir/<dir>; the console reads one back
    // and removes the directory. Viewers may download (issue 15): the console runs it itself.
    Session as_admin = s;
    as_admin.role = Role::kAdmin;
    auto r = RunOp(*sh_, as_admin, {{"op", "report"}, {"kind", kind}, {"year", year}, {"format", "all"}, {"path", dir}});
    if (!r.ok()) return SendStatus(resp, r.status(), https);
    const std::filesystem::path out_dir = r.value().value("path", (std::filesystem::path(sh_->env.reports_dir) / dir).string());
    auto content = ReadRegularFile((out_dir / f->second.first).string(), 256LL << 20);
    std::error_code ec;
    std::filesystem::remove_all(out_dir, ec);
    if (!content.ok()) return SendStatus(resp, content.status(), https);
    resp.set("Content-Disposition", "attachment; filename=\"bao-cao-" + std::string(kind == "annual" ? "nam" : "6-thang") +
                                        "-" + std::to_string(year) + "." + format + "\"");
    Send(resp, HTTPResponse::HTTP_OK, f->second.second, content.value(), https);
  }

  // The Word draft in the Decree 30/2020/NĐ-CP layout: the report op's JSON (run as the user: a
  // viewer may), poured into the template of reports.decree30.template_file.
  void DownloadDocx(HTTPServerResponse& resp, const Session& s, const std::string& kind, int year) {
    const bool https = sh_->config.https();
    auto r = RunOp(*sh_, s, {{"op", "report"}, {"kind", kind}, {"year", year}});
    if (!r.ok()) return SendStatus(resp, r.status(), https);
    const nlohmann::json cfg = sh_->env.config_in_force().value("reports", nlohmann::json::object())
                                   .value("decree30", nlohmann::json::object());
    auto filled = FillDocxTemplate(
        cfg.value("template_file", sh_->env.config_dir + "/reports/bao-cao-nd30.docx"),
        Decree30Values(r.value().value("report", nlohmann::json::object()), cfg));
    if (!filled.ok()) return SendStatus(resp, filled.status(), https);
    resp.set("Content-Disposition", "attachment; filename=\"du-thao-bao-cao-" +
                                        std::string(kind == "annual" ? "nam" : "6-thang") + "-" +
                                        std::to_string(year) + ".docx\"");
    Send(resp, HTTPResponse::HTTP_OK,
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document", filled.value(), https);
  }

  std::shared_ptr<Console::Shared> sh_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(std::shared_ptr<Console::Shared> sh) : sh_(std::move(sh)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Handler(sh_);
  }

 private:
  std::shared_ptr<Console::Shared> sh_;
};

}  // namespace

Console::Console(ConsoleConfig config, ConsoleEnv env, Dispatch dispatch, const Clock* clock,
                 const Logger* logger)
    : shared_(std::make_shared<Shared>(std::move(config), std::move(env), std::move(dispatch), clock, logger)) {}

Console::~Console() { Stop(); }

void Console::AdoptSessions(Console& previous) { shared_->auth.AdoptFrom(previous.shared_->auth); }

Status Console::Start() {
  std::lock_guard lock(mu_);
  if (server_) return Status::Ok();
  const ConsoleConfig& c = shared_->config;
  try {
    Poco::Net::SocketAddress addr(c.bind, static_cast<Poco::UInt16>(c.port));
    std::unique_ptr<Poco::Net::ServerSocket> socket;
    if (c.https()) {
      static std::once_flag once;
      std::call_once(once, [] { Poco::Net::initializeSSL(); });
      Poco::Net::Context::Ptr ctx;
      try {
        ctx = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, c.tls_key_file, c.tls_cert_file, "",
                                     Poco::Net::Context::VERIFY_NONE, 9, false,
                                     "HIGH:!aNULL:!MD5:!RC4:!3DES");
        ctx->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                              Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
      } catch (const Poco::Exception& e) {
        return Status::IoError("/console/tls: không nạp được chứng chỉ hoặc khóa: " + e.displayText());
      }
      socket = std::make_unique<Poco::Net::SecureServerSocket>(ctx);
    } else {
      socket = std::make_unique<Poco::Net::ServerSocket>();
    }
    // SO_REUSEADDR (a restart binds the port its predecessor just closed) but never
    // SO_REUSEPORT, which Poco's (address, backlog) constructors set: with it a second process
    // of the same user could listen on the console's port and take half of its connections.
    socket->bind(addr, /*reuseAddress=*/true, /*reusePort=*/false);
    socket->listen(64);
    port_ = socket->address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(c.threads);
    params->setMaxQueued(c.max_queued);
    params->setTimeout(Poco::Timespan(c.socket_timeout_ms * 1000));
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(c.socket_timeout_ms * 1000));
    params->setMaxKeepAliveRequests(100);
    params->setServerName("danvan-console");
    // The server's own pool (never Poco's process-wide default pool, which a host may share):
    // joined in Stop.
    auto pool = std::make_unique<Poco::ThreadPool>("danvan-console", 1, c.threads, 60);
    auto server = std::make_unique<Poco::Net::HTTPServer>(new Factory(shared_), *pool, *socket, params);
    server->start();
    pool_ = std::move(pool);
    server_ = std::move(server);
  } catch (const Poco::Exception& e) {
    return Status::IoError("/console/port: không mở được cổng " + c.bind + ":" + std::to_string(c.port) +
                           " cho bảng điều khiển: " + e.displayText());
  }
  shared_->logger->Log(LogLevel::kInfo, "console_started",
                       {{"bind", c.bind}, {"port", port_.load()}, {"https", c.https()}});
  return Status::Ok();
}

void Console::Stop(bool graceful) {
  std::lock_guard lock(mu_);
  if (!server_) return;
  try {
    // Stops the acceptor thread (joined). Not graceful: aborts open connections; the request
    // threads end with their current request (each is bounded: socket timeouts, the query
    // ops' waits). Graceful: each connection is shut down once its current request is
    // answered (Poco's HTTPServerConnection takes the connection's lock, which a request holds
    // while it is handled); idle kept-alive connections at once.
    server_->stopAll(!graceful);
    pool_->joinAll();
  } catch (...) {
  }
  server_.reset();  // closes the listening socket: the port may be bound again
  pool_.reset();    // stops and joins the pool's idle threads
  shared_->logger->Log(LogLevel::kInfo, "console_stopped", {{"graceful", graceful}});
}

Status CheckCanBind(const ConsoleConfig& c) {
  try {
    Poco::Net::ServerSocket probe;
    probe.bind(Poco::Net::SocketAddress(c.bind, static_cast<Poco::UInt16>(c.port)), /*reuseAddress=*/true,
               /*reusePort=*/false);
    probe.listen(1);
    probe.close();
  } catch (const Poco::Exception& e) {
    return Status::IoError("/console/port: không mở được cổng " + c.bind + ":" + std::to_string(c.port) +
                           " cho bảng điều khiển: " + e.displayText());
  }
  return Status::Ok();
}

}  // namespace danvan::console
