// Intake's write path: Submit (single events, gathered into group commits), SubmitBatch, and
// ApplyAll, which applies a batch of validated events in one transaction.
//
// Per batch, ApplyAll reads every record the batch touches once (StoreTransaction::GetRecords),
// keeps each record's state in memory while its events are applied (the row, its data and tags
// parsed at most once, its history from the row's compact digest instead of the history
// table), and writes each changed record once at the end (UpdateRecords), with the history
// entries (AppendHistories) and the deadline watches (SetWatches); new records are inserted at
// their first event (their key is needed by the outbox and the indicator deltas). Everything
// is done in the same transaction: one commit, one fsync per batch.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "core/bounded_input.h"
#include "core/json_write.h"
#include "core/timeutil.h"
#include "engine/engine_internal.h"
#include "storage/history_digest.h"

namespace danvan {
namespace {

// The most single submits one group commit applies in one transaction.
constexpr size_t kMaxGroup = 512;
// The longest a new leader waits for the host's other submitting threads to come back
// (ApplyGrouped's gathering); the wait is also at most the last group's time.
constexpr std::chrono::milliseconds kMaxGatherWait{2};

std::string KeyString(const RecordKey& k) {
  std::string s;
  s.reserve(k.source.size() + k.kind.size() + k.id.size() + 2);
  s += k.source;
  s.push_back('\0');
  s += k.kind;
  s.push_back('\0');
  s += k.id;
  return s;
}

// The document ParseStoredJson (core/bounded_input.h) builds, as a view in `arena` read by the
// arena's reader (core/arena_json.h: the same document for every text it accepts, several
// times faster than nlohmann's lexer); a text it refuses (not JSON, or deeper than max_depth)
// goes to ParseStoredJson, bounded as every read of a stored column, and is copied into the
// arena. For the stored records' own canonical texts. The view lives as long as the arena.
const ArenaJson* ParseStoredJsonInArena(std::string_view text, int max_depth, JsonArena* arena) {
  auto doc = ParseArenaJsonBounded(text, max_depth, arena);
  if (doc.ok()) return doc.value();
  return FromNlohmann(ParseStoredJson(text), arena);
}

// The stored tags as the evaluation reads them (indicators::HasTag / TagValue: each object's
// "tag" and "value" only): [{"tag","value"}], as Engine::TagEvent gives an event's, without
// the evidence (most of the text). Members other than those two are left out; an element that
// is not an object stays one that is not (null); a text that is not an array, as parsed.
nlohmann::json StoredTagValues(std::string_view text, int max_depth, JsonArena* arena) {
  arena->Reset();
  auto doc = ParseArenaJsonBounded(text, max_depth, arena);
  if (!doc.ok() || !doc.value()->is_array()) return ParseStoredJson(text);
  nlohmann::json values = nlohmann::json::array();
  for (const ArenaJson& e : doc.value()->elements()) {
    nlohmann::json v;
    if (e.is_object()) {
      v = nlohmann::json::object();
      if (const ArenaJson* tag = e.Find("tag")) v.emplace("tag", ToNlohmann(*tag));
      if (const ArenaJson* value = e.Find("value")) v.emplace("value", ToNlohmann(*value));
    }
    values.push_back(std::move(v));
  }
  return values;
}

// A record the batch touches: read once at the start of the batch, changed in memory by each of
// its events, written once at the end (inserted at its first event when new).
struct Touched {
  std::optional<RecordRow> row;  // nullopt: not stored (yet)
  bool dirty = false;            // stored and changed since: updated at the end of the batch
  // The row's data object and tags, parsed at most once per batch. The data is a view in one
  // of the batch's arenas: the event's that set it (Engine::SubmitBatch's / Submit's arena,
  // alive for the whole batch) or ApplyAll's for the stored text. The tags point into the
  // event that set them or into owned_tags.
  const ArenaJson* data = nullptr;
  const nlohmann::json* tags = nullptr;
  std::unique_ptr<nlohmann::json> owned_tags;
  bool history_loaded = false;
  std::vector<HistoryRow> history;  // from the row's history digest, kept in step with it
  bool has_steps = false;           // the history holds a progress step
  size_t remaining = 0;             // the batch's events of this record not applied yet
};

// The deadline watch changes of one record in the batch: the last one wins, except that a
// clear after a set still creates the watch row as applying them one by one did.
struct WatchChange {
  std::optional<WatchUpdate> last_set;
  WatchUpdate last;
};

}  // namespace

// One single submit waiting in the group-commit queue. Owned by the submitting thread, which
// waits on `cv` until `done`; the leader reads `event` and writes `status` / `result` while
// `taken`. Each waiter has its own condition variable so that a group's end wakes only its
// members and the next leader, not every queued submit.
struct Engine::SubmitWaiter {
  Prepared* event = nullptr;
  bool taken = false;  // guarded by group_mu_: a leader is applying it
  bool done = false;   // guarded by group_mu_: status and result are set
  std::condition_variable cv;
  Status status;
  std::optional<EventResult> result;
};

// One Submit/SubmitBatch call inside the engine (Engine::intake_calls_). admitted() is false
// once close has begun: the call then stores nothing and answers RETRY_LATER.
class Engine::IntakeCall {
 public:
  explicit IntakeCall(Engine* e) : e_(e) {
    std::lock_guard lock(e_->group_mu_);
    admitted_ = !e_->intake_closed_;
    if (admitted_) ++e_->intake_calls_;
  }
  ~IntakeCall() {
    if (!admitted_) return;
    std::lock_guard lock(e_->group_mu_);
    if (--e_->intake_calls_ == 0 && e_->intake_closed_) e_->group_cv_.notify_all();
  }
  IntakeCall(const IntakeCall&) = delete;
  IntakeCall& operator=(const IntakeCall&) = delete;
  bool admitted() const { return admitted_; }
  static Status Closing() { return Status::RetryLater("plugin đang đóng, sự kiện chưa được ghi"); }

