// The harness speaks to the server through plain POSIX sockets and OpenSSL, not
// through Herald's own networking code, so that it checks the server from outside.
#include "harness.h"

#include <boost/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace herald::testing {
namespace {

// A server that closes a connection must show up as a failed write, not kill the
// test process: SSL_write on a socket the peer closed raises SIGPIPE otherwise.
const bool kSigpipeIgnored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Forks and execs herald with stdout+stderr to `log_path`.
int spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& log_path) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    // A clean environment: only what the test gives, plus PATH and TMPDIR, and the
    // sanitizer settings, so that `make tsan-test`'s suppressions and halt_on_error
    // reach the server too.
    std::vector<std::string> sanitizer_env;
    for (const char* name : {"TSAN_OPTIONS", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"})
      if (const char* v = std::getenv(name)) sanitizer_env.push_back(std::string(name) + "=" + v);
    ::clearenv();
    ::setenv("PATH", "/usr/bin:/bin", 1);
    for (auto& e : sanitizer_env) ::putenv(e.data());
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    static std::string bin = HERALD_BINARY;
    argv.push_back(bin.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_exit(int pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int connect_loopback(std::uint16_t port, const std::string& source = {}) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  if (!source.empty()) {  // another loopback address (127.0.0.2, ...): another client host
    sockaddr_in b{};
    b.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source.c_str(), &b.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&b), sizeof b) != 0) {
      ::close(fd);
      throw std::runtime_error("cannot bind to " + source);
    }
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool poll_readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

class PlainConnection : public Connection {
 public:
  explicit PlainConnection(int fd) : fd_(fd) {}
  ~PlainConnection() override { ::close(fd_); }
  void write(const std::string& bytes) override {
    std::size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("write failed");
      off += static_cast<std::size_t>(n);
    }
  }
  std::string read_some(std::chrono::milliseconds timeout) override {
    if (!poll_readable(fd_, timeout)) throw std::runtime_error("timeout");
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return {};
    return std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  int fd_;
};

class TlsConnection : public Connection {
 public:
  TlsConnection(int fd, const TlsOptions& o) : fd_(fd) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (o.lower_security_level) SSL_CTX_set_security_level(ctx_, 0);
    if (o.min_version) SSL_CTX_set_min_proto_version(ctx_, o.min_version);
    if (o.max_version) SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    if (!o.cipher_list.empty()) SSL_CTX_set_cipher_list(ctx_, o.cipher_list.c_str());
    if (!o.ca_file.empty()) {
      SSL_CTX_load_verify_locations(ctx_, o.ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (!o.ca_file.empty()) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (SSL_connect(ssl_) != 1) {
      unsigned long e = ERR_get_error();
      char buf[256] = "handshake failed";
      if (e) ERR_error_string_n(e, buf, sizeof buf);
      ERR_clear_error();
      // The destructor does not run when the constructor throws; the caller closes fd_.
      SSL_free(ssl_);
      SSL_CTX_free(ctx_);
      throw std::runtime_error(std::string("TLS handshake failed: ") + buf);
    }
  }
  ~TlsConnection() override {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  void write(const std::string& bytes) override {
    if (bytes.empty()) return;
    if (SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) <= 0) {
      ERR_clear_error();
      throw std::runtime_error("write failed");
    }
  }
  std::string read_some(std::chrono::milliseconds timeout) override {
    if (SSL_pending(ssl_) == 0 && !poll_readable(fd_, timeout)) throw std::runtime_error("timeout");
    char buf[16384];
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) {
      ERR_clear_error();
      return {};
    }
    return std::string(buf, static_cast<std::size_t>(n));
  }
  std::string tls_version() const override { return SSL_get_version(ssl_); }
  std::string tls_cipher() const override { return SSL_get_cipher_name(ssl_); }

 private:
  int fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/herald-test-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ProcessResult run_herald(const std::vector<std::string>& args, const std::vector<std::string>& env,
                         std::chrono::seconds timeout) {
  TempDir dir;
  std::string log = dir.path() + "/out.log";
  int pid = spawn(args, env, log);
  ProcessResult r;
  r.exit_code = wait_exit(pid, timeout);
  r.output = read_file(log);
  return r;
}

Server::Server(Options opts) {
  log_path_ = dir_.path() + "/server.log";
  data_dir_ = dir_.path();
  for (const auto& a : opts.args)  // a test may point the server at a data dir of its own
    if (a.rfind("--store.data_dir=", 0) == 0) data_dir_ = a.substr(17);
  if (!opts.dev && opts.unseal) {
    std::vector<std::string> init_args{"operator", "init",        "--data-dir", data_dir_, "--shares",
                                       "1",        "--threshold", "1",          "--json"};
    // A node on PostgreSQL initialises the key service in the database (its URL is in env).
    for (const auto& a : opts.args)
      if (a.rfind("--store.driver=", 0) == 0 || a.rfind("--store.postgres.url=", 0) == 0) init_args.push_back(a);
    auto init = run_herald(init_args, opts.env);
    auto at = init.output.find("\"share_values\":[\"");
    if (at != std::string::npos) {
      at += 17;
      share_ = init.output.substr(at, init.output.find('"', at) - at);
    } else if (init.output.find("already_initialized") == std::string::npos &&
               init.output.find("initialised already") == std::string::npos) {
      throw std::runtime_error("herald operator init failed:\n" + init.output);
    }
  }
  std::vector<std::string> args{"serve", "--store.data_dir=" + dir_.path(), "--server.port=0", "--log.format=json"};
  if (opts.dev) args.push_back("--dev");
  // These tests send nothing anywhere: outside --dev the log provider must be allowed.
  if (!opts.dev) args.push_back("--delivery.allow_log_provider=true");
  if (!opts.tls) {
    args.push_back("--server.tls=false");
    // Plain HTTP must say who names the client; a test that wants a proxy overrides this.
    args.push_back("--server.trusted_proxies=none");
  }
  args.insert(args.end(), opts.args.begin(), opts.args.end());
  pid_ = spawn(args, opts.env, log_path_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = read_file(log_path_);
    auto at = out.find("\"event\":\"listening\"");
    if (at != std::string::npos) {
      auto p = out.find("\"port\":", at);
      if (p != std::string::npos) {
        port_ = static_cast<std::uint16_t>(std::stoi(out.substr(p + 7)));
        if (!share_.empty()) {
          std::string body = "{\"share\":\"" + share_ + "\"}";
          auto c = Connection::open(port_, opts.tls);
          auto r = c->request("POST /admin/v1/operator/unseal HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body);
          if (r.status != 200) throw std::runtime_error("unseal failed: " + r.body);
        }
        return;
      }
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("herald exited during start-up:\n" + out);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("herald did not start listening in time:\n" + read_file(log_path_));
}

Server::~Server() {
  if (pid_ > 0) stop(SIGTERM, std::chrono::milliseconds(5000));
}

int Server::stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  int code = wait_exit(pid_, timeout);
  pid_ = -1;
  return code;
}

bool Server::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string Server::log() const {
  return read_file(log_path_);
}

std::unique_ptr<Connection> Connection::open(std::uint16_t port, bool tls, const TlsOptions& opts) {
  int fd = connect_loopback(port);
  if (!tls) return std::make_unique<PlainConnection>(fd);
  try {
    return std::make_unique<TlsConnection>(fd, opts);
  } catch (...) {
    // TlsConnection's destructor does not run when its constructor throws.
    ::close(fd);
    throw;
  }
}

std::unique_ptr<Connection> Connection::open_tcp(std::uint16_t port) {
  return std::make_unique<PlainConnection>(connect_loopback(port));
}

std::unique_ptr<Connection> Connection::open_from(const std::string& source, std::uint16_t port, bool tls,
                                                  const TlsOptions& opts) {
  int fd = connect_loopback(port, source);
  if (!tls) return std::make_unique<PlainConnection>(fd);
  try {
    return std::make_unique<TlsConnection>(fd, opts);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

bool Connection::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    try {
      if (read_some(left).empty()) return true;
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) == "timeout") return false;
      return true;
    }
  }
}

std::optional<HttpResponse> parse_response(std::string& buf) {
  auto end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  HttpResponse r;
  std::istringstream head(buf.substr(0, end));
  std::string line;
  std::getline(head, line);
  if (line.size() < 12) throw std::runtime_error("bad status line: " + line);
  r.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(' '));
    r.headers[lower(line.substr(0, colon))] = v;
  }
  std::size_t len = 0;
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) len = std::stoul(it->second);
  if (r.status / 100 == 1 || r.status == 204 || r.status == 304) len = 0;
  if (buf.size() < end + 4 + len) return std::nullopt;
  r.body = buf.substr(end + 4, len);
  buf.erase(0, end + 4 + len);
  return r;
}

