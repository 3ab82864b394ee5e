// Integration harness: starts the real `herald` binary on a free loopback port with a
// temporary data dir, and talks to it over TLS (or plain TCP) like any client would.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace herald::testing {

// A fresh directory under $TMPDIR, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct ProcessResult {
  int exit_code = -1;  // -1: still running or killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs `herald <args>` to completion (for CLI tests); `env` entries are NAME=VALUE.
ProcessResult run_herald(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                         std::chrono::seconds timeout = std::chrono::seconds(30));

// A running `herald serve`.
class Server {
 public:
  struct Options {
    std::vector<std::string> args;  // extra flags
    std::vector<std::string> env;   // extra NAME=VALUE
    bool dev = true;                // --dev (generated certificate, auto-unsealed key service)
    bool tls = true;
    // Without --dev: initialise the key service with one share before the start and give
    // it after, so that the server serves (false: leave it sealed).
    bool unseal = true;
  };
  explicit Server(Options opts);
  Server() : Server(Options{}) {}
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const { return port_; }
  int pid() const { return pid_; }  // for /proc/<pid>/status (memory tests)
  const std::string& data_dir() const { return data_dir_; }
  std::string ca_file() const { return data_dir_ + "/dev-cert.pem"; }
  // The one unseal share of a non-dev server the harness initialised.
  const std::string& share() const { return share_; }
  // Sends a signal and waits up to `timeout` for the exit; returns the exit code, or
  // -1 if the process had to be killed.
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));
  std::string log() const;
  bool running();

 private:
  TempDir dir_;
  std::string data_dir_;
  std::string share_;  // the unseal share of a non-dev server
  int pid_ = -1;
  std::uint16_t port_ = 0;
  std::string log_path_;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct TlsOptions {
  std::string ca_file;  // trust anchor; empty: no verification
  int min_version = 0;  // e.g. TLS1_2_VERSION; 0 = library default
  int max_version = 0;
  std::string cipher_list;            // TLS <= 1.2 ciphers to offer; empty = default
  bool lower_security_level = false;  // allow what OpenSSL's defaults refuse (for attack tests)
};

// One client connection, TLS or plain, with blocking I/O and a deadline per call.
class Connection {
 public:
  // Connects and, for TLS, handshakes; throws std::runtime_error on failure.
  static std::unique_ptr<Connection> open(std::uint16_t port, bool tls, const TlsOptions& opts = {});
  // Connects TCP only (no handshake), for tests of what the server does to silent peers.
  static std::unique_ptr<Connection> open_tcp(std::uint16_t port);
  // As open(), from another loopback source address (e.g. "127.0.0.2"): a second client
  // host as far as the server can tell. TLS handshakes unless `tls` is false.
  static std::unique_ptr<Connection> open_from(const std::string& source, std::uint16_t port, bool tls,
                                               const TlsOptions& opts = {});
  virtual ~Connection() = default;

  virtual void write(const std::string& bytes) = 0;
  // Reads what is available, waiting up to `timeout`; empty string on EOF; throws
  // std::runtime_error("timeout") when nothing arrives in time.
  virtual std::string read_some(std::chrono::milliseconds timeout) = 0;
  // True if the server closed the connection within `timeout` (EOF or reset).
  bool wait_closed(std::chrono::milliseconds timeout);
  // Writes a request and reads one response (Content-Length bodies).
  HttpResponse request(const std::string& raw, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  virtual std::string tls_version() const { return {}; }
  virtual std::string tls_cipher() const { return {}; }
  // Bytes read but not yet consumed by request() or ws_read().
  std::string& buffer() { return pending_; }

 protected:
  std::string pending_;
};

// GET (or another method) over a fresh TLS connection trusting the dev certificate.
HttpResponse https(const Server& s, const std::string& method, const std::string& target,
                   const std::map<std::string, std::string>& headers = {}, const std::string& body = {});

// Parses one HTTP/1.1 response from `buf`; returns nullopt until it is complete.
std::optional<HttpResponse> parse_response(std::string& buf);

// A minimal RFC 6455 client over a Connection, written from the RFC, independent of
// the server's WebSocket code.
struct WsFrame {
  int opcode = 0;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong
  std::string payload;
  int close_code() const {
    return payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1])
                               : 0;
  }
};
// Sends the upgrade request for `path`; returns the server's response (101 on success).
HttpResponse ws_upgrade(Connection& c, const std::string& path);
void ws_send(Connection& c, int opcode, const std::string& payload);
// Next frame, or nullopt if none arrives within `timeout`; throws on EOF.
std::optional<WsFrame> ws_read(Connection& c, std::chrono::milliseconds timeout);

// The whole file at `path` (empty when it cannot be read).
std::string slurp(const std::string& path);
// The admin token a server wrote to <data_dir>/admin.token (its first line).
std::string admin_token(const Server& s);
// The development app a --dev server wrote to <data_dir>/dev-app.json.
struct DevApp {
  std::string id, key, secret, client_secret;
};
DevApp dev_app(const Server& s);

// base64url without padding (RFC 4648 section 5).
std::string b64url(std::string_view in);
// An HS256 client token for `user`, valid for ten minutes, made from RFC 7515 with
// OpenSSL's HMAC rather than with Herald's code; `extra_claims` (",\"k\":v...") is
// appended to the claims object.
std::string client_token(const std::string& secret, const std::string& user, const std::string& extra_claims = "");

// The value of the first sample of `metric` (full name with labels) in a /metrics body.
std::optional<double> metric_value(const std::string& metrics_body, const std::string& sample);

}  // namespace herald::testing
