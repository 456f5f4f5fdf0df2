#include "outbox/outbox.h"

#include <pthread.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "core/bounded_input.h"
#include "core/timeutil.h"

namespace danvan {
namespace {

int64_t IntField(const nlohmann::json& s, const char* key, int64_t def, int64_t min, int64_t max,
                 std::vector<std::string>* errors) {
  if (!s.contains(key)) return def;
  const auto& v = s[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max) {
    errors->push_back(std::string("/outbox/") + key + ": cần số nguyên trong khoảng " +
                      std::to_string(min) + ".." + std::to_string(max));
    return def;
  }
  return v.get<int64_t>();
}

thread_local std::mt19937_64 g_rng{std::random_device{}()};

}  // namespace

Result<OutboxConfig> ParseOutboxConfig(const nlohmann::json& s, bool portal_configured) {
  OutboxConfig c;
  std::vector<std::string> errors;
  if (!s.is_null() && !s.is_object()) return Status::InvalidInput("/outbox: cần đối tượng");
  nlohmann::json section = s.is_null() ? nlohmann::json::object() : s;
  c.enabled = section.value("enabled", portal_configured);
  if (c.enabled && !portal_configured)
    errors.push_back("/outbox/enabled: cần cấu hình cổng (mục /portal) để xuất dữ liệu");
  c.destination = section.value("destination", c.destination);
  c.senders = static_cast<int>(IntField(section, "senders", c.senders, 1, 16, &errors));
  c.claim_batch = IntField(section, "claim_batch", c.claim_batch, 1, 1000, &errors);
  c.steps_per_call = IntField(section, "steps_per_call", c.steps_per_call, 1, 100, &errors);
  c.dossiers_per_call = IntField(section, "dossiers_per_call", c.dossiers_per_call, 1, 100, &errors);
  c.lease_ms = IntField(section, "lease_ms", c.lease_ms, 1000, 86400000, &errors);
  c.backoff_base_ms = IntField(section, "backoff_base_ms", c.backoff_base_ms, 1, 3600000, &errors);
  c.backoff_cap_ms = IntField(section, "backoff_cap_ms", c.backoff_cap_ms, 1, 86400000, &errors);
  c.max_attempts = IntField(section, "max_attempts", c.max_attempts, 1, 1000000, &errors);
  c.max_age_ms = IntField(section, "max_age_ms", c.max_age_ms, 1000, 365LL * 86400000, &errors);
  c.max_queued = IntField(section, "max_queued", c.max_queued, 1, 100000000, &errors);
  c.poll_interval_ms = IntField(section, "poll_interval_ms", c.poll_interval_ms, 1, 60000, &errors);
  c.held_retry_ms = IntField(section, "held_retry_ms", c.held_retry_ms, 100, 86400000, &errors);
  c.reconcile_interval_ms = IntField(section, "reconcile_interval_ms", c.reconcile_interval_ms, 0, 7LL * 86400000, &errors);
  c.procedures_refresh_interval_ms = IntField(section, "procedures_refresh_interval_ms",
                                              c.procedures_refresh_interval_ms, 0, 30LL * 86400000, &errors);
  c.derived_step_delay_ms = IntField(section, "derived_step_delay_ms", c.derived_step_delay_ms, 0, 86400000, &errors);
  c.derived_step_match_ms = IntField(section, "derived_step_match_ms", c.derived_step_match_ms, 0, 7LL * 86400000, &errors);
  c.pause_ms = IntField(section, "pause_ms", c.pause_ms, 1000, 86400000, &errors);
  if (section.contains("field_limits_file")) {
    if (!section["field_limits_file"].is_string()) errors.push_back("/outbox/field_limits_file: cần chuỗi (đường dẫn)");
    else c.field_limits_file = section["field_limits_file"].get<std::string>();
  }
  if (section.contains("synthesize_progress")) {
    if (!section["synthesize_progress"].is_boolean()) errors.push_back("/outbox/synthesize_progress: cần true/false");
    else c.synthesize_progress = section["synthesize_progress"].get<bool>();
  }
  if (section.contains("mappings")) {
    auto m = PortalMappings::FromJson(section["mappings"]);
    if (!m.ok()) errors.push_back("/outbox/mappings: " + m.status().message());
    else c.mappings = m.value();
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += e + "\n";
    msg.pop_back();
    return Status::InvalidInput(msg);
  }
  return c;
}

Outbox::Outbox(OutboxConfig config, Store* store, std::shared_ptr<Clock> clock, Logger logger,
               ClientFactory factory, SyncedHook on_synced, AfterCommitHook after_commit)
    : config_(std::make_shared<const OutboxConfig>(std::move(config))),
      store_(store),
      clock_(std::move(clock)),
      logger_(logger),
      factory_(std::move(factory)),
      on_synced_(std::move(on_synced)),
      after_commit_(std::move(after_commit)),
      mappings_(config_->mappings) {}

std::shared_ptr<const OutboxConfig> Outbox::config() const {
  std::lock_guard lock(config_mu_);
  return config_;
}

Outbox::ClientFactory Outbox::factory() const {
  std::lock_guard lock(config_mu_);
  return factory_;
}

Status Outbox::Reconfigure(OutboxConfig next, ClientFactory factory, bool mappings_changed) {
  auto cur = config();
  // What a running outbox cannot take (the engine refuses these before calling; checked again).
  if (next.enabled != cur->enabled || next.destination != cur->destination ||
      next.senders != cur->senders || next.node != cur->node)
    return Status::Conflict("outbox: enabled, destination, senders và instance không đổi được khi đang chạy");
  auto stored = store_->GetSetting("outbox.mappings." + cur->destination);
  if (!stored.ok()) return stored.status();
  PortalMappings mappings = next.mappings;
  {
    std::lock_guard lock(config_mu_);
    config_ = std::make_shared<const OutboxConfig>(std::move(next));
    factory_ = std::move(factory);
    // Before the pause ends (below): a sender that wakes meanwhile already replaces its client.
    client_generation_.fetch_add(1);
  }
  // Mappings an administrator stored (outbox.mappings.set) still win over the file's.
  if (mappings_changed && !stored.value()) {
    std::lock_guard lock(mappings_mu_);
    mappings_ = std::move(mappings);
  }
  // A pause was a refusal that meant the configuration was wrong (log-in, dstcode, unit...):
  // new settings end it, and the items that waited for its end are tried at once.
  const int64_t paused_until = paused_until_ms_.exchange(0);
  const int64_t now = clock_->NowMs();
  if (paused_until > now) {
    // The new settings are in force whatever happens here: a failure only leaves the items
    // waiting until the pause would have ended.
    auto tx = store_->Begin();
    Result<int64_t> resumed = tx.ok() ? tx.value()->ResumePending(cur->destination, paused_until, now)
                                      : Result<int64_t>(tx.status());
    Status st = resumed.ok() ? tx.value()->Commit() : resumed.status();
    if (st.ok())
      logger_.Log(LogLevel::kInfo, "export_pause_ended", {{"reason", "configuration reloaded"}, {"items", resumed.value()}});
    else
      logger_.Log(LogLevel::kError, "export_pause_end_failed", {{"error", st.message()}});
  }
  run_cv_.notify_all();  // senders pick the new settings (and a new client) up at once
  return Status::Ok();
}

Outbox::~Outbox() { Shutdown(std::chrono::steady_clock::now()); }

Status Outbox::Init() {
  // Entries written before the export log stopped keeping request bodies lose them now.
  Status scrubbed = ScrubLegacyExportLog(*store_, logger_, clock_->NowMs());
  if (!scrubbed.ok()) return scrubbed;
  if (config()->enabled) {
    // This node's leases from its previous run (it died mid-pass): on a store this node owns
    // alone (SQLite) nobody else will finish them, so they come back at once instead of after
    // lease_ms, marked ambiguous (they may have reached the portal).
    auto tx = store_->Begin();
    if (!tx.ok()) return tx.status();
    auto released = tx.value()->ReleaseLeases(config()->destination, config()->node, clock_->NowMs());
    if (!released.ok()) return released.status();
    if (released.value() > 0) {
      Status st = BumpCounters(*tx.value(), {{"leases_released_at_start", released.value()}});
      if (!st.ok()) return st;
    }
    Status st = tx.value()->Commit();
    if (!st.ok()) return st;
    if (released.value() > 0)
      logger_.Log(LogLevel::kWarn, "export_leases_released",
                  {{"items", released.value()}, {"node", config()->node}});
  }
  auto q = store_->CountQueued();
  if (!q.ok()) return q.status();
  queued_ = q.value();
  // Mappings set by an administrator at run time override the configuration file's.
  auto stored = store_->GetSetting("outbox.mappings." + config()->destination);
  if (!stored.ok()) return stored.status();
  if (stored.value()) {
    auto m = PortalMappings::FromJson(ParseStoredJson(*stored.value()));
    if (m.ok()) {
      std::lock_guard lock(mappings_mu_);
      mappings_ = m.value();
    }
  }
  return Status::Ok();
}

PortalMappings Outbox::mappings() const {
  std::lock_guard lock(mappings_mu_);
  return mappings_;
}

Status Outbox::Admit(int64_t events) const {
  if (!config()->enabled) return Status::Ok();
  if (queued_.load() + events > config()->max_queued) {
    return Status::RetryLater("hàng đợi xuất lên Cổng DVC quốc gia đã đầy (" +
                              std::to_string(queued_.load()) + "/" +
                              std::to_string(config()->max_queued) + " mục); thử lại sau");
  }
  return Status::Ok();
}

OutboxItem Outbox::NewItem(const RecordRow& record, const std::string& op, int64_t now_ms) const {
  OutboxItem it;
  it.destination = config()->destination;
  it.record_pk = record.pk;
  it.record_id = record.key.id;
  it.unit = record.unit;
  it.op = op;
  it.state = "pending";
  it.next_attempt_ms = now_ms;
  it.created_ms = now_ms;
  return it;
}

Status Outbox::BeforeDossierChange(StoreTransaction& tx, const RecordRow& before) {
  return tx.FreezeDossierOps(config()->destination, before.pk, before.data_json);
}

Status Outbox::EnqueueDossier(StoreTransaction& tx, const RecordRow& record, int64_t now_ms,
                              int64_t* queued) {
  if (queued) *queued = 0;
  // A waiting dossier item with no snapshot is the record's last item: it will send the
  // record's latest data, this version included.
  auto waiting = tx.HasWaitingDossierOp(config()->destination, record.pk, now_ms);
  if (!waiting.ok()) return waiting.status();
  if (waiting.value()) return Status::Ok();
  {
    // Waiting updates (frozen: items were queued after them) add nothing that the new item,
    // queued after those items, will not send. The item that creates the dossier stays.
    auto superseded = tx.SupersedeDossierOps(config()->destination, record.pk, now_ms, record.synced);
    if (!superseded.ok()) return superseded.status();
    if (superseded.value() > 0) {
      Status st = BumpCounters(tx, {{"dossier_versions_superseded", superseded.value()}});
      if (!st.ok()) return st;
      if (queued) *queued -= superseded.value();
    }
  }
  OutboxItem it = NewItem(record, "dossier", now_ms);
  it.idempotency_key = config()->destination + ":" + record.key.id + ":dossier:" +
                       std::to_string(record.order_key);
  auto id = tx.EnqueueOutbox(it);
  if (!id.ok()) return id.status();
  if (queued) *queued += 1;
  return Status::Ok();
}

Status Outbox::EnqueueProgress(StoreTransaction& tx, const RecordRow& record,
                               const nlohmann::json& step, int64_t now_ms, StepSource source,
                               int64_t* queued) {
  const bool derived = source == StepSource::kDerived;
  if (queued) *queued = 0;
  // The dossier items before this step keep the data they stand for (FreezeDossierOps).
  Status st = tx.FreezeDossierOps(config()->destination, record.pk, record.data_json);
  if (!st.ok()) return st;
  const std::string status = step.value("TrangThai", "");
  const std::string at = step.value("ThoiDiemXuLy", "");
  const std::string key = config()->destination + ":" + record.key.id + ":progress:" + status + ":" + at;
  if (source == StepSource::kHost) {
    // The host's own step for a status change we derived a step from: one step at the portal,
    // with the host's content (issue 11). The closest derived step of that status in time.
    auto candidates = tx.DerivedSteps(config()->destination, record.pk);
    if (!candidates.ok()) return candidates.status();
    const OutboxItem* best = nullptr;
    int64_t best_gap = 0;
    const auto host_at = ParsePortalTime(at);
    for (const auto& c : candidates.value()) {
      nlohmann::json p = ParseStoredJson(c.payload);
      if (!p.is_object() || p.value("TrangThai", "") != status) continue;
      const auto c_at = ParsePortalTime(p.value("ThoiDiemXuLy", ""));
      if (!host_at || !c_at) continue;
      const int64_t gap = std::llabs(*host_at - *c_at);
      if (gap > config()->derived_step_match_ms) continue;  // another transition of that status
      if (!best || gap < best_gap) {
        best = &c;
        best_gap = gap;
      }
    }
    if (best) {
      OutboxItem m = *best;
      m.derived = 2;
      const bool unsent = (m.state == "pending" || m.state == "held") && m.lease_until_ms < now_ms;
      if (unsent) {
        m.payload = step.dump();
        m.idempotency_key = key;
        m.next_attempt_ms = now_ms;
      }
      st = tx.RewriteOutboxItem(m);
      if (!st.ok()) return st;
      return BumpCounters(tx, {{unsent ? "host_steps_replacing_derived" : "host_steps_after_derived_sent", 1}});
    }
  }
  OutboxItem it = NewItem(record, "progress", now_ms);
  it.payload = step.dump();
  // Deterministic per step: the same step re-enqueued (reconciliation) carries the same key.
  it.idempotency_key = key;
  if (derived) {
    it.derived = 1;
    // It waits for the host's own step of the same status, which would replace it.
    it.next_attempt_ms = now_ms + config()->derived_step_delay_ms;
  }
  auto id = tx.EnqueueOutbox(it);
  if (!id.ok()) return id.status();
  if (queued) *queued = 1;
  return Status::Ok();
}

void Outbox::Start() {
  if (!config()->enabled) return;
  std::lock_guard life(lifecycle_mu_);
  std::vector<size_t> respawn;
  {
    std::lock_guard lock(run_mu_);
    if (shut_down_) return;
    stopping_ = false;
    stopping_flag_ = false;
    slot_running_.resize(static_cast<size_t>(config()->senders), false);
    // A sender that has not left its loop since the last Stop carries on; the others are
    // replaced. A slot is marked running before its thread exists, so a concurrent Stop waits
    // for it too.
    for (size_t i = 0; i < slot_running_.size(); ++i) {
      if (slot_running_[i]) continue;
      slot_running_[i] = true;
      ++alive_;
      respawn.push_back(i);
    }
  }
  run_cv_.notify_all();
  threads_.resize(slot_running_.size());
  // The senders' timers (reconciliation, procedures, held items) run from this call, not from
  // whenever each new thread is first scheduled.
  const int64_t started_ms = clock_->NowMs();
  for (size_t i : respawn) {
    // The previous thread of this slot has left its loop: joining only waits for it to close
    // its portal connection.
    if (threads_[i].joinable()) threads_[i].join();
    threads_[i] = std::thread([this, i, started_ms] { SenderLoop(static_cast<int>(i), started_ms); });
  }
}

bool Outbox::Stop(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(run_mu_);
  stopping_ = true;
  stopping_flag_ = true;
  run_cv_.notify_all();
  // Senders finish their current portal call (bounded by the portal timeouts) and leave.
  exit_cv_.wait_until(lock, deadline, [this] { return alive_ == 0 || !stopping_; });
  const bool stopped = alive_ == 0;
  lock.unlock();
  if (stopped) {
    // Reap the threads that left (a concurrent Start may already have replaced them).
    std::lock_guard life(lifecycle_mu_);
    std::lock_guard run(run_mu_);
    for (size_t i = 0; i < threads_.size(); ++i) {
      if (i < slot_running_.size() && !slot_running_[i] && threads_[i].joinable()) threads_[i].join();
    }
  }
  return stopped;
}

void Outbox::Shutdown(std::chrono::steady_clock::time_point graceful_deadline) {
  Stop(graceful_deadline);
  std::lock_guard life(lifecycle_mu_);
  {
    std::lock_guard lock(run_mu_);
    shut_down_ = true;
    stopping_ = true;
    stopping_flag_ = true;
    cancel_all_ = true;
    for (PortalClient* c : clients_) c->Cancel();
  }
  run_cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

int64_t Outbox::Backoff(int64_t attempts, int64_t retry_after_ms) {
  // Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempts)].
  int64_t exp = config()->backoff_base_ms;
  for (int64_t i = 1; i < attempts && exp < config()->backoff_cap_ms; ++i) exp *= 2;
  exp = std::min(exp, config()->backoff_cap_ms);
  std::uniform_int_distribution<int64_t> dist(0, exp);
  return std::max(dist(g_rng), retry_after_ms);
}

Status Outbox::LogExchange(StoreTransaction& tx, const std::string& op, const std::string& record_id,
                           const SendResult& r, std::string* head) {
  if (head->empty()) {
    auto last = tx.LastExportLog(config()->destination);
    if (!last.ok()) return last.status();
    *head = last.value() ? last.value()->entry_hash : std::string(64, '0');
  }
  // Hashes and non-personal identifiers only (export_log.h).
  ExportLogRow row = MakeExportLogRow(config()->destination, op, record_id, r, clock_->NowMs());
  row.prev_hash = *head;
  row.entry_hash = ExportLogEntryHash(row);
  Status st = tx.AppendExportLog(row);
  if (!st.ok()) return st;
  *head = row.entry_hash;
  return Status::Ok();
}

Status Outbox::SetLogHead(StoreTransaction& tx, const std::string& head) {
  // The chain head, so that deleting the newest entries is detected too.
  return tx.SetSetting("exportlog.head." + config()->destination, head);
}

namespace {

// One record's part of a pass: a dossier item, or a progress head and its following steps.
struct PassGroup {
  std::vector<OutboxItem> items;
  std::vector<std::string> state;  // per item: "" = not sent (back to the queue as is)
  std::vector<bool> attempted;     // per item: a retryable answer counts an attempt
  std::string error;               // the group's last error (every non-done item gets it)
  int64_t retry_after_ms = -1;
  int64_t answered_ms = 0;         // when the answer that settled the group arrived
  bool synced = false;             // the portal confirmed the dossier
  bool ambiguous = false;          // an earlier attempt may have been applied (look first)
  // Prepared for sending.
  std::string madonvi;
  std::vector<nlohmann::json> wire;
  bool is_update = false;
  std::string key_base;  // dossier: "<dest>:<id>:dossier:<order_key>"
  std::string key;       // this group's idempotency key in a call (sent, never relied upon)

  void SetAll(const std::string& st, const std::string& err, bool attempt) {
    for (size_t i = 0; i < items.size(); ++i) {
      state[i] = st;
      attempted[i] = attempt;
    }
    error = err;
  }
};

// A run of one group's steps inside a progress call: items [begin, end) of groups[gi].
struct StepRun {
  size_t gi = 0, begin = 0, end = 0;
};

// A group's key inside a multi-dossier key list (portal_client.h, PortalCallOptions).
std::string KeyPart(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == ',') out += "%2C";
    else out += c;
  }
  return out;
}

std::string DescribeFailure(const char* kind, int http_status, const std::string& code,
                            const std::string& message) {
  return std::string(kind) + ": HTTP " + std::to_string(http_status) + " " + code + " " + message;
}

}  // namespace

