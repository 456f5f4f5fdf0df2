#include "portal/portal_probe.h"

#include <pthread.h>

#include <chrono>
#include <utility>
#include <vector>

#include "core/timeutil.h"
#include "portal/http_transport.h"
#include "portal/portal_http_client.h"

namespace danvan {
namespace {

constexpr const char* kStepNames[] = {"dns", "tcp", "tls", "login", "lookup"};

// What an administrator reads when a step fails: what it means and which setting to check.
std::pair<std::string, std::string> FailureText(const std::string& step, const PortalConfig& c,
                                                const SendResult* r) {
  if (step == "dns")
    return {"Không phân giải được tên máy chủ trong portal.base_url (" + c.base_url +
                "): kiểm tra tên máy chủ và DNS của máy chạy plugin",
            "Cannot resolve the host name of portal.base_url (" + c.base_url +
                "): check the host name and this machine's DNS"};
  if (step == "tcp")
    return {"Không mở được kết nối TCP tới " + c.base_url + " trong " +
                std::to_string(c.connect_timeout_ms) +
                " ms (portal.connect_timeout_ms): máy chủ không chạy, sai cổng, hoặc tường lửa chặn",
            "Cannot open a TCP connection to " + c.base_url + " within " +
                std::to_string(c.connect_timeout_ms) +
                " ms (portal.connect_timeout_ms): server down, wrong port, or a firewall in the way"};
  if (step == "tls")
    return {"Bắt tay TLS thất bại: chứng chỉ của máy chủ không được CA trong portal.tls.ca_file xác nhận, "
            "tên máy chủ không khớp chứng chỉ, hoặc chứng chỉ máy khách (portal.tls) không dùng được",
            "TLS handshake failed: the server's certificate is not trusted by the CA in portal.tls.ca_file, "
            "the host name does not match it, or the client certificate (portal.tls) is unusable"};
  if (step == "login") {
    if (r && r->auth_failed)
      return {"Cổng từ chối đăng nhập: kiểm tra tên đăng nhập và mật khẩu (portal.envelope.username, "
              "password_env / password_file) hoặc client_id / client_secret của OAuth2",
              "The portal refused the log-in: check the user name and password (portal.envelope.username, "
              "password_env / password_file) or the OAuth2 client_id / client_secret"};
    return {"Không đăng nhập được (lỗi tạm thời: mạng, hết thời gian chờ hoặc máy chủ lỗi 5xx); thử lại sau",
            "Could not log in (a temporary failure: network, timeout or a 5xx server error); try again later"};
  }
  return {"Tra cứu hồ sơ (TraCuuHoSo) thất bại: đã đăng nhập nhưng Cổng không trả lời được; kiểm tra "
          "đường dẫn dịch vụ, dstcode và mã đơn vị (portal.default_madonvi)",
          "The dossier look-up (TraCuuHoSo) failed: logged in, but the portal could not answer; check the "
          "service path, dstcode and unit code (portal.default_madonvi)"};
}

nlohmann::json StepJson(const ProbeStep& s) {
  nlohmann::json j = {{"name", s.name}, {"ok", s.ok}, {"ms", s.ms}};
  if (!s.detail.empty()) j["detail"] = s.detail;
  if (!s.error.empty()) j["error"] = s.error;
  return j;
}

int64_t Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

nlohmann::json RunPortalProbe(const PortalConfig& config, const Clock* clock, std::mutex* mu,
                              PortalClient** client_slot) {
  nlohmann::json steps = nlohmann::json::array();
  std::string failed;
  const SendResult* failed_result = nullptr;
  SendResult login;
  LookupResult lookup;
  for (const auto& s : ProbeConnection(config.base_url, config)) {
    steps.push_back(StepJson(s));
    if (!s.ok) failed = s.name;
  }
  std::unique_ptr<PortalClient> client;
  if (failed.empty()) {
    auto t0 = std::chrono::steady_clock::now();
    auto c = MakePortalClient(config, clock);
    if (!c.ok()) {
      steps.push_back({{"name", "login"}, {"ok", false}, {"ms", Since(t0)}, {"error", c.status().message()}});
      failed = "login";
    } else {
      client = std::move(c).value();
      if (mu) {
        std::lock_guard lock(*mu);
        *client_slot = client.get();
      }
      login = client->Authenticate();
      nlohmann::json j = {{"name", "login"}, {"ok", login.ok()}, {"ms", Since(t0)}};
      if (login.ok() && login.message == "none") j["detail"] = "no log-in in this style";
      if (login.http_status) j["http_status"] = login.http_status;
      if (!login.ok()) {
        j["error"] = login.message;
        if (!login.error_code.empty()) j["error_code"] = login.error_code;
        failed = "login";
        failed_result = &login;
      }
      steps.push_back(std::move(j));
    }
  }
  if (failed.empty()) {
    auto t0 = std::chrono::steady_clock::now();
    lookup = client->Lookup(kAdapterTestDossier);
    nlohmann::json j = {{"name", "lookup"}, {"ok", lookup.ok()}, {"ms", Since(t0)},
                        {"http_status", lookup.http_status}};
    if (lookup.ok()) {
      j["detail"] = std::string("TraCuuHoSo ") + kAdapterTestDossier + ": " +
                    (lookup.found ? "found" : "not found (expected)");
    } else {
      j["error"] = lookup.message;
      if (!lookup.error_code.empty()) j["error_code"] = lookup.error_code;
      failed = "lookup";
      failed_result = &lookup;
    }
    steps.push_back(std::move(j));
  }
  if (mu) {
    std::lock_guard lock(*mu);
    *client_slot = nullptr;
  }
  // Every step appears: those after the failure as skipped.
  for (size_t i = steps.size(); i < std::size(kStepNames); ++i)
    steps.push_back({{"name", kStepNames[i]}, {"ok", false}, {"skipped", true}});
  for (auto& s : steps) {
    if (s.value("ok", false) || s.value("skipped", false)) continue;
    auto [vi, en] = FailureText(s["name"].get<std::string>(), config, failed_result);
    s["message"] = vi;
    s["message_en"] = en;
  }
  nlohmann::json out = {{"ok", failed.empty()}, {"steps", std::move(steps)},
                        {"base_url", config.base_url},
                        {"style", config.style == PortalStyle::kEnvelope ? "envelope" : "per_operation"}};
  if (!failed.empty()) out["failed_step"] = failed;
  return out;
}

Status PortalProbe::Start(PortalConfig config, int64_t now_ms) {
  std::lock_guard tl(thread_mu_);
  if (running_) return Status::Conflict("đang kiểm tra kết nối tới Cổng; chờ kết quả (adapter.test.status)");
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    report_ = nullptr;
    started_ms_ = now_ms;
    cancelled_ = false;
  }
  running_ = true;
  thread_ = std::thread([this, config = std::move(config)] {
    pthread_setname_np(pthread_self(), "danvan-probe");
    nlohmann::json report = RunPortalProbe(config, clock_, &mu_, &client_);
    std::lock_guard lock(mu_);
    report["finished"] = FormatIsoTime(clock_->NowMs());
    if (cancelled_) report["cancelled"] = true;
    report_ = std::move(report);
    running_ = false;
  });
  return Status::Ok();
}

nlohmann::json PortalProbe::StatusJson() const {
  std::lock_guard lock(mu_);
  if (running_) return {{"state", "running"}, {"started", FormatIsoTime(started_ms_)}};
  if (report_.is_null()) return {{"state", "idle"}};
  nlohmann::json out = report_;
  out["state"] = "done";
  out["started"] = FormatIsoTime(started_ms_);
  return out;
}

void PortalProbe::Cancel() {
  std::lock_guard tl(thread_mu_);
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (client_) client_->Cancel();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace danvan
