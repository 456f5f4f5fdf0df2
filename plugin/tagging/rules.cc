#include "tagging/rules.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/json_schema.h"
#include "core/json_view.h"
#include "core/json_write.h"
#include "core/timeutil.h"
#include "tagging/letter_model.h"
#include "text/keywords.h"
#include "text/normalize.h"
#include "text/utf8.h"

namespace danvan::tagging {
namespace {

using json = nlohmann::json;

enum class Op {
  kExists,
  kMissing,
  kEq,
  kNe,
  kIn,
  kNotIn,
  kPattern,
  kGt,
  kGe,
  kLt,
  kLe,
  kBefore,
  kAfter,
  kEqField,
  kNeField,
  kContainsAny,
  kContainsAll
};

const std::map<std::string, Op>& OpNames() {
  static const std::map<std::string, Op> m = {{"exists", Op::kExists},
                                              {"missing", Op::kMissing},
                                              {"eq", Op::kEq},
                                              {"ne", Op::kNe},
                                              {"in", Op::kIn},
                                              {"not_in", Op::kNotIn},
                                              {"pattern", Op::kPattern},
                                              {"gt", Op::kGt},
                                              {"ge", Op::kGe},
                                              {"lt", Op::kLt},
                                              {"le", Op::kLe},
                                              {"before", Op::kBefore},
                                              {"after", Op::kAfter},
                                              {"eq_field", Op::kEqField},
                                              {"ne_field", Op::kNeField},
                                              {"contains_any", Op::kContainsAny},
                                              {"contains_all", Op::kContainsAll}};
  return m;
}

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '.') {
      out.emplace_back(path.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// What a leaf condition reads.
struct Operand {
  enum Kind {
    kData,
    kEnvelope,
    kDaysSince,
    kCount,
    kDaysSinceReceived,
    kDaysPastDue,
    kPetitionerCount,
    kTag
  } kind = kData;
  std::string name;               // as written in the rule
  std::vector<std::string> path;  // data / envelope path segments
};

// Per-kind paths behind the named derived values (architecture.md record model).
const char* ReceivedPath(std::string_view kind) {
  if (kind == "petition") return "received_at";
  if (kind == "dossier") return "NgayTiepNhan";
  if (kind == "reception") return "date";
  if (kind == "dvk_model") return "registered_at";
  if (kind == "plan_task") return "start";
  return nullptr;
}
std::pair<const char*, const char*> DuePaths(std::string_view kind) {
  if (kind == "petition") return {"due_at", "resolved_at"};
  if (kind == "dossier") return {"NgayHenTra", "NgayKetThucXuLy"};
  if (kind == "plan_task") return {"due", "completed_at"};
  return {nullptr, nullptr};
}

struct Cond {
  enum Type { kAll, kAny, kNot, kLeaf } type = kLeaf;
  std::vector<Cond> children;
  std::string pointer;  // JSON pointer in the rule file
  Op op = Op::kExists;
  Operand lhs;
  std::vector<int> text_fields;  // contains_*: ids into Impl::text_fields
  json value;
  std::vector<json> values;
  double number = 0;
  int64_t instant = 0;
  std::shared_ptr<const std::regex> re;
  Operand other;
  std::vector<uint32_t> keywords;
};

struct Rule {
  std::string id, tag, value, description, source, group;
  std::optional<Operand> value_from;
  std::set<std::string> kinds;  // empty: all kinds
  int priority = 0;
  Cond when;
  size_t index = 0;
  std::vector<std::pair<std::string, std::string>> tag_refs;  // (tag, pointer)
};

// The readers below take nlohmann's documents (re-tagging, the rule operands) or the arena
// views intake reads events into (core/json_view.h: the same answers for the same document).
template <typename J>
std::optional<double> ToNumber(const J& v) {
  if (v.is_number()) return jview::Number(v);
  if (v.is_boolean()) return jview::Bool(v) ? 1.0 : 0.0;
  if (v.is_string()) {
    const std::string_view text = jview::Text(v);
    if (text.empty()) return std::nullopt;
    // strtod reads up to a NUL: a string holding one reads as far as nlohmann's c_str() did.
    const std::string s(text);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0') return d;
  }
  return std::nullopt;
}

template <typename J>
std::optional<int64_t> ToInstant(const J& v) {
  if (!v.is_string()) return std::nullopt;
  const std::string_view s = jview::Text(v);
  if (s.size() == 14 && std::all_of(s.begin(), s.end(), ::isdigit)) return ParsePortalTime(s);
  return ParseIsoTime(s);
}

std::string ToText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

bool LooseEquals(const json& a, const json& b) {
  if (a == b) return true;
  if (a.is_string() && b.is_string()) return false;
  if (a.is_boolean() || b.is_boolean()) {
    auto na = ToNumber(a), nb = ToNumber(b);
    if (a.is_string() && (a == "true" || a == "false")) return (a == "true") == (nb && *nb != 0);
    if (b.is_string() && (b == "true" || b == "false")) return (b == "true") == (na && *na != 0);
    return na && nb && *na == *nb;
  }
  auto na = ToNumber(a), nb = ToNumber(b);
  return na && nb && *na == *nb;
}

template <typename J>
bool IsEmpty(const J& v) {
  return v.is_null() || (v.is_string() && jview::Text(v).empty()) ||
         (v.is_array() && jview::Size(v) == 0);
}

// Recursion: one level per array nested in an array on the path, bounded by the document's
// depth (events are bounded by limits.max_json_depth when read).
template <typename J>
void Collect(const J& node, const std::vector<std::string>& path, size_t i,
             std::vector<const J*>* out) {
  if (node.is_array() && i < path.size()) {
    for (const J& e : jview::Elements(node)) Collect(e, path, i, out);
    return;
  }
  if (i == path.size()) {
    out->push_back(&node);
    return;
  }
  const J* member = jview::Find(node, path[i]);
  if (!member) return;
  Collect(*member, path, i + 1, out);
}

constexpr const char* kKinds[] = {"dossier", "petition", "reception", "dvk_model", "plan_task"};
constexpr int kNumKinds = 5;  // index kNumKinds: a kind no rule names

// Tags the letter reading can set (rules may read them).
constexpr const char* kReadingTags[] = {"text_kind", "text_kind_strength", "secondary_kind",
                                        "complexity", "group_petition", "staff_conduct",
                                        "anonymous_denunciation", "protracted", "letter_reading",
                                        "needs_review"};
// The tag (and value) each flag of the reading sets when true, in kLetterFlags order.
constexpr std::pair<const char*, const char*> kFlagTags[] = {{"complexity", "complex"},
                                                             {"group_petition", ""},
                                                             {"staff_conduct", ""},
                                                             {"anonymous_denunciation", ""},
                                                             {"protracted", "reraised"}};

int KindIndex(std::string_view kind) {
  for (int i = 0; i < kNumKinds; ++i) {
    if (kind == kKinds[i]) return i;
  }
  return kNumKinds;
}

}  // namespace

struct RuleSet::Impl {
  std::vector<Rule> rules;
  std::vector<size_t> order;  // evaluation order (groups contiguous, by priority)
  text::KeywordMatcher matcher;
  std::vector<std::string> keyword_source;  // as written
  std::vector<std::vector<std::string>> text_fields;
  std::vector<std::string> text_field_names;
  std::vector<bool> text_field_envelope;
  // Keyword gating: a rule whose condition cannot hold without one of its keywords in one of
  // its text fields is evaluated only when the automaton found such a hit, so thousands of
  // keyword rules cost one automaton pass per text field plus the rules actually hit.
  std::vector<bool> gated;                                         // per rule
  std::vector<std::vector<std::pair<uint32_t, int>>> kw_triggers;  // keyword -> (rule, field)
  std::vector<uint8_t> kind_mask;                                  // per rule; 0 = all kinds
  std::vector<std::vector<int>> trigger_fields_by_kind;            // kind index -> field ids
  // The "reading" section: the letter model and its thresholds.
  struct Reading {
    std::shared_ptr<const LetterModel> model;
    uint8_t kind_mask = 0;
    double review_below = 0.6;       // kind confidence under this: needs_review
    double flag_review_below = 0.6;  // any flag's confidence under this: needs_review
    double strong_above = 0.85;      // text_kind_strength=strong from this confidence
    std::string source;
  };
  std::optional<Reading> reading;
  // Text fields that are exactly data.title / data.content (-1: no rule matches keywords in
  // them): the reading then takes the text the rules prepared instead of preparing it again.
  int TitleField() const { return FieldExactly("title"); }
  int ContentField() const { return FieldExactly("content"); }
  int FieldExactly(const char* name) const {
    for (size_t i = 0; i < text_fields.size(); ++i)
      if (!text_field_envelope[i] && text_fields[i].size() == 1 && text_fields[i][0] == name)
        return static_cast<int>(i);
    return -1;
  }
};

namespace {

// ---- evaluation -------------------------------------------------------------------------

struct FieldMatches {
  bool ready = false;
  bool prepared = false;  // mt holds the prepared text
  text::MatchText mt;     // the text as prepared for matching (mt.norm: NFC lower case)
  std::vector<text::KeywordMatcher::Hit> hits;  // sorted by keyword
};

// The record being tagged: its kind, its envelope (nlohmann's or an arena view) and the clock.
struct Record {
  std::string_view kind;
  int64_t now_ms = 0;
};

template <typename J>
struct Eval {
  const RuleSet::Impl& rs;
  const Record& rec;
  const J& event;
  const J* data;
  std::vector<FieldMatches> fields;
  std::vector<TagHit>* tags;

  const J& Root(bool envelope) const { return envelope ? event : *data; }

  // The operand's values as nlohmann's documents (the operators and the evidence read them).
  std::vector<json> Values(const Operand& o) {
    std::vector<json> out;
    std::vector<const J*> ptrs;
    auto dates_since = [&](const std::vector<std::string>& path) {
      std::vector<const J*> p;
      Collect(*data, path, 0, &p);
      for (const J* v : p) {
        if (auto t = ToInstant(*v)) {
          out.push_back(LocalDay(rec.now_ms) - LocalDay(*t));
        }
      }
    };
    switch (o.kind) {
      case Operand::kData:
      case Operand::kEnvelope:
        Collect(Root(o.kind == Operand::kEnvelope), o.path, 0, &ptrs);
        for (const J* v : ptrs) out.push_back(jview::AsNlohmann(*v));
        break;
      case Operand::kDaysSince:
        dates_since(o.path);
        break;
      case Operand::kDaysSinceReceived:
        if (const char* p = ReceivedPath(rec.kind)) dates_since({p});
        break;
      case Operand::kCount: {
        Collect(*data, o.path, 0, &ptrs);
        size_t n = 0;
        if (ptrs.size() == 1 && ptrs[0]->is_array()) {
          n = jview::Size(*ptrs[0]);
        } else {
          for (const J* v : ptrs) n += !IsEmpty(*v);
        }
        out.push_back(n);
        break;
      }
      case Operand::kDaysPastDue: {
        auto [due_path, end_path] = DuePaths(rec.kind);
        if (!due_path) break;
        const J* due_it = jview::Find(*data, due_path);
        if (!due_it) break;
        auto due = ToInstant(*due_it);
        if (!due) break;
        int64_t end_ms = rec.now_ms;
        if (const J* end_it = jview::Find(*data, end_path)) {
          if (auto e = ToInstant(*end_it)) end_ms = *e;
        }
        out.push_back(LocalDay(end_ms) - LocalDay(*due));
        break;
      }
      case Operand::kPetitionerCount: {
        const char* field = rec.kind == "reception" ? "people_count" : "petitioner_count";
        const J* it = jview::Find(*data, field);
        if (it && ToNumber(*it)) {
          out.push_back(*ToNumber(*it));
        } else if (const J* p = jview::Find(*data, "petitioners"); p && p->is_array()) {
          out.push_back(jview::Size(*p));
        }
        break;
      }
      case Operand::kTag:
        for (const TagHit& h : *tags) {
          if (h.tag == o.name) out.push_back(h.value);
        }
        break;
    }
    return out;
  }

  FieldMatches& Field(int id) {
    FieldMatches& fm = fields[id];
    if (fm.ready) return fm;
    fm.ready = true;
    std::vector<const J*> ptrs;
    Collect(Root(rs.text_field_envelope[id]), rs.text_fields[id], 0, &ptrs);
    // One string value (a title, a content) is prepared in place; several are joined by lines.
    std::string joined;
    std::string_view text;
    size_t strings = 0;
    for (const J* v : ptrs) {
      if (!v->is_string()) continue;
      const std::string_view value = jview::Text(*v);
      if (++strings == 1) {
        text = value;
        continue;
      }
      if (strings == 2) joined.assign(text);
      if (!joined.empty()) joined += "\n";
      joined += value;
      text = joined;
    }
    if (text.empty()) return fm;
    auto mt = text::PrepareForMatch(text);  // validates the UTF-8
    if (!mt.ok()) return fm;
    rs.matcher.Find(mt.value(), &fm.hits);
    std::stable_sort(fm.hits.begin(), fm.hits.end(),
                     [](const auto& a, const auto& b) { return a.keyword < b.keyword; });
    fm.mt = std::move(mt).value();
    fm.prepared = true;
    return fm;
  }

  const text::KeywordMatcher::Hit* FindHit(const FieldMatches& fm, uint32_t kw) const {
    auto it = std::lower_bound(fm.hits.begin(), fm.hits.end(), kw,
                               [](const auto& h, uint32_t k) { return h.keyword < k; });
    return (it != fm.hits.end() && it->keyword == kw) ? &*it : nullptr;
  }

  bool Test(const Cond& c, std::vector<json>* ev) {
    switch (c.type) {
      case Cond::kAll: {
        size_t mark = ev->size();
        for (const Cond& ch : c.children) {
          if (!Test(ch, ev)) {
            ev->erase(ev->begin() + mark, ev->end());
            return false;
          }
        }
        return true;
      }
      case Cond::kAny:
        for (const Cond& ch : c.children) {
          size_t mark = ev->size();
          if (Test(ch, ev)) return true;
          ev->erase(ev->begin() + mark, ev->end());
        }
        return false;
      case Cond::kNot: {
        std::vector<json> scratch;
        if (Test(c.children[0], &scratch)) return false;
        ev->push_back(json{{"not", c.children[0].pointer}});
        return true;
      }
      case Cond::kLeaf:
        return TestLeaf(c, ev);
    }
    return false;
  }

  bool TestLeaf(const Cond& c, std::vector<json>* ev) {
    if (c.op == Op::kContainsAny || c.op == Op::kContainsAll) {
      for (int fid : c.text_fields) {
        FieldMatches& fm = Field(fid);
        if (fm.hits.empty()) continue;
        size_t found = 0;
        for (uint32_t kw : c.keywords) {
          if (FindHit(fm, kw)) {
            ++found;
          } else if (c.op == Op::kContainsAll) {
            break;
          }
        }
        bool ok = c.op == Op::kContainsAll ? found == c.keywords.size() : found > 0;
        if (!ok) continue;
        json kws = json::array(), matched = json::array();
        for (uint32_t kw : c.keywords) {
          const auto* h = FindHit(fm, kw);
          if (!h) continue;
          kws.push_back(rs.keyword_source[kw]);
          matched.push_back(fm.mt.norm.substr(h->norm_begin, h->norm_end - h->norm_begin));
        }
        json item = json::object();
        item.emplace("field", rs.text_field_names[fid]);
        item.emplace("keywords", std::move(kws));
        item.emplace("matched", std::move(matched));
        ev->push_back(std::move(item));
        return true;
      }
      return false;
    }
    std::vector<json> vals = Values(c.lhs);
    const std::string& name = c.lhs.name;
    auto record = [&](const json& actual, const json& expected) {
      json item = json::object();
      item.emplace(c.lhs.kind == Operand::kTag ? "tag" : "field", name);
      item.emplace("value", actual);
      if (!expected.is_null()) {
        item["op"] = [&] {
          for (const auto& [k, v] : OpNames()) {
            if (v == c.op) return k;
          }
          return std::string();
        }();
        item["expected"] = expected;
      }
      ev->push_back(std::move(item));
    };
    switch (c.op) {
      case Op::kExists:
        if (c.lhs.kind == Operand::kTag) {  // a tag is present even with an empty value
          if (vals.empty()) return false;
          record(vals[0], nullptr);
          return true;
        }
        for (const json& v : vals) {
          if (!IsEmpty(v) && !(v.is_boolean() && !v.get<bool>())) {
            record(v, nullptr);
            return true;
          }
        }
        return false;
      case Op::kMissing:
        if (c.lhs.kind == Operand::kTag && !vals.empty()) return false;
        for (const json& v : vals) {
          if (!IsEmpty(v)) return false;
        }
        ev->push_back(
            json{{c.lhs.kind == Operand::kTag ? "tag" : "field", name}, {"missing", true}});
        return true;
      case Op::kEq:
      case Op::kIn:
        for (const json& v : vals) {
          for (const json& want : c.values) {
            if (LooseEquals(v, want)) {
              record(v, c.op == Op::kEq ? want : json(c.values));
              return true;
            }
          }
        }
        return false;
      case Op::kNe:
      case Op::kNotIn: {
        if (vals.empty()) return false;  // an absent value is not "different"; use missing
        for (const json& v : vals) {
          for (const json& want : c.values) {
            if (LooseEquals(v, want)) return false;
          }
        }
        record(vals[0], c.op == Op::kNe ? c.values[0] : json(c.values));
        return true;
      }
      case Op::kPattern:
        for (const json& v : vals) {
          if (IsEmpty(v)) continue;
          std::string s = ToText(v);
          if (std::regex_search(s, *c.re)) {
            record(v, c.value);
            return true;
          }
        }
        return false;
      case Op::kGt:
      case Op::kGe:
      case Op::kLt:
      case Op::kLe:
        for (const json& v : vals) {
          auto n = ToNumber(v);
          if (!n) continue;
          bool ok = c.op == Op::kGt   ? *n > c.number
                    : c.op == Op::kGe ? *n >= c.number
                    : c.op == Op::kLt ? *n < c.number
                                      : *n <= c.number;
          if (ok) {
            record(v, c.value);
            return true;
          }
        }
        return false;
      case Op::kBefore:
      case Op::kAfter:
        for (const json& v : vals) {
          auto t = ToInstant(v);
          if (!t) continue;
          if (c.op == Op::kBefore ? *t < c.instant : *t > c.instant) {
            record(v, c.value);
            return true;
          }
        }
        return false;
      case Op::kEqField:
      case Op::kNeField: {
        std::vector<json> others = Values(c.other);
        if (vals.empty() || others.empty()) return false;
        bool equal = false;
        for (const json& a : vals) {
          for (const json& b : others) equal |= LooseEquals(a, b);
        }
        if (equal != (c.op == Op::kEqField)) return false;
        json item = {{c.lhs.kind == Operand::kTag ? "tag" : "field", name},
                     {"value", vals[0]},
                     {"op", c.op == Op::kEqField ? "eq_field" : "ne_field"},
                     {"other", c.other.name},
                     {"other_value", others[0]}};
        ev->push_back(std::move(item));
        return true;
      }
      default:
        return false;
    }
  }
};

// ---- loading ----------------------------------------------------------------------------

// (field, keyword) pairs of which at least one must be hit for `c` to hold; false when the
// condition can hold without any keyword hit.
bool Triggers(const Cond& c, std::vector<std::pair<int, uint32_t>>* out) {
  switch (c.type) {
    case Cond::kLeaf:
      if (c.op != Op::kContainsAny && c.op != Op::kContainsAll) return false;
      for (int f : c.text_fields) {
        for (uint32_t kw : c.keywords) out->emplace_back(f, kw);
      }
      return true;
    case Cond::kAll: {
      // Any gated child gates the conjunction; take the smallest set.
      std::vector<std::pair<int, uint32_t>> best;
      bool found = false;
      for (const Cond& ch : c.children) {
        std::vector<std::pair<int, uint32_t>> t;
        if (Triggers(ch, &t) && (!found || t.size() < best.size())) {
          best = std::move(t);
          found = true;
        }
      }
      if (found) out->insert(out->end(), best.begin(), best.end());
      return found;
    }
    case Cond::kAny:
      for (const Cond& ch : c.children) {
        if (!Triggers(ch, out)) return false;
      }
      return true;
    case Cond::kNot:
      return false;
  }
  return false;
}

// Fields from docs/architecture.md, used only when a record schema file is missing.
const std::map<std::string, std::vector<std::string>>& FallbackFields() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"dossier",
       {"MaHoSo",
        "MaTTHC",
        "TenTTHC",
        "KenhThucHien",
        "TrangThaiHoSo",
        "NgayTiepNhan",
        "NgayHenTra",
        "NgayKetThucXuLy",
        "TaiLieuNop",
        "DanhSachLePhi",
        "DanhSachHoSoBoSung",
        "DanhSachGiayToKetQua",
        "TrichYeuHoSo",
        "TrangThai",
        "ThoiDiemXuLy",
        "NguoiXuLy",
        "ChucDanh",
        "PhongBanXuLy",
        "NoiDungXuLy",
        "NgayBatDau",
        "NgayKetThucTheoQuyDinh"}},
      {"petition",
       {"petition_kind",
        "round",
        "title",
        "content",
        "received_at",
        "channel",
        "petitioners",
        "petitioners.name",
        "petitioners.id_number",
        "petitioners.phone",
        "petitioners.email",
        "petitioners.address",
        "petitioner_count",
        "anonymous",
        "status",
        "accepted_at",
        "resolved_at",
        "due_at",
        "decision_no",
        "decision_at",
        "complex",
        "remote_area",
        "extensions",
        "extensions.days",
        "extensions.reason",
        "extensions.at",
        "reraised_of",
        "reraise_count",
        "agencies_involved",
        "verification_places",
        "contents_count",
        "foreign_element",
        "satisfaction",
        "handling_unit",
        "assignee"}},
      {"reception",
       {"date", "receiver_role", "receiver_name", "session_type", "people_count", "group",
        "content_class", "content", "petition_ids"}},
      {"dvk_model",
       {"name", "model_type", "field", "registering_unit", "person_in_charge", "registered_at",
        "period_from", "period_to", "content", "method", "target_group", "results", "replicability",
        "recognition_level", "recognition_decision", "recognised_at", "year"}},
      {"plan_task",
       {"plan_id", "task_no", "title", "lead_unit", "cooperating_units", "start", "due",
        "progress_percent", "status", "completed_at", "report"}},
  };
  return m;
}

