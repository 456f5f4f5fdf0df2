#include "engine/intake.h"

#include <map>

#include "core/json_number.h"
#include "core/json_write.h"
#include "core/timeutil.h"
#include "outbox/export_log.h"
#include "text/json_repair.h"
#include "text/utf8.h"

namespace danvan {
namespace {

constexpr const char* kKinds[] = {"dossier", "petition", "reception", "dvk_model", "plan_task"};

// Date fields the schemas check only by pattern are also checked as real calendar dates.
// Iterative (an explicit stack), so its depth costs heap, not the host thread's stack; the
// event's nesting is bounded by limits.max_json_depth before it gets here anyway. Members are
// visited in key order, the errors in the order nlohmann's documents gave them.
void CheckDates(const ArenaJson& root, const std::string& root_path, bool portal_style,
                std::vector<FieldError>* errors) {
  struct Item {
    const ArenaJson* node;
    std::string path;
  };
  std::vector<Item> stack = {{&root, root_path}};
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    const ArenaJson& node = *item.node;
    if (node.is_object()) {
      for (const ArenaJson::Member& m : node.members()) {
        const std::string_view k = m.key;
        // The member's path, built only when needed (an error, or a container to walk).
        auto path = [&] { return item.path + "/" + std::string(k); };
        if (m.value.is_string() && !m.value.string().empty()) {
          const std::string_view v = m.value.string();
          if (portal_style && (k.starts_with("Ngay") || k.starts_with("ThoiDiem"))) {
            if (!ParsePortalTime(v))
              errors->push_back({path(), "ngày giờ không tồn tại hoặc sai định dạng yyyyMMddHHmmss: \"" + std::string(v) + "\"", "date.invalid"});
          } else if (!portal_style && (k.ends_with("_at") || k == "date" || k == "start" ||
                                       k == "due" || k == "period_from" || k == "period_to")) {
            if (!ParseIsoTime(v))
              errors->push_back({path(), "ngày giờ không tồn tại hoặc sai định dạng ISO 8601: \"" + std::string(v) + "\"", "date.invalid"});
          }
        } else if (m.value.is_structured()) {
          stack.push_back({&m.value, path()});
        }
      }
    } else if (node.is_array()) {
      const auto elements = node.elements();
      for (size_t i = 0; i < elements.size(); ++i)
        if (elements[i].is_structured()) stack.push_back({&elements[i], item.path + "/" + std::to_string(i)});
    }
  }
}

// `s` with every byte that is not part of valid UTF-8 replaced by U+FFFD.
std::string ValidUtf8(const std::string& s) {
  std::string_view rest = s;
  auto bad = text::FindInvalidUtf8(rest);
  if (!bad) return s;
  std::string out;
  while (bad) {
    out.append(rest.substr(0, *bad));
    out += "\xEF\xBF\xBD";
    rest.remove_prefix(*bad + 1);
    bad = text::FindInvalidUtf8(rest);
  }
  out.append(rest);
  return out;
}

// The key fields of a refused event, as far as they could be read without parsing it.
void PartialKeyOf(std::string_view raw, int max_depth, IntakeOutcome* out) {
  std::map<std::string, std::string> top;
  ScanJson(raw, max_depth, &top);
  out->partial_key = {top["source"], top["kind"], top["id"]};
  out->partial_unit = top["unit"];
}

// The member's text, "" when absent or not a string.
std::string StringOf(const ArenaJson& object, std::string_view field) {
  const ArenaJson* v = object.FindString(field);
  return v ? std::string(v->string()) : std::string();
}

std::string StatusOf(const std::string& kind, const ArenaJson& data) {
  if (kind == "dossier") return StringOf(data, "TrangThaiHoSo");
  if (kind == "petition" || kind == "plan_task") return StringOf(data, "status");
  if (kind == "dvk_model") return data.Find("recognition_level") ? "recognised" : "registered";
  return "";
}

// Legacy text visible only after JSON decoding (escaped TCVN3/VISCII capitals, Windows-1252
// readings): repaired in the parsed values; C0 controls never reach the store (text/json_repair.h).
// raw_notes: what the raw pass repaired (its encoding guides weak suspects). False on errors.
// The view is replaced by the repaired document's when a value needed repair (rare: the
// repair works on nlohmann's form, which is copied to and from the arena then).
// clean_text: the event's text passed text::IsCleanJsonText as it is (NeedsValueRepair).
bool RepairDecodedText(const ArenaJson** event, JsonArena* arena, bool clean_text,
                       const std::vector<text::RepairNote>& raw_notes,
                       std::vector<nlohmann::json>* notes, std::vector<FieldError>* errors) {
  std::optional<text::Encoding> hint;
  for (const auto& n : raw_notes) {
    if (hint && *hint != n.encoding) {
      hint.reset();
      break;
    }
    hint = n.encoding;
  }
  if (!text::NeedsValueRepair(**event, hint, clean_text)) return true;
  nlohmann::json doc = ToNlohmann(**event);
  text::ValueRepair fixed = text::RepairJsonValues(&doc, {}, hint);
  for (auto& [path, reason] : fixed.errors) errors->push_back({path, reason});
  for (const auto& n : fixed.notes) notes->push_back(n.ToJson());
  *event = FromNlohmann(doc, arena);
  return fixed.errors.empty();
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  // OpenSSL's (SHA extensions where the CPU has them): several times Poco's SHA2Engine, the
  // same lowercase hex digest.
  return Sha256HexOpenSsl(data);
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
  JsonArena arena;
  IntakeOutcome out = Parse(raw, &arena);
  out.parsed.event = nullptr;  // it was in `arena`
  return out;
}

IntakeOutcome Intake::Parse(std::string_view raw, JsonArena* arena) const {
  IntakeOutcome out = ParseChecked(raw, arena);
  for (auto& e : out.errors) {
    e.path = ValidUtf8(e.path);
    e.reason = ValidUtf8(e.reason);
  }
  for (std::string* k : {&out.partial_key.source, &out.partial_key.kind, &out.partial_key.id, &out.partial_unit})
    *k = ValidUtf8(*k);
  return out;
}

IntakeOutcome Intake::ParseChecked(std::string_view raw, JsonArena* arena) const {
  IntakeOutcome out;
  if (static_cast<int64_t>(raw.size()) > limits_.max_event_bytes) {
    out.errors.push_back({"/", "sự kiện quá lớn: " + std::to_string(raw.size()) +
                                   " byte, tối đa " + std::to_string(limits_.max_event_bytes), "limit.size"});
    return out;
  }
  // Text still in a legacy Vietnamese encoding (TCVN3, VNI, VISCII, Windows-1258) is converted to
  // Unicode NFC with a note; text that cannot be decoded with confidence is rejected.
  std::vector<nlohmann::json> notes;
  std::vector<text::RepairNote> raw_notes;  // what the raw pass repaired
  // Most events are clean UTF-8: RepairJsonText would return them as they are (a copy of the
  // text), and the UTF-8 check below is part of the cleanliness test.
  const bool clean_text = text::IsCleanJsonText(raw);
  if (!clean_text) {
    auto repaired = text::RepairJsonText(raw);
    if (!repaired.ok()) {
      out.errors.push_back({"/", repaired.status().message()});
      PartialKeyOf(raw, limits_.max_json_depth, &out);
      return out;
    }
    if (repaired->changed()) {
      out.repaired = std::move(repaired->text);
      for (const auto& n : repaired->notes) notes.push_back(n.ToJson());
      raw_notes = std::move(repaired->notes);
      raw = out.repaired;
    }
    if (auto bad = text::FindInvalidUtf8(raw)) {
      out.errors.push_back({"/", "không phải UTF-8 hợp lệ tại byte " + std::to_string(*bad), "encoding.utf8"});
      PartialKeyOf(raw, limits_.max_json_depth, &out);
      return out;
    }
  }
  // Syntax, numbers out of range (1e400) and nesting depth are checked while parsing, without
  // recursion: nothing below (nlohmann copies and dumps, valijson, CheckDates) then recurses
  // deeper than limits.max_json_depth.
  JsonScanError where;
  // `raw` is valid UTF-8 here: IsCleanJsonText checks it, and FindInvalidUtf8 the rest.
  auto parsed = ParseArenaJsonBounded(raw, limits_.max_json_depth, arena, &where, /*valid_utf8=*/true);
  if (!parsed.ok()) {
    out.errors.push_back({where.path, where.reason});
    PartialKeyOf(raw, limits_.max_json_depth, &out);
    return out;
  }
  const ArenaJson* event = parsed.value();
  if (!event->is_object()) {
    out.errors.push_back({"/", "sự kiện phải là một đối tượng JSON", "json.not_object"});
    return out;
  }
  out.partial_key = {StringOf(*event, "source"), StringOf(*event, "kind"), StringOf(*event, "id")};
  out.partial_unit = StringOf(*event, "unit");
  // A record key is compared and printed as a C string by hosts and reports: no control
  // character (a NUL would cut it), whatever the schema's patterns say.
  for (const char* f : {"source", "kind", "id", "unit"}) {
    if (auto c = FindControlCharacter(StringOf(*event, f)))
      out.errors.push_back({std::string("/") + f, "chứa ký tự điều khiển " + *c +
                                                      ", không được phép trong khóa bản ghi"});
  }
  if (!RepairDecodedText(&event, arena, clean_text, raw_notes, &notes, &out.errors)) return out;

  if (!envelope_->ValidateView(*event, &out.errors)) return out;
  // The envelope's schema requires these: kind (one of kKinds), id, event_time (strings), data
  // (an object).
  const ArenaJson* version_field = event->Find("version");
  if (version_field && version_field->is_number_unsigned() &&
      version_field->unsigned_integer() > static_cast<uint64_t>(INT64_MAX)) {
    out.errors.push_back({"/version", "vượt quá số nguyên 64 bit có dấu (tối đa " +
                                          std::to_string(INT64_MAX) + ")"});
  }
  const std::string kind = StringOf(*event, "kind");
  const std::string id = StringOf(*event, "id");
  const std::string event_time_text = StringOf(*event, "event_time");
  const ArenaJson& data = *event->Find("data");
  ParsedEvent& p = out.parsed;
  p.is_progress_step = kind == "dossier" && data.Find("ThoiDiemXuLy") && !data.Find("TrangThaiHoSo");
  const JsonSchema& schema = p.is_progress_step ? *progress_ : *kinds_.at(kind);
  schema.ValidateView(data, &out.errors, "/data");
  std::shared_ptr<const PortalFieldLimits> portal_limits;
  if (kind == "dossier") {
    std::lock_guard lock(portal_limits_mu_);
    portal_limits = portal_limits_;
  }
  if (portal_limits) {
    std::vector<std::pair<std::string, std::string>> too_long;
    portal_limits->CheckView(data, p.is_progress_step, "/data", &too_long);
    // Longer than the portal accepts: the same code as a schema maxLength (docs/integration.md).
    for (auto& [path, reason] : too_long) out.errors.push_back({path, reason, "schema.max_length"});
  }
  // Only a document that fits its schema is walked further.
  if (out.errors.empty()) CheckDates(data, "/data", kind == "dossier", &out.errors);
  auto event_time = ParseIsoTime(event_time_text);
  if (!event_time) out.errors.push_back({"/event_time", "ngày giờ không tồn tại", "date.invalid"});
  std::optional<int64_t> updated_at;
  if (const ArenaJson* u = event->Find("updated_at")) {
    updated_at = ParseIsoTime(u->is_string() ? u->string() : std::string_view());
    if (!updated_at) out.errors.push_back({"/updated_at", "ngày giờ không tồn tại", "date.invalid"});
  }
  if (kind == "dossier") {
    if (const ArenaJson* ma = data.FindString("MaHoSo"); ma && ma->string() != id) {
      out.errors.push_back({"/data/MaHoSo", "phải trùng với mã bản ghi /id (\"" + id + "\")", "key.mismatch"});
    }
  }
  // The schema says a non-negative integer; a float like 1e300 must not reach a conversion
  // to int64_t (an out-of-range conversion is undefined), whatever the validator made of it.
  std::optional<int64_t> version;
  if (version_field) {
    version = JsonExactInt(*version_field);
    if (!version || *version < 0)
      out.errors.push_back({"/version", "cần số nguyên không âm", "schema.type"});
  }
  if (!out.errors.empty()) return out;

  p.key = out.partial_key;
  p.unit = out.partial_unit;
  if (version_field) {
    p.order_basis = "version";
    p.order_key = *version;
  } else {
    p.order_basis = "time";
    p.order_key = *updated_at;
  }
  p.event_time = event_time_text;
  p.event_time_ms = *event_time;
  if (p.is_progress_step) {
    p.status = StringOf(data, "TrangThai");
    p.step_at_ms = *ParsePortalTime(StringOf(data, "ThoiDiemXuLy"));
  } else {
    p.status = StatusOf(kind, data);
  }
  p.notes = std::move(notes);
  // == data.dump() of nlohmann's document; reserved once at the event's size (the data is
  // most of it) instead of growing by doubling.
  p.data_json.reserve(raw.size());
  AppendArenaJson(data, &p.data_json);
  // A step's hash is neither stored nor compared (its record's is the dossier item's).
  if (!p.is_progress_step) p.data_hash = Sha256Hex(p.data_json);
  if (const ArenaJson* u = event->Find("updated_at")) p.updated_at = ToNlohmann(*u);
  // Tagging and evaluation read the view in the arena; a step is neither tagged nor read
  // (issue 16: 43% of the sample's events are steps).
  if (!p.is_progress_step) p.event = event;
  out.ok = true;
  return out;
}

}  // namespace danvan
