// The number of open connections, and a wait for it to reach zero: what the gateway's
// shutdown drains on, without polling.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace herald::net::detail {

class OpenConnections {
 public:
  std::int64_t count() const { return n_.load(); }

  void add() { n_.fetch_add(1); }

  void remove() {
    if (n_.fetch_sub(1) != 1) return;
    // Taking the lock after the decrement means a waiter either sees zero when it checks,
    // or is already blocked and gets this notification: none is lost in between.
    { std::lock_guard lock(mutex_); }
    zero_.notify_all();
  }

  // Returns true when the count is zero, false when `deadline` passed first.
  bool wait_for_zero(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return zero_.wait_until(lock, deadline, [this] { return n_.load() == 0; });
  }

 private:
  std::atomic<std::int64_t> n_{0};
  std::mutex mutex_;
  std::condition_variable zero_;
};

}  // namespace herald::net::detail