void WalkSchema(const json& s, const std::string& prefix, std::set<std::string>* out) {
  if (!s.is_object()) return;
  if (auto p = s.find("properties"); p != s.end() && p->is_object()) {
    for (auto it = p->begin(); it != p->end(); ++it) {
      std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
      out->insert(path);
      WalkSchema(it.value(), path, out);
    }
  }
  if (auto i = s.find("items"); i != s.end()) WalkSchema(*i, prefix, out);
  for (const char* k : {"allOf", "anyOf", "oneOf"}) {
    if (auto a = s.find(k); a != s.end() && a->is_array()) {
      for (const json& sub : *a) WalkSchema(sub, prefix, out);
    }
  }
}

std::string Escape(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out.push_back(c);
  }
  return out;
}

class Loader {
 public:
  Loader(const json& doc, const std::string& schemas_dir, const std::string& base_dir)
      : doc_(doc), dir_(schemas_dir), base_dir_(base_dir) {}

  Status Load(RuleSet::Impl* impl, std::string* version) {
    impl_ = impl;
    Status st = Validate();
    if (!st.ok()) return st;
    LoadKnownFields();
    *version = doc_.at("version").get<std::string>();
    if (auto l = doc_.find("lists"); l != doc_.end()) lists_ = &*l;
    const json& rules = doc_.at("rules");
    std::set<std::string> ids;
    for (size_t i = 0; i < rules.size(); ++i) {
      const json& r = rules[i];
      std::string ptr = "/rules/" + std::to_string(i);
      Rule rule;
      rule.index = i;
      rule.id = r.at("id").get<std::string>();
      rule_id_ = rule.id;
      if (!ids.insert(rule.id).second) return Error(ptr + "/id", "mã luật bị trùng");
      rule.tag = r.at("tag").get<std::string>();
      rule.value = r.value("value", "");
      rule.description = r.at("description").get<std::string>();
      rule.source = r.at("source").get<std::string>();
      rule.group = r.value("group", "");
      rule.priority = r.value("priority", 0);
      if (auto k = r.find("kinds"); k != r.end()) {
        for (const json& kind : *k) rule.kinds.insert(kind.get<std::string>());
      }
      kinds_ = &rule.kinds;
      tag_refs_ = &rule.tag_refs;
      if (auto vf = r.find("value_from"); vf != r.end()) {
        Operand o;
        if (vf->contains("tag")) {
          o.kind = Operand::kTag;
          o.name = vf->at("tag").get<std::string>();
          tag_refs_->emplace_back(o.name, ptr + "/value_from/tag");
        } else {
          st = ParseOperand(vf->at("field").get<std::string>(), ptr + "/value_from/field", &o);
          if (!st.ok()) return st;
        }
        rule.value_from = o;
      }
      st = ParseCond(r.at("when"), ptr + "/when", &rule.when);
      if (!st.ok()) return st;
      impl->rules.push_back(std::move(rule));
    }
    // Evaluation order: file order, except that a group is evaluated as a block at its first
    // member's position, members by priority (desc) then file order.
    std::map<std::string, std::vector<size_t>> groups;
    for (size_t i = 0; i < impl->rules.size(); ++i) {
      if (!impl->rules[i].group.empty()) groups[impl->rules[i].group].push_back(i);
    }
    std::set<std::string> placed;
    for (size_t i = 0; i < impl->rules.size(); ++i) {
      const std::string& g = impl->rules[i].group;
      if (g.empty()) {
        impl->order.push_back(i);
      } else if (placed.insert(g).second) {
        std::vector<size_t> members = groups[g];
        std::stable_sort(members.begin(), members.end(), [&](size_t a, size_t b) {
          return impl->rules[a].priority > impl->rules[b].priority;
        });
        impl->order.insert(impl->order.end(), members.begin(), members.end());
      }
    }
    // A tag condition must read a tag that an earlier rule (in evaluation order) can set, or
    // that the letter reading sets.
    std::set<std::string> produced;
    if (auto r = doc_.find("reading"); r != doc_.end()) {
      rule_id_.clear();
      st = LoadReading(*r, impl);
      if (!st.ok()) return st;
      for (const char* t : kReadingTags) produced.insert(t);
    }
    for (size_t idx : impl->order) {
      const Rule& rule = impl->rules[idx];
      for (const auto& [tag, ptr] : rule.tag_refs) {
        if (!produced.count(tag)) {
          rule_id_ = rule.id;
          return Error(ptr, "nhãn '" + tag + "' chưa được luật nào đứng trước gắn");
        }
      }
      produced.insert(rule.tag);
    }
    impl->matcher.Build();
    impl->kw_triggers.assign(impl->matcher.size(), {});
    impl->trigger_fields_by_kind.assign(kNumKinds + 1, {});
    for (size_t r = 0; r < impl->rules.size(); ++r) {
      const Rule& rule = impl->rules[r];
      uint8_t mask = 0;
      for (const std::string& k : rule.kinds) mask |= static_cast<uint8_t>(1u << KindIndex(k));
      impl->kind_mask.push_back(mask);
      std::vector<std::pair<int, uint32_t>> trig;
      bool gated = Triggers(rule.when, &trig);
      impl->gated.push_back(gated);
      if (!gated) continue;
      for (const auto& [f, kw] : trig) {
        impl->kw_triggers[kw].emplace_back(static_cast<uint32_t>(r), f);
        for (int k = 0; k <= kNumKinds; ++k) {
          if (mask && !(mask & (1u << k))) continue;
          auto& fields = impl->trigger_fields_by_kind[k];
          if (std::find(fields.begin(), fields.end(), f) == fields.end()) fields.push_back(f);
        }
      }
    }
    return Status::Ok();
  }

