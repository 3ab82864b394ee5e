// How messages leave Herald for the outside world (e-mail, SMS): a Sender per
// channel, chosen by configuration (docs/delivery.md). Senders never block the
// caller: work goes to delivery's own worker threads and `done` reports the outcome.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace herald {
struct DeliveryConfig;
}
namespace herald::metrics {
class Registry;
}

namespace herald::delivery {

struct OutboundMessage {
  std::string channel;  // "email" or "sms"
  std::string to;       // e-mail address or E.164 phone number
  std::string subject;  // e-mail only
  std::string text;     // the message body (plain text)
  // A secret inside `text` (a verification code) that must never be logged in clear:
  // the log sender masks it unless it runs in development mode.
  std::string secret;
  std::string reference;  // for logs: the verification or message id
};

// Called once: ok, or an error with code "delivery_failed" (the provider refused or
// could not be reached; message says why, without secrets) or "delivery_busy" (the
// outbound queue is full, or delivery is stopping). Outcomes of a send that ran arrive
// on a delivery worker thread; "delivery_busy" is answered at once, inside send(), on
// the caller's thread — so `done` must not take a lock the caller holds around send().
using SendDone = std::function<void(Status)>;

class Sender {
 public:
  virtual ~Sender() = default;
  virtual std::string_view name() const = 0;  // "log", "smtp", "http", "twilio", ...
  virtual void send(OutboundMessage msg, SendDone done) = 0;
};

// The senders of one server: one per channel, sharing the outbound worker pool.
class Senders {
 public:
  virtual ~Senders() = default;
  // The sender for "email" or "sms"; null for an unknown channel.
  virtual Sender* for_channel(std::string_view channel) = 0;
  // Finishes queued sends (bounded by their timeouts), then stops the workers.
  virtual void stop() = 0;
};

// Builds the senders from [delivery]. Fails with "invalid_config" naming the key when
// the configuration cannot work (smtp without url or from, a non-https SMS url, an
// unreadable CA file, ...). `dev` lets the log sender show codes in clear.
Result<std::unique_ptr<Senders>> make_senders(const DeliveryConfig& cfg, bool dev, metrics::Registry* metrics);

}  // namespace herald::delivery
