// Tags: the tagging of an event, rule reloads and the background re-tagging, and the tag
// ops (retag status, changes, counts, explain).
#include "engine/engine.h"

#include <pthread.h>

#include "core/bounded_input.h"
#include "core/json_write.h"
#include "core/timeutil.h"
#include "engine/config_reload.h"
#include "engine/engine_internal.h"
#include "engine/query_args.h"

namespace danvan {

void Engine::TagEvent(const std::string& kind, const ArenaJson& event, int64_t now,
                      std::string* tags_json, nlohmann::json* tag_values) const {
  auto rs = rules();
  auto review = ReviewFor(event);
  // == the array of the hits' ToJson() dumped (strict: invalid UTF-8 throws, as dump() did).
  tags_json->assign("[");
  *tag_values = nlohmann::json::array();
  for (const auto& hit : rs->Evaluate(tagging::ArenaRecordView{kind, event, now, review.get()})) {
    if (tags_json->size() > 1) tags_json->push_back(',');
    hit.AppendJson(tags_json);
    nlohmann::json value = nlohmann::json::object();
    value.emplace("tag", hit.tag);
    value.emplace("value", hit.value);
    tag_values->push_back(std::move(value));
  }
  tags_json->push_back(']');
}

namespace {

nlohmann::json EnvelopeOf(const RecordRow& row) {
  return {{"kind", row.key.kind}, {"source", row.key.source}, {"id", row.key.id},
          {"unit", row.unit}, {"event_time", row.event_time},
          {"data", ParseStoredJson(row.data_json)}};
}

std::vector<tagging::TagHit> HitsOf(const std::string& tags_json) {
  std::vector<tagging::TagHit> hits;
  nlohmann::json arr = ParseStoredJson(tags_json);
  if (!arr.is_array()) return hits;
  for (const auto& t : arr) {
    auto h = tagging::TagHit::FromJson(t);
    if (h.ok()) hits.push_back(h.value());
  }
  return hits;
}

}  // namespace

Result<nlohmann::json> Engine::ReloadRulesOp(const nlohmann::json& req) {
  const auto live = live_config();
  auto path_arg = QueryArgs(req).String("path", live->rules_file);
  if (!path_arg.ok()) return path_arg.status();
  const std::string path = path_arg.value();
  // A pack whose files (the rule file and the files it names) are byte for byte the ones in
  // force is the pack in force: re-tagging with it reuses the loaded rule set instead of parsing
  // the letter model again. A second copy of the model, and the ~17 MB its parse leaves as free
  // heap the allocator keeps, was most of the re-tagging's memory growth (issue 16: 80 -> 132
  // MiB at 10M events). The configuration reload keeps the pack the same way (config_reload.cc).
  auto sha = RulePackSha256(path, config_.data_limits);
  std::shared_ptr<const tagging::RuleSet> in_force;
  if (sha.ok()) {
    std::lock_guard lock(rules_mu_);
    if (rules_ && rules_sha256_ == sha.value()) in_force = rules_;
  }
  Result<std::shared_ptr<const tagging::RuleSet>> loaded = in_force;
  // A bad rule file leaves the rules in force untouched. The file must be a regular file within
  // limits.max_data_file_bytes and limits.max_json_depth.
  if (!in_force) loaded = tagging::RuleSet::FromFile(path, config_.schemas_dir, config_.data_limits);
  if (!loaded.ok()) return Status::InvalidInput("tệp quy tắc không hợp lệ, giữ nguyên quy tắc đang dùng:\n" + loaded.status().message());
  auto old_version = SwapRulesAndRetag(loaded.value(), sha.ok() ? sha.value() : "", /*replace_running=*/false);
  if (!old_version.ok()) return old_version.status();
  hooks_.logger.Log(LogLevel::kInfo, "rules_reloaded",
                    {{"from", old_version.value()}, {"to", loaded.value()->version()}, {"path", path}});
  return nlohmann::json{{"previous_version", old_version.value()}, {"version", loaded.value()->version()},
                        {"rules", loaded.value()->rule_count()}, {"retagging", "started"}};
}

Result<std::string> Engine::SwapRulesAndRetag(std::shared_ptr<const tagging::RuleSet> rs,
                                              const std::string& rules_sha256, bool replace_running) {
  std::lock_guard lock(retag_mu_);
  if (retag_running_ && !replace_running)
    return Status::Conflict("đang gắn nhãn lại theo phiên bản " + retag_version_ + "; thử lại sau");
  // A configuration reload stops the re-tagging in progress between chunks (RetagLoop checks
  // retag_running_) and starts over with the new pack: every record ends tagged by it.
  retag_running_ = false;
  if (retag_thread_.joinable()) retag_thread_.join();
  std::string old_version;
  {
    std::lock_guard rl(rules_mu_);
    old_version = rules_->version();
    rules_ = rs;
    rules_sha256_ = rules_sha256;
  }
  retag_version_ = rs->version();
  retag_processed_ = 0;
  retag_changed_ = 0;
  retag_running_ = true;
  // The total is counted by the loop before its first chunk (0 until then).
  retag_progress_.Begin(0, "quy tắc " + rs->version(), hooks_.clock->NowMs());
  retag_thread_ = std::thread([this, rs] { RetagLoop(rs); });
  return old_version;
}

void Engine::RetagLoop(std::shared_ptr<const tagging::RuleSet> rs) {
  pthread_setname_np(pthread_self(), "danvan-retag");
  // Re-tags every stored record in small transactions so submits interleave; each change is
  // journalled (old and new tags with their rule-file versions) and the indicators follow.
  // Memory is bounded by the chunk, not the table (issue 16: 863 MiB at 1M events when every
  // record was read first): the records are walked in pages of kRetagChunk keys by pk, each
  // page re-read and re-tagged inside its own transaction. Records stored after the walk has
  // passed their pk are tagged by the rules in force at their intake (these rules already).
  constexpr int64_t kRetagChunk = 200;
  bool failed = false;
  {
    // The total, for the progress (the per-unit counts the stats op shows).
    auto stats = store_->Stats();
    int64_t total = 0;
    if (stats.ok())
      for (const auto& c : stats->records) total += c.count;
    else
      failed = true;
    retag_progress_.SetTotal(total);
  }
  int64_t after_pk = 0;
  while (!failed && retag_running_) {
    auto page = store_->RecordPksAfter(after_pk, kRetagChunk);
    if (!page.ok()) {
      failed = true;
      break;
    }
    const std::vector<int64_t>& pks = page.value();
    if (pks.empty()) break;
    after_pk = pks.back();
    std::vector<indicators::Delta> deltas;
    auto tx_or = store_->Begin();
    if (!tx_or.ok()) {
      failed = true;
      break;
    }
    auto& tx = *tx_or.value();
    const int64_t now = hooks_.clock->NowMs();
    for (const int64_t pk : pks) {
      auto row_or = tx.GetRecordByPk(pk);
      if (!row_or.ok() || !row_or.value()) continue;
      RecordRow row = *row_or.value();
      ++retag_processed_;
      if (!row.has_item) continue;
      nlohmann::json tags = nlohmann::json::array();
      const nlohmann::json envelope = EnvelopeOf(row);
      auto review = ReviewFor(envelope);
      for (const auto& h : rs->Evaluate({row.key.kind, envelope, now, review.get()})) tags.push_back(h.ToJson());
      std::string new_tags = tags.dump();
      if (new_tags == row.tags_json) continue;
      std::vector<tagging::TagHit> new_hits;
      for (const auto& t : tags) new_hits.push_back(tagging::TagHit::FromJson(t).value());
      tagging::TagDiff diff = tagging::DiffTags(HitsOf(row.tags_json), new_hits);
      row.tags_json = new_tags;
      auto hist = tx.GetHistory(row.pk);
      if (!hist.ok()) { failed = true; break; }
      Evaluation ev;
      if (!Reevaluate(tx, row, hist.value(), now, &ev, &deltas).ok() || !tx.PutRecord(row).ok()) {
        failed = true;
        break;
      }
      if (!diff.empty()) {
        ++retag_changed_;
        nlohmann::json body = {{"record", KeyJson(row.key)}, {"unit", row.unit},
                               {"rules_version", rs->version()}, {"diff", diff.ToJson()},
                               {"at", FormatIsoTime(now)}};
        if (!tx.AppendJournal({0, "tag_change", rs->version() + "|" + row.key.kind + "|" + row.key.id,
                               body.dump(), now}).ok()) {
          failed = true;
          break;
        }
      }
    }
    if (failed || !tx.Commit().ok()) {
      failed = true;
      break;
    }
    ApplyDeltas(deltas);
    retag_progress_.Advance(static_cast<int64_t>(pks.size()));
    retag_progress_.SetDetail("changed", retag_changed_.load());
  }
  retag_progress_.SetDetail("changed", retag_changed_.load());
  retag_progress_.SetDetail("rules_version", rs->version());
  if (failed) {
    hooks_.logger.Log(LogLevel::kError, "retag_failed", {{"version", rs->version()}});
    retag_progress_.Finish(JobProgress::State::kFailed, "gắn nhãn lại thất bại (xem nhật ký retag_failed)",
                           hooks_.clock->NowMs());
  } else {
    // Stopped between chunks: a newer rule pack replaced this one, or close.
    retag_progress_.Finish(retag_running_ ? JobProgress::State::kDone : JobProgress::State::kCancelled, "",
                           hooks_.clock->NowMs());
  }
  hooks_.logger.Log(LogLevel::kInfo, "retag_done", {{"version", rs->version()},
                                                    {"processed", retag_processed_.load()},
                                                    {"changed", retag_changed_.load()}});
  retag_running_ = false;
}

Result<nlohmann::json> Engine::RetagStatusOp() {
  std::lock_guard lock(retag_mu_);
  const nlohmann::json progress = retag_progress_.ToJson();
  return nlohmann::json{{"rules_version", rules()->version()}, {"running", retag_running_.load()},
                        {"processed", retag_processed_.load()}, {"changed", retag_changed_.load()},
                        {"total", progress["total"]}, {"state", progress["state"]}};
}

Result<nlohmann::json> Engine::TagChangesOp(const nlohmann::json& req) {
  const QueryArgs args(req);
  auto version_arg = args.String("version", rules()->version(), 256);
  if (!version_arg.ok()) return version_arg.status();
  auto limit_arg = args.Int("limit", 1000, 0, 1000000);
  if (!limit_arg.ok()) return limit_arg.status();
  const std::string version = version_arg.value();
  auto rows = store_->ListJournal("tag_change", version + "|");
  if (!rows.ok()) return rows.status();
  const int64_t limit = limit_arg.value();
  nlohmann::json items = nlohmann::json::array();
  for (const auto& r : rows.value()) {
    if (static_cast<int64_t>(items.size()) >= limit) break;
    items.push_back(ParseStoredJson(r.body));
  }
  return nlohmann::json{{"version", version}, {"changed_records", rows->size()}, {"items", items}};
}

Result<nlohmann::json> Engine::TagCountsOp(const nlohmann::json& req) {
  const QueryArgs args(req);
  auto unit_arg = args.Key("unit", units_->Roots().empty() ? "" : units_->Roots()[0]);
  if (!unit_arg.ok()) return unit_arg.status();
  auto kind_arg = args.OneOf("kind", {"dossier", "petition", "reception", "dvk_model", "plan_task"});
  if (!kind_arg.ok()) return kind_arg.status();
  const std::string root = unit_arg.value();
  std::vector<std::string> scope = units_->Descendants(root, INT64_MIN / 4, INT64_MAX / 4);
  if (scope.empty()) scope.push_back(root);
  std::map<std::string, std::map<std::string, int64_t>> by_unit;
  std::map<std::string, int64_t> total;
  Status st = store_->ForEachRecord(kind_arg.value(), scope, [&](const RecordRow& row) {
    nlohmann::json tags = ParseStoredJson(row.tags_json);
    if (!tags.is_array()) return;
    for (const auto& t : tags) {
      if (!t.is_object()) continue;
      auto text = [&](const char* k) {
        auto it = t.find(k);
        return it != t.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      const std::string name = text("tag"), value = text("value");
      const std::string label = value.empty() ? name : name + "=" + value;
      ++by_unit[row.unit][label];
      ++total[label];
    }
  });
  if (!st.ok()) return st;
  return nlohmann::json{{"unit", root}, {"kind", kind_arg.value()}, {"rules_version", rules()->version()},
                        {"total", total}, {"by_unit", by_unit}};
}

Result<nlohmann::json> Engine::ExplainTagsOp(const nlohmann::json& req) {
  auto rec = RecordGet(req);
  if (!rec.ok()) return rec.status();
  return nlohmann::json{{"key", rec.value()["record"]["key"]}, {"tags", rec.value()["record"]["tags"]},
                        {"rules_version", rules()->version()}};
}

}  // namespace danvan