std::optional<size_t> OffendingIndex(const std::string& message, size_t size) {
  // "data[3]" (the portal names the first offending item of a refused call).
  size_t pos = message.find("data[");
  while (pos != std::string::npos) {
    size_t i = pos + 5, v = 0, digits = 0;
    while (i < message.size() && message[i] >= '0' && message[i] <= '9' && digits < 7) {
      v = v * 10 + static_cast<size_t>(message[i] - '0');
      ++i;
      ++digits;
    }
    if (digits > 0 && i < message.size() && message[i] == ']') {
      if (v < size) return v;
      return std::nullopt;
    }
    pos = message.find("data[", pos + 5);
  }
  return std::nullopt;
}

bool PortalHasDossier(const nlohmann::json& portal_item, const nlohmann::json& wire) {
  if (!portal_item.is_object() || !wire.is_object()) return false;
  for (auto it = wire.begin(); it != wire.end(); ++it) {
    auto p = portal_item.find(it.key());
    if (p == portal_item.end() || *p != it.value()) return false;
  }
  return true;
}

void Outbox::Pause(int64_t now_ms, const std::string& reason) {
  const int64_t until = now_ms + config()->pause_ms;
  const bool already = paused_until_ms_.load() > now_ms;
  paused_until_ms_ = until;
  {
    std::lock_guard lock(status_mu_);
    pause_reason_ = reason;
  }
  logger_.Log(LogLevel::kError, "export_paused",
              {{"destination", config()->destination}, {"reason", reason}, {"until", FormatIsoTime(until)}});
  if (!already && alert_) {
    nlohmann::json a = {{"type", "export_paused"},
                        {"destination", config()->destination},
                        {"until", FormatIsoTime(until)},
                        {"message", "Tạm dừng xuất lên Cổng DVC quốc gia: Cổng từ chối vì cấu hình "
                                    "sai (không phải do dữ liệu). Dữ liệu vẫn nằm trong hàng đợi; "
                                    "hãy sửa cấu hình /portal hoặc ánh xạ rồi khởi động lại. Chi tiết: " +
                                        reason}};
    alert_(a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}

Status Outbox::BumpCounters(StoreTransaction& tx, const std::map<std::string, int64_t>& add) {
  if (add.empty()) return Status::Ok();
  const std::string key = "outbox.counters." + config()->destination;
  auto cur = tx.GetSettingInTx(key);
  if (!cur.ok()) return cur.status();
  nlohmann::json c = cur.value() ? ParseStoredJson(*cur.value()) : nlohmann::json::object();
  if (!c.is_object()) c = nlohmann::json::object();
  for (const auto& [k, v] : add) c[k] = c.value(k, int64_t{0}) + v;
  return tx.SetSetting(key, c.dump());
}

Status Outbox::BumpCountersNow(const std::map<std::string, int64_t>& add) {
  auto tx = store_->Begin();
  if (!tx.ok()) return tx.status();
  Status st = BumpCounters(*tx.value(), add);
  if (!st.ok()) return st;
  return tx.value()->Commit();
}

Result<int> Outbox::RunOnce(PortalClient& client) {
  // One pass works with one configuration snapshot (a reload applies from the next pass).
  const std::shared_ptr<const OutboxConfig> cfg = config();
  const int64_t now = clock_->NowMs();
  if (now < paused_until_ms_.load() || stopping()) return 0;
  std::vector<OutboxItem> claimed;
  // The data a dossier item sends, read in the claim's transaction: its snapshot, or the
  // record's data when the item is the record's last (see FreezeDossierOps).
  std::map<int64_t, std::optional<RecordRow>> records;
  {
    std::lock_guard claim(claim_mu_);
    auto tx = store_->Begin();
    if (!tx.ok()) return tx.status();
    auto c = tx.value()->ClaimOutbox(cfg->destination, now, now + cfg->lease_ms,
                                     cfg->claim_batch, cfg->steps_per_call, cfg->node);
    if (!c.ok()) return c.status();
    claimed = std::move(c).value();
    if (claimed.empty()) return 0;
    for (const auto& it : claimed) {
      if (it.op != "dossier" || records.count(it.record_pk)) continue;
      auto rec = tx.value()->GetRecordByPk(it.record_pk);
      if (!rec.ok()) return rec.status();
      records[it.record_pk] = std::move(rec).value();
    }
    Status st = tx.value()->Commit();
    if (!st.ok()) return st;
  }
  // Group consecutive items of one record (the claim returns a head and its following steps).
  std::vector<PassGroup> groups;
  for (auto& it : claimed) {
    if (!groups.empty() && groups.back().items.back().record_pk == it.record_pk &&
        it.op == "progress" && groups.back().items.back().op == "progress")
      groups.back().items.push_back(std::move(it));
    else
      groups.emplace_back().items.push_back(std::move(it));
  }
  for (auto& g : groups) {
    g.state.assign(g.items.size(), "");
    g.attempted.assign(g.items.size(), false);
    for (const auto& it : g.items) g.ambiguous = g.ambiguous || it.ambiguous;
  }
  const PortalMappings maps = mappings();
  std::map<std::string, int64_t> counters;  // added to the persistent counters at the end

  // 1. Map every group to wire items; a mapping error holds (missing code) or dead-letters
  //    (unusable record) that record only.
  std::vector<size_t> dossier_groups, progress_groups;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    PassGroup& g = groups[gi];
    const OutboxItem& head = g.items.front();
    if (head.op == "dossier") {
      const std::optional<RecordRow>& rec = records[head.record_pk];
      if (!rec) {
        g.SetAll("dead", "bản ghi không còn trong kho", false);
        continue;
      }
      nlohmann::json data = ParseStoredJson(head.payload.empty() ? rec->data_json : head.payload);
      auto wire = MapDossierItem(head.record_id, head.unit, data, maps, cfg->payload);
      if (!wire.ok()) {
        g.SetAll(wire.status().code() == Status::Code::kNotFound ? "held" : "dead",
                 wire.status().message(), false);
        continue;
      }
      g.madonvi = wire->madonvi;
      g.wire = {wire->item};
      g.is_update = rec->synced;
      // The key names the content sent (a gateway that honours keys replays only the same data).
      g.key_base = cfg->destination + ":" + head.record_id + ":dossier:" +
                   Sha256HexOpenSsl(wire->item.dump()).substr(0, 16);
      g.key = g.key_base + (g.is_update ? ":update" : ":create");
      dossier_groups.push_back(gi);
    } else {
      bool ok = true;
      for (const auto& it : g.items) {
        auto wire = MapProgressItem(it.record_id, it.unit,
                                    ParseStoredJson(it.payload), maps,
                                    cfg->payload);
        if (!wire.ok()) {
          g.SetAll(wire.status().code() == Status::Code::kNotFound ? "held" : "dead",
                   wire.status().message(), false);
          ok = false;
          break;
        }
        if (g.wire.empty()) g.madonvi = wire->madonvi;
        g.wire.push_back(wire->item);
      }
      if (!ok) continue;
      g.key = cfg->destination + ":" + head.record_id + ":progress:" +
              std::to_string(head.seq) + "-" + std::to_string(g.items.back().seq);
      progress_groups.push_back(gi);
    }
  }

  struct Exchange {
    std::string op, record_ids;
    SendResult result;
  };
  std::vector<Exchange> exchanges;
  bool stop_all = false;
  auto key_list = [&](const std::vector<size_t>& members) {
    std::string key, ids;
    for (size_t gi : members) {
      if (!key.empty()) key += ',';
      key += KeyPart(groups[gi].key);
      if (!ids.empty()) ids += ',';
      ids += groups[gi].items.front().record_id;
    }
    return std::make_pair(key, ids);
  };
  // A failure of the whole call that says nothing about the items: retryable for every member
  // (ambiguous when the request may have been applied), or a refusal of our configuration
  // (pause the destination rather than dead-letter the data).
  auto call_failed = [&](const std::vector<size_t>& members, const SendResult& r, int64_t answered) {
    if (r.outcome == PortalOutcome::kRetryable) {
      for (size_t gi : members) {
        PassGroup& g = groups[gi];
        for (size_t j = 0; j < g.items.size(); ++j) {
          if (!g.state[j].empty()) continue;  // settled earlier in this pass
          g.state[j] = "pending";
          g.attempted[j] = true;
        }
        g.error = DescribeFailure("có thể thử lại", r.http_status, r.error_code, r.message);
        g.retry_after_ms = r.retry_after_ms;
        g.answered_ms = answered;
        g.ambiguous = g.ambiguous || r.ambiguous;
      }
      if (r.ambiguous) ++counters["ambiguous_failures"];
      return true;
    }
    if (r.outcome == PortalOutcome::kPermanent && (r.auth_failed || r.config_error)) {
      Pause(answered, DescribeFailure(r.auth_failed ? "đăng nhập bị từ chối" : "cấu hình bị từ chối",
                                      r.http_status, r.error_code, r.message));
      stop_all = true;
      for (size_t gi : members) groups[gi].error = DescribeFailure("tạm dừng", r.http_status, r.error_code, r.message);
      return true;  // the members' items stay "" (back to the queue, no attempt counted)
    }
    return false;
  };

  // 2a. Dossiers whose earlier attempt may have been applied: look them up first (TraCuuHoSo);
  //     one the portal has as we would send it is done, one it has otherwise is updated, one it
  //     lacks is created.
  std::map<std::pair<std::string, bool>, std::vector<size_t>> dossier_buckets;  // (unit, update)
  std::vector<std::pair<std::string, bool>> dossier_order;
  for (size_t gi : dossier_groups) {
    PassGroup& g = groups[gi];
    if (g.ambiguous && !stop_all && !stopping()) {
      ++counters["dossier_lookups_after_ambiguity"];
      LookupResult r = client.Lookup(g.items.front().record_id, {g.madonvi, ""});
      const int64_t answered = clock_->NowMs();
      exchanges.push_back({"TraCuuHoSo", g.items.front().record_id, r});
      if (!r.ok()) {
        if (!call_failed({gi}, r, answered)) {
          g.SetAll("pending", DescribeFailure("tra cứu thất bại", r.http_status, r.error_code, r.message), true);
          g.answered_ms = answered;
        }
        continue;
      }
      if (r.found) {
        ++counters["dossiers_found_after_ambiguity"];
        const nlohmann::json portal_item = r.result.is_array() ? r.result.front() : r.result;
        if (PortalHasDossier(portal_item, g.wire.front())) {
          ++counters["dossiers_not_resent"];
          g.SetAll("done", "", false);
          g.synced = true;
          g.ambiguous = false;
          continue;
        }
      }
      g.is_update = r.found;
      g.key = g.key_base + (g.is_update ? ":update" : ":create");
      g.ambiguous = false;
    }
    if (stop_all || stopping()) continue;
    auto bucket = std::make_pair(g.madonvi, g.is_update);
    if (!dossier_buckets.count(bucket)) dossier_order.push_back(bucket);
    dossier_buckets[bucket].push_back(gi);
  }

  // 2b. Dossier calls: up to dossiers_per_call records, one portal unit and one isUpdating value
  //     per call.
  std::function<void(const std::vector<size_t>&, bool)> send_dossiers =
      [&](const std::vector<size_t>& members, bool update) {
        // Asked to stop: what is not sent yet goes back to the queue as is.
        if (stop_all || members.empty() || stopping()) return;
        std::vector<nlohmann::json> items;
        for (size_t gi : members) items.push_back(groups[gi].wire.front());
        auto [key, ids] = key_list(members);
        SendResult r = client.SyncDossiers(items, update, {groups[members.front()].madonvi, key});
        const int64_t answered = clock_->NowMs();
        exchanges.push_back({"DongBoHoSoMC", ids, r});
        if (call_failed(members, r, answered)) return;
        std::vector<size_t> to_update;
        auto settle = [&](size_t gi, PortalOutcome o, const std::string& code, const std::string& msg) {
          PassGroup& g = groups[gi];
          g.answered_ms = answered;
          switch (o) {
            case PortalOutcome::kSuccess:
              g.SetAll("done", "", false);
              g.synced = true;
              break;
            case PortalOutcome::kAlreadyExists:
              if (update) {  // the portal has it: nothing left to do
                g.SetAll("done", "", false);
                g.synced = true;
              } else {
                to_update.push_back(gi);
              }
              break;
            case PortalOutcome::kRetryable:
              g.SetAll("pending", DescribeFailure("có thể thử lại", r.http_status, code, msg), true);
              g.retry_after_ms = r.retry_after_ms;
              break;
            case PortalOutcome::kPermanent:
              g.SetAll("dead", DescribeFailure("lỗi vĩnh viễn", r.http_status, code, msg), false);
              break;
          }
        };
        auto update_alone = [&]() {
          for (size_t gi : to_update) {
            groups[gi].is_update = true;
            groups[gi].key = groups[gi].key_base + ":update";
          }
          // "Already exists" on a create settles those dossiers alone: they go as updates.
          send_dossiers(to_update, true);
        };
        if (r.items.size() == members.size()) {  // the portal answered each dossier
          for (size_t k = 0; k < members.size(); ++k)
            settle(members[k], r.items[k].outcome, r.items[k].error_code, r.items[k].message);
          update_alone();
          return;
        }
        if (r.ok() || members.size() == 1) {
          for (size_t gi : members) settle(gi, r.outcome, r.error_code, r.message);
          update_alone();
          return;
        }
        // One answer for a call of several dossiers that was refused (a portal that answers per
        // call refuses the whole call, nothing applied). When it names the first offending item
        // (data[i]), that dossier is settled alone and the others are sent again together;
        // otherwise every dossier is sent alone. Each round removes at least one dossier.
        if (auto idx = OffendingIndex(r.message, members.size())) {
          ++counters["calls_split_by_index"];
          const size_t bad = members[*idx];
          std::vector<size_t> rest;
          for (size_t gi : members)
            if (gi != bad) rest.push_back(gi);
          settle(bad, r.outcome, r.error_code, r.message);
          send_dossiers(rest, update);
          update_alone();
          return;
        }
        ++counters["calls_split_member_by_member"];
        for (size_t gi : members) send_dossiers({gi}, update);
      };

  const size_t per_call = static_cast<size_t>(cfg->dossiers_per_call);
  auto chunks = [&](const std::vector<size_t>& v, const std::function<void(const std::vector<size_t>&)>& fn) {
    for (size_t i = 0; i < v.size(); i += per_call)
      fn(std::vector<size_t>(v.begin() + i, v.begin() + std::min(v.size(), i + per_call)));
  };
  for (const auto& b : dossier_order)
    chunks(dossier_buckets[b], [&](const std::vector<size_t>& m) { send_dossiers(m, b.second); });

  // 3. Progress calls: runs of consecutive steps of several dossiers, each run in order. A
  //    refused call settles the named step alone (its earlier steps are sent again, its later
  //    steps wait behind it); a step answered "already there" is done.
  std::function<void(const std::vector<StepRun>&)> send_progress = [&](const std::vector<StepRun>& runs) {
    if (stop_all || runs.empty() || stopping()) return;
    std::vector<nlohmann::json> steps;
    std::vector<std::pair<size_t, size_t>> at;  // call index -> (group, item)
    std::vector<size_t> members;
    for (const auto& run : runs) {
      members.push_back(run.gi);
      for (size_t j = run.begin; j < run.end; ++j) {
        steps.push_back(groups[run.gi].wire[j]);
        at.emplace_back(run.gi, j);
      }
    }
    // One key per run, naming exactly the steps it carries (a gateway that honours keys must
    // never answer a run from another run's stored answer).
    std::string key, ids;
    for (const auto& run : runs) {
      const PassGroup& g = groups[run.gi];
      if (!key.empty()) key += ',';
      key += KeyPart(cfg->destination + ":" + g.items.front().record_id + ":progress:" +
                     std::to_string(g.items[run.begin].seq) + "-" +
                     std::to_string(g.items[run.end - 1].seq));
      if (!ids.empty()) ids += ',';
      ids += g.items.front().record_id;
    }
    SendResult r = client.SyncProgress(steps, {groups[runs.front().gi].madonvi, key});
    const int64_t answered = clock_->NowMs();
    exchanges.push_back({"CapNhatTienDoHoSoMC", ids, r});
    if (r.outcome == PortalOutcome::kRetryable) {
      for (const auto& [gi, j] : at) {
        PassGroup& g = groups[gi];
        g.state[j] = "pending";
        g.attempted[j] = true;
        g.error = DescribeFailure("có thể thử lại", r.http_status, r.error_code, r.message);
        g.retry_after_ms = r.retry_after_ms;
        g.answered_ms = answered;
        // Ambiguous: these steps may be at the portal; they go again one per call.
        if (r.ambiguous) g.items[j].ambiguous = true;
      }
      if (r.ambiguous) ++counters["ambiguous_failures"];
      return;
    }
    if (call_failed(members, r, answered)) return;
    auto settle_step = [&](size_t gi, size_t j, PortalOutcome o, const std::string& code,
                           const std::string& msg) {
      PassGroup& g = groups[gi];
      g.answered_ms = answered;
      if (o == PortalOutcome::kSuccess || o == PortalOutcome::kAlreadyExists) {
        g.state[j] = "done";
        g.items[j].ambiguous = false;
      } else if (o == PortalOutcome::kRetryable) {
        g.state[j] = "pending";
        g.attempted[j] = true;
        g.retry_after_ms = r.retry_after_ms;
        g.error = DescribeFailure("có thể thử lại", r.http_status, code, msg);
      } else {
        g.state[j] = "dead";
        g.error = DescribeFailure("lỗi vĩnh viễn", r.http_status, code, msg);
      }
    };
    if (r.items.size() == steps.size()) {  // the portal answered each step
      std::set<size_t> blocked;  // a group with an earlier step not applied
      for (size_t k = 0; k < at.size(); ++k) {
        const auto [gi, j] = at[k];
        const ItemResult& a = r.items[k];
        const bool applied = a.outcome == PortalOutcome::kSuccess || a.outcome == PortalOutcome::kAlreadyExists;
        if (applied) {
          settle_step(gi, j, a.outcome, a.error_code, a.message);  // even after a refused one
        } else if (!blocked.count(gi)) {
          blocked.insert(gi);
          settle_step(gi, j, a.outcome, a.error_code, a.message);
        }  // else: not attempted, it waits behind the earlier step ("" -> pending as is)
      }
      return;
    }
    if (r.ok() || r.outcome == PortalOutcome::kAlreadyExists) {
      for (const auto& [gi, j] : at) settle_step(gi, j, PortalOutcome::kSuccess, "", "");
      return;
    }
    // Refused as a whole (nothing applied).
    if (at.size() == 1) {
      settle_step(at[0].first, at[0].second, r.outcome, r.error_code, r.message);
      return;
    }
    if (auto idx = OffendingIndex(r.message, at.size())) {
      ++counters["calls_split_by_index"];
      const auto [bad_g, bad_j] = at[*idx];
      settle_step(bad_g, bad_j, r.outcome, r.error_code, r.message);
      // Everything else again, without the refused step and the steps behind it.
      std::vector<StepRun> again;
      for (const auto& run : runs) {
        StepRun x = run;
        if (run.gi == bad_g) x.end = bad_j;
        if (x.begin < x.end) again.push_back(x);
      }
      send_progress(again);
      return;
    }
    ++counters["calls_split_member_by_member"];
    if (runs.size() > 1) {
      for (const auto& run : runs) send_progress({run});
      return;
    }
    // One dossier's steps, no index: one step at a time until one is refused.
    const StepRun& run = runs.front();
    for (size_t j = run.begin; j < run.end; ++j) {
      send_progress({{run.gi, j, j + 1}});
      if (groups[run.gi].state[j] != "done") break;
    }
  };

  std::map<std::string, std::vector<size_t>> progress_buckets;  // unit
  std::vector<std::string> progress_order;
  std::vector<size_t> ambiguous_progress;
  for (size_t gi : progress_groups) {
    if (groups[gi].ambiguous) {
      ambiguous_progress.push_back(gi);
      continue;
    }
    if (!progress_buckets.count(groups[gi].madonvi)) progress_order.push_back(groups[gi].madonvi);
    progress_buckets[groups[gi].madonvi].push_back(gi);
  }
  for (const auto& u : progress_order) {
    chunks(progress_buckets[u], [&](const std::vector<size_t>& m) {
      std::vector<StepRun> runs;
      for (size_t gi : m) runs.push_back({gi, 0, groups[gi].items.size()});
      send_progress(runs);
    });
  }
  // Steps that may already be at the portal: the protocol offers no way to ask, so they go
  // again one per call (a repeated loss then costs one step), each counted beforehand, in a
  // transaction of its own, as a possible duplicate.
  for (size_t gi : ambiguous_progress) {
    PassGroup& g = groups[gi];
    for (size_t j = 0; j < g.items.size(); ++j) {
      if (stop_all || stopping()) break;
      if (g.items[j].ambiguous) {
        Status st = BumpCountersNow({{"steps_resent_after_ambiguity", 1}});
        if (!st.ok()) return st;
      }
      send_progress({{gi, j, j + 1}});
      if (g.state[j] != "done") break;
    }
  }

  // 4. Next attempt, backoff (Retry-After counted from when the answer arrived) and the bounds
  //    on attempts and age, per item.
  for (auto& g : groups) {
    const int64_t base = g.answered_ms ? g.answered_ms : now;
    for (size_t j = 0; j < g.items.size(); ++j) {
      OutboxItem& it = g.items[j];
      std::string& st = g.state[j];
      if (st.empty()) st = "pending";  // not sent (stopping, paused, behind a refused step)
      it.last_error = st == "done" ? "" : g.error;
      if (g.ambiguous && it.op == "dossier" && st != "done") it.ambiguous = true;
      if (st == "done") it.ambiguous = false;
      if (st == "pending" && g.attempted[j]) {
        it.attempts += 1;
        it.next_attempt_ms = base + Backoff(it.attempts, g.retry_after_ms);
        if (it.attempts >= cfg->max_attempts || now - it.created_ms > cfg->max_age_ms) st = "dead";
      } else if (st == "pending") {
        it.next_attempt_ms = stop_all ? paused_until_ms_.load() : now;
      } else if (st == "held") {
        // A held item is released when mappings change, or every held_retry_ms.
        it.next_attempt_ms = now + cfg->held_retry_ms;
      }
    }
  }

  // 5. Every exchange, the synced flags, the counters and every item's outcome in ONE
  //    transaction.
  int finished = 0;
  int64_t left_queue = 0;
  {
    std::lock_guard log_lock(log_mu_);
    auto tx_or = store_->Begin();
    if (!tx_or.ok()) return tx_or.status();
    auto& tx = *tx_or.value();
    // The records first (all at once, in the store's one order), then the export chain, then
    // the items: intake takes a record, then its items; finishing an item and then marking
    // another record synced would wait for intake crosswise (a deadlock on PostgreSQL).
    {
      std::vector<int64_t> pks;
      for (const auto& g : groups) pks.push_back(g.items.front().record_pk);
      Status st = tx.LockRecords(pks);
      if (!st.ok()) return st;
    }
    // log_mu_ serialises appends, so the head read once stays the head for this transaction.
    std::string head;
    for (const auto& e : exchanges) {
      Status st = LogExchange(tx, e.op, e.record_ids, e.result, &head);
      if (!st.ok()) return st;
    }
    if (!head.empty()) {
      Status st = SetLogHead(tx, head);
      if (!st.ok()) return st;
    }
    for (const auto& g : groups) {
      if (g.synced && on_synced_) {
        Status st = on_synced_(tx, g.items.front().record_pk);
        if (!st.ok()) return st;
      }
      for (size_t j = 0; j < g.items.size(); ++j) {
        if (g.state[j] == "dead") ++counters["dead_lettered"];
        Status st = tx.FinishOutbox(g.items[j], g.state[j], now);
        if (!st.ok()) return st;
        if (g.state[j] == "done" || g.state[j] == "dead") ++left_queue;
        ++finished;
      }
    }
    Status st = BumpCounters(tx, counters);
    if (!st.ok()) return st;
    st = tx.Commit();
    if (!st.ok()) return st;
  }
  queued_ -= left_queue;
  if (after_commit_) after_commit_();
  for (const auto& g : groups) {
    size_t bad = g.items.size();
    for (size_t j = 0; j < g.items.size(); ++j) {
      if (g.state[j] == "done") last_success_ms_ = now;
      else if (bad == g.items.size() && !g.items[j].last_error.empty()) bad = j;
    }
    if (bad == g.items.size()) continue;
    const OutboxItem& it = g.items[bad];
    std::lock_guard lock(status_mu_);
    last_error_ = it.last_error;
    last_error_ms_ = now;
    logger_.Log(g.state[bad] == "dead" ? LogLevel::kError : LogLevel::kWarn, "export_failed",
                {{"record", it.record_id}, {"op", it.op}, {"state", g.state[bad]},
                 {"attempts", it.attempts}, {"error", it.last_error}});
  }
  return finished;
}

void Outbox::SenderLoop(int index, int64_t started_ms) {
  // Named so that a host (and the lifecycle test) can tell the plugin's threads apart.
  pthread_setname_np(pthread_self(), ("danvan-send-" + std::to_string(index)).substr(0, 15).c_str());
  std::unique_ptr<PortalClient> client;
  uint64_t client_generation = 0;
  int64_t next_reconcile = started_ms + config()->reconcile_interval_ms;
  int64_t next_procedures = started_ms + config()->procedures_refresh_interval_ms;
  int64_t next_held_release = started_ms + config()->held_retry_ms;
  std::unique_lock lock(run_mu_);
  while (!stopping_) {
    lock.unlock();
    int done = 0;
    // A configuration reload changed the portal settings: the next pass uses a new client.
    if (client && client_generation != client_generation_.load()) {
      {
        std::lock_guard reg(run_mu_);
        clients_.erase(std::find(clients_.begin(), clients_.end(), client.get()));
      }
      client.reset();
    }
    if (!client) {
      client_generation = client_generation_.load();
      auto c = factory()();
      if (!c.ok()) {
        logger_.Log(LogLevel::kError, "portal_client_failed", {{"error", c.status().message()}});
      } else {
        client = std::move(c).value();
        std::lock_guard reg(run_mu_);
        clients_.push_back(client.get());
        if (cancel_all_) client->Cancel();
      }
    }
    if (client) {
      auto r = RunOnce(*client);
      if (!r.ok()) logger_.Log(LogLevel::kError, "outbox_pass_failed", {{"error", r.status().message()}});
      else done = r.value();
      const int64_t now = clock_->NowMs();
      bool scheduled = config()->reconcile_interval_ms > 0 && now >= next_reconcile;
      if (index == 0 && !stopping() && now >= next_held_release) {
        next_held_release = now + config()->held_retry_ms;
        auto tx = store_->Begin();
        if (tx.ok() && tx.value()->ReleaseHeld(config()->destination, now).ok()) (void)tx.value()->Commit();
      }
      if (index == 0 && !stopping() && (reconcile_requested_.exchange(false) || scheduled)) {
        next_reconcile = now + config()->reconcile_interval_ms;
        // A requested run (reconcile op) always runs; a scheduled one if no other node has it.
        auto mine = scheduled ? ClaimScheduledReconcile(now) : Result<bool>(true);
        if (!mine.ok()) logger_.Log(LogLevel::kError, "reconcile_failed", {{"error", mine.status().message()}});
        Status st = mine.ok() && mine.value() ? Reconcile(*client) : Status::Ok();
        if (!st.ok()) logger_.Log(LogLevel::kError, "reconcile_failed", {{"error", st.message()}});
      }
      const bool procedures_due =
          config()->procedures_refresh_interval_ms > 0 && now >= next_procedures;
      if (index == 0 && !stopping() && merge_procedures_ &&
          (procedures_requested_.load() || procedures_due)) {
        if (procedures_due) next_procedures = now + config()->procedures_refresh_interval_ms;
        RefreshProcedures(*client);
      }
    }
    lock.lock();
    if (done == 0)
      run_cv_.wait_for(lock, std::chrono::milliseconds(config()->poll_interval_ms), [this] { return stopping_; });
  }
  // Leaving: in the same critical section that saw the stop flag, so a Start either saw this
  // sender running (and it carries on: stopping_ was cleared before it could leave) or sees it
  // gone and replaces it.
  if (client) clients_.erase(std::find(clients_.begin(), clients_.end(), client.get()));
  slot_running_[static_cast<size_t>(index)] = false;
  --alive_;
  exit_cv_.notify_all();
  lock.unlock();
  client.reset();  // closes the portal connection
}

Result<bool> Outbox::ClaimScheduledReconcile(int64_t now_ms) {
  const auto cfg = config();
  auto tx_or = store_->Begin();
  if (!tx_or.ok()) return tx_or.status();
  auto& tx = *tx_or.value();
  const std::string job = "outbox.reconcile_next." + cfg->destination;
  auto locked = tx.TryLockJob(job);
  if (!locked.ok()) return locked.status();
  if (!locked.value()) return false;
  auto last = tx.GetSettingInTx(job);
  if (!last.ok()) return last.status();
  if (last.value()) {
    const nlohmann::json j = ParseStoredJson(*last.value());
    // This node's own timer decides for itself; another node's run counts for the interval.
    if (j.is_object() && j.value("node", "") != cfg->node && j.value("next_ms", int64_t{0}) > now_ms)
      return false;
  }
  Status st = tx.SetSetting(job, nlohmann::json{{"node", cfg->node},
                                                {"next_ms", now_ms + cfg->reconcile_interval_ms}}.dump());
  if (!st.ok()) return st;
  st = tx.Commit();
  if (!st.ok()) return st;
  return true;
}

Status Outbox::Reconcile(PortalClient& client) {
  // Compare what the store says was confirmed with what the portal answers; re-queue what it
  // does not have (the dossier, then its progress steps in order).
  int64_t checked = 0, missing = 0, after = 0, errors = 0;
  const PortalMappings maps = mappings();
  while (!stopping()) {
    auto batch = store_->SyncedDossiers(after, 200);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) break;
    for (const auto& rec : batch.value()) {
      if (stopping()) break;
      after = rec.pk;
      std::string madonvi = maps.units.count(rec.unit) ? maps.units.at(rec.unit) : "";
      LookupResult r = client.Lookup(rec.key.id, {madonvi, ""});
      ++checked;
      if (!r.ok()) {
        ++errors;
        continue;
      }
      if (r.found) continue;
      ++missing;
      auto tx_or = store_->Begin();
      if (!tx_or.ok()) return tx_or.status();
      auto& tx = *tx_or.value();
      const int64_t now = clock_->NowMs();
      RecordRow row = rec;
      row.synced = false;
      auto put = tx.PutRecord(row);
      if (!put.ok()) return put.status();
      int64_t added = 0;
      Status st = EnqueueDossier(tx, row, now, &added);
      if (!st.ok()) return st;
      // The steps the store says were sent, in their original order.
      auto sent = tx.SentProgress(config()->destination, row.pk);
      if (!sent.ok()) return sent.status();
      for (const auto& payload : sent.value()) {
        int64_t one = 0;
        st = EnqueueProgress(tx, row, ParseStoredJson(payload), now,
                             StepSource::kResend, &one);
        if (!st.ok()) return st;
        added += one;
      }
      st = tx.Commit();
      if (!st.ok()) return st;
      queued_ += added;
    }
  }
  std::lock_guard lock(status_mu_);
  last_reconcile_ = {{"at", FormatIsoTime(clock_->NowMs())}, {"checked", checked},
                     {"missing_requeued", missing}, {"lookup_errors", errors}};
  logger_.Log(LogLevel::kInfo, "reconciled", last_reconcile_);
  return Status::Ok();
}

