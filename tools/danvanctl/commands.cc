// The danvanctl commands. Each maps onto query ops of the plugin (README "Query operations"),
// called through the C ABI on a handle this process opens and closes.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ctl.h"
#include "import.h"
#include "term.h"

namespace danvanctl {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uintmax_t kMaxConfigBytes = 16u << 20;

const char* LevelName(int level) {
  switch (level) {
    case DANVAN_LOG_TRACE: return "TRACE";
    case DANVAN_LOG_DEBUG: return "DEBUG";
    case DANVAN_LOG_INFO: return "INFO";
    case DANVAN_LOG_WARN: return "WARN";
    default: return "ERROR";
  }
}

std::string Str(const json& j, const char* key, const std::string& def = "") {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string Num(const json& v, int decimals = 2) {
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) {
    const double d = v.get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d)) && d > -1e15 && d < 1e15)
      return std::to_string(static_cast<int64_t>(d));  // counts stored as doubles
    return FormatNumber(d, decimals);
  }
  if (v.is_null()) return "—";
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string YesNo(bool b) { return b ? Tr("có", "yes") : Tr("không", "no"); }

// Prints the answer: raw with --json, else the human rendering.
void Out(const Ctx& ctx, const std::string& raw, const std::string& human) {
  std::fputs((ctx.g.json ? raw + "\n" : human).c_str(), stdout);
}

bool ParseInt(const Args& a, const std::string& name, int64_t lo, int64_t hi, int64_t def, int64_t* out,
              int* rc) {
  *out = def;
  if (!a.Has(name)) return true;
  const std::string v = a.Get(name);
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || errno || *end || n < lo || n > hi) {
    *rc = UsageError(name + ": cần số nguyên " + std::to_string(lo) + ".." + std::to_string(hi) + ", nhận được \"" + v + "\"",
                     name + ": expected an integer " + std::to_string(lo) + ".." + std::to_string(hi) + ", got \"" + v + "\"");
    return false;
  }
  *out = n;
  return true;
}

int Require(const Args& a, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (!a.Has(n) || a.Get(n).empty())
      return UsageError(std::string("thiếu ") + n + " (xem --help)", std::string("missing ") + n + " (see --help)");
  return kOk;
}

// "2023", "2023-H1", "2023-Q2", "2023-03", "2023-01-01..2023-06-15" or a JSON object.
std::optional<json> ParsePeriod(const std::string& s) {
  if (!s.empty() && s[0] == '{') {
    json j = json::parse(s, nullptr, false);
    if (j.is_object()) return j;
    return std::nullopt;
  }
  auto digits = [&](size_t from, size_t n) {
    if (from + n > s.size()) return false;
    for (size_t i = from; i < from + n; ++i)
      if (s[i] < '0' || s[i] > '9') return false;
    return true;
  };
  if (s.size() == 22 && s.substr(10, 2) == ".." && digits(0, 4) && digits(12, 4))
    return json{{"from", s.substr(0, 10)}, {"to", s.substr(12)}};
  if (!digits(0, 4)) return std::nullopt;
  const int year = std::stoi(s.substr(0, 4));
  if (s.size() == 4) return json{{"kind", "year"}, {"year", year}};
  if (s.size() == 7 && s[4] == '-' && (s[5] == 'H' || s[5] == 'h') && s[6] == '1')
    return json{{"kind", "half_year"}, {"year", year}};
  if (s.size() == 7 && s[4] == '-' && (s[5] == 'Q' || s[5] == 'q') && s[6] >= '1' && s[6] <= '4')
    return json{{"kind", "quarter"}, {"year", year}, {"quarter", s[6] - '0'}};
  if (s.size() == 7 && s[4] == '-' && digits(5, 2)) return json{{"kind", "month"}, {"year", year}, {"month", std::stoi(s.substr(5))}};
  return std::nullopt;
}

