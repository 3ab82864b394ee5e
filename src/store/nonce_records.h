// Replay-protection nonces as the store keeps them (the durable NonceStore of
// auth/replay_guard.h), so that a restart does not reopen the replay window.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/app_records.h"  // Completion

namespace herald::store {

struct NonceRecord {
  std::string app_id;
  std::string nonce;
  std::int64_t expires_ms = 0;  // the signed timestamp's window ends here
};

class NonceRecords {
 public:
  virtual ~NonceRecords() = default;
  // Every nonce still live at `now_ms`.
  virtual Result<std::vector<NonceRecord>> load_nonces(std::int64_t now_ms) = 0;
  // Records a batch of nonces (a nonce seen again keeps the later expiry).
  virtual void put_nonces(std::vector<NonceRecord> nonces, Completion done) = 0;
  // Deletes the nonces that expired at or before `now_ms`.
  virtual void purge_nonces(std::int64_t now_ms, Completion done) = 0;
};

}  // namespace herald::store
