// Test fixtures for the delivery senders: a temporary directory, throw-away TLS
// certificates made with the openssl command, and the Python SMTP and HTTPS sinks of
// tests/fixtures run as child processes.
#pragma once

#include <boost/json.hpp>

#include <sys/types.h>
#include <chrono>
#include <string>
#include <vector>

#include "core/result.h"
#include "delivery/sender.h"

namespace herald::delivery::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct TestCert {
  std::string cert;  // PEM, self-signed for 127.0.0.1 and localhost: also the CA file
  std::string key;
};
// A fresh P-256 certificate in `dir` named `<name>.pem` and `<name>-key.pem`, valid
// for the names in `san` (openssl's subjectAltName syntax).
TestCert make_cert(const TempDir& dir, const std::string& name, const std::string& san = "IP:127.0.0.1,DNS:localhost");

// A fixture script run with /usr/bin/python3 (or what CMake found); the constructor
// waits for its "PORT <n>" line, the destructor ends it.
class SinkProcess {
 public:
  SinkProcess(const std::string& script, const std::vector<std::string>& args);
  ~SinkProcess();
  SinkProcess(const SinkProcess&) = delete;
  SinkProcess& operator=(const SinkProcess&) = delete;
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// The JSON lines a sink wrote to `path` (none if the file does not exist).
std::vector<boost::json::object> read_records(const std::string& path);

// Sends through `sender` and waits for `done`; a test failure (and an error) on timeout.
Status send_and_wait(Sender& sender, OutboundMessage msg, std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace herald::delivery::testing
