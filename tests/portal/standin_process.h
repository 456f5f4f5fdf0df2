// Runs danvan-portal-standin as a child process (posix_spawn) on an ephemeral port and talks
// to its control API over HTTPS.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

namespace danvan::testing {

class StandinProcess {
 public:
  // extra_args are appended to --port 0 --cert --key; env entries "K=V" are added.
  StandinProcess(const std::string& cert, const std::string& key,
                 std::vector<std::string> extra_args = {}, std::vector<std::string> env = {});
  ~StandinProcess();
  StandinProcess(const StandinProcess&) = delete;
  StandinProcess& operator=(const StandinProcess&) = delete;

  bool started() const { return port_ > 0; }
  int port() const { return port_; }
  std::string url() const { return "https://localhost:" + std::to_string(port_); }
  std::string stderr_text() const;

  // Control API (certificate verification off: the control client is not under test).
  nlohmann::json Get(const std::string& path);
  nlohmann::json Post(const std::string& path, const nlohmann::json& body);
  void Reset() { Post("/_control/reset", nlohmann::json::object()); }
  void Faults(const nlohmann::json& f) { Post("/_control/faults", f); }
  nlohmann::json Received() { return Get("/_control/received"); }
  nlohmann::json Stats() { return Get("/_control/stats"); }

 private:
  nlohmann::json Call(const std::string& method, const std::string& path, const std::string& body);
  pid_t pid_ = -1;
  int port_ = 0;
  std::string stderr_file_;
};

}  // namespace danvan::testing
