// Nonces live per app in stripes chosen by a keyed hash of the app id; each app keeps a
// min-heap of expiries, so expiry pops from the top instead of scanning. Counting per
// app is what keeps one tenant from filling the store for the others.
#include "auth/replay_guard.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/keyed_hash.h"
#include "core/config.h"
#include "core/log.h"
#include "store/nonce_records.h"

namespace herald::auth {
namespace {

constexpr std::size_t kStripes = 16;
constexpr std::int64_t kSweepEveryMs = 1000;

class MemoryNonceStore final : public NonceStore {
 public:
  explicit MemoryNonceStore(std::size_t max_entries) : max_entries_(std::max<std::size_t>(1, max_entries)) {}

  bool seen(std::string_view app_id, std::string_view nonce, std::int64_t now_ms) override {
    Stripe& s = stripe(app_id);
    std::lock_guard lock(s.mu);
    auto a = s.apps.find(app_id);
    if (a == s.apps.end()) return false;
    auto n = a->second.live.find(nonce);
    return n != a->second.live.end() && n->second > now_ms;
  }

  Status use(const NonceUse& u, std::int64_t now_ms) override {
    Stripe& s = stripe(u.app_id);
    std::lock_guard lock(s.mu);
    sweep_if_due(s, now_ms);
    auto a = s.apps.find(u.app_id);
    if (a == s.apps.end()) a = s.apps.emplace(std::string(u.app_id), AppNonces{}).first;
    AppNonces& app = a->second;
    expire(app, now_ms);
    auto n = app.live.find(u.nonce);
    if (n != app.live.end()) return make_error(Errc::kNonceReplayed, "this nonce was used before");
    if (auto st = admit(app.live.size(), u.app_quota); !st) {
      if (app.live.empty()) s.apps.erase(a);
      return st;
    }
    if (app.live.empty()) apps_with_nonces_.fetch_add(1, std::memory_order_relaxed);
    std::string key(u.nonce);
    app.live.emplace(key, u.expires_ms);
    app.expiry.emplace(u.expires_ms, std::move(key));
    total_.fetch_add(1, std::memory_order_relaxed);
    return ok_status();
  }

  std::size_t size() const override { return total_.load(std::memory_order_relaxed); }

 private:
  using Expiry = std::pair<std::int64_t, std::string>;
  struct AppNonces {
    std::unordered_map<std::string, std::int64_t, KeyedHash, std::equal_to<>> live;  // nonce -> expires_ms
    std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> expiry;
  };
  struct Stripe {
    std::mutex mu;
    std::unordered_map<std::string, AppNonces, KeyedHash, std::equal_to<>> apps;
    std::int64_t last_sweep_ms = 0;
  };

  Stripe& stripe(std::string_view app_id) { return stripes_[keyed_hash(app_id) % kStripes]; }

  // The app's own quota first; then, only when the whole store is full, an equal share.
  Status admit(std::size_t held, std::size_t quota) const {
    if (held >= quota)
      return make_error(Errc::kReplayGuardFull,
                        "the app has too many requests in the replay window; try again shortly");
    if (total_.load(std::memory_order_relaxed) >= max_entries_) {
      std::size_t apps = std::max<std::size_t>(1, apps_with_nonces_.load(std::memory_order_relaxed));
      if (held >= max_entries_ / apps)
        return make_error(Errc::kReplayGuardFull, "too many requests in the replay window; try again shortly");
    }
    return ok_status();
  }

