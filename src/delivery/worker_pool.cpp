// The outbound worker threads: each takes the oldest job, runs it outside the lock,
// and exits only when the pool stops and the queue is empty.
#include "delivery/worker_pool.h"

#include <exception>

#include "core/log.h"

namespace herald::delivery {

WorkerPool::WorkerPool(std::size_t workers, std::size_t queue_max) : queue_max_(queue_max) {
  if (workers == 0) workers = 1;
  threads_.reserve(workers);
  for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { run(); });
}

WorkerPool::~WorkerPool() {
  stop();
}

WorkerPool::Submit WorkerPool::try_submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Submit::stopped;
    if (queue_.size() >= queue_max_) return Submit::full;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return Submit::queued;
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  std::lock_guard join_lock(join_mu_);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

std::size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void WorkerPool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to drain
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    // A job that throws must not take the worker (and every later job) with it.
    try {
      job();
    } catch (const std::exception& e) {
      log::error("delivery_job_failed", {{"error", e.what()}});
    } catch (...) {
      log::error("delivery_job_failed", {{"error", "unknown exception"}});
    }
  }
}

}  // namespace herald::delivery
