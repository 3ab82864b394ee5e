// Request rate limits: token buckets by key (an app, an IP). An interface, so that
// cluster mode can keep the counters in Redis; this process keeps them in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/result.h"

namespace herald {
struct Config;
}

namespace herald::auth {

struct RateDecision {
  bool allowed = true;
  std::int64_t retry_after_ms = 0;  // when refused: until one token is back
};

// The counters behind every server-API rate limit: a memory implementation here, and
// the seam for a shared one (Redis) so that a cluster's nodes draw from one bucket.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Takes one token from `key`'s bucket of size `burst`, refilled at `per_second`.
  virtual RateDecision take(std::string_view key, double per_second, double burst, std::int64_t now_ms) = 0;
};

// Memory buckets; at most `max_keys` (the least recently refilled are forgotten first,
// which only ever makes a forgotten key's bucket full again).
std::unique_ptr<RateLimiter> make_memory_rate_limiter(std::size_t max_keys);

// The buckets named by `api.rate_limit_store`; an unknown name is an "invalid_config" error.
Result<std::unique_ptr<RateLimiter>> make_rate_limiter(const Config& cfg);

}  // namespace herald::auth
