#include "standin_state.h"

#include <algorithm>
#include <chrono>

namespace danvan::standin {

using nlohmann::json;

json Faults::ToJson() const {
  return {{"error_rate", error_rate},
          {"error_status", error_status},
          {"fail_next", fail_next},
          {"fail_status", fail_status},
          {"retry_after", retry_after},
          {"delay_ms", delay_ms},
          {"delay_next", delay_next},
          {"drop_next", drop_next},
          {"drop_rate", drop_rate},
          {"drop_after_apply_next", drop_after_apply_next},
          {"drop_after_apply_rate", drop_after_apply_rate},
          {"malformed_next", malformed_next},
          {"malformed_rate", malformed_rate},
          {"oversize_next", oversize_next},
          {"oversize_bytes", oversize_bytes},
          {"deep_next", deep_next},
          {"deep_levels", deep_levels},
          {"expire_sessions_after", expire_sessions_after},
          {"error_code_as_number", error_code_as_number},
          {"success_code", success_code},
          {"include_auth", include_auth},
          {"reject_items", reject_items}};
}

std::string Faults::Merge(const json& j) {
  if (!j.is_object()) return "faults: expected an object";
  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      const json& v = it.value();
      if (k == "error_rate") error_rate = v.get<double>();
      else if (k == "error_status") error_status = v.get<int>();
      else if (k == "fail_next") fail_next = v.get<int>();
      else if (k == "fail_status") fail_status = v.get<int>();
      else if (k == "retry_after") retry_after = v.is_string() ? v.get<std::string>() : v.dump();
      else if (k == "delay_ms") delay_ms = v.get<int64_t>();
      else if (k == "delay_next") delay_next = v.get<int>();
      else if (k == "drop_next") drop_next = v.get<int>();
      else if (k == "drop_rate") drop_rate = v.get<double>();
      else if (k == "drop_after_apply_next") drop_after_apply_next = v.get<int>();
      else if (k == "drop_after_apply_rate") drop_after_apply_rate = v.get<double>();
      else if (k == "malformed_next") malformed_next = v.get<int>();
      else if (k == "malformed_rate") malformed_rate = v.get<double>();
      else if (k == "oversize_next") oversize_next = v.get<int>();
      else if (k == "oversize_bytes") oversize_bytes = v.get<int64_t>();
      else if (k == "deep_next") deep_next = v.get<int>();
      else if (k == "deep_levels") deep_levels = v.get<int>();
      else if (k == "expire_sessions_after") expire_sessions_after = v.get<int>();
      else if (k == "error_code_as_number") error_code_as_number = v.get<bool>();
      else if (k == "success_code") success_code = v.get<std::string>();
      else if (k == "include_auth") include_auth = v.get<bool>();
      else if (k == "reject_items") reject_items = v.get<std::vector<std::string>>();
      else if (k == "expire_sessions_now") continue;  // handled by the caller
      else return "faults: unknown field " + k;
    }
  } catch (const json::exception& e) {
    return std::string("faults: ") + e.what();
  }
  return "";
}

State::State(StandinOptions options) : options_(std::move(options)), rng_(options_.seed) {
  if (!options_.store_file.empty()) store_.open(options_.store_file, std::ios::app);
}

int64_t State::Now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string State::RandomToken() {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) s += kHex[rng_() % 16];
  return s;
}

std::string State::NewSession() {
  std::lock_guard<std::mutex> l(mu_);
  std::string s = RandomToken();
  sessions_[s] = Now() + options_.session_ttl_ms;
  ++logins_;
  return s;
}

std::string State::NewToken() {
  std::lock_guard<std::mutex> l(mu_);
  std::string s = RandomToken();
  tokens_[s] = Now() + options_.token_ttl_s * 1000;
  ++tokens_issued_;
  return s;
}

bool State::SessionValid(const std::string& s) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = sessions_.find(s);
  return it != sessions_.end() && Now() < it->second;
}

bool State::TokenValid(const std::string& t) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = tokens_.find(t);
  return it != tokens_.end() && Now() < it->second;
}

void State::ExpireAll() {
  std::lock_guard<std::mutex> l(mu_);
  sessions_.clear();
  tokens_.clear();
}

