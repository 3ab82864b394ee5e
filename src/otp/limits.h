// Abuse limits of the verification-code service: counters of events per key and
// window, taken all-or-nothing so that a refused send counts against no limit.
// The memory implementation is the authority on one server (its changes are written
// behind, with the verification they allowed); cluster mode puts them in Redis.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "store/otp_records.h"

namespace herald::otp {

enum class Limit { App, Cooldown, Recipient, Device, Ip, Prefix, Capacity };

// The API error code of a refusal by this limit (docs/otp.md), and its metric label.
Errc limit_error_code(Limit l);
std::string_view limit_label(Limit l);

struct LimitCheck {
  Limit limit;
  std::string key;        // the counter; unique per limit, app and subject
  std::uint64_t max = 0;  // events allowed per window
  std::int64_t window_ms = 0;
  // true: fixed windows aligned to the Unix epoch (a day window resets at 00:00 UTC);
  // false: the window starts at the first event (the resend cooldown).
  bool aligned = true;
};

struct LimitRefusal {
  Limit limit;
  std::int64_t retry_after_s = 0;  // until the window ends (at least 1)
};

using LimitOutcome = std::variant<std::vector<store::OtpCounterRecord>, LimitRefusal>;

class LimitCounters {
 public:
  virtual ~LimitCounters() = default;
  // If every check has room, counts one event on each and returns the counters' new
  // state; otherwise counts nothing and names the first full check in `checks` order.
  // Refuses with Limit::Capacity when a new counter would exceed the size bound.
  virtual LimitOutcome take(std::span<const LimitCheck> checks, std::int64_t now_ms) = 0;
  // Restores counters (at start-up); ended windows are ignored.
  virtual void restore(const std::vector<store::OtpCounterRecord>& records, std::int64_t now_ms) = 0;
  // Forgets counters whose window ended; returns how many.
  virtual std::size_t purge(std::int64_t now_ms) = 0;
  virtual std::size_t size() const = 0;
  virtual void clear() = 0;
};

std::unique_ptr<LimitCounters> make_memory_limit_counters(std::size_t max_counters);

}  // namespace herald::otp
