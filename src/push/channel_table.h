// The hub's channels: for each channel with subscribers on this node, how many each
// shard has. The broker's publications are routed through it to the shards that
// listen; a channel leaves the table with its last subscriber.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/config.h"
#include "core/result.h"
#include "push/channel_name.h"

namespace herald::push {
namespace detail {

struct Channel {
  Channel(std::size_t shards) : shard_subs(std::make_unique<std::atomic<std::uint32_t>[]>(shards)) {}
  std::mutex mu;  // guards subscribers and removed
  std::string app_id;
  std::string name;
  const NamespaceConfig* ns = nullptr;
  // Read without `mu` by the publish path; written under it.
  std::unique_ptr<std::atomic<std::uint32_t>[]> shard_subs;
  std::uint64_t subscribers = 0;
  bool removed = false;  // left the table; holders must look the channel up again
};

}  // namespace detail

class ChannelTable {
 public:
  explicit ChannelTable(std::size_t shards) : shards_(shards) {}

  // Counts one more subscriber of the channel on `shard`, creating the entry on first
  // use. "channel_full" when the namespace's max_subscribers is reached.
  Result<std::shared_ptr<detail::Channel>> acquire(std::string_view app_id, const ChannelName& name,
                                                   const NamespaceConfig& ns, std::size_t shard);
  // Counts one subscriber less; the last one takes the channel out of the table.
  void release(const std::shared_ptr<detail::Channel>& ch, std::size_t shard);
  // Calls fn(shard, channel) for each shard with subscribers to the channel, if any.
  template <class Fn>
  void for_each_listening_shard(std::string_view app_id, std::string_view channel, Fn&& fn);

 private:
  struct Bucket {
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<detail::Channel>> channels;
  };
  static constexpr std::size_t kBuckets = 64;
  Bucket& bucket_for(const std::string& key) { return buckets_[std::hash<std::string>{}(key) % kBuckets]; }
  std::shared_ptr<detail::Channel> find(std::string_view app_id, std::string_view channel);

  std::size_t shards_;
  std::array<Bucket, kBuckets> buckets_;
};

template <class Fn>
void ChannelTable::for_each_listening_shard(std::string_view app_id, std::string_view channel, Fn&& fn) {
  std::shared_ptr<detail::Channel> ch = find(app_id, channel);
  if (!ch) return;
  for (std::size_t s = 0; s < shards_; ++s)
    if (ch->shard_subs[s].load(std::memory_order_acquire) > 0) fn(s, ch);
}

}  // namespace herald::push