 private:
  std::string PathOf(const std::string& name) const {
    if (!name.empty() && name[0] == '/') return name;
    return base_dir_ + "/" + name;
  }

  Status LoadReading(const json& r, RuleSet::Impl* impl) {
    RuleSet::Impl::Reading reading;
    auto cues = LetterCues::FromFile(PathOf(r.at("cues_file").get<std::string>()));
    if (!cues.ok()) return Error("/reading/cues_file", cues.status().message());
    auto model = LetterModel::FromFile(PathOf(r.at("model_file").get<std::string>()), cues.value());
    if (!model.ok()) return Error("/reading/model_file", model.status().message());
    reading.model = model.value();
    for (const json& k : r.at("kinds")) reading.kind_mask |= static_cast<uint8_t>(1u << KindIndex(k.get<std::string>()));
    reading.review_below = r.value("review_below", reading.review_below);
    reading.flag_review_below = r.value("flag_review_below", reading.flag_review_below);
    reading.strong_above = r.value("strong_above", reading.strong_above);
    reading.source = r.value("source", "");
    impl->reading = std::move(reading);
    return Status::Ok();
  }

  Status Error(const std::string& ptr, const std::string& why) const {
    std::string who = rule_id_.empty() ? "Tệp luật" : "Luật '" + rule_id_ + "'";
    return Status::InvalidInput(who + " (" + ptr + "): " + why);
  }

