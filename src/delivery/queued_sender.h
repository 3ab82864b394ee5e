// QueuedSender: a Sender that hands each message to the shared worker pool, where a
// BlockingSender delivers it; counts and times every outcome.
#pragma once

#include <memory>
#include <string>

#include "delivery/blocking_sender.h"
#include "delivery/sender.h"
#include "delivery/worker_pool.h"

namespace herald::metrics {
class Counter;
class Histogram;
}  // namespace herald::metrics

namespace herald::delivery {

class QueuedSender final : public Sender {
 public:
  // `pool` must outlive this sender; `metrics` may be null.
  QueuedSender(std::string channel, std::unique_ptr<BlockingSender> impl, WorkerPool& pool, metrics::Registry* metrics);

  std::string_view name() const override { return impl_->name(); }
  void send(OutboundMessage msg, SendDone done) override;

 private:
  void run(OutboundMessage& msg, const SendDone& done) const;

  std::string channel_;
  std::unique_ptr<BlockingSender> impl_;
  WorkerPool& pool_;
  metrics::Counter* ok_ = nullptr;
  metrics::Counter* failed_ = nullptr;
  metrics::Counter* busy_ = nullptr;
  metrics::Histogram* seconds_ = nullptr;
};

}  // namespace herald::delivery