std::string State::SetFaults(const json& j) {
  std::lock_guard<std::mutex> l(mu_);
  Faults f = faults_;
  std::string err = f.Merge(j);
  if (!err.empty()) return err;
  faults_ = f;
  if (j.value("expire_sessions_now", false)) {
    sessions_.clear();
    tokens_.clear();
  }
  return "";
}

json State::GetFaults() {
  std::lock_guard<std::mutex> l(mu_);
  return faults_.ToJson();
}

FaultDecision State::Decide(bool is_auth) {
  std::lock_guard<std::mutex> l(mu_);
  FaultDecision d;
  Faults& f = faults_;
  if (is_auth && !f.include_auth) return d;
  if (!is_auth && f.expire_sessions_after >= 0) {
    if (f.expire_sessions_after == 0) {
      sessions_.clear();
      tokens_.clear();
      f.expire_sessions_after = -1;
    } else {
      --f.expire_sessions_after;
    }
  }
  if (f.delay_ms > 0 && f.delay_next != 0) {
    d.delay_ms = f.delay_ms;
    if (f.delay_next > 0) --f.delay_next;
  }
  std::uniform_real_distribution<double> u(0.0, 1.0);
  // Always draw the same number of values so a seed gives the same sequence whatever the
  // counters are.
  double r_drop = u(rng_), r_err = u(rng_), r_dap = u(rng_), r_mal = u(rng_);
  if (f.drop_next > 0) {
    --f.drop_next;
    d.action = FaultAction::kDrop;
  } else if (r_drop < f.drop_rate) {
    d.action = FaultAction::kDrop;
  } else if (f.fail_next > 0) {
    --f.fail_next;
    d.action = FaultAction::kError;
    d.status = f.fail_status;
  } else if (r_err < f.error_rate) {
    d.action = FaultAction::kError;
    d.status = f.error_status;
  } else if (f.drop_after_apply_next > 0) {
    --f.drop_after_apply_next;
    d.action = FaultAction::kDropAfterApply;
  } else if (r_dap < f.drop_after_apply_rate) {
    d.action = FaultAction::kDropAfterApply;
  } else if (f.malformed_next > 0) {
    --f.malformed_next;
    d.action = FaultAction::kMalformed;
  } else if (r_mal < f.malformed_rate) {
    d.action = FaultAction::kMalformed;
  } else if (f.oversize_next > 0) {
    --f.oversize_next;
    d.action = FaultAction::kOversize;
  } else if (f.deep_next > 0) {
    --f.deep_next;
    d.action = FaultAction::kDeep;
  }
  d.oversize_bytes = f.oversize_bytes;
  d.deep_levels = f.deep_levels;
  d.retry_after = f.retry_after;
  return d;
}

json State::Code(const std::string& code) {
  std::lock_guard<std::mutex> l(mu_);
  if (faults_.error_code_as_number) return std::stoi(code);
  return code;
}

json State::SuccessCode() {
  std::lock_guard<std::mutex> l(mu_);
  if (faults_.error_code_as_number) return 0;
  return faults_.success_code;
}

std::optional<std::pair<int, std::string>> State::Replay(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  if (!options_.idempotency || key.empty()) return std::nullopt;
  auto it = idempotent_.find(key);
  if (it == idempotent_.end()) return std::nullopt;
  ++idempotent_replays_;
  return it->second;
}

void State::Remember(const std::string& key, int status, const std::string& body) {
  std::lock_guard<std::mutex> l(mu_);
  if (!options_.idempotency || key.empty()) return;
  idempotent_[key] = {status, body};
}

void State::Log(const json& event) {
  if (store_.is_open()) {
    store_ << event.dump() << '\n';
    store_.flush();
  }
}

bool State::HasDossier(const std::string& ma_ho_so) {
  std::lock_guard<std::mutex> l(mu_);
  return dossiers_.count(ma_ho_so) > 0;
}

json State::CodeLocked(const std::string& code) const {
  if (faults_.error_code_as_number) return std::stoi(code);
  return code;
}

json State::SuccessLocked() const {
  if (faults_.error_code_as_number) return 0;
  return faults_.success_code;
}

