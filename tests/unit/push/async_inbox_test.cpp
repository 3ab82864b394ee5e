// The client with an inbox that answers late, on its own thread (a store reader): other
// connections of the same I/O thread keep being served, the late answer reaches its
// client, and an answer for a client that has gone is dropped.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "apps/memory_directory.h"
#include "auth/jwt.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "fakes.h"
#include "push/client.h"

namespace herald::push {
namespace {

using namespace std::chrono_literals;
using testing::FakeTransport;
using testing::ThreadExecutor;

constexpr std::string_view kSecret = "test-client-secret-0123456789abcdef";
constexpr auto kStoreDelay = 1000ms;
constexpr std::string_view kPending = R"({"msg":{"id":"m1","ts":1,"priority":"normal","data":1}})";

// A store with one reader thread: answers user "slow" from that thread, each answer
// kStoreDelay after the previous one, in the order asked; everyone else at once.
class SlowInbox final : public MessageInbox {
 public:
  SlowInbox() : reader_([this] { read(); }) {}
  ~SlowInbox() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    reader_.join();
  }
  void on_connect(const ClientIdentity& who, std::function<void(std::vector<std::string>)> done) override {
    answer(who, std::move(done), std::vector<std::string>{std::string(kPending)});
  }
  void ack(const ClientIdentity& who, std::string_view, std::function<void(Status)> done) override {
    answer(who, std::move(done), ok_status());
  }
  void page(const ClientIdentity& who, std::string_view, std::size_t,
            std::function<void(Result<std::string>)> done) override {
    answer(who, std::move(done), Result<std::string>(std::string(R"({"messages":[],"next":null})")));
  }
  // Waits until every question asked so far has been answered.
  void join() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
  }
  std::atomic<int> answered{0};

 private:
  template <class T>
  void answer(const ClientIdentity& who, std::function<void(T)> done, T value) {
    if (who.user != "slow") return done(std::move(value));
    {
      std::lock_guard lock(mu_);
      queue_.push_back([done = std::move(done), value = std::move(value)]() mutable { done(std::move(value)); });
    }
    cv_.notify_all();
  }
  void read() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto task = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      std::this_thread::sleep_for(kStoreDelay);
      task();
      answered.fetch_add(1);
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread reader_;
};

struct AsyncInboxFixture : ::testing::Test {
  AsyncInboxFixture() {
    apps::App app;
    app.id = "app-1";
    app.key = "key-1";
    app.name = "test";
    auth::JwtKey k;
    k.alg = auth::JwtAlg::HS256;
    k.secret = crypto::SecretBytes(kSecret);
    app.client_keys.push_back(std::move(k));
    directory.put(app);
  }
  ~AsyncInboxFixture() override {
    inbox.join();
    ex.stop();
  }

  struct Conn {
    FakeTransport t;
    std::unique_ptr<Client> c;
  };
  // Opens and connects a client on shard 0, on the shard's thread.
  std::unique_ptr<Conn> connect(const std::string& user) {
    std::string token = auth::sign_jwt_hs256(
        "{\"sub\":\"" + user + "\",\"exp\":" + std::to_string(clock::unix_ms() / 1000 + 3600) + "}",
        crypto::SecretBytes(kSecret));
    return ex.call(0, [&] {
      auto conn = std::make_unique<Conn>();
      conn->c = std::make_unique<Client>(ctx, conn->t, 0);
      conn->c->on_text(R"({"id":1,"connect":{"app":"key-1","token":")" + token + "\"}}");
      return conn;
    });
  }
  void send(Conn& c, const std::string& frame) {
    ex.call(0, [&] { c.c->on_text(frame); });
  }
  std::vector<std::string> written(Conn& c) {
    return ex.call(0, [&] { return c.t.written; });
  }
  // Destroys the connection on its shard, as the gateway does.
  void close(std::unique_ptr<Conn> c) {
    ex.call(0, [&] {
      c->c->on_closed();
      c.reset();
    });
  }

  Config cfg;
  ThreadExecutor ex{1};
  metrics::Registry reg;
  Hub hub{cfg, ex, reg};
  apps::MemoryAppDirectory directory;
  ProtocolMetrics pm{reg};
  SlowInbox inbox;
  ClientContext ctx{hub, directory, cfg, pm, &inbox, "9.9.9"};
};

TEST_F(AsyncInboxFixture, ASlowStoreDoesNotStallOtherConnectionsOnTheSameThread) {
  auto slow = connect("slow");
  send(*slow, "{\"id\":2,\"ack\":{\"id\":\"m1\"}}\n{\"id\":3,\"inbox\":{}}");
  auto fast = connect("fast");

  auto t0 = std::chrono::steady_clock::now();
  send(*fast, R"({"id":2,"ping":{}})");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(fast->t.reply(2), R"({"id":2,"pong":{}})");
  EXPECT_LT(took, 300ms) << "a ping waited on another connection's store read";
  EXPECT_EQ(inbox.answered.load(), 0);
  auto before = written(*slow);
  ASSERT_EQ(before.size(), 1u);  // only the connect reply so far
  EXPECT_EQ(before[0].rfind("{\"id\":1,\"connect\":", 0), 0u);

  inbox.join();
  auto after = ex.call(0, [&] { return slow->t.written; });  // runs after the posted answers
  ASSERT_EQ(after.size(), 4u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], kPending);  // the pending message follows the connect reply
  EXPECT_EQ(after[2], R"({"id":2,"ack":{}})");
  EXPECT_EQ(after[3], R"({"id":3,"inbox":{"messages":[],"next":null}})");
  close(std::move(slow));
  close(std::move(fast));
}

TEST_F(AsyncInboxFixture, AnAnswerForAClientThatHasGoneIsDropped) {
  auto gone = connect("slow");
  send(*gone, R"({"id":2,"inbox":{}})");
  close(std::move(gone));
  auto closing = connect("slow");
  ex.call(0, [&] { closing->c->disconnect(close_code::kDisconnectedByServer, "disconnected_by_server"); });
  inbox.join();
  EXPECT_EQ(inbox.answered.load(), 3);
  auto sent = ex.call(0, [&] { return closing->t.sent; });
  for (const auto& line : sent) EXPECT_EQ(line.find("\"msg\""), std::string::npos) << line;
  EXPECT_EQ(closing->t.close_code, close_code::kDisconnectedByServer);
  close(std::move(closing));
}

}  // namespace
}  // namespace herald::push
