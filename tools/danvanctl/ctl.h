// danvanctl internals: the run context (library, handle, output mode), exit codes and the
// command table. main.cc parses the command line; commands.cc implements the commands.
//
// Threading: single-threaded, except the plugin's log callback (any plugin thread), which only
// writes whole lines to stderr.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "danvan.hpp"

namespace danvanctl {

using json = nlohmann::json;

// Exit codes (stable; README "danvanctl").
enum Exit : int {
  kOk = 0,
  kFailed = 1,         // the plugin refused or failed the operation (its errors are printed)
  kUsage = 2,          // unknown command or option, bad argument, unreadable input file
  kLibrary = 3,        // libdanvan.so not loadable, or its ABI refused
  kConfigInvalid = 4,  // the configuration file is unreadable or invalid (every error, with its path)
  kStoreLocked = 5,    // the store is open in another handle (a running host): store.locked
  kOpenFailed = 6,     // open failed otherwise (storage), or the store does not exist
  kNotFound = 7,       // what the command names does not exist (NOT_FOUND)
  kBusy = 8,           // RETRY_LATER, or the wait for a background job passed --timeout
  kFindings = 9,       // done, with findings: rejected import lines, a broken export-log chain
};

struct OptSpec {
  const char* name;  // "--limit"
  bool value;        // takes a value
  bool repeat;       // may be given more than once
  const char* vi;
  const char* en;
};

struct Args {
  std::map<std::string, std::vector<std::string>> opts;
  std::vector<std::string> pos;
  bool Has(const std::string& n) const { return opts.count(n) > 0; }
  std::string Get(const std::string& n, const std::string& def = "") const {
    auto it = opts.find(n);
    return it == opts.end() || it->second.empty() ? def : it->second.back();
  }
  std::vector<std::string> All(const std::string& n) const {
    auto it = opts.find(n);
    return it == opts.end() ? std::vector<std::string>{} : it->second;
  }
};

struct Global {
  std::string lib;
  std::string config;
  bool json = false;
  bool quiet = false;
  int log_level = DANVAN_LOG_WARN;
  // Who runs the command, for the plugin's audit trail (--actor; default "danvanctl:<login>").
  // Added as "actor" to the administrative ops that carry no "by" of their own.
  std::string actor;
};

class Ctx {
 public:
  Global g;
  std::string config_text;  // the configuration file as read

  // Reads the configuration file (exit code on failure, message printed).
  int ReadConfig();
  // Loads the library and opens the plugin state named by the configuration. `may_create`:
  // the command may create the store when it does not exist yet (validate, import); other
  // commands refuse a missing store instead of creating an empty one. Prints what failed.
  int Open(bool may_create);
  // Starts the plugin's threads (exporters, scheduler); Stop() stops them, bounded.
  int Start();
  void Stop();
  // Runs a query. On failure prints the plugin's errors (and, with --json, the error document
  // on stdout) and returns nullopt with *exit set. *raw: the answer as the plugin wrote it.
  std::optional<json> Query(const json& req, int* exit, std::string* raw = nullptr);
  danvan::Plugin& plugin() { return *plugin_; }
  void Close();

 private:
  std::unique_ptr<danvan::Library> lib_;
  std::unique_ptr<danvan::Plugin> plugin_;
};

// Exit code of a failed call, and its errors printed on stderr (message in the language in
// force, each with its JSON path).
int ExitFor(const danvan::Error& e, bool at_open);
void PrintErrorDocument(const std::string& document);

struct Command {
  const char* name;
  const char* sub;        // "" when the command has no subcommand
  const char* synopsis;   // arguments after the command, e.g. "--unit U --period P"
  const char* vi;
  const char* en;
  std::vector<OptSpec> opts;
  size_t min_pos, max_pos;  // positional arguments after the command (and subcommand)
  int (*run)(Ctx&, const Args&);
};
const std::vector<Command>& Commands();

// Prints a usage error (stderr) and returns kUsage.
int UsageError(const std::string& vi, const std::string& en);

}  // namespace danvanctl
