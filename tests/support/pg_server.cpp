// The tests' PostgreSQL server: initdb, pg_ctl and psql from the Debian package, run
// as the postgres user under root, on a free port, in a directory removed at the end.
#include "pg_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace herald::testing {
namespace {

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += kHex[v >> 4];
    out += kHex[v & 15];
  }
  return out;
}

// Runs argv (as the postgres user when we are root); output goes to `log`. Returns the
// exit status and, if `out` is set, what the command printed.
int run(const std::vector<std::string>& argv, const std::string& log, std::string* out = nullptr) {
  std::vector<std::string> full;
  if (::geteuid() == 0) full = {"runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::string capture = log + ".out";
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::fopen((out ? capture : log).c_str(), out ? "w" : "a");
    if (f) {
      ::dup2(::fileno(f), 1);
      ::dup2(::fileno(f), 2);
    }
    // The postgres user may not be allowed into our working directory (a clone under
    // /root, say); PostgreSQL's tools look it up at start.
    if (::chdir("/") != 0) ::_exit(126);
    std::vector<char*> args;
    for (auto& a : full) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out) {
    std::ifstream in(capture);
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
    std::filesystem::remove(capture);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

PgServer* g_server = nullptr;

class PgEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    if (g_server) g_server->stop();
  }
};
// Registered before main runs, so that the server stops when the tests end.
const bool kRegistered = [] {
  ::testing::AddGlobalTestEnvironment(new PgEnvironment);
  std::atexit([] {
    if (g_server) g_server->stop();
  });
  return true;
}();

}  // namespace

PgServer& PgServer::shared() {
  if (!g_server) g_server = new PgServer();
  return *g_server;
}

PgServer::PgServer() {
  (void)kRegistered;
  bin_ = "/usr/lib/postgresql/15/bin";
  if (const char* b = std::getenv("HERALD_PG_BIN")) bin_ = b;
  if (!std::filesystem::exists(bin_ + "/initdb"))
    throw std::runtime_error("PostgreSQL is not installed (" + bin_ + "/initdb); run scripts/install-deps.sh");
  char t[] = "/tmp/herald-pg-XXXXXX";
  if (!::mkdtemp(t)) throw std::runtime_error("mkdtemp failed");
  root_ = t;
  if (::geteuid() == 0) {
    passwd* pw = ::getpwnam("postgres");
    if (!pw) throw std::runtime_error("no postgres system user (the postgresql package creates it)");
    ::chown(root_.c_str(), pw->pw_uid, pw->pw_gid);
  }
  ::chmod(root_.c_str(), 0700);
  password_ = random_hex(16);
  std::string log = root_ + "/setup.log";
  if (run({bin_ + "/initdb", "-D", root_ + "/data", "-U", "postgres", "-E", "UTF8", "--locale=C", "--auth-local=trust",
           "--auth-host=scram-sha-256"},
          log) != 0) {
    stop();
    throw std::runtime_error("initdb failed");
  }
  port_ = free_port();
  start_server();
  psql("postgres", "CREATE ROLE herald LOGIN PASSWORD '" + password_ + "';");
  psql("postgres", "CREATE DATABASE herald_test OWNER herald;");
}

void PgServer::start_server() {
  std::string opts = "-p " + std::to_string(port_) + " -c listen_addresses=127.0.0.1 -k " + root_ +
                     " -c fsync=on -c synchronous_commit=on -c max_connections=200";
  if (run({bin_ + "/pg_ctl", "-D", root_ + "/data", "-o", opts, "-l", root_ + "/server.log", "-w", "-t", "60", "start"},
          root_ + "/setup.log") != 0)
    throw std::runtime_error("pg_ctl start failed; see " + root_ + "/server.log");
  running_ = true;
}

PgServer::~PgServer() {
  stop();
}

std::string PgServer::url() const {
  return "postgresql://herald:" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/herald_test?sslmode=disable";
}

std::string PgServer::fresh_schema_url() {
  std::string schema = "t" + std::to_string(::getpid()) + "_" + std::to_string(++schemas_);
  sql("CREATE SCHEMA " + schema + " AUTHORIZATION herald;");
  return url() + "&options=-c%20search_path%3D" + schema;
}

std::string PgServer::sql(const std::string& statement) {
  return psql("herald_test", statement);
}

std::string PgServer::psql(const std::string& db, const std::string& statement) {
  std::string out;
  // The superuser connects over the private socket directory (local trust: tests only).
  int rc = run({bin_ + "/psql", "-h", root_, "-p", std::to_string(port_), "-U", "postgres", "-d", db, "-v",
                "ON_ERROR_STOP=1", "-At", "-c", statement},
               root_ + "/setup.log", &out);
  if (rc != 0) throw std::runtime_error("psql failed: " + out);
  return out;
}

std::string PgServer::dump() {
  std::string out;
  if (run({bin_ + "/pg_dump", "-h", root_, "-p", std::to_string(port_), "-U", "postgres", "herald_test"},
          root_ + "/setup.log", &out) != 0)
    throw std::runtime_error("pg_dump failed");
  return out;
}

void PgServer::pause() {
  run({bin_ + "/pg_ctl", "-D", root_ + "/data", "-m", "fast", "-w", "stop"}, root_ + "/setup.log");
  running_ = false;
}

void PgServer::resume() {
  start_server();
}

void PgServer::stop() {
  if (root_.empty()) return;
  if (running_) pause();
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
  root_.clear();
}

}  // namespace herald::testing
