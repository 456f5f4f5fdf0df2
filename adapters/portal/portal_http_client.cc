#include "portal/portal_http_client.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <utility>

#include <Poco/Base64Encoder.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "core/bounded_input.h"
#include "core/json_number.h"

namespace danvan {
namespace {

using nlohmann::json;

constexpr const char* kDongBoHoSo = "DongBoHoSoMC";
constexpr const char* kCapNhatTienDo = "CapNhatTienDoHoSoMC";
constexpr const char* kTraCuuHoSo = "TraCuuHoSo";
constexpr const char* kLayThuTuc = "LayThuTuc";
constexpr const char* kLayDanhSachTTHC = "LayDanhSachTTHC";

// A portal answer as JSON; discarded (is_discarded()) when it is not JSON, or nests deeper than
// the default limits.max_json_depth: the answer comes from the network, and nlohmann copies,
// compares and dumps recursively (bounded_input.h).
json ParseAnswerBody(const std::string& body) {
  auto parsed = ParseJsonBounded(body, kDefaultMaxJsonDepth);
  if (!parsed.ok()) return json(json::value_t::discarded);
  return std::move(parsed).value();
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Case-insensitive for ASCII; exact for the Vietnamese markers (given in NFC).
bool ContainsMarker(const std::string& text, const std::vector<std::string>& markers) {
  std::string lower = text;
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (const auto& m : markers) {
    if (m.empty()) continue;
    if (text.find(m) != std::string::npos || lower.find(m) != std::string::npos) return true;
  }
  return false;
}

std::string QueryEscape(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "&=+?#/ ", out);
  return out;
}

std::string Base64(const std::string& s) {
  std::ostringstream os;
  Poco::Base64Encoder enc(os);
  enc.rdbuf()->setLineLength(0);
  enc << s;
  enc.close();
  return os.str();
}

std::string FormEscape(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "&=+?#/ !$'()*,;:@[]", out);
  return out;
}

class SystemClockHolder {
 public:
  static const Clock* Get() {
    static SystemClock clock;
    return &clock;
  }
};

enum class Endpoint { kIntegration, kShare };

struct Operation {
  std::string service;
  Endpoint endpoint = Endpoint::kIntegration;
  // Envelope: params merged into {"session","madonvi","service"}.
  json envelope_params = json::object();
  // Per-operation: path, query string (without '?'), body.
  std::string path;
  std::string query;
  json body;
  // Repeating the request is harmless (see HttpRequest::retry_on_stale).
  bool repeatable = true;
};

class PortalHttpClient final : public PortalClient {
 public:
  PortalHttpClient(PortalConfig config, const Clock* clock, TransportFactory factory)
      : config_(std::move(config)), clock_(clock), factory_(std::move(factory)) {}

  Status Init() {
    auto base = ParseUrl(config_.base_url);
    if (!base.ok()) return base.status();
    base_path_ = base->path;
    auto t = factory_(config_.base_url, config_);
    if (!t.ok()) return t.status();
    api_ = std::move(t.value());
    if (config_.style == PortalStyle::kPerOperation && config_.per_operation.oauth2.enabled) {
      auto tu = ParseUrl(config_.per_operation.oauth2.token_url);
      if (!tu.ok()) return tu.status();
      token_path_ = tu->path;
      if (tu->Origin() == base->Origin()) {
        token_same_origin_ = true;
      } else {
        auto tt = factory_(config_.per_operation.oauth2.token_url, config_);
        if (!tt.ok()) return tt.status();
        token_transport_ = std::move(tt.value());
      }
    }
    return Status::Ok();
  }

