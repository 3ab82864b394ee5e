// Replay protection: a nonce may be used once per app within its lifetime (twice the
// signature window). The store is an interface: memory here, Redis in cluster mode.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/result.h"

namespace herald {
struct Config;
}

namespace herald::auth {

class NonceStore {
 public:
  virtual ~NonceStore() = default;
  // Records the nonce and succeeds if it was not seen within `ttl_ms`; fails with
  // "nonce_replayed" if it was, or "replay_guard_full" when the store is at capacity
  // (it refuses rather than forgets a nonce that is still live).
  virtual Status use(std::string_view app_id, std::string_view nonce, std::int64_t now_ms) = 0;
  virtual std::size_t size() const = 0;
};

// Bounded memory: at most `max_entries` live nonces; each expires `ttl_ms` after use.
std::unique_ptr<NonceStore> make_memory_nonce_store(std::size_t max_entries, std::int64_t ttl_ms);

// The store named by `api.nonce_store`, holding `api.replay_max_nonces` nonces for twice
// `api.signature_window`; an unknown name is an "invalid_config" error.
Result<std::unique_ptr<NonceStore>> make_nonce_store(const Config& cfg);

}  // namespace herald::auth
