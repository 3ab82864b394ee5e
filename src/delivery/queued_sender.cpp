// Queueing, timing and counting around a provider's blocking delivery.
#include "delivery/queued_sender.h"

#include <openssl/crypto.h>

#include <chrono>
#include <exception>

#include "core/log.h"
#include "core/metrics.h"

namespace herald::delivery {

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

QueuedSender::QueuedSender(std::string channel, std::unique_ptr<BlockingSender> impl, WorkerPool& pool,
                           metrics::Registry* metrics)
    : channel_(std::move(channel)), impl_(std::move(impl)), pool_(pool) {
  if (!metrics) return;
  auto& sends = metrics->counter("herald_delivery_sends_total",
                                 "Outbound e-mail and SMS sends, by channel, provider and result (ok, failed, busy).",
                                 {"channel", "provider", "result"});
  const std::string provider(impl_->name());
  ok_ = &sends.with({channel_, provider, "ok"});
  failed_ = &sends.with({channel_, provider, "failed"});
  busy_ = &sends.with({channel_, provider, "busy"});
  seconds_ = &metrics
                  ->histogram("herald_delivery_send_seconds",
                              "Time one outbound send took at the provider, in seconds.", {"channel", "provider"})
                  .with({channel_, provider});
}

void QueuedSender::send(OutboundMessage msg, SendDone done) {
  auto result = pool_.try_submit([this, msg = std::move(msg), done]() mutable { run(msg, done); });
  if (result == WorkerPool::Submit::queued) return;
  if (busy_) busy_->inc();
  log::warn("delivery_busy", {{"channel", channel_}, {"provider", impl_->name()}});
  done(make_error(Errc::kDeliveryBusy, result == WorkerPool::Submit::full ? "the outbound delivery queue is full"
                                                                          : "outbound delivery is stopping"));
}

void QueuedSender::run(OutboundMessage& msg, const SendDone& done) const {
  const auto start = std::chrono::steady_clock::now();
  Status status = ok_status();
  try {
    status = impl_->deliver(msg);
  } catch (const std::exception&) {
    status = delivery_failed("internal error while sending");
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (seconds_) seconds_->observe(seconds);
  if (status.ok()) {
    if (ok_) ok_->inc();
  } else {
    if (failed_) failed_->inc();
    log::warn("delivery_failed", {{"channel", channel_},
                                  {"provider", impl_->name()},
                                  {"reference", msg.reference},
                                  {"error", status.error().message}});
  }
  wipe(msg.secret);
  wipe(msg.text);
  done(std::move(status));
}

}  // namespace herald::delivery
