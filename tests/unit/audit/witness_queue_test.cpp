// The witness queue: order, retry after an outage, the drop of the oldest when it lasts,
// and a writer that never waits for a witness that hangs.
#include "audit/witness_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "core/metrics.h"

namespace herald::audit {
namespace {

using namespace std::chrono_literals;

// A witness that records what it takes, and can be made to fail or to hang.
struct FakeWitness {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> got;
  int attempts = 0;
  bool failing = false;
  bool hanging = false;

  WitnessPoster poster() {
    return [this](const std::string& body) -> Status {
      std::unique_lock lock(mu);
      ++attempts;
      cv.wait(lock, [&] { return !hanging; });
      if (failing) return make_error(Errc::kDeliveryFailed, "http 503");
      got.push_back(body);
      cv.notify_all();
      return ok_status();
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return got.size() >= n; });
  }
  void set(bool fail, bool hang) {
    {
      std::lock_guard lock(mu);
      failing = fail;
      hanging = hang;
    }
    cv.notify_all();
  }
};

std::uint64_t counter(metrics::Registry& r, const std::string& name, std::vector<std::string> labels = {}) {
  return r.counter(name, "", labels.empty() ? std::vector<std::string>{} : std::vector<std::string>{"outcome"})
      .with(labels)
      .value();
}

TEST(WitnessQueue, PostsEveryCheckpointInOrder) {
  metrics::Registry reg;
  FakeWitness w;
  WitnessQueue q(w.poster(), {}, &reg);
  q.start();
  for (int i = 0; i < 20; ++i) q.push("cp" + std::to_string(i));
  ASSERT_TRUE(w.wait_for(20));
  q.stop();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(w.got[static_cast<std::size_t>(i)], "cp" + std::to_string(i));
  EXPECT_EQ(counter(reg, "herald_audit_witness_posts_total", {"delivered"}), 20u);
}

TEST(WitnessQueue, AnOutageIsRetriedWithBackoffAndNothingIsSkipped) {
  metrics::Registry reg;
  FakeWitness w;
  w.set(true, false);
  WitnessQueue q(w.poster(), WitnessQueueOptions{16, 5ms, 20ms}, &reg);
  q.start();
  q.push("a");
  q.push("b");
  std::this_thread::sleep_for(150ms);
  {
    std::lock_guard lock(w.mu);
    EXPECT_GE(w.attempts, 3);
    // Backoff: 5, 10, 20, 20... ms, so far fewer attempts than a busy loop would make.
    EXPECT_LE(w.attempts, 20);
    EXPECT_TRUE(w.got.empty());
  }
  EXPECT_GE(counter(reg, "herald_audit_witness_posts_total", {"failed"}), 3u);
  w.set(false, false);
  ASSERT_TRUE(w.wait_for(2));
  q.stop();
  EXPECT_EQ(w.got, (std::vector<std::string>{"a", "b"}));
}

TEST(WitnessQueue, ALongOutageDropsTheOldestAndTheNewestStillArrives) {
  metrics::Registry reg;
  FakeWitness w;
  w.set(true, false);
  WitnessQueue q(w.poster(), WitnessQueueOptions{3, 5ms, 5ms}, &reg);
  q.start();
  for (int i = 0; i < 10; ++i) q.push("cp" + std::to_string(i));
  EXPECT_LE(q.pending(), 3u);
  w.set(false, false);
  ASSERT_TRUE(w.wait_for(3));
  q.stop();
  ASSERT_FALSE(w.got.empty());
  EXPECT_EQ(w.got.back(), "cp9");
  EXPECT_EQ(counter(reg, "herald_audit_witness_dropped_total") + w.got.size(), 10u);
  for (std::size_t i = 1; i < w.got.size(); ++i) EXPECT_LT(w.got[i - 1], w.got[i]) << "out of order";
}

TEST(WitnessQueue, AHangingWitnessNeverBlocksTheWriter) {
  FakeWitness w;
  w.set(false, true);
  WitnessQueue q(w.poster(), WitnessQueueOptions{4, 5ms, 5ms}, nullptr);
  q.start();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) q.push("cp" + std::to_string(i));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_LE(q.pending(), 4u);
  w.set(false, false);
  q.stop();
  ASSERT_FALSE(w.got.empty());
  EXPECT_EQ(w.got.back(), "cp999");  // stop() gave what was left its one try
}

}  // namespace
}  // namespace herald::audit
