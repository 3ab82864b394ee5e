// The in-memory Broker: each channel's stream (epoch, last offset, history) in hashed
// buckets, each stream behind its own mutex. What one node needs; nothing is shared
// with other nodes.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "core/clock.h"
#include "push/broker.h"

namespace herald::metrics {
class Gauge;
}

namespace herald::push {

class MemoryBroker final : public Broker {
 public:
  // `cfg` (push.max_channels, push.max_channels_per_app) must outlive the broker.
  MemoryBroker(const Config& cfg, metrics::Registry& registry, Clock clock = {});

  void set_handler(BrokerEventHandler* handler) override { handler_ = handler; }
  Result<PublishResult> publish(std::string_view app_id, const ChannelName& channel, const NamespaceConfig& ns,
                                std::string_view id, std::string_view data_json) override;
  Result<HistoryResult> history(std::string_view app_id, const ChannelName& channel, const NamespaceConfig& ns,
                                std::size_t limit, const std::optional<Since>& since) override;
  Result<SubscribeResult> recover(std::string_view app_id, const ChannelName& channel, const NamespaceConfig& ns,
                                  const std::optional<Since>& since) override;
  Status subscribe(std::string_view app_id, const ChannelName& channel, const NamespaceConfig& ns) override;
  void unsubscribe(std::string_view app_id, std::string_view channel) override;
  // Drops expired history and forgets channels idle for a grace period with no
  // subscriber and no history; a forgotten channel starts a new epoch.
  void maintain(std::int64_t now_ms) override;
  std::uint64_t channel_count() const override { return count_.load(std::memory_order_relaxed); }
  bool exists(std::string_view app_id, std::string_view channel) override;
  std::uint64_t app_channel_count(std::string_view app_id) const override;

 private:
  struct Stream {
    std::mutex mu;
    const NamespaceConfig* ns = nullptr;
    std::string app_id;  // whose push.max_channels_per_app the stream counts against
    std::string epoch;
    std::uint64_t top = 0;
    std::deque<PublicationPtr> history;
    std::uint64_t node_subs = 0;
    std::int64_t last_active_ms = 0;
    bool removed = false;  // forgotten by maintain(); holders look the stream up again
  };
  struct Bucket {
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<Stream>> streams;
  };
  static constexpr std::size_t kBuckets = 64;

  // The stream, created on first use; null when absent and !create.
  Result<std::shared_ptr<Stream>> find_or_create(std::string_view app_id, std::string_view channel,
                                                 const NamespaceConfig* ns, bool create);
  // Runs `fn(stream)` under the stream's lock, on a live (not forgotten) stream.
  template <class Fn>
  auto with_stream(std::string_view app_id, std::string_view channel, const NamespaceConfig& ns, Fn&& fn)
      -> decltype(fn(std::declval<Stream&>()));
  // Counts one more channel of the app; false at push.max_channels_per_app.
  bool take_app_channel(std::string_view app_id);
  void release_app_channel(const std::string& app_id);
  HistoryResult history_of(Stream& s, const NamespaceConfig& ns, std::size_t limit, const std::optional<Since>& since);
  static void trim(Stream& s, std::int64_t now_ms);
  static std::optional<std::vector<PublicationPtr>> since_of(Stream& s, const Since& since);

  const Config& cfg_;
  Clock clock_;
  BrokerEventHandler* handler_ = nullptr;
  std::array<Bucket, kBuckets> buckets_;
  std::atomic<std::uint64_t> count_{0};
  mutable std::mutex apps_mu_;  // taken only when a channel is created or forgotten
  std::unordered_map<std::string, std::uint64_t> app_channels_;
  metrics::Gauge* m_channels_;
};

}  // namespace herald::push
