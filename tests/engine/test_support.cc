#include "engine/test_support.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

namespace danvan::testing {

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("danvan-test-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool UsingPostgres() {
  const char* e = std::getenv("DANVAN_TEST_ENGINE");
  return e != nullptr && std::string(e) == "postgres";
}

namespace {

std::string ReadLine(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  return line;
}

std::filesystem::path PgServerDir() {
  const char* state = std::getenv("DANVAN_TEST_PG_STATE");
  if (!state) throw std::runtime_error("DANVAN_TEST_ENGINE=postgres needs DANVAN_TEST_PG_STATE (scripts/pg-test-server.sh)");
  return ReadLine(state);
}

}  // namespace

std::string PgPasswordFile() { return (PgServerDir() / "password").string(); }

std::string PgPassword() { return ReadLine(PgServerDir() / "password"); }

std::string PgConninfoFor(const std::filesystem::path& db) {
  // Made once per path and process (each one costs two connections to the server).
  static std::mutex mu;
  static std::map<std::string, std::string> made;
  std::lock_guard lock(mu);
  if (auto it = made.find(db.string()); it != made.end()) return it->second;
  const auto dir = PgServerDir();
  const std::string admin = ReadLine(dir / "conninfo");
  const std::string password = ReadLine(dir / "password");
  // One database per store path: opening the same path again opens the same database.
  std::ostringstream name;
  name << "t_" << std::hex << std::hash<std::string>()(db.string());
  const char* keys[] = {"dbname", "password", nullptr};
  const char* values[] = {admin.c_str(), password.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, values, 1);
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("test PostgreSQL server: " + msg);
  }
  PGresult* r = PQexec(c, ("SELECT 1 FROM pg_database WHERE datname='" + name.str() + "'").c_str());
  const bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
  PQclear(r);
  if (!exists) {
    r = PQexec(c, ("CREATE DATABASE " + name.str() + " TEMPLATE template0 STRATEGY FILE_COPY").c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    if (!ok && msg.find("already exists") == std::string::npos) {
      PQfinish(c);
      throw std::runtime_error("CREATE DATABASE " + name.str() + ": " + msg);
    }
  }
  PQfinish(c);
  std::string conninfo = admin;
  const auto at = conninfo.find("dbname=postgres");
  if (at != std::string::npos) conninfo.replace(at, 15, "dbname=" + name.str());
  made[db.string()] = conninfo;
  return conninfo;
}

namespace {

// Runs `sql` on the store at `db` (SQLite file or the test database named after it) and
// returns every row, each column as text ("" for NULL). Throws on error.
std::vector<std::vector<std::string>> RunSql(const std::filesystem::path& db, const std::string& sql) {
  std::vector<std::vector<std::string>> out;
  if (UsingPostgres()) {
    const std::string conninfo = PgConninfoFor(db);
    // One connection per database, kept for the process (an oracle runs hundreds of queries;
    // a scram-sha-256 log-in each time dominated the test's run time). Serialised by `mu`.
    static std::mutex mu;
    static std::map<std::string, PGconn*> conns;
    std::lock_guard lock(mu);
    PGconn*& c = conns[conninfo];
    if (c == nullptr || PQstatus(c) != CONNECTION_OK) {
      if (c) PQfinish(c);
      const std::string password = ReadLine(PgServerDir() / "password");
      const char* keys[] = {"dbname", "password", nullptr};
      const char* values[] = {conninfo.c_str(), password.c_str(), nullptr};
      c = PQconnectdbParams(keys, values, 1);
    }
    PGresult* r = PQexec(c, sql.c_str());
    const auto st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      std::string msg = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error(sql + ": " + msg);
    }
    for (int i = 0; i < PQntuples(r); ++i) {
      std::vector<std::string> row;
      for (int c = 0; c < PQnfields(r); ++c) row.push_back(PQgetvalue(r, i, c));
      out.push_back(std::move(row));
    }
    PQclear(r);
    return out;
  }
  sqlite3* h = nullptr;
  if (sqlite3_open(db.c_str(), &h) != SQLITE_OK) throw std::runtime_error("open " + db.string());
  sqlite3_busy_timeout(h, 10000);
  const char* tail = sql.c_str();
  while (tail && *tail) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, tail, -1, &st, &tail) != SQLITE_OK) {
      std::string msg = sqlite3_errmsg(h);
      sqlite3_close(h);
      throw std::runtime_error(sql + ": " + msg);
    }
    if (!st) break;  // trailing whitespace
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const auto* t = sqlite3_column_text(st, c);
        row.push_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
      std::string msg = sqlite3_errmsg(h);
      sqlite3_close(h);
      throw std::runtime_error(sql + ": " + msg);
    }
  }
  sqlite3_close(h);
  return out;
}

}  // namespace

