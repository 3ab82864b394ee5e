// Idempotency keys of the server API: a retried request with the same key gets the
// first answer, and the work runs once. The claims live behind IdempotencyStore (memory
// here: bounded, expiring, forgotten on restart; a shared store in cluster mode).
#pragma once

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "api/http.h"
#include "core/config.h"
#include "core/result.h"

namespace herald::api {

// The claim table: who is running the work for a key, and the answer once it is known.
class IdempotencyStore {
 public:
  struct Claim {
    bool owner = false;              // run the work, then finish() or abandon()
    std::optional<Response> stored;  // or: the first answer, still within its ttl
  };
  virtual ~IdempotencyStore() = default;
  // Claims `key`. While another caller holds it, waits for that caller's finish() (and
  // returns its answer) or abandon() (and tries again), so the work runs at most once.
  virtual Claim claim(const std::string& key, std::int64_t now_ms) = 0;
  // The owner's answer: kept for the ttl and handed to every waiter.
  virtual void finish(const std::string& key, const Response& r, std::int64_t now_ms) = 0;
  // The owner gives the key up without an answer; the next claim runs the work.
  virtual void abandon(const std::string& key) = 0;
};

namespace detail {

// Striped so that unrelated keys rarely share a lock; no lock is held while work runs.
class MemoryIdempotencyStore final : public IdempotencyStore {
 public:
  MemoryIdempotencyStore(std::size_t max_keys, std::int64_t ttl_ms)
      : per_stripe_max_(std::max<std::size_t>(1, max_keys / kStripes)), ttl_ms_(ttl_ms) {}

  Claim claim(const std::string& key, std::int64_t now_ms) override {
    Stripe& s = stripe(key);
    std::unique_lock lock(s.mu);
    evict(s, now_ms);
    for (;;) {
      auto it = s.entries.find(key);
      if (it == s.entries.end()) {
        s.entries.emplace(key, Entry{});
        return Claim{true, std::nullopt};
      }
      if (it->second.done) return Claim{false, it->second.response};
      s.cv.wait(lock);  // the owner is running the work
    }
  }

  void finish(const std::string& key, const Response& r, std::int64_t now_ms) override {
    Stripe& s = stripe(key);
    std::lock_guard lock(s.mu);
    auto it = s.entries.find(key);
    if (it == s.entries.end() || it->second.done) return;
    it->second = Entry{true, r};
    s.order.emplace_back(now_ms + ttl_ms_, key);
    s.cv.notify_all();
  }

  void abandon(const std::string& key) override {
    Stripe& s = stripe(key);
    std::lock_guard lock(s.mu);
    if (auto it = s.entries.find(key); it != s.entries.end() && !it->second.done) s.entries.erase(it);
    s.cv.notify_all();
  }

 private:
  static constexpr std::size_t kStripes = 16;
  struct Entry {
    bool done = false;  // false while its owner runs the work
    Response response;
  };
  struct Stripe {
    std::mutex mu;
    std::condition_variable cv;
    std::unordered_map<std::string, Entry> entries;
    // Finished keys by expiry (the ttl is fixed, so the oldest is in front); claims in
    // progress are not here and are never evicted.
    std::deque<std::pair<std::int64_t, std::string>> order;
  };
  Stripe& stripe(const std::string& key) { return stripes_[std::hash<std::string>{}(key) % kStripes]; }
  void evict(Stripe& s, std::int64_t now_ms) {
    while (!s.order.empty() && (s.order.front().first <= now_ms || s.entries.size() > per_stripe_max_)) {
      s.entries.erase(s.order.front().second);
      s.order.pop_front();
    }
  }
  std::size_t per_stripe_max_;
  std::int64_t ttl_ms_;
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace detail

// At most `max_keys` answers (the oldest forgotten first), each kept for `ttl_ms`.
inline std::unique_ptr<IdempotencyStore> make_memory_idempotency_store(std::size_t max_keys, std::int64_t ttl_ms) {
  return std::make_unique<detail::MemoryIdempotencyStore>(max_keys, ttl_ms);
}

// The store named by `api.idempotency_store`; an unknown name is an "invalid_config" error.
inline Result<std::unique_ptr<IdempotencyStore>> make_idempotency_store(const Config& cfg) {
  if (cfg.api.idempotency_store == "memory")
    return make_memory_idempotency_store(cfg.api.idempotency_max_keys, cfg.api.idempotency_ttl.count());
  return make_error(Errc::kInvalidConfig,
                    "api.idempotency_store: unknown store '" + cfg.api.idempotency_store + "' (known: memory)");
}

class IdempotencyCache {
 public:
  explicit IdempotencyCache(std::unique_ptr<IdempotencyStore> store) : store_(std::move(store)) {}

  // Runs `work` unless `key` of `scope` (an app id) was seen within the TTL, in which
  // case the first response comes back with `replayed` set. A concurrent retry waits
  // for the first to finish instead of running the work twice.
  Response run(const std::string& scope, const std::string& key, std::int64_t now_ms,
               const std::function<Response()>& work, bool& replayed) {
    std::string k = scope + '\x1f' + key;
    auto claim = store_->claim(k, now_ms);
    if (!claim.owner) {
      replayed = true;
      return std::move(*claim.stored);
    }
    replayed = false;
    Response r;
    try {
      r = work();
    } catch (...) {
      store_->abandon(k);  // or the waiters would wait for ever
      throw;
    }
    if (r.status < 500)  // a failure the client may retry is not remembered
      store_->finish(k, r, now_ms);
    else
      store_->abandon(k);
    return r;
  }

 private:
  std::unique_ptr<IdempotencyStore> store_;
};

}  // namespace herald::api
