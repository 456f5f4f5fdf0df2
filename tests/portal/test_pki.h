// Test PKI made at test time with the openssl CLI in a temporary directory: a test CA, a
// server certificate for localhost/127.0.0.1 signed by it, a client certificate signed by it,
// a server certificate for another host name signed by it, and a rogue CA with a localhost
// certificate the client must not trust.
#pragma once

#include <string>

namespace danvan::testing {

struct TestPki {
  std::string dir;
  std::string ca_cert;
  std::string server_cert, server_key;
  std::string wrong_host_cert, wrong_host_key;
  std::string client_cert, client_key;
  std::string rogue_ca_cert, rogue_server_cert, rogue_server_key;
};

// Created once per process (thread-safe); aborts the test binary if openssl fails.
const TestPki& GetTestPki();

}  // namespace danvan::testing