void ExecStoreSql(const std::filesystem::path& db, const std::string& sql) { RunSql(db, sql); }

std::string QueryStoreText(const std::filesystem::path& db, const std::string& sql) {
  auto rows = RunSql(db, sql);
  return rows.empty() || rows[0].empty() ? std::string() : rows[0][0];
}

std::vector<std::vector<std::string>> QueryStoreRows(const std::filesystem::path& db, const std::string& sql) {
  return RunSql(db, sql);
}

std::string StoreJsonText(const std::string& column, const std::string& field) {
  return UsingPostgres() ? "(" + column + "::jsonb ->> '" + field + "')"
                         : "json_extract(" + column + ", '$." + field + "')";
}

int64_t QueryStoreInt(const std::filesystem::path& db, const std::string& sql) {
  auto v = QueryStoreText(db, sql);
  return v.empty() ? 0 : std::stoll(v);
}

std::string ConfigFor(const std::filesystem::path& db, nlohmann::json extra) {
  nlohmann::json c = {{"storage", {{"engine", "sqlite"}, {"path", db.string()}}},
                      {"schemas_dir", std::string(DANVAN_SOURCE_ROOT) + "/schemas"},
                      {"config_dir", std::string(DANVAN_SOURCE_ROOT) + "/config"}};
  if (UsingPostgres()) {
    // DANVAN_TEST_ENGINE=postgres (ctest -L postgres): the same test on the test server. The
    // path stays (reports are written beside it); the database is named after it.
    c["storage"]["engine"] = "postgres";
    c["storage"]["postgres"] = {{"conninfo", PgConninfoFor(db)}, {"password_file", PgPasswordFile()}};
  }
  c.update(extra, true);
  return c.dump();
}

std::unique_ptr<Engine> OpenEngine(const std::string& config_text, std::shared_ptr<Clock> clock) {
  auto cfg = ParseEngineConfig(config_text);
  if (!cfg.ok()) throw std::runtime_error(cfg.status().ToString());
  HostHooks hooks;
  hooks.clock = clock;
  auto e = Engine::Open(cfg.value(), std::move(hooks));
  if (!e.ok()) throw std::runtime_error(e.status().ToString());
  return std::move(e).value();
}

nlohmann::json DossierEvent(const std::string& id, int version, const std::string& status,
                            const std::string& unit) {
  return {{"kind", "dossier"},
          {"source", "motcua-hp"},
          {"id", id},
          {"unit", unit},
          {"version", version},
          {"event_time", "2023-03-0" + std::to_string(1 + version % 8) + "T09:00:00+07:00"},
          {"data",
           {{"MaHoSo", id},
            {"MaTTHC", "1.005090"},
            {"TenTTHC", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"},
            {"KenhThucHien", "2"},
            {"ChuHoSo", "Nguyễn Văn An"},
            {"SoDienThoai", "0912345678"},
            {"NgayTiepNhan", "20230301083000"},
            {"NgayHenTra", "20230306170000"},
            {"TrangThaiHoSo", status},
            {"NgayKetThucXuLy", ""}}}};
}

nlohmann::json PetitionEvent(const std::string& id, int version, const std::string& status,
                             const std::string& unit) {
  return {{"kind", "petition"},
          {"source", "motcua-hp"},
          {"id", id},
          {"unit", unit},
          {"version", version},
          {"event_time", "2023-04-03T10:00:00+07:00"},
          {"data",
           {{"petition_kind", "complaint"},
            {"round", 1},
            {"title", "Khiếu nại về việc thu tiền dạy thêm"},
            {"content", "Tôi khiếu nại việc nhà trường thu tiền học thêm trái quy định."},
            {"received_at", "2023-04-03"},
            {"status", status}}}};
}

}  // namespace danvan::testing
