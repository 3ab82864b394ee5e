// The wall clock in Unix milliseconds, and a Clock that tests can move. Services take a
// `Clock` (default: the system clock) instead of reading std::chrono themselves.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

namespace herald::clock {

// Milliseconds since the Unix epoch, from the system clock.
inline std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace herald::clock

namespace herald {

// A source of Unix milliseconds. An empty Clock means the system clock (see now_ms).
using Clock = std::function<std::int64_t()>;

inline Clock system_clock() { return [] { return clock::unix_ms(); }; }

// Reads `c`, or the system clock when `c` is empty.
inline std::int64_t now_ms(const Clock& c) { return c ? c() : clock::unix_ms(); }

// A clock that stands still until a test moves it. Thread-safe; share it by pointer
// (`manual.as_clock()` captures `this`, so it must outlive what it is given to).
class ManualClock {
 public:
  explicit ManualClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  std::int64_t now() const { return now_.load(std::memory_order_relaxed); }
  void set(std::int64_t ms) { now_.store(ms, std::memory_order_relaxed); }
  void advance(std::int64_t ms) { now_.fetch_add(ms, std::memory_order_relaxed); }
  Clock as_clock() const {
    return [this] { return now(); };
  }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace herald
