// One background thread that runs a task every interval until stopped: the maintenance
// loops (hub sweep, message scheduler, OTP purge, audit checkpoints) are each one of these.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace herald {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;
  ~PeriodicThread() { stop(); }

  // Starts the thread: `task` runs after each `interval` (and at once on wake()), never
  // concurrently with itself, until stop(). Calling start() on a running thread is a
  // programming error.
  void start(std::chrono::milliseconds interval, std::function<void()> task) {
    std::lock_guard lock(mu_);
    stopping_ = false;
    woken_ = false;
    thread_ = std::thread([this, interval, task = std::move(task)] { run(interval, task); });
  }

  // Runs the task as soon as the thread is free, without waiting for the interval.
  void wake() {
    {
      std::lock_guard lock(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  }

  // Stops and joins; a task under way finishes first. Safe to call twice, and from
  // nowhere but outside the task.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool running() const { return thread_.joinable(); }

 private:
  void run(std::chrono::milliseconds interval, const std::function<void()>& task) {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, interval, [this] { return stopping_ || woken_; });
      if (stopping_) break;
      woken_ = false;
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace herald
