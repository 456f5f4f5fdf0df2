// Helpers for engine tests: a temporary directory and an engine on a real SQLite file, or on a
// real PostgreSQL server (DANVAN_TEST_ENGINE=postgres).
#pragma once

#include <filesystem>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace danvan::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// True when the tests run on PostgreSQL (DANVAN_TEST_ENGINE=postgres, set by the ctest entries
// labelled "postgres"; the server is scripts/pg-test-server.sh's, named by DANVAN_TEST_PG_STATE).
bool UsingPostgres();
// The connection string of the test database for the store path `db` (created on first use;
// the same path gives the same database), and the file holding the server's password.
std::string PgConninfoFor(const std::filesystem::path& db);
std::string PgPasswordFile();
std::string PgPassword();

// SQL on the store at `db`, whichever the engine (statements both dialects read alike; a test
// of a SQLite-only matter skips itself on PostgreSQL with GTEST_SKIP). Throw on error.
void ExecStoreSql(const std::filesystem::path& db, const std::string& sql);
std::string QueryStoreText(const std::filesystem::path& db, const std::string& sql);  // first row, column
int64_t QueryStoreInt(const std::filesystem::path& db, const std::string& sql);
// Every row, each column as text ("" for NULL).
std::vector<std::vector<std::string>> QueryStoreRows(const std::filesystem::path& db, const std::string& sql);
// The SQL expression reading text field `field` of the JSON object in `column`, in the dialect
// of the engine under test (json_extract on SQLite, ->> on PostgreSQL).
std::string StoreJsonText(const std::string& column, const std::string& field);

// A configuration on a store at `db`: SQLite, or PostgreSQL when UsingPostgres().
std::string ConfigFor(const std::filesystem::path& db, nlohmann::json extra = nlohmann::json::object());
std::unique_ptr<Engine> OpenEngine(const std::string& config_text,
                                   std::shared_ptr<Clock> clock = nullptr);

// A realistic dossier event (portal item) for tests.
nlohmann::json DossierEvent(const std::string& id, int version, const std::string& status,
                            const std::string& unit = "SGDDT.VP");
nlohmann::json PetitionEvent(const std::string& id, int version, const std::string& status,
                             const std::string& unit = "SGDDT.TTRA");

}  // namespace danvan::testing
