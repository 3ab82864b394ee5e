// WitnessQueue: hands signed checkpoints to an external witness (audit.witness_url) on a
// thread of its own, in order, retrying with backoff, so the checkpointer never waits on the network.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.h"

namespace herald::metrics {
class Registry;
class Counter;
class Gauge;
}  // namespace herald::metrics

namespace herald::audit {

// Sends one checkpoint (the JSON of a witness line) and says whether the witness took it.
// The error's message is logged: it must carry no token, body or URL credentials.
using WitnessPoster = std::function<Status(const std::string& checkpoint_json)>;

struct WitnessQueueOptions {
  // Checkpoints waiting at most; beyond it the oldest waiting one is dropped (counted), so
  // after a long outage the witness still receives the newest, which covers the others.
  std::size_t max_pending = 1024;
  std::chrono::milliseconds backoff{1000};        // after the first failure
  std::chrono::milliseconds backoff_max{60'000};  // doubling up to this
};

class WitnessQueue {
 public:
  WitnessQueue(WitnessPoster poster, WitnessQueueOptions opts, metrics::Registry* registry);
  ~WitnessQueue();
  WitnessQueue(const WitnessQueue&) = delete;
  WitnessQueue& operator=(const WitnessQueue&) = delete;

  void start();
  // Gives what is still waiting one more try each (no backoff; the first failure ends
  // it), then joins the thread. What is left is lost; the next start's first checkpoint covers it.
  void stop();
  // Queues a checkpoint; takes a mutex, never waits on the witness.
  void push(std::string checkpoint_json);
  std::size_t pending() const;

 private:
  void run();
  // Posts the front of the queue; true when the witness took it.
  bool post_front();

  WitnessPoster poster_;
  WitnessQueueOptions opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool posting_ = false;  // the front is being posted: never dropped from under the poster
  bool stopping_ = false;
  std::thread thread_;

  metrics::Counter* m_delivered_ = nullptr;
  metrics::Counter* m_failed_ = nullptr;
  metrics::Counter* m_dropped_ = nullptr;
  metrics::Gauge* m_pending_ = nullptr;
};

}  // namespace herald::audit
