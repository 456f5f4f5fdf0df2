#include "engine/config_reload.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/bounded_input.h"
#include "engine/intake.h"

namespace danvan {
namespace {

namespace fs = std::filesystem;

// One line per error: a file's loader may explain itself over several lines.
std::string OneLine(std::string s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n') s.replace(i, 1, "; ");
  return s;
}

Result<std::string> FileSha256(const std::string& path, const JsonReadLimits& limits) {
  auto bytes = ReadRegularFile(path, limits.max_file_bytes);
  if (!bytes.ok()) return bytes.status();
  return Sha256Hex(bytes.value());
}

const nlohmann::json& Section(const nlohmann::json& doc, const char* key) {
  static const nlohmann::json kNull;
  auto it = doc.find(key);
  return it == doc.end() ? kNull : *it;
}

const nlohmann::json& Member(const nlohmann::json& section, const std::string& key) {
  static const nlohmann::json kNull;
  if (!section.is_object()) return kNull;
  auto it = section.find(key);
  return it == section.end() ? kNull : *it;
}

// Keys of two objects (either may be null).
std::set<std::string> KeysOf(const nlohmann::json& a, const nlohmann::json& b) {
  std::set<std::string> keys;
  for (const auto* j : {&a, &b})
    if (j->is_object())
      for (const auto& [k, v] : j->items()) keys.insert(k);
  return keys;
}

bool SecretLookingKey(const std::string& key) {
  std::string k = key;
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
  auto ends = [&](const char* s) {
    const size_t n = std::strlen(s);
    return k.size() >= n && k.compare(k.size() - n, n, s) == 0;
  };
  if (ends("_env") || ends("_file")) return false;  // a reference by name, not the secret
  for (const char* w : {"password", "passwd", "secret", "token", "passphrase", "private_key",
                        "api_key", "apikey", "credential"})
    if (k.find(w) != std::string::npos) return true;
  return false;
}

void Redact(nlohmann::json* j, int depth) {
  if (depth > 64) return;
  if (j->is_object()) {
    for (auto it = j->begin(); it != j->end(); ++it) {
      if (SecretLookingKey(it.key()) && !it->is_null()) *it = "***";
      else Redact(&*it, depth + 1);
    }
  } else if (j->is_array()) {
    for (auto& v : *j) Redact(&v, depth + 1);
  }
}

}  // namespace

// Cues and model files are resolved relative to the rule file's directory (tagging/rules.cc).
Result<std::string> RulePackSha256(const std::string& rules_file, const JsonReadLimits& limits) {
  auto bytes = ReadRegularFile(rules_file, limits.max_file_bytes);
  if (!bytes.ok()) return bytes.status();
  std::string all = Sha256Hex(bytes.value()) + "\n";
  auto doc = ParseJsonBounded(bytes.value(), limits.max_depth);
  if (doc.ok() && doc->is_object() && doc->contains("reading") && (*doc)["reading"].is_object()) {
    const auto& r = (*doc)["reading"];
    for (const char* key : {"cues_file", "model_file"}) {
      auto it = r.find(key);
      if (it == r.end() || !it->is_string()) continue;
      fs::path p = it->get<std::string>();
      if (p.is_relative()) p = fs::path(rules_file).parent_path() / p;
      auto part = ReadRegularFile(p.string(), limits.max_file_bytes);
      if (!part.ok()) return part.status();
      all += key;
      all += '\0';
      all += Sha256Hex(part.value());
      all += '\n';
    }
  }
  return Sha256Hex(all);
}

Result<std::string> DeadlineInputsSha256(const EngineConfig& config) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(config.calendar_dir, ec))
    if (entry.path().extension() == ".json") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  files.push_back(config.deadlines_file);
  files.push_back(config.procedures_file);
  std::string all;
  for (const auto& f : files) {
    auto bytes = ReadRegularFile(f, config.data_limits.max_file_bytes);
    if (!bytes.ok()) return bytes.status();
    all += fs::path(f).filename().string();
    all += '\0';
    all += Sha256Hex(bytes.value());
    all += '\n';
  }
  return Sha256Hex(all);
}

