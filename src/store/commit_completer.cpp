// The commit counters and the completer thread both store writers share.
#include "store/commit_completer.h"

#include "core/log.h"
#include "core/metrics.h"

namespace herald::store {
namespace {

constexpr std::size_t kMaxWaitingBatches = 4;

}  // namespace

CommitCompleter::CommitCompleter(metrics::Registry* metrics) {
  if (!metrics) return;
  auto& r = *metrics;
  m_commits_ = &r.counter("herald_store_commits_total", "Transactions committed by the store writer").with({});
  m_writes_ = &r.counter("herald_store_writes_total", "Writes made durable by the store writer").with({});
  m_batch_ = &r.histogram("herald_store_commit_batch_size", "Writes folded into one group commit", {},
                          {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096})
                  .with({});
  m_commit_seconds_ =
      &r.histogram("herald_store_commit_seconds", "Time to commit one batch, fsync included", {}).with({});
  m_exceptions_ = &r.counter("herald_store_callback_exceptions_total",
                             "Exceptions thrown by store writes or completion callbacks (caught; a bug)")
                       .with({});
}

CommitCompleter::~CommitCompleter() {
  stop();
}

void CommitCompleter::start() {
  thread_ = std::thread([this] { loop(); });
}

void CommitCompleter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void CommitCompleter::record(std::size_t writes, double seconds) {
  commits_.fetch_add(1, std::memory_order_relaxed);
  writes_.fetch_add(writes, std::memory_order_relaxed);
  if (writes > max_batch_.load()) max_batch_ = writes;
  if (m_commits_) {
    m_commits_->inc();
    m_writes_->inc(writes);
    m_batch_->observe(static_cast<double>(writes));
    m_commit_seconds_->observe(seconds);
  }
}

void CommitCompleter::hand_over(std::vector<Completion> dones, std::vector<Status> results) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.size() < kMaxWaitingBatches; });
  queue_.push_back(Done{std::move(dones), std::move(results)});
  cv_.notify_all();
}

void CommitCompleter::count_exception() {
  if (m_exceptions_) m_exceptions_->inc();
}

StoreStats CommitCompleter::stats() const {
  return StoreStats{commits_.load(), writes_.load(), max_batch_.load()};
}

void CommitCompleter::loop() {
  mark_store_thread();
  for (;;) {
    Done d;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;
      d = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
    }
    for (std::size_t i = 0; i < d.dones.size(); ++i)
      if (d.dones[i]) run(d.dones[i], std::move(d.results[i]));
  }
}

// A completion that throws is a bug in its caller's code. Its caller has been told (the
// callback ran), so all that is left is to log it and go on with the others: the thread
// must survive for every later write.
void CommitCompleter::run(Completion& done, Status result) {
  try {
    done(std::move(result));
    return;
  } catch (const std::exception& e) {
    log::error("store_completion_threw", {{"error", e.what()}});
  } catch (...) {
    log::error("store_completion_threw", {{"error", "unknown exception"}});
  }
  count_exception();
}

}  // namespace herald::store
