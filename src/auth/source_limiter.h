// Per-client-address budgets checked before authentication: a request budget, a smaller
// budget of refused (unauthenticated) requests, and one for the operator routes. What an
// anonymous flood can cost the server is bounded by these, whoever it claims to be.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/rate_limiter.h"

namespace herald::auth {

// The key a client address is limited under: an IPv4 address as it is (an IPv4-mapped
// IPv6 address as its IPv4 form), an IPv6 address as its /64 — one subscriber usually
// holds a whole /64, so per-address keys would give one host 2^64 budgets. Takes the
// host without port; anything that is not an IP literal is its own key.
std::string source_key(std::string_view host);

struct BucketSpec {
  double per_second = 0;  // 0: no limit
  double burst = 0;
  bool enabled() const { return per_second > 0 && burst >= 1; }
};

class SourceLimiter {
 public:
  struct Options {
    BucketSpec requests;         // every request on a limited route
    BucketSpec refusals;         // unauthenticated refusals (spent after the answer)
    BucketSpec operator_routes;  // the operator (unseal) routes, on top of `requests`
    std::size_t max_sources = 100'000;
  };
  explicit SourceLimiter(Options opts);
  ~SourceLimiter();
  SourceLimiter(const SourceLimiter&) = delete;
  SourceLimiter& operator=(const SourceLimiter&) = delete;

  // Before authentication. Refused when the source's request (or operator) bucket is
  // empty, or when it has spent its refusal budget: then even a request that would
  // authenticate waits, so that guessing costs the guesser, not the server.
  RateDecision admit(std::string_view host, bool operator_route, std::int64_t now_ms);
  // After an unauthenticated refusal was answered to `host`.
  void refused(std::string_view host, std::int64_t now_ms);
  // Sources tracked now (for tests and metrics).
  std::size_t tracked() const;

 private:
  struct Shard;
  Options opts_;
  std::array<std::unique_ptr<Shard>, 16> shards_;
  Shard& shard_for(const std::string& key);
};

}  // namespace herald::auth