  Status Validate() {
    auto schema = JsonSchema::FromFile(dir_ + "/rules.schema.json");
    if (!schema.ok()) return schema.status();
    std::vector<FieldError> errors;
    if (schema.value()->Validate(doc_, &errors)) return Status::Ok();
    // Report the deepest error (the most specific one).
    FieldError best{"", "không đúng lược đồ"};
    for (const FieldError& e : errors)
      if (best.path.empty() || e.path.size() > best.path.size()) best = e;
    const std::string& ptr = best.path;
    // Name the rule when the error lies inside one.
    if (ptr.rfind("/rules/", 0) == 0) {
      size_t idx = std::strtoul(ptr.c_str() + 7, nullptr, 10);
      const json& rules = doc_.at("rules");
      if (idx < rules.size() && rules[idx].is_object() && rules[idx].contains("id") &&
          rules[idx]["id"].is_string()) {
        rule_id_ = rules[idx]["id"].get<std::string>();
      } else {
        rule_id_ = "#" + std::to_string(idx);
      }
    }
    Status st = Error(ptr.empty() ? "/" : ptr, "không đúng lược đồ rules.schema.json: " + best.reason);
    rule_id_.clear();
    return st;
  }

  void LoadKnownFields() {
    for (const char* kind : kKinds) {
      std::set<std::string>& set = known_[kind];
      std::vector<std::string> files = {dir_ + "/records/" + kind + ".schema.json"};
      if (std::string(kind) == "dossier") {
        files.push_back(dir_ + "/records/dossier-progress.schema.json");
      }
      bool found = false;
      for (const std::string& f : files) {
        if (auto s = ReadJsonFile(f); s.ok()) {
          WalkSchema(s.value(), "", &set);
          found = true;
        }
      }
      if (!found) {
        for (const std::string& f : FallbackFields().at(kind)) set.insert(f);
      }
    }
    if (auto env = ReadJsonFile(dir_ + "/records/envelope.schema.json"); env.ok()) {
      std::set<std::string> fields;
      WalkSchema(env.value(), "", &fields);
      for (const auto& f : fields) {
        if (f.rfind("data", 0) != 0) envelope_.insert(f);
      }
    } else {
      envelope_ = {"kind", "source", "id", "unit", "version", "event_time", "updated_at"};
    }
  }

  Status CheckDataPath(const std::string& path, const std::string& ptr) {
    std::vector<std::string> kinds(kinds_->begin(), kinds_->end());
    if (kinds.empty()) kinds.assign(std::begin(kKinds), std::end(kKinds));
    for (const std::string& k : kinds) {
      if (known_[k].count(path)) return Status::Ok();
    }
    std::string list;
    for (const std::string& k : kinds) list += (list.empty() ? "" : ", ") + k;
    return Error(ptr, "trường '" + path + "' không có trong lược đồ bản ghi nào (" + list + ")");
  }

