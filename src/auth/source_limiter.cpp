// Token buckets per client address, in 16 mutex-guarded shards of bounded size. A source
// whose buckets are all full again is the same as an unknown one, so such entries are the
// ones dropped when a shard fills; sources beyond the bound share one overflow entry.
#include "auth/source_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <functional>

namespace herald::auth {

std::string source_key(std::string_view host) {
  std::string h(host);
  unsigned char b[16];
  if (inet_pton(AF_INET, h.c_str(), b) == 1) {
    char out[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, b, out, sizeof out);
    return out;
  }
  if (inet_pton(AF_INET6, h.c_str(), b) != 1) return h;
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char out[INET6_ADDRSTRLEN];
  if (std::equal(kMapped, kMapped + 12, b)) {
    inet_ntop(AF_INET, b + 12, out, sizeof out);
    return out;
  }
  std::fill(b + 8, b + 16, 0);
  inet_ntop(AF_INET6, b, out, sizeof out);
  return std::string(out) + "/64";
}

namespace {

struct Bucket {
  double tokens = -1;  // -1: never used, i.e. full
  std::int64_t at_ms = 0;

  void refill(const BucketSpec& s, std::int64_t now) {
    if (tokens < 0) {
      tokens = s.burst;
    } else if (now > at_ms) {
      tokens = std::min(s.burst, tokens + static_cast<double>(now - at_ms) * s.per_second / 1000.0);
    }
    at_ms = std::max(at_ms, now);
  }
  std::int64_t wait_ms(const BucketSpec& s) const {
    return static_cast<std::int64_t>(std::ceil((1.0 - tokens) * 1000.0 / s.per_second));
  }
};

}  // namespace

struct SourceLimiter::Shard {
  struct Entry {
    Bucket requests, refusals, operator_routes;
    std::int64_t last_ms = 0;
  };
  std::mutex mu;
  std::unordered_map<std::string, Entry> entries;
  Entry overflow;
  std::int64_t no_sweep_until = 0;
};

SourceLimiter::SourceLimiter(Options opts) : opts_(opts) {
  for (auto& s : shards_) s = std::make_unique<Shard>();
}
SourceLimiter::~SourceLimiter() = default;

SourceLimiter::Shard& SourceLimiter::shard_for(const std::string& key) {
  return *shards_[std::hash<std::string>{}(key) % shards_.size()];
}

namespace {

// The longest any bucket takes to fill from empty: an entry idle for that long is full.
std::int64_t refill_ms(const SourceLimiter::Options& o) {
  double worst = 0;
  for (const BucketSpec* s : {&o.requests, &o.refusals, &o.operator_routes})
    if (s->enabled()) worst = std::max(worst, s->burst * 1000.0 / s->per_second);
  return static_cast<std::int64_t>(std::ceil(worst)) + 1;
}

}  // namespace

RateDecision SourceLimiter::admit(std::string_view host, bool operator_route, std::int64_t now_ms) {
  std::string key = source_key(host);
  Shard& sh = shard_for(key);
  std::lock_guard lock(sh.mu);
  Shard::Entry* e = nullptr;
  if (auto it = sh.entries.find(key); it != sh.entries.end()) {
    e = &it->second;
  } else {
    std::size_t cap = std::max<std::size_t>(1, opts_.max_sources / shards_.size());
    if (sh.entries.size() >= cap && now_ms >= sh.no_sweep_until) {
      std::int64_t idle = refill_ms(opts_);
      std::erase_if(sh.entries, [&](const auto& kv) { return now_ms - kv.second.last_ms >= idle; });
      // Nothing to drop: do not rescan on every new source for a while.
      if (sh.entries.size() >= cap) sh.no_sweep_until = now_ms + 1000;
    }
    e = sh.entries.size() < cap ? &sh.entries[key] : &sh.overflow;
  }
  e->last_ms = now_ms;
  RateDecision d;
  if (opts_.refusals.enabled()) {
    e->refusals.refill(opts_.refusals, now_ms);
    if (e->refusals.tokens < 1) return RateDecision{false, e->refusals.wait_ms(opts_.refusals)};
  }
  if (operator_route && opts_.operator_routes.enabled()) {
    e->operator_routes.refill(opts_.operator_routes, now_ms);
    if (e->operator_routes.tokens < 1) return RateDecision{false, e->operator_routes.wait_ms(opts_.operator_routes)};
  }
  if (opts_.requests.enabled()) {
    e->requests.refill(opts_.requests, now_ms);
    if (e->requests.tokens < 1) return RateDecision{false, e->requests.wait_ms(opts_.requests)};
    e->requests.tokens -= 1;
  }
  if (operator_route && opts_.operator_routes.enabled()) e->operator_routes.tokens -= 1;
  return d;
}

void SourceLimiter::refused(std::string_view host, std::int64_t now_ms) {
  if (!opts_.refusals.enabled()) return;
  std::string key = source_key(host);
  Shard& sh = shard_for(key);
  std::lock_guard lock(sh.mu);
  auto it = sh.entries.find(key);
  Shard::Entry& e = it != sh.entries.end() ? it->second : sh.overflow;
  e.refusals.refill(opts_.refusals, now_ms);
  e.refusals.tokens = std::max(0.0, e.refusals.tokens - 1);
  e.last_ms = now_ms;
}

std::size_t SourceLimiter::tracked() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    n += s->entries.size();
  }
  return n;
}

}  // namespace herald::auth
