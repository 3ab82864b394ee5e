// Nonces live in striped hash sets; each stripe also keeps its nonces in the order they
// were used, so expiry pops from the front instead of scanning.
#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_set>

#include "auth/replay_guard.h"
#include "core/config.h"

namespace herald::auth {
namespace {

constexpr std::size_t kStripes = 16;

class MemoryNonceStore final : public NonceStore {
 public:
  MemoryNonceStore(std::size_t max_entries, std::int64_t ttl_ms)
      : per_stripe_max_(std::max<std::size_t>(1, max_entries / kStripes)), ttl_ms_(ttl_ms) {}

  Status use(std::string_view app_id, std::string_view nonce, std::int64_t now_ms) override {
    std::string key;
    key.reserve(app_id.size() + 1 + nonce.size());
    key.append(app_id).push_back('\x1f');
    key.append(nonce);
    Stripe& s = stripes_[std::hash<std::string>{}(key) % kStripes];
    std::lock_guard lock(s.mu);
    while (!s.order.empty() && s.order.front().expires_ms <= now_ms) {
      s.live.erase(s.order.front().key);
      s.order.pop_front();
      size_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (s.live.count(key)) return make_error(Errc::kNonceReplayed, "this nonce was used before");
    if (s.live.size() >= per_stripe_max_)
      return make_error(Errc::kReplayGuardFull, "too many requests in the replay window; try again shortly");
    s.live.insert(key);
    s.order.push_back(Entry{now_ms + ttl_ms_, std::move(key)});
    size_.fetch_add(1, std::memory_order_relaxed);
    return ok_status();
  }

  std::size_t size() const override { return size_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::int64_t expires_ms;
    std::string key;
  };
  struct Stripe {
    std::mutex mu;
    std::unordered_set<std::string> live;
    std::deque<Entry> order;
  };
  std::size_t per_stripe_max_;
  std::int64_t ttl_ms_;
  std::array<Stripe, kStripes> stripes_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace

std::unique_ptr<NonceStore> make_memory_nonce_store(std::size_t max_entries, std::int64_t ttl_ms) {
  return std::make_unique<MemoryNonceStore>(max_entries, ttl_ms);
}

Result<std::unique_ptr<NonceStore>> make_nonce_store(const Config& cfg) {
  if (cfg.api.nonce_store == "memory")
    return make_memory_nonce_store(cfg.api.replay_max_nonces, 2 * cfg.api.signature_window.count());
  return make_error(Errc::kInvalidConfig,
                    "api.nonce_store: unknown store '" + cfg.api.nonce_store + "' (known: memory)");
}

}  // namespace herald::auth
