#include "engine/intake.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include "core/timeutil.h"
#include "text/json_repair.h"
#include "text/utf8.h"

namespace danvan {
namespace {

constexpr const char* kKinds[] = {"dossier", "petition", "reception", "dvk_model", "plan_task"};

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Date fields the schemas check only by pattern are also checked as real calendar dates.
void CheckDates(const nlohmann::json& node, const std::string& path, bool portal_style,
                std::vector<FieldError>* errors) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string& k = it.key();
      std::string p = path + "/" + k;
      if (it->is_string() && !it->get_ref<const std::string&>().empty()) {
        const std::string& v = it->get_ref<const std::string&>();
        if (portal_style && (k.rfind("Ngay", 0) == 0 || k.rfind("ThoiDiem", 0) == 0)) {
          if (!ParsePortalTime(v))
            errors->push_back({p, "ngày giờ không tồn tại hoặc sai định dạng yyyyMMddHHmmss: \"" + v + "\""});
        } else if (!portal_style && (EndsWith(k, "_at") || k == "date" || k == "start" ||
                                     k == "due" || k == "period_from" || k == "period_to")) {
          if (!ParseIsoTime(v))
            errors->push_back({p, "ngày giờ không tồn tại hoặc sai định dạng ISO 8601: \"" + v + "\""});
        }
      } else if (it->is_structured()) {
        CheckDates(*it, p, portal_style, errors);
      }
    }
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i)
      CheckDates(node[i], path + "/" + std::to_string(i), portal_style, errors);
  }
}

std::string StatusOf(const std::string& kind, const nlohmann::json& data) {
  auto str = [&](const char* field) -> std::string {
    auto it = data.find(field);
    return it != data.end() && it->is_string() ? it->get<std::string>() : "";
  };
  if (kind == "dossier") return str("TrangThaiHoSo");
  if (kind == "petition" || kind == "plan_task") return str("status");
  if (kind == "dvk_model") return data.contains("recognition_level") ? "recognised" : "registered";
  return "";
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(data.data(), static_cast<unsigned>(data.size()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

Result<std::unique_ptr<Intake>> Intake::Create(const std::string& schemas_dir, IntakeLimits limits) {
  std::unique_ptr<Intake> in(new Intake());
  in->limits_ = limits;
  auto load = [&](const std::string& name) -> Result<std::shared_ptr<const JsonSchema>> {
    return JsonSchema::FromFile(schemas_dir + "/records/" + name + ".schema.json");
  };
  auto env = load("envelope");
  if (!env.ok()) return env.status();
  in->envelope_ = env.value();
  auto prog = load("dossier-progress");
  if (!prog.ok()) return prog.status();
  in->progress_ = prog.value();
  for (const char* k : kKinds) {
    auto s = load(k);
    if (!s.ok()) return s.status();
    in->kinds_[k] = s.value();
  }
  return in;
}

IntakeOutcome Intake::Parse(std::string_view raw) const {
  IntakeOutcome out;
  if (static_cast<int64_t>(raw.size()) > limits_.max_event_bytes) {
    out.errors.push_back({"/", "sự kiện quá lớn: " + std::to_string(raw.size()) +
                                   " byte, tối đa " + std::to_string(limits_.max_event_bytes)});
    return out;
  }
  // Text still in a legacy Vietnamese encoding (TCVN3, VNI, VISCII, Windows-1258) is converted to
  // Unicode NFC with a note; text that cannot be decoded with confidence is rejected.
  std::vector<nlohmann::json> notes;
  auto repaired = text::RepairJsonText(raw);
  if (!repaired.ok()) {
    out.errors.push_back({"/", repaired.status().message()});
    return out;
  }
  if (repaired->changed()) {
    out.repaired = std::move(repaired->text);
    for (const auto& n : repaired->notes) notes.push_back(n.ToJson());
    raw = out.repaired;
  }
  if (auto bad = text::FindInvalidUtf8(raw)) {
    out.errors.push_back({"/", "không phải UTF-8 hợp lệ tại byte " + std::to_string(*bad)});
    return out;
  }
  nlohmann::json event = nlohmann::json::parse(raw, nullptr, false);
  if (event.is_discarded()) {
    // Re-parse with exceptions only to get the position for the message.
    std::string where;
    try {
      const nlohmann::json unused = nlohmann::json::parse(raw);  // throws here
      (void)unused;
    } catch (const nlohmann::json::parse_error& e) {
      where = " tại byte " + std::to_string(e.byte);
    }
    out.errors.push_back({"/", "JSON không hợp lệ" + where});
    return out;
  }
  if (!event.is_object()) {
    out.errors.push_back({"/", "sự kiện phải là một đối tượng JSON"});
    return out;
  }
  auto str = [&](const char* f) {
    auto it = event.find(f);
    return it != event.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  out.partial_key = {str("source"), str("kind"), str("id")};
  out.partial_unit = str("unit");

  if (!envelope_->Validate(event, &out.errors)) return out;
  const std::string kind = event["kind"].get<std::string>();
  const nlohmann::json& data = event["data"];
  ParsedEvent& p = out.parsed;
  p.is_progress_step = kind == "dossier" && data.contains("ThoiDiemXuLy") &&
                       !data.contains("TrangThaiHoSo");
  const JsonSchema& schema = p.is_progress_step ? *progress_ : *kinds_.at(kind);
  schema.Validate(data, &out.errors, "/data");
  if (portal_limits_ && kind == "dossier") {
    std::vector<std::pair<std::string, std::string>> too_long;
    portal_limits_->Check(data, p.is_progress_step, "/data", &too_long);
    for (auto& [path, reason] : too_long) out.errors.push_back({path, reason});
  }
  CheckDates(data, "/data", kind == "dossier", &out.errors);
  auto event_time = ParseIsoTime(event["event_time"].get<std::string>());
  if (!event_time) out.errors.push_back({"/event_time", "ngày giờ không tồn tại"});
  std::optional<int64_t> updated_at;
  if (event.contains("updated_at")) {
    updated_at = ParseIsoTime(event["updated_at"].get<std::string>());
    if (!updated_at) out.errors.push_back({"/updated_at", "ngày giờ không tồn tại"});
  }
  if (kind == "dossier" && data.contains("MaHoSo") && data["MaHoSo"].is_string() &&
      data["MaHoSo"].get<std::string>() != event["id"].get<std::string>()) {
    out.errors.push_back({"/data/MaHoSo", "phải trùng với mã bản ghi /id (\"" +
                                              event["id"].get<std::string>() + "\")"});
  }
  if (!out.errors.empty()) return out;

  p.key = out.partial_key;
  p.unit = out.partial_unit;
  if (event.contains("version")) {
    p.order_basis = "version";
    p.order_key = event["version"].get<int64_t>();
  } else {
    p.order_basis = "time";
    p.order_key = *updated_at;
  }
  p.event_time = event["event_time"].get<std::string>();
  p.event_time_ms = *event_time;
  if (p.is_progress_step) {
    p.status = data["TrangThai"].get<std::string>();
    p.step_at_ms = *ParsePortalTime(data["ThoiDiemXuLy"].get<std::string>());
  } else {
    p.status = StatusOf(kind, data);
  }
  p.notes = std::move(notes);
  p.data_json = data.dump();
  p.data_hash = Sha256Hex(p.data_json);
  p.event = std::move(event);
  out.ok = true;
  return out;
}

}  // namespace danvan
