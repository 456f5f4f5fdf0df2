#include "portal/portal_config.h"

#include <cstdlib>
#include <utility>

#include "core/bounded_input.h"
#include "core/json_number.h"

namespace danvan {
namespace {

using nlohmann::json;

// A secret file holds one line (password, client secret); a PEM bundle of CAs or a client
// certificate/key fits in far less than 4 MiB (Debian's whole ca-certificates bundle is 220 KB).
constexpr int64_t kMaxSecretFileBytes = 64 << 10;
constexpr int64_t kMaxTlsFileBytes = 4 << 20;

Status Str(const json& j, const char* key, std::string* out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return Status::InvalidInput(where + key + ": expected a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

// [min, max]: every duration is bounded so that converting it to microseconds (Poco::Timespan)
// or adding it to a clock reading cannot overflow.
Status Int(const json& j, const char* key, int64_t* out, const std::string& where, int64_t min,
           int64_t max) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_number_integer()) return Status::InvalidInput(where + key + ": expected an integer");
  auto n = JsonIntInRange(*it, min, max);
  if (!n)
    return Status::InvalidInput(where + key + ": must be between " + std::to_string(min) + " and " +
                                std::to_string(max));
  *out = *n;
  return Status::Ok();
}

Status Bool(const json& j, const char* key, bool* out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return Status::InvalidInput(where + key + ": expected a boolean");
  *out = it->get<bool>();
  return Status::Ok();
}

Status StrList(const json& j, const char* key, std::vector<std::string>* out,
               const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return Status::InvalidInput(where + key + ": expected an array of strings");
  out->clear();
  for (const auto& e : *it) {
    if (!e.is_string()) return Status::InvalidInput(where + key + ": expected an array of strings");
    out->push_back(e.get<std::string>());
  }
  return Status::Ok();
}

Status RejectInline(const json& j, const char* key, const std::string& where) {
  if (j.contains(key)) {
    return Status::InvalidInput(where + key +
                                ": secrets must not be written in the config; use " + key +
                                "_env (environment variable) or " + key + "_file");
  }
  return Status::Ok();
}

#define DV_RETURN_IF_ERROR(expr)      \
  do {                                \
    ::danvan::Status _s = (expr);     \
    if (!_s.ok()) return _s;          \
  } while (0)

}  // namespace

Result<std::string> ReadSecret(const json& section, const std::string& name, bool required,
                               const SecretLookup& host_secret, const std::string& host_name) {
  const std::string env_key = name + "_env";
  const std::string file_key = name + "_file";
  if (host_secret && !host_name.empty()) {
    if (auto v = host_secret(host_name); v && !v->empty()) return *v;
  }
  if (auto it = section.find(env_key); it != section.end() && it->is_string()) {
    const char* v = std::getenv(it->get<std::string>().c_str());
    if (v == nullptr || *v == '\0') {
      return Status::InvalidInput(env_key + ": environment variable " + it->get<std::string>() +
                                  " is not set");
    }
    return std::string(v);
  }
  if (auto it = section.find(file_key); it != section.end() && it->is_string()) {
    // A regular file of at most 64 KiB: a path naming /dev/zero, a FIFO or a directory fails
    // at once instead of blocking `open` or growing without bound.
    auto content = ReadRegularFile(it->get<std::string>(), kMaxSecretFileBytes);
    if (!content.ok()) return Status::InvalidInput(file_key + ": " + content.status().message());
    std::string v = std::move(content).value();
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    if (v.empty()) return Status::InvalidInput(file_key + ": file is empty");
    return v;
  }
  if (required)
    return Status::InvalidInput(name + ": set " + env_key + " or " + file_key +
                                (host_name.empty() ? "" : " (or answer \"" + host_name +
                                                              "\" in the host's secret callback)"));
  return std::string();
}

Result<PortalConfig> ParsePortalConfig(const json& j, const SecretLookup& host_secret) {
  PortalConfig c;
  const std::string w = "portal.";
  if (!j.is_object()) return Status::InvalidInput("portal: expected an object");
  std::string style = "envelope";
  DV_RETURN_IF_ERROR(Str(j, "style", &style, w));
  if (style == "envelope") {
    c.style = PortalStyle::kEnvelope;
  } else if (style == "per_operation") {
    c.style = PortalStyle::kPerOperation;
  } else {
    return Status::InvalidInput("portal.style: expected \"envelope\" or \"per_operation\"");
  }
  DV_RETURN_IF_ERROR(Bool(j, "insecure_test_only", &c.insecure_test_only, w));
  DV_RETURN_IF_ERROR(Str(j, "base_url", &c.base_url, w));
  if (!c.base_url.starts_with("https://") && !c.base_url.starts_with("http://")) {
    return Status::InvalidInput("portal.base_url: expected an https:// URL");
  }
  if (c.base_url.starts_with("http://") && !c.insecure_test_only) {
    return Status::InvalidInput(
        "portal.base_url: phải là địa chỉ https://; http:// gửi mật khẩu và dữ liệu công dân "
        "không mã hóa nên bị từ chối (chỉ dùng khi kiểm thử, với portal.insecure_test_only: true)");
  }
  while (c.base_url.ends_with("/")) c.base_url.pop_back();
  DV_RETURN_IF_ERROR(Str(j, "default_madonvi", &c.default_madonvi, w));
  DV_RETURN_IF_ERROR(Int(j, "connect_timeout_ms", &c.connect_timeout_ms, w, 1, 600000));
  DV_RETURN_IF_ERROR(Int(j, "read_timeout_ms", &c.read_timeout_ms, w, 1, 600000));
  DV_RETURN_IF_ERROR(Bool(j, "keep_alive", &c.keep_alive, w));
  DV_RETURN_IF_ERROR(Int(j, "keep_alive_idle_ms", &c.keep_alive_idle_ms, w, 0, 3600000));
  DV_RETURN_IF_ERROR(Str(j, "idempotency_header", &c.idempotency_header, w));
  DV_RETURN_IF_ERROR(Str(j, "user_agent", &c.user_agent, w));
  DV_RETURN_IF_ERROR(StrList(j, "success_codes", &c.success_codes, w));
  DV_RETURN_IF_ERROR(StrList(j, "already_exists_markers", &c.already_exists_markers, w));
  DV_RETURN_IF_ERROR(StrList(j, "session_expired_codes", &c.session_expired_codes, w));
  DV_RETURN_IF_ERROR(StrList(j, "session_expired_markers", &c.session_expired_markers, w));
  DV_RETURN_IF_ERROR(StrList(j, "retryable_error_codes", &c.retryable_error_codes, w));
  DV_RETURN_IF_ERROR(StrList(j, "configuration_error_codes", &c.configuration_error_codes, w));
  DV_RETURN_IF_ERROR(StrList(j, "configuration_error_markers", &c.configuration_error_markers, w));

  if (auto it = j.find("tls"); it != j.end()) {
    const std::string tw = "portal.tls.";
    if (!it->is_object()) return Status::InvalidInput("portal.tls: expected an object");
    DV_RETURN_IF_ERROR(Bool(*it, "verify", &c.tls.verify, tw));
    if (!c.tls.verify && !c.insecure_test_only) {
      return Status::InvalidInput(
          "portal.tls.verify: không được tắt kiểm tra chứng chỉ máy chủ Cổng (false) khi vận hành: "
          "mật khẩu và dữ liệu công dân có thể bị gửi tới máy chủ giả mạo (chỉ dùng khi kiểm thử, "
          "với portal.insecure_test_only: true); hãy khai báo tls.ca_file nếu Cổng dùng CA riêng");
    }
    DV_RETURN_IF_ERROR(Str(*it, "ca_file", &c.tls.ca_file, tw));
    DV_RETURN_IF_ERROR(Str(*it, "client_cert_file", &c.tls.client_cert_file, tw));
    DV_RETURN_IF_ERROR(Str(*it, "client_key_file", &c.tls.client_key_file, tw));
    // OpenSSL reads these when a connection is made: checked here to be regular files of a
    // bounded size, so /dev/zero or a FIFO fails `open` naming the field instead of blocking or
    // growing a sender thread.
    for (const auto& [key, file] : {std::pair<const char*, const std::string*>{"ca_file", &c.tls.ca_file},
                                    {"client_cert_file", &c.tls.client_cert_file},
                                    {"client_key_file", &c.tls.client_key_file}}) {
      if (file->empty()) continue;
      auto content = ReadRegularFile(*file, kMaxTlsFileBytes);
      if (!content.ok()) return Status::InvalidInput(tw + key + ": " + content.status().message());
    }
    DV_RETURN_IF_ERROR(RejectInline(*it, "client_key_password", tw));
    auto pw = ReadSecret(*it, "client_key_password", false, host_secret, "portal.tls.client_key_password");
    if (!pw.ok()) return Status::InvalidInput(tw + pw.status().message());
    c.tls.client_key_password = pw.value();
    if (c.tls.client_cert_file.empty() != c.tls.client_key_file.empty()) {
      return Status::InvalidInput("portal.tls: client_cert_file and client_key_file go together");
    }
  }

  if (c.style == PortalStyle::kEnvelope) {
    const std::string ew = "portal.envelope.";
    auto it = j.find("envelope");
    if (it == j.end() || !it->is_object()) {
      return Status::InvalidInput("portal.envelope: required for style \"envelope\"");
    }
    const json& e = *it;
    DV_RETURN_IF_ERROR(Str(e, "auth_path", &c.envelope.auth_path, ew));
    DV_RETURN_IF_ERROR(Str(e, "integration_path", &c.envelope.integration_path, ew));
    DV_RETURN_IF_ERROR(Str(e, "share_path", &c.envelope.share_path, ew));
    DV_RETURN_IF_ERROR(Str(e, "dstcode", &c.envelope.dstcode, ew));
    // Every envelope call carries the gateway's destination code (domain.md §1 [verified,
    // OpenCPS]); without it the gateway refuses every call.
    if (c.envelope.dstcode.empty()) {
      return Status::InvalidInput(
          "portal.envelope.dstcode: bắt buộc với kiểu \"envelope\" (mã đích của trục LGSP/NGSP, gửi trong "
          "header dstcode); thiếu nó Cổng từ chối mọi lời gọi");
    }
    DV_RETURN_IF_ERROR(RejectInline(e, "password", ew));
    DV_RETURN_IF_ERROR(Str(e, "username", &c.envelope.username, ew));
    if (c.envelope.username.empty()) {
      auto u = ReadSecret(e, "username", true, host_secret, "portal.username");
      if (!u.ok()) return Status::InvalidInput(ew + u.status().message());
      c.envelope.username = u.value();
    }
    auto p = ReadSecret(e, "password", true, host_secret, "portal.password");
    if (!p.ok()) return Status::InvalidInput(ew + p.status().message());
    c.envelope.password = p.value();
  } else {
    const std::string pw = "portal.per_operation.";
    auto it = j.find("per_operation");
    if (it != j.end()) {
      if (!it->is_object()) return Status::InvalidInput("portal.per_operation: expected an object");
      const json& p = *it;
      auto& po = c.per_operation;
      DV_RETURN_IF_ERROR(Str(p, "create_path", &po.create_path, pw));
      DV_RETURN_IF_ERROR(Str(p, "update_path", &po.update_path, pw));
      DV_RETURN_IF_ERROR(Str(p, "progress_path", &po.progress_path, pw));
      DV_RETURN_IF_ERROR(Str(p, "lookup_path", &po.lookup_path, pw));
      DV_RETURN_IF_ERROR(Str(p, "procedure_path", &po.procedure_path, pw));
      DV_RETURN_IF_ERROR(Str(p, "procedure_list_path", &po.procedure_list_path, pw));
      DV_RETURN_IF_ERROR(Str(p, "unit_query_param", &po.unit_query_param, pw));
      DV_RETURN_IF_ERROR(Str(p, "update_query_param", &po.update_query_param, pw));
      if (auto o = p.find("oauth2"); o != p.end() && !o->is_null()) {
        const std::string ow = pw + "oauth2.";
        if (!o->is_object()) return Status::InvalidInput(ow + ": expected an object");
        auto& oa = po.oauth2;
        oa.enabled = true;
        DV_RETURN_IF_ERROR(Bool(*o, "enabled", &oa.enabled, ow));
        DV_RETURN_IF_ERROR(Str(*o, "token_url", &oa.token_url, ow));
        DV_RETURN_IF_ERROR(Str(*o, "client_id", &oa.client_id, ow));
        DV_RETURN_IF_ERROR(Str(*o, "scope", &oa.scope, ow));
        DV_RETURN_IF_ERROR(Bool(*o, "basic_auth", &oa.basic_auth, ow));
        DV_RETURN_IF_ERROR(Int(*o, "expiry_margin_ms", &oa.expiry_margin_ms, ow, 0, 86400000));
        DV_RETURN_IF_ERROR(RejectInline(*o, "client_secret", ow));
        if (oa.enabled) {
          if (!oa.token_url.starts_with("https://") && !oa.token_url.starts_with("http://")) {
            return Status::InvalidInput(ow + "token_url: expected an https:// URL");
          }
          if (oa.token_url.starts_with("http://") && !c.insecure_test_only) {
            return Status::InvalidInput(
                ow + "token_url: phải là địa chỉ https://; http:// gửi client_secret không mã hóa "
                     "nên bị từ chối (chỉ dùng khi kiểm thử, với portal.insecure_test_only: true)");
          }
          if (oa.client_id.empty()) return Status::InvalidInput(ow + "client_id: required");
          auto s = ReadSecret(*o, "client_secret", true, host_secret, "portal.oauth2.client_secret");
          if (!s.ok()) return Status::InvalidInput(ow + s.status().message());
          oa.client_secret = s.value();
        }
      }
    }
  }
  return c;
}

json ToMaskedJson(const PortalConfig& c) {
  auto mask = [](const std::string& s) { return s.empty() ? std::string() : std::string("***"); };
  json j = {
      {"insecure_test_only", c.insecure_test_only},
      {"style", c.style == PortalStyle::kEnvelope ? "envelope" : "per_operation"},
      {"base_url", c.base_url},
      {"default_madonvi", c.default_madonvi},
      {"connect_timeout_ms", c.connect_timeout_ms},
      {"read_timeout_ms", c.read_timeout_ms},
      {"keep_alive", c.keep_alive},
      {"keep_alive_idle_ms", c.keep_alive_idle_ms},
      {"idempotency_header", c.idempotency_header},
      {"tls",
       {{"verify", c.tls.verify},
        {"ca_file", c.tls.ca_file},
        {"client_cert_file", c.tls.client_cert_file},
        {"client_key_file", c.tls.client_key_file},
        {"client_key_password", mask(c.tls.client_key_password)}}},
  };
  if (c.style == PortalStyle::kEnvelope) {
    j["envelope"] = {{"auth_path", c.envelope.auth_path},
                     {"integration_path", c.envelope.integration_path},
                     {"share_path", c.envelope.share_path},
                     {"dstcode", c.envelope.dstcode},
                     {"username", c.envelope.username},
                     {"password", mask(c.envelope.password)}};
  } else {
    const auto& p = c.per_operation;
    j["per_operation"] = {{"create_path", p.create_path},
                          {"update_path", p.update_path},
                          {"progress_path", p.progress_path},
                          {"lookup_path", p.lookup_path},
                          {"procedure_path", p.procedure_path},
                          {"procedure_list_path", p.procedure_list_path},
                          {"unit_query_param", p.unit_query_param},
                          {"update_query_param", p.update_query_param},
                          {"oauth2",
                           {{"enabled", p.oauth2.enabled},
                            {"token_url", p.oauth2.token_url},
                            {"client_id", p.oauth2.client_id},
                            {"client_secret", mask(p.oauth2.client_secret)},
                            {"scope", p.oauth2.scope}}}};
  }
  return j;
}

}  // namespace danvan