 private:
  Engine* e_;
  bool admitted_ = false;
};

nlohmann::json EventResult::Json(bool with_index) const {
  if (is_rejected()) {
    nlohmann::json r = rejected;
    if (!with_index) r.erase("index");
    return r;
  }
  const ParsedEvent& p = *event;
  nlohmann::json r = nlohmann::json::object();
  if (with_index) r["index"] = index;
  r["outcome"] = outcome;
  if (current_version) r["current_version"] = *current_version;
  if (step) r["step"] = {{"status", p.status}, {"at", FormatIsoTime(p.step_at_ms)}};
  r["key"] = KeyJson(p.key);
  r["unit"] = p.unit;
  if (p.order_basis == "version") {
    r["version"] = p.order_key;
  } else {
    r["updated_at"] = p.updated_at;
  }
  if (!p.notes.empty()) r["notes"] = p.notes;
  if (evaluation.has_deadline()) r["deadline"] = evaluation.DeadlineJson();
  if (!pending.is_null()) r["pending"] = pending;
  if (tags) r["tags"] = nlohmann::json::parse(p.tags_json);
  return r;
}

void EventResult::Write(bool with_index, std::string* out) const {
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  if (is_rejected()) {
    if (with_index) {
      AppendJson(rejected, out, kReplace);
    } else {
      AppendJson(Json(false), out, kReplace);
    }
    return;
  }
  const ParsedEvent& p = *event;
  // The members in the order nlohmann writes Json()'s (sorted by name).
  char sep = '{';
  auto key = [&](const char* k) {
    out->push_back(sep);
    sep = ',';
    out->push_back('"');
    out->append(k);
    out->append("\":");
  };
  if (current_version) {
    key("current_version");
    AppendJsonInt(*current_version, out);
  }
  if (evaluation.has_deadline()) {
    key("deadline");
    evaluation.WriteDeadline(out, kReplace);
  }
  if (with_index) {
    key("index");
    AppendJsonInt(static_cast<int64_t>(index), out);
  }
  key("key");
  out->append("{\"id\":");
  AppendJsonString(p.key.id, out, kReplace);
  out->append(",\"kind\":");
  AppendJsonString(p.key.kind, out, kReplace);
  out->append(",\"source\":");
  AppendJsonString(p.key.source, out, kReplace);
  out->push_back('}');
  if (!p.notes.empty()) {
    key("notes");
    out->push_back('[');
    for (size_t i = 0; i < p.notes.size(); ++i) {
      if (i) out->push_back(',');
      AppendJson(p.notes[i], out, kReplace);
    }
    out->push_back(']');
  }
  key("outcome");
  out->push_back('"');
  out->append(outcome);
  out->push_back('"');
  if (!pending.is_null()) {
    key("pending");
    AppendJson(pending, out, kReplace);
  }
  if (step) {
    key("step");
    out->append("{\"at\":");
    AppendJsonString(FormatIsoTime(p.step_at_ms), out, kReplace);
    out->append(",\"status\":");
    AppendJsonString(p.status, out, kReplace);
    out->push_back('}');
  }
  if (tags) {
    // Written strictly when tagged: valid UTF-8, the same bytes under kReplace.
    key("tags");
    out->append(p.tags_json);
  }
  key("unit");
  AppendJsonString(p.unit, out, kReplace);
  if (p.order_basis == "version") {
    key("version");
    AppendJsonInt(p.order_key, out);
  } else {
    key("updated_at");
    AppendJson(p.updated_at, out, kReplace);
  }
  out->push_back('}');
}

void Engine::PrepareEvent(Prepared* e, int64_t tag_now, JsonArena* arena) const {
  // The event is read into `arena`, which the caller keeps until the batch is applied:
  // ParsedEvent::event points into it.
  e->outcome = intake_->Parse(e->raw, arena);
  // Tagging runs here, on the host's thread, outside the storage lock, on the arena's view.
  if (e->outcome.ok && e->outcome.parsed.event) {
    ParsedEvent& p = e->outcome.parsed;
    TagEvent(p.key.kind, *p.event, tag_now, &p.tags_json, &p.tags);
  }
}

std::vector<EventResult> Engine::ApplyAll(const std::vector<Prepared*>& events, Status* status,
                                          const std::function<void(EventResult&)>& answer) {
  // Answering each event as it is applied: the events are consumed (engine.h).
  const bool consume = static_cast<bool>(answer);
  std::vector<EventResult> results;
  if (!consume) results.reserve(events.size());
  const int64_t now = hooks_.clock->NowMs();
  std::vector<indicators::Delta> deltas;
  auto tx_or = store_->Begin();
  if (!tx_or.ok()) {
    *status = tx_or.status();
    return results;
  }
  auto& tx = *tx_or.value();
  auto fail = [&](const Status& st) {
    *status = st;
    return std::vector<EventResult>();
  };

  // Every record of the batch, read in one call.
  std::unordered_map<std::string, Touched> touched;
  {
    std::vector<RecordKey> keys;
    std::vector<Touched*> slots;
    for (const Prepared* ev : events) {
      if (!ev->outcome.ok) continue;
      auto [it, fresh] = touched.try_emplace(KeyString(ev->outcome.parsed.key));
      ++it->second.remaining;
      if (!fresh) continue;
      keys.push_back(ev->outcome.parsed.key);
      slots.push_back(&it->second);
    }
    auto rows = tx.GetRecords(keys);
    if (!rows.ok()) return fail(rows.status());
    for (size_t i = 0; i < slots.size(); ++i) slots[i]->row = std::move(rows.value()[i]);
  }
  std::vector<HistoryRow> pending_history;  // appended at the end (or before reading history)
  std::unordered_map<int64_t, WatchChange> watches;
  std::vector<int64_t> watch_order;  // pks in first-change order (deterministic writes)
  auto flush_history = [&]() -> Status {
    if (pending_history.empty()) return Status::Ok();
    Status st = tx.AppendHistories(pending_history);
    pending_history.clear();
    return st;
  };
  // The stored records' data, read once per record and batch (Touched::data points into it).
  // A record whose only remaining event is the one being applied has its data read into
  // event_arena, reset before each event: memory for one record's data, reused. A record with
  // later events in the batch has it read into stored_arena, freed with the batch. tags_arena:
  // the stored tags' scratch (read one at a time).
  JsonArena stored_arena, event_arena, tags_arena;
  Touched* event_arena_reader = nullptr;  // the record whose data is in event_arena
  auto data_arena = [&](Touched& t) {
    if (t.remaining != 1) return &stored_arena;
    event_arena_reader = &t;
    return &event_arena;
  };
  auto parsed = [&](Touched& t) {
    if (t.data) return;
    const int depth = intake_->limits().max_json_depth;
    t.data = ParseStoredJsonInArena(t.row->data_json, depth, data_arena(t));
    t.owned_tags = std::make_unique<nlohmann::json>(StoredTagValues(t.row->tags_json, depth, &tags_arena));
    t.tags = t.owned_tags.get();
  };
  auto load_history = [&](Touched& t) -> Status {
    if (t.history_loaded) return Status::Ok();
    t.history_loaded = true;
    if (t.row->pk == 0) return Status::Ok();
    if (!DigestHistory(t.row->history_digest, t.row->pk, &t.history)) {
      // A damaged digest: read the history itself and write the digest again from it.
      auto h = tx.GetHistory(t.row->pk);
      if (!h.ok()) return h.status();
      t.history = std::move(h).value();
      t.row->history_digest.clear();
      for (const auto& e : t.history) AppendDigest(&t.row->history_digest, e);
      t.dirty = true;
      hooks_.logger.Log(LogLevel::kWarn, "history_digest_rebuilt", {{"record", KeyJson(t.row->key)}});
    }
    for (const auto& e : t.history) t.has_steps |= e.outcome == "step";
    return Status::Ok();
  };
  // Stores the record's change: re-evaluated with its history plus `entry`, the history entry
  // queued. *had_steps: whether the history held a progress step before this entry.
  int64_t enqueued = 0;
  auto store_change = [&](Touched& t, HistoryRow entry, Evaluation* ev, bool* had_steps,
                          const std::string& old_unit = "") -> Status {
    Status st = load_history(t);
    if (!st.ok()) return st;
    RecordRow& row = *t.row;
    *had_steps = t.has_steps;
    t.history.push_back(entry);
    const size_t first_delta = deltas.size();
    EvaluateRow(row, t.history, *t.data, *t.tags, now, ev, &deltas, old_unit);
    row.updated_ms = now;
    AppendDigest(&row.history_digest, entry);
    t.has_steps |= entry.outcome == "step";
    if (row.pk == 0) {
      auto pk = tx.PutRecord(row);
      if (!pk.ok()) return pk.status();
      row.pk = pk.value();
      for (auto& h : t.history) h.record_pk = row.pk;
      // The deltas were made before the record had its key.
      for (size_t i = first_delta; i < deltas.size(); ++i) deltas[i].record_pk = row.pk;
    } else {
      t.dirty = true;
    }
    auto [w, fresh] = watches.try_emplace(row.pk);
    if (fresh) watch_order.push_back(row.pk);
    WatchUpdate update{row.pk, ev->next_change_ms, ev->next_class};
    if (update.next_change_ms) w->second.last_set = update;
    w->second.last = std::move(update);
    entry.record_pk = row.pk;
    pending_history.push_back(std::move(entry));
    return Status::Ok();
  };

  for (Prepared* evp : events) {
    Prepared& ev = *evp;
    // No record reads the previous event's scratch any more: its record had no event left
    // (Touched::remaining was 1), so its data is not read again in this batch.
    if (event_arena_reader) {
      if (event_arena_reader->data && event_arena_reader->remaining <= 1) event_arena_reader->data = nullptr;
      event_arena_reader = nullptr;
      event_arena.Reset();
    }
    EventResult r;
    r.index = ev.index;
    IntakeOutcome& o = ev.outcome;
    Evaluation evaluation;
    bool evaluated = false;
    nlohmann::json pending;  // what a stored dossier still waits for (DossierPending)
    Touched* record = nullptr;  // the event's record, when the event was valid
    if (o.ok) {
      ParsedEvent& p = o.parsed;
      Touched& t = touched[KeyString(p.key)];
      record = &t;
      const bool had_head = t.row.has_value();
      const bool has_head_item = had_head && t.row->has_item;
      if (p.is_progress_step) {
        bool dup = false;
        if (had_head) {
          Status st = load_history(t);
          if (!st.ok()) return fail(st);
          for (const auto& h : t.history)
            dup |= h.outcome == "step" && h.at_ms == p.step_at_ms && h.status == p.status;
        }
        if (dup) {
          r.outcome = "duplicate";
        } else {
          if (!had_head) {
            // Before the item: a placeholder record.
            RecordRow row;
            row.key = p.key;
            row.unit = p.unit;
            row.order_basis = "";
            row.event_time = p.event_time;
            row.event_time_ms = p.event_time_ms;
            row.data_json = "{}";
            row.data_hash = Sha256Hex(row.data_json);
            row.first_seen_ms = now;
            row.has_item = false;
            t.row = std::move(row);
            t.data = ParseStoredJsonInArena(t.row->data_json, intake_->limits().max_json_depth,
                                            data_arena(t));
            t.owned_tags = std::make_unique<nlohmann::json>(nlohmann::json::array());
            t.tags = t.owned_tags.get();
          }
          parsed(t);
          RecordRow& row = *t.row;
          if (!row.has_item) row.status = p.status;
          // A step has no envelope document (ParsedEvent::event): exporting it reads its data
          // parsed from the canonical text, as the export of a stored step does
          // (EnqueueExport), before the text is moved into the history.
          const bool exporting = outbox_->config()->enabled;
          nlohmann::json step_data;
          if (exporting) step_data = nlohmann::json::parse(p.data_json, nullptr, false);
          bool had_steps = false;
          Status st = store_change(t, {0, p.order_key, p.status, p.step_at_ms, p.event_time, "step",
                                       consume ? std::move(p.data_json) : p.data_json, now},
                                   &evaluation, &had_steps);
          if (!st.ok()) return fail(st);
          // Steps wait for the dossier item: the portal must have the dossier first.
          if (exporting && PortalAccepts(row, *t.data)) {
            int64_t queued = 0;
            st = outbox_->EnqueueProgress(tx, row, step_data, now, Outbox::StepSource::kHost,
                                          &queued);
            if (!st.ok()) return fail(st);
            enqueued += queued;
          }
          evaluated = true;
          pending = DossierPending(row, *t.data);
          r.outcome = "accepted";
          r.step = true;
        }
      } else if (has_head_item && t.row->order_basis != p.order_basis) {
        o.ok = false;
        o.errors.push_back({p.order_basis == "version" ? "/version" : "/updated_at",
                            "bản ghi này được sắp thứ tự theo '" +
                                std::string(t.row->order_basis == "version" ? "version" : "updated_at") +
                                "'; sự kiện phải dùng cùng trường"});
      } else if (has_head_item && p.order_key == t.row->order_key) {
        if (p.data_hash == t.row->data_hash) {
          r.outcome = "duplicate";
        } else {
          o.ok = false;
          o.conflict = true;
          o.errors.push_back({p.order_basis == "version" ? "/version" : "/updated_at",
                              "phiên bản " + std::to_string(p.order_key) +
                                  " đã được ghi nhận với nội dung khác (xung đột)"});
        }
      } else if (has_head_item && p.order_key < t.row->order_key) {
        // Older than what we have: kept in the history (its status still happened), the
        // current data is not overwritten.
        const int64_t current_version = t.row->order_key;
        parsed(t);
        bool had_steps = false;
        Status st = store_change(t, {0, p.order_key, p.status, p.event_time_ms, p.event_time,
                                     "stale", p.data_json, now}, &evaluation, &had_steps);
        if (!st.ok()) return fail(st);
        evaluated = true;
        pending = DossierPending(*t.row, *t.data);
        r.outcome = "stale";
        r.current_version = current_version;
      } else {
        std::string old_status, old_unit;
        bool was_item = false;
        // was_item is read only when exporting (BeforeDossierChange, EnqueueExport below), and
        // it needs the stored data: a record's stored data is parsed only then, not for every
        // update (it is replaced by this event's own document).
        const bool exporting = outbox_->config()->enabled;
        if (had_head) {
          old_status = t.row->has_item ? t.row->status : "";
          old_unit = t.row->unit;
          // Exported before: steps that arrived earlier were sent with it then.
          if (exporting && t.row->key.kind == "dossier" && t.row->has_item) {
            parsed(t);
            was_item = PortalAccepts(*t.row, *t.data);
          }
          if (was_item) {
            // The dossier items not sent yet keep the version they were queued for.
            Status frozen = outbox_->BeforeDossierChange(tx, *t.row);
            if (!frozen.ok()) return fail(frozen);
          }
        } else {
          t.row.emplace();
          t.row->first_seen_ms = now;
        }
        RecordRow& row = *t.row;
        row.key = p.key;
        row.unit = p.unit;
        row.order_basis = p.order_basis;
        row.order_key = p.order_key;
        row.event_time = p.event_time;
        row.event_time_ms = p.event_time_ms;
        row.status = p.status;
        // A consumed event's data text is not read again (its answer shows tags_json).
        row.data_json = consume ? std::move(p.data_json) : p.data_json;
        row.data_hash = p.data_hash;
        row.tags_json = p.tags_json;
        row.has_item = true;
        // The event's own documents: this batch's events (and their arena) outlive the batch's
        // state. The envelope's schema requires data (an object).
        t.data = p.event->Find("data");
        t.tags = &p.tags;
        t.owned_tags.reset();
        bool had_steps = false;
        Status st = store_change(t, {0, p.order_key, p.status, p.event_time_ms, p.event_time,
                                     "applied", "", now}, &evaluation, &had_steps, old_unit);
        if (!st.ok()) return fail(st);
        if (exporting && PortalAccepts(row, *t.data)) {
          // EnqueueExport reads the record's history (its steps' details).
          st = flush_history();
          if (!st.ok()) return fail(st);
          st = EnqueueExport(tx, row, old_status, was_item, had_steps, p, now, &enqueued);
          if (!st.ok()) return fail(st);
        }
        evaluated = true;
        pending = DossierPending(row, *t.data);
        r.outcome = "accepted";
      }
      if (o.ok) {
        r.event = &p;
        if (evaluated) {
          evaluation.contributions.clear();
          r.evaluation = std::move(evaluation);
        }
        r.pending = std::move(pending);
        r.tags = !p.is_progress_step && std::string_view(r.outcome) == "accepted";
      }
    }
    if (!o.ok) {
      const RecordKey& k = o.partial_key;
      QuarantineRow q;
      q.received_ms = now;
      q.source = k.source;
      q.kind = k.kind;
      q.record_id = k.id;
      q.errors_json = ErrorsJson(o.errors).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      q.raw_size = static_cast<int64_t>(ev.raw.size());
      q.raw = std::string(ev.raw.substr(0, static_cast<size_t>(config_.intake.quarantine_raw_max_bytes)));
      Status st = tx.Quarantine(q);
      if (!st.ok()) return fail(st);
      r.outcome = "rejected";
      r.event = nullptr;
      nlohmann::json& j = r.rejected;
      j = {{"index", ev.index}, {"outcome", "rejected"}};
      if (o.conflict) j["conflict"] = true;
      j["key"] = KeyJson(k);
      if (!o.partial_unit.empty()) j["unit"] = o.partial_unit;
      j["errors"] = ErrorsJson(o.errors);
      hooks_.logger.Log(LogLevel::kWarn, "event_rejected",
                        {{"key", KeyJson(k)}, {"errors", j["errors"]}});
    }
    if (!consume) {
      results.push_back(std::move(r));
      continue;
    }
    answer(r);
    // The event is answered: what only it held is freed now, while the next events reuse the
    // memory. A record's documents that later events of the batch read are moved out of it
    // first; after the record's last event they are freed too.
    if (record) {
      Touched& t = *record;
      ParsedEvent& p = o.parsed;
      if (--t.remaining == 0) {
        t.data = nullptr;
        t.tags = nullptr;
        t.owned_tags.reset();
        std::vector<HistoryRow>().swap(t.history);
      } else {
        // The data's view stays in the batch's arena; the tags are the event's own.
        if (t.tags == &p.tags) {
          t.owned_tags = std::make_unique<nlohmann::json>(std::move(p.tags));
          t.tags = t.owned_tags.get();
        }
      }
    }
    IntakeOutcome consumed = std::move(o);
  }

  // The batch's writes: history, each changed record once, the watches.
  Status st = flush_history();
  if (!st.ok()) return fail(st);
  std::vector<const RecordRow*> changed;
  for (const auto& [key, t] : touched)
    if (t.dirty) changed.push_back(&*t.row);
  std::sort(changed.begin(), changed.end(),
            [](const RecordRow* a, const RecordRow* b) { return a->pk < b->pk; });
  st = tx.UpdateRecords(changed);
  if (!st.ok()) return fail(st);
  std::vector<WatchUpdate> watch_updates;
  for (int64_t pk : watch_order) {
    WatchChange& w = watches[pk];
    if (!w.last.next_change_ms && w.last_set) watch_updates.push_back(std::move(*w.last_set));
    watch_updates.push_back(std::move(w.last));
  }
  st = tx.SetWatches(watch_updates);
  if (!st.ok()) return fail(st);
  st = tx.Commit();
  if (!st.ok()) return fail(st);
  outbox_->Committed(enqueued);
  // The aggregates follow the committed contributions (deltas commute across writers).
  ApplyDeltas(deltas);
  *status = Status::Ok();
  return results;
}

std::optional<EventResult> Engine::ApplyGrouped(Prepared* p, Status* status) {
  SubmitWaiter me;
  me.event = p;
  // How long a submit may wait in the queue before a leader takes it (RETRY_LATER after that):
  // longer than a leader's transaction may wait for the store's write lock.
  const auto give_up = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(std::max(30000, 2 * config_.busy_timeout_ms));
  std::unique_lock lock(group_mu_);
  group_queue_.push_back(&me);
  if (gathering_leader_ && group_queue_.size() >= gathering_for_)
    gathering_leader_->cv.notify_one();
  while (!me.done) {
    if (!group_leader_) {
      // Leader: apply what is queued (up to kMaxGroup, oldest first) in one transaction.
      group_leader_ = true;
      // Gathering. Host threads that each submit one event after another split into two halves
      // that take turns: while one half's group commits, the other half queues for the next,
      // so each commit (its fsync) covers half the threads. A new leader therefore waits for
      // the submits that were in flight when the last groups ended (the larger count of the
      // last two: threads that submit together end a round with a group nobody queued behind)
      // to come back, at most as long as the last group took and kMaxGatherWait: one commit
      // shared instead of two. Threads that do not come back so soon (busy between submits, or
      // finished) cost a wait in vain; after two in a row the next 2, 4, ... 64 groups do not
      // wait. A single host thread never waits.
      const size_t expected = std::min(std::max(submits_in_flight_, submits_in_flight_before_), kMaxGroup);
      if (gather_skip_ > 0) {
        --gather_skip_;
      } else if (group_queue_.size() < expected) {
        const auto until = std::chrono::steady_clock::now() +
                           std::min<std::chrono::steady_clock::duration>(last_group_time_, kMaxGatherWait);
        gathering_leader_ = &me;
        gathering_for_ = expected;
        while (group_queue_.size() < expected &&
               me.cv.wait_until(lock, until) == std::cv_status::no_timeout) {
        }
        gathering_leader_ = nullptr;
        if (group_queue_.size() < expected) {
          gather_misses_ = std::min(gather_misses_ + 1, 7);
          if (gather_misses_ >= 2) gather_skip_ = 1 << (gather_misses_ - 1);
        } else {
          gather_misses_ = 0;
        }
      }
      std::vector<SubmitWaiter*> group;
      while (!group_queue_.empty() && group.size() < kMaxGroup) {
        group.push_back(group_queue_.front());
        group.back()->taken = true;
        group_queue_.pop_front();
      }
      lock.unlock();
      const auto group_start = std::chrono::steady_clock::now();
      std::vector<Prepared*> events;
      for (size_t i = 0; i < group.size(); ++i) {
        group[i]->event->index = i;
        events.push_back(group[i]->event);
      }
      try {
        Status st;
        std::vector<EventResult> results = ApplyAll(events, &st);
        if (st.ok()) {
          for (size_t i = 0; i < group.size(); ++i) {
            group[i]->status = Status::Ok();
            group[i]->result = std::move(results[i]);
          }
        } else if (group.size() == 1 || st.code() == Status::Code::kRetryLater) {
          // RETRY_LATER: the store is busy (SQLite: another process held the write lock past
          // storage.busy_timeout_ms; nothing was stored), not one event's fault: each event
          // alone would wait one more busy timeout, N timeouts for N callers, past what a
          // queued submit or close waits for. Every caller retries.
          for (SubmitWaiter* w : group) w->status = st;
        } else {
          // Nothing of the group was stored: each event alone, so that one event's failure is
          // not every caller's.
          for (SubmitWaiter* w : group) {
            w->event->index = 0;
            Status one;
            std::vector<EventResult> r = ApplyAll({w->event}, &one);
            w->status = one;
            if (one.ok()) w->result = std::move(r[0]);
          }
        }
      } catch (const std::exception& e) {
        for (SubmitWaiter* w : group)
          if (w->status.ok() && !w->result) w->status = Status::Internal(e.what());
      }
      const auto group_time = std::chrono::steady_clock::now() - group_start;
      lock.lock();
      last_group_time_ = group_time;
      submits_in_flight_before_ = submits_in_flight_;
      submits_in_flight_ = group.size() + group_queue_.size();
      for (SubmitWaiter* w : group) {
        w->done = true;
        if (w != &me) w->cv.notify_one();
      }
      group_leader_ = false;
      // The oldest queued submit leads the next group.
      if (!group_queue_.empty()) group_queue_.front()->cv.notify_one();
      continue;
    }
    if (me.taken) {
      // Being applied by the leader: its transaction is bounded by the store's busy timeout.
      me.cv.wait(lock);
      continue;
    }
    // Queued behind a leader: woken to lead the next group, or when taken and done. Given up
    // only while a leader holds the queue (with no leader, this submit leads at the loop's top).
    if (me.cv.wait_until(lock, give_up) == std::cv_status::timeout && !me.taken && !me.done &&
        group_leader_) {
      group_queue_.erase(std::find(group_queue_.begin(), group_queue_.end(), &me));
      *status = Status::RetryLater("hệ thống đang bận ghi dữ liệu, sự kiện chưa được ghi; thử lại sau");
      return std::nullopt;
    }
  }
  *status = me.status;
  return std::move(me.result);
}

SubmitAnswer Engine::Submit(std::string_view event, bool as_text) {
  IntakeCall call(this);
  if (!call.admitted()) {
    const Status closing = IntakeCall::Closing();
    return {closing, {{"outcome", "retry_later"}, {"error", closing.message()}}};
  }
  Status admit = outbox_->Admit(1);
  if (!admit.ok()) return {admit, {{"outcome", "retry_later"}, {"error", admit.message()}}};
  Prepared prepared;
  prepared.raw = event;
  JsonArena arena;
  PrepareEvent(&prepared, hooks_.clock->NowMs(), &arena);
  Status st;
  std::optional<EventResult> result = ApplyGrouped(&prepared, &st);
  if (!st.ok()) {
    return {st, {{"outcome", st.code() == Status::Code::kRetryLater ? "retry_later" : "error"},
                 {"error", st.message()}}};
  }
  if (!result->is_rejected()) {
    SubmitAnswer a{Status::Ok(), nullptr, {}};
    if (as_text) {
      result->Write(/*with_index=*/false, &a.result_text);
    } else {
      a.result = result->Json(/*with_index=*/false);
    }
    return a;
  }
  nlohmann::json r = result->Json(/*with_index=*/false);
  const std::string errors = r["errors"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // A same-version conflict is not malformed input: the host must resolve which content wins.
  if (r.value("conflict", false)) return {Status::Conflict(errors), std::move(r)};
  return {Status::InvalidInput(errors), std::move(r)};
}

SubmitAnswer Engine::SubmitBatch(std::string_view jsonl, ResultErrorsNormalizer normalize_errors) {
  IntakeCall call(this);
  if (!call.admitted()) {
    const Status closing = IntakeCall::Closing();
    return {closing, {{"error", closing.message()}}};
  }
  if (static_cast<int64_t>(jsonl.size()) > config_.max_batch_bytes) {
    return {Status::InvalidInput("lô quá lớn: " + std::to_string(jsonl.size()) + " byte, tối đa " +
                                 std::to_string(config_.max_batch_bytes)),
            nlohmann::json::object()};
  }
  std::vector<Prepared> events;
  size_t line_no = 0, pos = 0;
  while (pos <= jsonl.size()) {
    size_t end = jsonl.find('\n', pos);
    if (end == std::string_view::npos) end = jsonl.size();
    std::string_view line = jsonl.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) {
      if (static_cast<int64_t>(events.size()) >= config_.max_batch_events) {
        return {Status::InvalidInput("lô có quá nhiều sự kiện: tối đa " +
                                     std::to_string(config_.max_batch_events) + " dòng"),
                nlohmann::json::object()};
      }
      Prepared p;
      p.index = line_no;
      p.raw = line;
      events.push_back(std::move(p));
    }
    ++line_no;
    if (end == jsonl.size()) break;
    pos = end + 1;
  }
  Status admit = outbox_->Admit(static_cast<int64_t>(events.size()));
  if (!admit.ok()) return {admit, {{"error", admit.message()}}};
  const int64_t tag_now = hooks_.clock->NowMs();
  std::vector<Prepared*> order;
  order.reserve(events.size());
  JsonArena arena;
  for (auto& e : events) {
    PrepareEvent(&e, tag_now, &arena);
    order.push_back(&e);
  }
  int64_t counts[4] = {0, 0, 0, 0};
  static const char* const kOutcomes[4] = {"accepted", "duplicate", "stale", "rejected"};
  auto count = [&](const EventResult& r) {
    for (int i = 0; i < 4; ++i)
      if (std::string_view(r.outcome) == kOutcomes[i]) ++counts[i];
  };
  Status st;
  if (normalize_errors) {
    // {"results":[...],"summary":{...}}, members in nlohmann's (sorted) order; each event's
    // result written as soon as it is applied, the event then freed (ApplyAll's `answer`).
    SubmitAnswer a{Status::Ok(), nullptr, {}};
    std::string& out = a.result_text;
    size_t raw = 0;
    for (const Prepared& e : events) raw += e.raw.size();
    out.reserve(raw + 256 * events.size() + 128);
    out.append("{\"results\":[");
    size_t answered = 0;
    ApplyAll(order, &st, [&](EventResult& r) {
      if (answered++) out.push_back(',');
      count(r);
      if (r.is_rejected()) {
        normalize_errors(r.rejected);
        AppendJson(r.rejected, &out, nlohmann::json::error_handler_t::replace);
      } else {
        r.Write(/*with_index=*/true, &out);
      }
    });
    if (!st.ok()) return {st, {{"error", st.message()}}};
    out.append("],\"summary\":{\"accepted\":");
    AppendJsonInt(counts[0], &out);
    out.append(",\"duplicate\":");
    AppendJsonInt(counts[1], &out);
    out.append(",\"events\":");
    AppendJsonInt(static_cast<int64_t>(answered), &out);
    out.append(",\"rejected\":");
    AppendJsonInt(counts[3], &out);
    out.append(",\"stale\":");
    AppendJsonInt(counts[2], &out);
    out.append("}}");
    return a;
  }
  std::vector<EventResult> results = ApplyAll(order, &st);
  if (!st.ok()) return {st, {{"error", st.message()}}};
  for (const auto& r : results) count(r);
  nlohmann::json dom = nlohmann::json::array();
  for (const auto& r : results) dom.push_back(r.Json(/*with_index=*/true));
  nlohmann::json summary = nlohmann::json::object();
  for (int i = 0; i < 4; ++i) summary[kOutcomes[i]] = counts[i];
  summary["events"] = results.size();
  return {Status::Ok(), {{"results", std::move(dom)}, {"summary", std::move(summary)}}, {}};
}

}  // namespace danvan