Result<nlohmann::json> Outbox::StatusJson() {
  auto st = store_->OutboxStatus(config()->destination);
  if (!st.ok()) return st.status();
  const int64_t now = clock_->NowMs();
  nlohmann::json depth = nlohmann::json::object();
  for (const auto& [k, v] : st->by_state) depth[k] = v;
  nlohmann::json out = {{"enabled", config()->enabled},
                        {"destination", config()->destination},
                        {"queue", depth},
                        {"queued", queued_.load()},
                        {"max_queued", config()->max_queued},
                        {"dead_letters", st->dead_letters},
                        {"oldest_pending_age_ms", st->oldest_pending_created_ms ? now - st->oldest_pending_created_ms : 0},
                        {"paused", now < paused_until_ms_.load()}};
  out["last_success"] = last_success_ms_.load() ? nlohmann::json(FormatIsoTime(last_success_ms_.load())) : nlohmann::json(nullptr);
  // What the exporters did about the portal's lack of idempotency (README "What is and is not
  // guaranteed"): steps_resent_after_ambiguity is the most duplicate steps the portal can hold.
  auto counters = store_->GetSetting("outbox.counters." + config()->destination);
  if (!counters.ok()) return counters.status();
  nlohmann::json c = counters.value() ? ParseStoredJson(*counters.value())
                                      : nlohmann::json::object();
  nlohmann::json residual = nlohmann::json::object();
  for (const char* k : {"ambiguous_failures", "steps_resent_after_ambiguity",
                        "dossier_lookups_after_ambiguity", "dossiers_found_after_ambiguity",
                        "dossiers_not_resent", "host_steps_replacing_derived",
                        "host_steps_after_derived_sent", "dossier_versions_superseded",
                        "calls_split_by_index", "calls_split_member_by_member", "dead_lettered",
                        "leases_released_at_start"})
    residual[k] = c.is_object() ? c.value(k, int64_t{0}) : int64_t{0};
  out["residual"] = residual;
  std::lock_guard lock(status_mu_);
  out["last_error"] = last_error_.empty() ? nlohmann::json(nullptr)
                                          : nlohmann::json{{"at", FormatIsoTime(last_error_ms_)}, {"message", last_error_}};
  if (now < paused_until_ms_.load())
    out["pause"] = {{"until", FormatIsoTime(paused_until_ms_.load())}, {"reason", pause_reason_}};
  out["last_reconcile"] = last_reconcile_;
  return out;
}