  SendResult SyncDossiers(const std::vector<json>& items, bool is_update,
                          const PortalCallOptions& options) override {
    Operation op;
    op.service = kDongBoHoSo;
    op.envelope_params = {{"isUpdating", is_update ? "True" : "False"}, {"data", items}};
    const auto& po = config_.per_operation;
    op.path = is_update ? po.update_path : po.create_path;
    op.query = UnitQuery(options);
    if (!po.update_query_param.empty()) {
      if (!op.query.empty()) op.query += "&";
      op.query += po.update_query_param + "=" + (is_update ? "True" : "False");
    }
    op.body = items;
    // Sent again after a lost answer, a create meets "đã tồn tại": the outbox looks the dossier
    // up first instead (issue 11), so the transport never resends it on its own.
    op.repeatable = false;
    SendResult r = Call(op, options);
    ClassifyItems(config_, items, &r);
    return r;
  }

  SendResult SyncProgress(const std::vector<json>& steps,
                          const PortalCallOptions& options) override {
    Operation op;
    op.service = kCapNhatTienDo;
    op.envelope_params = {{"data", steps}};
    op.path = config_.per_operation.progress_path;
    op.query = UnitQuery(options);
    op.body = steps;
    // A progress step applied twice is a second status transition at the portal, and the
    // national portal honours no idempotency key (issue 11): never resend transparently.
    op.repeatable = false;
    SendResult r = Call(op, options);
    ClassifyItems(config_, steps, &r);
    return r;
  }

  LookupResult Lookup(const std::string& ma_ho_so, const PortalCallOptions& options) override {
    Operation op;
    op.service = kTraCuuHoSo;
    op.envelope_params = {{"mahoso", ma_ho_so}};
    op.path = config_.per_operation.lookup_path;
    op.query = UnitQuery(options);
    op.body = {{"mahoso", ma_ho_so}};
    LookupResult r;
    static_cast<SendResult&>(r) = Call(op, options);
    r.found = r.ok() && r.result.is_array() && !r.result.empty();
    if (r.ok() && r.result.is_object() && !r.result.empty()) r.found = true;
    return r;
  }

  Result<json> GetProcedure(const std::string& ma_tthc, const PortalCallOptions& options) override {
    Operation op;
    op.service = kLayThuTuc;
    op.endpoint = Endpoint::kShare;
    op.envelope_params = {{"maTTHC", ma_tthc}};
    op.path = config_.per_operation.procedure_path;
    op.query = UnitQuery(options);
    op.body = {{"maTTHC", ma_tthc}};
    SendResult r = Call(op, options);
    if (!r.ok()) return ToStatus(r);
    if (r.result.is_array()) {
      if (r.result.empty()) return Status::NotFound("LayThuTuc " + ma_tthc + ": không có thủ tục");
      return r.result.front();
    }
    if (r.result.is_object() && !r.result.empty()) return r.result;
    return Status::NotFound("LayThuTuc " + ma_tthc + ": không có thủ tục");
  }

  SendResult Authenticate() override {
    SendResult r;
    const bool has_login = config_.style == PortalStyle::kEnvelope || config_.per_operation.oauth2.enabled;
    DropAuth();
    if (!EnsureAuth(&r)) return r;
    r.outcome = PortalOutcome::kSuccess;
    r.message = has_login ? "" : "none";
    return r;
  }

  void Cancel() override {
    api_->Cancel();
    if (token_transport_) token_transport_->Cancel();
  }

  Result<json> ListProcedures(const PortalCallOptions& options) override {
    Operation op;
    op.service = kLayDanhSachTTHC;
    op.endpoint = Endpoint::kShare;
    op.path = config_.per_operation.procedure_list_path;
    op.query = UnitQuery(options);
    op.body = json::object();
    SendResult r = Call(op, options);
    if (!r.ok()) return ToStatus(r);
    return r.result;
  }

 private:
  static Status ToStatus(const SendResult& r) {
    std::string msg = std::string(PortalOutcomeName(r.outcome)) + " (HTTP " +
                      std::to_string(r.http_status) + ", error_code " + r.error_code + "): " +
                      r.message;
    if (r.outcome == PortalOutcome::kRetryable) return Status::RetryLater(msg);
    return Status::InvalidInput(msg);
  }

  std::string Madonvi(const PortalCallOptions& o) const {
    return o.madonvi.empty() ? config_.default_madonvi : o.madonvi;
  }