HttpResponse Connection::request(const std::string& raw, std::chrono::milliseconds timeout) {
  write(raw);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto r = parse_response(pending_)) return *r;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("timeout");
    std::string more = read_some(left);
    if (more.empty()) throw std::runtime_error("connection closed before a full response");
    pending_ += more;
  }
}

HttpResponse https(const Server& s, const std::string& method, const std::string& target,
                   const std::map<std::string, std::string>& headers, const std::string& body) {
  TlsOptions o;
  o.ca_file = s.ca_file();
  auto c = Connection::open(s.port(), true, o);
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) raw += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST") raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  raw += "\r\n" + body;
  return c->request(raw);
}

std::optional<double> metric_value(const std::string& body, const std::string& sample) {
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return std::nullopt;
}

HttpResponse ws_upgrade(Connection& c, const std::string& path) {
  return c.request("GET " + path +
                   " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
}

void ws_send(Connection& c, int opcode, const std::string& payload) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  if (payload.size() < 126) {
    f += static_cast<char>(0x80 | payload.size());
  } else if (payload.size() < 65536) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((payload.size() >> (8 * i)) & 0xff);
  }
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  c.write(f);
}

std::optional<WsFrame> ws_read(Connection& c, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string& buf = c.buffer();
  for (;;) {
    if (buf.size() >= 2) {
      auto b1 = static_cast<unsigned char>(buf[1]);
      std::size_t len = b1 & 0x7f, off = 2;
      if (len == 126 && buf.size() >= 4) {
        len = (static_cast<unsigned char>(buf[2]) << 8) | static_cast<unsigned char>(buf[3]);
        off = 4;
      } else if (len == 127 && buf.size() >= 10) {
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(buf[2 + i]);
        off = 10;
      }
      bool header_complete = !((b1 & 0x7f) == 126 && off == 2) && !((b1 & 0x7f) == 127 && off == 2);
      if (header_complete && buf.size() >= off + len) {
        WsFrame f{static_cast<unsigned char>(buf[0]) & 0x0f, buf.substr(off, len)};
        buf.erase(0, off + len);
        return f;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::string more;
    try {
      more = c.read_some(left);
    } catch (const std::runtime_error&) {
      return std::nullopt;
    }
    if (more.empty()) throw std::runtime_error("connection closed");
    buf += more;
  }
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string admin_token(const Server& s) {
  std::ifstream f(s.data_dir() + "/admin.token");
  std::string t;
  std::getline(f, t);
  while (!t.empty() && t.back() == '\r') t.pop_back();
  return t;
}

DevApp dev_app(const Server& s) {
  auto v = boost::json::parse(slurp(s.data_dir() + "/dev-app.json")).as_object();
  auto field = [&](const char* k) { return std::string(v.at(k).as_string()); };
  return DevApp{field("app_id"), field("app_key"), field("app_secret"), field("client_secret")};
}

std::string b64url(std::string_view in) {
  static constexpr char kA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) out.push_back(kA[(acc >> (bits -= 6)) & 63]);
  }
  if (bits) out.push_back(kA[(acc << (6 - bits)) & 63]);
  return out;
}

std::string client_token(const std::string& secret, const std::string& user, const std::string& extra_claims) {
  std::string input =
      b64url(R"({"alg":"HS256","typ":"JWT"})") + "." +
      b64url(R"({"sub":")" + user + R"(","exp":)" + std::to_string(time(nullptr) + 600) + extra_claims + "}");
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + b64url(std::string_view(reinterpret_cast<char*>(mac), len));
}

}  // namespace herald::testing
