// Idempotency keys of the server API: a retried request with the same key gets the
// first answer, and the work runs once. Bounded (oldest keys forgotten first) and
// expiring; held in memory, so a restart forgets them.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/http.h"

namespace herald::api {

class IdempotencyCache {
 public:
  IdempotencyCache(std::size_t max_keys, std::int64_t ttl_ms)
      : per_stripe_max_(std::max<std::size_t>(1, max_keys / kStripes)), ttl_ms_(ttl_ms) {}

  // Runs `work` unless `key` of `scope` (an app id) was seen within the TTL, in which
  // case the first response comes back with `replayed` set. Requests with the same key
  // run one after the other, so that a concurrent retry cannot run the work twice.
  Response run(const std::string& scope, const std::string& key, std::int64_t now_ms,
               const std::function<Response()>& work, bool& replayed) {
    std::string k = scope + '\x1f' + key;
    Stripe& s = stripes_[std::hash<std::string>{}(k) % kStripes];
    std::lock_guard lock(s.mu);
    while (!s.order.empty() && (s.order.front().first <= now_ms || s.entries.size() > per_stripe_max_)) {
      s.entries.erase(s.order.front().second);
      s.order.pop_front();
    }
    if (auto it = s.entries.find(k); it != s.entries.end()) {
      replayed = true;
      return it->second;
    }
    replayed = false;
    Response r = work();
    if (r.status < 500) {  // a failure the client may retry is not remembered
      s.entries.emplace(k, r);
      s.order.emplace_back(now_ms + ttl_ms_, std::move(k));
    }
    return r;
  }

 private:
  static constexpr std::size_t kStripes = 16;
  struct Stripe {
    std::mutex mu;
    std::unordered_map<std::string, Response> entries;
    std::deque<std::pair<std::int64_t, std::string>> order;
  };
  std::size_t per_stripe_max_;
  std::int64_t ttl_ms_;
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace herald::api