  std::string UnitQuery(const PortalCallOptions& o) const {
    const auto& param = config_.per_operation.unit_query_param;
    std::string unit = Madonvi(o);
    if (param.empty() || unit.empty()) return "";
    return param + "=" + QueryEscape(unit);
  }

  int64_t NowMs() const { return clock_->NowMs(); }

  // --- authentication ----------------------------------------------------------------------

  // Ensures a session / token. On failure fills *failure and returns false.
  bool EnsureAuth(SendResult* failure) {
    if (config_.style == PortalStyle::kEnvelope) {
      if (!session_.empty()) return true;
      return LogIn(failure);
    }
    if (!config_.per_operation.oauth2.enabled) return true;
    if (!token_.empty() && NowMs() < token_expiry_ms_) return true;
    return FetchToken(failure);
  }

  void DropAuth() {
    session_.clear();
    token_.clear();
  }

  // Common handling of a log-in / token response. Never copies the body into messages (it may
  // echo credentials); only error_code and message fields.
  bool AuthFailure(const TransportResult& tr, const char* what, SendResult* failure) {
    if (!tr.ok()) {
      *failure = ClassifyTransportError(tr);
      failure->message = std::string(what) + ": " + failure->message;
      return false;
    }
    const int st = tr.response.status;
    failure->http_status = st;
    if (st == 408 || st == 425 || st == 429 || st >= 500) {
      failure->outcome = PortalOutcome::kRetryable;
      failure->retry_after_ms = ParseRetryAfter(tr.response.Header("Retry-After"), NowMs());
      failure->message = std::string(what) + ": HTTP " + std::to_string(st);
      return false;
    }
    return true;
  }

  bool LogIn(SendResult* failure) {
    HttpRequest req;
    req.path_and_query = base_path_ + config_.envelope.auth_path;
    if (!config_.envelope.dstcode.empty()) req.headers.emplace_back("dstcode", config_.envelope.dstcode);
    req.body = json{{"username", config_.envelope.username}, {"password", config_.envelope.password}}.dump();
    TransportResult tr = api_->Send(req);
    ++auth_requests_;
    if (!AuthFailure(tr, "đăng nhập", failure)) return false;
    json body = ParseAnswerBody(tr.response.body);
    std::string code = body.is_object() ? ErrorCodeText(body) : "";
    if (tr.response.status / 100 == 2 && body.is_object() && body.contains("session") &&
        body["session"].is_string() && !body["session"].get<std::string>().empty() &&
        (code.empty() || Contains(config_.success_codes, code))) {
      session_ = body["session"].get<std::string>();
      return true;
    }
    failure->outcome = body.is_discarded() && tr.response.status / 100 == 2
                           ? PortalOutcome::kRetryable
                           : PortalOutcome::kPermanent;
    failure->auth_failed = failure->outcome == PortalOutcome::kPermanent;
    failure->error_code = code;
    failure->message = "đăng nhập bị từ chối (HTTP " + std::to_string(tr.response.status) + ")";
    if (body.is_object() && body.contains("message") && body["message"].is_string()) {
      failure->message += ": " + body["message"].get<std::string>();
    }
    return false;
  }

