// The in-memory Broker: each channel's stream (epoch, last offset, history) in hashed
// buckets, each stream behind its own mutex. What one node needs; nothing is shared
// with other nodes.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <list>
#include <mutex>
#include <unordered_map>

#include "core/clock.h"
#include "push/broker.h"

namespace herald::metrics {
class Counter;
class Gauge;
}  // namespace herald::metrics

namespace herald::push {

class MemoryBroker final : public Broker {
 public:
  // `cfg` (push.max_channels, push.max_channels_per_app, push.max_history_bytes_per_app)
  // must outlive the broker.
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
  // Bytes of the app's history held now (Publication::bytes), against push.max_history_bytes_per_app.
  std::uint64_t app_history_bytes(std::string_view app_id) const;

 private:
  struct Stream;
  // One app's share: its channels, and the history they hold. Streams keep it alive, so
  // a late trim of a stream whose app entry is gone still has somewhere to count.
  struct AppUsage {
    std::uint64_t channels = 0;                // under apps_mu_
    std::list<std::weak_ptr<Stream>> streams;  // under apps_mu_: where eviction looks
    std::atomic<std::uint64_t> history_bytes{0};
    std::atomic<bool> evicting{false};  // one eviction pass per app at a time
  };
  struct Stream {
    std::mutex mu;
    const NamespaceConfig* ns = nullptr;
    std::string app_id;  // whose push.max_channels_per_app the stream counts against
    std::shared_ptr<AppUsage> usage;
    std::list<std::weak_ptr<Stream>>::iterator in_app;  // its place in usage->streams (apps_mu_)
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
  // Counts the new stream as one more channel of the app; false at push.max_channels_per_app.
  bool take_app_channel(std::string_view app_id, const std::shared_ptr<Stream>& s);
  void release_app_channel(Stream& s);
  HistoryResult history_of(Stream& s, const NamespaceConfig& ns, std::size_t limit, const std::optional<Since>& since);
  void trim(Stream& s, std::int64_t now_ms);
  void drop_oldest(Stream& s);
  // Over push.max_history_bytes_per_app: drops the app's oldest publications, whatever
  // their channel, until it holds 7/8 of the cap. Call with no stream lock held.
  void evict_app_history(AppUsage& usage);
  static std::optional<std::vector<PublicationPtr>> since_of(Stream& s, const Since& since);

  const Config& cfg_;
  Clock clock_;
  BrokerEventHandler* handler_ = nullptr;
  std::array<Bucket, kBuckets> buckets_;
  std::atomic<std::uint64_t> count_{0};
  mutable std::mutex apps_mu_;  // taken only when a channel is created or forgotten
  std::unordered_map<std::string, std::shared_ptr<AppUsage>> apps_;
  metrics::Gauge* m_channels_;
  metrics::Gauge* m_history_bytes_;
  metrics::Counter* m_evicted_;
};

}  // namespace herald::push
