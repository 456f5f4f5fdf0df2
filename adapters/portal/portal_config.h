// Configuration of the portal client: the "portal" section of the plugin config, validated by
// schemas/portal-config.schema.json. Secrets (password, OAuth2 client secret, client key
// password) are never in the config: it names an environment variable (`*_env`) or a file
// (`*_file`) holding them; they are read once by ParsePortalConfig and never printed
// (ToMaskedJson masks them).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace danvan {

enum class PortalStyle { kEnvelope, kPerOperation };

struct PortalTlsConfig {
  bool verify = true;              // verify the server certificate and host name
  std::string ca_file;             // PEM bundle; "" = the system's default CAs
  std::string client_cert_file;    // PEM, optional (mutual TLS)
  std::string client_key_file;     // PEM, optional
  std::string client_key_password; // secret, from client_key_password_env/_file
};

struct PortalEnvelopeConfig {
  std::string auth_path = "/auth";
  std::string integration_path = "/integration";
  std::string share_path = "/share";
  std::string dstcode;   // gateway destination code header, "" = header not sent
  std::string username;  // from username / username_env / username_file
  std::string password;  // secret, from password_env / password_file
};

struct PortalOAuth2Config {
  bool enabled = false;
  std::string token_url;  // absolute https URL
  std::string client_id;
  std::string client_secret;  // secret, from client_secret_env / client_secret_file
  std::string scope;
  bool basic_auth = false;  // send id/secret as HTTP Basic instead of form fields
  int64_t expiry_margin_ms = 30'000;  // refresh this long before expires_in runs out
};

// Default paths: a published provincial client posts DongBoHoSoMC to
// {base}/api/SynsTTHCC/DongBoHoSoMC?MaDinhDanhDV=..&isUpdating=True|False [verified, a C#
// one-stop client of Hà Giang]; the other services by the same pattern [unconfirmed].
struct PortalPerOperationConfig {
  std::string create_path = "/api/SynsTTHCC/DongBoHoSoMC";
  std::string update_path = "/api/SynsTTHCC/DongBoHoSoMC";
  std::string progress_path = "/api/SynsTTHCC/CapNhatTienDoHoSoMC";
  std::string lookup_path = "/api/SynsTTHCC/TraCuuHoSo";
  std::string procedure_path = "/api/SynsTTHCC/LayThuTuc";
  std::string procedure_list_path = "/api/SynsTTHCC/LayDanhSachTTHC";
  std::string unit_query_param = "MaDinhDanhDV";  // "" = not sent
  std::string update_query_param = "isUpdating";  // "" = not sent
  PortalOAuth2Config oauth2;
};

struct PortalConfig {
  // portal.insecure_test_only: allows http:// URLs and tls.verify=false, for tests against a
  // local stand-in only. Without it both are refused at open (the password and citizens' data
  // would cross the network in clear or to an unverified server); with it the engine logs an
  // error at every open and start. See SECURITY.md.
  bool insecure_test_only = false;
  PortalStyle style = PortalStyle::kEnvelope;
  std::string base_url;         // https://host[:port][/prefix]
  std::string default_madonvi;  // unit code used when a call gives none
  PortalEnvelopeConfig envelope;
  PortalPerOperationConfig per_operation;
  PortalTlsConfig tls;
  int64_t connect_timeout_ms = 5'000;
  int64_t read_timeout_ms = 30'000;
  bool keep_alive = true;
  int64_t keep_alive_idle_ms = 30'000;  // reconnect instead of reusing a connection idle longer
  std::string idempotency_header = "Idempotency-Key";  // "" = never sent
  // Response interpretation (domain.md §1; codes and markers unconfirmed -> configurable).
  std::vector<std::string> success_codes = {"0", "00"};
  std::vector<std::string> already_exists_markers = {"đã tồn tại", "da ton tai", "already exist"};
  std::vector<std::string> session_expired_codes = {};
  // Specific phrases only: "hồ sơ đã hết hạn" (a dossier past its deadline) is not a session.
  std::vector<std::string> session_expired_markers = {
      "phiên làm việc đã hết hạn", "phiên đăng nhập đã hết hạn", "phiên làm việc không hợp lệ",
      "session expired", "invalid session", "token expired"};
  std::vector<std::string> retryable_error_codes = {};
  // A permanent refusal that means the configuration is wrong, not the data: the outbox pauses
  // the destination with an alert instead of dead-lettering (issue 11). HTTP 404/405/501 always
  // mean it. Codes [unconfirmed] (none known); markers from the gateway's own words on the
  // settings it checks (domain.md §1: dstcode header, madonvi / MaDinhDanhDV unit code, service).
  std::vector<std::string> configuration_error_codes = {};
  std::vector<std::string> configuration_error_markers = {
      "dstcode", "madonvi", "MaDinhDanhDV", "mã đơn vị", "dịch vụ không tồn tại",
      "unknown service", "service not found"};
  std::string user_agent = "danvan-portal/0.1";
};

// Parses and validates the portal section; reads the secrets it names. Errors are InvalidInput
// naming the offending key (never a secret's value).
// A secret from the host (danvan_host_services.secret): the value, or nullopt when the host
// does not know `name` ("portal.username", "portal.password"). Asked before the environment
// variable or file named in the config.
using SecretLookup = std::function<std::optional<std::string>(const std::string& name)>;

Result<PortalConfig> ParsePortalConfig(const nlohmann::json& j, const SecretLookup& host_secret = {});

// The config as JSON with every secret replaced by "***" (for logs and the status op).
nlohmann::json ToMaskedJson(const PortalConfig& config);

// Reads a secret from the environment variable or file named in the config (trailing newline
// stripped). Exposed for tests.
// `host_name` is the name the host's lookup is asked for (empty: not asked).
Result<std::string> ReadSecret(const nlohmann::json& section, const std::string& name,
                               bool required, const SecretLookup& host_secret = {},
                               const std::string& host_name = "");

}  // namespace danvan
