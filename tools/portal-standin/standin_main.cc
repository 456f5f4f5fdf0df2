// danvan-portal-standin: a national public service portal stand-in over HTTPS (domain.md §1).
//
// Serves both protocol styles on one port (or one of them with --style):
//   envelope:      POST /auth {"username","password"} -> {"session"}; POST /integration and
//                  /share {"session","madonvi","service",...}; `dstcode` header checked when
//                  --dstcode is given.
//   per_operation: POST /oauth/token (client_credentials, form or Basic) -> bearer token;
//                  POST /api/<Service>?MaDinhDanhDV=..&isUpdating=True|False with a bare JSON
//                  array (DongBoHoSoMC, CapNhatTienDoHoSoMC) or {"mahoso"}/{"maTTHC"}.
//   control:       POST /_control/faults, GET /_control/faults, GET /_control/received,
//                  GET /_control/stats, GET /_control/calls, POST /_control/reset,
//                  POST /_control/expire_sessions.
//   --strict:      the published protocol at its strictest (README "Strict mode"): one answer
//                  per call, all or nothing, the first offending item named as data[i];
//                  Idempotency-Key ignored; the portal's field limits enforced.
// Binds 127.0.0.1 only. Prints the port on the first line of stdout.
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <Poco/Base64Decoder.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "core/timeutil.h"
#include "outbox/portal_payload.h"
#include "standin_state.h"

namespace danvan::standin {
namespace {

using nlohmann::json;

struct ServerConfig {
  StandinOptions state;
  int port = 0;
  std::string cert, key, client_ca;
  std::string style = "both";
  std::string schemas_dir = std::string(DANVAN_SOURCE_ROOT) + "/schemas/portal";
  std::string procedures_file = std::string(DANVAN_SOURCE_ROOT) + "/tools/portal-standin/procedures.json";
  int threads = 16;
  int64_t keep_alive_timeout_ms = 60'000;
  // Field limits (config/portal/field-limits.json), enforced in strict mode or when given.
  std::string field_limits_file = std::string(DANVAN_SOURCE_ROOT) + "/config/portal/field-limits.json";
  bool field_limits_given = false;
};

json LoadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  return json::parse(in);
}

class SchemaSet {
 public:
  explicit SchemaSet(const std::string& dir) {
    Load(dir + "/dossier-item.schema.json", &dossier_);
    Load(dir + "/progress-item.schema.json", &progress_);
  }
  // Strict mode: the portal's field limits ({"dossier": {field: {"max_chars"}}, "progress": ...}).
  void SetLimits(json limits) { limits_ = std::move(limits); }
  // Returns the errors of one item, each "where: what"; empty when valid.
  std::vector<std::string> Check(bool dossier, const json& item, const std::string& where) const {
    std::vector<std::string> errors;
    // One validator per server thread: it caches the compiled regexes of the schema's patterns
    // (compiling them for every item cost more than the rest of the validation).
    thread_local valijson::Validator validator;
    valijson::ValidationResults results;
    valijson::adapters::NlohmannJsonAdapter target(item);
    // Without a results object valijson stops at the first error: the fast path for valid items.
    if (!validator.validate(dossier ? dossier_ : progress_, target, nullptr) &&
        !validator.validate(dossier ? dossier_ : progress_, target, &results)) {
      valijson::ValidationResults::Error e;
      while (results.popError(e)) {
        std::string path = where;
        for (const auto& c : e.context) {
          if (c != "<root>") path += c;
        }
        errors.push_back(path + ": " + e.description);
      }
    }
    // Calendar validity of every date (the schema checks only the shape).
    CheckDates(item, where, &errors);
    // Field limits, counted in Unicode characters.
    const json& limits = limits_.is_object() ? limits_.value(dossier ? "dossier" : "progress", json::object())
                                             : json::object();
    for (auto it = limits.begin(); it != limits.end(); ++it) {
      auto f = item.find(it.key());
      if (f == item.end() || !f->is_string()) continue;
      const std::string& v = f->get_ref<const std::string&>();
      size_t chars = 0;
      for (unsigned char c : v) chars += (c & 0xC0) != 0x80;
      const size_t max = it.value().value("max_chars", size_t{0});
      if (max && chars > max)
        errors.push_back(where + "." + it.key() + ": dài " + std::to_string(chars) +
                         " ký tự, tối đa " + std::to_string(max));
    }
    return errors;
  }

