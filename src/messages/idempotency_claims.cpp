// The single-node idempotency claims.
#include "messages/idempotency_claims.h"

#include "messages/sealed_message.h"
#include "store/message_records.h"

namespace herald::messages {

std::string MemoryIdempotencyClaims::key(const std::string& app_id, const std::string& key_index) {
  return app_id + '\x1f' + key_index;
}

Result<std::optional<EarlierMessage>> MemoryIdempotencyClaims::claim(const std::string& app_id,
                                                                     const std::string& key_index,
                                                                     const std::string& message_id) {
  const std::string k = key(app_id, key_index);
  // The lock spans the store lookup so that two publishes with one key cannot both pass
  // between a lookup and a claim.
  std::lock_guard lock(mu_);
  if (auto it = in_flight_.find(k); it != in_flight_.end()) return std::optional(EarlierMessage{it->second, "pending"});
  auto found = records_.message_by_idempotency(app_id, key_index);
  if (!found) return found.error();
  if (found->has_value()) return std::optional(EarlierMessage{(*found)->id, state_name((*found)->state)});
  in_flight_[k] = message_id;
  return std::optional<EarlierMessage>();
}

void MemoryIdempotencyClaims::release(const std::string& app_id, const std::string& key_index) {
  std::lock_guard lock(mu_);
  in_flight_.erase(key(app_id, key_index));
}

void MemoryIdempotencyClaims::clear() {
  std::lock_guard lock(mu_);
  in_flight_.clear();
}

}  // namespace herald::messages
