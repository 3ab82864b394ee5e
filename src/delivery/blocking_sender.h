// BlockingSender: one provider's synchronous delivery of one message, run on a
// delivery worker thread. QueuedSender puts it behind the non-blocking Sender face.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "delivery/sender.h"

namespace herald::delivery {

class BlockingSender {
 public:
  virtual ~BlockingSender() = default;
  virtual std::string_view name() const = 0;
  // Delivers `msg`, blocking for at most the provider's timeout. Called from several
  // workers at once, so implementations keep no per-call state in members. Errors
  // carry the code "delivery_failed" and a message without secrets.
  virtual Status deliver(const OutboundMessage& msg) const = 0;
};

inline Error delivery_failed(std::string message) {
  return make_error(Errc::kDeliveryFailed, std::move(message));
}

// Overwrites a string that held a secret (a code, a body carrying one) before it is freed.
void wipe(std::string& s);

}  // namespace herald::delivery