Result<nlohmann::json> Outbox::DeadLetters(const nlohmann::json& req) {
  auto rows = store_->ListDeadLetters(req.value("limit", 100), req.value("offset", 0));
  if (!rows.ok()) return rows.status();
  nlohmann::json items = nlohmann::json::array();
  for (const auto& d : rows.value()) {
    items.push_back({{"id", d.id}, {"destination", d.destination}, {"record_id", d.record_id},
                     {"op", d.op}, {"payload", d.payload.empty() ? nlohmann::json(nullptr) : ParseStoredJson(d.payload)},
                     {"last_error", d.last_error}, {"attempts", d.attempts},
                     {"dead_at", FormatIsoTime(d.dead_ms)},
                     {"resent_at", d.resent_ms ? nlohmann::json(FormatIsoTime(d.resent_ms)) : nlohmann::json(nullptr)}});
  }
  return nlohmann::json{{"items", items}};
}

Result<nlohmann::json> Outbox::Resend(const nlohmann::json& req) {
  if (!req.contains("id") || !req["id"].is_number_integer())
    return Status::InvalidInput("/id: cần số thứ tự thư chết (số nguyên)");
  auto tx = store_->Begin();
  if (!tx.ok()) return tx.status();
  Status st = tx.value()->ResendDeadLetter(req["id"].get<int64_t>(), clock_->NowMs());
  if (!st.ok()) return st;
  st = tx.value()->Commit();
  if (!st.ok()) return st;
  ++queued_;
  run_cv_.notify_all();
  return nlohmann::json{{"resent", req["id"]}};
}

