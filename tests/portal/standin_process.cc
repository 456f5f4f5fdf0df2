#include "standin_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "portal/http_transport.h"

extern char** environ;

namespace danvan::testing {

StandinProcess::StandinProcess(const std::string& cert, const std::string& key,
                               std::vector<std::string> extra_args, std::vector<std::string> env) {
  char tmpl[] = "/tmp/danvan-standin-err-XXXXXX";
  int efd = mkstemp(tmpl);
  stderr_file_ = tmpl;
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe");
  std::vector<std::string> args = {DANVAN_PORTAL_STANDIN, "--port", "0", "--cert", cert, "--key", key};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, efd, 2);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(efd);
  if (rc != 0) {
    close(out[0]);
    pid_ = -1;
    return;
  }
  // First stdout line = the port.
  std::string line;
  pollfd pfd{out[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos) {
    if (poll(&pfd, 1, 10000) <= 0) break;
    char buf[64];
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  port_ = std::atoi(line.c_str());
}

StandinProcess::~StandinProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 50; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      usleep(100 * 1000);
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  unlink(stderr_file_.c_str());
}

std::string StandinProcess::stderr_text() const {
  std::ifstream in(stderr_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json StandinProcess::Call(const std::string& method, const std::string& path,
                                    const std::string& body) {
  PortalConfig cfg;
  // The control client is not under test and also talks to stand-ins with rogue certificates.
  cfg.insecure_test_only = true;
  cfg.tls.verify = false;
  cfg.keep_alive = false;
  auto t = MakePocoTransport(url(), cfg);
  if (!t.ok()) throw std::runtime_error(t.status().ToString());
  HttpRequest req;
  req.method = method;
  req.path_and_query = path;
  req.body = body;
  TransportResult r = t.value()->Send(req);
  if (!r.ok()) throw std::runtime_error("control " + path + ": " + r.error_message);
  if (r.response.status != 200) {
    throw std::runtime_error("control " + path + ": HTTP " + std::to_string(r.response.status) +
                             " " + r.response.body);
  }
  return nlohmann::json::parse(r.response.body);
}

nlohmann::json StandinProcess::Get(const std::string& path) { return Call("GET", path, ""); }
nlohmann::json StandinProcess::Post(const std::string& path, const nlohmann::json& body) {
  return Call("POST", path, body.dump());
}

}  // namespace danvan::testing
