// The hub: connections, subscriptions and fan-out of each publication to the
// subscribers on every I/O thread (shard). Offsets, history and presence live behind
// the Broker and PresenceManager (push/broker.h). A publication is serialised once;
// each shard gets one pointer to it, and hands it to its local subscribers on its own
// thread, so no lock is held while writing to sockets.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "push/broker.h"
#include "push/channel_name.h"
#include "push/publication.h"

namespace herald::metrics {
class Registry;
}

namespace herald::push {

// The I/O threads as the hub sees them: work posted to a shard runs on that shard's
// thread, in the order posted.
class ShardExecutor {
 public:
  virtual ~ShardExecutor() = default;
  virtual std::size_t shards() const = 0;
  virtual void post(std::size_t shard, std::function<void()> fn) = 0;
  // Runs `fn` on the shard after `delay` (at once, after queued work, when zero).
  virtual void post_after(std::size_t shard, std::chrono::microseconds delay, std::function<void()> fn) = 0;
};

// A receiver of publications (a client connection). It lives on one shard, and the
// hub calls it only on that shard's thread.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // Queues the publication's frame. Returns true the first time since the last flush(),
  // so that the hub flushes each subscriber once per batch.
  virtual bool deliver(const Publication& pub) = 0;
  virtual void flush() = 0;
  // The server side asks the connection to close (e.g. "disconnect this user").
  virtual void disconnect(int code, std::string_view reason) = 0;
};

// Who a connection is, as the hub needs it.
struct ClientIdentity {
  std::string app_id;
  std::string user;
  std::string client_id;
  std::string info;  // compact JSON object shown in presence, or empty
};

namespace detail {
struct Channel;
}

// A subscription's place in its shard's tables. Owned by the subscriber at a stable
// address for as long as the subscription lasts.
struct SubscriptionSlot {
  std::shared_ptr<detail::Channel> channel;
  std::size_t shard = 0;
  std::size_t index = 0;
  bool active() const { return channel != nullptr; }
};

struct HubStats {
  std::uint64_t channels = 0;
  std::uint64_t subscriptions = 0;
  std::uint64_t publications = 0;
  std::uint64_t deliveries = 0;
};

class Hub {
 public:
  // `cfg` (its push, broker and namespaces sections) must outlive the hub. Builds the
  // broker and presence manager broker.driver names; throws std::runtime_error for an
  // unknown driver (a start-up failure).
  Hub(const Config& cfg, ShardExecutor& executor, metrics::Registry& registry);
  Hub(const Config& cfg, ShardExecutor& executor, metrics::Registry& registry, std::unique_ptr<Broker> broker,
      std::unique_ptr<PresenceManager> presence);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  const Config& config() const { return cfg_; }
  // The I/O threads, for work that must come back to a connection's shard.
  ShardExecutor& executor() const;
  // The options of a configured namespace, or null.
  const NamespaceConfig* namespace_config(std::string_view ns) const;

  // Connections, on the connection's shard. add_connection fails with
  // "too_many_connections" when the user has push.max_connections_per_user already.
  Status add_connection(std::size_t shard, Subscriber* sub, const ClientIdentity& who);
  void remove_connection(std::size_t shard, const ClientIdentity& who);

  // Subscriptions, on the subscriber's shard. Permission to subscribe is the caller's
  // to check; the hub enforces namespaces, channel caps and recovery. Every publication
  // with an offset above the result's `offset` is delivered to `sub` afterwards.
  Result<SubscribeResult> subscribe(std::size_t shard, Subscriber* sub, const ClientIdentity& who,
                                    const ChannelName& channel, const std::optional<Since>& since,
                                    SubscriptionSlot& slot);
  void unsubscribe(const ClientIdentity& who, SubscriptionSlot& slot);

  // From any thread. `data_json` must be compact JSON (no raw newline).
  Result<PublishResult> publish(std::string_view app_id, const ChannelName& channel, std::string_view data_json);
  Result<HistoryResult> history(std::string_view app_id, const ChannelName& channel, std::size_t limit,
                                const std::optional<Since>& since);
  Result<PresenceResult> presence(std::string_view app_id, const ChannelName& channel);
  Result<PresenceStats> presence_stats(std::string_view app_id, const ChannelName& channel);
  // Whether the channel is held now: a subscribe or publish to it creates nothing.
  bool channel_exists(std::string_view app_id, std::string_view channel) const;
  // Channels the app holds (against push.max_channels_per_app).
  std::uint64_t app_channel_count(std::string_view app_id) const;
  // Closes every connection of the user on this node; returns how many were asked.
  std::size_t disconnect_user(std::string_view app_id, std::string_view user, int code, std::string reason);
  // Queues `frame` (a whole push such as `{"msg":{...}}`) on every connection of the user
  // on this node, each on its own shard; returns how many connections there were.
  std::size_t push_to_user(std::string_view app_id, std::string_view user, PublicationPtr frame);
  // On the subscriber's shard, when a subscriber goes away: it must not be flushed later.
  void forget_subscriber(std::size_t shard, Subscriber* sub);
  // Closes every connection on this node (the key service sealed).
  std::size_t disconnect_all(int code, std::string reason);
  // Closes every connection of the app on this node (the app was suspended or deleted).
  std::size_t disconnect_app(std::string_view app_id, int code, std::string reason);

  // Drops expired history and forgets idle channels (the broker's housekeeping); the
  // maintenance thread calls it every second, tests call it directly with a chosen clock.
  void sweep(std::int64_t now_ms);
  HubStats stats() const;
  // Starts the maintenance thread (sweep every second on the system clock).
  void start_maintenance();
  // Stops the maintenance thread (idempotent). Call before the executor goes away.
  void stop();

 private:
  // "namespace_not_found" or "presence_disabled" unless the channel keeps presence.
  Status presence_enabled(const ChannelName& channel) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
  const Config& cfg_;
};

}  // namespace herald::push
