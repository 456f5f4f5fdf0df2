// State of the portal stand-in: what it received, sessions and tokens, injected faults.
// All methods are thread-safe (one mutex); the HTTP handlers call them from Poco's pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace danvan::standin {

struct Faults {
  double error_rate = 0;          // share of service requests answered with error_status
  int error_status = 503;
  int fail_next = 0;              // the next N service requests fail with fail_status
  int fail_status = 500;
  std::string retry_after;        // Retry-After header value on injected errors ("" = none)
  int64_t delay_ms = 0;           // every service request waits this long before answering
  int delay_next = -1;            // only the next N requests are delayed (-1 = all)
  int drop_next = 0;              // close the connection before applying (mid-request)
  double drop_rate = 0;
  int drop_after_apply_next = 0;  // apply, then close without a response
  double drop_after_apply_rate = 0;
  int malformed_next = 0;         // apply, then answer 200 with a malformed body
  double malformed_rate = 0;
  // Hostile answers (issue 10): apply, then answer 200 with a body of oversize_bytes (streamed,
  // chunked, no Content-Length) / a JSON body nested deep_levels deep.
  int oversize_next = 0;
  int64_t oversize_bytes = 20LL << 20;
  int deep_next = 0;
  int deep_levels = 200000;
  int expire_sessions_after = -1; // expire every session/token after N more service requests
  bool error_code_as_number = false;  // answer error_code as a JSON number
  std::string success_code = "0";     // "0" or "00" (domain.md §1: both mean success)
  bool include_auth = false;      // faults also hit the log-in / token endpoints
  // MaHoSo whose items (dossier or progress) the portal refuses, as a business rule would
  // (per-item answer "-1", the rest of the batch applied).
  std::vector<std::string> reject_items;

  nlohmann::json ToJson() const;
  // Merges the given fields; unknown fields are an error (returned as text, "" when fine).
  std::string Merge(const nlohmann::json& j);
};

enum class FaultAction { kNone, kError, kDrop, kDropAfterApply, kMalformed, kOversize, kDeep };

struct FaultDecision {
  FaultAction action = FaultAction::kNone;
  int status = 0;
  std::string retry_after;
  int64_t delay_ms = 0;
  int64_t oversize_bytes = 0;
  int deep_levels = 0;
};

struct StandinOptions {
  std::string username = "danvan";
  std::string password;
  std::string client_id = "danvan";
  std::string client_secret;
  std::string dstcode;           // required header value when non-empty
  int64_t session_ttl_ms = 30 * 60 * 1000;
  int64_t token_ttl_s = 3600;
  bool progress_requires_dossier = true;
  bool idempotency = true;       // replay the stored answer for a repeated Idempotency-Key
  uint64_t seed = 42;
  std::string store_file;        // JSONL of applied changes, "" = memory only
  // Strict mode (README "Strict mode"): the published protocol at its strictest. One answer
  // per call, all or nothing; Idempotency-Key ignored; field limits enforced.
  bool strict = false;
};

// The answer to one strict DongBoHoSoMC / CapNhatTienDoHoSoMC call.
struct StrictAnswer {
  std::string code;     // "0" when the call was applied
  std::string message;  // names the first offending item as data[i]
  bool applied = false;
};

class State {
 public:
  explicit State(StandinOptions options);

  // --- auth ---
  std::string NewSession();
  std::string NewToken();
  bool SessionValid(const std::string& s);
  bool TokenValid(const std::string& t);
  void ExpireAll();
  const StandinOptions& options() const { return options_; }

  // --- faults ---
  std::string SetFaults(const nlohmann::json& j);
  nlohmann::json GetFaults();
  // Decides the fate of one service request (consumes counters, draws from the seeded RNG).
  FaultDecision Decide(bool is_auth);
  // Wire form of an error_code under the current faults setting.
  nlohmann::json Code(const std::string& code);
  nlohmann::json SuccessCode();

  // --- idempotency (whole request; the batch services key per dossier, see ApplyBatch) ---
  std::optional<std::pair<int, std::string>> Replay(const std::string& key);
  void Remember(const std::string& key, int status, const std::string& body);

