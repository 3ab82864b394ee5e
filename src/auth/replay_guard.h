// Replay protection: a nonce may be used once per app while its signed timestamp is
// still inside the window. The store is an interface: memory, or memory in front of the
// durable store so that a restart does not reopen the window (docs/signing.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/result.h"

namespace herald {
struct Config;
}
namespace herald::store {
class NonceRecords;
}

namespace herald::auth {

struct NonceUse {
  std::string_view app_id;
  std::string_view nonce;
  // When the request's timestamp leaves the window, (t + window_s + 1)·1000: from then
  // on the timestamp check refuses a replay, so the nonce need not be kept.
  std::int64_t expires_ms = 0;
  // The most live nonces this app may hold (nonce_quota).
  std::size_t app_quota = 0;
};

class NonceStore {
 public:
  virtual ~NonceStore() = default;
  // True if the app used `nonce` and it has not expired. Records nothing: the caller
  // asks before spending anything else (a rate token) on a replay.
  virtual bool seen(std::string_view app_id, std::string_view nonce, std::int64_t now_ms) = 0;
  // Records the nonce; fails with "nonce_replayed" if it is live already, or
  // "replay_guard_full" when the app holds its quota, or when the store holds its
  // capacity and this app more than an equal share of it. It refuses rather than forgets
  // a nonce that is still live, and one app filling up never refuses another.
  virtual Status use(const NonceUse& u, std::int64_t now_ms) = 0;
  virtual std::size_t size() const = 0;
};

// Bounded memory: `max_entries` live nonces in all (see use() for the equal share).
std::unique_ptr<NonceStore> make_memory_nonce_store(std::size_t max_entries);

// Memory in front of `records`: every nonce recorded is also written through the store's
// group commit, and the live ones are loaded back here, so a replay after a restart is
// refused. Expired rows are purged at most once a minute.
Result<std::unique_ptr<NonceStore>> make_durable_nonce_store(std::size_t max_entries, store::NonceRecords& records,
                                                             std::int64_t now_ms);

// The store named by `api.nonce_store` ("store": durable, needs `records`; "memory").
Result<std::unique_ptr<NonceStore>> make_nonce_store(const Config& cfg, store::NonceRecords* records,
                                                     std::int64_t now_ms);

// An app's nonce quota: what its rate limit lets it record while one nonce lives (a
// burst of 2·rate plus rate·(2·window_s + 1) s), or `api.replay_max_nonces_per_app` for
// an app without a rate limit; never more than `api.replay_max_nonces`.
std::size_t nonce_quota(const Config& cfg, std::uint32_t rate_limit);

}  // namespace herald::auth
