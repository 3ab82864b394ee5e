// WorkerPool: the outbound delivery threads and their bounded queue. A job that finds
// the queue full is refused at once (the caller answers delivery_busy) rather than
// letting memory or latency grow without bound behind a slow provider.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace herald::delivery {

class WorkerPool {
 public:
  enum class Submit { queued, full, stopped };

  // Starts `workers` threads; at most `queue_max` jobs wait for one of them.
  WorkerPool(std::size_t workers, std::size_t queue_max);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` unless the queue is full or the pool is stopping; a refused job is
  // dropped without running.
  Submit try_submit(std::function<void()> job);

  // Refuses new jobs, runs every queued one, then joins the threads. Idempotent; must
  // not be called from a job.
  void stop();

  std::size_t queued() const;

 private:
  void run();

  const std::size_t queue_max_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::mutex join_mu_;
  std::vector<std::thread> threads_;
};

}  // namespace herald::delivery