  Status ParseOperand(const std::string& name, const std::string& ptr, Operand* o) {
    o->name = name;
    if (name.empty()) return Error(ptr, "tên trường rỗng");
    if (name[0] == '@') {
      o->kind = Operand::kEnvelope;
      o->path = Split(name.substr(1));
      if (!envelope_.count(name.substr(1))) {
        return Error(ptr, "trường phong bì '" + name + "' không có trong envelope.schema.json");
      }
      return Status::Ok();
    }
    if (name[0] == '$') {
      if (name == "$days_since_received") {
        o->kind = Operand::kDaysSinceReceived;
      } else if (name == "$days_past_due") {
        o->kind = Operand::kDaysPastDue;
      } else if (name == "$petitioner_count") {
        o->kind = Operand::kPetitionerCount;
      } else if (name.rfind("$days_since:", 0) == 0 || name.rfind("$count:", 0) == 0) {
        bool days = name[1] == 'd';
        o->kind = days ? Operand::kDaysSince : Operand::kCount;
        std::string path = name.substr(days ? 12 : 7);
        o->path = Split(path);
        return CheckDataPath(path, ptr);
      } else {
        return Error(ptr, "giá trị dẫn xuất không hỗ trợ '" + name + "'");
      }
      return Status::Ok();
    }
    o->kind = Operand::kData;
    o->path = Split(name);
    return CheckDataPath(name, ptr);
  }

  Status ParseCond(const json& j, const std::string& ptr, Cond* c) {
    c->pointer = ptr;
    for (const char* combo : {"all", "any"}) {
      if (auto it = j.find(combo); it != j.end()) {
        if (j.size() != 1) return Error(ptr, std::string("'") + combo + "' phải đứng một mình");
        c->type = combo[1] == 'l' ? Cond::kAll : Cond::kAny;
        for (size_t i = 0; i < it->size(); ++i) {
          c->children.emplace_back();
          Status st =
              ParseCond((*it)[i], ptr + "/" + combo + "/" + std::to_string(i), &c->children.back());
          if (!st.ok()) return st;
        }
        return Status::Ok();
      }
    }
    if (auto it = j.find("not"); it != j.end()) {
      if (j.size() != 1) return Error(ptr, "'not' phải đứng một mình");
      c->type = Cond::kNot;
      c->children.emplace_back();
      return ParseCond(*it, ptr + "/not", &c->children.back());
    }
    c->type = Cond::kLeaf;
    auto op_it = j.find("op");
    if (op_it == j.end() || !op_it->is_string()) return Error(ptr, "thiếu toán tử 'op'");
    auto op = OpNames().find(op_it->get<std::string>());
    if (op == OpNames().end()) {
      return Error(ptr + "/op", "toán tử không hỗ trợ '" + op_it->get<std::string>() + "'");
    }
    c->op = op->second;
    bool has_field = j.contains("field"), has_tag = j.contains("tag");
    if (has_field == has_tag) return Error(ptr, "điều kiện cần đúng một trong 'field' hoặc 'tag'");

    if (c->op == Op::kContainsAny || c->op == Op::kContainsAll) {
      if (has_tag) return Error(ptr + "/tag", "tìm từ khóa chỉ áp dụng cho trường văn bản");
      std::vector<std::string> fields;
      const json& f = j.at("field");
      if (f.is_string()) {
        fields.push_back(f.get<std::string>());
      } else {
        for (const json& x : f) fields.push_back(x.get<std::string>());
      }
      for (size_t i = 0; i < fields.size(); ++i) {
        std::string fptr = ptr + "/field" + (f.is_array() ? "/" + std::to_string(i) : "");
        Operand o;
        Status st = ParseOperand(fields[i], fptr, &o);
        if (!st.ok()) return st;
        if (o.kind != Operand::kData && o.kind != Operand::kEnvelope) {
          return Error(fptr, "tìm từ khóa cần một trường văn bản, không phải giá trị dẫn xuất");
        }
        c->text_fields.push_back(TextFieldId(fields[i], o));
      }
      std::vector<std::pair<std::string, std::string>> words;  // (word, pointer)
      if (auto k = j.find("keywords"); k != j.end()) {
        for (size_t i = 0; i < k->size(); ++i) {
          words.emplace_back((*k)[i].get<std::string>(), ptr + "/keywords/" + std::to_string(i));
        }
      }
      if (auto l = j.find("lists"); l != j.end()) {
        for (size_t i = 0; i < l->size(); ++i) {
          std::string name = (*l)[i].get<std::string>();
          std::string lptr = ptr + "/lists/" + std::to_string(i);
          if (!lists_ || !lists_->contains(name)) {
            return Error(lptr, "danh sách từ khóa '" + name + "' không có trong 'lists'");
          }
          const json& list = lists_->at(name);
          for (size_t w = 0; w < list.size(); ++w) {
            words.emplace_back(list[w].get<std::string>(),
                               "/lists/" + Escape(name) + "/" + std::to_string(w));
          }
        }
      }
      if (words.empty()) return Error(ptr, "cần 'keywords' hoặc 'lists' cho " + op->first);
      for (const auto& [w, wptr] : words) {
        auto id = KeywordId(w);
        if (!id.ok()) return Error(wptr, id.status().message());
        c->keywords.push_back(id.value());
      }
      return Status::Ok();
    }
    if (j.contains("keywords") || j.contains("lists")) {
      return Error(ptr, "'keywords'/'lists' chỉ dùng với contains_any, contains_all");
    }

    if (has_tag) {
      c->lhs.kind = Operand::kTag;
      c->lhs.name = j.at("tag").get<std::string>();
      tag_refs_->emplace_back(c->lhs.name, ptr + "/tag");
    } else {
      const json& f = j.at("field");
      if (!f.is_string()) return Error(ptr + "/field", "toán tử " + op->first + " cần một trường");
      Status st = ParseOperand(f.get<std::string>(), ptr + "/field", &c->lhs);
      if (!st.ok()) return st;
    }
    auto need_value = [&]() -> Status {
      if (!j.contains("value")) return Error(ptr, "toán tử " + op->first + " cần 'value'");
      c->value = j.at("value");
      return Status::Ok();
    };
    switch (c->op) {
      case Op::kExists:
      case Op::kMissing:
        return Status::Ok();
      case Op::kEq:
      case Op::kNe: {
        Status st = need_value();
        if (!st.ok()) return st;
        c->values = {c->value};
        return Status::Ok();
      }
      case Op::kIn:
      case Op::kNotIn:
        if (!j.contains("values")) return Error(ptr, "toán tử " + op->first + " cần 'values'");
        for (const json& v : j.at("values")) c->values.push_back(v);
        return Status::Ok();
      case Op::kPattern: {
        Status st = need_value();
        if (!st.ok()) return st;
        if (!c->value.is_string()) return Error(ptr + "/value", "mẫu phải là chuỗi");
        try {
          auto flags = std::regex::ECMAScript | std::regex::optimize;
          if (j.value("icase", false)) flags |= std::regex::icase;
          c->re = std::make_shared<const std::regex>(c->value.get<std::string>(), flags);
        } catch (const std::regex_error& e) {
          return Error(ptr + "/value", std::string("biểu thức chính quy sai: ") + e.what());
        }
        return Status::Ok();
      }
      case Op::kGt:
      case Op::kGe:
      case Op::kLt:
      case Op::kLe: {
        Status st = need_value();
        if (!st.ok()) return st;
        if (!c->value.is_number()) return Error(ptr + "/value", "so sánh số cần 'value' là số");
        c->number = c->value.get<double>();
        return Status::Ok();
      }
      case Op::kBefore:
      case Op::kAfter: {
        Status st = need_value();
        if (!st.ok()) return st;
        auto t = ToInstant(c->value);
        if (!t) return Error(ptr + "/value", "so sánh ngày cần 'value' là ngày ISO 8601");
        c->instant = *t;
        return Status::Ok();
      }
      case Op::kEqField:
      case Op::kNeField: {
        if (!j.contains("other")) return Error(ptr, "toán tử " + op->first + " cần 'other'");
        return ParseOperand(j.at("other").get<std::string>(), ptr + "/other", &c->other);
      }
      default:
        return Error(ptr + "/op", "toán tử không hỗ trợ '" + op->first + "'");
    }
  }