namespace {

std::vector<std::string> SplitKeys(const std::string& header) {
  std::vector<std::string> keys;
  if (header.empty()) return keys;
  size_t start = 0;
  while (true) {
    size_t comma = header.find(',', start);
    std::string k = header.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!k.empty() && k.front() == ' ') k.erase(k.begin());
    while (!k.empty() && k.back() == ' ') k.pop_back();
    std::string decoded;
    for (size_t i = 0; i < k.size(); ++i) {
      if (k.compare(i, 3, "%2C") == 0) {
        decoded += ',';
        i += 2;
      } else {
        decoded += k[i];
      }
    }
    keys.push_back(decoded);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return keys;
}

}  // namespace

json State::ApplyBatch(bool dossier, const json& items,
                       const std::vector<std::vector<std::string>>& item_errors, bool is_update,
                       const std::string& unit, const std::string& idem_header, int* replayed) {
  std::lock_guard<std::mutex> l(mu_);
  *replayed = 0;
  const size_t n = items.size();
  // Runs of consecutive items of one MaHoSo, and the idempotency key of each run.
  std::vector<std::pair<size_t, size_t>> runs;  // [begin, end)
  for (size_t i = 0; i < n; ++i) {
    const std::string code = items[i].value("MaHoSo", "");
    if (!runs.empty() && items[runs.back().first].value("MaHoSo", "") == code) runs.back().second = i + 1;
    else runs.push_back({i, i + 1});
  }
  std::vector<std::string> keys = options_.idempotency ? SplitKeys(idem_header) : std::vector<std::string>{};
  std::vector<std::pair<std::pair<size_t, size_t>, std::string>> units;
  if (!keys.empty() && keys.size() == runs.size()) {
    for (size_t r = 0; r < runs.size(); ++r) units.push_back({runs[r], keys[r]});
  } else {
    units.push_back({{0, n}, options_.idempotency ? idem_header : std::string()});
  }
  json results = json::array();
  for (size_t i = 0; i < n; ++i) results.push_back(nullptr);
  std::set<std::string> blocked;  // dossiers with a rejected step earlier in this call
  for (const auto& [range, key] : units) {
    if (!key.empty()) {
      auto it = idempotent_items_.find(key);
      if (it != idempotent_items_.end() && it->second.size() == range.second - range.first) {
        for (size_t i = range.first; i < range.second; ++i) results[i] = it->second[i - range.first];
        ++idempotent_replays_;
        ++*replayed;
        continue;
      }
    }
    bool applied_any = false;
    for (size_t i = range.first; i < range.second; ++i) {
      const json& item = items[i];
      const std::string code = item.value("MaHoSo", "");
      json res = {{"MaHoSo", item.value("MaHoSo", json(""))}};
      if (!dossier) {
        res["TrangThai"] = item.value("TrangThai", json(""));
        res["ThoiDiemXuLy"] = item.value("ThoiDiemXuLy", json(""));
      }
      auto answer = [&](const char* status, const std::string& c, const std::string& message) {
        res["error_code"] = c == "0" ? SuccessLocked() : CodeLocked(c);
        res["message"] = message;
        res["status"] = status;
      };
      if (i < item_errors.size() && !item_errors[i].empty()) {
        std::string msg = "Dữ liệu không hợp lệ: ";
        for (size_t e = 0; e < item_errors[i].size() && e < 20; ++e) {
          if (e) msg += "; ";
          msg += item_errors[i][e];
        }
        answer("rejected", "-1", msg);
        if (!dossier) blocked.insert(code);
      } else if (std::find(faults_.reject_items.begin(), faults_.reject_items.end(), code) !=
                 faults_.reject_items.end()) {
        answer("rejected", "-1", "Hồ sơ " + code + " bị từ chối (giả lập quy tắc nghiệp vụ của Cổng)");
        if (!dossier) blocked.insert(code);
      } else if (dossier) {
        auto it = dossiers_.find(code);
        if (!is_update && it != dossiers_.end()) {
          ++it->second.duplicate_creates;
          answer("exists", "-3", "Hồ sơ " + code + " đã tồn tại trên hệ thống");
          applied_any = true;
        } else {
          Dossier& d = dossiers_[code];
          d.item = item;
          d.unit = unit;
          if (is_update) ++d.updates;
          else ++d.creates;
          const char* status = is_update ? "updated" : "created";
          answer(status, "0", "Đồng bộ thành công");
          applied_any = true;
          NoteApplied("dossier", item, status);
          Log({{"t", Now()}, {"kind", "dossier"}, {"op", status}, {"unit", unit}, {"item", item}});
        }
      } else if (blocked.count(code)) {
        answer("skipped", "-5", "Chưa xử lý: một bước trước của hồ sơ " + code + " trong cùng lô bị từ chối");
      } else if (options_.progress_requires_dossier && !dossiers_.count(code)) {
        answer("rejected", "-4", "Không tìm thấy hồ sơ " + code);
        blocked.insert(code);
      } else {
        ApplyStepLocked(item, unit, key);
        answer("applied", "0", "Cập nhật tiến độ thành công");
        applied_any = true;
      }
      results[i] = res;
    }
    if (!key.empty() && applied_any) {
      json stored = json::array();
      for (size_t i = range.first; i < range.second; ++i) stored.push_back(results[i]);
      idempotent_items_[key] = std::move(stored);
    }
  }
  return results;
}

