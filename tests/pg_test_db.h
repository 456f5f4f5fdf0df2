// For test hosts that load libdanvan.so through dlopen and link neither libpq nor the plugin's
// internals (hostile_test, crash_test): on DANVAN_TEST_ENGINE=postgres (ctest -L postgres) the
// storage section of a fresh database on the test server of scripts/pg-test-server.sh (named by
// DANVAN_TEST_PG_STATE), made with the server's createdb. Test-only; throws on failure.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace danvan::testing {

inline bool PgTestEngine() {
  const char* e = std::getenv("DANVAN_TEST_ENGINE");
  return e != nullptr && std::string(e) == "postgres";
}

inline std::string PgFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// storage.engine "postgres" on a database made for `key` (once per process; dropped first if a
// previous run left it).
inline nlohmann::json PgStorageFor(const std::string& key) {
  const char* state = std::getenv("DANVAN_TEST_PG_STATE");
  if (!state) throw std::runtime_error("DANVAN_TEST_ENGINE=postgres needs DANVAN_TEST_PG_STATE");
  const std::string server = PgFirstLine(state);
  const std::string admin = PgFirstLine(server + "/conninfo");
  const std::string name = "h_" + std::to_string(std::hash<std::string>()(key) % 100000000000ULL);
  static std::vector<std::string> made;
  if (std::find(made.begin(), made.end(), name) == made.end()) {
    setenv("PGPASSWORD", PgFirstLine(server + "/password").c_str(), 1);
    const std::string bin = "/usr/lib/postgresql/15/bin/";
    const std::string cmd = bin + "dropdb --if-exists --maintenance-db='" + admin + "' " + name + " >/dev/null 2>&1; " + bin +
                            "createdb --maintenance-db='" + admin + "' " + name;
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("createdb failed: " + cmd);
    made.push_back(name);
  }
  std::string conninfo = admin;
  const auto at = conninfo.find("dbname=postgres");
  if (at == std::string::npos) throw std::runtime_error("unexpected test conninfo: " + admin);
  conninfo.replace(at, 15, "dbname=" + name);
  return {{"engine", "postgres"},
          {"postgres", {{"conninfo", conninfo}, {"password_file", server + "/password"}}}};
}

}  // namespace danvan::testing