Result<nlohmann::json> Outbox::SetMappings(const nlohmann::json& req) {
  if (!req.contains("mappings")) return Status::InvalidInput("/mappings: thiếu bảng ánh xạ");
  auto m = PortalMappings::FromJson(req["mappings"]);
  if (!m.ok()) return Status::InvalidInput("/mappings: " + m.status().message());
  auto tx = store_->Begin();
  if (!tx.ok()) return tx.status();
  Status st = tx.value()->SetSetting("outbox.mappings." + config()->destination, req["mappings"].dump());
  if (!st.ok()) return st;
  auto released = tx.value()->ReleaseHeld(config()->destination, clock_->NowMs());
  if (!released.ok()) return released.status();
  st = tx.value()->Commit();
  if (!st.ok()) return st;
  {
    std::lock_guard lock(mappings_mu_);
    mappings_ = m.value();
  }
  run_cv_.notify_all();
  return nlohmann::json{{"units", m->units.size()}, {"procedures", m->procedures.size()}};
}

Result<nlohmann::json> Outbox::MappingsJson() {
  // Mappings an administrator stored override the configuration file's (Init, SetMappings).
  auto stored = store_->GetSetting("outbox.mappings." + config()->destination);
  if (!stored.ok()) return stored.status();
  const PortalMappings m = mappings();
  return nlohmann::json{{"destination", config()->destination},
                        {"source", stored.value() ? "stored" : "config"},
                        {"units", m.units},
                        {"procedures", m.procedures}};
}