  int TextFieldId(const std::string& name, const Operand& o) {
    for (size_t i = 0; i < impl_->text_field_names.size(); ++i) {
      if (impl_->text_field_names[i] == name) return static_cast<int>(i);
    }
    impl_->text_field_names.push_back(name);
    impl_->text_fields.push_back(o.path);
    impl_->text_field_envelope.push_back(o.kind == Operand::kEnvelope);
    return static_cast<int>(impl_->text_fields.size() - 1);
  }

  Result<uint32_t> KeywordId(const std::string& word) {
    auto it = keyword_ids_.find(word);
    if (it != keyword_ids_.end()) return it->second;
    auto id = impl_->matcher.Add(word);
    if (!id.ok()) return id.status();
    impl_->keyword_source.push_back(word);
    keyword_ids_.emplace(word, id.value());
    return id.value();
  }

  const json& doc_;
  std::string dir_;
  std::string base_dir_;
  RuleSet::Impl* impl_ = nullptr;
  const json* lists_ = nullptr;
  std::string rule_id_;
  const std::set<std::string>* kinds_ = nullptr;
  std::vector<std::pair<std::string, std::string>>* tag_refs_ = nullptr;
  std::map<std::string, std::set<std::string>> known_;
  std::set<std::string> envelope_;
  std::unordered_map<std::string, uint32_t> keyword_ids_;
};


template <typename J>
std::optional<std::string_view> StringField(const J& data, const char* name) {
  const J* v = jview::Find(data, name);
  if (!v || !v->is_string()) return std::nullopt;
  return jview::Text(*v);
}

// JSON objects and one-element arrays built member by member: nlohmann's initializer lists
// build a two-element array per member and copy it, which cost a quarter of reading a letter.
template <typename V>
void Put(json* obj, const char* key, V&& value) {
  obj->emplace(key, std::forward<V>(value));
}
json ArrayOf(json item) {
  json out = json::array();
  out.push_back(std::move(item));
  return out;
}

// The features of one decision of `r` (with their condition and count where they have one).
json FeaturesJson(const LetterReading& r, const std::vector<Evidence>& ev) {
  json out = json::array();
  out.get_ref<json::array_t&>().reserve(ev.size());
  for (const auto& e : ev) out.push_back(r.EvidenceJson(e));
  return out;
}

// {"model": mv, "features": [...]} (the evidence of one decision of the reading).
json ModelFeatures(const std::string& mv, const LetterReading& r, const std::vector<Evidence>& ev) {
  json one = json::object();
  Put(&one, "model", mv);
  Put(&one, "features", FeaturesJson(r, ev));
  return ArrayOf(std::move(one));
}

// The evidence of one letter reading, rendered when its tags are stored or explained; the JSON
// is the one the reading's tags carried when it was built eagerly (kept byte for byte).
struct ReadingEvidence final : DeferredEvidence {
  enum Part { kKind = 0, kStrength = 1, kSecondary = 2, kFlag = 10, kLetter = 20, kReview = 21 };
  struct Weak {
    int flag;  // -1: the kind; else index into kLetterFlags
    double confidence;
  };
  std::shared_ptr<const LetterModel> model;  // keeps the evidence's feature names alive
  LetterReading reading;
  double strong_above = 0, review_below = 0, flag_review_below = 0;
  std::vector<Weak> weak;  // decisions under the review thresholds, in the order they are listed

  json Render(int part) const override {
    const std::string& mv = model->version();
    const LetterReading& r = reading;
    if (part == kKind) {
      json probs = json::object();
      for (size_t k = 0; k < kLetterKinds.size(); ++k) Put(&probs, kLetterKinds[k], Round3(r.kind_probabilities[k]));
      json kind_ev = json::object();
      Put(&kind_ev, "model", mv);
      Put(&kind_ev, "probabilities", std::move(probs));
      Put(&kind_ev, "features", FeaturesJson(r, r.kind.evidence));
      return ArrayOf(std::move(kind_ev));
    }
    if (part == kStrength) {
      json strength_ev = json::object();
      Put(&strength_ev, "model", mv);
      Put(&strength_ev, "strong_above", strong_above);
      return ArrayOf(std::move(strength_ev));
    }
    if (part >= kSecondary && part < kSecondary + static_cast<int>(r.secondary_decisions.size()))
      return ModelFeatures(mv, r, r.secondary_decisions[static_cast<size_t>(part - kSecondary)].evidence);
    if (part >= kFlag && part < kFlag + static_cast<int>(kLetterFlags.size()))
      return ModelFeatures(mv, r, r.flags[static_cast<size_t>(part - kFlag)].evidence);
    if (part == kLetter) {
      json all = r.ToJson(/*decided_evidence=*/false);
      all["model"] = mv;
      return ArrayOf(std::move(all));
    }
    if (part == kReview) {
      json weak_json = json::array();
      for (const Weak& w : weak) {
        json one = json::object();
        if (w.flag < 0) {
          Put(&one, "decision", "kind");
          Put(&one, "value", r.kind.value);
        } else {
          Put(&one, "decision", kLetterFlags[static_cast<size_t>(w.flag)]);
          Put(&one, "value", r.flags[static_cast<size_t>(w.flag)].value == "true");
        }
        Put(&one, "confidence", Round3(w.confidence));
        weak_json.push_back(std::move(one));
      }
      json review_ev = json::object();
      Put(&review_ev, "review_below", review_below);
      Put(&review_ev, "flag_review_below", flag_review_below);
      Put(&review_ev, "weak", std::move(weak_json));
      return ArrayOf(std::move(review_ev));
    }
    return json::array();
  }

  // Render(part)'s text written directly (the parts every letter's tags store); the review
  // part goes through the document (DeferredEvidence's default).
  void AppendRendered(int part, std::string* out) const override {
    const std::string& mv = model->version();
    const LetterReading& r = reading;
    auto features = [&](const std::vector<Evidence>& ev) {
      out->append("\"features\":[");
      for (size_t i = 0; i < ev.size(); ++i) {
        if (i) out->push_back(',');
        r.AppendEvidenceText(ev[i], out);
      }
      out->append("],\"model\":");
      AppendJsonString(mv, out);
    };
    if (part == kKind) {
      out->append("[{");
      features(r.kind.evidence);
      out->append(",\"probabilities\":{");
      for (size_t i = 0; i < kLetterKindsByName.size(); ++i) {
        const size_t k = kLetterKindsByName[i];
        if (i) out->push_back(',');
        AppendJsonString(kLetterKinds[k], out);
        out->push_back(':');
        AppendJsonDouble(Round3(r.kind_probabilities[k]), out);
      }
      out->append("}}]");
      return;
    }
    if (part == kStrength) {
      out->append("[{\"model\":");
      AppendJsonString(mv, out);
      out->append(",\"strong_above\":");
      AppendJsonDouble(strong_above, out);
      out->append("}]");
      return;
    }
    const std::vector<Evidence>* decision = nullptr;
    if (part >= kSecondary && part < kSecondary + static_cast<int>(r.secondary_decisions.size()))
      decision = &r.secondary_decisions[static_cast<size_t>(part - kSecondary)].evidence;
    else if (part >= kFlag && part < kFlag + static_cast<int>(kLetterFlags.size()))
      decision = &r.flags[static_cast<size_t>(part - kFlag)].evidence;
    if (decision) {
      out->append("[{");
      features(*decision);
      out->append("}]");
      return;
    }
    if (part == kLetter) {
      out->push_back('[');
      r.AppendJsonText(/*decided_evidence=*/false, &mv, out);
      out->push_back(']');
      return;
    }
    DeferredEvidence::AppendRendered(part, out);
  }
};

// "reading.<flag>", the rule id of each flag's tag.
const std::array<std::string, 5> kFlagRules = [] {
  std::array<std::string, 5> out;
  for (size_t f = 0; f < kLetterFlags.size(); ++f) out[f] = std::string("reading.") + kLetterFlags[f];
  return out;
}();