namespace {
// The service call the handler on this thread is serving (State::BeginCall); 0 outside one.
thread_local int64_t t_current_call = 0;
}  // namespace

int64_t State::BeginCall() {
  t_current_call = ++next_call_;
  return t_current_call;
}

void State::NoteApplied(const std::string& kind, const json& item, const std::string& op) {
  const bool dossier = kind == "dossier";
  applied_.push_back({{"seq", ++applied_seq_},
                      {"kind", kind},
                      {"MaHoSo", item.value("MaHoSo", "")},
                      {"op", op},
                      {"status", item.value(dossier ? "TrangThaiHoSo" : "TrangThai", "")},
                      {"time", dossier ? "" : item.value("ThoiDiemXuLy", "")},
                      {"note", dossier ? item.value("GhiChu", "") : item.value("NoiDungXuLy", "")},
                      {"call", t_current_call}});
}

json State::ApplyStepLocked(const json& item, const std::string& unit, const std::string& key) {
  const std::string code = item.value("MaHoSo", "");
  std::string time = item.value("ThoiDiemXuLy", "");
  std::string step_key = code + "|" + item.value("TrangThai", "") + "|" + time;
  bool duplicate = !step_keys_.insert(step_key).second;
  // Same-length yyyyMMddHHmmss strings compare like the instants they denote.
  auto last = last_step_time_.find(code);
  bool out_of_order = last != last_step_time_.end() && time < last->second;
  if (last == last_step_time_.end() || time > last->second) last_step_time_[code] = time;
  if (duplicate) ++duplicate_steps_;
  if (out_of_order) ++out_of_order_steps_;
  json rec = {{"seq", ++seq_},          {"MaHoSo", code},     {"unit", unit},
              {"idempotency_key", key},  {"duplicate", duplicate},
              {"out_of_order", out_of_order},                 {"item", item}};
  progress_.push_back(rec);
  NoteApplied("progress", item, "applied");
  Log({{"t", Now()}, {"kind", "progress"}, {"step", rec}});
  return rec;
}

