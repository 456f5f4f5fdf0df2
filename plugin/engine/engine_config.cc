// ParseEngineConfig: the host's configuration text to an EngineConfig (storage, portal,
// console, limits; secrets through the host's callback, files or environment).
#include "engine/engine.h"

#include <libpq-fe.h>
#include <filesystem>
#include <tuple>

#include "core/bounded_input.h"
#include "core/data_dirs.h"
#include "core/json_number.h"
#include "core/json_schema.h"
#include "engine/engine_internal.h"

namespace danvan {

namespace {

// storage.postgres: the connection string (conninfo, conninfo_env or conninfo_file; it must not
// hold the password) and the password (the host's secret "storage.postgres.password",
// password_env or password_file; none when the server trusts the connection, e.g. a unix socket
// with peer authentication).
void ParsePostgresConfig(const nlohmann::json& storage, const SecretLookup& secret, EngineConfig* c,
                         std::vector<FieldError>* errors) {
  const nlohmann::json pg = storage.value("postgres", nlohmann::json::object());
  const std::string where = "/storage/postgres";
  if (pg.contains("password")) {
    errors->push_back({where + "/password", "không ghi mật khẩu trong cấu hình; dùng password_file, "
                                            "password_env hoặc hàm bí mật (secret) của hệ thống chủ"});
    return;
  }
  if (pg.contains("conninfo")) {
    c->pg_conninfo = pg["conninfo"].get<std::string>();
  } else if (pg.contains("conninfo_env") || pg.contains("conninfo_file")) {
    auto v = ReadSecret(pg, "conninfo", true, SecretLookup(), "");
    if (!v.ok()) {
      errors->push_back({where, v.status().message()});
      return;
    }
    c->pg_conninfo = v.value();
  } else {
    errors->push_back({where + "/conninfo", "thiếu chuỗi kết nối PostgreSQL (conninfo, conninfo_env hoặc conninfo_file)"});
    return;
  }
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(c->pg_conninfo.c_str(), &err);
  if (!opts) {
    std::string why = err ? err : "không đọc được";
    if (err) PQfreemem(err);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    errors->push_back({where + "/conninfo", "chuỗi kết nối sai: " + why});
    return;
  }
  bool has_password = false;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (std::string(o->keyword) == "password" && o->val && *o->val) has_password = true;
  PQconninfoFree(opts);
  if (has_password) {
    c->pg_conninfo.clear();
    errors->push_back({where + "/conninfo", "chuỗi kết nối không được chứa mật khẩu; dùng password_file, "
                                            "password_env hoặc hàm bí mật (secret) của hệ thống chủ"});
    return;
  }
  auto pw = ReadSecret(pg, "password", false, secret, "storage.postgres.password");
  if (!pw.ok()) {
    errors->push_back({where, pw.status().message()});
    return;
  }
  c->pg_password = pw.value();
  if (pg.contains("pool_size")) {
    // The schema allows 1..64; checked again here so no number converts out of range.
    if (auto n = JsonIntInRange(pg["pool_size"], 1, 64))
      c->read_connections = static_cast<int>(*n);
    else
      errors->push_back({where + "/pool_size", "cần số nguyên từ 1 đến 64"});
  }
}

}  // namespace

Result<EngineConfig> ParseEngineConfig(std::string_view text, const SecretLookup& secret) {
  // The document itself is held to the default depth (kDefaultMaxJsonDepth; a valid one nests
  // about 5 levels), checked before anything recurses over it.
  JsonScanError where;
  auto parsed = ParseJsonBounded(text, kDefaultMaxJsonDepth, &where);
  if (!parsed.ok())
    return Status::InvalidInput(where.path + ": " + where.reason);
  nlohmann::json doc = std::move(parsed).value();
  if (!doc.is_object()) return Status::InvalidInput("/: cấu hình phải là một đối tượng JSON");
  for (const char* dir : {"schemas_dir", "config_dir"})
    if (doc.contains(dir) && !doc[dir].is_string())
      return Status::InvalidInput(std::string("/") + dir + ": sai kiểu dữ liệu: cần chuỗi (đường dẫn thư mục)");
  EngineConfig c;
  // The configuration first, then DANVAN_DATA_DIR, then the installed library's own share/danvan.
  std::vector<FieldError> errors;
  for (auto [key, name, out] : {std::tuple{"schemas_dir", "schemas", &c.schemas_dir},
                                std::tuple{"config_dir", "config", &c.config_dir}}) {
    if (doc.contains(key) && doc[key].is_string()) {
      *out = doc[key].get<std::string>();
      continue;
    }
    auto found = FindDataSubdir(name, key);
    if (!found.ok()) {
      if (out == &c.schemas_dir) return Status::InvalidInput(std::string("/") + key + ": " + found.status().message());
      errors.push_back({std::string("/") + key, found.status().message()});
      continue;
    }
    *out = found.value();
  }
  auto schema = JsonSchema::FromFile(c.schemas_dir + "/config.schema.json");
  if (!schema.ok()) return Status::InvalidInput("/schemas_dir: " + schema.status().message());
  schema.value()->Validate(doc, &errors);
  if (errors.empty()) {
    const auto& st = doc["storage"];
    c.storage_engine = st.value("engine", "sqlite");
    c.storage_path = st.value("path", "");
    if (c.storage_engine == "sqlite" && c.storage_path.empty())
      errors.push_back({"/storage/path", "thiếu đường dẫn tệp SQLite"});
    if (c.storage_engine == "postgres") ParsePostgresConfig(st, secret, &c, &errors);
    c.synchronous_full = st.value("synchronous", "full") == "full";
    c.busy_timeout_ms = st.value("busy_timeout_ms", c.busy_timeout_ms);
    c.read_connections = st.value("read_connections", c.read_connections);
    if (st.value("file_mode", "0600") == "0640") c.file_mode = 0640;  // schema: "0600" | "0640"
    if (doc.contains("limits")) {
      const auto& l = doc["limits"];
      c.intake.max_event_bytes = l.value("max_event_bytes", c.intake.max_event_bytes);
      c.intake.quarantine_raw_max_bytes =
          l.value("quarantine_raw_max_bytes", c.intake.quarantine_raw_max_bytes);
      c.max_batch_events = l.value("max_batch_events", c.max_batch_events);
      c.max_batch_bytes = l.value("max_batch_bytes", c.max_batch_bytes);
      c.intake.max_json_depth = l.value("max_json_depth", c.intake.max_json_depth);
      c.data_limits.max_depth = c.intake.max_json_depth;
      c.data_limits.max_file_bytes = l.value("max_data_file_bytes", c.data_limits.max_file_bytes);
      c.read_wait_ms = l.value("read_wait_ms", c.read_wait_ms);
    }
    if (doc.contains("log")) Logger::ParseLevel(doc["log"].value("level", "info"), &c.log_level);
    c.stop_timeout_ms = doc.value("stop_timeout_ms", c.stop_timeout_ms);
    c.instance = doc.value("instance", "");
    auto path_of = [&](const char* section, const char* key, const std::string& def) {
      if (doc.contains(section) && doc[section].contains(key)) {
        if (!doc[section][key].is_string()) {
          errors.push_back({std::string("/") + section + "/" + key, "sai kiểu dữ liệu: cần chuỗi (đường dẫn)"});
          return def;
        }
        return doc[section][key].get<std::string>();
      }
      return def;
    };
    c.units_file = path_of("indicators", "units_file", c.config_dir + "/units/haiphong-sgddt.json");
    c.indicators_file = path_of("indicators", "config_file", c.config_dir + "/indicators.json");
    c.calendar_dir = path_of("calendar", "dir", c.config_dir + "/calendar");
    c.deadlines_file = path_of("deadlines", "rules_file", c.config_dir + "/deadlines.json");
    c.procedures_file = path_of("deadlines", "procedures_file", c.config_dir + "/procedures.json");
    c.rules_file = path_of("tagging", "rules_file", c.config_dir + "/rules/default.json");
    c.reports_dir = path_of("reports", "dir",
                            (std::filesystem::path(c.storage_path).parent_path() / "reports").string());
    if (c.storage_engine == "postgres" && c.storage_path.empty() &&
        !(doc.contains("reports") && doc["reports"].contains("dir")))
      errors.push_back({"/reports/dir", "cần khai báo thư mục báo cáo khi dùng PostgreSQL (không có tệp SQLite để đặt bên cạnh)"});
    if (doc.contains("portal")) c.portal = doc["portal"];
    auto outbox = ParseOutboxConfig(doc.value("outbox", nlohmann::json()), doc.contains("portal"));
    if (!outbox.ok()) {
      std::string msg = outbox.status().message();
      size_t start = 0;
      while (start < msg.size()) {
        size_t end = msg.find('\n', start);
        if (end == std::string::npos) end = msg.size();
        std::string line = msg.substr(start, end - start);
        size_t colon = line.find(": ");
        errors.push_back({line.substr(0, colon), colon == std::string::npos ? line : line.substr(colon + 2)});
        start = end + 1;
      }
    } else {
      c.outbox = outbox.value();
    }
    console::ParseConsoleConfig(doc.value("console", nlohmann::json()), secret, &c.console, &errors);
    if (c.outbox.enabled) {
      auto pc = ParsePortalConfig(c.portal, secret);
      if (!pc.ok()) errors.push_back({"/portal", pc.status().message()});
    }
    if (doc.contains("indicators") && doc["indicators"].contains("checkpoint_fold_rows")) {
      const auto& v = doc["indicators"]["checkpoint_fold_rows"];
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 1000000)
        errors.push_back({"/indicators/checkpoint_fold_rows", "cần số nguyên 1..1000000 (số bản ghi)"});
      else
        c.checkpoint_fold_rows = v.get<int64_t>();
    }
    if (doc.contains("deadlines") && doc["deadlines"].contains("scan_interval_ms")) {
      const auto& v = doc["deadlines"]["scan_interval_ms"];
      if (!v.is_number_integer() || v.get<int64_t>() < 10 || v.get<int64_t>() > 3600000)
        errors.push_back({"/deadlines/scan_interval_ms", "cần số nguyên 10..3600000 (ms)"});
      else
        c.scheduler_interval_ms = v.get<int64_t>();
    }
  }
  if (!errors.empty()) return Status::InvalidInput(JoinFieldErrors(errors));
  c.raw = std::move(doc);
  return c;
}

}  // namespace danvan
