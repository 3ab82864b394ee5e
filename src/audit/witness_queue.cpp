// One thread posts checkpoints front to back: a failure keeps the front in place and
// waits (doubling, capped), so the witness sees checkpoints in the order they were signed.
#include "audit/witness_queue.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "core/log.h"
#include "core/metrics.h"

namespace herald::audit {

WitnessQueue::WitnessQueue(WitnessPoster poster, WitnessQueueOptions opts, metrics::Registry* registry)
    : poster_(std::move(poster)), opts_(opts) {
  if (opts_.max_pending == 0) opts_.max_pending = 1;
  if (!registry) return;
  auto& posts = registry->counter("herald_audit_witness_posts_total",
                                  "Attempts to post a checkpoint to audit.witness_url, by outcome (delivered, failed)",
                                  {"outcome"});
  m_delivered_ = &posts.with({"delivered"});
  m_failed_ = &posts.with({"failed"});
  m_dropped_ = &registry
                    ->counter("herald_audit_witness_dropped_total",
                              "Checkpoints never posted to audit.witness_url: the oldest waiting, when "
                              "audit.witness_url was unreachable for too long")
                    .with({});
  m_pending_ = &registry->gauge("herald_audit_witness_pending", "Checkpoints waiting to be posted to audit.witness_url")
                    .with({});
}

WitnessQueue::~WitnessQueue() {
  stop();
}

void WitnessQueue::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void WitnessQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WitnessQueue::push(std::string checkpoint_json) {
  {
    std::lock_guard lock(mu_);
    // The front may be on its way to the witness; the next oldest goes instead.
    const std::size_t oldest = posting_ ? 1 : 0;
    if (queue_.size() >= opts_.max_pending && queue_.size() > oldest) {
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(oldest));
      if (m_dropped_) m_dropped_->inc();
    }
    queue_.push_back(std::move(checkpoint_json));
    if (m_pending_) m_pending_->set(static_cast<std::int64_t>(queue_.size()));
  }
  cv_.notify_all();
}

std::size_t WitnessQueue::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool WitnessQueue::post_front() {
  std::unique_lock lock(mu_);
  if (queue_.empty()) return true;
  posting_ = true;
  std::string body = queue_.front();
  lock.unlock();
  Status st = make_error(Errc::kInternal, "the witness poster threw");
  try {
    st = poster_(body);
  } catch (const std::exception&) {
  }
  lock.lock();
  posting_ = false;
  if (st) {
    queue_.pop_front();
    if (m_pending_) m_pending_->set(static_cast<std::int64_t>(queue_.size()));
    if (m_delivered_) m_delivered_->inc();
    return true;
  }
  if (m_failed_) m_failed_->inc();
  log::warn("audit_witness_post_failed", {{"error", st.error().message}, {"pending", queue_.size()}});
  return false;
}

void WitnessQueue::run() {
  auto backoff = opts_.backoff;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
    }
    if (post_front()) {
      backoff = opts_.backoff;
      continue;
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) break;
    backoff = std::min(backoff * 2, opts_.backoff_max);
  }
  // Stopping: the final checkpoint is usually still here; one try each, no waiting.
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) return;
    }
    if (!post_front()) return;
  }
}

}  // namespace herald::audit