  void expire(AppNonces& app, std::int64_t now_ms) {
    if (app.expiry.empty() || app.expiry.top().first > now_ms) return;
    while (!app.expiry.empty() && app.expiry.top().first <= now_ms) {
      app.live.erase(app.expiry.top().second);
      app.expiry.pop();
      total_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (app.live.empty()) apps_with_nonces_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Apps that stopped calling would otherwise hold their count until they call again.
  void sweep_if_due(Stripe& s, std::int64_t now_ms) {
    if (now_ms - s.last_sweep_ms < kSweepEveryMs) return;
    s.last_sweep_ms = now_ms;
    for (auto it = s.apps.begin(); it != s.apps.end();) {
      expire(it->second, now_ms);
      if (it->second.live.empty()) {
        it = s.apps.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::size_t max_entries_;
  std::array<Stripe, kStripes> stripes_;
  std::atomic<std::size_t> total_{0};
  std::atomic<std::size_t> apps_with_nonces_{0};
};

// Writes are not awaited: the nonce is live in memory at once, and a clean stop
// finishes every queued write. A crash loses at most the batch not yet committed.
class DurableNonceStore final : public NonceStore {
 public:
  DurableNonceStore(std::unique_ptr<NonceStore> memory, store::NonceRecords& records)
      : memory_(std::move(memory)), records_(records) {}

  bool seen(std::string_view app_id, std::string_view nonce, std::int64_t now_ms) override {
    return memory_->seen(app_id, nonce, now_ms);
  }

  Status use(const NonceUse& u, std::int64_t now_ms) override {
    if (auto st = memory_->use(u, now_ms); !st) return st;
    std::vector<store::NonceRecord> rec{{std::string(u.app_id), std::string(u.nonce), u.expires_ms}};
    records_.put_nonces(std::move(rec), [](Status st) {
      if (!st) log::warn("nonce_write_failed", {{"error", st.error().message}});
    });
    purge_if_due(now_ms);
    return ok_status();
  }

  std::size_t size() const override { return memory_->size(); }

 private:
  void purge_if_due(std::int64_t now_ms) {
    constexpr std::int64_t kPurgeEveryMs = 60'000;
    std::int64_t last = last_purge_ms_.load(std::memory_order_relaxed);
    if (now_ms - last < kPurgeEveryMs || !last_purge_ms_.compare_exchange_strong(last, now_ms)) return;
    records_.purge_nonces(now_ms, [](Status st) {
      if (!st) log::warn("nonce_purge_failed", {{"error", st.error().message}});
    });
  }

  std::unique_ptr<NonceStore> memory_;
  store::NonceRecords& records_;
  std::atomic<std::int64_t> last_purge_ms_{0};
};

}  // namespace

std::unique_ptr<NonceStore> make_memory_nonce_store(std::size_t max_entries) {
  return std::make_unique<MemoryNonceStore>(max_entries);
}

Result<std::unique_ptr<NonceStore>> make_durable_nonce_store(std::size_t max_entries, store::NonceRecords& records,
                                                             std::int64_t now_ms) {
  auto memory = make_memory_nonce_store(max_entries);
  auto live = records.load_nonces(now_ms);
  if (!live) return live.error();
  // Loaded nonces were admitted under a quota once; they are kept whatever it is now.
  for (const auto& n : *live)
    (void)memory->use(NonceUse{n.app_id, n.nonce, n.expires_ms, static_cast<std::size_t>(-1)}, now_ms);
  return std::unique_ptr<NonceStore>(std::make_unique<DurableNonceStore>(std::move(memory), records));
}

Result<std::unique_ptr<NonceStore>> make_nonce_store(const Config& cfg, store::NonceRecords* records,
                                                     std::int64_t now_ms) {
  if (cfg.api.nonce_store == "memory") return make_memory_nonce_store(cfg.api.replay_max_nonces);
  if (cfg.api.nonce_store == "store") {
    if (!records) return make_error(Errc::kInvalidConfig, "api.nonce_store = store needs the durable store");
    return make_durable_nonce_store(cfg.api.replay_max_nonces, *records, now_ms);
  }
  return make_error(Errc::kInvalidConfig,
                    "api.nonce_store: unknown store '" + cfg.api.nonce_store + "' (known: store, memory)");
}

std::size_t nonce_quota(const Config& cfg, std::uint32_t rate_limit) {
  const std::uint64_t window_s = static_cast<std::uint64_t>(cfg.api.signature_window.count()) / 1000;
  std::uint64_t quota = cfg.api.replay_max_nonces_per_app;
  if (rate_limit > 0) quota = std::uint64_t{rate_limit} * (2 * window_s + 3);
  return static_cast<std::size_t>(std::min<std::uint64_t>(quota, cfg.api.replay_max_nonces));
}

}  // namespace herald::auth