int PeriodArg(const Args& a, json* out) {
  if (int rc = Require(a, {"--period"})) return rc;
  auto p = ParsePeriod(a.Get("--period"));
  if (!p)
    return UsageError("--period: cần 2023 (năm), 2023-H1 (6 tháng), 2023-Q2, 2023-03, 2023-01-01..2023-06-15 hoặc đối tượng JSON; nhận được \"" +
                          a.Get("--period") + "\"",
                      "--period: expected 2023 (year), 2023-H1 (six months), 2023-Q2, 2023-03, 2023-01-01..2023-06-15 or a JSON object; got \"" +
                          a.Get("--period") + "\"");
  *out = *p;
  return kOk;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// ---- config ---------------------------------------------------------------------------------

bool SecretLooking(const std::string& key) {
  std::string k = key;
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
  // A reference by name (environment variable, file) is not the secret itself.
  auto ends = [&](const char* s) { return k.size() >= std::strlen(s) && k.compare(k.size() - std::strlen(s), std::string::npos, s) == 0; };
  if (ends("_env") || ends("_file")) return false;
  for (const char* w : {"password", "passwd", "secret", "token", "passphrase", "private_key", "api_key", "apikey", "credential"})
    if (k.find(w) != std::string::npos) return true;
  return false;
}

int Redact(json* j, int depth) {
  int n = 0;
  if (depth > 64) return 0;
  if (j->is_object()) {
    for (auto it = j->begin(); it != j->end(); ++it) {
      if (SecretLooking(it.key()) && !it->is_null()) {
        *it = "***";
        ++n;
      } else {
        n += Redact(&*it, depth + 1);
      }
    }
  } else if (j->is_array()) {
    for (auto& v : *j) n += Redact(&v, depth + 1);
  }
  return n;
}

// The most recent run of `job` in the plugin's `progress` answer (null when absent).
json JobOf(const json& progress, const std::string& job) {
  for (const auto& j : progress.value("jobs", json::array()))
    if (j.value("job", "") == job) return j;
  return json();
}

int CmdConfigValidate(Ctx& ctx, const Args&) {
  if (int rc = ctx.Open(true)) return rc;
  int rc = kOk;
  auto stats = ctx.Query({{"op", "stats"}}, &rc);
  if (!stats) return rc;
  json out = {{"valid", true}, {"config", ctx.g.config}, {"storage", (*stats)["storage"]}, {"records", (*stats)["records"]}};
  Out(ctx, out.dump(),
      std::string(Tr("Cấu hình hợp lệ: ", "Configuration valid: ")) + ctx.g.config + "\n" +
          KeyValues({{Tr("kho", "store"), Str((*stats)["storage"], "path")},
                     {Tr("số bản ghi", "records"), Num((*stats)["records"])}}));
  return kOk;
}

int CmdConfigShow(Ctx& ctx, const Args& a) {
  if (a.Has("--effective")) {
    // The configuration in force in the plugin (config.show): secrets redacted by the plugin.
    int rc = ctx.Open(false);
    if (rc) return rc;
    std::string raw;
    auto r = ctx.Query({{"op", "config.show"}}, &rc, &raw);
    if (!r) return rc;
    if (ctx.g.json) {
      std::printf("%s\n", raw.c_str());
    } else {
      std::printf("# SHA-256 %s, %s %s\n%s\n", Str(*r, "sha256").c_str(), Tr("hiệu lực từ", "in force since"),
                  Str(*r, "since").c_str(), (*r)["config"].dump(2).c_str());
      std::printf("%s", KeyValues({{Tr("tệp quy tắc", "rule file"), Str((*r)["effective"], "rules_file")},
                                   {Tr("phiên bản quy tắc", "rules version"), Str((*r)["effective"], "rules_version")},
                                   {Tr("thư mục lịch", "calendar directory"), Str((*r)["effective"], "calendar_dir")},
                                   {Tr("thư mục báo cáo", "reports directory"), Str((*r)["effective"], "reports_dir")}})
                            .c_str());
    }
    return kOk;
  }
  if (int rc = ctx.ReadConfig()) return rc;
  json cfg = json::parse(ctx.config_text, nullptr, false);
  if (cfg.is_discarded()) {
    std::fprintf(stderr, "%s: %s\n", Tr("Tệp cấu hình không phải JSON hợp lệ (config validate cho biết chỗ sai)",
                                        "The configuration file is not valid JSON (config validate shows where)"),
                 ctx.g.config.c_str());
    return kConfigInvalid;
  }
  const int redacted = Redact(&cfg, 0);
  if (!ctx.g.quiet)
    std::fprintf(stderr, "%s (%d)\n",
                 Tr("Lưu ý: đây là tệp cấu hình như đã ghi, không mở kho (không điền giá trị mặc định; cấu hình đang "
                    "hiệu lực trong plugin: --effective); giá trị của các khóa có dạng bí mật (password, secret, token...) "
                    "được thay bằng \"***\"; khóa tham chiếu *_env, *_file được giữ",
                    "Note: this is the file as written, the store is not opened (defaults not filled in; the configuration "
                    "in force in the plugin: --effective); values of secret-looking keys (password, secret, token...) are "
                    "replaced by \"***\"; references *_env, *_file are kept"),
                 redacted);
  std::printf("%s\n", cfg.dump(ctx.g.json ? -1 : 2).c_str());
  return kOk;
}

// ---- outbox ---------------------------------------------------------------------------------

std::string OutboxHuman(json s) {  // by value: operator[] may add what is missing
  std::string queue;
  for (auto it = s["queue"].begin(); it != s["queue"].end(); ++it)
    queue += (queue.empty() ? "" : ", ") + it.key() + " " + Num(*it);
  std::string last_error = "—";
  if (s.contains("last_error") && s["last_error"].is_object())
    last_error = Str(s["last_error"], "at") + " " + Str(s["last_error"], "message");
  std::string reconcile = "—";
  if (s.contains("last_reconcile") && s["last_reconcile"].is_object())
    reconcile = Str(s["last_reconcile"], "at") + ": " + Tr("đã kiểm ", "checked ") + Num(s["last_reconcile"]["checked"]) +
                Tr(", gửi lại ", ", re-queued ") + Num(s["last_reconcile"]["missing_requeued"]) +
                Tr(", lỗi tra cứu ", ", lookup errors ") + Num(s["last_reconcile"]["lookup_errors"]);
  return KeyValues({{Tr("đích", "destination"), Str(s, "destination")},
                    {Tr("xuất lên Cổng", "export enabled"), YesNo(s.value("enabled", false))},
                    {Tr("hàng đợi", "queue"), queue.empty() ? "0" : queue},
                    {Tr("mục cũ nhất chờ gửi", "oldest pending item"), FormatAge(s.value("oldest_pending_age_ms", int64_t{0}))},
                    {Tr("thư chết", "dead letters"), Num(s["dead_letters"])},
                    {Tr("gửi thành công gần nhất", "last success"), Str(s, "last_success", "—")},
                    {Tr("lỗi gần nhất", "last error"), last_error},
                    {Tr("đối soát gần nhất", "last reconciliation"), reconcile}});
}

// config reload FILE: the plugin validates the whole document (schema, data files, what cannot
// change live) and applies it, or changes nothing and lists every error with its path.
int CmdConfigReload(Ctx& ctx, const Args& a) {
  int rc = kOk;
  int64_t timeout_s;
  if (!ParseInt(a, "--timeout", 1, 86400, 600, &timeout_s, &rc)) return rc;
  std::error_code ec;
  const std::string file = a.pos[0];
  if (!fs::is_regular_file(file, ec))
    return UsageError("không đọc được tệp cấu hình mới (không tồn tại hoặc không phải tệp thường): " + file,
                      "cannot read the new configuration file (missing or not a regular file): " + file);
  if ((rc = ctx.Open(false))) return rc;
  json req = {{"op", "config.reload"}, {"path", fs::absolute(file, ec).string()}};
  if (a.Has("--dry-run")) req["dry_run"] = true;
  std::string raw;
  std::optional<json> r;
  try {
    std::string out = ctx.plugin().Query([&] {
      json q = req;
      q["actor"] = ctx.g.actor;
      return q.dump();
    }());
    r = json::parse(out, nullptr, false);
    raw = std::move(out);
  } catch (const danvan::Error& e) {
    if (ctx.g.json) std::printf("%s\n", e.document().c_str());
    if (e.status() == DANVAN_INVALID_INPUT) {
      json d = json::parse(e.document(), nullptr, false);
      const size_t n = d.is_object() && d["errors"].is_array() ? d["errors"].size() : 0;
      std::fprintf(stderr, "%s (%zu %s):\n",
                   Tr("Cấu hình mới không được áp dụng, cấu hình đang chạy giữ nguyên", "The new configuration was not applied; the running one is kept"),
                   n, Tr("lỗi", "errors"));
      PrintErrorDocument(e.document());
      return kConfigInvalid;
    }
    return ExitFor(e, false);
  }
  std::string changed;
  for (const auto& c : (*r)["changed"]) changed += (changed.empty() ? "" : ", ") + c.get<std::string>();
  if (changed.empty()) changed = Tr("(không có gì thay đổi)", "(nothing changes)");
  if (a.Has("--dry-run")) {
    Out(ctx, raw,
        std::string(Tr("Cấu hình mới hợp lệ và áp dụng được khi đang chạy (chưa áp dụng: --dry-run).\n",
                       "The new configuration is valid and can be applied live (not applied: --dry-run).\n")) +
            KeyValues({{Tr("thay đổi", "changes"), changed},
                       {Tr("gắn nhãn lại", "re-tag"), YesNo((*r).value("retag", false))},
                       {Tr("tính lại thời hạn", "re-evaluate deadlines"), YesNo((*r).value("reevaluate_deadlines", false))},
                       {"SHA-256 " + std::string(Tr("trước", "before")), Str(*r, "before_sha256")},
                       {"SHA-256 " + std::string(Tr("sau", "after")), Str(*r, "after_sha256")}}));
    return kOk;
  }
  // Background work the reload started (re-tagging, deadline re-evaluation) ends before this
  // process closes the plugin (close would stop it half-way).
  const json& effects = (*r)["effects"];
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  for (const char* job : {"retag", "deadlines.reevaluation"}) {
    if ((std::string(job) == "retag" && !effects.contains("retag")) ||
        (std::string(job) == "deadlines.reevaluation" && !effects.contains("reevaluate_deadlines")))
      continue;
    Progress bar(std::string(job) == "retag" ? Tr("Gắn nhãn lại", "Re-tagging") : Tr("Tính lại thời hạn", "Re-evaluating deadlines"),
                 !ctx.g.quiet);
    while (true) {
      auto p = ctx.Query({{"op", "progress"}, {"job", job}}, &rc);
      if (!p) return rc;
      const json j = JobOf(*p, job);
      bar.Update(j.value("done", int64_t{0}), j.value("total", int64_t{0}));
      if (j.value("state", "") != "running") break;
      if (Clock::now() >= deadline) {
        bar.Finish();
        std::fprintf(stderr, "%s %llds (%s)\n", Tr("Việc nền chưa xong sau", "Background work not finished after"),
                     static_cast<long long>(timeout_s), job);
        return kBusy;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  Out(ctx, raw,
      std::string(Tr("Đã áp dụng cấu hình mới, không cần khởi động lại.\n", "The new configuration is applied, no restart needed.\n")) +
          KeyValues({{Tr("thay đổi", "changes"), changed},
                     {"SHA-256 " + std::string(Tr("trước", "before")), Str(*r, "before_sha256")},
                     {"SHA-256 " + std::string(Tr("sau", "after")), Str(*r, "after_sha256")}}));
  return kOk;
}

int CmdAuditList(Ctx& ctx, const Args& a) {
  int rc = kOk;
  int64_t limit, before;
  if (!ParseInt(a, "--limit", 1, 1000, 50, &limit, &rc)) return rc;
  if (!ParseInt(a, "--before-id", 0, INT64_MAX, 0, &before, &rc)) return rc;
  if ((rc = ctx.Open(false))) return rc;
  json req = {{"op", "audit.list"}, {"limit", limit}};
  if (before > 0) req["before_id"] = before;
  if (a.Has("--op")) req["filter_op"] = a.Get("--op");
  std::string raw;
  auto r = ctx.Query(req, &rc, &raw);
  if (!r) return rc;
  Table t({"id", Tr("lúc", "at"), Tr("người", "actor"), Tr("thao tác", "op"), Tr("kết quả", "outcome"), Tr("chi tiết", "details")});
  for (const auto& it : (*r)["items"]) {
    std::string detail;
    const json& d = it.value("details", json::object());
    if (d.contains("after_sha256"))
      detail = Str(d, "before_sha256").substr(0, 12) + "→" + Str(d, "after_sha256").substr(0, 12);
    else if (d.is_object() && !d.empty())
      detail = d.dump();
    if (it.contains("errors") && !it["errors"].empty())
      detail += (detail.empty() ? "" : " ") + Str(it["errors"][0], "path") + ": " + Str(it["errors"][0], "reason");
    t.Add({Num(it["id"]), Str(it, "at"), Str(it, "actor"), Str(it, "op"), Str(it, "outcome"), detail});
  }
  std::string human = t.empty() ? std::string(Tr("Chưa có mục kiểm toán nào.\n", "No audit entries yet.\n")) : t.Render(60);
  if (!(*r)["next_before_id"].is_null())
    human += Tr("Trang kế tiếp: --before-id ", "Next page: --before-id ") + Num((*r)["next_before_id"]) + "\n";
  Out(ctx, raw, human);
  return kOk;
}

int CmdAdapterTest(Ctx& ctx, const Args& a) {
  int rc = kOk;
  int64_t timeout_s;
  if (!ParseInt(a, "--timeout", 1, 3600, 120, &timeout_s, &rc)) return rc;
  if ((rc = ctx.Open(false))) return rc;
  if (!ctx.Query({{"op", "adapter.test"}}, &rc)) return rc;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  json status;
  std::string raw;
  while (true) {
    auto s = ctx.Query({{"op", "adapter.test.status"}}, &rc, &raw);
    if (!s) return rc;
    status = *s;
    if (status.value("state", "") == "done") break;
    if (Clock::now() >= deadline) {
      std::fprintf(stderr, "%s %llds\n", Tr("Kiểm tra kết nối chưa xong sau", "Connection check not finished after"),
                   static_cast<long long>(timeout_s));
      return kBusy;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  static const std::map<std::string, std::pair<const char*, const char*>> kStepNames = {
      {"dns", {"phân giải tên (DNS)", "name resolution (DNS)"}},
      {"tcp", {"kết nối TCP", "TCP connect"}},
      {"tls", {"bắt tay TLS (CA đã cấu hình)", "TLS handshake (configured CA)"}},
      {"login", {"đăng nhập", "log-in"}},
      {"lookup", {"tra cứu hồ sơ (TraCuuHoSo)", "dossier look-up (TraCuuHoSo)"}}};
  Table t({Tr("bước", "step"), Tr("kết quả", "result"), "ms", Tr("chi tiết", "details")}, {false, false, true, false});
  std::string failures;
  for (const auto& st : status["steps"]) {
    const std::string name = Str(st, "name");
    auto it = kStepNames.find(name);
    const std::string label = it == kStepNames.end() ? name : Tr(it->second.first, it->second.second);
    std::string result = st.value("skipped", false) ? Tr("bỏ qua", "skipped") : st.value("ok", false) ? "OK" : Tr("LỖI", "FAILED");
    std::string detail = st.value("ok", false) ? Str(st, "detail") : Str(st, "error");
    t.Add({label, result, st.value("skipped", false) ? "" : Num(st["ms"]), detail});
    if (!st.value("ok", false) && !st.value("skipped", false))
      failures += "  " + label + ": " + Tr(Str(st, "message"), Str(st, "message_en")) + "\n";
  }
  const bool ok = status.value("ok", false);
  Out(ctx, raw,
      Tr("Kiểm tra kết nối tới Cổng ", "Connection check of the portal ") + Str(status, "base_url") + " (" +
          Str(status, "style") + ")\n" + t.Render(70) +
          (ok ? std::string(Tr("Kết nối tốt.\n", "The connection works.\n")) : std::string(Tr("Thất bại:\n", "Failed:\n")) + failures));
  return ok ? kOk : kFailed;
}

int CmdOutboxStatus(Ctx& ctx, const Args&) {
  if (int rc = ctx.Open(false)) return rc;
  int rc = kOk;
  std::string raw;
  auto s = ctx.Query({{"op", "outbox.status"}}, &rc, &raw);
  if (!s) return rc;
  Out(ctx, raw, OutboxHuman(*s));
  return kOk;
}

int CmdDeadLetterList(Ctx& ctx, const Args& a) {
  int rc = kOk;
  int64_t limit, offset;
  if (!ParseInt(a, "--limit", 1, 10000, 100, &limit, &rc) || !ParseInt(a, "--offset", 0, INT64_MAX, 0, &offset, &rc))
    return rc;
  if ((rc = ctx.Open(false))) return rc;
  std::string raw;
  auto r = ctx.Query({{"op", "outbox.dead_letters"}, {"limit", limit}, {"offset", offset}}, &rc, &raw);
  if (!r) return rc;
  Table t({"id", Tr("hồ sơ", "record"), Tr("thao tác", "op"), Tr("lần gửi", "attempts"), Tr("thời điểm", "dead at"),
           Tr("đã gửi lại", "resent"), Tr("lỗi cuối", "last error")},
          {true, false, false, true});
  for (const auto& d : (*r)["items"])
    t.Add({Num(d["id"]), Str(d, "record_id"), Str(d, "op"), Num(d["attempts"]), Str(d, "dead_at"),
           Str(d, "resent_at", "—"), Str(d, "last_error")});
  Out(ctx, raw, t.empty() ? std::string(Tr("Không có thư chết.\n", "No dead letters.\n")) : t.Render());
  return kOk;
}

int CmdDeadLetterResend(Ctx& ctx, const Args& a) {
  Args id_arg;
  id_arg.opts["ID"] = {a.pos[0]};
  int rc = kOk;
  int64_t id;
  if (!ParseInt(id_arg, "ID", 1, INT64_MAX, 0, &id, &rc)) return rc;
  if ((rc = ctx.Open(false))) return rc;
  std::string raw;
  auto r = ctx.Query({{"op", "outbox.resend"}, {"id", id}}, &rc, &raw);
  if (!r) return rc;
  Out(ctx, raw,
      Tr("Đã xếp lại thư chết số ", "Dead letter ") + std::to_string(id) +
          Tr(" vào hàng gửi; bộ gửi của plugin sẽ gửi khi máy chủ chạy (hoặc danvanctl reconcile).\n",
             " queued again; the plugin's senders send it when the host runs (or danvanctl reconcile).\n"));
  return kOk;
}

int CmdReconcile(Ctx& ctx, const Args& a) {
  int rc = kOk;
  int64_t timeout_s;
  if (!ParseInt(a, "--timeout", 1, 86400, 120, &timeout_s, &rc)) return rc;
  if ((rc = ctx.Open(false))) return rc;
  auto before = ctx.Query({{"op", "outbox.status"}}, &rc);
  if (!before) return rc;
  const json previous = (*before).value("last_reconcile", json());
  auto r = ctx.Query({{"op", "outbox.reconcile"}}, &rc);
  if (!r) return rc;
  // The comparison runs on the plugin's sender thread: start the plugin, wait for it, stop.
  if (!ctx.g.quiet)
    std::fprintf(stderr, "%s\n", Tr("Đang đối soát với Cổng (các bộ gửi của plugin chạy trong lúc này và gửi cả những mục đang chờ)…",
                                    "Reconciling with the portal (the plugin's senders run meanwhile and also send what is queued)…"));
  if ((rc = ctx.Start())) return rc;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  json status;
  std::string raw;
  while (true) {
    auto s = ctx.Query({{"op", "outbox.status"}}, &rc, &raw);
    if (!s) return rc;
    status = *s;
    const json& last = status["last_reconcile"];
    if (last.is_object() && last != previous) break;
    if (Clock::now() >= deadline) {
      ctx.Stop();
      std::fprintf(stderr, "%s %llds. %s\n%s", Tr("Chưa đối soát xong sau", "Reconciliation not finished after"),
                   static_cast<long long>(timeout_s),
                   Tr("Cổng có thể không truy cập được; xem lỗi gần nhất:", "The portal may be unreachable; the last error:"),
                   OutboxHuman(status).c_str());
      return kBusy;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ctx.Stop();
  const json& last = status["last_reconcile"];
  Out(ctx, last.dump(),
      KeyValues({{Tr("thời điểm", "at"), Str(last, "at")},
                 {Tr("hồ sơ đã kiểm", "dossiers checked"), Num(last["checked"])},
                 {Tr("Cổng thiếu, đã xếp gửi lại", "missing on the portal, re-queued"), Num(last["missing_requeued"])},
                 {Tr("lỗi tra cứu", "lookup errors"), Num(last["lookup_errors"])}}));
  return kOk;
}

// ---- mappings -------------------------------------------------------------------------------

int CmdMappingsList(Ctx& ctx, const Args&) {
  int rc;
  if ((rc = ctx.Open(false))) return rc;
  std::string raw;
  auto r = ctx.Query({{"op", "outbox.mappings.get"}}, &rc, &raw);
  if (!r) return rc;
  std::string human = KeyValues({{Tr("đích", "destination"), Str(*r, "destination")},
                                 {Tr("nguồn", "source"), Str(*r, "source") == "stored"
                                                             ? Tr("do quản trị đặt (lưu trong kho)", "set by an administrator (stored)")
                                                             : Tr("tệp cấu hình", "configuration file")}});
  Table units({Tr("đơn vị (máy chủ)", "unit (host)"), Tr("mã đơn vị trên Cổng", "portal unit code")});
  for (auto it = (*r)["units"].begin(); it != (*r)["units"].end(); ++it) units.Add({it.key(), it->get<std::string>()});
  Table procs({Tr("thủ tục (máy chủ)", "procedure (host)"), Tr("mã TTHC quốc gia", "national procedure code")});
  for (auto it = (*r)["procedures"].begin(); it != (*r)["procedures"].end(); ++it) procs.Add({it.key(), it->get<std::string>()});
  human += "\n" + (units.empty() ? std::string(Tr("Chưa có ánh xạ đơn vị.\n", "No unit mappings.\n")) : units.Render());
  human += "\n" + (procs.empty() ? std::string(Tr("Chưa có ánh xạ thủ tục.\n", "No procedure mappings.\n")) : procs.Render());
  Out(ctx, raw, human);
  return kOk;
}

int CmdMappingsSet(Ctx& ctx, const Args& a) {
  json add = {{"units", json::object()}, {"procedures", json::object()}};
  if (a.Has("--file")) {
    std::ifstream f(a.Get("--file"), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    json j = json::parse(ss.str(), nullptr, false);
    if (!f || !j.is_object())
      return UsageError("--file: không đọc được hoặc không phải đối tượng JSON {units, procedures}: " + a.Get("--file"),
                        "--file: unreadable or not a JSON object {units, procedures}: " + a.Get("--file"));
    for (const char* section : {"units", "procedures"})
      if (j.contains(section)) add[section] = j[section];
  }
  for (const auto& [opt, section] : {std::pair{"--unit", "units"}, std::pair{"--procedure", "procedures"}})
    for (const auto& v : a.All(opt)) {
      const size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
        return UsageError(std::string(opt) + ": cần MÃ_MÁY_CHỦ=MÃ_CỔNG, nhận được \"" + v + "\"",
                          std::string(opt) + ": expected HOST_CODE=PORTAL_CODE, got \"" + v + "\"");
      add[section][v.substr(0, eq)] = v.substr(eq + 1);
    }
  if (add["units"].empty() && add["procedures"].empty() && !a.Has("--replace"))
    return UsageError("không có ánh xạ nào để đặt (--unit, --procedure hoặc --file)",
                      "nothing to set (--unit, --procedure or --file)");
  int rc;
  if ((rc = ctx.Open(false))) return rc;
  json mappings = {{"units", json::object()}, {"procedures", json::object()}};
  if (!a.Has("--replace")) {  // merged into the mappings in force
    auto cur = ctx.Query({{"op", "outbox.mappings.get"}}, &rc);
    if (!cur) return rc;
    mappings["units"] = (*cur)["units"];
    mappings["procedures"] = (*cur)["procedures"];
  }
  for (const char* section : {"units", "procedures"}) {
    if (!add[section].is_object()) {
      mappings[section] = add[section];  // the plugin names the bad field
      continue;
    }
    for (auto it = add[section].begin(); it != add[section].end(); ++it) mappings[section][it.key()] = *it;
  }
  std::string raw;
  auto r = ctx.Query({{"op", "outbox.mappings.set"}, {"mappings", mappings}}, &rc, &raw);
  if (!r) return rc;
  Out(ctx, raw,
      Tr("Đã lưu ánh xạ: ", "Mappings stored: ") + Num((*r)["units"]) + Tr(" đơn vị, ", " units, ") +
          Num((*r)["procedures"]) + Tr(" thủ tục; hồ sơ đang giữ vì thiếu ánh xạ được gửi lại.\n",
                                       " procedures; records held for a missing mapping are released.\n"));
  return kOk;
}

// ---- tagging --------------------------------------------------------------------------------

int CmdRetag(Ctx& ctx, const Args& a) {
  int rc = kOk;
  int64_t timeout_s;
  if (!ParseInt(a, "--timeout", 1, 86400, 600, &timeout_s, &rc)) return rc;
  if ((rc = ctx.Open(false))) return rc;
  json req = {{"op", "tagging.reload"}};
  if (a.Has("--rules")) req["path"] = a.Get("--rules");
  auto reload = ctx.Query(req, &rc);
  if (!reload) return rc;
  if (!ctx.g.quiet && !ctx.g.json)
    std::fprintf(stderr, "%s %s → %s (%s %s)\n", Tr("Đã nạp tệp quy tắc:", "Rule file loaded:"),
                 Str(*reload, "previous_version").c_str(), Str(*reload, "version").c_str(), Num((*reload)["rules"]).c_str(),
                 Tr("quy tắc", "rules"));
  // The plugin's own count of the run (`progress`, job "retag"): done of total records.
  Progress bar(Tr("Gắn nhãn lại", "Re-tagging"), !ctx.g.quiet);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  json job;
  while (true) {
    auto p = ctx.Query({{"op", "progress"}, {"job", "retag"}}, &rc);
    if (!p) return rc;
    job = JobOf(*p, "retag");
    bar.Update(job.value("done", int64_t{0}), job.value("total", int64_t{0}));
    if (job.value("state", "") != "running") break;
    if (Clock::now() >= deadline) {
      bar.Finish();
      std::fprintf(stderr, "%s %llds (%s %s/%s)\n", Tr("Chưa gắn nhãn lại xong sau", "Re-tagging not finished after"),
                   static_cast<long long>(timeout_s), Tr("đã xử lý", "processed"), Num(job["done"]).c_str(),
                   Num(job["total"]).c_str());
      return kBusy;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  bar.Finish();
  auto status = ctx.Query({{"op", "tagging.status"}}, &rc);
  if (!status) return rc;
  const int64_t total = job.value("total", int64_t{0});
  json out = {{"reload", *reload}, {"status", *status}, {"total", total}, {"progress", job}};
  if (job.value("state", "") == "failed") {
    std::fprintf(stderr, "%s: %s\n", Tr("Gắn nhãn lại thất bại", "Re-tagging failed"), Str(job, "error").c_str());
    if (ctx.g.json) std::printf("%s\n", out.dump().c_str());
    return kFailed;
  }
  Out(ctx, out.dump(),
      KeyValues({{Tr("phiên bản quy tắc", "rules version"), Str(*status, "rules_version")},
                 {Tr("bản ghi đã gắn nhãn lại", "records re-tagged"), Num(job["done"]) + "/" + std::to_string(total)},
                 {Tr("bản ghi đổi nhãn", "records whose tags changed"), Num((*status)["changed"])}}));
  return kOk;
}

std::string KeyText(const json& k) { return Str(k, "source") + "/" + Str(k, "kind") + "/" + Str(k, "id"); }

int CmdReviewList(Ctx& ctx, const Args& a) {
  int rc = kOk;
  int64_t limit;
  if (!ParseInt(a, "--limit", 1, 10000, 100, &limit, &rc)) return rc;
  if ((rc = ctx.Open(false))) return rc;
  json req = {{"op", "tags.review"}, {"action", "list"}, {"limit", limit}};
  if (a.Has("--unit")) req["unit"] = a.Get("--unit");
  if (a.Has("--decided")) req["decided"] = true;
  std::string raw;
  auto r = ctx.Query(req, &rc, &raw);
  if (!r) return rc;
  std::string human;
  if (a.Has("--decided")) {
    Table t({Tr("bản ghi", "record"), Tr("quyết định", "decision"), Tr("người", "by"), Tr("lý do", "why")});
    for (const auto& it : (*r)["items"])
      t.Add({KeyText(it["key"]), Str(it["decision"], "action") + " " + Str(it["decision"], "kind"),
             Str(it["decision"], "by", Str(it["decision"], "reviewer")), Str(it["decision"], "why")});
    human = Tr("Đã rà soát: ", "Decided: ") + Num((*r)["decided"]) + "\n" + (t.empty() ? "" : t.Render());
  } else {
    Table t({Tr("bản ghi", "record"), Tr("đơn vị", "unit"), Tr("tiêu đề", "title"), Tr("loại đọc được", "reading"),
             Tr("quyết định chưa chắc", "unsure decisions")});
    for (const auto& it : (*r)["items"]) {
      std::string weak;
      for (const auto& w : it["weak"])
        weak += (weak.empty() ? "" : ", ") + Str(w, "decision") + "=" + Str(w, "value") + " (" + Num(w["confidence"]) + ")";
      t.Add({KeyText(it["key"]), Str(it, "unit"), Str(it, "title"), Str(it["reading"], "kind"), weak});
    }
    human = Tr("Chờ rà soát: ", "Waiting for review: ") + Num((*r)["pending"]) + "\n" + (t.empty() ? "" : t.Render(48));
  }
  Out(ctx, raw, human);
  return kOk;
}

int ReviewDecision(Ctx& ctx, const Args& a, const char* action) {
  if (int rc = Require(a, {"--source", "--kind", "--id", "--by"})) return rc;
  json req = {{"op", "tags.review"}, {"action", action}, {"source", a.Get("--source")},
              {"kind", a.Get("--kind")}, {"id", a.Get("--id")}, {"by", a.Get("--by")}};
  if (a.Has("--why")) req["why"] = a.Get("--why");
  if (std::string(action) == "correct") {
    json set = json::object();
    if (a.Has("--set-kind")) set["kind"] = a.Get("--set-kind");
    if (a.Has("--secondary")) set["secondary"] = SplitList(a.Get("--secondary"));
    for (const auto& f : a.All("--flag")) {
      const size_t eq = f.find('=');
      const std::string v = eq == std::string::npos ? "" : f.substr(eq + 1);
      if (eq == std::string::npos || (v != "true" && v != "false"))
        return UsageError("--flag: cần TÊN=true|false, nhận được \"" + f + "\"", "--flag: expected NAME=true|false, got \"" + f + "\"");
      set["flags"][f.substr(0, eq)] = v == "true";
    }
    req["set"] = set;
  }
  int rc;
  if ((rc = ctx.Open(false))) return rc;
  std::string raw;
  auto r = ctx.Query(req, &rc, &raw);
  if (!r) return rc;
  const json d = r->value("decision", json::object());
  const json flag_values = d.is_object() ? d.value("flags", json::object()) : json::object();
  std::string flags;
  for (auto it = flag_values.begin(); flag_values.is_object() && it != flag_values.end(); ++it)
    if (it->is_boolean() && it->get<bool>()) flags += (flags.empty() ? "" : ", ") + it.key();
  Out(ctx, raw,
      KeyValues({{Tr("bản ghi", "record"), KeyText((*r)["key"])},
                 {Tr("thao tác", "action"), std::string(action) == "confirm" ? Tr("xác nhận", "confirmed") : Tr("sửa", "corrected")},
                 {Tr("loại đơn", "kind"), Str(d, "kind")},
                 {Tr("cờ", "flags"), flags.empty() ? "—" : flags}}));
  return kOk;
}
int CmdReviewConfirm(Ctx& ctx, const Args& a) { return ReviewDecision(ctx, a, "confirm"); }
int CmdReviewCorrect(Ctx& ctx, const Args& a) { return ReviewDecision(ctx, a, "correct"); }

// ---- indicators, scores, reports ------------------------------------------------------------

int CmdIndicators(Ctx& ctx, const Args& a) {
  json period;
  if (int rc = Require(a, {"--unit"})) return rc;
  if (int rc = PeriodArg(a, &period)) return rc;
  json req = {{"op", "indicators"}, {"unit", a.Get("--unit")}, {"period", period}};
  if (a.Has("--ids")) req["ids"] = SplitList(a.Get("--ids"));
  int rc;
  if ((rc = ctx.Open(false))) return rc;
  std::string raw;
  auto r = ctx.Query(req, &rc, &raw);
  if (!r) return rc;
  Table t({Tr("chỉ số", "indicator"), Tr("tên", "name"), Tr("tử số", "numerator"), Tr("mẫu số", "denominator"),
           Tr("tỷ lệ", "ratio"), Tr("điểm", "points")},
          {false, false, true, true, true, true});
  for (const auto& v : (*r)["indicators"]) {
    std::string ratio = v.contains("ratio") && v["ratio"].is_number() ? FormatNumber(v["ratio"].get<double>() * 100, 1) + "%"
                                                                       : (v.contains("value") ? "" : "—");
    std::string points = v.contains("max_points") ? Num(v["points"]) + "/" + Num(v["max_points"]) : "";
    t.Add({Str(v, "id"), Str(v, "name"), Num(v.value("numerator", json())),
           v.contains("denominator") ? Num(v["denominator"]) : "", ratio, points});
  }
  std::string human = Str(*r, "unit") + " — " + Str(*r, "unit_name") + "; " + Str((*r)["period"], "label") + "; " +
                      Tr("tính đến ", "as of ") + Str(*r, "as_of") + "\n" + t.Render(56);
  if (r->contains("idx766") && (*r)["idx766"].is_object() && (*r)["idx766"].contains("total"))
    human += Tr("Điểm Bộ chỉ số 766: ", "Index 766 points: ") + Num((*r)["idx766"]["total"]) + "\n";
  Out(ctx, raw, human);
  return kOk;
}

int CmdScore(Ctx& ctx, const Args& a) {
  json period;
  if (int rc = PeriodArg(a, &period)) return rc;
  json req = {{"op", "score"}, {"period", period}};
  if (a.Has("--unit")) req["unit"] = a.Get("--unit");
  if (a.Has("--rubric")) req["rubric"] = a.Get("--rubric");
  int rc;
  if ((rc = ctx.Open(false))) return rc;
  std::string raw;
  auto r = ctx.Query(req, &rc, &raw);
  if (!r) return rc;
  Table t({Tr("hạng", "rank"), Tr("đơn vị", "unit"), Tr("tên", "name"), Tr("tổng điểm", "total"), Tr("xếp loại", "rating")},
          {true, false, false, true});
  for (json s : (*r)["ranking"]) {
    std::string rank = s["rank"].is_null() ? "—" : Num(s["rank"]) + (s.value("tied", false) ? "=" : "");
    t.Add({rank, Str(s, "unit"), Str(s, "name"), Num(s["total"]),
           s.value("eligible", true) ? Str(s, "rating") : Tr("Không xếp loại", "Not rated")});
  }
  std::string human = Tr("Bộ tiêu chí ", "Rubric ") + Str((*r)["rubric"], "id") + " " + Str((*r)["rubric"], "version") + "; " +
                      Str((*r)["period"], "label") + "; " + Tr("tính đến ", "as of ") + Str(*r, "as_of") + "\n" + t.Render(48);
  for (const auto& tie : (*r)["ties"]) human += Str(tie, "note") + "\n";
  if (r->contains("aggregate")) human += Tr("Toàn đơn vị ", "Whole unit ") + Str(*r, "unit") + ": " + Num((*r)["aggregate"]["total"]) + "\n";
  human += Tr("Lưu nhật ký số ", "Journal entry ") + Num((*r)["journal_id"]) + "\n";
  Out(ctx, raw, human);
  return kOk;
}

int CmdManualEntry(Ctx& ctx, const Args& a) {
  json period;
  if (int rc = PeriodArg(a, &period)) return rc;
  json req = {{"period", period}};
  if (a.Has("--rubric")) req["rubric"] = a.Get("--rubric");
  if (a.Has("--unit")) req["unit"] = a.Get("--unit");
  if (a.Has("--list")) {
    req["op"] = "score.manual.list";
    if (a.Has("--criterion")) req["criterion"] = a.Get("--criterion");
    int rc;
    if ((rc = ctx.Open(false))) return rc;
    std::string raw;
    auto r = ctx.Query(req, &rc, &raw);
    if (!r) return rc;
    Table t({"id", Tr("đơn vị", "unit"), Tr("tiêu chí", "criterion"), Tr("người chấm", "assessor"), Tr("điểm", "score"),
             Tr("người nhập", "entered by"), Tr("minh chứng", "evidence")},
            {true, false, false, false, true});
    for (const auto& e : (*r)["entries"]) {
      const json m = e.value("entry", json::object());
      const std::string evidence = Str(m, "evidence_note").empty() ? Str(m, "document_ref") : Str(m, "evidence_note");
      t.Add({Num(e.value("journal_id", json())), Str(e, "unit"), Str(m, "criterion_id"), Str(m, "assessor"),
             Num(m.value("score", json())), Str(m, "entered_by"), evidence});
    }
    Out(ctx, raw, t.empty() ? std::string(Tr("Chưa có điểm chấm tay.\n", "No manual entries.\n")) : t.Render(48));
    return kOk;
  }
  if (int rc = Require(a, {"--unit", "--criterion", "--assessor", "--score", "--by"})) return rc;
  char* end = nullptr;
  const std::string score = a.Get("--score");
  errno = 0;
  double v = std::strtod(score.c_str(), &end);
  if (score.empty() || errno || *end)
    return UsageError("--score: cần một số, nhận được \"" + score + "\"", "--score: expected a number, got \"" + score + "\"");
  req["op"] = "score.manual";
  req["criterion"] = a.Get("--criterion");
  req["assessor"] = a.Get("--assessor");
  req["score"] = v;
  req["entered_by"] = a.Get("--by");
  if (a.Has("--evidence")) req["evidence_note"] = a.Get("--evidence");
  if (a.Has("--document")) req["document_ref"] = a.Get("--document");
  int rc;
  if ((rc = ctx.Open(false))) return rc;
  std::string raw;
  auto r = ctx.Query(req, &rc, &raw);
  if (!r) return rc;
  Out(ctx, raw,
      Tr("Đã ghi điểm chấm tay (nhật ký số ", "Manual entry recorded (journal entry ") + Num((*r)["journal_id"]) + ", " +
          Str(*r, "recorded_at") + "): " + Str(*r, "unit") + " " + a.Get("--criterion") + " = " + Num((*r)["entry"]["score"]) + "\n");
  return kOk;
}

int CmdReport(Ctx& ctx, const Args& a) {
  if (int rc = Require(a, {"--kind", "--year"})) return rc;
  int rc = kOk;
  int64_t year;
  if (!ParseInt(a, "--year", 2000, 2100, 0, &year, &rc)) return rc;
  const std::string format = a.Get("--format", "json");
  if (format != "json" && format != "html" && format != "xlsx" && format != "csv" && format != "all")
    return UsageError("--format: cần json, html, xlsx, csv hoặc all; nhận được \"" + format + "\"",
                      "--format: expected json, html, xlsx, csv or all; got \"" + format + "\"");
  const std::string out_path = a.Get("--out");
  if (format != "json" && out_path.empty())
    return UsageError("--out: cần thư mục để ghi báo cáo dạng " + format, "--out: a directory is needed for format " + format);
  json req = {{"op", "report"}, {"kind", a.Get("--kind")}, {"year", year}};
  if (a.Has("--unit")) req["unit"] = a.Get("--unit");
  if (a.Has("--rubric")) req["rubric"] = a.Get("--rubric");
  fs::path staging;
  if (format != "json") {
    std::error_code ec;
    fs::create_directories(out_path, ec);
    // The plugin writes every format inside its reports directory (reports.dir; a relative
    // path is resolved there, and nothing outside it is accepted); only the asked files are
    // then moved into --out.
    req["format"] = "all";
    req["path"] = ".danvanctl-" + std::to_string(::getpid());
  }
  if ((rc = ctx.Open(false))) return rc;
  std::string raw;
  std::optional<json> r;
  {
    // The report is made on this thread; a second one follows its progress (`progress`, job
    // "report": units scored, tables, actions, files) for the bar. The plugin's query is
    // thread-safe (danvan.h).
    Progress bar(Tr("Lập báo cáo", "Making the report"), !ctx.g.quiet);
    std::atomic<bool> done{false};
    std::thread watcher;
    if (bar.active())
      watcher = std::thread([&] {
        while (!done.load()) {
          try {
            const json p = json::parse(ctx.plugin().Query(R"({"op":"progress","job":"report"})"), nullptr, false);
            const json j = JobOf(p, "report");
            if (j.value("state", "") == "running") bar.Update(j.value("done", int64_t{0}), j.value("total", int64_t{0}));
          } catch (const danvan::Error&) {
            return;
          }
          for (int i = 0; i < 10 && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      });
    r = ctx.Query(req, &rc, &raw);
    done = true;
    if (watcher.joinable()) watcher.join();
    if (r) {
      // The finished run, so the bar ends at 100%.
      auto p = ctx.Query({{"op", "progress"}, {"job", "report"}}, &rc);
      if (p) {
        const json j = JobOf(*p, "report");
        bar.Update(j.value("done", int64_t{0}), j.value("total", int64_t{0}));
      }
    }
    bar.Finish();
  }
  std::error_code ec;
  if (!r) return rc;
  if (format != "json") staging = fs::path(r->value("path", ""));
  if (format == "json") {
    if (out_path.empty()) {
      std::printf("%s\n", ctx.g.json ? raw.c_str() : (*r)["report"].dump(2).c_str());
      return kOk;
    }
    std::ofstream f(out_path, std::ios::binary | std::ios::trunc);
    f << (*r)["report"].dump(2) << "\n";
    if (!f.good()) {
      std::fprintf(stderr, "%s: %s\n", Tr("Không ghi được tệp", "Cannot write"), out_path.c_str());
      return kFailed;
    }
    Out(ctx, raw, Tr("Đã ghi báo cáo: ", "Report written: ") + out_path + "\n");
    return kOk;
  }
  json files = json::array();
  for (const auto& f : (*r)["files"]) {
    const std::string name = f.get<std::string>();
    const bool wanted = format == "all" || (format == "html" && name == "report.html") ||
                        (format == "xlsx" && name == "report.xlsx") || (format == "csv" && name.rfind("csv/", 0) == 0);
    if (!wanted) continue;
    fs::path to = fs::path(out_path) / name;
    fs::create_directories(to.parent_path(), ec);
    fs::remove(to, ec);
    fs::rename(staging / name, to, ec);
    if (ec) {
      std::fprintf(stderr, "%s %s: %s\n", Tr("Không chuyển được", "Cannot move"), name.c_str(), ec.message().c_str());
      fs::remove_all(staging, ec);
      return kFailed;
    }
    files.push_back(to.string());
  }
  fs::remove_all(staging, ec);
  json out = {{"kind", (*r)["kind"]}, {"year", year}, {"unit", (*r)["unit"]}, {"format", format}, {"files", files}};
  std::string human = Tr("Đã ghi báo cáo ", "Report written ") + Str(*r, "kind") + " " + std::to_string(year) + " (" +
                      Str(*r, "unit") + "):\n";
  for (const auto& f : files) human += "  " + f.get<std::string>() + "\n";
  Out(ctx, out.dump(), human);
  return kOk;
}

int CmdVerifyLog(Ctx& ctx, const Args&) {
  int rc;
  if ((rc = ctx.Open(false))) return rc;
  std::string raw;
  auto r = ctx.Query({{"op", "exportlog.verify"}}, &rc, &raw);
  if (!r) return rc;
  const bool valid = r->value("valid", false);
  std::string human = KeyValues({{Tr("mục nhật ký", "entries"), Num((*r)["entries"])},
                                 {Tr("chuỗi băm nguyên vẹn", "hash chain intact"), YesNo(valid)},
                                 {Tr("mục định dạng cũ", "legacy entries"), Num((*r)["legacy_entries"])}});
  if (!valid) {
    Table t({"seq", Tr("vấn đề", "problem")}, {true});
    for (const auto& p : (*r)["problems"]) t.Add({Num(p.value("seq", json())), Str(p, "problem")});
    human += t.Render(100);
  }
  Out(ctx, raw, human);
  return valid ? kOk : kFindings;
}

// ---- import ---------------------------------------------------------------------------------

struct ImportState {
  int64_t events = 0;
  json summary = {{"accepted", 0}, {"duplicate", 0}, {"stale", 0}, {"rejected", 0}};
  json rejected = json::array();  // the first kMaxShown
  static constexpr size_t kMaxShown = 20;
  std::string batch;
  std::vector<int64_t> lines;  // file line of each event in the batch
};

void LocalReject(ImportState* st, int64_t line, const std::string& vi, const std::string& en) {
  ++st->events;
  st->summary["rejected"] = st->summary["rejected"].get<int64_t>() + 1;
  if (st->rejected.size() < ImportState::kMaxShown)
    st->rejected.push_back({{"line", line}, {"errors", json::array({{{"path", ""}, {"message", vi}, {"message_en", en}}})}});
}

// Submits the batch; RETRY_LATER waits (doubling, at most max_wait_s in all). Exit code.
int Flush(Ctx& ctx, ImportState* st, int64_t max_wait_s) {
  if (st->lines.empty()) return kOk;
  const auto deadline = Clock::now() + std::chrono::seconds(max_wait_s);
  int delay_ms = 200;
  danvan::SubmitResult r;
  while (true) {
    try {
      r = ctx.plugin().SubmitBatch(st->batch);
      break;
    } catch (const danvan::RetryLater& e) {
      if (Clock::now() + std::chrono::milliseconds(delay_ms) > deadline) {
        std::fprintf(stderr, "%s (%llds)\n", Tr("Plugin vẫn bận (retry_later) sau thời gian chờ --max-wait",
                                                "The plugin is still busy (retry_later) after --max-wait"),
                     static_cast<long long>(max_wait_s));
        return kBusy;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      delay_ms = std::min(delay_ms * 2, 5000);
    } catch (const danvan::Error& e) {
      std::fprintf(stderr, "%s %lld:\n", Tr("Lô bị từ chối cả lô, bắt đầu ở dòng", "Batch refused as a whole, starting at line"),
                   static_cast<long long>(st->lines.front()));
      if (ctx.g.json) std::printf("%s\n", e.document().c_str());
      return ExitFor(e, false);
    }
  }
  json j = json::parse(r.json, nullptr, false);
  if (j.is_object() && j["results"].is_array()) {
    for (const auto& res : j["results"]) {
      const std::string outcome = Str(res, "outcome");
      ++st->events;
      if (st->summary.contains(outcome)) st->summary[outcome] = st->summary[outcome].get<int64_t>() + 1;
      if (outcome != "rejected") continue;
      const int64_t index = res.value("index", int64_t{-1});
      const int64_t line = index >= 0 && static_cast<size_t>(index) < st->lines.size() ? st->lines[index] : -1;
      if (st->rejected.size() < ImportState::kMaxShown)
        st->rejected.push_back({{"line", line}, {"key", res.value("key", json())}, {"errors", res.value("errors", json::array())}});
    }
  }
  st->batch.clear();
  st->lines.clear();
  return kOk;
}

// Reads one line of at most max_bytes (the rest of a longer line is skipped; *too_long set).
bool ReadBoundedLine(std::istream& in, size_t max_bytes, std::string* line, bool* too_long) {
  line->clear();
  *too_long = false;
  int c;
  bool any = false;
  while ((c = in.get()) != EOF) {
    any = true;
    if (c == '\n') return true;
    if (line->size() < max_bytes) line->push_back(static_cast<char>(c));
    else *too_long = true;
  }
  return any;
}

int CmdImport(Ctx& ctx, const Args& a) {
  const std::string file = a.pos[0];
  std::string format = a.Get("--format");
  if (format.empty()) format = file.size() > 4 && file.compare(file.size() - 4, 4, ".csv") == 0 ? "csv" : "jsonl";
  if (format != "csv" && format != "jsonl")
    return UsageError("--format: cần jsonl hoặc csv, nhận được \"" + format + "\"", "--format: expected jsonl or csv, got \"" + format + "\"");
  int rc = kOk;
  int64_t batch_size, max_wait_s;
  if (!ParseInt(a, "--batch", 1, 10000, 500, &batch_size, &rc) || !ParseInt(a, "--max-wait", 0, 86400, 120, &max_wait_s, &rc))
    return rc;
  if (format == "jsonl" && (a.Has("--map") || a.Has("--set") || a.Has("--delimiter")))
    return UsageError("--map, --set và --delimiter chỉ dùng cho CSV", "--map, --set and --delimiter are for CSV only");
  const std::string delim = a.Get("--delimiter", ",");
  if (delim.size() != 1 && delim != "\\t")
    return UsageError("--delimiter: cần một ký tự", "--delimiter: expected one character");
  const char delimiter = delim == "\\t" ? '\t' : delim[0];
  std::vector<std::pair<std::string, FieldTarget>> maps;
  std::vector<Constant> constants;
  for (const auto& m : a.All("--map")) {
    const size_t eq = m.rfind('=');
    std::string err;
    auto t = eq == std::string::npos || eq == 0 ? std::nullopt : ParseFieldTarget(m.substr(eq + 1), &err);
    if (!t)
      return UsageError("--map: cần CỘT=trường[.con][:string|int|number|bool|json], nhận được \"" + m + "\"",
                        "--map: expected COLUMN=field[.sub][:string|int|number|bool|json], got \"" + m + "\"");
    maps.push_back({m.substr(0, eq), *t});
  }
  for (const auto& s : a.All("--set")) {
    const size_t eq = s.find('=');
    std::string err;
    auto t = eq == std::string::npos || eq == 0 ? std::nullopt : ParseFieldTarget(s.substr(0, eq), &err);
    if (!t)
      return UsageError("--set: cần trường[:kiểu]=GIÁ_TRỊ, nhận được \"" + s + "\"",
                        "--set: expected field[:type]=VALUE, got \"" + s + "\"");
    constants.push_back({*t, s.substr(eq + 1)});
  }
  std::ifstream fin;
  std::istream* in = &std::cin;
  int64_t size = 0;
  if (file != "-") {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      return UsageError("không đọc được tệp (không tồn tại hoặc không phải tệp thường): " + file,
                        "cannot read the file (missing or not a regular file): " + file);
    size = static_cast<int64_t>(fs::file_size(file, ec));
    fin.open(file, std::ios::binary);
    if (!fin) return UsageError("không mở được tệp: " + file, "cannot open the file: " + file);
    in = &fin;
  }
  // CSV: the header row, and which column goes where.
  std::vector<std::pair<size_t, FieldTarget>> columns;
  int64_t line_no = 0;
  constexpr size_t kMaxRecordBytes = 16u << 20;
  if (format == "csv") {
    std::vector<std::string> header;
    int64_t n = 0;
    bool too_long = false;
    if (!ReadCsvRecord(*in, delimiter, kMaxRecordBytes, &header, &n, &too_long) || too_long || header.empty())
      return UsageError("tệp CSV không có dòng tiêu đề: " + file, "the CSV file has no header row: " + file);
    line_no += n;
    if (header[0].rfind("\xEF\xBB\xBF", 0) == 0) header[0] = header[0].substr(3);
    for (auto& h : header)
      while (!h.empty() && (h.back() == ' ' || h.back() == '\r')) h.pop_back();
    if (maps.empty()) {
      for (size_t i = 0; i < header.size(); ++i) {
        std::string err;
        auto t = ParseFieldTarget(header[i], &err);
        if (!t) return UsageError("cột \"" + header[i] + "\" không phải tên trường; dùng --map", "column \"" + header[i] + "\" is not a field name; use --map");
        columns.push_back({i, *t});
      }
    } else {
      for (const auto& [col, target] : maps) {
        auto it = std::find(header.begin(), header.end(), col);
        if (it == header.end()) {
          std::string all;
          for (const auto& h : header) all += (all.empty() ? "" : ", ") + h;
          return UsageError("--map: tệp không có cột \"" + col + "\" (các cột: " + all + ")",
                            "--map: the file has no column \"" + col + "\" (columns: " + all + ")");
        }
        columns.push_back({static_cast<size_t>(it - header.begin()), target});
      }
    }
  }
  if ((rc = ctx.Open(true))) return rc;
  ImportState st;
  Progress bar(Tr("Nhập dữ liệu", "Importing"), !ctx.g.quiet && size > 0);
  auto add = [&](const std::string& event, int64_t line) -> int {
    if (!st.lines.empty() && (static_cast<int64_t>(st.lines.size()) >= batch_size || st.batch.size() + event.size() > (32u << 20)))
      if (int r = Flush(ctx, &st, max_wait_s)) return r;
    st.batch += event;
    st.batch += '\n';
    st.lines.push_back(line);
    return kOk;
  };
  while (true) {
    const int64_t first_line = line_no + 1;
    if (format == "jsonl") {
      std::string line;
      bool too_long = false;
      if (!ReadBoundedLine(*in, kMaxRecordBytes, &line, &too_long)) break;
      ++line_no;
      if (too_long) {
        LocalReject(&st, line_no, "dòng dài quá 16 MiB, không gửi", "line longer than 16 MiB, not sent");
        continue;
      }
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if ((rc = add(line, line_no))) return rc;
    } else {
      std::vector<std::string> fields;
      int64_t n = 0;
      bool too_long = false;
      if (!ReadCsvRecord(*in, delimiter, kMaxRecordBytes, &fields, &n, &too_long)) break;
      line_no += n;
      if (too_long) {
        LocalReject(&st, first_line, "bản ghi CSV dài quá 16 MiB, không gửi", "CSV record longer than 16 MiB, not sent");
        continue;
      }
      if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
      json ev = json::object();
      for (const auto& c : constants) SetField(&ev, c.target, c.value);
      for (const auto& [index, target] : columns)
        if (index < fields.size()) SetField(&ev, target, fields[index]);
      if ((rc = add(ev.dump(-1, ' ', false, json::error_handler_t::replace), first_line))) return rc;
    }
    if (size > 0) bar.Update(static_cast<int64_t>(in->tellg()), size);
  }
  if ((rc = Flush(ctx, &st, max_wait_s))) return rc;
  bar.Finish();
  json out = {{"file", file}, {"events", st.events}, {"summary", st.summary}, {"rejected", st.rejected}};
  std::string human = KeyValues({{Tr("sự kiện đã gửi", "events sent"), Num(st.events)},
                                 {Tr("được nhận", "accepted"), Num(st.summary["accepted"])},
                                 {Tr("trùng (đã có)", "duplicate"), Num(st.summary["duplicate"])},
                                 {Tr("cũ (phiên bản cũ hơn)", "stale"), Num(st.summary["stale"])},
                                 {Tr("bị từ chối", "rejected"), Num(st.summary["rejected"])}});
  if (!st.rejected.empty()) {
    Table t({Tr("dòng", "line"), Tr("bản ghi", "record"), Tr("lỗi", "errors")}, {true});
    for (const auto& r : st.rejected) {
      std::string errs;
      for (const auto& e : r["errors"]) {
        std::string m = CurrentLang() == Lang::kEn && !Str(e, "message_en").empty() ? Str(e, "message_en") : Str(e, "message", Str(e, "reason"));
        errs += (errs.empty() ? "" : "; ") + Str(e, "path") + ": " + m;
      }
      t.Add({Num(r["line"]), r.contains("key") && r["key"].is_object() ? KeyText(r["key"]) : "", errs});
    }
    human += "\n" + std::string(Tr("Dòng bị từ chối (giữ trong quarantine.list)", "Rejected lines (kept in quarantine.list)")) +
             (st.summary["rejected"].get<int64_t>() > static_cast<int64_t>(st.rejected.size())
                  ? Tr(", ", ", ") + std::to_string(st.rejected.size()) + Tr(" dòng đầu", " first")
                  : "") +
             ":\n" + t.Render(120);
  }
  Out(ctx, out.dump(), human);
  return st.summary["rejected"].get<int64_t>() > 0 ? kFindings : kOk;
}

}  // namespace

// ---- context --------------------------------------------------------------------------------

int UsageError(const std::string& vi, const std::string& en) {
  std::fprintf(stderr, "danvanctl: %s\n", Tr(vi, en).c_str());
  return kUsage;
}

void PrintErrorDocument(const std::string& document) {
  json d = json::parse(document, nullptr, false);
  if (!d.is_object() || !d["errors"].is_array()) {
    std::fprintf(stderr, "  %s\n", document.c_str());
    return;
  }
  for (const auto& e : d["errors"]) {
    std::string m = Str(e, "message");
    if (CurrentLang() == Lang::kEn && !Str(e, "message_en").empty() && Str(e, "message_en") != m)
      m = Str(e, "message_en") + " — " + m;  // the English text is generic; the detail is the Vietnamese message
    const std::string path = Str(e, "path");
    std::fprintf(stderr, "  %s%s [%s]\n", path.empty() ? "" : (path + ": ").c_str(), m.c_str(), Str(e, "code").c_str());
  }
}

int ExitFor(const danvan::Error& e, bool at_open) {
  const danvan_status s = e.status();
  if (s == DANVAN_ABI_MISMATCH) {
    std::fprintf(stderr, "%s\n", Tr("Không nạp được libdanvan.so hoặc ABI không khớp:", "libdanvan.so cannot be loaded or its ABI differs:"));
    PrintErrorDocument(e.document());
    return kLibrary;
  }
  if (s == DANVAN_BAD_STATE && e.HasCode("store.locked")) {
    std::fprintf(stderr, "%s\n",
                 Tr("Kho dữ liệu đang được một handle khác giữ (thường là máy chủ một cửa đang chạy). danvanctl mở kho như "
                    "một máy chủ nên không thể mở khi kho đang bị giữ:",
                    "The store is held by another handle (usually the running one-stop host). danvanctl opens the store "
                    "as a host does, so it cannot open it while it is held:"));
    PrintErrorDocument(e.document());
    std::fprintf(stderr, "%s\n",
                 Tr("Hãy chạy lệnh khi máy chủ đã dừng (stop + close), hoặc gửi thao tác query qua máy chủ đang chạy.",
                    "Run the command while the host is stopped (stop + close), or send the query op through the running host."));
    return kStoreLocked;
  }
  if (at_open && s == DANVAN_INVALID_INPUT) {
    json d = json::parse(e.document(), nullptr, false);
    const size_t n = d.is_object() && d["errors"].is_array() ? d["errors"].size() : 0;
    std::fprintf(stderr, "%s (%zu %s):\n", Tr("Cấu hình không hợp lệ", "Invalid configuration"), n, Tr("lỗi", "errors"));
    PrintErrorDocument(e.document());
    return kConfigInvalid;
  }
  json d = json::parse(e.document(), nullptr, false);
  std::fprintf(stderr, "%s (%s):\n", at_open ? Tr("Không mở được plugin", "Cannot open the plugin") : Tr("Plugin trả lỗi", "The plugin answered an error"),
               d.is_object() ? Str(d, "status").c_str() : "?");
  PrintErrorDocument(e.document());
  if (at_open) return kOpenFailed;
  if (s == DANVAN_NOT_FOUND) return kNotFound;
  if (s == DANVAN_RETRY_LATER) return kBusy;
  return kFailed;
}

int Ctx::ReadConfig() {
  if (g.config.empty())
    return UsageError("thiếu --config (hoặc biến DANVAN_CONFIG)", "missing --config (or $DANVAN_CONFIG)");
  std::error_code ec;
  if (!fs::is_regular_file(g.config, ec) || fs::file_size(g.config, ec) > kMaxConfigBytes) {
    std::fprintf(stderr, "%s: %s\n", Tr("Không đọc được tệp cấu hình (không tồn tại, không phải tệp thường, hoặc quá 16 MiB)",
                                        "Cannot read the configuration file (missing, not a regular file, or over 16 MiB)"),
                 g.config.c_str());
    return kConfigInvalid;
  }
  std::ifstream f(g.config, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  if (!f) {
    std::fprintf(stderr, "%s: %s\n", Tr("Không đọc được tệp cấu hình", "Cannot read the configuration file"), g.config.c_str());
    return kConfigInvalid;
  }
  config_text = ss.str();
  return kOk;
}

int Ctx::Open(bool may_create) {
  if (int rc = ReadConfig()) return rc;
  // Where the store is, from the document (the plugin checks the document itself at open).
  json cfg = json::parse(config_text, nullptr, false);
  if (cfg.is_object() && cfg.contains("storage") && cfg["storage"].is_object() && cfg["storage"].contains("path") &&
      cfg["storage"]["path"].is_string() && cfg["storage"].value("engine", "sqlite") == "sqlite") {
    const std::string path = cfg["storage"]["path"];
    std::error_code ec;
    if (!path.empty() && fs::path(path).is_relative() && !g.quiet)
      std::fprintf(stderr, "%s: %s (%s)\n",
                   Tr("Lưu ý: đường dẫn kho là tương đối, được hiểu theo thư mục hiện tại",
                      "Note: the store path is relative, read from the current directory"),
                   path.c_str(), fs::current_path(ec).c_str());
    if (!may_create && !path.empty() && !fs::exists(path, ec)) {
      std::fprintf(stderr, "%s: %s\n",
                   Tr("Kho dữ liệu chưa tồn tại (danvanctl không tạo kho rỗng cho lệnh này)",
                      "The store does not exist (danvanctl does not create an empty one for this command)"),
                   path.c_str());
      return kOpenFailed;
    }
  }
  try {
    lib_ = std::make_unique<danvan::Library>(g.lib.empty() ? "libdanvan.so.1" : g.lib);
  } catch (const danvan::Error& e) {
    return ExitFor(e, true);
  }
  danvan::Callbacks cb;
  const int min_level = g.quiet ? DANVAN_LOG_ERROR + 1 : g.log_level;
  cb.log = [min_level](int level, std::string_view line) {
    if (level < min_level) return;
    std::fprintf(stderr, "[danvan %s] %.*s\n", LevelName(level), static_cast<int>(line.size()), line.data());
  };
  try {
    plugin_ = std::make_unique<danvan::Plugin>(*lib_, config_text, cb);
  } catch (const danvan::Error& e) {
    if (g.json) std::printf("%s\n", e.document().c_str());
    return ExitFor(e, true);
  }
  return kOk;
}

int Ctx::Start() {
  try {
    plugin_->Start();
  } catch (const danvan::Error& e) {
    return ExitFor(e, false);
  }
  return kOk;
}

void Ctx::Stop() {
  try {
    plugin_->Stop(10000);
  } catch (const danvan::Error& e) {
    std::fprintf(stderr, "%s\n", Tr("Dừng plugin quá hạn; đóng:", "Stopping the plugin timed out; closing:"));
    PrintErrorDocument(e.document());
  }
}

std::optional<json> Ctx::Query(const json& request, int* exit, std::string* raw) {
  json req = request;
  // The plugin audits its administrative ops: say who runs them (README "Audit").
  static const char* kAdminOps[] = {"config.reload", "outbox.mappings.set", "outbox.resend", "outbox.reconcile",
                                    "tagging.reload", "score.manual", "procedures.refresh", "adapter.test"};
  const std::string op = req.value("op", "");
  if (!req.contains("actor") && !req.contains("by") && !g.actor.empty() &&
      std::any_of(std::begin(kAdminOps), std::end(kAdminOps), [&](const char* o) { return op == o; }))
    req["actor"] = g.actor;
  try {
    std::string out = plugin_->Query(req.dump());
    json j = json::parse(out, nullptr, false);
    if (raw) *raw = std::move(out);
    return j;
  } catch (const danvan::Error& e) {
    if (g.json) std::printf("%s\n", e.document().c_str());
    *exit = ExitFor(e, false);
    return std::nullopt;
  }
}

void Ctx::Close() {
  plugin_.reset();
  lib_.reset();
}

// ---- the table ------------------------------------------------------------------------------

const std::vector<Command>& Commands() {
  static const OptSpec kPeriod{"--period", true, false,
                               "kỳ: 2023 (năm), 2023-H1 (6 tháng), 2023-Q2, 2023-03, 2023-01-01..2023-06-15 hoặc JSON",
                               "period: 2023 (year), 2023-H1 (six months), 2023-Q2, 2023-03, 2023-01-01..2023-06-15 or JSON"};
  static const OptSpec kUnit{"--unit", true, false, "mã đơn vị", "unit code"};
  static const OptSpec kRubric{"--rubric", true, false, "bộ tiêu chí (mặc định default)", "rubric (default: default)"};
  static const OptSpec kTimeout{"--timeout", true, false, "chờ tối đa bấy nhiêu giây", "wait at most this many seconds"};
  static const OptSpec kKey[] = {{"--source", true, false, "nguồn của bản ghi", "the record's source"},
                                 {"--kind", true, false, "loại bản ghi (petition, reception)", "record kind (petition, reception)"},
                                 {"--id", true, false, "mã bản ghi", "record id"},
                                 {"--by", true, false, "người quyết định", "who decides"},
                                 {"--why", true, false, "lý do (bắt buộc khi sửa)", "why (required to correct)"}};
  static const std::vector<Command> kCommands = {
      {"config", "validate", "",
       "mở plugin với tệp cấu hình và báo mọi lỗi kèm đường dẫn JSON (tạo kho nếu chưa có)",
       "open the plugin with the configuration file and report every error with its JSON path (creates the store if missing)",
       {}, 0, 0, CmdConfigValidate},
      {"config", "show", "",
       "in tệp cấu hình, che giá trị có dạng bí mật (không mở kho); --effective: cấu hình đang hiệu lực",
       "print the configuration file with secret-looking values redacted (does not open the store)",
       {{"--effective", false, false, "cấu hình đang hiệu lực trong plugin, kèm SHA-256 (config.show; mở kho)",
         "the configuration in force in the plugin, with its SHA-256 (config.show; opens the store)"}},
       0, 0, CmdConfigShow},
      {"config", "reload", "FILE [--dry-run] [--timeout S]",
       "kiểm tra toàn bộ cấu hình mới và áp dụng khi đang chạy (config.reload); cấu hình sai không thay đổi gì và được liệt kê mọi lỗi kèm đường dẫn; "
       "--dry-run chỉ kiểm tra; chờ việc gắn nhãn lại / tính lại thời hạn xong",
       "validate the whole new configuration and apply it live (config.reload); an invalid one changes nothing and every error is listed "
       "with its path; --dry-run only validates; waits for re-tagging / deadline re-evaluation to finish",
       {{"--dry-run", false, false, "chỉ kiểm tra, không áp dụng", "validate only, do not apply"},
        {"--timeout", true, false, "chờ việc nền tối đa (giây, mặc định 600)", "wait for background work at most (seconds, default 600)"}},
       1, 1, CmdConfigReload},
      {"audit", "list", "[--limit N] [--before-id ID] [--op OP]",
       "nhật ký kiểm toán các thao tác quản trị, mới nhất trước (audit.list)",
       "the audit trail of administrative operations, newest first (audit.list)",
       {{"--limit", true, false, "số dòng (1..1000, mặc định 50)", "rows (1..1000, default 50)"},
        {"--before-id", true, false, "trang kế tiếp: các mục có id nhỏ hơn", "next page: entries with a smaller id"},
        {"--op", true, false, "chỉ thao tác này (vd. config.reload)", "only this op (e.g. config.reload)"}},
       0, 0, CmdAuditList},
      {"adapter", "test", "[--timeout S]",
       "kiểm tra kết nối tới Cổng đã cấu hình từng bước: DNS, TCP, TLS với CA đã cấu hình, đăng nhập, một tra cứu vô hại (adapter.test); mã 1 khi một bước lỗi",
       "check the configured portal step by step: DNS, TCP, TLS with the configured CA, log-in, one harmless look-up (adapter.test); exit 1 when a step fails",
       {{"--timeout", true, false, "chờ tối đa (giây, mặc định 120)", "wait at most (seconds, default 120)"}},
       0, 0, CmdAdapterTest},
      {"outbox", "status", "", "tình trạng xuất lên Cổng: hàng đợi, mục cũ nhất, lỗi, thư chết, đối soát (outbox.status)",
       "export status: queue, oldest item, errors, dead letters, reconciliation (outbox.status)", {}, 0, 0, CmdOutboxStatus},
      {"deadletter", "list", "[--limit N] [--offset N]", "danh sách thư chết (outbox.dead_letters)", "list dead letters (outbox.dead_letters)",
       {{"--limit", true, false, "số dòng (1..10000, mặc định 100)", "rows (1..10000, default 100)"},
        {"--offset", true, false, "bỏ qua bấy nhiêu dòng đầu", "skip this many rows"}},
       0, 0, CmdDeadLetterList},
      {"deadletter", "resend", "ID", "xếp lại một thư chết vào hàng gửi (outbox.resend)", "queue one dead letter again (outbox.resend)",
       {}, 1, 1, CmdDeadLetterResend},
      {"reconcile", "", "[--timeout S]",
       "đối soát với Cổng (TraCuuHoSo): khởi động các bộ gửi của plugin, chờ xong (mặc định 120 s), dừng (outbox.reconcile)",
       "reconcile with the portal (TraCuuHoSo): start the plugin's senders, wait until done (default 120 s), stop (outbox.reconcile)",
       {kTimeout}, 0, 0, CmdReconcile},
      {"mappings", "list", "", "ánh xạ mã đơn vị và thủ tục đang dùng (outbox.mappings.get)",
       "the unit and procedure code mappings in force (outbox.mappings.get)", {}, 0, 0, CmdMappingsList},
      {"mappings", "set", "[--unit HOST=PORTAL]... [--procedure HOST=NATIONAL]... [--file F.json] [--replace]",
       "đặt ánh xạ (gộp vào ánh xạ đang dùng, trừ khi --replace) và gửi lại hồ sơ đang giữ (outbox.mappings.set)",
       "set mappings (merged into those in force unless --replace) and release held records (outbox.mappings.set)",
       {{"--unit", true, true, "MÃ_ĐƠN_VỊ=MÃ_TRÊN_CỔNG", "HOST_UNIT=PORTAL_CODE"},
        {"--procedure", true, true, "MÃ_THỦ_TỤC=MÃ_TTHC_QUỐC_GIA", "HOST_PROCEDURE=NATIONAL_CODE"},
        {"--file", true, false, "tệp JSON {\"units\":{...},\"procedures\":{...}}", "JSON file {\"units\":{...},\"procedures\":{...}}"},
        {"--replace", false, false, "thay toàn bộ thay vì gộp", "replace everything instead of merging"}},
       0, 0, CmdMappingsSet},
      {"retag", "", "[--rules PATH] [--timeout S]",
       "nạp lại tệp quy tắc và gắn nhãn lại mọi bản ghi, có thanh tiến độ (tagging.reload, progress, tagging.status)",
       "reload the rule file and re-tag every record, with a progress bar (tagging.reload, progress, tagging.status)",
       {{"--rules", true, false, "tệp quy tắc (mặc định: tệp trong cấu hình)", "rule file (default: the configured one)"},
        {"--timeout", true, false, "chờ tối đa (giây, mặc định 600)", "wait at most (seconds, default 600)"}},
       0, 0, CmdRetag},
      {"review", "list", "[--unit U] [--limit N] [--decided]", "đơn thư đọc chưa chắc chờ rà soát (tags.review list)",
       "letters whose reading is unsure, waiting for review (tags.review list)",
       {kUnit, {"--limit", true, false, "số dòng (mặc định 100)", "rows (default 100)"},
        {"--decided", false, false, "các quyết định đã lưu", "the stored decisions"}},
       0, 0, CmdReviewList},
      {"review", "confirm", "--source S --kind K --id I --by NAME [--why TEXT]", "xác nhận kết quả đọc đơn (tags.review confirm)",
       "confirm a letter's reading (tags.review confirm)", {kKey[0], kKey[1], kKey[2], kKey[3], kKey[4]}, 0, 0, CmdReviewConfirm},
      {"review", "correct",
       "--source S --kind K --id I --by NAME --why TEXT [--set-kind K] [--secondary a,b] [--flag NAME=true|false]...",
       "sửa kết quả đọc đơn (tags.review correct)", "correct a letter's reading (tags.review correct)",
       {kKey[0], kKey[1], kKey[2], kKey[3], kKey[4],
        {"--set-kind", true, false, "loại đơn đúng: complaint, denunciation, petition, feedback", "the right kind: complaint, denunciation, petition, feedback"},
        {"--secondary", true, false, "loại phụ, cách nhau bởi dấu phẩy", "secondary kinds, comma-separated"},
        {"--flag", true, true, "cờ: complex, group, staff_conduct, anonymous, reraised = true|false", "flag: complex, group, staff_conduct, anonymous, reraised = true|false"}},
       0, 0, CmdReviewCorrect},
      {"indicators", "", "--unit U --period P [--ids a,b]", "các chỉ số của một đơn vị trong kỳ (indicators)",
       "a unit's indicators for a period (indicators)",
       {kUnit, kPeriod, {"--ids", true, false, "chỉ các chỉ số này (cách nhau bởi dấu phẩy)", "only these indicators (comma-separated)"}},
       0, 0, CmdIndicators},
      {"score", "", "--period P [--unit U] [--rubric R]", "chấm điểm và xếp hạng các đơn vị (score)", "score and rank units (score)",
       {kPeriod, kUnit, kRubric}, 0, 0, CmdScore},
      {"manual-entry", "",
       "--unit U --period P --criterion C --assessor self|superior --score X (--evidence TEXT | --document REF) --by NAME [--rubric R] | --list --period P [--unit U]",
       "nhập điểm chấm tay cho một tiêu chí, hoặc liệt kê (score.manual, score.manual.list)",
       "enter a hand-made score for a criterion, or list them (score.manual, score.manual.list)",
       {kUnit, kPeriod, kRubric, {"--criterion", true, false, "mã tiêu chí", "criterion id"},
        {"--assessor", true, false, "self (tự chấm) hoặc superior (cấp trên)", "self or superior"},
        {"--score", true, false, "điểm", "score"},
        {"--evidence", true, false, "ghi chú minh chứng", "evidence note"},
        {"--document", true, false, "số hiệu/đường dẫn văn bản", "document reference"},
        {"--by", true, false, "người nhập", "entered by"},
        {"--list", false, false, "liệt kê điểm chấm tay", "list manual entries"}},
       0, 0, CmdManualEntry},
      {"report", "", "--kind six_month|annual --year Y [--unit U] [--rubric R] [--format json|html|xlsx|csv|all] [--out PATH]",
       "báo cáo 6 tháng / năm (report): json ra màn hình hoặc tệp; html, xlsx, csv, all vào thư mục --out; "
       "thanh tiến độ trên terminal (progress)",
       "the six-month / annual report (report): json to stdout or a file; html, xlsx, csv, all into the --out directory; "
       "a progress bar on a terminal (progress)",
       {{"--kind", true, false, "six_month hoặc annual", "six_month or annual"}, {"--year", true, false, "năm", "year"}, kUnit, kRubric,
        {"--format", true, false, "json (mặc định), html, xlsx, csv, all", "json (default), html, xlsx, csv, all"},
        {"--out", true, false, "tệp (json) hoặc thư mục (các dạng khác)", "file (json) or directory (other formats)"}},
       0, 0, CmdReport},
      {"import", "", "FILE|- [--format jsonl|csv] [--map COLUMN=field[:type]]... [--set field[:type]=VALUE]... [--delimiter C] [--batch N] [--max-wait S]",
       "nhập hàng loạt sự kiện JSONL, hoặc CSV qua ánh xạ cột, theo lô submit_batch, có thanh tiến độ và tổng kết",
       "bulk import of JSONL events, or CSV through a column mapping, in submit_batch batches, with a progress bar and a summary",
       {{"--format", true, false, "jsonl hoặc csv (mặc định theo đuôi tệp)", "jsonl or csv (default: from the file name)"},
        {"--map", true, true, "CSV: CỘT=trường (vd. data.people_count:int; kiểu string|int|number|bool|json)",
         "CSV: COLUMN=field (e.g. data.people_count:int; types string|int|number|bool|json)"},
        {"--set", true, true, "CSV: hằng cho mọi dòng, vd. kind=reception, version:int=1", "CSV: a constant for every row, e.g. kind=reception, version:int=1"},
        {"--delimiter", true, false, "CSV: ký tự phân cách (mặc định ,; \\t cho tab)", "CSV: delimiter (default ,; \\t for tab)"},
        {"--batch", true, false, "sự kiện mỗi lô (1..10000, mặc định 500)", "events per batch (1..10000, default 500)"},
        {"--max-wait", true, false, "chờ tối đa khi plugin bận (retry_later), giây (mặc định 120)", "wait at most while the plugin is busy (retry_later), seconds (default 120)"}},
       1, 1, CmdImport},
      {"verify-log", "", "", "kiểm tra chuỗi băm của nhật ký xuất (exportlog.verify); mã 9 khi có mục bị sửa/xóa",
       "check the export log's hash chain (exportlog.verify); exit 9 when entries were altered or deleted", {}, 0, 0, CmdVerifyLog},
  };
  return kCommands;
}

}  // namespace danvanctl
