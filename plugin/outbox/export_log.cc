#include "outbox/export_log.h"

#include <openssl/evp.h>

#include <algorithm>

#include "core/mask.h"
#include "core/timeutil.h"

namespace danvan {
namespace {

using nlohmann::json;

const std::string kZeroHash(64, '0');
constexpr int64_t kChunk = 1000;          // entries per scrub transaction
constexpr size_t kMaxProblems = 100;      // problems kept in a migration record
constexpr size_t kMaxSummaryItems = 10000;
constexpr size_t kMaxValueBytes = 64;     // longer identifiers are cut (codes are far shorter)

// Parses without building anything deeper than `max_depth` (bodies come from the network).
json ParseShallow(std::string_view body, int max_depth) {
  json::parser_callback_t cb = [max_depth](int depth, json::parse_event_t, json&) {
    return depth <= max_depth;
  };
  return json::parse(body.begin(), body.end(), cb, /*allow_exceptions=*/false);
}

// A string identifier as kept in the log: bounded, masked (a host that puts a phone number in a
// dossier code does not get it logged).
json Identifier(const json& v) {
  std::string s;
  if (v.is_string()) s = v.get<std::string>();
  else if (v.is_number_integer()) s = v.dump();
  else return json();
  if (s.size() > kMaxValueBytes) s.resize(kMaxValueBytes);
  return MaskPersonalData(s);
}

void CopyFields(const json& from, std::initializer_list<const char*> keys, json* to) {
  if (!from.is_object()) return;
  for (const char* k : keys) {
    auto it = from.find(k);
    if (it == from.end()) continue;
    json v = Identifier(*it);
    if (!v.is_null()) (*to)[k] = std::move(v);
  }
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string EntryHashV1(const ExportLogRow& r) {
  json j = json::array({r.prev_hash, r.destination, r.at_ms, r.op, r.record_id, r.url,
                        r.http_status, r.outcome, r.request_hash, r.request_masked,
                        Sha256HexOpenSsl(r.response_body)});
  return Sha256HexOpenSsl(Dump(j));
}

std::string EntryHashV2(const ExportLogRow& r) {
  json j = json::array({"v2", r.prev_hash, r.destination, r.at_ms, r.op, r.record_id, r.url,
                        r.http_status, r.outcome, r.request_hash, r.request_summary,
                        r.response_hash, r.response_summary});
  return Sha256HexOpenSsl(Dump(j));
}

void AddProblem(json* problems, int64_t seq, const std::string& what) {
  if (problems->size() < kMaxProblems) problems->push_back({{"seq", seq}, {"problem", what}});
}

// Migrates one destination's format-1 entries (see the header).
Status ScrubDestination(Store& store, const Logger& logger, const std::string& dest, int64_t now_ms) {
  const std::string marker_key = "exportlog.migration." + dest;
  json marker = json::object();
  auto stored = store.GetSetting(marker_key);
  if (!stored.ok()) return stored.status();
  if (stored.value()) marker = json::parse(*stored.value(), nullptr, false);
  if (!marker.is_object() || marker.value("done", false)) marker = json::object();
  if (marker.empty()) {
    auto head = store.GetSetting("exportlog.head." + dest);
    if (!head.ok()) return head.status();
    marker = {{"from_format", 1},
              {"to_format", kExportLogFormat},
              {"started_at", FormatIsoTime(now_ms)},
              {"old_head", head.value() ? *head.value() : ""},
              {"old_prev", kZeroHash},
              {"rewritten", 0},
              {"problems", json::array()}};
  }
  std::string old_prev = marker.value("old_prev", kZeroHash);  // old hash of the last legacy entry seen
  std::string new_prev = kZeroHash;                              // new chain so far
  json problems = marker.value("problems", json::array());
  int64_t rewritten = marker.value("rewritten", int64_t{0});
  int64_t after = 0;
  while (true) {
    auto rows = store.ReadExportLog(dest, after, kChunk);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) break;
    auto tx = store.Begin();
    if (!tx.ok()) return tx.status();
    bool changed = false;
    for (ExportLogRow r : rows.value()) {
      after = r.seq;
      if (r.format >= 2) {
        // Rewritten by an earlier, interrupted scrub: its link to the new chain must hold.
        if (r.prev_hash != new_prev || EntryHashV2(r) != r.entry_hash)
          AddProblem(&problems, r.seq, "mục đã chuyển đổi không khớp chuỗi mới");
        new_prev = r.entry_hash;
        continue;
      }
      // The old chain, checked before its evidence is replaced.
      if (r.prev_hash != old_prev)
        AddProblem(&problems, r.seq, "trước khi chuyển đổi: mắt xích trước bị thiếu hoặc bị sửa (prev_hash không khớp)");
      if (EntryHashV1(r) != r.entry_hash)
        AddProblem(&problems, r.seq, "trước khi chuyển đổi: nội dung mục đã bị thay đổi (entry_hash không khớp)");
      old_prev = r.entry_hash;
      r.request_summary = SummarizeExportRequest(r.op, r.request_masked);
      r.response_hash = Sha256HexOpenSsl(r.response_body);
      r.response_summary = SummarizeExportResponse(r.response_body);
      r.request_masked.clear();
      r.response_body.clear();
      r.format = kExportLogFormat;
      r.prev_hash = new_prev;
      r.entry_hash = EntryHashV2(r);
      new_prev = r.entry_hash;
      Status st = tx.value()->RewriteExportLog(r);
      if (!st.ok()) return st;
      ++rewritten;
      changed = true;
    }
    if (!changed) continue;  // nothing to commit; the transaction rolls back
    marker["old_prev"] = old_prev;
    marker["rewritten"] = rewritten;
    marker["problems"] = problems;
    Status st = tx.value()->SetSetting(marker_key, Dump(marker));
    if (st.ok()) st = tx.value()->SetSetting("exportlog.head." + dest, new_prev);
    if (st.ok()) st = tx.value()->Commit();
    if (!st.ok()) return st;
  }
  const std::string old_head = marker.value("old_head", "");
  if (!old_head.empty() && old_head != old_prev)
    AddProblem(&problems, after, "trước khi chuyển đổi: các mục cuối của nhật ký đã bị xóa (đầu chuỗi không khớp)");
  marker["old_prev"] = old_prev;
  marker["rewritten"] = rewritten;
  marker["problems"] = problems;
  marker["old_chain_valid"] = problems.empty();
  marker["finished_at"] = FormatIsoTime(now_ms);
  marker["done"] = true;
  auto tx = store.Begin();
  if (!tx.ok()) return tx.status();
  Status st = tx.value()->SetSetting(marker_key, Dump(marker));
  if (st.ok()) st = tx.value()->SetSetting("exportlog.head." + dest, new_prev);
  if (st.ok()) st = tx.value()->Commit();
  if (!st.ok()) return st;
  logger.Log(problems.empty() ? LogLevel::kInfo : LogLevel::kError, "export_log_scrubbed",
             {{"destination", dest}, {"entries", rewritten}, {"old_chain_valid", problems.empty()},
              {"problems", problems.size()}});
  return Status::Ok();
}

}  // namespace

std::string Sha256HexOpenSsl(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // Fetched once: EVP_sha256() makes EVP_Digest fetch the provider's implementation on every
  // call (~6,000 instructions, as much as hashing 1 KB; issue 16). The same digest. Freed when
  // the plugin is unloaded (or at exit, before OpenSSL's own cleanup, which was registered
  // earlier by the fetch's initialisation): a pointer left in the unloaded library's statics was
  // a leak in the host (valgrind's abi.c_host_valgrind: "definitely lost").
  struct FetchedSha256 {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    FetchedSha256() = default;
    FetchedSha256(const FetchedSha256&) = delete;
    FetchedSha256& operator=(const FetchedSha256&) = delete;
    ~FetchedSha256() { EVP_MD_free(md); }
  };
  static const FetchedSha256 fetched;
  EVP_Digest(data.data(), data.size(), md, &len, fetched.md ? fetched.md : EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

std::string SummarizeExportRequest(const std::string& service, std::string_view body) {
  json s = {{"service", service}};
  const json j = ParseShallow(body, 3);
  const json* items = nullptr;
  if (j.is_array()) {
    items = &j;
  } else if (j.is_object()) {
    CopyFields(j, {"madonvi", "isUpdating"}, &s);
    auto it = j.find("data");
    if (it != j.end() && it->is_array()) items = &*it;
  }
  if (!items) {
    s["items"] = nullptr;  // not a portal request body we know: nothing of it is kept
    return Dump(s);
  }
  s["items"] = items->size();
  json list = json::array();
  for (size_t i = 0; i < items->size() && i < kMaxSummaryItems; ++i) {
    json item = json::object();
    CopyFields((*items)[i], {"MaHoSo", "TrangThaiHoSo", "TrangThai", "ThoiDiemXuLy"}, &item);
    list.push_back(std::move(item));
  }
  s["list"] = std::move(list);
  return Dump(s);
}

std::string SummarizeExportResponse(std::string_view body) {
  json s = json::object();
  if (body.empty()) return Dump(s);
  const json j = ParseShallow(body, 3);
  if (!j.is_object()) {
    s["parsed"] = false;
    return Dump(s);
  }
  CopyFields(j, {"error_code"}, &s);
  auto it = j.find("result");
  if (it != j.end() && it->is_array()) {
    json list = json::array();
    for (size_t i = 0; i < it->size() && i < kMaxSummaryItems; ++i) {
      json item = json::object();
      CopyFields((*it)[i], {"MaHoSo", "error_code", "status", "TrangThai", "ThoiDiemXuLy"}, &item);
      list.push_back(std::move(item));
    }
    s["result"] = std::move(list);
  }
  return Dump(s);
}

ExportLogRow MakeExportLogRow(const std::string& destination, const std::string& op,
                              const std::string& record_ids, const SendResult& r,
                              int64_t fallback_ms) {
  ExportLogRow row;
  row.format = kExportLogFormat;
  row.destination = destination;
  row.at_ms = r.exchange.started_ms ? r.exchange.started_ms : fallback_ms;
  row.op = op;
  row.record_id = record_ids;
  row.url = r.exchange.url;
  row.http_status = r.http_status;
  row.outcome = PortalOutcomeName(r.outcome);
  row.request_hash = Sha256HexOpenSsl(r.exchange.request_body);
  row.request_summary = SummarizeExportRequest(op, r.exchange.request_body);
  row.response_hash = Sha256HexOpenSsl(r.exchange.response_body);
  row.response_summary = SummarizeExportResponse(r.exchange.response_body);
  return row;
}

std::string ExportLogEntryHash(const ExportLogRow& r) {
  return r.format >= 2 ? EntryHashV2(r) : EntryHashV1(r);
}

Result<json> VerifyExportLog(Store& store, const std::string& destination) {
  std::string prev = kZeroHash;
  int64_t after = 0, entries = 0, legacy = 0;
  json problems = json::array();
  while (true) {
    auto rows = store.ReadExportLog(destination, after, 5000);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) break;
    for (const auto& r : rows.value()) {
      ++entries;
      legacy += r.format < 2;
      if (r.prev_hash != prev)
        problems.push_back({{"seq", r.seq}, {"problem", "mắt xích trước bị thiếu hoặc bị sửa (prev_hash không khớp)"}});
      if (ExportLogEntryHash(r) != r.entry_hash)
        problems.push_back({{"seq", r.seq}, {"problem", "nội dung mục nhật ký đã bị thay đổi (entry_hash không khớp)"}});
      prev = r.entry_hash;
      after = r.seq;
    }
  }
  auto head = store.GetSetting("exportlog.head." + destination);
  if (!head.ok()) return head.status();
  if (head.value() && *head.value() != prev)
    problems.push_back({{"seq", after}, {"problem", "các mục cuối của nhật ký đã bị xóa (đầu chuỗi không khớp)"}});
  // What the scrub found in the old chain stays part of the answer: re-chaining must not hide
  // a tampering that happened before it.
  json migration_record;
  auto migration = store.GetSetting("exportlog.migration." + destination);
  if (!migration.ok()) return migration.status();
  if (migration.value()) {
    migration_record = json::parse(*migration.value(), nullptr, false);
    if (migration_record.is_object() && migration_record.contains("problems") &&
        migration_record["problems"].is_array())
      for (const auto& p : migration_record["problems"]) problems.push_back(p);
  }
  json out = {{"entries", entries}, {"valid", problems.empty()}, {"problems", problems},
              {"format", kExportLogFormat}, {"legacy_entries", legacy}};
  if (!migration_record.is_null()) out["migration"] = migration_record;
  return out;
}

Status ScrubLegacyExportLog(Store& store, const Logger& logger, int64_t now_ms) {
  auto dests = store.ExportLogDestinationsBelowFormat(kExportLogFormat);
  if (!dests.ok()) return dests.status();
  for (const std::string& d : dests.value()) {
    Status st = ScrubDestination(store, logger, d, now_ms);
    if (!st.ok())
      return Status::IoError("chuyển đổi nhật ký xuất (bỏ dữ liệu cá nhân) của " + d + ": " + st.message());
  }
  // The old bodies must not survive in the write-ahead log either.
  if (!dests->empty()) return store.Checkpoint();
  return Status::Ok();
}

}  // namespace danvan