std::string ConfigSha256(const nlohmann::json& document) {
  return Sha256Hex(document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

nlohmann::json RedactSecrets(const nlohmann::json& document) {
  nlohmann::json copy = document;
  Redact(&copy, 0);
  return copy;
}

std::vector<FieldError> FieldErrorsOf(const Status& status, const std::string& default_path) {
  std::vector<FieldError> out;
  const std::string& m = status.message();
  size_t start = 0;
  while (start < m.size()) {
    size_t end = m.find('\n', start);
    if (end == std::string::npos) end = m.size();
    std::string line = m.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    const size_t colon = line.find(": ");
    if (line.front() == '/' && colon != std::string::npos)
      out.push_back({line.substr(0, colon), line.substr(colon + 2)});
    else
      out.push_back({default_path, line});
  }
  if (out.empty()) out.push_back({default_path, m});
  return out;
}

Result<ConfigData> LoadConfigData(const EngineConfig& c, const SecretLookup& secret, bool collect_all,
                                  const ConfigData* in_force) {
  ConfigData d;
  std::vector<FieldError> errors;
  // Open keeps its first failure as it was; a reload lists every file that fails.
  std::optional<Status> first;
  auto fail = [&](const std::string& path, const Status& st, bool prefix) {
    // Prefixed errors are all InvalidInput (as open always answered them).
    if (!first) first = prefix ? Status::InvalidInput(path + ": " + st.message()) : st;
    errors.push_back({path, OneLine(st.message()), "config.invalid"});
  };
  const JsonReadLimits& limits = c.data_limits;
  auto stop = [&] { return !collect_all && first.has_value(); };

  // The rule pack in force is kept when its files are byte for byte the same (parsing the
  // letter model is the costly part of a reload).
  auto rules_sha = RulePackSha256(c.rules_file, limits);
  if (rules_sha.ok() && in_force && in_force->rules && in_force->rules_sha256 == rules_sha.value()) {
    d.rules = in_force->rules;
  } else {
    auto rules = tagging::RuleSet::FromFile(c.rules_file, c.schemas_dir, limits);
    if (!rules.ok()) fail("/tagging/rules_file", Status::InvalidInput(rules.status().message()), true);
    else d.rules = rules.value();
  }
  if (d.rules) {
    if (!rules_sha.ok()) fail("/tagging/rules_file", Status::InvalidInput(rules_sha.status().message()), true);
    else d.rules_sha256 = rules_sha.value();
  }
  if (!stop()) {
    auto units = indicators::UnitTree::LoadFile(c.units_file, c.schemas_dir, limits);
    if (!units.ok()) fail("/indicators/units_file", units.status(), false);
    else d.units = units.value();
    auto sha = FileSha256(c.units_file, limits);
    if (sha.ok()) d.units_sha256 = sha.value();
  }
  if (!stop()) {
    auto catalog = indicators::IndicatorCatalog::LoadFile(c.indicators_file, c.schemas_dir, limits);
    if (!catalog.ok()) fail("/indicators/config_file", catalog.status(), false);
    else d.catalog = catalog.value();
    auto sha = FileSha256(c.indicators_file, limits);
    if (sha.ok()) d.indicators_sha256 = sha.value();
  }
  if (!stop()) {
    auto cal = calendar::WorkingCalendar::LoadDirectory(c.calendar_dir, c.schemas_dir, limits);
    if (!cal.ok()) fail("/calendar/dir", cal.status(), false);
    else d.calendar = cal.value();
  }
  if (!stop()) {
    auto dr = calendar::DeadlineRules::Load(c.deadlines_file, c.schemas_dir, limits);
    if (!dr.ok()) fail("/deadlines/rules_file", dr.status(), false);
    else d.deadline_rules = dr.value();
  }
  if (!stop()) {
    auto procs = calendar::ProcedureCatalogue::Load(c.procedures_file, c.schemas_dir, limits);
    if (!procs.ok()) fail("/deadlines/procedures_file", procs.status(), false);
    else d.procedures = procs.value();
  }
  if (!stop() && d.calendar && d.deadline_rules && d.procedures) {
    auto sha = DeadlineInputsSha256(c);
    if (!sha.ok()) fail("/deadlines", sha.status(), false);
    else d.deadline_inputs_sha256 = sha.value();
  }
  if (!stop() && c.outbox.enabled) {
    auto pc = ParsePortalConfig(c.portal, secret);
    if (!pc.ok()) fail("/portal", Status::InvalidInput(pc.status().message()), true);
    else d.portal = pc.value();
    // The portal's field limits are checked at intake (config/portal/field-limits.json).
    const std::string limits_file = c.outbox.field_limits_file.empty()
                                        ? c.config_dir + "/portal/field-limits.json"
                                        : c.outbox.field_limits_file;
    if (!stop()) {
      auto fl = PortalFieldLimits::Load(limits_file, c.schemas_dir);
      if (!fl.ok()) fail("/outbox/field_limits_file", Status::InvalidInput(fl.status().message()), true);
      else d.field_limits = fl.value();
    }
  }
  if (first) {
    if (!collect_all) return *first;
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : errors) arr.push_back(e.ToJson());
    return Status::InvalidInput(arr.dump());
  }
  return d;
}

ReloadPlan PlanReload(const EngineConfig& run, const ConfigData& run_data, const EngineConfig& next,
                      const ConfigData& next_data) {
  ReloadPlan p;
  std::set<std::string> changed;
  auto refuse = [&](const std::string& path, const std::string& why) {
    p.refused.push_back({path, "không đổi được khi plugin đang chạy: " + why +
                                   "; giữ nguyên cấu hình đang dùng (cần đóng và mở lại plugin)",
                         "config.not_live"});
  };
  // Every top-level section and its direct keys, as written.
  const nlohmann::json& a = run.raw;
  const nlohmann::json& b = next.raw;
  for (const auto& section : KeysOf(a, b)) {
    const auto& sa = Section(a, section.c_str());
    const auto& sb = Section(b, section.c_str());
    if (sa == sb) continue;
    // A section absent on one side is an empty one: its keys are named.
    if ((sa.is_object() || sa.is_null()) && (sb.is_object() || sb.is_null())) {
      for (const auto& key : KeysOf(sa, sb))
        if (Member(sa, key) != Member(sb, key)) changed.insert("/" + section + "/" + key);
    } else {
      changed.insert("/" + section);
    }
  }

  // Refused: what the store, the intake and the aggregates were built on.
  for (const auto& path : changed) {
    if (path.rfind("/storage", 0) == 0)
      refuse(path, "kho dữ liệu (storage) chỉ được mở khi open; đổi kho là một lần mở mới");
    else if (path.rfind("/limits", 0) == 0)
      refuse(path, "giới hạn đầu vào (limits) được các luồng nhận dữ liệu và truy vấn đọc không khóa");
  }
  if (run.schemas_dir != next.schemas_dir)
    refuse("/schemas_dir", "lược đồ của các loại bản ghi được nạp một lần khi mở");
  if (run.instance != next.instance)
    refuse("/instance", "tên nút là chủ của các hợp đồng thuê (lease) trong hàng đợi xuất và của khóa kho");
  if (run.units_file != next.units_file || run_data.units_sha256 != next_data.units_sha256)
    refuse("/indicators/units_file",
           "cây đơn vị là nền của các chỉ số đã tổng hợp trong bộ nhớ; đổi cây cần dựng lại chỉ số khi mở");
  if (run.indicators_file != next.indicators_file || run_data.indicators_sha256 != next_data.indicators_sha256)
    refuse("/indicators/config_file",
           "danh mục chỉ số và kỳ báo cáo là nền của các chỉ số đã tổng hợp; cần dựng lại khi mở");
  if (run.outbox.enabled != next.outbox.enabled)
    refuse(changed.count("/portal") || !next.raw.contains("portal") || !run.raw.contains("portal")
               ? "/portal"
               : "/outbox/enabled",
           "bật hoặc tắt xuất lên Cổng thay đổi các luồng gửi và kiểm tra tại lúc nhận");
  if (run.outbox.destination != next.outbox.destination)
    refuse("/outbox/destination", "hàng đợi xuất, thư chết và nhật ký xuất được ghi theo tên đích");
  if (run.outbox.senders != next.outbox.senders)
    refuse("/outbox/senders", "số luồng gửi được tạo khi mở");

  // Applied live.
  p.rules = run.rules_file != next.rules_file || run_data.rules_sha256 != next_data.rules_sha256;
  if (p.rules) changed.insert("/tagging/rules_file");
  p.deadline_inputs = run_data.deadline_inputs_sha256 != next_data.deadline_inputs_sha256;
  if (p.deadline_inputs) {
    if (run.calendar_dir != next.calendar_dir) changed.insert("/calendar/dir");
    if (run.deadlines_file != next.deadlines_file) changed.insert("/deadlines/rules_file");
    if (run.procedures_file != next.procedures_file) changed.insert("/deadlines/procedures_file");
    if (run.calendar_dir == next.calendar_dir && run.deadlines_file == next.deadlines_file &&
        run.procedures_file == next.procedures_file)
      changed.insert("/deadlines");  // the files were edited in place
  }
  p.portal = Section(a, "portal") != Section(b, "portal");
  nlohmann::json oa = Section(a, "outbox"), ob = Section(b, "outbox");
  p.mappings = Member(oa, "mappings") != Member(ob, "mappings");
  p.outbox = oa != ob;
  p.field_limits = next.outbox.enabled;  // re-read at every reload (the file may be edited in place)
  p.log_level = run.log_level != next.log_level;
  p.scheduler_interval = run.scheduler_interval_ms != next.scheduler_interval_ms;
  p.console = Section(a, "console") != Section(b, "console");
  p.changed.assign(changed.begin(), changed.end());
  return p;
}

}  // namespace danvan
