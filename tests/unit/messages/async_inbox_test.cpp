// The client protocol's inbox calls (connect, ack, page) run on the inbox readers: a
// store read that blocks does not block the caller, and a full reader queue answers
// "messages_busy" at once instead of waiting.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "api/message_requests.h"
#include "core/clock.h"
#include "forwarding_records.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "messages/message_service.h"
#include "store/message_records.h"
#include "store/store.h"

namespace herald::messages {
namespace {

using namespace std::chrono_literals;
using store::Completion;

// The real message tables, with a gate in front of the reads the inbox calls make.
class GatedRecords final : public testing::ForwardingRecords {
 public:
  explicit GatedRecords(store::MessageRecords& real) : ForwardingRecords(real) {}

  void close_gate() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Waits until a read is held at the gate.
  bool wait_for_blocked_read(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return waiting_ > 0; });
  }

  Result<std::optional<store::MessageRecord>> message(std::uint64_t seq) override {
    gate();
    return real_.message(seq);
  }
  Result<std::vector<store::MessageRecord>> messages_by_seq(const std::vector<std::uint64_t>& seqs) override {
    gate();
    return real_.messages_by_seq(seqs);
  }

 private:
  void gate() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
    --waiting_;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
};

struct AsyncInbox : ::testing::Test {
  AsyncInbox() {
    std::string t = ::testing::TempDir() + "/async-inbox-XXXXXX";
    dir = mkdtemp(t.data());
    db = store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr}).value();
    keys = std::make_unique<kms::KeyService>(*db, nullptr);
    EXPECT_TRUE(kms::dev_unseal(*keys, *db, dir, true).ok());
    EXPECT_TRUE(keys->ensure_app_keys("app1").ok());
    gated = std::make_unique<GatedRecords>(db->messages());
    service = std::make_unique<MessageService>(cfg, *gated, *keys, nullptr, WebhookPoster{}, nullptr, clock.as_clock());
    EXPECT_TRUE(service->load().ok());
  }
  ~AsyncInbox() override {
    gated->open_gate();
    service.reset();
    keys.reset();
    db->close();
    db.reset();
    std::filesystem::remove_all(dir);
  }
  std::string publish(const std::string& user) {
    auto req = api::parse_publish(boost::json::parse(R"({"to_user": ")" + user + R"(", "data": {"n": 1}})").as_object(),
                                  service->publish_limits());
    EXPECT_TRUE(req.ok());
    std::promise<Result<Published>> p;
    service->publish("app1", std::move(*req), [&](Result<Published> o) { p.set_value(std::move(o)); });
    auto o = p.get_future().get();
    EXPECT_TRUE(o.ok()) << o.error().code;
    return o.ok() ? o->id : "";
  }
  push::ClientIdentity who(const std::string& user) { return push::ClientIdentity{"app1", user, "client-1", ""}; }

  MessagesConfig cfg;
  ManualClock clock{1'795'428'000'000};
  std::string dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  std::unique_ptr<GatedRecords> gated;
  std::unique_ptr<MessageService> service;
};

TEST_F(AsyncInbox, ABlockedStoreReadDoesNotBlockTheCaller) {
  const std::string id = publish("u1");
  gated->close_gate();

  std::promise<std::vector<std::string>> frames;
  std::atomic<std::thread::id> answered_on{};
  auto t0 = std::chrono::steady_clock::now();
  service->on_connect(who("u1"), [&](std::vector<std::string> f) {
    answered_on = std::this_thread::get_id();
    frames.set_value(std::move(f));
  });
  // The call came back while its read waits at the gate.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  ASSERT_TRUE(gated->wait_for_blocked_read(5s));
  auto future = frames.get_future();
  EXPECT_EQ(future.wait_for(50ms), std::future_status::timeout);

  std::promise<Status> acked;
  service->ack(who("u1"), id, [&](Status st) { acked.set_value(std::move(st)); });
  std::promise<Result<std::string>> paged;
  service->page(who("u1"), "", 10, [&](Result<std::string> r) { paged.set_value(std::move(r)); });

  gated->open_gate();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  auto f = future.get();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].find(id), std::string::npos);
  EXPECT_NE(answered_on.load(), std::this_thread::get_id());
  // One user's calls run in the order made: the ack before the page.
  auto ack_future = acked.get_future();
  ASSERT_EQ(ack_future.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(ack_future.get().ok());
  auto page_future = paged.get_future();
  ASSERT_EQ(page_future.wait_for(5s), std::future_status::ready);
  auto page = page_future.get();
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(boost::json::parse(*page).at("messages").as_array().size(), 0u);
}

TEST_F(AsyncInbox, AFullReaderQueueAnswersBusyAtOnce) {
  const std::string id = publish("u1");
  gated->close_gate();
  std::atomic<int> answered{0};
  service->ack(who("u1"), id, [&](Status) { ++answered; });
  ASSERT_TRUE(gated->wait_for_blocked_read(5s));

  // Fill the lane of u1 until a call is refused; each call returns at once.
  std::optional<Error> refused;
  std::atomic<int> busy{0};
  int queued = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100'000 && busy.load() == 0; ++i) {
    service->ack(who("u1"), id, [&](Status st) {
      if (!st && st.error().code == Errc::kMessagesBusy) {
        refused = st.error();
        ++busy;
      } else {
        ++answered;
      }
    });
    if (busy.load() == 0) ++queued;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ASSERT_TRUE(refused.has_value()) << "no call was refused";
  EXPECT_EQ(refused->code, Errc::kMessagesBusy);
  EXPECT_GT(queued, 0);
  EXPECT_EQ(answered.load(), 0);  // everything else still waits behind the gate

  // A page and a connect on the full lane are refused at once too.
  std::optional<Result<std::string>> page;
  service->page(who("u1"), "", 10, [&](Result<std::string> r) { page = std::move(r); });
  ASSERT_TRUE(page.has_value());
  ASSERT_FALSE(page->ok());
  EXPECT_EQ(page->error().code, Errc::kMessagesBusy);
  std::optional<std::vector<std::string>> frames;
  service->on_connect(who("u1"), [&](std::vector<std::string> f) { frames = std::move(f); });
  ASSERT_TRUE(frames.has_value());
  EXPECT_TRUE(frames->empty());

  // Once the store answers, every queued call is answered.
  gated->open_gate();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (answered.load() < queued + 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(answered.load(), queued + 1);
}

TEST_F(AsyncInbox, DestructionWaitsForQueuedReads) {
  publish("u1");
  gated->close_gate();
  std::atomic<int> answered{0};
  for (int i = 0; i < 5; ++i) service->on_connect(who("u1"), [&](std::vector<std::string>) { ++answered; });
  ASSERT_TRUE(gated->wait_for_blocked_read(5s));
  std::thread opener([&] {
    std::this_thread::sleep_for(100ms);
    gated->open_gate();
  });
  service.reset();
  EXPECT_EQ(answered.load(), 5);
  opener.join();
}

}  // namespace
}  // namespace herald::messages