Result<nlohmann::json> Outbox::VerifyLog() { return VerifyExportLog(*store_, config()->destination); }

void Outbox::SetProcedureHooks(ProcedureCodesProvider codes, ProceduresHook merge) {
  procedure_codes_ = std::move(codes);
  merge_procedures_ = std::move(merge);
}

Result<nlohmann::json> Outbox::RequestProcedureRefresh(const nlohmann::json& req) {
  if (!config()->enabled || !merge_procedures_)
    return Status::InvalidInput("xuất dữ liệu lên Cổng chưa được bật (/outbox/enabled): không lấy được thủ tục");
  std::vector<std::string> codes;
  if (req.contains("codes")) {
    if (!req["codes"].is_array() || req["codes"].empty())
      return Status::InvalidInput("/codes: cần danh sách mã thủ tục (MaTTHC) không rỗng");
    for (size_t i = 0; i < req["codes"].size(); ++i) {
      const auto& c = req["codes"][i];
      if (!c.is_string() || c.get<std::string>().empty() || c.get<std::string>().size() > 64)
        return Status::InvalidInput("/codes/" + std::to_string(i) + ": mã thủ tục phải là chuỗi 1–64 ký tự");
      codes.push_back(c.get<std::string>());
    }
  }
  {
    std::lock_guard lock(status_mu_);
    requested_codes_ = codes;
    ++procedures_request_seq_;
  }
  procedures_requested_ = true;
  run_cv_.notify_all();
  return nlohmann::json{{"scheduled", true}, {"codes", codes.empty() ? nlohmann::json("all") : nlohmann::json(codes)}};
}