// Reads a petition/reception letter with the letter model (or takes a person's reviewed
// reading) and appends the reading's tags.
// `shared_title` / `shared_content`: data.title / data.content as the rules prepared them, or
// null (the reading prepares them itself).
template <typename J>
void ReadLetter(const RuleSet::Impl::Reading& rd, const json* review, const J& data,
                const std::string& version, const text::MatchText* shared_title,
                const text::MatchText* shared_content, std::vector<TagHit>* tags) {
  auto add = [&](const char* tag, std::string value, const std::string& rule, double confidence,
                 json evidence) {
    TagHit h;
    h.tag = tag;
    h.value = std::move(value);
    h.rule_id = rule;
    h.rules_version = version;
    h.confidence = Round3(confidence);
    h.evidence = std::move(evidence);
    tags->push_back(std::move(h));
  };
  if (review && review->is_object() && review->contains("kind") && (*review)["kind"].is_string()) {
    const std::string rule = "review." + review->value("action", std::string("confirm"));
    json ev = json::array({{{"review", review->value("action", "")},
                            {"by", review->value("by", "")},
                            {"why", review->value("why", "")},
                            {"at", review->value("at", "")}}});
    add("text_kind", (*review)["kind"].get<std::string>(), rule, 1.0, ev);
    add("text_kind_strength", "strong", rule, 1.0, ev);
    if (auto s = review->find("secondary"); s != review->end() && s->is_array())
      for (const auto& k : *s)
        if (k.is_string()) add("secondary_kind", k.get<std::string>(), rule, 1.0, ev);
    json flags = review->value("flags", json::object());
    for (size_t f = 0; f < kLetterFlags.size(); ++f)
      if (flags.value(kLetterFlags[f], false))
        add(kFlagTags[f].first, kFlagTags[f].second, rule, 1.0, ev);
    json all = {{"kind", (*review)["kind"]}, {"secondary", review->value("secondary", json::array())},
                {"flags", flags}, {"review", ev[0]}};
    add("letter_reading", "reviewed", rule, 1.0, json::array({all}));
    return;
  }
  std::optional<std::string_view> title = StringField(data, "title");
  if (!title) shared_title = nullptr;  // the reading falls back on content_class
  if (!title) title = StringField(data, "content_class");
  const std::optional<std::string_view> content = StringField(data, "content");
  std::optional<text::MatchText> own_title, own_content;
  auto prepare = [](std::optional<std::string_view> t, std::optional<text::MatchText>* own) -> const text::MatchText* {
    if (!t || t->empty()) return nullptr;
    auto mt = text::PrepareForMatch(*t);
    if (!mt.ok()) return nullptr;
    own->emplace(std::move(mt).value());
    return &**own;
  };
  const text::MatchText* title_mt = shared_title ? shared_title : prepare(title, &own_title);
  const text::MatchText* content_mt = shared_content ? shared_content : prepare(content, &own_content);
  auto rec = std::make_shared<ReadingEvidence>();
  rec->model = rd.model;
  rec->strong_above = rd.strong_above;
  rec->review_below = rd.review_below;
  rec->flag_review_below = rd.flag_review_below;
  rec->reading = rd.model->ReadPrepared(title_mt, content_mt);
  const LetterReading& r = rec->reading;
  auto add_deferred = [&](const char* tag, std::string value, const std::string& rule,
                          double confidence, int part) {
    TagHit h;
    h.tag = tag;
    h.value = std::move(value);
    h.rule_id = rule;
    h.rules_version = version;
    h.confidence = Round3(confidence);
    h.deferred_part = part;
    tags->push_back(std::move(h));
  };
  const size_t first = tags->size();
  static const std::string kKindRule = "reading.kind", kSecondaryRule = "reading.secondary",
                           kLetterRule = "reading.letter", kReviewRule = "reading.review";
  add_deferred("text_kind", r.kind.value, kKindRule, r.kind.confidence, ReadingEvidence::kKind);
  add_deferred("text_kind_strength", r.kind.confidence >= rd.strong_above ? "strong" : "weak", kKindRule,
               r.kind.confidence, ReadingEvidence::kStrength);
  for (size_t i = 0; i < r.secondary_decisions.size(); ++i) {
    const LetterDecision& d = r.secondary_decisions[i];
    if (d.value.find(':') != std::string::npos) continue;
    add_deferred("secondary_kind", d.value, kSecondaryRule, d.confidence,
                 ReadingEvidence::kSecondary + static_cast<int>(i));
  }
  if (r.kind.confidence < rd.review_below) rec->weak.push_back({-1, r.kind.confidence});
  for (size_t f = 0; f < kLetterFlags.size(); ++f) {
    const LetterDecision& d = r.flags[f];
    if (d.value == "true")
      add_deferred(kFlagTags[f].first, kFlagTags[f].second, kFlagRules[f], d.confidence,
                   ReadingEvidence::kFlag + static_cast<int>(f));
    if (d.confidence < rd.flag_review_below) rec->weak.push_back({static_cast<int>(f), d.confidence});
  }
  double overall = r.kind.confidence;
  for (const auto& d : r.flags) overall = std::min(overall, d.confidence);
  // The whole reading: every decision with its value and confidence (the features are in the
  // tags above, and in there only for unsure decisions).
  const bool sure = rec->weak.empty();
  add_deferred("letter_reading", sure ? "sure" : "review", kLetterRule, overall, ReadingEvidence::kLetter);
  if (!sure) add_deferred("needs_review", "", kReviewRule, overall, ReadingEvidence::kReview);
  std::shared_ptr<const DeferredEvidence> shared = std::move(rec);
  for (size_t i = first; i < tags->size(); ++i) (*tags)[i].deferred = shared;
}

// domain.md §3a invariants over the final tags: group => complex; anonymous => denunciation.
template <typename J>
void ApplyInvariants(const J& data, const std::string& version, std::vector<TagHit>* tags) {
  auto find = [&](const char* tag) {
    return std::find_if(tags->begin(), tags->end(), [&](const TagHit& h) { return h.tag == tag; });
  };
  auto group = find("group_petition");
  if (group != tags->end() && find("complexity") == tags->end()) {
    TagHit h;
    h.tag = "complexity";
    h.value = "complex";
    h.rule_id = "invariant.group-implies-complex";
    h.rules_version = version;
    h.confidence = group->confidence;
    h.evidence = json::array({{{"tag", "group_petition"}, {"rule", group->rule_id}}});
    tags->push_back(std::move(h));
  }
  std::string kind;
  if (auto k = StringField(data, "petition_kind")) kind = *k;
  if (kind.empty())
    if (auto t = find("petition_kind"); t != tags->end()) kind = t->value;
  if (kind.empty())
    if (auto t = find("text_kind"); t != tags->end()) kind = t->value;
  if (kind != "denunciation") {
    tags->erase(std::remove_if(tags->begin(), tags->end(),
                               [](const TagHit& h) { return h.tag == "anonymous_denunciation"; }),
                tags->end());
  }
}

}  // namespace

RuleSet::RuleSet() : impl_(std::make_unique<Impl>()) {}
RuleSet::~RuleSet() = default;
size_t RuleSet::rule_count() const { return impl_->rules.size(); }
size_t RuleSet::keyword_count() const { return impl_->matcher.size(); }

Result<std::shared_ptr<const RuleSet>> RuleSet::FromJson(const nlohmann::json& rules,
                                                         const std::string& schemas_dir,
                                                         const std::string& base_dir) {
  std::shared_ptr<RuleSet> rs(new RuleSet());
  try {
    Loader loader(rules, schemas_dir, base_dir);
    Status st = loader.Load(rs->impl_.get(), &rs->version_);
    if (!st.ok()) return st;
  } catch (const std::exception& e) {
    return Status::InvalidInput(std::string("Tệp luật không hợp lệ: ") + e.what());
  }
  return std::shared_ptr<const RuleSet>(std::move(rs));
}

Result<std::shared_ptr<const RuleSet>> RuleSet::FromFile(const std::string& path,
                                                         const std::string& schemas_dir,
                                                         const JsonReadLimits& limits) {
  auto doc = ReadJsonFile(path, limits);
  if (!doc.ok()) return Status::InvalidInput(doc.status().message());
  std::string base = ".";
  if (size_t slash = path.rfind('/'); slash != std::string::npos) base = path.substr(0, slash);
  if (base.empty()) base = "/";
  return FromJson(doc.value(), schemas_dir, base);
}

