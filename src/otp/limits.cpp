// Memory limit counters: sharded maps; a take locks the shards it touches in index
// order, so concurrent takes never deadlock and never see a half-counted check set.
#include "otp/limits.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace herald::otp {

Errc limit_error_code(Limit l) {
  switch (l) {
    case Limit::App:
      return Errc::kOtpAppLimit;
    case Limit::Cooldown:
      return Errc::kOtpResendTooSoon;
    case Limit::Recipient:
      return Errc::kOtpRecipientLimit;
    case Limit::Device:
      return Errc::kOtpDeviceLimit;
    case Limit::Ip:
      return Errc::kOtpIpLimit;
    case Limit::Prefix:
      return Errc::kOtpPrefixLimit;
    case Limit::Capacity:
      return Errc::kOtpBusy;
  }
  return Errc::kOtpBusy;
}

std::string_view limit_label(Limit l) {
  switch (l) {
    case Limit::App:
      return "app_per_minute";
    case Limit::Cooldown:
      return "resend_cooldown";
    case Limit::Recipient:
      return "recipient_per_day";
    case Limit::Device:
      return "device_per_day";
    case Limit::Ip:
      return "ip_per_hour";
    case Limit::Prefix:
      return "sms_prefix_per_hour";
    case Limit::Capacity:
      return "capacity";
  }
  return "capacity";
}

namespace {

constexpr std::size_t kShards = 16;

struct Counter {
  std::int64_t window_start_ms = 0;
  std::int64_t window_end_ms = 0;
  std::uint64_t count = 0;
};

class MemoryLimitCounters final : public LimitCounters {
 public:
  explicit MemoryLimitCounters(std::size_t max) : max_(max) {}

  LimitOutcome take(std::span<const LimitCheck> checks, std::int64_t now_ms) override {
    std::array<bool, kShards> used{};
    for (const auto& c : checks) used[shard_of(c.key)] = true;
    std::array<std::unique_lock<std::mutex>, kShards> locks;
    for (std::size_t i = 0; i < kShards; ++i)
      if (used[i]) locks[i] = std::unique_lock(shards_[i].mu);

    // Where each check's window is now, and whether it has room.
    std::vector<Counter> next(checks.size());
    std::size_t fresh = 0;
    for (std::size_t i = 0; i < checks.size(); ++i) {
      const auto& c = checks[i];
      auto& map = shards_[shard_of(c.key)].map;
      auto it = map.find(c.key);
      Counter cur;
      bool live = it != map.end() && now_ms < it->second.window_end_ms && now_ms >= it->second.window_start_ms;
      if (live) {
        cur = it->second;
      } else {
        std::int64_t start = c.aligned ? now_ms - (now_ms % c.window_ms) : now_ms;
        cur = Counter{start, start + c.window_ms, 0};
        if (it == map.end()) ++fresh;
      }
      if (cur.count >= c.max) {
        std::int64_t wait_ms = cur.window_end_ms - now_ms;
        return LimitRefusal{c.limit, std::max<std::int64_t>(1, (wait_ms + 999) / 1000)};
      }
      ++cur.count;
      next[i] = cur;
    }
    if (fresh > 0 && size_.load(std::memory_order_relaxed) + fresh > max_) return LimitRefusal{Limit::Capacity, 1};

    std::vector<store::OtpCounterRecord> out;
    out.reserve(checks.size());
    for (std::size_t i = 0; i < checks.size(); ++i) {
      auto& map = shards_[shard_of(checks[i].key)].map;
      auto [it, inserted] = map.insert_or_assign(checks[i].key, next[i]);
      if (inserted) size_.fetch_add(1, std::memory_order_relaxed);
      out.push_back(
          store::OtpCounterRecord{checks[i].key, next[i].window_start_ms, next[i].count, next[i].window_end_ms});
    }
    return out;
  }

  void restore(const std::vector<store::OtpCounterRecord>& records, std::int64_t now_ms) override {
    for (const auto& r : records) {
      if (r.expires_ms <= now_ms) continue;
      auto& s = shards_[shard_of(r.key)];
      std::lock_guard lock(s.mu);
      auto [it, inserted] = s.map.insert_or_assign(r.key, Counter{r.window_start_ms, r.expires_ms, r.count});
      if (inserted) size_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  std::size_t purge(std::int64_t now_ms) override {
    std::size_t n = 0;
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      n += std::erase_if(s.map, [now_ms](const auto& kv) { return kv.second.window_end_ms <= now_ms; });
    }
    size_.fetch_sub(n, std::memory_order_relaxed);
    return n;
  }

  std::size_t size() const override { return size_.load(std::memory_order_relaxed); }

  void clear() override {
    for (auto& s : shards_) {
      std::lock_guard lock(s.mu);
      s.map.clear();
    }
    size_.store(0, std::memory_order_relaxed);
  }

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Counter> map;
  };
  static std::size_t shard_of(const std::string& key) { return std::hash<std::string>{}(key) % kShards; }

  std::size_t max_;
  std::atomic<std::size_t> size_{0};
  std::array<Shard, kShards> shards_;
};

}  // namespace

std::unique_ptr<LimitCounters> make_memory_limit_counters(std::size_t max_counters) {
  return std::make_unique<MemoryLimitCounters>(max_counters);
}

}  // namespace herald::otp
