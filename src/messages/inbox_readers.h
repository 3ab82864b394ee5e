// The threads that answer the client protocol's inbox calls (connect, ack, page), so
// that their store reads never run on an I/O thread. A few lanes, each one thread and a
// bounded queue; the calls of one user go to one lane, so they run in the order made.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace herald::delivery {
class WorkerPool;
}

namespace herald::messages {

class InboxReaders {
 public:
  InboxReaders(std::size_t lanes, std::size_t queue_max_per_lane);
  ~InboxReaders();
  InboxReaders(const InboxReaders&) = delete;
  InboxReaders& operator=(const InboxReaders&) = delete;

  // Queues `job` on the lane of `key`; false, without running it, when that lane's
  // queue is full or the readers are stopped.
  bool try_run(std::string_view key, std::function<void()> job);
  // Refuses new jobs, runs every queued one, joins the threads. Idempotent.
  void stop();

 private:
  std::vector<std::unique_ptr<delivery::WorkerPool>> lanes_;
};

}  // namespace herald::messages
