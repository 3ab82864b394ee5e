// The in-memory PresenceManager: each channel's clients in hashed buckets, one mutex
// per bucket. A channel's entry goes away with its last client.
#pragma once

#include <array>
#include <mutex>
#include <unordered_map>

#include "push/broker.h"

namespace herald::push {

class MemoryPresenceManager final : public PresenceManager {
 public:
  void add(std::string_view app_id, std::string_view channel, const PresenceEntry& entry) override;
  void remove(std::string_view app_id, std::string_view channel, std::string_view client_id) override;
  PresenceResult list(std::string_view app_id, std::string_view channel, std::size_t max_clients) const override;
  PresenceStats stats(std::string_view app_id, std::string_view channel) const override;

 private:
  using Clients = std::unordered_map<std::string, PresenceEntry>;
  struct Bucket {
    mutable std::mutex mu;
    std::unordered_map<std::string, Clients> channels;
  };
  static constexpr std::size_t kBuckets = 64;

  Bucket& bucket_for(const std::string& key) const;
  // Runs `fn(clients)` under the bucket's lock when the channel has anyone present.
  template <class Fn>
  void with_channel(std::string_view app_id, std::string_view channel, Fn&& fn) const;

  mutable std::array<Bucket, kBuckets> buckets_;
};

}  // namespace herald::push
