// Idempotency keys of publishes: the first publish with a key claims it; any other with
// the same key, while the first is in flight or once it is stored, gets the first
// message back. An interface, so that a cluster can share claims between nodes; this
// process's implementation keeps claims in flight in memory and finds stored ones in
// the store.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace herald::store {
class MessageRecords;
}

namespace herald::messages {

// The message that already holds a key.
struct EarlierMessage {
  std::string id;
  std::string state;  // "pending" while in flight
};

class IdempotencyClaims {
 public:
  // Told the message that holds the key once the publish in flight with it settled, or
  // an error when that publish failed (the caller may send again).
  using Waiter = std::function<void(Result<EarlierMessage>)>;
  enum class Outcome { claimed, earlier, waiting };
  struct Claim {
    Outcome outcome = Outcome::claimed;
    EarlierMessage earlier;  // Outcome::earlier
  };

  virtual ~IdempotencyClaims() = default;
  // Claims `key_index` (the blind index of the key) of `app_id` for `message_id`:
  // `claimed`; `earlier` with the stored message that holds the key; or, while another
  // publish with the key is in flight, `waiting` — `waiter` is kept and called when that
  // publish settles (its own message once stored, or the one the store found holding
  // the key). Two concurrent claims of one key never both succeed.
  virtual Result<Claim> claim(const std::string& app_id, const std::string& key_index, const std::string& message_id,
                              Waiter waiter) = 0;
  // Ends a claim: `holder` is the message holding the key now (the claimer's once stored,
  // or the earlier one the store refused it for), or nullopt when the publish failed and
  // the key is free again. The claim's waiters are told.
  virtual void release(const std::string& app_id, const std::string& key_index,
                       std::optional<EarlierMessage> holder) = 0;
  // Forgets every claim; their waiters are told the service is sealed.
  virtual void clear() = 0;
};

// Claims in flight in this process's memory; stored keys from the store's idempotency
// index. Two nodes of a cluster that claim one key at once both pass: the store's unique
// index then refuses the second insert and its publisher answers with the first message
// (MessagePublisher::answer_earlier).
class MemoryIdempotencyClaims final : public IdempotencyClaims {
 public:
  explicit MemoryIdempotencyClaims(store::MessageRecords& records) : records_(records) {}
  Result<Claim> claim(const std::string& app_id, const std::string& key_index, const std::string& message_id,
                      Waiter waiter) override;
  void release(const std::string& app_id, const std::string& key_index, std::optional<EarlierMessage> holder) override;
  void clear() override;

 private:
  static std::string key(const std::string& app_id, const std::string& key_index);

  // A key's lookup and claim hold its shard's lock, so that two publishes with one key
  // cannot both pass between a lookup and a claim; other keys' lookups go on meanwhile.
  struct InFlight {
    std::string message_id;
    std::vector<Waiter> waiters;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, InFlight> in_flight;  // app + key index -> the claim
  };
  // Publishes waiting on one key at most; more are refused with `conflict` (send again).
  static constexpr std::size_t kMaxWaiters = 256;
  static constexpr std::size_t kShards = 64;
  Shard& shard_of(const std::string& k);

  store::MessageRecords& records_;
  std::array<Shard, kShards> shards_;
};

}  // namespace herald::messages
