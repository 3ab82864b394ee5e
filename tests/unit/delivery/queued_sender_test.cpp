// The outbound queue: bounded (a full queue answers delivery_busy at once), drained on
// stop, counted in the metrics.
#include "delivery/queued_sender.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "core/metrics.h"
#include "delivery/worker_pool.h"

namespace herald::delivery {
namespace {

using namespace std::chrono_literals;

// Blocks every delivery until released; fails messages whose text is "fail".
class GatedSender final : public BlockingSender {
 public:
  std::string_view name() const override { return "gated"; }
  Status deliver(const OutboundMessage& msg) const override {
    std::unique_lock lock(mu_);
    ++started_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
    ++delivered_;
    if (msg.text == "fail") return delivery_failed("refused");
    return ok_status();
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait_started(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return started_ >= n; });
  }
  int delivered() const {
    std::lock_guard lock(mu_);
    return delivered_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool open_ = false;
  mutable int started_ = 0;
  mutable int delivered_ = 0;
};

class SlowSender final : public BlockingSender {
 public:
  std::string_view name() const override { return "slow"; }
  Status deliver(const OutboundMessage&) const override {
    std::this_thread::sleep_for(20ms);
    return ok_status();
  }
};

TEST(QueuedSender, FullQueueAnswersBusyAtOnce) {
  WorkerPool pool(1, 2);
  metrics::Registry reg;
  auto impl = std::make_unique<GatedSender>();
  auto* gate = impl.get();
  QueuedSender sender("sms", std::move(impl), pool, &reg);

  std::vector<std::promise<Status>> results(3);
  sender.send({.text = "one"}, [&](Status s) { results[0].set_value(std::move(s)); });
  ASSERT_TRUE(gate->wait_started(1));  // the worker holds message one; the queue is empty
  sender.send({.text = "two"}, [&](Status s) { results[1].set_value(std::move(s)); });
  sender.send({.text = "fail"}, [&](Status s) { results[2].set_value(std::move(s)); });
  EXPECT_EQ(pool.queued(), 2u);

  std::optional<Status> busy;
  sender.send({.text = "four"}, [&](Status s) { busy = std::move(s); });
  // Answered synchronously, inside send(), while the worker is still blocked.
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->error().code, Errc::kDeliveryBusy);
  EXPECT_EQ(gate->delivered(), 0);

  gate->open();
  for (auto& r : results) ASSERT_EQ(r.get_future().wait_for(5s), std::future_status::ready);
  pool.stop();
  EXPECT_EQ(gate->delivered(), 3);

  std::string text = reg.render();
  EXPECT_NE(text.find(R"(herald_delivery_sends_total{channel="sms",provider="gated",result="ok"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(herald_delivery_sends_total{channel="sms",provider="gated",result="failed"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(herald_delivery_sends_total{channel="sms",provider="gated",result="busy"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(herald_delivery_send_seconds_count{channel="sms",provider="gated"} 3)"), std::string::npos);
}

TEST(QueuedSender, FailureIsReportedAsDeliveryFailed) {
  WorkerPool pool(1, 10);
  auto impl = std::make_unique<GatedSender>();
  impl->open();
  QueuedSender sender("email", std::move(impl), pool, nullptr);
  std::promise<Status> p;
  sender.send({.text = "fail"}, [&](Status s) { p.set_value(std::move(s)); });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  auto s = f.get();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kDeliveryFailed);
}

TEST(QueuedSender, StopDrainsQueuedSendsThenRefuses) {
  WorkerPool pool(2, 100);
  QueuedSender sender("email", std::make_unique<SlowSender>(), pool, nullptr);
  std::atomic<int> done{0};
  std::atomic<std::thread::id> last_thread;
  for (int i = 0; i < 10; ++i)
    sender.send({.text = "x"}, [&](Status s) {
      EXPECT_TRUE(s.ok());
      last_thread = std::this_thread::get_id();
      ++done;
    });
  pool.stop();  // 10 sends x 20 ms on 2 workers: the queue is not empty when stop begins
  EXPECT_EQ(done.load(), 10);
  EXPECT_NE(last_thread.load(), std::this_thread::get_id()) << "done runs on a worker thread";

  std::optional<Status> after;
  sender.send({.text = "late"}, [&](Status s) { after = std::move(s); });
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->error().code, Errc::kDeliveryBusy);
  pool.stop();  // idempotent
}

TEST(WorkerPool, SurvivesAThrowingJob) {
  WorkerPool pool(1, 10);
  std::promise<void> ran;
  ASSERT_EQ(pool.try_submit([] { throw std::runtime_error("boom"); }), WorkerPool::Submit::queued);
  ASSERT_EQ(pool.try_submit([&] { ran.set_value(); }), WorkerPool::Submit::queued);
  EXPECT_EQ(ran.get_future().wait_for(5s), std::future_status::ready);
}

}  // namespace
}  // namespace herald::delivery
