// Idempotency keys of publishes: the first publish with a key claims it; any other with
// the same key, while the first is in flight or once it is stored, gets the first
// message back. An interface, so that a cluster can share claims between nodes; this
// process's implementation keeps claims in flight in memory and finds stored ones in
// the store.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

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
  virtual ~IdempotencyClaims() = default;
  // Claims `key_index` (the blind index of the key) of `app_id` for `message_id`; nullopt
  // when claimed, the earlier message when the key is taken. Two concurrent claims of
  // one key never both succeed.
  virtual Result<std::optional<EarlierMessage>> claim(const std::string& app_id, const std::string& key_index,
                                                      const std::string& message_id) = 0;
  // Ends a claim once its message is stored (the store then answers for the key) or
  // refused (the key is free again).
  virtual void release(const std::string& app_id, const std::string& key_index) = 0;
  virtual void clear() = 0;
};

// Claims in flight in this process's memory; stored keys from the store's idempotency
// index. Correct for one node only.
class MemoryIdempotencyClaims final : public IdempotencyClaims {
 public:
  explicit MemoryIdempotencyClaims(store::MessageRecords& records) : records_(records) {}
  Result<std::optional<EarlierMessage>> claim(const std::string& app_id, const std::string& key_index,
                                              const std::string& message_id) override;
  void release(const std::string& app_id, const std::string& key_index) override;
  void clear() override;

 private:
  static std::string key(const std::string& app_id, const std::string& key_index);

  store::MessageRecords& records_;
  std::mutex mu_;
  std::unordered_map<std::string, std::string> in_flight_;  // app + key index -> message id
};

}  // namespace herald::messages
