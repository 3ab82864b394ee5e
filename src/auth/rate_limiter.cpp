// Token buckets in striped maps; refill is computed from elapsed time, so there is no
// timer and an idle key costs nothing but its entry.
#include "auth/rate_limiter.h"

#include <algorithm>
#include <array>
#include <mutex>
#include <string>
#include <unordered_map>

#include "auth/keyed_hash.h"
#include "core/config.h"

namespace herald::auth {
namespace {

constexpr std::size_t kStripes = 16;

class MemoryRateLimiter final : public RateLimiter {
 public:
  explicit MemoryRateLimiter(std::size_t max_keys) : per_stripe_max_(std::max<std::size_t>(1, max_keys / kStripes)) {}

  RateDecision take(std::string_view key, double per_second, double burst, std::int64_t now_ms) override {
    std::string k(key);
    // Keyed: client addresses are chosen by whoever connects.
    Stripe& s = stripes_[keyed_hash(k) % kStripes];
    std::lock_guard lock(s.mu);
    auto it = s.buckets.find(k);
    if (it == s.buckets.end()) {
      if (s.buckets.size() >= per_stripe_max_) evict_oldest(s);
      it = s.buckets.emplace(std::move(k), Bucket{burst, now_ms}).first;
    }
    Bucket& b = it->second;
    double elapsed = static_cast<double>(std::max<std::int64_t>(0, now_ms - b.last_ms)) / 1000.0;
    b.tokens = std::min(burst, b.tokens + elapsed * per_second);
    b.last_ms = now_ms;
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      return RateDecision{true, 0};
    }
    double wait_s = per_second > 0 ? (1.0 - b.tokens) / per_second : 1.0;
    return RateDecision{false, static_cast<std::int64_t>(wait_s * 1000.0) + 1};
  }

 private:
  struct Bucket {
    double tokens;
    std::int64_t last_ms;
  };
  struct Stripe {
    std::mutex mu;
    std::unordered_map<std::string, Bucket, KeyedHash> buckets;
  };
  static void evict_oldest(Stripe& s) {
    auto oldest = std::min_element(s.buckets.begin(), s.buckets.end(),
                                   [](const auto& a, const auto& b) { return a.second.last_ms < b.second.last_ms; });
    if (oldest != s.buckets.end()) s.buckets.erase(oldest);
  }
  std::size_t per_stripe_max_;
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace

std::unique_ptr<RateLimiter> make_memory_rate_limiter(std::size_t max_keys) {
  return std::make_unique<MemoryRateLimiter>(max_keys);
}

Result<std::unique_ptr<RateLimiter>> make_rate_limiter(const Config& cfg) {
  // Keys are apps and client addresses; this many is far above one node's working set.
  constexpr std::size_t kMaxKeys = 100'000;
  if (cfg.api.rate_limit_store == "memory") return make_memory_rate_limiter(kMaxKeys);
  return make_error(Errc::kInvalidConfig,
                    "api.rate_limit_store: unknown store '" + cfg.api.rate_limit_store + "' (known: memory)");
}

}  // namespace herald::auth
