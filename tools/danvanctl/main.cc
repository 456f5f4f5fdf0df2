// danvanctl: the administrator's command line for libdanvan (issue 15). It loads the plugin
// with dlopen through the public C ABI exactly as a host does (kits/cpp/danvan.hpp), opens the
// plugin state named by a configuration file, runs one administrative command and closes.
//
//   danvanctl [--lib PATH] --config FILE [--json] [--quiet] [--log-level L] COMMAND [SUB] [ARGS]
//   danvanctl COMMAND --help
//
// A store is owned by one handle at a time (plugin/core/store_lock.h): while a host holds it,
// danvanctl exits 5 (store.locked) naming the holder. Exit codes: ctl.h / README "danvanctl".
// Messages are Vietnamese, English when LC_ALL / LC_MESSAGES / LANG starts with "en".
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "ctl.h"
#include "term.h"

namespace danvanctl {
namespace {

const OptSpec kGlobalOpts[] = {
    {"--lib", true, false, "đường dẫn libdanvan.so (mặc định: biến DANVAN_LIB, rồi libdanvan.so.1 theo đường tìm thư viện)",
     "path of libdanvan.so (default: $DANVAN_LIB, then libdanvan.so.1 from the library search path)"},
    {"--config", true, false, "tệp cấu hình của plugin (mặc định: biến DANVAN_CONFIG)",
     "the plugin configuration file (default: $DANVAN_CONFIG)"},
    {"--json", false, false, "in nguyên câu trả lời JSON của plugin (cho script)",
     "print the plugin's raw JSON answer (for scripts)"},
    {"--quiet", false, false, "không in thanh tiến độ và nhật ký của plugin", "no progress bar, no plugin log lines"},
    {"--log-level", true, false, "mức nhật ký của plugin in ra stderr: trace|debug|info|warn|error (mặc định warn)",
     "plugin log lines shown on stderr: trace|debug|info|warn|error (default warn)"},
    {"--actor", true, false, "người thực hiện, ghi vào nhật ký kiểm toán (mặc định danvanctl:<tên đăng nhập>)",
     "who runs the command, written to the audit trail (default danvanctl:<login name>)"},
    {"--help", false, false, "hướng dẫn", "help"},
};

std::string CommandName(const Command& c) {
  return std::string(c.name) + (*c.sub ? std::string(" ") + c.sub : "");
}

void PrintGlobalHelp(FILE* out) {
  std::fprintf(out, "%s\n\n", Tr("danvanctl — công cụ quản trị dòng lệnh của plugin danvan (libdanvan.so)",
                                 "danvanctl — command-line administration of the danvan plugin (libdanvan.so)"));
  std::fprintf(out, "%s: danvanctl [--lib PATH] --config FILE [--json] [--quiet] COMMAND [SUB] [...]\n",
               Tr("Cách dùng", "Usage"));
  std::fprintf(out, "       danvanctl COMMAND [SUB] --help\n\n%s:\n", Tr("Lệnh", "Commands"));
  Table t({Tr("lệnh", "command"), Tr("việc", "what")});
  for (const auto& c : Commands()) t.Add({CommandName(c), Tr(c.vi, c.en)});
  std::fprintf(out, "%s\n%s:\n", t.Render(140).c_str(), Tr("Tùy chọn chung", "Global options"));
  for (const auto& o : kGlobalOpts) std::fprintf(out, "  %-12s %s\n", o.name, Tr(o.vi, o.en));
  std::fprintf(out, "\n%s\n", Tr(
      "Mã thoát: 0 xong; 1 plugin từ chối/thao tác lỗi; 2 sai cú pháp lệnh; 3 không nạp được thư viện/ABI;\n"
      "4 cấu hình không hợp lệ; 5 kho đang bị máy chủ khác giữ (store.locked); 6 không mở được kho;\n"
      "7 không tìm thấy; 8 bận hoặc quá thời gian chờ; 9 xong nhưng có phát hiện (dòng bị từ chối, nhật ký bị sửa).\n"
      "danvanctl mở kho như một máy chủ: khi máy chủ một cửa đang chạy và giữ kho, lệnh thoát mã 5.",
      "Exit codes: 0 done; 1 the plugin refused or failed the operation; 2 usage; 3 library/ABI;\n"
      "4 invalid configuration; 5 store held by another handle (store.locked); 6 store cannot be opened;\n"
      "7 not found; 8 busy or timed out; 9 done with findings (rejected lines, altered log).\n"
      "danvanctl opens the store as a host does: while a running host holds it, it exits 5."));
}

void PrintCommandHelp(const Command& c) {
  std::printf("danvanctl %s %s\n\n%s\n", CommandName(c).c_str(), c.synopsis, Tr(c.vi, c.en));
  if (!c.opts.empty()) {
    std::printf("\n%s:\n", Tr("Tùy chọn", "Options"));
    for (const auto& o : c.opts)
      std::printf("  %-16s %s%s\n", (std::string(o.name) + (o.value ? " X" : "")).c_str(), Tr(o.vi, o.en),
                  o.repeat ? Tr(" (lặp lại được)", " (repeatable)") : "");
  }
  std::printf("\n%s: --lib, --config, --json, --quiet, --log-level (danvanctl --help)\n",
              Tr("Tùy chọn chung", "Global options"));
}

const OptSpec* FindOpt(const std::vector<OptSpec>& opts, const std::string& name) {
  for (const auto& o : opts)
    if (name == o.name) return &o;
  return nullptr;
}

int Main(int argc, char** argv) {
  SetLang(DetectLang());
  Global g;
  if (const char* v = std::getenv("DANVAN_LIB")) g.lib = v;
  if (const char* v = std::getenv("DANVAN_CONFIG")) g.config = v;
  {
    const char* user = std::getenv("USER");
    if (!user || !*user) user = std::getenv("LOGNAME");
    g.actor = std::string("danvanctl:") + (user && *user ? user : std::to_string(getuid()));
  }
  bool help = false;
  std::vector<std::string> rest;
  std::vector<std::string> in(argv + 1, argv + argc);
  // Global options may come anywhere; "--" ends option parsing.
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& a = in[i];
    if (a == "--") {
      for (++i; i < in.size(); ++i) rest.push_back("\x01" + in[i]);  // marked: positional
      break;
    }
    std::string name = a, value;
    bool has_eq = false;
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
      name = a.substr(0, a.find('='));
      value = a.substr(a.find('=') + 1);
      has_eq = true;
    }
    auto take = [&](std::string* out) -> bool {
      if (has_eq) {
        *out = value;
        return true;
      }
      if (i + 1 >= in.size()) return false;
      *out = in[++i];
      return true;
    };
    if (name == "--lib" || name == "--config" || name == "--log-level" || name == "--actor") {
      std::string v;
      if (!take(&v)) return UsageError("thiếu giá trị cho " + name, "missing value for " + name);
      if (name == "--lib") g.lib = v;
      else if (name == "--config") g.config = v;
      else if (name == "--actor") g.actor = v;
      else {
        static const std::map<std::string, int> kLevels = {{"trace", DANVAN_LOG_TRACE}, {"debug", DANVAN_LOG_DEBUG},
                                                           {"info", DANVAN_LOG_INFO}, {"warn", DANVAN_LOG_WARN},
                                                           {"error", DANVAN_LOG_ERROR}};
        auto it = kLevels.find(v);
        if (it == kLevels.end())
          return UsageError("--log-level: cần trace|debug|info|warn|error, nhận được \"" + v + "\"",
                            "--log-level: expected trace|debug|info|warn|error, got \"" + v + "\"");
        g.log_level = it->second;
      }
    } else if (a == "--json") {
      g.json = true;
    } else if (a == "--quiet") {
      g.quiet = true;
    } else if (a == "--help" || a == "-h") {
      help = true;
    } else {
      rest.push_back(a);
    }
  }
  auto positional = [](const std::string& s) { return !s.empty() && (s[0] == '\x01' || s[0] != '-'); };
  auto plain = [](const std::string& s) { return !s.empty() && s[0] == '\x01' ? s.substr(1) : s; };
  if (rest.empty() || (rest[0] == "help" && rest.size() == 1)) {
    PrintGlobalHelp(help || !rest.empty() ? stdout : stderr);
    return help || !rest.empty() ? kOk : kUsage;
  }
  if (rest[0] == "help") {  // "help COMMAND [SUB]" = "COMMAND [SUB] --help"
    rest.erase(rest.begin());
    help = true;
  }
  if (!positional(rest[0]))
    return UsageError("tùy chọn không có: " + rest[0] + " (xem danvanctl --help)",
                      "unknown option: " + rest[0] + " (see danvanctl --help)");
  const std::string name = plain(rest[0]);
  const std::string sub = rest.size() > 1 && positional(rest[1]) ? plain(rest[1]) : "";
  const Command* cmd = nullptr;
  bool has_subs = false;
  for (const auto& c : Commands()) {
    if (name != c.name) continue;
    if (*c.sub) {
      has_subs = true;
      if (sub == c.sub) cmd = &c;
    } else {
      cmd = &c;
    }
  }
  if (!cmd && has_subs) {
    std::string subs;
    for (const auto& c : Commands())
      if (name == c.name) subs += (subs.empty() ? "" : ", ") + std::string(c.sub);
    if (help && sub.empty()) {
      std::printf("danvanctl %s {%s}\n\n", name.c_str(), subs.c_str());
      for (const auto& c : Commands())
        if (name == c.name) std::printf("  %-10s %s\n", c.sub, Tr(c.vi, c.en));
      return kOk;
    }
    return UsageError("lệnh " + name + " cần một trong: " + subs + (sub.empty() ? "" : " (nhận được \"" + sub + "\")"),
                      "command " + name + " needs one of: " + subs + (sub.empty() ? "" : " (got \"" + sub + "\")"));
  }
  if (!cmd)
    return UsageError("lệnh không có: \"" + name + "\" (xem danvanctl --help)",
                      "unknown command: \"" + name + "\" (see danvanctl --help)");
  if (help) {
    PrintCommandHelp(*cmd);
    return kOk;
  }
  // The command's own options and positional arguments.
  Args args;
  for (size_t i = *cmd->sub ? 2 : 1; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (positional(a)) {
      args.pos.push_back(plain(a));
      continue;
    }
    std::string oname = a, value;
    const bool has_eq = a.find('=') != std::string::npos;
    if (has_eq) {
      oname = a.substr(0, a.find('='));
      value = a.substr(a.find('=') + 1);
    }
    const OptSpec* o = FindOpt(cmd->opts, oname);
    if (!o)
      return UsageError("tùy chọn không có cho lệnh " + CommandName(*cmd) + ": " + oname + " (xem --help)",
                        "unknown option for " + CommandName(*cmd) + ": " + oname + " (see --help)");
    if (o->value && !has_eq) {
      if (i + 1 >= rest.size())
        return UsageError("thiếu giá trị cho " + oname, "missing value for " + oname);
      value = plain(rest[++i]);
    } else if (!o->value && has_eq) {
      return UsageError(oname + " không nhận giá trị", oname + " takes no value");
    }
    if (!o->repeat && args.Has(oname))
      return UsageError(oname + " chỉ được cho một lần", oname + " may be given only once");
    args.opts[oname].push_back(value);
  }
  if (args.pos.size() < cmd->min_pos || args.pos.size() > cmd->max_pos)
    return UsageError("số đối số không đúng cho lệnh " + CommandName(*cmd) + ": danvanctl " + CommandName(*cmd) +
                          " " + cmd->synopsis,
                      "wrong number of arguments for " + CommandName(*cmd) + ": danvanctl " + CommandName(*cmd) +
                          " " + cmd->synopsis);
  Ctx ctx;
  ctx.g = g;
  const int rc = cmd->run(ctx, args);
  ctx.Close();
  return rc;
}

}  // namespace
}  // namespace danvanctl

int main(int argc, char** argv) {
  try {
    return danvanctl::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "danvanctl: %s: %s\n", danvanctl::Tr("lỗi nội bộ", "internal error"), e.what());
    return danvanctl::kFailed;
  }
}