 private:
  static void Load(const std::string& path, valijson::Schema* schema) {
    json doc = LoadJson(path);
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    parser.populateSchema(adapter, *schema);
  }
  static void CheckDates(const json& j, const std::string& where, std::vector<std::string>* errors) {
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (it->is_string() && IsPortalDateField(it.key())) {
          const std::string& v = it->get_ref<const std::string&>();
          if (!v.empty() && !ParsePortalTime(v)) {
            errors->push_back(where + "." + it.key() + ": ngày không hợp lệ '" + v +
                              "' (yyyyMMddHHmmss)");
          }
        } else if (it->is_structured()) {
          CheckDates(*it, where + "." + it.key(), errors);
        }
      }
    } else if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) {
        CheckDates(j[i], where + "[" + std::to_string(i) + "]", errors);
      }
    }
  }
  valijson::Schema dossier_, progress_;
  json limits_;
};

struct Reply {
  Reply(int s, json b, std::string ra = "")
      : status(s), body(std::move(b)), retry_after(std::move(ra)) {}
  int status;
  json body;
  std::string retry_after;
};

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  Handler(State& state, const SchemaSet& schemas, const json& catalogue, const ServerConfig& cfg)
      : state_(state), schemas_(schemas), catalogue_(catalogue), cfg_(cfg) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    try {
      Handle(request, response);
    } catch (const std::exception& e) {
      if (!response.sent()) Send(response, {500, {{"error_code", "-500"}, {"message", e.what()}}});
    }
  }

 private:
  bool Envelope() const { return cfg_.style == "both" || cfg_.style == "envelope"; }
  bool PerOp() const { return cfg_.style == "both" || cfg_.style == "per_operation"; }

  void Handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    Poco::URI uri(request.getURI());
    const std::string path = uri.getPath();
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);

    if (path.starts_with("/_control/")) return Control(path, request.getMethod(), body, response);
    if (request.getMethod() != "POST") {
      return Send(response, {405, {{"error_code", "-405"}, {"message", "Chỉ hỗ trợ POST"}}});
    }
    const std::string idem = request.get("Idempotency-Key", "");
    if (Envelope() && path == "/auth") return Login(request, body, response);
    if (PerOp() && path == "/oauth/token") return Token(request, body, response);
    if (Envelope() && (path == "/integration" || path == "/share")) {
      json req = json::parse(body, nullptr, false);
      std::string service = req.is_object() ? req.value("service", "") : "";
      return Service(request, response, service, idem, [&]() -> Reply {
        if (!req.is_object()) return Bad("-1", "Thân yêu cầu không phải JSON object");
        if (!cfg_.state.dstcode.empty() && request.get("dstcode", "") != cfg_.state.dstcode) {
          return Bad("-5", "dstcode không hợp lệ");
        }
        if (!req.contains("session") || !req["session"].is_string() ||
            !state_.SessionValid(req["session"].get<std::string>())) {
          return {200, {{"error_code", state_.Code("-2")},
                        {"message", "Phiên làm việc đã hết hạn, vui lòng đăng nhập lại"}}};
        }
        json params = req;
        std::string unit = req.contains("madonvi") && req["madonvi"].is_string()
                               ? req["madonvi"].get<std::string>() : "";
        return Execute(service, unit, params, idem);
      });
    }
    if (PerOp() && path.starts_with("/api/")) {
      // /api/<Service>, or the published client's /api/SynsTTHCC/<Service>.
      const std::string service =
          path.substr(path.starts_with("/api/SynsTTHCC/") ? sizeof("/api/SynsTTHCC/") - 1 : 5);
      return Service(request, response, service, idem, [&]() -> Reply {
        if (!cfg_.state.client_secret.empty()) {
          std::string auth = request.get("Authorization", "");
          if (!auth.starts_with("Bearer ") || !state_.TokenValid(auth.substr(7))) {
            return {401, {{"error_code", state_.Code("-401")}, {"message", "Token không hợp lệ hoặc đã hết hạn"}}};
          }
        }
        auto q = uri.getQueryParameters();
        auto qp = [&](const std::string& k) {
          for (const auto& [n, v] : q) if (n == k) return v;
          return std::string();
        };
        json parsed = json::parse(body.empty() ? "{}" : body, nullptr, false);
        if (parsed.is_discarded()) return Bad("-1", "Thân yêu cầu không phải JSON");
        json params = json::object();
        if (parsed.is_array()) {
          params["data"] = parsed;
        } else if (parsed.is_object()) {
          params = parsed;
        } else {
          return Bad("-1", "Thân yêu cầu phải là mảng hoặc object JSON");
        }
        if (service == "DongBoHoSoMC") {
          if (!q.empty() && qp("isUpdating").empty()) return Bad("-1", "Thiếu tham số isUpdating");
          params["isUpdating"] = qp("isUpdating");
        }
        if (!qp("mahoso").empty()) params["mahoso"] = qp("mahoso");
        return Execute(service, qp("MaDinhDanhDV"), params, idem);
      });
    }
    Send(response, {404, {{"error_code", "-404"}, {"message", "Không có đường dẫn " + path}}});
  }

  Reply Bad(const std::string& code, const std::string& message, int status = 400) {
    return {status, {{"error_code", state_.Code(code)}, {"message", message}}};
  }

  // Faults, idempotency replay, then the operation.
  template <typename Fn>
  void Service(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
               const std::string& service, const std::string& idem, Fn&& run) {
    FaultDecision d = state_.Decide(false);
    if (d.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(d.delay_ms));
    const std::string name = service.empty() ? "?" : service;
    json call = {{"service", name}, {"call", state_.BeginCall()}};
    if (d.action == FaultAction::kDrop) {
      state_.CountRequest(name, "dropped");
      call.update({{"fault", "dropped"}, {"applied", false}, {"answered", false}});
      state_.RecordCall(call);
      return Drop(request, response);
    }
    if (d.action == FaultAction::kError) {
      call.update({{"fault", "injected_" + std::to_string(d.status)}, {"applied", false},
                   {"answered", true}, {"http", d.status}});
      state_.RecordCall(call);
      state_.CountRequest(name, "injected_" + std::to_string(d.status));
      Reply r{d.status, {{"error_code", state_.Code("-" + std::to_string(d.status))},
                         {"message", "Lỗi giả lập " + std::to_string(d.status)}}, d.retry_after};
      return Send(response, r);
    }
    // The batch services key per dossier inside the batch (State::ApplyBatch).
    const bool batch = service == "DongBoHoSoMC" || service == "CapNhatTienDoHoSoMC";
    if (auto replay = batch ? std::nullopt : state_.Replay(idem)) {
      state_.CountRequest(name, "replayed");
      response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(replay->first));
      response.setContentType("application/json; charset=utf-8");
      response.set("X-Idempotent-Replay", "true");
      response.setContentLength(static_cast<std::streamsize>(replay->second.size()));
      response.send() << replay->second;
      return;
    }
    call_ = json::object();
    Reply r = run();
    call.update(call_);
    call["http"] = r.status;
    call["error_code"] = CodeText(r.body);
    call["applied"] = r.body.is_object() && r.body.value("applied", false);
    call["answered"] = d.action != FaultAction::kDropAfterApply;
    if (d.action == FaultAction::kDropAfterApply) call["fault"] = "dropped_after_apply";
    if (d.action == FaultAction::kMalformed) call["fault"] = "malformed";
    state_.RecordCall(call);
    std::string text = r.body.dump();
    if (r.status / 100 == 2 && r.body.value("applied", false)) {
      r.body.erase("applied");
      text = r.body.dump();
      if (!batch) state_.Remember(idem, r.status, text);
    } else if (r.body.is_object()) {
      r.body.erase("applied");
      text = r.body.dump();
    }
    state_.CountRequest(name, std::to_string(r.status) + ":" + CodeText(r.body));
    if (d.action == FaultAction::kDropAfterApply) {
      state_.CountRequest(name, "dropped_after_apply");
      return Drop(request, response);
    }
    if (d.action == FaultAction::kMalformed) {
      state_.CountRequest(name, "malformed");
      text = "<html><body>502 Bad Gateway</body></html>{\"error_code\":";
    }
    if (d.action == FaultAction::kOversize) {
      // Valid JSON that never seems to end: streamed in chunks, no Content-Length.
      state_.CountRequest(name, "oversize");
      response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
      response.setContentType("application/json; charset=utf-8");
      response.setChunkedTransferEncoding(true);
      std::ostream& os = response.send();
      os << "{\"error_code\":\"0\",\"message\":\"";
      const std::string block(64 << 10, 'x');
      for (int64_t sent = 0; sent < d.oversize_bytes && os; sent += static_cast<int64_t>(block.size()))
        os << block;
      os << "\"}";
      return;
    }
    if (d.action == FaultAction::kDeep) {
      state_.CountRequest(name, "deep");
      text = "{\"error_code\":\"0\",\"result\":" + std::string(static_cast<size_t>(d.deep_levels), '[') +
             std::string(static_cast<size_t>(d.deep_levels), ']') + "}";
    }
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
    response.setContentType("application/json; charset=utf-8");
    response.setContentLength(static_cast<std::streamsize>(text.size()));
    response.send() << text;
  }

  static std::string CodeText(const json& b) {
    if (!b.is_object() || !b.contains("error_code")) return "";
    const json& c = b["error_code"];
    return c.is_string() ? c.get<std::string>() : c.dump();
  }

  Reply Execute(const std::string& service, const std::string& unit, const json& params,
                const std::string& idem) {
    if (service.empty()) return Bad("-7", "Thiếu tên dịch vụ (service)");
    if (service == "DongBoHoSoMC" || service == "CapNhatTienDoHoSoMC") {
      if (unit.empty()) return Bad("-6", "Thiếu mã đơn vị (madonvi / MaDinhDanhDV)");
      if (!params.contains("data") || !params["data"].is_array() || params["data"].empty()) {
        return Bad("-1", "data phải là mảng khác rỗng");
      }
      const json& data = params["data"];
      const bool dossier = service == "DongBoHoSoMC";
      std::vector<std::vector<std::string>> item_errors(data.size());
      json ids = json::array();
      for (size_t i = 0; i < data.size(); ++i) {
        item_errors[i] = schemas_.Check(dossier, data[i], "data[" + std::to_string(i) + "]");
        ids.push_back(data[i].is_object() ? data[i].value("MaHoSo", json("")) : json(""));
      }
      call_ = {{"unit", unit}, {"ids", ids}, {"items", data.size()}};
      bool is_update = false;
      if (dossier) {
        const json& u = params.contains("isUpdating") ? params["isUpdating"] : json();
        if (!u.is_string() || (u != "True" && u != "False")) {
          return Bad("-1", "Dữ liệu không hợp lệ: isUpdating: phải là chuỗi \"True\" hoặc \"False\"");
        }
        is_update = u == "True";
        call_["isUpdating"] = u;
      }
      if (cfg_.state.strict) {
        // One answer for the whole call (README "Strict mode"); HTTP 200 with the error_code.
        StrictAnswer a = state_.ApplyStrict(dossier, data, item_errors, is_update, unit);
        json body = {{"error_code", a.code == "0" ? state_.SuccessCode() : state_.Code(a.code)},
                     {"message", a.message}};
        if (a.applied) body["applied"] = true;
        return {200, body};
      }
      int replayed = 0;
      json results = state_.ApplyBatch(dossier, data, item_errors, is_update, unit, idem, &replayed);
      // The call-level answer (domain.md §1 documents only this one): success when every item
      // was applied; "-3 ... đã tồn tại" when some dossiers already existed and none was
      // rejected; otherwise the first refused item's code, with HTTP 400 when every item was
      // refused for invalid data (nothing applied, as for a one-item batch).
      std::vector<std::string> exists, refused, errors;
      std::string first_code;
      bool all_invalid = true;
      for (size_t i = 0; i < results.size(); ++i) {
        const std::string st = results[i].value("status", "");
        const std::string code = results[i].value("MaHoSo", "");
        if (st == "exists") exists.push_back(code);
        if (st == "rejected" || st == "skipped") {
          if (first_code.empty()) first_code = CodeText(results[i]);
          refused.push_back(code + ": " + results[i].value("message", ""));
        }
        if (item_errors[i].empty()) all_invalid = false;
        errors.insert(errors.end(), item_errors[i].begin(), item_errors[i].end());
      }
      auto join = [](const std::vector<std::string>& v, const char* sep) {
        std::string out;
        for (size_t i = 0; i < v.size() && i < 20; ++i) {
          if (i) out += sep;
          out += v[i];
        }
        return out;
      };
      if (all_invalid) {
        return {400, {{"error_code", state_.Code("-1")},
                      {"message", "Dữ liệu không hợp lệ: " + join(errors, "; ")},
                      {"errors", errors}, {"result", results}}};
      }
      if (!refused.empty()) {
        std::string msg = refused.size() == results.size() && refused.size() == 1
                              ? results[0].value("message", "")
                              : "Một số mục bị từ chối: " + join(refused, "; ");
        return {200, {{"error_code", state_.Code(first_code.empty() ? "-1" : first_code)},
                      {"message", msg}, {"result", results}, {"applied", true}}};
      }
      if (!exists.empty()) {
        return {200, {{"error_code", state_.Code("-3")},
                      {"message", "Hồ sơ " + join(exists, ", ") + " đã tồn tại trên hệ thống"},
                      {"result", results}, {"applied", true}}};
      }
      return {200, {{"error_code", state_.SuccessCode()},
                    {"message", dossier ? "Đồng bộ thành công" : "Cập nhật tiến độ thành công"},
                    {"result", results}, {"applied", true}}};
    }
    if (service == "TraCuuHoSo") {
      std::string code = params.value("mahoso", params.value("MaHoSo", ""));
      if (code.empty()) return Bad("-1", "Thiếu mahoso");
      call_ = {{"unit", unit}, {"ids", {code}}};
      return {200, {{"error_code", state_.SuccessCode()}, {"message", ""},
                    {"result", state_.LookupDossier(code)}}};
    }
    if (service == "LayThuTuc") {
      std::string code = params.value("maTTHC", params.value("MaTTHC", ""));
      if (code.empty()) return Bad("-1", "Thiếu maTTHC");
      json result = json::array();
      for (const auto& p : catalogue_["procedures"]) {
        if (p.value("MaTTHC", "") == code) result.push_back(p);
      }
      return {200, {{"error_code", state_.SuccessCode()}, {"message", ""}, {"result", result}}};
    }
    if (service == "LayDanhSachTTHC" || service == "LayDanhMucLinhVuc" ||
        service == "LayDanhMucCoQuan") {
      json result = json::array();
      std::set<std::string> seen;
      for (const auto& p : catalogue_["procedures"]) {
        if (service == "LayDanhSachTTHC") {
          result.push_back({{"MaTTHC", p["MaTTHC"]}, {"TenTTHC", p["TenTTHC"]}});
        } else if (service == "LayDanhMucLinhVuc") {
          if (seen.insert(p["MaLinhVuc"].get<std::string>()).second) {
            result.push_back({{"MaLinhVuc", p["MaLinhVuc"]}, {"TenLinhVuc", p["TenLinhVuc"]}});
          }
        } else if (seen.insert(p["CoQuanThucHien"].get<std::string>()).second) {
          result.push_back({{"TenCoQuan", p["CoQuanThucHien"]}});
        }
      }
      return {200, {{"error_code", state_.SuccessCode()}, {"message", ""}, {"result", result}}};
    }
    return Bad("-7", "Dịch vụ không tồn tại: " + service);
  }

  void Login(Poco::Net::HTTPServerRequest& request, const std::string& body,
             Poco::Net::HTTPServerResponse& response) {
    FaultDecision d = state_.Decide(true);
    if (d.action == FaultAction::kError) {
      return Send(response, {d.status, {{"error_code", "-" + std::to_string(d.status)}, {"message", "Lỗi giả lập"}}, d.retry_after});
    }
    if (d.action == FaultAction::kDrop) return Drop(request, response);
    if (!cfg_.state.dstcode.empty() && request.get("dstcode", "") != cfg_.state.dstcode) {
      return Send(response, Bad("-5", "dstcode không hợp lệ"));
    }
    json req = json::parse(body, nullptr, false);
    if (!req.is_object() || req.value("username", "") != cfg_.state.username ||
        cfg_.state.password.empty() || req.value("password", "") != cfg_.state.password) {
      state_.CountRequest("login", "rejected");
      return Send(response, {401, {{"error_code", state_.Code("-401")},
                                   {"message", "Sai tên đăng nhập hoặc mật khẩu"}}});
    }
    state_.CountRequest("login", "ok");
    Send(response, {200, {{"error_code", state_.SuccessCode()}, {"message", "Đăng nhập thành công"},
                          {"session", state_.NewSession()}}});
  }

  void Token(Poco::Net::HTTPServerRequest& request, const std::string& body,
             Poco::Net::HTTPServerResponse& response) {
    FaultDecision d = state_.Decide(true);
    if (d.action == FaultAction::kError) {
      return Send(response, {d.status, {{"error", "temporarily_unavailable"}}, d.retry_after});
    }
    if (d.action == FaultAction::kDrop) return Drop(request, response);
    std::string id, secret, grant;
    for (const auto& part : Split(body, '&')) {
      auto eq = part.find('=');
      if (eq == std::string::npos) continue;
      std::string k, v;
      Poco::URI::decode(part.substr(0, eq), k, true);
      Poco::URI::decode(part.substr(eq + 1), v, true);
      if (k == "client_id") id = v;
      if (k == "client_secret") secret = v;
      if (k == "grant_type") grant = v;
    }
    std::string auth = request.get("Authorization", "");
    if (auth.starts_with("Basic ")) {
      std::istringstream in(auth.substr(6));
      Poco::Base64Decoder dec(in);
      std::string pair((std::istreambuf_iterator<char>(dec)), std::istreambuf_iterator<char>());
      auto colon = pair.find(':');
      if (colon != std::string::npos) {
        id = pair.substr(0, colon);
        secret = pair.substr(colon + 1);
      }
    }
    if (grant != "client_credentials") {
      return Send(response, {400, {{"error", "unsupported_grant_type"}}});
    }
    if (cfg_.state.client_secret.empty() || id != cfg_.state.client_id ||
        secret != cfg_.state.client_secret) {
      state_.CountRequest("token", "rejected");
      return Send(response, {401, {{"error", "invalid_client"}}});
    }
    state_.CountRequest("token", "ok");
    Send(response, {200, {{"access_token", state_.NewToken()}, {"token_type", "Bearer"},
                          {"expires_in", cfg_.state.token_ttl_s}}});
  }

  void Control(const std::string& path, const std::string& method, const std::string& body,
               Poco::Net::HTTPServerResponse& response) {
    if (path == "/_control/faults" && method == "POST") {
      json j = json::parse(body, nullptr, false);
      std::string err = j.is_discarded() ? "faults: body is not JSON" : state_.SetFaults(j);
      if (!err.empty()) return Send(response, {400, {{"error", err}}});
      return Send(response, {200, state_.GetFaults()});
    }
    if (path == "/_control/faults") return Send(response, {200, state_.GetFaults()});
    if (path == "/_control/received") return Send(response, {200, state_.Received()});
    if (path == "/_control/stats") return Send(response, {200, state_.Stats()});
    if (path == "/_control/calls") return Send(response, {200, state_.Calls()});
    if (path == "/_control/reset" && method == "POST") {
      state_.Reset();
      return Send(response, {200, {{"ok", true}}});
    }
    if (path == "/_control/expire_sessions" && method == "POST") {
      state_.ExpireAll();
      return Send(response, {200, {{"ok", true}}});
    }
    Send(response, {404, {{"error", "unknown control path " + path}}});
  }

  static std::vector<std::string> Split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
      if (c == sep) {
        out.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    out.push_back(cur);
    return out;
  }

  static void Send(Poco::Net::HTTPServerResponse& response, const Reply& r) {
    std::string text = r.body.dump();
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
    if (!r.retry_after.empty() && (r.status == 429 || r.status == 503)) {
      response.set("Retry-After", r.retry_after);
    }
    response.setContentType("application/json; charset=utf-8");
    response.setContentLength(static_cast<std::streamsize>(text.size()));
    response.send() << text;
  }

  // Closes the connection without any response.
  static void Drop(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    response.setKeepAlive(false);
    auto& impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl&>(request);
    try {
      impl.socket().shutdown();
    } catch (...) {
    }
    try {
      impl.socket().close();
    } catch (...) {
    }
  }

  State& state_;
  const SchemaSet& schemas_;
  const json& catalogue_;
  const ServerConfig& cfg_;
  json call_;  // what Execute saw of the call (unit, ids, isUpdating), for /_control/calls
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(State& s, const SchemaSet& sc, const json& cat, const ServerConfig& cfg)
      : s_(s), sc_(sc), cat_(cat), cfg_(cfg) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(s_, sc_, cat_, cfg_);
  }

 private:
  State& s_;
  const SchemaSet& sc_;
  const json& cat_;
  const ServerConfig& cfg_;
};

