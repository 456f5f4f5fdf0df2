#include "engine/tag_review_ops.h"

#include <algorithm>
#include <set>

#include "core/bounded_input.h"
#include "core/timeutil.h"
#include "engine/engine.h"
#include "tagging/letter_model.h"
#include "tagging/rules.h"

namespace danvan {
namespace {

using json = nlohmann::json;

json Key(const RecordKey& k) { return {{"source", k.source}, {"kind", k.kind}, {"id", k.id}}; }

json Envelope(const RecordRow& row) {
  return {{"kind", row.key.kind}, {"source", row.key.source}, {"id", row.key.id},
          {"unit", row.unit}, {"event_time", row.event_time},
          {"data", ParseStoredJson(row.data_json)}};
}

// The reading a record carries now, as {"kind","secondary","flags"}; null without one.
json CurrentReading(const json& tags) {
  if (!tags.is_array()) return nullptr;
  for (const auto& t : tags) {
    if (t.value("tag", "") != "letter_reading") continue;
    const json ev = t.value("evidence", json::array());
    if (!ev.is_array() || ev.empty() || !ev[0].is_object()) return nullptr;
    const json& r = ev[0];
    json out = {{"secondary", r.value("secondary", json::array())}, {"flags", json::object()}};
    if (r.contains("kind") && r["kind"].is_string()) {  // a reviewed reading
      out["kind"] = r["kind"];
      out["flags"] = r.value("flags", json::object());
    } else if (r.contains("kind") && r["kind"].is_object()) {  // the model's reading
      out["kind"] = r["kind"].value("value", "");
      for (const char* f : tagging::kLetterFlags) {
        bool v = false;
        if (auto it = r.find("flags"); it != r.end() && it->contains(f)) v = (*it)[f].value("value", false);
        out["flags"][f] = v;
      }
    } else {
      return nullptr;
    }
    for (const char* f : tagging::kLetterFlags)
      if (!out["flags"].contains(f)) out["flags"][f] = false;
    return out;
  }
  return nullptr;
}

bool IsKind(const json& v) {
  if (!v.is_string()) return false;
  for (const char* k : tagging::kLetterKinds)
    if (v == k) return true;
  return false;
}

bool HasTag(const json& tags, const char* name) {
  if (!tags.is_array()) return false;
  return std::any_of(tags.begin(), tags.end(), [&](const json& t) { return t.value("tag", "") == name; });
}

}  // namespace

// ---- TagReviewBook --------------------------------------------------------------------------

std::string TagReviewBook::KeyOf(const RecordKey& k) { return k.source + '\x1f' + k.kind + '\x1f' + k.id; }

json TagReviewBook::DecisionOf(const TagReviewRow& row) {
  json d = ParseStoredJson(row.decision);
  if (!d.is_object()) d = json::object();
  d["action"] = row.action;
  d["by"] = row.reviewer;
  d["why"] = row.why;
  d["at"] = FormatIsoTime(row.at_ms);
  return d;
}

Status TagReviewBook::Load(Store* store) {
  auto rows = store->ListTagReviews();
  if (!rows.ok()) return rows.status();
  std::lock_guard lock(mu_);
  by_key_.clear();
  for (const auto& r : rows.value()) by_key_[KeyOf(r.key)] = std::make_shared<const json>(DecisionOf(r));
  return Status::Ok();
}

std::shared_ptr<const json> TagReviewBook::Find(const RecordKey& key) const {
  std::lock_guard lock(mu_);
  if (by_key_.empty()) return nullptr;
  auto it = by_key_.find(KeyOf(key));
  return it == by_key_.end() ? nullptr : it->second;
}

void TagReviewBook::Put(const RecordKey& key, std::shared_ptr<const json> decision) {
  std::lock_guard lock(mu_);
  by_key_[KeyOf(key)] = std::move(decision);
}

void TagReviewBook::Erase(const RecordKey& key) {
  std::lock_guard lock(mu_);
  by_key_.erase(KeyOf(key));
}

size_t TagReviewBook::size() const {
  std::lock_guard lock(mu_);
  return by_key_.size();
}

// ---- the op ---------------------------------------------------------------------------------

Status RegisterTagReviewOps(Engine& engine) {
  engine.tag_reviews_ = std::make_shared<TagReviewBook>();
  Status st = engine.tag_reviews_->Load(engine.store_.get());
  if (!st.ok()) return st;
  Engine* e = &engine;
  engine.RegisterOp("tags.review", [e](const json& req) { return e->TagReviewOp(req); });
  return Status::Ok();
}

std::shared_ptr<const json> Engine::ReviewFor(const json& event) const {
  if (!tag_reviews_ || !event.is_object()) return nullptr;
  auto str = [&](const char* f) {
    auto it = event.find(f);
    return it != event.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  return tag_reviews_->Find({str("source"), str("kind"), str("id")});
}

std::shared_ptr<const json> Engine::ReviewFor(const ArenaJson& event) const {
  if (!tag_reviews_ || !event.is_object()) return nullptr;
  auto str = [&](const char* f) {
    const ArenaJson* v = event.FindString(f);
    return v ? std::string(v->string()) : std::string();
  };
  return tag_reviews_->Find({str("source"), str("kind"), str("id")});
}

Result<json> Engine::TagReviewOp(const json& req) {
  const std::string action = req.value("action", "list");
  if (action == "list") {
    int64_t limit = 100;
    if (req.contains("limit")) {
      if (!req["limit"].is_number_integer() || req["limit"].get<int64_t>() < 1)
        return Status::InvalidInput("/limit: cần số nguyên dương");
      limit = std::min<int64_t>(req["limit"].get<int64_t>(), 10000);
    }
    if (req.value("decided", false)) {
      auto rows = store_->ListTagReviews();
      if (!rows.ok()) return rows.status();
      json items = json::array();
      for (const auto& r : rows.value()) {
        if (static_cast<int64_t>(items.size()) >= limit) break;
        json d = TagReviewBook::DecisionOf(r);
        items.push_back({{"key", Key(r.key)}, {"decision", d},
                         {"proposed", ParseStoredJson(r.proposed)}});
      }
      return json{{"decided", rows->size()}, {"items", items}};
    }
    std::vector<std::string> scope = units_->codes();
    if (req.contains("unit")) {
      if (!req["unit"].is_string()) return Status::InvalidInput("/unit: cần mã đơn vị (chuỗi)");
      scope = units_->Descendants(req["unit"].get<std::string>(), INT64_MIN / 4, INT64_MAX / 4);
      if (scope.empty()) scope.push_back(req["unit"].get<std::string>());
    }
    json items = json::array();
    int64_t pending = 0;
    for (const char* kind : {"petition", "reception"}) {
      Status st = store_->ForEachRecord(kind, scope, [&](const RecordRow& row) {
        json tags = ParseStoredJson(row.tags_json);
        if (!HasTag(tags, "needs_review") || tag_reviews_->Find(row.key)) return;
        ++pending;
        if (static_cast<int64_t>(items.size()) >= limit) return;
        json weak = json::array();
        for (const auto& t : tags)
          if (t.value("tag", "") == "needs_review" && t.contains("evidence") && !t["evidence"].empty())
            weak = t["evidence"][0].value("weak", json::array());
        json data = ParseStoredJson(row.data_json);
        std::string title = data.is_object() ? data.value("title", "") : "";
        items.push_back({{"key", Key(row.key)}, {"unit", row.unit}, {"title", title},
                         {"reading", CurrentReading(tags)}, {"weak", weak}});
      });
      if (!st.ok()) return st;
    }
    return json{{"pending", pending}, {"items", items}};
  }
  if (action != "confirm" && action != "correct")
    return Status::InvalidInput("/action: cần \"list\", \"confirm\" hoặc \"correct\"");

  std::vector<FieldError> errors;
  for (const char* f : {"source", "kind", "id", "by"})
    if (!req.contains(f) || !req[f].is_string() || req[f].get<std::string>().empty())
      errors.push_back({std::string("/") + f, "thiếu trường bắt buộc (chuỗi khác rỗng)"});
  if (action == "correct" && (!req.contains("why") || !req["why"].is_string() || req["why"].get<std::string>().empty()))
    errors.push_back({"/why", "sửa nhãn cần nêu lý do"});
  if (req.contains("why") && !req["why"].is_string()) errors.push_back({"/why", "cần chuỗi"});
  if (action == "correct" && (!req.contains("set") || !req["set"].is_object()))
    errors.push_back({"/set", "sửa nhãn cần đối tượng 'set' (kind, secondary, flags)"});
  if (!errors.empty()) return Status::InvalidInput(JoinFieldErrors(errors));
  RecordKey key{req["source"], req["kind"], req["id"]};
  if (key.kind != "petition" && key.kind != "reception")
    return Status::InvalidInput("/kind: chỉ rà soát đơn thư (petition) và buổi tiếp công dân (reception)");

  auto tx_or = store_->Begin();
  if (!tx_or.ok()) return tx_or.status();
  auto& tx = *tx_or.value();
  auto row_or = tx.GetRecord(key);
  if (!row_or.ok()) return row_or.status();
  if (!row_or.value() || !row_or.value()->has_item)
    return Status::NotFound("không có bản ghi " + key.source + "/" + key.kind + "/" + key.id);
  RecordRow row = *row_or.value();
  const json old_tags = ParseStoredJson(row.tags_json);
  json decision = CurrentReading(old_tags);
  if (decision.is_null())
    return Status::InvalidInput("/id: bản ghi không có kết quả đọc đơn (letter_reading) để rà soát");
  const json proposed = decision;
  if (action == "correct") {
    const json& set = req["set"];
    for (auto it = set.begin(); it != set.end(); ++it)
      if (it.key() != "kind" && it.key() != "secondary" && it.key() != "flags")
        errors.push_back({"/set/" + it.key(), "không hỗ trợ; dùng kind, secondary, flags"});
    if (set.contains("kind")) {
      if (!IsKind(set["kind"]))
        errors.push_back({"/set/kind", "cần complaint, denunciation, petition hoặc feedback"});
      else
        decision["kind"] = set["kind"];
    }
    if (set.contains("secondary")) {
      if (!set["secondary"].is_array()) {
        errors.push_back({"/set/secondary", "cần mảng loại đơn"});
      } else {
        for (size_t i = 0; i < set["secondary"].size(); ++i)
          if (!IsKind(set["secondary"][i]))
            errors.push_back({"/set/secondary/" + std::to_string(i), "loại đơn không hợp lệ"});
        decision["secondary"] = set["secondary"];
      }
    }
    if (set.contains("flags")) {
      if (!set["flags"].is_object()) {
        errors.push_back({"/set/flags", "cần đối tượng {cờ: true/false}"});
      } else {
        for (auto it = set["flags"].begin(); it != set["flags"].end(); ++it) {
          bool known = std::any_of(tagging::kLetterFlags.begin(), tagging::kLetterFlags.end(),
                                   [&](const char* f) { return it.key() == f; });
          if (!known)
            errors.push_back({"/set/flags/" + it.key(), "cờ không có (complex, group, staff_conduct, anonymous, reraised)"});
          else if (!it->is_boolean())
            errors.push_back({"/set/flags/" + it.key(), "cần true hoặc false"});
          else
            decision["flags"][it.key()] = *it;
        }
      }
    }
    if (errors.empty()) {
      // domain.md §3a invariants.
      if (decision["flags"].value("group", false) && !decision["flags"].value("complex", false))
        errors.push_back({"/set/flags/complex", "đơn đông người là vụ việc phức tạp: complex phải là true"});
      if (decision["flags"].value("anonymous", false) && decision["kind"] != "denunciation")
        errors.push_back({"/set/flags/anonymous", "chỉ đơn tố cáo mới là tố cáo nặc danh"});
    }
    if (!errors.empty()) return Status::InvalidInput(JoinFieldErrors(errors));
    // The secondary kinds never repeat the primary.
    json sec = json::array();
    for (const auto& k : decision["secondary"])
      if (k != decision["kind"] && std::find(sec.begin(), sec.end(), k) == sec.end()) sec.push_back(k);
    decision["secondary"] = sec;
  }
  const int64_t now = hooks_.clock->NowMs();
  TagReviewRow review;
  review.key = key;
  review.action = action;
  review.decision = decision.dump();
  review.proposed = proposed.dump();
  review.reviewer = req["by"].get<std::string>();
  review.why = req.value("why", "");
  review.at_ms = now;
  auto full = std::make_shared<const json>(TagReviewBook::DecisionOf(review));
  Status st = tx.PutTagReview(review);
  if (!st.ok()) return st;
  json tags = json::array();
  const json envelope = Envelope(row);
  for (const auto& h : rules()->Evaluate({key.kind, envelope, now, full.get()})) tags.push_back(h.ToJson());
  json body = {{"record", Key(key)}, {"unit", row.unit}, {"action", action}, {"by", review.reviewer},
               {"why", review.why}, {"proposed", proposed}, {"decision", decision},
               {"at", FormatIsoTime(now)}, {"old_tags", old_tags}, {"new_tags", tags}};
  auto j = tx.AppendJournal({0, "tag_review", key.source + "|" + key.kind + "|" + key.id, body.dump(), now});
  if (!j.ok()) return j.status();
  row.tags_json = tags.dump();
  auto hist = tx.GetHistory(row.pk);
  if (!hist.ok()) return hist.status();
  std::vector<indicators::Delta> deltas;
  Evaluation ev;
  st = Reevaluate(tx, row, hist.value(), now, &ev, &deltas);
  if (!st.ok()) return st;
  auto put = tx.PutRecord(row);
  if (!put.ok()) return put.status();
  // The book is updated before the commit so that a submit of the same record racing this
  // call already tags with the decision; undone when the commit fails.
  auto previous = tag_reviews_->Find(key);
  tag_reviews_->Put(key, full);
  st = tx.Commit();
  if (!st.ok()) {
    if (previous)
      tag_reviews_->Put(key, previous);
    else
      tag_reviews_->Erase(key);
    return st;
  }
  ApplyDeltas(deltas);
  hooks_.logger.Log(LogLevel::kInfo, "tag_review", {{"record", Key(key)}, {"action", action}, {"by", review.reviewer}});
  return json{{"key", Key(key)}, {"action", action}, {"decision", *full}, {"tags", tags}};
}

}  // namespace danvan
