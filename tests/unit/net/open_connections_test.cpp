// The connection count shutdown drains on: it wakes the waiter when the last connection
// goes, and gives up at the grace deadline otherwise.
#include "net/detail/open_connections.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace herald::net::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(OpenConnections, CountsAddsAndRemoves) {
  OpenConnections c;
  c.add();
  c.add();
  EXPECT_EQ(c.count(), 2);
  c.remove();
  EXPECT_EQ(c.count(), 1);
}

TEST(OpenConnections, WaitReturnsAtOnceWhenNoneAreOpen) {
  OpenConnections c;
  auto t0 = Clock::now();
  EXPECT_TRUE(c.wait_for_zero(t0 + 10s));
  EXPECT_LT(Clock::now() - t0, 1s);
}

TEST(OpenConnections, WaitWakesWhenTheLastConnectionCloses) {
  OpenConnections c;
  c.add();
  c.add();
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    c.remove();
    std::this_thread::sleep_for(50ms);
    c.remove();
  });
  auto t0 = Clock::now();
  EXPECT_TRUE(c.wait_for_zero(t0 + 30s));
  auto waited = Clock::now() - t0;
  closer.join();
  EXPECT_EQ(c.count(), 0);
  EXPECT_GE(waited, 90ms);  // not before the second close
  EXPECT_LT(waited, 10s);   // woken, not timed out
}

TEST(OpenConnections, WaitGivesUpAtTheDeadline) {
  OpenConnections c;
  c.add();
  auto t0 = Clock::now();
  EXPECT_FALSE(c.wait_for_zero(t0 + 100ms));
  EXPECT_GE(Clock::now() - t0, 100ms);
  EXPECT_EQ(c.count(), 1);
}

// Many short-lived waits against closes racing on another thread: a lost notification
// would show as a wait that runs to its (long) deadline.
TEST(OpenConnections, NoWakeUpIsLostAgainstARacingClose) {
  for (int i = 0; i < 200; ++i) {
    OpenConnections c;
    c.add();
    std::thread closer([&] { c.remove(); });
    auto t0 = Clock::now();
    EXPECT_TRUE(c.wait_for_zero(t0 + 20s));
    ASSERT_LT(Clock::now() - t0, 10s) << "iteration " << i;
    closer.join();
  }
}

}  // namespace
}  // namespace herald::net::detail
