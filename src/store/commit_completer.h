// What both store writers (sqlite, postgres) do after a commit: count it, and run the
// batch's completions on a thread of their own, in commit order, so the writer can start
// on the next batch at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "store/store.h"

namespace herald::metrics {
class Counter;
class Histogram;
class Registry;
}  // namespace herald::metrics

namespace herald::store {

void mark_store_thread();

class CommitCompleter {
 public:
  explicit CommitCompleter(metrics::Registry* metrics);
  ~CommitCompleter();
  CommitCompleter(const CommitCompleter&) = delete;
  CommitCompleter& operator=(const CommitCompleter&) = delete;

  void start();
  // Runs every completion handed over so far, then joins the thread.
  void stop();

  // One committed batch of `writes` that took `seconds`.
  void record(std::size_t writes, double seconds);
  // Queues the batch's completions with their results; waits while too many batches
  // wait already, so that a slow completion slows the writer instead of growing memory.
  void hand_over(std::vector<Completion> dones, std::vector<Status> results);
  // The same for a writer's batch of (write, completion) pairs.
  template <class Batch>
  void hand_over_batch(Batch& batch, std::vector<Status> results) {
    std::vector<Completion> dones;
    dones.reserve(batch.size());
    for (auto& item : batch) dones.push_back(std::move(item.second));
    hand_over(std::move(dones), std::move(results));
  }
  // A write or completion threw (a bug in it; caught and logged by the caller).
  void count_exception();
  StoreStats stats() const;

 private:
  struct Done {
    std::vector<Completion> dones;
    std::vector<Status> results;
  };
  void loop();
  void run(Completion& done, Status result);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Done> queue_;
  bool stopping_ = false;
  std::thread thread_;

  std::atomic<std::uint64_t> commits_{0}, writes_{0}, max_batch_{0};
  metrics::Counter* m_commits_ = nullptr;
  metrics::Counter* m_writes_ = nullptr;
  metrics::Histogram* m_batch_ = nullptr;
  metrics::Histogram* m_commit_seconds_ = nullptr;
  metrics::Counter* m_exceptions_ = nullptr;
};

}  // namespace herald::store
