// The verification-code service (docs/otp.md): send a code to a phone or e-mail address
// under abuse limits, verify it, and redeem the success token once for its purpose.
// Codes are kept only as keyed hashes; verifications are sealed at rest under the app's
// key and written through the store before any answer depends on them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/periodic_thread.h"
#include "core/result.h"
#include "otp/blocklist.h"
#include "otp/limits.h"
#include "otp/templates.h"

namespace herald::store {
class Store;
}
namespace herald::kms {
class KeyService;
}
namespace herald::delivery {
class Sender;
class Senders;
struct OutboundMessage;
}  // namespace herald::delivery
namespace herald::metrics {
class Registry;
class Counter;
class Gauge;
}  // namespace herald::metrics

namespace herald::otp {

struct Verification;

struct SendRequest {
  std::string app_id;
  std::string app_name;  // {app} in templates
  std::string to;        // E.164 phone number or e-mail address
  std::string channel;   // "sms" or "email"
  std::string device_id;
  std::string purpose;
  std::string template_name;  // optional
  std::string locale;         // optional
  std::string client_ip;      // the end user's address (the per-IP limit)
};

struct SendResult {
  std::string verification_id;
  std::int64_t expires_in_s = 0;
  std::int64_t resend_after_s = 0;
};

struct VerifyResult {
  std::string success_token;
  std::int64_t expires_in_s = 0;
};

struct RedeemResult {
  std::string to;
  std::string device_id;
  std::string purpose;
};

class OtpService {
 public:
  // `senders` may be null (every send then fails with delivery_failed); `clock` null
  // means the system clock.
  OtpService(const OtpConfig& cfg, store::Store& store, kms::KeyService& keys, delivery::Senders* senders,
             std::unique_ptr<LimitCounters> counters, Templates templates, metrics::Registry* metrics,
             Clock clock = nullptr);
  ~OtpService();
  OtpService(const OtpService&) = delete;
  OtpService& operator=(const OtpService&) = delete;

  // At unseal: reads verifications, counters and the blocklist from the store.
  Status load();
  // At seal: forgets everything held in memory.
  void unload();
  // Another node changed a blocklist: read the blocklists again.
  Status reload_blocklist();
  // A thread that purges ended verifications and counters every `interval`.
  void start_purger(std::chrono::milliseconds interval);
  void stop();

  void send(SendRequest req, Done<SendResult> done);
  void verify(const std::string& app_id, const std::string& verification_id, const std::string& code,
              Done<VerifyResult> done);
  void redeem(const std::string& app_id, const std::string& token, const std::string& purpose, Done<RedeemResult> done);

  // The app's blocklist (admin API and CLI). Errors: "invalid_argument", "sealed",
  // "store_unavailable".
  void block(const std::string& app_id, const std::string& to, const std::string& reason, Done<BlockEntry> done);
  // Done with true if the recipient was on the list.
  void unblock(const std::string& app_id, const std::string& to, Done<bool> done);
  Result<std::vector<BlockEntry>> blocked(const std::string& app_id);

  // Ends what has ended, in memory and in the store.
  void purge();
  std::size_t pending() const;

 private:
  struct Shard;
  struct Metrics;
  std::shared_ptr<Verification> find(const std::string& id);
  void persist(const std::shared_ptr<Verification>& v, std::vector<store::OtpCounterRecord> counters,
               std::function<void(Status)> done);
  void forget(const std::string& id);
  // Steps of send(): hold the new verification, then store it, send its code, and store
  // what became of it.
  void hold(const std::shared_ptr<Verification>& v);
  void deliver(std::shared_ptr<Verification> v, delivery::Sender* sender, delivery::OutboundMessage msg,
               SendResult result, std::vector<store::OtpCounterRecord> counters, Done<SendResult> done);
  // A step of verify(): counts a wrong code.
  void record_wrong_code(const std::shared_ptr<Verification>& v, Done<VerifyResult> done);
  std::int64_t now() const;
  bool is_test_recipient(const std::string& normalized) const;

  OtpConfig cfg_;
  store::Store& store_;
  kms::KeyService& keys_;
  delivery::Senders* senders_;
  std::unique_ptr<LimitCounters> counters_;
  Templates templates_;
  Clock clock_;
  std::vector<std::string> test_recipients_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<std::size_t> held_{0};
  Blocklist blocklist_;
  std::unique_ptr<Metrics> m_;
  PeriodicThread purger_;  // last: purge() uses the members above until stop() joins it
};

}  // namespace herald::otp