  // --- data ---
  // Applies a DongBoHoSoMC (dossier=true) or CapNhatTienDoHoSoMC batch item by item and
  // returns result[], one answer per item in order (see README "Per-item answers"):
  //   dossier:  {MaHoSo, error_code, message, status: created|updated|exists|rejected}
  //   progress: {MaHoSo, TrangThai, ThoiDiemXuLy, error_code, message,
  //              status: applied|rejected|skipped}
  // item_errors[i] lists the validation errors of item i (rejected, "-1"). A progress step of
  // an unknown dossier is rejected ("-4") when the option requires the dossier; the later steps
  // of a dossier whose step was rejected in the same call are skipped ("-5", not applied).
  // Idempotency (options().idempotency): idem_header is split at commas into one key per run of
  // consecutive items with the same MaHoSo (a key's "%2C" is a comma); when the counts differ
  // the whole header is one key for the whole batch. A key seen before is not applied again:
  // its items get the answers stored for it (counted in idempotent_replays). A key is stored
  // when at least one of its items was applied or already existed. *replayed counts the keys
  // replayed in this call.
  nlohmann::json ApplyBatch(bool dossier, const nlohmann::json& items,
                            const std::vector<std::vector<std::string>>& item_errors,
                            bool is_update, const std::string& unit,
                            const std::string& idem_header, int* replayed);
  bool HasDossier(const std::string& ma_ho_so);
  // Applies progress steps; returns the missing dossier code if one is unknown and the option
  // requires the dossier (then nothing is applied).
  std::optional<std::string> ApplyProgress(const nlohmann::json& steps, const std::string& unit,
                                           const std::string& idempotency_key);
  nlohmann::json LookupDossier(const std::string& ma_ho_so);

  // Strict mode: checks every item of the call in order (item_errors: schema and field-limit
  // errors; then the business rules: reject_items, create of a known MaHoSo "-3 ... đã tồn
  // tại", update of an unknown one "-4", a step of an unknown dossier "-4"). The first
  // offending item refuses the whole call, named as data[i]; nothing is applied. Otherwise every
  // item is applied in order (steps recorded with their duplicate / out-of-order flags).
  StrictAnswer ApplyStrict(bool dossier, const nlohmann::json& items,
                           const std::vector<std::vector<std::string>>& item_errors,
                           bool is_update, const std::string& unit);
  // Every service call received, in order (GET /_control/calls): service, unit, isUpdating,
  // the MaHoSo of each item, the answer's HTTP status and error_code, whether it was applied
  // and whether the answer was delivered (a lost answer: applied, connection closed).
  void RecordCall(nlohmann::json call);
  // Numbers a service call when it arrives (1, 2, ...) and makes it the calling thread's
  // current call: every change applied on this thread until the next BeginCall carries it as
  // "call" in Received()["applied"], and RecordCall stores it as "call" too, so a test links
  // each applied change to the call (and its fault) that carried it. Called by the request
  // handler, which serves one request on one thread.
  int64_t BeginCall();
  nlohmann::json Calls();

  void CountRequest(const std::string& service, const std::string& outcome);
  nlohmann::json Received();
  nlohmann::json Stats();
  void Reset();

 private:
  void Log(const nlohmann::json& event);
  int64_t Now() const;
  std::string RandomToken();

  StandinOptions options_;
  std::mutex mu_;
  std::mt19937_64 rng_;
  Faults faults_;
  std::map<std::string, int64_t> sessions_;  // token -> expiry ms
  std::map<std::string, int64_t> tokens_;
  std::map<std::string, std::pair<int, std::string>> idempotent_;
  std::map<std::string, nlohmann::json> idempotent_items_;  // batch key -> its items' answers
  nlohmann::json CodeLocked(const std::string& code) const;
  nlohmann::json SuccessLocked() const;
  struct Dossier {
    nlohmann::json item;
    std::string unit;
    int creates = 0;
    int updates = 0;
    int duplicate_creates = 0;
  };
  std::map<std::string, Dossier> dossiers_;
  nlohmann::json progress_ = nlohmann::json::array();
  std::map<std::string, std::string> last_step_time_;  // MaHoSo -> last ThoiDiemXuLy applied
  std::set<std::string> step_keys_;                    // MaHoSo|TrangThai|ThoiDiemXuLy
  int64_t seq_ = 0;
  int64_t duplicate_steps_ = 0;
  int64_t out_of_order_steps_ = 0;
  int64_t idempotent_replays_ = 0;
  int64_t logins_ = 0;
  int64_t tokens_issued_ = 0;
  std::map<std::string, std::map<std::string, int64_t>> requests_;  // service -> outcome -> n
  // Every applied change in order: {seq, kind: dossier|progress, MaHoSo, op, status, time}
  // (status: TrangThaiHoSo or TrangThai; time: ThoiDiemXuLy of a step).
  nlohmann::json applied_ = nlohmann::json::array();
  nlohmann::json calls_ = nlohmann::json::array();
  std::atomic<int64_t> next_call_{0};
  int64_t applied_seq_ = 0;
  void NoteApplied(const std::string& kind, const nlohmann::json& item, const std::string& op);
  // Applies one progress step (caller holds mu_); returns its record.
  nlohmann::json ApplyStepLocked(const nlohmann::json& item, const std::string& unit,
                                 const std::string& key);
  std::ofstream store_;
};

}  // namespace danvan::standin