StrictAnswer State::ApplyStrict(bool dossier, const json& items,
                                const std::vector<std::vector<std::string>>& item_errors,
                                bool is_update, const std::string& unit) {
  std::lock_guard<std::mutex> l(mu_);
  auto where = [&](size_t i) {
    return "data[" + std::to_string(i) + "] (MaHoSo " + items[i].value("MaHoSo", "") + ")";
  };
  // 1. The whole call is checked first; the first offending item refuses it.
  std::set<std::string> created_here;  // a create of the same MaHoSo twice in one call
  for (size_t i = 0; i < items.size(); ++i) {
    const json& item = items[i];
    const std::string code = item.value("MaHoSo", "");
    if (i < item_errors.size() && !item_errors[i].empty()) {
      std::string msg = "Dữ liệu không hợp lệ tại " + where(i) + ": ";
      for (size_t e = 0; e < item_errors[i].size() && e < 5; ++e) msg += (e ? "; " : "") + item_errors[i][e];
      return {"-1", msg, false};
    }
    if (std::find(faults_.reject_items.begin(), faults_.reject_items.end(), code) !=
        faults_.reject_items.end())
      return {"-1", "Từ chối " + where(i) + " (giả lập quy tắc nghiệp vụ của Cổng)", false};
    if (dossier) {
      const bool known = dossiers_.count(code) > 0 || (!is_update && created_here.count(code));
      if (!is_update && known) {
        ++dossiers_[code].duplicate_creates;
        return {"-3", "Hồ sơ " + where(i) + " đã tồn tại trên hệ thống", false};
      }
      if (is_update && !known) return {"-4", "Không tìm thấy hồ sơ " + where(i) + " để cập nhật", false};
      if (!is_update) created_here.insert(code);
    } else if (options_.progress_requires_dossier && !dossiers_.count(code)) {
      return {"-4", "Không tìm thấy hồ sơ " + where(i), false};
    }
  }
  // 2. Every item applied, in order.
  for (const json& item : items) {
    if (dossier) {
      Dossier& d = dossiers_[item.value("MaHoSo", "")];
      d.item = item;
      d.unit = unit;
      if (is_update) ++d.updates;
      else ++d.creates;
      const char* op = is_update ? "updated" : "created";
      NoteApplied("dossier", item, op);
      Log({{"t", Now()}, {"kind", "dossier"}, {"op", op}, {"unit", unit}, {"item", item}});
    } else {
      ApplyStepLocked(item, unit, "");
    }
  }
  return {"0", dossier ? "Đồng bộ thành công" : "Cập nhật tiến độ thành công", true};
}

void State::RecordCall(json call) {
  std::lock_guard<std::mutex> l(mu_);
  call["seq"] = static_cast<int64_t>(calls_.size()) + 1;
  call["t"] = Now();  // when the answer left (or the connection was dropped)
  calls_.push_back(std::move(call));
}

json State::Calls() {
  std::lock_guard<std::mutex> l(mu_);
  return calls_;
}

json State::LookupDossier(const std::string& ma_ho_so) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = dossiers_.find(ma_ho_so);
  if (it == dossiers_.end()) return json::array();
  return json::array({it->second.item});
}

void State::CountRequest(const std::string& service, const std::string& outcome) {
  std::lock_guard<std::mutex> l(mu_);
  ++requests_[service][outcome];
}

json State::Received() {
  std::lock_guard<std::mutex> l(mu_);
  json d = json::object();
  for (const auto& [code, dos] : dossiers_) {
    d[code] = {{"item", dos.item},
               {"unit", dos.unit},
               {"creates", dos.creates},
               {"updates", dos.updates},
               {"duplicate_creates", dos.duplicate_creates}};
  }
  return {{"dossiers", d}, {"progress", progress_}, {"applied", applied_}};
}

json State::Stats() {
  std::lock_guard<std::mutex> l(mu_);
  return {{"strict", options_.strict},
          {"calls", calls_.size()},
          {"dossiers", dossiers_.size()},
          {"progress_steps", progress_.size()},
          {"duplicate_steps", duplicate_steps_},
          {"out_of_order_steps", out_of_order_steps_},
          {"idempotent_replays", idempotent_replays_},
          {"logins", logins_},
          {"tokens_issued", tokens_issued_},
          {"active_sessions", sessions_.size()},
          {"requests", requests_}};
}

void State::Reset() {
  std::lock_guard<std::mutex> l(mu_);
  faults_ = Faults();
  rng_.seed(options_.seed);
  sessions_.clear();
  tokens_.clear();
  idempotent_.clear();
  idempotent_items_.clear();
  dossiers_.clear();
  progress_ = json::array();
  last_step_time_.clear();
  step_keys_.clear();
  seq_ = 0;
  applied_ = json::array();
  calls_ = json::array();
  applied_seq_ = 0;
  next_call_ = 0;
  duplicate_steps_ = out_of_order_steps_ = idempotent_replays_ = logins_ = tokens_issued_ = 0;
  requests_.clear();
}

}  // namespace danvan::standin
