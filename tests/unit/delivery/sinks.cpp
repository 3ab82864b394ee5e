// Child processes and files for the fixture-backed delivery tests.
#include "sinks.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <stdexcept>

extern char** environ;

namespace herald::delivery::testing {

TempDir::TempDir() {
  std::string tpl = (std::filesystem::temp_directory_path() / "herald-delivery-XXXXXX").string();
  if (!mkdtemp(tpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TestCert make_cert(const TempDir& dir, const std::string& name, const std::string& san) {
  TestCert c{dir.file(name + ".pem"), dir.file(name + "-key.pem")};
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=herald-test "
      "-addext 'subjectAltName=" +
      san + "' -days 1 -keyout '" + c.key + "' -out '" + c.cert + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl req failed");
  return c;
}

SinkProcess::SinkProcess(const std::string& script, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> argv_s{HERALD_PYTHON3, std::string(HERALD_SOURCE_DIR) + "/tests/fixtures/" + script};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + script);
  }

  // The first line is "PORT <n>"; give the interpreter 15 s to get there.
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[256];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  if (line.rfind("PORT ", 0) != 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    throw std::runtime_error(script + " did not report its port");
  }
  port_ = std::atoi(line.c_str() + 5);
}

SinkProcess::~SinkProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    usleep(20'000);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

std::vector<boost::json::object> read_records(const std::string& path) {
  std::vector<boost::json::object> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(boost::json::parse(line).as_object());
  return out;
}

Status send_and_wait(Sender& sender, OutboundMessage msg, std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  sender.send(std::move(msg), [promise](Status s) { promise->set_value(std::move(s)); });
  if (future.wait_for(timeout) != std::future_status::ready) {
    ADD_FAILURE() << "send did not complete in time";
    return make_error(Errc::kInternal, "send did not complete in time");
  }
  return future.get();
}

}  // namespace herald::delivery::testing
