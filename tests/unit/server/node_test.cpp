// The Node in one process: built on a temporary data dir in development mode, serving
// plain HTTP on a free port; stopped, it leaves no thread of its own behind and its
// audit log ends with a checkpoint of everything recorded.
#include "server/node.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "audit/log.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::server {
namespace {

std::size_t thread_count() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return 0;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

// Threads once the count has come down to `want` (or a second has passed): a joined
// thread can stay listed in /proc for a moment after pthread_join returns.
// The tests check for at most as many threads as before, not exactly as many: run in
// one process with the other suites, a thread of an earlier test may end meanwhile.
std::size_t thread_count_settled(std::size_t want) {
  std::size_t n = thread_count();
  for (int i = 0; i < 200 && n > want; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    n = thread_count();
  }
  return n;
}

// The count to compare with after a Node has stopped. Under ThreadSanitizer the first
// thread a process creates also starts the runtime's own background thread, which stays:
// in a process of its own (ctest runs each test so) that thread would otherwise be
// counted against the Node. A thread started and joined first brings it in.
std::size_t baseline_thread_count() {
  const std::size_t n = thread_count();
  std::thread([] {}).join();
  return thread_count_settled(n);
}

// One HTTP/1.1 request on a fresh connection; the whole response, or "" if the
// connection failed.
std::string http_get(std::uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

struct NodeTest : ::testing::Test {
  NodeTest() {
    std::string t = ::testing::TempDir() + "/node-XXXXXX";
    dir = ::mkdtemp(t.data());
  }
  ~NodeTest() override { std::filesystem::remove_all(dir); }

  Config dev_config() const {
    Config cfg;
    cfg.store.data_dir = dir;
    cfg.server.tls = false;
    cfg.server.listen = "127.0.0.1";
    cfg.server.port = 0;
    cfg.server.threads = 2;
    cfg.limits.shutdown_grace = Millis{1000};
    return cfg;
  }

  std::string dir;
};

TEST_F(NodeTest, ServesHealthAndStopJoinsEveryThreadItStarted) {
  const std::size_t before = baseline_thread_count();
  {
    Node node(dev_config(), NodeOptions{true, "test"});
    ASSERT_TRUE(validate(node.config(), true).ok());
    ASSERT_TRUE(node.open().ok());
    ASSERT_TRUE(kms::dev_unseal(node.keys(), node.store(), dir, true).ok());
    ASSERT_TRUE(node.start(std::string(32, 'x')).ok());
    ASSERT_NE(node.port(), 0);
    EXPECT_EQ(node.url(), "http://127.0.0.1:" + std::to_string(node.port()));
    // I/O workers, hub, scheduler, purger, checkpointer, store writer and completer,
    // delivery and webhook workers.
    EXPECT_GE(thread_count(), before + 9);

    std::string health = http_get(node.port(), "/healthz");
    EXPECT_EQ(health.rfind("HTTP/1.1 200", 0), 0u) << health;
    // Ready: the store answers, the key service is unsealed, the gateway accepts.
    std::string ready = http_get(node.port(), "/readyz");
    EXPECT_EQ(ready.rfind("HTTP/1.1 200", 0), 0u) << ready;

    node.audit()->record(audit::Event{"operator", "test", "ok", 0, "operator", "", "", {}, {}});
    const std::uint16_t port = node.port();
    node.stop();
    EXPECT_LE(thread_count_settled(before), before);
    EXPECT_EQ(http_get(port, "/healthz"), "");  // no longer listening

    node.stop();  // a second stop does nothing
    EXPECT_LE(thread_count(), before);
  }
  EXPECT_LE(thread_count(), before);  // nor does the destructor after stop()

  // stop() flushed the audit log and signed a checkpoint of all of it.
  auto db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr});
  ASSERT_TRUE(db.ok());
  auto size = (*db)->audit().audit_size();
  auto cp = (*db)->audit().latest_audit_checkpoint();
  ASSERT_TRUE(size.ok() && cp.ok());
  ASSERT_GE(*size, 1u);
  ASSERT_TRUE(cp->has_value());
  EXPECT_EQ((*cp)->size, *size);
  (*db)->close();
}

TEST_F(NodeTest, StopAfterAFailedStartJoinsWhatWasStarted) {
  const std::size_t before = baseline_thread_count();
  {
    Config cfg = dev_config();
    cfg.server.listen = "not-an-address";
    Node node(std::move(cfg), NodeOptions{true, "test"});
    ASSERT_TRUE(node.open().ok());
    ASSERT_TRUE(kms::dev_unseal(node.keys(), node.store(), dir, true).ok());
    auto st = node.start(std::string(32, 'x'));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::kGatewayStartFailed);
    node.stop();
    EXPECT_LE(thread_count_settled(before), before);  // the hub's and the store's threads included
  }
}

TEST_F(NodeTest, DestroyingAnOpenedNodeStopsIt) {
  const std::size_t before = baseline_thread_count();
  {
    Node node(dev_config(), NodeOptions{true, "test"});
    ASSERT_TRUE(node.open().ok());
  }
  EXPECT_LE(thread_count_settled(before), before);
}

}  // namespace
}  // namespace herald::server