nlohmann::json Outbox::ProceduresStatus() const {
  std::lock_guard lock(status_mu_);
  return {{"pending", procedures_requested_.load()},
          {"refresh_interval_ms", config()->procedures_refresh_interval_ms},
          {"last", last_procedures_}};
}

void Outbox::RefreshProcedures(PortalClient& client) {
  std::vector<std::string> codes;
  int64_t request_seq = 0;
  {
    std::lock_guard lock(status_mu_);
    codes = requested_codes_;
    request_seq = procedures_request_seq_;
  }
  if (codes.empty() && procedure_codes_) codes = procedure_codes_();
  std::vector<nlohmann::json> answers;
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& code : codes) {
    if (stopping()) return;  // the request stays pending
    auto r = client.GetProcedure(code);
    if (r.ok()) {
      answers.push_back(std::move(r).value());
    } else if (r.status().code() == Status::Code::kRetryLater) {
      // The portal is unavailable: keep the request for the next pass.
      logger_.Log(LogLevel::kWarn, "procedures_refresh_deferred", {{"code", code}, {"error", r.status().message()}});
      return;
    } else {
      failures.push_back({{"code", code}, {"error", r.status().message()}});
    }
  }
  nlohmann::json summary = {{"at", FormatIsoTime(clock_->NowMs())},
                            {"requested", codes.size()},
                            {"fetched", answers.size()},
                            {"failures", failures}};
  auto merged = merge_procedures_(answers);
  if (merged.ok()) summary["merge"] = merged.value();
  else summary["merge_error"] = merged.status().message();
  logger_.Log(LogLevel::kInfo, "procedures_refreshed",
              {{"requested", codes.size()}, {"fetched", answers.size()}, {"failures", failures.size()}});
  std::lock_guard lock(status_mu_);
  last_procedures_ = std::move(summary);
  if (procedures_request_seq_ == request_seq) {  // no newer request arrived meanwhile
    requested_codes_.clear();
    procedures_requested_ = false;
  }
}

Result<nlohmann::json> Outbox::RequestReconcile() {
  if (!config()->enabled) return Status::InvalidInput("xuất dữ liệu lên Cổng chưa được bật (/outbox/enabled)");
  reconcile_requested_ = true;
  run_cv_.notify_all();
  return nlohmann::json{{"scheduled", true}};
}

}  // namespace danvan
