// The engine's record work outside intake: evaluation of a record (deadline class,
// contributions), the in-memory indicator index (rebuild, fold), the deadline scan and the
// re-evaluation when deadline inputs change, and queueing a record's export to the portal.
#include "engine/engine.h"

#include "core/bounded_input.h"
#include "core/json_view.h"
#include "core/json_write.h"
#include "core/timeutil.h"
#include "engine/config_reload.h"
#include "engine/engine_internal.h"
#include "engine/report_ops.h"
#include "postgres/pg_store.h"

namespace danvan {

Result<int> Engine::ScanDeadlines() {
  std::lock_guard scan(scan_mu_);
  const int64_t now = hooks_.clock->NowMs();
  auto due = store_->DueWatches(now, 1000);
  if (!due.ok()) return due.status();
  if (due->empty()) return 0;
  auto ev = evaluator();
  std::vector<std::string> alerts;
  std::vector<indicators::Delta> deltas;
  {
    auto tx_or = store_->Begin();
    if (!tx_or.ok()) return tx_or.status();
    auto& tx = *tx_or.value();
    // One node scans at a time (several nodes on one PostgreSQL database): another node's scan
    // in progress does this one's work. Once the lock is held, the watches are read again: a
    // scan that ran meanwhile committed its alerts (`alerted`) and moved its watches on.
    auto mine = tx.TryLockJob("deadline_scan");
    if (!mine.ok()) return mine.status();
    if (!mine.value()) return 0;
    due = store_->DueWatches(now, 1000);
    if (!due.ok()) return due.status();
    for (const auto& w : due.value()) {
      {
        std::lock_guard lock(lifecycle_mu_);
        if (stopping_) break;
      }
      auto row_or = tx.GetRecordByPk(w.record_pk);
      if (!row_or.ok()) return row_or.status();
      if (!row_or.value()) continue;
      RecordRow row = *row_or.value();
      auto hist = tx.GetHistory(row.pk);
      if (!hist.ok()) return hist.status();
      Evaluation evaluation;
      Status st = Reevaluate(tx, row, hist.value(), now, &evaluation, &deltas);
      if (!st.ok()) return st;
      auto put = tx.PutRecord(row);
      if (!put.ok()) return put.status();
      // One alert per class and record, and one per legal step that fell overdue, even if
      // the scan runs again (`alerted` lists the classes and "step:<rule_id>" already told).
      std::string alerted = w.alerted;
      auto told = [&](const std::string& token) {
        return ("," + alerted + ",").find("," + token + ",") != std::string::npos;
      };
      const std::string told_before = alerted;
      const bool class_alert =
          (evaluation.cls == "due_soon" || evaluation.cls == "open_overdue") && !told(evaluation.cls);
      const nlohmann::json deadline = evaluation.DeadlineJson();
      if (const auto steps = deadline.find("steps"); steps != deadline.end() && steps->is_array()) {
        for (const auto& step : *steps) {
          // The step the class is judged on is told by the class's own alert below.
          if (step.value("state", "") != "overdue" || step.value("used_for_classification", false))
            continue;
          const std::string token = "step:" + step.value("rule_id", "");
          if (told(token)) continue;
          alerted += (alerted.empty() ? "" : ",") + token;
          nlohmann::json alert = {{"type", "step_overdue"},
                                  {"record", KeyJson(row.key)},
                                  {"unit", row.unit},
                                  {"rule_id", step.value("rule_id", "")},
                                  {"step", step.value("step", "")},
                                  {"description", step.value("description", "")},
                                  {"legal_basis", step.value("legal_basis", "")},
                                  {"due", step.value("due", "")},
                                  {"overdue_by_days", step.value("overdue_by_days", 0)},
                                  {"at", FormatIsoTime(now)}};
          alerts.push_back(alert.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        }
      }
      if (class_alert) alerted += (alerted.empty() ? "" : ",") + evaluation.cls;
      if (alerted != told_before) {
        st = tx.MarkAlerted(row.pk, alerted);
        if (!st.ok()) return st;
      }
      if (class_alert) {
        nlohmann::json alert = {{"type", evaluation.cls == "due_soon" ? "due_soon" : "overdue"},
                                {"record", KeyJson(row.key)},
                                {"unit", row.unit},
                                {"deadline", deadline},
                                {"at", FormatIsoTime(now)}};
        // Which legal step the alert is about (petitions); deadline.steps has every step's state.
        if (deadline.contains("rule_id")) alert["rule_id"] = deadline["rule_id"];
        alerts.push_back(alert.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
    }
    Status st = tx.Commit();
    if (!st.ok()) return st;
  }
  ApplyDeltas(deltas);
  // Callbacks run after the commit, with no storage lock held.
  for (const auto& a : alerts) {
    if (hooks_.alert) hooks_.alert(a);
    hooks_.logger.Log(LogLevel::kInfo, "alert", nlohmann::json::parse(a));
  }
  return static_cast<int>(alerts.size());
}

void Engine::ExpandDeltas(const RecordRow& row, const std::string& contrib_json, double sign,
                          std::vector<indicators::Delta>* out) const {
  nlohmann::json arr = ParseStoredJson(contrib_json);
  if (!arr.is_array()) return;
  std::vector<indicators::Contribution> contributions;
  contributions.reserve(arr.size());
  for (const auto& item : arr) contributions.push_back(indicators::Contribution::FromJson(item));
  ExpandDeltas(row, contributions, sign, out);
}

void Engine::ExpandDeltas(const RecordRow& row, const std::vector<indicators::Contribution>& contributions,
                          double sign, std::vector<indicators::Delta>* out) const {
  for (const indicators::Contribution& c : contributions) {
    const std::string& unit = c.unit.empty() ? row.unit : c.unit;
    bool first = true;
    for (const auto& u : units_->Chain(unit, c.day)) {
      out->push_back({c.series, u, c.day, sign * c.value, row.pk, first});
      first = false;
    }
  }
}

void Engine::ApplyDeltas(const std::vector<indicators::Delta>& deltas) {
  index_.Apply(deltas);
  record_index_.Apply(deltas);
}

Status Engine::Reevaluate(StoreTransaction& tx, RecordRow& row, const std::vector<HistoryRow>& history,
                          int64_t now, Evaluation* ev, std::vector<indicators::Delta>* deltas,
                          const std::string& old_unit) {
  const nlohmann::json data = ParseStoredJson(row.data_json);
  const nlohmann::json tags = ParseStoredJson(row.tags_json);
  EvaluateRow(row, history, data, tags, now, ev, deltas, old_unit);
  if (row.pk != 0) return tx.SetWatch(row.pk, ev->next_change_ms, ev->next_class);
  return Status::Ok();
}

template <typename Data>
void Engine::EvaluateRow(RecordRow& row, const std::vector<HistoryRow>& history,
                         const Data& data, const nlohmann::json& tags, int64_t now,
                         Evaluation* ev, std::vector<indicators::Delta>* deltas,
                         const std::string& old_unit) const {
  if (!row.has_item) {
    // Only progress steps so far: nothing to evaluate until the dossier item arrives; said the
    // same way as for a dossier not yet received (not counted, with the reason).
    *ev = Evaluation{};
    ev->cls = "not_counted";
    ev->deadline = {{"class", "not_counted"},
                    {"explanation", {{"class", "not_counted"},
                                     {"reasons", {{{"code", "no_dossier_item"}}}}}}};
  } else {
    *ev = evaluator()->Evaluate(row.key.kind, data, history, tags, row.event_time_ms, now, row.synced);
  }
  // == the array of each contribution's ToJson(), dumped; written without building it.
  std::string new_contrib = "[";
  for (const auto& c : ev->contributions) {
    if (new_contrib.size() > 1) new_contrib.push_back(',');
    new_contrib.push_back('[');
    AppendJsonString(c.series, &new_contrib);
    new_contrib.push_back(',');
    AppendJsonInt(c.day, &new_contrib);
    new_contrib.push_back(',');
    AppendJsonDouble(c.value, &new_contrib);
    if (!c.unit.empty()) {
      new_contrib.push_back(',');
      AppendJsonString(c.unit, &new_contrib);
    }
    new_contrib.push_back(']');
  }
  new_contrib.push_back(']');
  const bool moved = !old_unit.empty() && old_unit != row.unit;
  if (new_contrib != row.contrib_json || moved) {
    // The stored contributions were counted for the unit the record had then.
    RecordRow old_row;
    old_row.pk = row.pk;
    old_row.unit = moved ? old_unit : row.unit;
    ExpandDeltas(old_row, row.contrib_json, -1, deltas);
    ExpandDeltas(row, ev->contributions, +1, deltas);
    row.contrib_json = std::move(new_contrib);
  }
  // == DeadlineJson().dump(), without building the classification's document.
  row.deadline_json.clear();
  if (ev->has_deadline()) {
    ev->deadline_text.clear();
    ev->WriteDeadline(&row.deadline_json, nlohmann::json::error_handler_t::strict);
    ev->deadline_text = row.deadline_json;  // the submit answer's "deadline" (EventResult::Write)
  } else {
    row.deadline_json = "null";
  }
}

template void Engine::EvaluateRow(RecordRow&, const std::vector<HistoryRow>&, const nlohmann::json&,
                                  const nlohmann::json&, int64_t, Evaluation*,
                                  std::vector<indicators::Delta>*, const std::string&) const;
template void Engine::EvaluateRow(RecordRow&, const std::vector<HistoryRow>&, const ArenaJson&,
                                  const nlohmann::json&, int64_t, Evaluation*,
                                  std::vector<indicators::Delta>*, const std::string&) const;

ContribExpander Engine::Expander() const {
  return [this](int64_t pk, const std::string& unit, const std::string& contrib, double sign,
                std::vector<indicators::Delta>* out) {
    RecordRow row;
    row.pk = pk;
    row.unit = unit;
    ExpandDeltas(row, contrib, sign, out);
  };
}

Status Engine::RebuildIndex() {
  // The checkpoint (engine/index_checkpoint.h): cells plus the records changed since. One
  // written for another unit tree or tracked-series list, or none yet (a database from before
  // migration 9), is started over: every record pending, i.e. one full replay this time.
  auto stored = store_->GetSetting(kIndexCheckpointSetting);
  if (!stored.ok()) return stored.status();
  bool reset = !stored.value() || *stored.value() != index_fingerprint_;
  if (reset) {
    hooks_.logger.Log(LogLevel::kInfo, "index_checkpoint_reset",
                      {{"reason", stored.value() ? "fingerprint_changed" : "none_yet"}});
    Status st = ResetIndexCheckpoint(*store_, index_fingerprint_);
    if (!st.ok()) return st;
  }
  const auto started = std::chrono::steady_clock::now();
  auto load = LoadIndexCheckpoint(*store_, Expander(), &index_, &record_index_);
  if (!load.ok()) return load.status();
  if (load->bad_cells > 0) {
    // A damaged checkpoint is never used: start over from the records.
    hooks_.logger.Log(LogLevel::kError, "index_checkpoint_damaged", {{"bad_cells", load->bad_cells}});
    index_.Clear();
    record_index_.Clear();
    Status st = ResetIndexCheckpoint(*store_, index_fingerprint_);
    if (!st.ok()) return st;
    load = LoadIndexCheckpoint(*store_, Expander(), &index_, &record_index_);
    if (!load.ok()) return load.status();
    reset = true;
  }
  const auto loaded_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started).count();
  hooks_.logger.Log(LogLevel::kInfo, "indicators_loaded",
                    {{"cells", load->cells}, {"pending_replayed", load->pending}, {"ms", loaded_ms},
                     {"series_keys", index_.key_count()}, {"index_bytes", index_.memory_bytes()},
                     {"action_list_entries", record_index_.entry_count()},
                     {"action_list_bytes", record_index_.memory_bytes()}});
  // A fold's worth of pending rows or more (a reset, or a run that ended without its last
  // folds): fold them now, so the next open does not replay them again.
  if (load->pending >= live_config()->checkpoint_fold_rows) {
    if (dynamic_cast<ChangeFeed*>(store_.get()) == nullptr) {
      // One writer process (SQLite's store lock) and nothing written since the load: the
      // indexes are exactly cells + pending, so they are written as the new cells at once.
      Status st = WriteIndexCheckpointFromMemory(*store_, index_, record_index_, load.value());
      if (!st.ok()) return st;
    } else {
      // Other nodes may write meanwhile: fold in transactions that lock them out.
      for (;;) {
        auto folded = FoldPendingContributions(*store_, Expander(), ActionListSeries(), kFoldChunkRows);
        if (!folded.ok()) return folded.status();
        if (folded.value() == 0) break;
      }
    }
    hooks_.logger.Log(LogLevel::kInfo, "index_checkpoint_folded",
                      {{"rows", load->pending},
                       {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - started).count() - loaded_ms}});
  }
  last_fold_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

void Engine::FoldIndexIfDue(bool all, std::chrono::steady_clock::time_point deadline) {
  std::lock_guard lock(fold_mu_);
  const auto now = std::chrono::steady_clock::now();
  auto pending = store_->CountPendingContributions();
  if (!pending.ok()) {
    hooks_.logger.Log(LogLevel::kError, "index_checkpoint_count_failed", {{"error", pending.status().message()}});
    return;
  }
  const int64_t threshold = live_config()->checkpoint_fold_rows;
  if (pending.value() == 0) return;
  if (!all && pending.value() < threshold && now - last_fold_ < std::chrono::seconds(60)) return;
  // A stop's fold waits for the store's write lock no longer than the stop's timeout.
  FoldLimits limits;
  limits.begin_by = deadline;
  do {
    auto folded = FoldPendingContributions(*store_, Expander(), ActionListSeries(), kFoldChunkRows, limits);
    if (!folded.ok()) {
      // Nothing lost: the pending rows stay and the next open replays them.
      hooks_.logger.Log(LogLevel::kError, "index_checkpoint_fold_failed", {{"error", folded.status().message()}});
      return;
    }
    last_fold_ = std::chrono::steady_clock::now();
    if (folded.value() < kFoldChunkRows) break;
  } while (all && std::chrono::steady_clock::now() < deadline);
}

Status Engine::ReevaluateRecords(const std::vector<int64_t>& pks) {
  std::vector<indicators::Delta> deltas;
  {
    auto tx_or = store_->Begin();
    if (!tx_or.ok()) return tx_or.status();
    auto& tx = *tx_or.value();
    const int64_t now = hooks_.clock->NowMs();
    for (int64_t pk : pks) {
      auto row_or = tx.GetRecordByPk(pk);
      if (!row_or.ok()) return row_or.status();
      if (!row_or.value() || !row_or.value()->has_item) continue;
      RecordRow row = *row_or.value();
      auto hist = tx.GetHistory(row.pk);
      if (!hist.ok()) return hist.status();
      Evaluation ev;
      Status st = Reevaluate(tx, row, hist.value(), now, &ev, &deltas);
      if (!st.ok()) return st;
      auto put = tx.PutRecord(row);
      if (!put.ok()) return put.status();
    }
    Status st = tx.Commit();
    if (!st.ok()) return st;
  }
  ApplyDeltas(deltas);
  return Status::Ok();
}

namespace {

constexpr const char* kDeadlineInputsSetting = "deadlines.inputs_sha256";

}  // namespace

Status Engine::ReevaluateIfDeadlineInputsChanged(bool force) {
  auto sha = DeadlineInputsSha256(*live_config());
  if (!sha.ok()) return sha.status();
  {
    std::lock_guard lock(live_mu_);
    deadline_inputs_sha256_ = sha.value();
  }
  auto stored = store_->GetSetting(kDeadlineInputsSetting);
  if (!stored.ok()) return stored.status();
  if (!force && stored.value() && *stored.value() == sha.value()) return Status::Ok();
  std::vector<int64_t> pks;
  for (const char* kind : {"dossier", "petition"}) {
    Status st = store_->ForEachRecord(kind, units_->codes(), [&](const RecordRow& row) {
      if (row.has_item) pks.push_back(row.pk);
    });
    if (!st.ok()) return st;
  }
  auto remember = [this, sha = sha.value()]() -> Status {
    auto tx = store_->Begin();
    if (!tx.ok()) return tx.status();
    Status st = tx.value()->SetSetting(kDeadlineInputsSetting, sha);
    return st.ok() ? tx.value()->Commit() : st;
  };
  if (pks.empty()) return remember();
  hooks_.logger.Log(LogLevel::kInfo, "reevaluation_started",
                    {{"reason", "deadline_inputs_changed"}, {"records", pks.size()}});
  return reevaluation_->Start(
      "lịch làm việc, quy tắc thời hạn hoặc danh mục thủ tục đã thay đổi", std::move(pks), 200,
      [this](const std::vector<int64_t>& chunk) { return ReevaluateRecords(chunk); },
      [this, remember]() {
        Status st = remember();
        hooks_.logger.Log(st.ok() ? LogLevel::kInfo : LogLevel::kError, "reevaluation_done",
                          st.ok() ? nlohmann::json::object() : nlohmann::json{{"error", st.message()}});
      });
}

Result<nlohmann::json> Engine::DeadlineStatusOp() {
  std::lock_guard lock(live_mu_);
  return nlohmann::json{{"reevaluation", reevaluation_->StatusJson()},
                        {"inputs_sha256", deadline_inputs_sha256_}};
}

Result<nlohmann::json> Engine::DeadlineScanOp() {
  auto fired = ScanDeadlines();
  if (!fired.ok()) return fired.status();
  return nlohmann::json{{"alerts_fired", fired.value()}};
}

Status Engine::EnqueueExport(StoreTransaction& tx, const RecordRow& row, const std::string& old_status,
                             bool was_item, bool has_steps, const ParsedEvent& p, int64_t now,
                             int64_t* enqueued) {
  int64_t queued = 0;
  Status st = outbox_->EnqueueDossier(tx, row, now, &queued);
  if (!st.ok()) return st;
  *enqueued += queued;
  auto history = tx.GetHistory(row.pk);
  if (!history.ok()) return history.status();
  if (!was_item) {
    // Steps that arrived before the dossier item follow it now, in order.
    for (const auto& h : history.value()) {
      if (h.outcome != "step") continue;
      st = outbox_->EnqueueProgress(tx, row, ParseStoredJson(h.detail_json),
                                    now, Outbox::StepSource::kHost, &queued);
      if (!st.ok()) return st;
      *enqueued += queued;
    }
  }
  // A host that sends dossier items only: each status change becomes a progress step with its
  // true time (the event time), as the portal computes its indicators from them. It waits a
  // while for the host's own step of that status, which then replaces it (Outbox).
  if (outbox_->config()->synthesize_progress && !has_steps && row.status != old_status &&
      !row.status.empty()) {
    const ArenaJson& data = *p.event->Find("data");
    nlohmann::json step = {{"MaHoSo", row.key.id},
                           {"TrangThai", row.status},
                           {"ThoiDiemXuLy", FormatPortalTime(p.event_time_ms)},
                           {"NguoiXuLy", ""},
                           {"ChucDanh", ""},
                           {"PhongBanXuLy", jview::ValueString(data, "DonViXuLy", "")},
                           {"NoiDungXuLy", "Cập nhật trạng thái hồ sơ"},
                           {"NgayBatDau", FormatPortalTime(p.event_time_ms)},
                           {"NgayKetThucTheoQuyDinh", jview::ValueString(data, "NgayHenTra", "")}};
    st = outbox_->EnqueueProgress(tx, row, step, now, Outbox::StepSource::kDerived, &queued);
    if (!st.ok()) return st;
    *enqueued += queued;
  }
  return Status::Ok();
}

Status Engine::MarkSynced(StoreTransaction& tx, int64_t record_pk) {
  auto row_or = tx.GetRecordByPk(record_pk);
  if (!row_or.ok()) return row_or.status();
  if (!row_or.value() || row_or.value()->synced) return Status::Ok();
  RecordRow row = *row_or.value();
  row.synced = true;
  auto history = tx.GetHistory(row.pk);
  if (!history.ok()) return history.status();
  Evaluation ev;
  std::vector<indicators::Delta> deltas;
  Status st = Reevaluate(tx, row, history.value(), hooks_.clock->NowMs(), &ev, &deltas);
  if (!st.ok()) return st;
  auto put = tx.PutRecord(row);
  if (!put.ok()) return put.status();
  std::lock_guard lock(synced_deltas_mu_);
  synced_deltas_.insert(synced_deltas_.end(), deltas.begin(), deltas.end());
  return Status::Ok();
}

}  // namespace danvan