  bool FetchToken(SendResult* failure) {
    const auto& oa = config_.per_operation.oauth2;
    HttpRequest req;
    req.path_and_query = token_path_.empty() ? "/" : token_path_;
    req.content_type = "application/x-www-form-urlencoded";
    std::string form = "grant_type=client_credentials";
    if (oa.basic_auth) {
      req.headers.emplace_back("Authorization", "Basic " + Base64(oa.client_id + ":" + oa.client_secret));
    } else {
      form += "&client_id=" + FormEscape(oa.client_id) + "&client_secret=" + FormEscape(oa.client_secret);
    }
    if (!oa.scope.empty()) form += "&scope=" + FormEscape(oa.scope);
    req.body = form;
    HttpTransport* t = token_same_origin_ ? api_.get() : token_transport_.get();
    const int64_t sent_at = NowMs();
    TransportResult tr = t->Send(req);
    ++auth_requests_;
    if (!AuthFailure(tr, "lấy token OAuth2", failure)) return false;
    json body = ParseAnswerBody(tr.response.body);
    if (tr.response.status / 100 == 2 && body.is_object() && body.contains("access_token") &&
        body["access_token"].is_string()) {
      token_ = body["access_token"].get<std::string>();
      int64_t expires_in_s = 300;
      if (auto it = body.find("expires_in"); it != body.end()) {
        if (it->is_number_integer()) expires_in_s = it->get<int64_t>();
        if (it->is_number_float()) expires_in_s = static_cast<int64_t>(std::clamp(it->get<double>(), 0.0, 1e9));
        if (it->is_string()) expires_in_s = std::strtoll(it->get<std::string>().c_str(), nullptr, 10);  // saturates
        // At most a year: a hostile or broken answer must not overflow the expiry arithmetic.
        expires_in_s = std::clamp<int64_t>(expires_in_s, 0, 366LL * 24 * 3600);
      }
      token_expiry_ms_ = sent_at + expires_in_s * 1000 - oa.expiry_margin_ms;
      return true;
    }
    failure->outcome = PortalOutcome::kPermanent;
    failure->auth_failed = true;
    failure->message = "máy chủ token từ chối (HTTP " + std::to_string(tr.response.status) + ")";
    if (body.is_object() && body.contains("error") && body["error"].is_string()) {
      failure->message += ": " + body["error"].get<std::string>();
    }
    return false;
  }

  // --- the call --------------------------------------------------------------------------

  void Build(const Operation& op, const PortalCallOptions& options, HttpRequest* req,
             PortalExchange* ex) {
    req->headers.clear();
    if (config_.style == PortalStyle::kEnvelope) {
      const auto& e = config_.envelope;
      req->path_and_query =
          base_path_ + (op.endpoint == Endpoint::kShare ? e.share_path : e.integration_path);
      if (!e.dstcode.empty()) req->headers.emplace_back("dstcode", e.dstcode);
      json body = {{"session", session_}, {"madonvi", Madonvi(options)}, {"service", op.service}};
      for (auto it = op.envelope_params.begin(); it != op.envelope_params.end(); ++it) {
        body[it.key()] = it.value();
      }
      req->body = body.dump();
      body["session"] = "***";
      ex->request_body_masked = body.dump();
    } else {
      req->path_and_query = base_path_ + op.path + (op.query.empty() ? "" : "?" + op.query);
      if (config_.per_operation.oauth2.enabled) {
        req->headers.emplace_back("Authorization", "Bearer " + token_);
      }
      req->body = op.body.dump();
      ex->request_body_masked = req->body;
    }
    if (!config_.idempotency_header.empty() && !options.idempotency_key.empty()) {
      req->headers.emplace_back(config_.idempotency_header, options.idempotency_key);
    }
    ex->method = req->method;
    ex->url = api_->Origin() + req->path_and_query;
    ex->idempotency_key = options.idempotency_key;
    ex->request_body = req->body;
  }

  SendResult Call(const Operation& op, const PortalCallOptions& options) {
    SendResult result;
    int attempts = 0;
    for (int round = 0; round < 2; ++round) {
      SendResult auth_failure;
      const int auth_before = auth_requests_;
      if (!EnsureAuth(&auth_failure)) {
        auth_failure.attempts = attempts + (auth_requests_ - auth_before);
        return auth_failure;
      }
      attempts += auth_requests_ - auth_before;
      HttpRequest req;
      PortalExchange ex;
      Build(op, options, &req, &ex);
      req.retry_on_stale = op.repeatable;
      ex.started_ms = NowMs();
      auto t0 = std::chrono::steady_clock::now();
      TransportResult tr = api_->Send(req);
      ex.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - t0)
                           .count();
      attempts += tr.attempts;
      bool session_expired = false;
      if (!tr.ok()) {
        result = ClassifyTransportError(tr);
        // The request went out on a live connection: it may have been applied.
        result.ambiguous = tr.request_sent;
      } else {
        ex.http_status = tr.response.status;
        ex.response_body = tr.response.body;
        result = ClassifyResponse(config_, tr.response, NowMs(), &session_expired);
      }
      result.exchange = std::move(ex);
      result.attempts = attempts;
      if (session_expired) {
        // Log in again / refresh the token, then resend once (domain.md §1: sessions expire).
        DropAuth();
        if (round == 0) continue;
      }
      break;
    }
    return result;
  }

