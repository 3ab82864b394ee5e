// The idempotency claims in flight on this node.
#include "messages/idempotency_claims.h"

#include <functional>

#include "messages/sealed_message.h"
#include "store/message_records.h"

namespace herald::messages {

std::string MemoryIdempotencyClaims::key(const std::string& app_id, const std::string& key_index) {
  return app_id + '\x1f' + key_index;
}

Result<IdempotencyClaims::Claim> MemoryIdempotencyClaims::claim(const std::string& app_id, const std::string& key_index,
                                                                const std::string& message_id, Waiter waiter) {
  const std::string k = key(app_id, key_index);
  Shard& sh = shard_of(k);
  std::lock_guard lock(sh.mu);
  if (auto it = sh.in_flight.find(k); it != sh.in_flight.end()) {
    // Its message may yet turn out not to be stored (the store may find the key taken by
    // another node): the answer waits for it to settle.
    if (it->second.waiters.size() >= kMaxWaiters)
      return make_error(Errc::kConflict, "too many publishes with this idempotency key at once; send again");
    it->second.waiters.push_back(std::move(waiter));
    return Claim{Outcome::waiting, {}};
  }
  auto found = records_.message_by_idempotency(app_id, key_index);
  if (!found) return found.error();
  if (found->has_value()) return Claim{Outcome::earlier, EarlierMessage{(*found)->id, state_name((*found)->state)}};
  sh.in_flight[k] = InFlight{message_id, {}};
  return Claim{Outcome::claimed, {}};
}

MemoryIdempotencyClaims::Shard& MemoryIdempotencyClaims::shard_of(const std::string& k) {
  return shards_[std::hash<std::string>{}(k) % kShards];
}

void MemoryIdempotencyClaims::release(const std::string& app_id, const std::string& key_index,
                                      std::optional<EarlierMessage> holder) {
  const std::string k = key(app_id, key_index);
  std::vector<Waiter> waiters;
  {
    Shard& sh = shard_of(k);
    std::lock_guard lock(sh.mu);
    auto it = sh.in_flight.find(k);
    if (it == sh.in_flight.end()) return;
    waiters = std::move(it->second.waiters);
    sh.in_flight.erase(it);
  }
  for (auto& w : waiters) {
    if (holder)
      w(*holder);
    else
      w(make_error(Errc::kConflict, "the publish with this idempotency key in flight failed; send again"));
  }
}

void MemoryIdempotencyClaims::clear() {
  std::vector<Waiter> waiters;
  for (auto& sh : shards_) {
    std::lock_guard lock(sh.mu);
    for (auto& [k, f] : sh.in_flight)
      for (auto& w : f.waiters) waiters.push_back(std::move(w));
    sh.in_flight.clear();
  }
  for (auto& w : waiters) w(make_error(Errc::kSealed, "the key service was sealed"));
}

}  // namespace herald::messages