void Usage() {
  std::cerr <<
      "usage: danvan-portal-standin --cert FILE --key FILE [--port N (0 = any, printed)]\n"
      "  [--style both|envelope|per_operation] [--username U] [--password P | env "
      "DANVAN_STANDIN_PASSWORD]\n"
      "  [--client-id ID] [--client-secret S | env DANVAN_STANDIN_CLIENT_SECRET] [--dstcode C]\n"
      "  [--session-ttl-ms N] [--token-ttl-s N] [--client-ca FILE (require client cert)]\n"
      "  [--store FILE.jsonl] [--seed N] [--schemas DIR] [--procedures FILE] [--threads N]\n"
      "  [--keep-alive-timeout-ms N]\n"
      "  [--no-idempotency] [--allow-orphan-progress] [--strict] [--field-limits FILE]\n";
}

int Run(int argc, char** argv) {
  ServerConfig cfg;
  if (const char* p = std::getenv("DANVAN_STANDIN_PASSWORD")) cfg.state.password = p;
  if (const char* p = std::getenv("DANVAN_STANDIN_CLIENT_SECRET")) cfg.state.client_secret = p;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") cfg.port = std::stoi(next());
    else if (a == "--cert") cfg.cert = next();
    else if (a == "--key") cfg.key = next();
    else if (a == "--client-ca") cfg.client_ca = next();
    else if (a == "--style") cfg.style = next();
    else if (a == "--username") cfg.state.username = next();
    else if (a == "--password") cfg.state.password = next();
    else if (a == "--client-id") cfg.state.client_id = next();
    else if (a == "--client-secret") cfg.state.client_secret = next();
    else if (a == "--dstcode") cfg.state.dstcode = next();
    else if (a == "--session-ttl-ms") cfg.state.session_ttl_ms = std::stoll(next());
    else if (a == "--token-ttl-s") cfg.state.token_ttl_s = std::stoll(next());
    else if (a == "--store") cfg.state.store_file = next();
    else if (a == "--seed") cfg.state.seed = std::stoull(next());
    else if (a == "--schemas") cfg.schemas_dir = next();
    else if (a == "--procedures") cfg.procedures_file = next();
    else if (a == "--threads") cfg.threads = std::stoi(next());
    else if (a == "--keep-alive-timeout-ms") cfg.keep_alive_timeout_ms = std::stoll(next());
    else if (a == "--no-idempotency") cfg.state.idempotency = false;
    else if (a == "--allow-orphan-progress") cfg.state.progress_requires_dossier = false;
    else if (a == "--strict") cfg.state.strict = true;
    else if (a == "--field-limits") {
      cfg.field_limits_file = next();
      cfg.field_limits_given = true;
    }
    else {
      Usage();
      return 2;
    }
  }
  if (cfg.cert.empty() || cfg.key.empty() ||
      (cfg.style != "both" && cfg.style != "envelope" && cfg.style != "per_operation")) {
    Usage();
    return 2;
  }
  // Block the signals we wait for in every thread (inherited by the server's threads).
  sigset_t wait_set;
  sigemptyset(&wait_set);
  sigaddset(&wait_set, SIGINT);
  sigaddset(&wait_set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &wait_set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Poco::Net::initializeSSL();
  json catalogue = LoadJson(cfg.procedures_file);
  SchemaSet schemas(cfg.schemas_dir);
  if (cfg.state.strict) cfg.state.idempotency = false;  // the published clients send no key
  if (cfg.state.strict || cfg.field_limits_given) schemas.SetLimits(LoadJson(cfg.field_limits_file));
  State state(cfg.state);

  Poco::Net::Context::Ptr context = new Poco::Net::Context(
      Poco::Net::Context::TLS_SERVER_USE, cfg.key, cfg.cert, cfg.client_ca,
      cfg.client_ca.empty() ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_STRICT,
      9, false, "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH");
  context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3);
  if (!cfg.client_ca.empty()) context->enableExtendedCertificateVerification(false);
  Poco::Net::SecureServerSocket socket(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(cfg.port)), 64, context);
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(cfg.threads);
  params->setMaxQueued(256);
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(cfg.keep_alive_timeout_ms * 1000));
  params->setMaxKeepAliveRequests(0);
  params->setTimeout(Poco::Timespan(60, 0));
  Poco::Net::HTTPServer server(new Factory(state, schemas, catalogue, cfg), socket, params);
  server.start();
  std::cout << socket.address().port() << std::endl;
  std::cerr << "danvan-portal-standin: https://127.0.0.1:" << socket.address().port()
            << " style=" << cfg.style << (cfg.state.strict ? " strict" : "") << std::endl;
  int sig = 0;
  sigwait(&wait_set, &sig);
  // Everything received is already flushed to the store file; a graceful Poco shutdown takes
  // seconds (idle keep-alive connections), which tests and scripts do not need.
  std::cout.flush();
  std::cerr << "danvan-portal-standin: signal " << sig << ", exiting" << std::endl;
  std::_Exit(0);
}

}  // namespace
}  // namespace danvan::standin

int main(int argc, char** argv) {
  try {
    return danvan::standin::Run(argc, argv);
  } catch (const Poco::Exception& e) {
    std::cerr << "danvan-portal-standin: " << e.displayText() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "danvan-portal-standin: " << e.what() << std::endl;
  }
  return 1;
}