  PortalConfig config_;
  const Clock* clock_;
  TransportFactory factory_;
  std::unique_ptr<HttpTransport> api_;
  std::unique_ptr<HttpTransport> token_transport_;
  bool token_same_origin_ = false;
  std::string base_path_;
  std::string token_path_;
  std::string session_;
  std::string token_;
  int64_t token_expiry_ms_ = 0;
  int auth_requests_ = 0;
};

}  // namespace

int64_t ParseRetryAfter(const std::string& value, int64_t now_ms) {
  std::string v = value;
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(v.begin());
  if (v.empty()) return -1;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return -1;
    return std::stoll(v) * 1000;
  }
  try {
    int tzd = 0;
    Poco::DateTime dt;
    if (!Poco::DateTimeParser::tryParse(v, dt, tzd)) return -1;
    int64_t at_ms = dt.timestamp().epochMicroseconds() / 1000 - tzd * 1000LL;
    return std::max<int64_t>(0, at_ms - now_ms);
  } catch (const Poco::Exception&) {
    return -1;
  }
}

std::string ErrorCodeText(const json& body) {
  if (!body.is_object()) return "";
  auto it = body.find("error_code");
  if (it == body.end()) it = body.find("errorCode");
  if (it == body.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  // A float code ("error_code": 401.0) reads as its integer; one that is not an exact integer
  // (1.5, 1e76: casting that to an integer is undefined) is shown as the portal wrote it.
  if (auto n = JsonExactInt(*it)) return std::to_string(*n);
  return it->dump();
}

SendResult ClassifyTransportError(const TransportResult& tr) {
  SendResult r;
  r.outcome = PortalOutcome::kRetryable;
  const char* kind = "lỗi kết nối";
  switch (tr.error) {
    case TransportError::kConnect: kind = "không kết nối được"; break;
    case TransportError::kTls: kind = "lỗi TLS (bắt tay hoặc chứng thư)"; break;
    case TransportError::kTimeout: kind = "hết thời gian chờ"; break;
    case TransportError::kClosed: kind = "kết nối bị đóng trước khi có phản hồi"; break;
    case TransportError::kCancelled: kind = "đã hủy vì plugin đang đóng"; break;
    default: break;
  }
  r.message = std::string(kind) + ": " + tr.error_message;
  return r;
}

SendResult ClassifyResponse(const PortalConfig& config, const HttpResponse& response,
                            int64_t now_ms, bool* session_expired) {
  *session_expired = false;
  SendResult r;
  const int st = response.status;
  r.http_status = st;
  r.retry_after_ms = ParseRetryAfter(response.Header("Retry-After"), now_ms);
  json body = ParseAnswerBody(response.body);
  std::string message;
  if (body.is_object()) {
    r.error_code = ErrorCodeText(body);
    for (const char* key : {"message", "msg", "error_description", "error"}) {
      auto it = body.find(key);
      if (it != body.end() && it->is_string()) {
        message = it->get<std::string>();
        break;
      }
    }
    if (auto it = body.find("result"); it != body.end() && !it->is_null()) r.result = *it;
  }
  r.message = message;
  const bool code_success = r.error_code.empty() || Contains(config.success_codes, r.error_code);
  const bool marker_exists = !message.empty() && ContainsMarker(message, config.already_exists_markers);
  const bool marker_session =
      (!r.error_code.empty() && Contains(config.session_expired_codes, r.error_code)) ||
      (!code_success && !message.empty() && ContainsMarker(message, config.session_expired_markers));

  if (st == 401 || st == 403 || (st / 100 == 2 && marker_session)) {
    *session_expired = true;
    r.outcome = PortalOutcome::kRetryable;
    if (r.message.empty()) r.message = "phiên làm việc hết hạn hoặc không hợp lệ";
    return r;
  }
  if (st == 408 || st == 425 || st == 429 || (st >= 500 && st != 501)) {
    r.outcome = PortalOutcome::kRetryable;
    // A gateway's 502/504: the portal behind it may have applied the request.
    r.ambiguous = st == 502 || st == 504;
    if (r.message.empty()) r.message = "HTTP " + std::to_string(st) + " " + response.reason;
    return r;
  }
  if (st / 100 == 2) {
    if (!body.is_object()) {
      // Unparseable: the request may or may not have been applied.
      r.outcome = PortalOutcome::kRetryable;
      r.ambiguous = true;
      r.message = "phản hồi không đọc được (không phải JSON object)";
      return r;
    }
    if (code_success) {
      r.outcome = PortalOutcome::kSuccess;
    } else if (marker_exists) {
      r.outcome = PortalOutcome::kAlreadyExists;
    } else if (Contains(config.retryable_error_codes, r.error_code)) {
      r.outcome = PortalOutcome::kRetryable;
    } else {
      r.outcome = PortalOutcome::kPermanent;
      r.config_error = Contains(config.configuration_error_codes, r.error_code) ||
                       (!message.empty() && ContainsMarker(message, config.configuration_error_markers));
    }
    return r;
  }
  // Other 4xx (and unexpected 1xx/3xx): the same bytes will not succeed later. A gateway that
  // reports "already exists" as 4xx (e.g. 409) is still "already exists".
  r.outcome = marker_exists ? PortalOutcome::kAlreadyExists : PortalOutcome::kPermanent;
  if (r.outcome == PortalOutcome::kPermanent) {
    // No such path or method: the base URL or a path setting is wrong, not the data.
    r.config_error = st == 404 || st == 405 || st == 501 ||
                     (!r.error_code.empty() && Contains(config.configuration_error_codes, r.error_code)) ||
                     (!message.empty() && ContainsMarker(message, config.configuration_error_markers));
  }
  if (r.message.empty()) r.message = "HTTP " + std::to_string(st) + " " + response.reason;
  return r;
}

void ClassifyItems(const PortalConfig& config, const std::vector<json>& sent, SendResult* r) {
  r->items.clear();
  if (r->outcome == PortalOutcome::kRetryable || !r->result.is_array() ||
      r->result.size() != sent.size())
    return;
  std::vector<ItemResult> items;
  items.reserve(sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    const json& a = r->result[i];
    if (!a.is_object() || !a.contains("MaHoSo") || a["MaHoSo"] != sent[i].value("MaHoSo", json())) return;
    ItemResult it;
    it.error_code = ErrorCodeText(a);
    if (it.error_code.empty()) return;  // not a per-item answer (e.g. TraCuuHoSo-like echo)
    if (auto m = a.find("message"); m != a.end() && m->is_string()) it.message = m->get<std::string>();
    if (Contains(config.success_codes, it.error_code)) {
      it.outcome = PortalOutcome::kSuccess;
    } else if (!it.message.empty() && ContainsMarker(it.message, config.already_exists_markers)) {
      it.outcome = PortalOutcome::kAlreadyExists;
    } else if (Contains(config.retryable_error_codes, it.error_code)) {
      it.outcome = PortalOutcome::kRetryable;
    } else {
      it.outcome = PortalOutcome::kPermanent;
    }
    items.push_back(std::move(it));
  }
  r->items = std::move(items);
}

Result<std::unique_ptr<PortalClient>> MakePortalClient(const PortalConfig& config,
                                                       const Clock* clock,
                                                       TransportFactory factory) {
  if (clock == nullptr) clock = SystemClockHolder::Get();
  if (!factory) factory = MakePocoTransport;
  auto client = std::make_unique<PortalHttpClient>(config, clock, std::move(factory));
  if (Status s = client->Init(); !s.ok()) return s;
  return std::unique_ptr<PortalClient>(std::move(client));
}

}  // namespace danvan
