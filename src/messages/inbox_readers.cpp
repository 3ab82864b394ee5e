// Inbox reader lanes over single-thread worker pools.
#include "messages/inbox_readers.h"

#include <string>

#include "delivery/worker_pool.h"

namespace herald::messages {

InboxReaders::InboxReaders(std::size_t lanes, std::size_t queue_max_per_lane) {
  if (lanes == 0) lanes = 1;
  for (std::size_t i = 0; i < lanes; ++i)
    lanes_.push_back(std::make_unique<delivery::WorkerPool>(1, queue_max_per_lane));
}

InboxReaders::~InboxReaders() {
  stop();
}

bool InboxReaders::try_run(std::string_view key, std::function<void()> job) {
  auto& lane = *lanes_[std::hash<std::string_view>{}(key) % lanes_.size()];
  return lane.try_submit(std::move(job)) == delivery::WorkerPool::Submit::queued;
}

void InboxReaders::stop() {
  for (auto& lane : lanes_) lane->stop();
}

}  // namespace herald::messages
