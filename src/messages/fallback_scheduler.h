// The fallback schedule (docs/messages.md#fallback): while nobody acknowledges a message,
// its channels are tried one after another (webhook, e-mail, SMS) at created + (n+1)*T;
// webhook attempts are retried with backoff and dead-lettered when they give up; messages
// expire at their ttl and their rows are purged after retention. The schedule lives in
// the store (each message's due time), so it resumes after a restart. Each pass claims
// the due rows it works on (a lease, docs/cluster.md#leases), so that nodes sharing one
// database run each step, attempt and expiry once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/periodic_thread.h"
#include "core/result.h"
#include "messages/message_types.h"
#include "store/message_records.h"

namespace herald::kms {
class KeyService;
}
namespace herald::delivery {
class Senders;
}

namespace herald::messages {

class AppDeliverySettings;
class InboxIndex;
struct MessageContent;
struct MessageMetrics;

class FallbackScheduler {
 public:
  struct Deps {
    const MessagesConfig& cfg;
    store::MessageRecords& records;
    kms::KeyService& keys;
    delivery::Senders* senders;  // may be null: e-mail and SMS steps fail with no_provider
    WebhookPoster webhooks;      // may be empty: webhook steps fail with no_webhook_url
    AppDeliverySettings& apps;
    InboxIndex& inbox;
    MessageMetrics& metrics;
    Clock clock;
    const std::atomic<bool>& loaded;  // false: the service is not loaded, and tick() does nothing
  };
  explicit FallbackScheduler(Deps d);
  FallbackScheduler(const FallbackScheduler&) = delete;
  FallbackScheduler& operator=(const FallbackScheduler&) = delete;

  // Names this node's leases: `node` (cluster.node_name) and a random suffix made once
  // per scheduler (so once per process), so a restarted node never takes its dead predecessor's leases for its
  // own; each claim lasts `duration` (cluster.lease). Before start(). Without it the
  // owner is "herald" with the suffix, and leases last 30 s.
  void set_lease(const std::string& node, std::chrono::milliseconds duration);
  const std::string& lease_owner() const { return owner_; }
  // The scheduler thread runs tick() every messages.poll_interval; stop() joins it.
  void start();
  void stop();
  // One pass: expiries, fallback steps, webhook attempts and purges due at `now_ms`.
  void tick(std::int64_t now_ms);
  // Work a pass started and that is not finished yet (writes, sends, webhook requests).
  std::size_t in_flight() const;
  // Waits until in_flight() is 0, or `timeout`; false on timeout.
  bool wait_idle(std::chrono::milliseconds timeout);

  Result<std::vector<DeadLetter>> dead_letters(const std::string& app_id, std::size_t limit);
  // Queues `m`'s dead webhook job again from its first attempt; "dead_letter_not_found"
  // when it has none.
  void replay(const store::MessageRecord& m, Done<std::string> done);

 private:
  // The work of one message under way; what ends it calls finish().
  enum class Work { step, webhook };

  void run_due_messages(std::int64_t now_ms);
  void run_due_webhooks(std::int64_t now_ms);
  bool begin(Work w, std::uint64_t seq);
  void finish(Work w, std::uint64_t seq);
  void begin_send();
  void end_send();

  // The fallback step state machine: one of these per due message.
  void step_message(const store::MessageRecord& m, std::int64_t now_ms);
  void expire(const store::MessageRecord& m, std::int64_t now_ms);
  store::MessageChange next_step(const store::MessageRecord& m, const MessageContent& c, std::int64_t now_ms) const;
  void webhook_step(const store::MessageRecord& m, store::MessageChange c, std::int64_t now_ms);
  void contact_step(const store::MessageRecord& m, const MessageContent& content, const std::string& channel,
                    store::MessageChange c, std::int64_t now_ms);
  void fail_step(store::MessageChange c, const std::string& channel, std::string why, std::int64_t now_ms);
  // Writes a step; `then` runs when it applied (the message was still pending).
  void apply(store::MessageChange c, std::function<void()> then = {});
  void record_send(std::uint64_t seq, const std::string& channel, const Status& st);

  // Webhook attempts.
  void attempt_webhook(const store::MessageRecord& m, int attempts, std::int64_t now_ms);
  void cancel_webhook(const store::WebhookJobRecord& j, std::int64_t now_ms);
  void settle_webhook(std::uint64_t seq, const std::string& app_id, int attempts, const delivery::WebhookOutcome& out);
  void count_webhook(const std::string& outcome);
  store::LeaseHolder held(int at) const { return store::LeaseHolder{owner_, at}; }
  std::int64_t retry_delay_ms(int attempts, std::optional<std::int64_t> retry_after_s) const;

  Deps d_;
  std::string suffix_;
  std::string owner_;
  std::chrono::milliseconds lease_{30'000};
  PeriodicThread thread_;
  mutable std::mutex flight_mu_;
  std::condition_variable idle_cv_;
  std::unordered_set<std::uint64_t> steps_in_flight_;
  std::unordered_set<std::uint64_t> webhooks_in_flight_;
  std::size_t sends_in_flight_ = 0;
};

}  // namespace herald::messages