std::shared_ptr<const LetterModel> RuleSet::letter_model() const {
  return impl_->reading ? impl_->reading->model : nullptr;
}

namespace {

// RuleSet::Evaluate over `event` (nlohmann's document or an arena view).
template <typename J>
std::vector<TagHit> EvaluateRules(const RuleSet::Impl& im, const std::string& version_,
                                  std::string_view kind, const J& event, int64_t now_ms,
                                  const json* review) {
  std::vector<TagHit> tags;
  static const J kEmpty = [] {
    if constexpr (std::is_same_v<J, json>) {
      return json::object();
    } else {
      static JsonArena arena;  // an empty object: nothing is allocated
      return *ParseArenaJsonBounded("{}", 1, &arena).value();
    }
  }();
  const J* data = &kEmpty;
  if (const J* d = jview::Find(event, "data"); d && d->is_object()) data = d;
  const Record record{kind, now_ms};
  Eval<J> ev{im, record, event, data, std::vector<FieldMatches>(im.text_fields.size()), &tags};
  const int kind_index = KindIndex(kind);
  const uint8_t kind_bit = static_cast<uint8_t>(1u << kind_index);
  std::vector<char> triggered(im.rules.size(), 0);
  for (int fid : im.trigger_fields_by_kind[kind_index]) {
    for (const auto& h : ev.Field(fid).hits) {
      for (const auto& [rule, field] : im.kw_triggers[h.keyword]) {
        if (field == fid) triggered[rule] = 1;
      }
    }
  }
  if (im.reading && (im.reading->kind_mask & kind_bit)) {
    const text::MatchText* shared[2] = {nullptr, nullptr};
    const int ids[2] = {im.TitleField(), im.ContentField()};
    for (int k = 0; k < 2; ++k) {
      if (ids[k] < 0) continue;
      const FieldMatches& fm = ev.Field(ids[k]);
      if (fm.prepared) shared[k] = &fm.mt;
    }
    ReadLetter(*im.reading, review, *data, version_, shared[0], shared[1], &tags);
  }
  const size_t reading_end = tags.size();
  std::vector<std::string_view> groups_done;
  std::vector<json> evidence;
  for (size_t idx : im.order) {
    const Rule& rule = im.rules[idx];
    if (im.kind_mask[idx] && !(im.kind_mask[idx] & kind_bit)) continue;
    if (im.gated[idx] && !triggered[idx]) continue;
    if (!rule.group.empty() &&
        std::find(groups_done.begin(), groups_done.end(), rule.group) != groups_done.end()) {
      continue;
    }
    evidence.clear();
    if (!ev.Test(rule.when, &evidence)) continue;
    TagHit hit;
    hit.tag = rule.tag;
    hit.value = rule.value;
    if (rule.value_from) {
      std::vector<json> vals = ev.Values(*rule.value_from);
      if (vals.empty() || IsEmpty(vals[0])) continue;  // nothing to copy: no tag
      hit.value = ToText(vals[0]);
    }
    hit.rule_id = rule.id;
    hit.rules_version = version_;
    hit.evidence = json(std::move(evidence));
    evidence = {};
    if (!rule.group.empty()) groups_done.push_back(rule.group);
    // A rule's hit replaces the reading's hit of the same tag and value (or its kind).
    for (size_t i = 0; i < std::min(reading_end, tags.size()); ++i) {
      if (tags[i].tag == hit.tag && (tags[i].value == hit.value || hit.tag == "text_kind") &&
          tags[i].confidence >= 0) {
        tags.erase(tags.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    tags.push_back(std::move(hit));
  }
  if (im.reading && (im.reading->kind_mask & kind_bit)) ApplyInvariants(*data, version_, &tags);
  return tags;
}

}  // namespace

std::vector<TagHit> RuleSet::Evaluate(const RecordView& record) const {
  return EvaluateRules(*impl_, version_, record.kind, record.event, record.now_ms, record.review);
}

std::vector<TagHit> RuleSet::Evaluate(const ArenaRecordView& record) const {
  return EvaluateRules(*impl_, version_, record.kind, record.event, record.now_ms, record.review);
}

void DeferredEvidence::AppendRendered(int part, std::string* out) const { AppendJson(Render(part), out); }

void TagHit::AppendJsonText(std::string* out) const {
  // ToJson's members in nlohmann's (sorted) order.
  out->push_back('{');
  if (confidence >= 0) {
    out->append("\"confidence\":");
    AppendJsonDouble(confidence, out);
    out->push_back(',');
  }
  out->append("\"evidence\":");
  if (deferred)
    deferred->AppendRendered(deferred_part, out);
  else
    AppendJson(evidence, out);
  out->append(",\"rule\":");
  AppendJsonString(rule_id, out);
  out->append(",\"rules_version\":");
  AppendJsonString(rules_version, out);
  out->append(",\"tag\":");
  AppendJsonString(tag, out);
  out->append(",\"value\":");
  AppendJsonString(value, out);
  out->push_back('}');
}

nlohmann::json TagHit::ToJson() const {
  json j = json::object();
  Put(&j, "tag", tag);
  Put(&j, "value", value);
  Put(&j, "rule", rule_id);
  Put(&j, "rules_version", rules_version);
  Put(&j, "evidence", EvidenceJson());
  if (confidence >= 0) Put(&j, "confidence", confidence);
  return j;
}

Result<TagHit> TagHit::FromJson(const nlohmann::json& j) {
  try {
    TagHit h;
    h.tag = j.at("tag").get<std::string>();
    h.value = j.value("value", "");
    h.rule_id = j.value("rule", "");
    h.rules_version = j.value("rules_version", "");
    h.evidence = j.value("evidence", json::array());
    h.confidence = j.value("confidence", -1.0);
    return h;
  } catch (const std::exception& e) {
    return Status::InvalidInput(std::string("nhãn không hợp lệ: ") + e.what());
  }
}

nlohmann::json TagDiff::ToJson() const {
  auto brief = [](const TagHit& h) {
    return json{{"tag", h.tag},
                {"value", h.value},
                {"rule", h.rule_id},
                {"rules_version", h.rules_version}};
  };
  json out = {{"added", json::array()}, {"removed", json::array()}, {"changed", json::array()}};
  for (const auto& h : added) out["added"].push_back(brief(h));
  for (const auto& h : removed) out["removed"].push_back(brief(h));
  for (const auto& [o, n] : changed) {
    out["changed"].push_back({{"tag", o.tag},
                              {"old_value", o.value},
                              {"new_value", n.value},
                              {"old_rule", o.rule_id},
                              {"new_rule", n.rule_id},
                              {"old_rules_version", o.rules_version},
                              {"new_rules_version", n.rules_version}});
  }
  return out;
}

TagDiff DiffTags(const std::vector<TagHit>& old_tags, const std::vector<TagHit>& new_tags) {
  TagDiff d;
  std::map<std::string, std::vector<const TagHit*>> before, after;
  for (const auto& h : old_tags) before[h.tag].push_back(&h);
  for (const auto& h : new_tags) after[h.tag].push_back(&h);
  std::set<std::string> names;
  for (const auto& [k, v] : before) names.insert(k);
  for (const auto& [k, v] : after) names.insert(k);
  for (const std::string& name : names) {
    std::vector<const TagHit*> o = before[name], n = after[name];
    auto has = [](const std::vector<const TagHit*>& v, const std::string& value) {
      return std::any_of(v.begin(), v.end(), [&](const TagHit* h) { return h->value == value; });
    };
    std::vector<const TagHit*> gone, fresh;
    for (const TagHit* h : o) {
      if (!has(n, h->value)) gone.push_back(h);
    }
    for (const TagHit* h : n) {
      if (!has(o, h->value)) fresh.push_back(h);
    }
    // Pair a vanished value with a new one of the same tag: a changed value.
    size_t pairs = std::min(gone.size(), fresh.size());
    for (size_t i = 0; i < pairs; ++i) d.changed.emplace_back(*gone[i], *fresh[i]);
    for (size_t i = pairs; i < gone.size(); ++i) d.removed.push_back(*gone[i]);
    for (size_t i = pairs; i < fresh.size(); ++i) d.added.push_back(*fresh[i]);
  }
  return d;
}

}  // namespace danvan::tagging
