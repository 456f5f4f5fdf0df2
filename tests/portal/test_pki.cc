#include "test_pki.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>

namespace danvan::testing {
namespace {

void Run(const std::string& cmd) {
  std::string full = cmd + " >/dev/null 2>&1";
  if (std::system(full.c_str()) != 0) {
    std::cerr << "test PKI: command failed: " << cmd << std::endl;
    std::abort();
  }
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Key + CSR + certificate signed by ca, with the given extensions.
void Issue(const std::string& dir, const std::string& name, const std::string& subject,
           const std::string& ext, const std::string& ca, const std::string& ca_key) {
  Write(dir + "/" + name + ".ext", ext);
  Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + dir + "/" + name + ".key -out " + dir +
      "/" + name + ".csr -subj '" + subject + "'");
  Run("openssl x509 -req -in " + dir + "/" + name + ".csr -CA " + ca + " -CAkey " + ca_key +
      " -CAcreateserial -out " + dir + "/" + name + ".pem -days 2 -sha256 -extfile " + dir + "/" +
      name + ".ext");
}

TestPki Make() {
  char tmpl[] = "/tmp/danvan-portal-pki-XXXXXX";
  TestPki p;
  p.dir = mkdtemp(tmpl);
  const std::string& d = p.dir;
  Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + d + "/ca.key -out " + d +
      "/ca.pem -days 2 -sha256 -subj '/CN=danvan test CA' -addext basicConstraints=critical,CA:TRUE"
      " -addext keyUsage=critical,keyCertSign,cRLSign");
  Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + d + "/rogue.key -out " + d +
      "/rogue.pem -days 2 -sha256 -subj '/CN=rogue CA' -addext basicConstraints=critical,CA:TRUE"
      " -addext keyUsage=critical,keyCertSign,cRLSign");
  const std::string server_ext =
      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n";
  Issue(d, "server", "/CN=localhost", server_ext, d + "/ca.pem", d + "/ca.key");
  Issue(d, "rogue-server", "/CN=localhost", server_ext, d + "/rogue.pem", d + "/rogue.key");
  Issue(d, "wrong-host", "/CN=portal.example.vn",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:portal.example.vn\n",
        d + "/ca.pem", d + "/ca.key");
  Issue(d, "client", "/CN=danvan-sender/O=So Giao duc va Dao tao Hai Phong",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
        d + "/ca.pem", d + "/ca.key");
  p.ca_cert = d + "/ca.pem";
  p.server_cert = d + "/server.pem";
  p.server_key = d + "/server.key";
  p.wrong_host_cert = d + "/wrong-host.pem";
  p.wrong_host_key = d + "/wrong-host.key";
  p.client_cert = d + "/client.pem";
  p.client_key = d + "/client.key";
  p.rogue_ca_cert = d + "/rogue.pem";
  p.rogue_server_cert = d + "/rogue-server.pem";
  p.rogue_server_key = d + "/rogue-server.key";
  return p;
}

}  // namespace

const TestPki& GetTestPki() {
  // Removes the temporary directory at exit.
  struct Holder {
    TestPki pki;
    ~Holder() {
      std::error_code ec;
      if (!pki.dir.empty()) std::filesystem::remove_all(pki.dir, ec);
    }
  };
  static std::once_flag once;
  static Holder holder;
  std::call_once(once, [] { holder.pki = Make(); });
  return holder.pki;
}

}  // namespace danvan::testing
