// The seam between the hub (local fan-out) and where channel streams and presence live:
// a Broker assigns offsets and keeps history, a PresenceManager keeps who is in a
// channel. Memory implementations today (broker.driver = "memory"); another node or
// engine plugs in here (Centrifuge's Broker and PresenceManager).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "push/channel_name.h"
#include "push/publication.h"

namespace herald::metrics {
class Registry;
}

namespace herald::push {

struct Since {
  std::uint64_t offset = 0;
  std::string epoch;
};

struct SubscribeResult {
  std::string epoch;
  std::uint64_t offset = 0;
  bool recoverable = false;
  std::optional<bool> recovered;  // only when `since` was given
  std::vector<PublicationPtr> publications;
};

struct PublishResult {
  std::uint64_t offset = 0;
  std::string epoch;
  std::string id;
};

struct HistoryResult {
  std::string epoch;
  std::uint64_t offset = 0;
  bool recovered = true;  // false when `since` could not be honoured
  std::vector<PublicationPtr> publications;
};

struct PresenceEntry {
  std::string client_id;
  std::string user;
  std::string info;
};

struct PresenceResult {
  std::vector<PresenceEntry> clients;
  bool truncated = false;
};

struct PresenceStats {
  std::uint64_t num_clients = 0;
  std::uint64_t num_users = 0;
};

// Receives the publications of the channels this node is subscribed to; the hub
// implements it to fan them out to its shards.
class BrokerEventHandler {
 public:
  virtual ~BrokerEventHandler() = default;
  // Called once per publication, in offset order for each channel. It may run under
  // the broker's channel lock (that is what keeps the order), so it must not call
  // back into the broker, and it must be quick.
  virtual void handle_publication(std::string_view app_id, std::string_view channel, const PublicationPtr& pub) = 0;
};

// Channel streams: offsets, epochs, history, recovery, and which channels this node
// listens to. Every method may be called from any thread. `ns` is the channel's
// namespace configuration, checked by the caller.
class Broker {
 public:
  virtual ~Broker() = default;
  // Set once, before the first publish.
  virtual void set_handler(BrokerEventHandler* handler) = 0;
  // Assigns the next offset, builds the `pub` frame once, records it in history and
  // hands it to the handler. "too_many_channels" when a new channel would exceed
  // push.max_channels or the app's push.max_channels_per_app.
  virtual Result<PublishResult> publish(std::string_view app_id, const ChannelName& channel, const NamespaceConfig& ns,
                                        std::string_view id, std::string_view data_json) = 0;
  // The newest `limit` publications (0 or above the namespace's history size: all kept),
  // or those after `since`; recovered = false when some of those are gone. Never
  // creates the channel: one nobody holds answers an empty page with epoch "".
  virtual Result<HistoryResult> history(std::string_view app_id, const ChannelName& channel, const NamespaceConfig& ns,
                                        std::size_t limit, const std::optional<Since>& since) = 0;
  // The channel's current position, and with `since`, the publications after it (or
  // recovered = false). Every publication with a higher offset than the returned one
  // reaches the handler after this call.
  virtual Result<SubscribeResult> recover(std::string_view app_id, const ChannelName& channel,
                                          const NamespaceConfig& ns, const std::optional<Since>& since) = 0;
  // The node's interest in a channel, counted: the channel is kept (and, with a remote
  // engine, listened to) while the count is above zero.
  virtual Status subscribe(std::string_view app_id, const ChannelName& channel, const NamespaceConfig& ns) = 0;
  virtual void unsubscribe(std::string_view app_id, std::string_view channel) = 0;
  // Housekeeping the hub's maintenance thread runs every second: expired history,
  // idle channels (a memory engine's job; a remote one may do nothing).
  virtual void maintain(std::int64_t now_ms) = 0;
  // Channels held (with subscribers or history).
  virtual std::uint64_t channel_count() const = 0;
  // Whether the channel is held now (a subscribe or publish would not create it).
  virtual bool exists(std::string_view app_id, std::string_view channel) = 0;
  // Channels the app holds, against push.max_channels_per_app.
  virtual std::uint64_t app_channel_count(std::string_view app_id) const = 0;
};

// Who is in a channel. Any thread.
class PresenceManager {
 public:
  virtual ~PresenceManager() = default;
  virtual void add(std::string_view app_id, std::string_view channel, const PresenceEntry& entry) = 0;
  virtual void remove(std::string_view app_id, std::string_view channel, std::string_view client_id) = 0;
  // At most `max_clients` entries; truncated when there were more.
  virtual PresenceResult list(std::string_view app_id, std::string_view channel, std::size_t max_clients) const = 0;
  virtual PresenceStats stats(std::string_view app_id, std::string_view channel) const = 0;
};

// The implementations broker.driver names; "invalid_config" for an unknown driver.
Result<std::unique_ptr<Broker>> make_broker(const Config& cfg, metrics::Registry& registry);
Result<std::unique_ptr<PresenceManager>> make_presence_manager(const Config& cfg);

// The key of a channel in the engines' tables: app id, 0x1f, channel name.
std::string channel_key(std::string_view app_id, std::string_view channel);

}  // namespace herald::push
