// Subscriber lists live per shard and are touched only on their shard's thread. The
// broker numbers each publication under its channel lock and hands it to the hub
// there, and the hub appends one pointer to each listening shard's inbox, which keeps
// per-channel order on every shard.
#include "push/hub.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "core/clock.h"
#include "core/ids.h"
#include "core/metrics.h"
#include "core/periodic_thread.h"
#include "push/channel_table.h"

namespace herald::push {
namespace {

using detail::Channel;

std::string user_key(std::string_view app_id, std::string_view user) {
  return channel_key(app_id, user);
}

// The next write pass waits this many times as long as the last one took (bounded by
// push.write_linger and push.write_linger_max).
constexpr int kLingerPerPass = 4;

struct LocalSub {
  Subscriber* sub;
  std::uint64_t min_offset;  // deliver only publications above this offset
  SubscriptionSlot* slot;
};

struct Delivery {
  std::shared_ptr<Channel> channel;  // keeps the address (the table key) from being reused
  PublicationPtr pub;
};

struct alignas(64) Shard {
  std::mutex inbox_mu;
  std::vector<Delivery> inbox;
  bool scheduled = false;
  // Touched only on the shard's thread.
  std::vector<Delivery> draining;
  std::unordered_map<const Channel*, std::vector<LocalSub>> subs;
  std::vector<Subscriber*> dirty;     // delivered to since the last flush pass
  std::vector<Subscriber*> flushing;  // the pass under way
  bool flush_scheduled = false;
  std::chrono::microseconds next_linger{1000};
  std::unordered_map<std::string, Subscriber*> clients;
};

template <class T>
T value_or_throw(Result<T> r) {
  if (!r) throw std::runtime_error(r.error().message);
  return std::move(*r);
}

// Which connections a by-user operation reaches: one user's, or every user's of an app
// (an empty key_prefix: every connection).
struct ConnectionFilter {
  std::string key;
  bool prefix = false;
};

}  // namespace

struct Hub::Impl final : BrokerEventHandler {
  Impl(const Config& c, ShardExecutor& ex, metrics::Registry& r, std::unique_ptr<Broker> b,
       std::unique_ptr<PresenceManager> p)
      : cfg(c), executor(ex), broker(std::move(b)), presence(std::move(p)), table(ex.shards()) {
    for (std::size_t i = 0; i < ex.shards(); ++i) {
      shards.push_back(std::make_unique<Shard>());
      shards.back()->next_linger = c.push.write_linger;
    }
    m_publications = &r.counter("herald_push_publications_total", "Publications accepted by the hub").with({});
    m_deliveries = &r.counter("herald_push_deliveries_total", "Publications handed to subscriber connections").with({});
    m_subscriptions = &r.gauge("herald_push_subscriptions", "Active subscriptions").with({});
    m_connections = &r.gauge("herald_push_connections", "Connected (authenticated) clients").with({});
    m_recoveries =
        &r.counter("herald_push_recoveries_total", "Subscribe requests with `since`, by outcome", {"result"});
    broker->set_handler(this);
  }

  // Under the broker's channel lock: one pointer to each shard that has subscribers.
  void handle_publication(std::string_view app_id, std::string_view channel, const PublicationPtr& pub) override {
    table.for_each_listening_shard(app_id, channel,
                                   [&](std::size_t s, const std::shared_ptr<Channel>& ch) { enqueue(s, ch, pub); });
  }

  void enqueue(std::size_t shard_index, const std::shared_ptr<Channel>& ch, const PublicationPtr& pub) {
    Shard& s = *shards[shard_index];
    bool post = false;
    {
      std::lock_guard lock(s.inbox_mu);
      s.inbox.push_back(Delivery{ch, pub});
      if (!s.scheduled) s.scheduled = post = true;
    }
    if (post) executor.post(shard_index, [this, shard_index] { drain(shard_index); });
  }

  // On the shard's thread: hand every queued publication to the local subscribers of its
  // channel. Writing is left to a flush pass that runs push.write_linger later, so that
  // one socket write carries every publication that arrived meanwhile: under load, a
  // pass over many connections takes long enough for the next batch to build up.
  void drain(std::size_t shard_index) {
    Shard& s = *shards[shard_index];
    {
      std::lock_guard lock(s.inbox_mu);
      s.draining.swap(s.inbox);
      s.scheduled = false;
    }
    std::uint64_t delivered = 0;
    for (const auto& d : s.draining) {
      auto it = s.subs.find(d.channel.get());
      if (it == s.subs.end()) continue;
      const Publication& pub = *d.pub;
      for (const auto& e : it->second) {
        if (pub.offset <= e.min_offset) continue;
        ++delivered;
        if (e.sub->deliver(pub)) s.dirty.push_back(e.sub);
      }
    }
    s.draining.clear();
    if (s.draining.capacity() > 4096) s.draining.shrink_to_fit();
    if (!s.dirty.empty() && !s.flush_scheduled) {
      s.flush_scheduled = true;
      executor.post_after(shard_index, s.next_linger, [this, shard_index] { flush_pass(shard_index); });
    }
    if (delivered) {
      m_deliveries->inc(delivered);
      deliveries.fetch_add(delivered, std::memory_order_relaxed);
    }
  }

  // The linger adapts to load: the next pass waits as long as this one took (within the
  // configured bounds), so that a shard with many busy connections writes each of them
  // less often and with more in each write, while a quiet one stays prompt.
  void flush_pass(std::size_t shard_index) {
    Shard& s = *shards[shard_index];
    auto t0 = std::chrono::steady_clock::now();
    s.flush_scheduled = false;
    s.flushing.swap(s.dirty);
    // flush() may close a subscriber, which then forgets itself from `dirty`, not from
    // `flushing`; a closed one is not flushed twice since it left `flushing` here first.
    for (std::size_t i = 0; i < s.flushing.size(); ++i) {
      Subscriber* sub = s.flushing[i];
      if (!sub) continue;
      s.flushing[i] = nullptr;
      sub->flush();
    }
    s.flushing.clear();
    if (s.flushing.capacity() > 65536) s.flushing.shrink_to_fit();
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    s.next_linger = std::clamp<std::chrono::microseconds>(kLingerPerPass * took, cfg.push.write_linger,
                                                          std::max(cfg.push.write_linger, cfg.push.write_linger_max));
  }

  // Snapshots the matching connections under users_mu, then runs `fn` on each one's
  // shard with its subscriber, if it is still there; returns how many were matched.
  std::size_t for_each_connection(const ConnectionFilter& filter, std::function<void(Subscriber&)> fn) {
    std::vector<std::pair<std::size_t, std::string>> conns;
    {
      std::lock_guard lock(users_mu);
      if (!filter.prefix) {
        auto it = users.find(filter.key);
        if (it != users.end()) conns = it->second;
      } else {
        for (const auto& [key, list] : users)
          if (key.compare(0, filter.key.size(), filter.key) == 0) conns.insert(conns.end(), list.begin(), list.end());
      }
    }
    auto shared_fn = std::make_shared<const std::function<void(Subscriber&)>>(std::move(fn));
    for (auto& [shard, client_id] : conns) {
      executor.post(shard, [this, shard = shard, id = client_id, shared_fn] {
        auto& clients = shards[shard]->clients;
        auto it = clients.find(id);
        if (it != clients.end()) (*shared_fn)(*it->second);
      });
    }
    return conns.size();
  }

  const Config& cfg;
  ShardExecutor& executor;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<PresenceManager> presence;
  ChannelTable table;
  std::vector<std::unique_ptr<Shard>> shards;
  std::atomic<std::uint64_t> subscription_count{0};
  std::atomic<std::uint64_t> publications{0};
  std::atomic<std::uint64_t> deliveries{0};

  std::mutex users_mu;
  std::unordered_map<std::string, std::vector<std::pair<std::size_t, std::string>>> users;

  metrics::Counter* m_publications;
  metrics::Counter* m_deliveries;
  metrics::Gauge* m_subscriptions;
  metrics::Gauge* m_connections;
  metrics::Family<metrics::Counter>* m_recoveries;

  PeriodicThread maintenance;
};

Hub::Hub(const Config& cfg, ShardExecutor& executor, metrics::Registry& registry)
    : Hub(cfg, executor, registry, value_or_throw(make_broker(cfg, registry)),
          value_or_throw(make_presence_manager(cfg))) {}

Hub::Hub(const Config& cfg, ShardExecutor& executor, metrics::Registry& registry, std::unique_ptr<Broker> broker,
         std::unique_ptr<PresenceManager> presence)
    : impl_(std::make_unique<Impl>(cfg, executor, registry, std::move(broker), std::move(presence))), cfg_(cfg) {}

Hub::~Hub() {
  stop();
}

void Hub::start_maintenance() {
  impl_->maintenance.start(std::chrono::seconds(1), [this] { sweep(clock::unix_ms()); });
}

void Hub::stop() {
  impl_->maintenance.stop();
}

ShardExecutor& Hub::executor() const {
  return impl_->executor;
}

const NamespaceConfig* Hub::namespace_config(std::string_view ns) const {
  auto it = cfg_.namespaces.find(std::string(ns));
  return it == cfg_.namespaces.end() ? nullptr : &it->second;
}

Status Hub::add_connection(std::size_t shard, Subscriber* sub, const ClientIdentity& who) {
  auto& im = *impl_;
  {
    std::lock_guard lock(im.users_mu);
    auto& list = im.users[user_key(who.app_id, who.user)];
    const auto max = cfg_.push.max_connections_per_user;
    if (max != 0 && list.size() >= max) {
      if (list.empty()) im.users.erase(user_key(who.app_id, who.user));
      return make_error(Errc::kTooManyConnections, "this user has push.max_connections_per_user connections already");
    }
    list.emplace_back(shard, who.client_id);
  }
  im.shards[shard]->clients[who.client_id] = sub;
  im.m_connections->inc();
  return ok_status();
}

void Hub::remove_connection(std::size_t shard, const ClientIdentity& who) {
  auto& im = *impl_;
  {
    std::lock_guard lock(im.users_mu);
    auto key = user_key(who.app_id, who.user);
    auto it = im.users.find(key);
    if (it != im.users.end()) {
      auto& list = it->second;
      list.erase(std::remove_if(list.begin(), list.end(), [&](const auto& e) { return e.second == who.client_id; }),
                 list.end());
      if (list.empty()) im.users.erase(it);
    }
  }
  if (im.shards[shard]->clients.erase(who.client_id)) im.m_connections->dec();
}

std::size_t Hub::disconnect_user(std::string_view app_id, std::string_view user, int code, std::string reason) {
  return impl_->for_each_connection({user_key(app_id, user), false},
                                    [code, reason](Subscriber& s) { s.disconnect(code, reason); });
}

std::size_t Hub::push_to_user(std::string_view app_id, std::string_view user, PublicationPtr frame) {
  return impl_->for_each_connection({user_key(app_id, user), false}, [frame](Subscriber& s) {
    if (s.deliver(*frame)) s.flush();
  });
}

void Hub::forget_subscriber(std::size_t shard, Subscriber* sub) {
  auto& s = *impl_->shards[shard];
  std::replace(s.dirty.begin(), s.dirty.end(), sub, static_cast<Subscriber*>(nullptr));
  std::replace(s.flushing.begin(), s.flushing.end(), sub, static_cast<Subscriber*>(nullptr));
}

std::size_t Hub::disconnect_all(int code, std::string reason) {
  return disconnect_app("", code, std::move(reason));
}

std::size_t Hub::disconnect_app(std::string_view app_id, int code, std::string reason) {
  // An empty app id matches every connection.
  std::string prefix = app_id.empty() ? std::string() : std::string(app_id) + '\x1f';
  return impl_->for_each_connection({std::move(prefix), true},
                                    [code, reason](Subscriber& s) { s.disconnect(code, reason); });
}

namespace {
Error namespace_not_found(std::string_view ns) {
  return Error{Errc::kNamespaceNotFound, "the namespace '" + std::string(ns) + "' is not configured"};
}
}  // namespace

Result<SubscribeResult> Hub::subscribe(std::size_t shard, Subscriber* sub, const ClientIdentity& who,
                                       const ChannelName& channel, const std::optional<Since>& since,
                                       SubscriptionSlot& slot) {
  auto& im = *impl_;
  const NamespaceConfig* ns = namespace_config(channel.ns);
  if (!ns) return namespace_not_found(channel.ns);
  // The shard's count goes up before the position is read: every publication numbered
  // after that position is then queued to this shard (push/channel_table.cpp).
  auto acquired = im.table.acquire(who.app_id, channel, *ns, shard);
  if (!acquired) return acquired.error();
  std::shared_ptr<Channel> ch = std::move(*acquired);
  auto interest = im.broker->subscribe(who.app_id, channel, *ns);
  auto r = interest ? im.broker->recover(who.app_id, channel, *ns, since) : Result<SubscribeResult>(interest.error());
  if (!r) {
    if (interest) im.broker->unsubscribe(who.app_id, channel.full);
    im.table.release(ch, shard);
    return r.error();
  }
  if (since) im.m_recoveries->with({*r->recovered ? "recovered" : "failed"}).inc();
  if (ns->presence) im.presence->add(who.app_id, channel.full, PresenceEntry{who.client_id, who.user, who.info});
  // Publications above r->offset were queued to this shard after the position was read;
  // they run after this handler, when the entry below exists.
  auto& list = im.shards[shard]->subs[ch.get()];
  slot.channel = ch;
  slot.shard = shard;
  slot.index = list.size();
  list.push_back(LocalSub{sub, r->offset, &slot});
  im.subscription_count.fetch_add(1, std::memory_order_relaxed);
  im.m_subscriptions->inc();
  return r;
}

void Hub::unsubscribe(const ClientIdentity& who, SubscriptionSlot& slot) {
  if (!slot.channel) return;
  auto& im = *impl_;
  std::shared_ptr<Channel> ch = slot.channel;
  if (ch->ns->presence) im.presence->remove(ch->app_id, ch->name, who.client_id);
  im.table.release(ch, slot.shard);
  im.broker->unsubscribe(ch->app_id, ch->name);
  auto& subs = im.shards[slot.shard]->subs;
  auto it = subs.find(ch.get());
  if (it != subs.end()) {
    auto& list = it->second;
    std::size_t i = slot.index;
    if (i < list.size() && list[i].slot == &slot) {
      if (i + 1 != list.size()) {
        list[i] = list.back();
        list[i].slot->index = i;
      }
      list.pop_back();
    }
    if (list.empty()) subs.erase(it);
  }
  slot.channel.reset();
  im.subscription_count.fetch_sub(1, std::memory_order_relaxed);
  im.m_subscriptions->dec();
}

Result<PublishResult> Hub::publish(std::string_view app_id, const ChannelName& channel, std::string_view data_json) {
  auto& im = *impl_;
  const NamespaceConfig* ns = namespace_config(channel.ns);
  if (!ns) return namespace_not_found(channel.ns);
  if (data_json.size() > cfg_.push.max_publication_bytes)
    return make_error(Errc::kPublicationTooLarge, "the data exceeds push.max_publication_bytes");
  auto r = im.broker->publish(app_id, channel, *ns, next_publication_id(), data_json);
  if (!r) return r;
  im.publications.fetch_add(1, std::memory_order_relaxed);
  im.m_publications->inc();
  return r;
}

Result<HistoryResult> Hub::history(std::string_view app_id, const ChannelName& channel, std::size_t limit,
                                   const std::optional<Since>& since) {
  const NamespaceConfig* ns = namespace_config(channel.ns);
  if (!ns) return namespace_not_found(channel.ns);
  if (ns->history_size == 0) return make_error(Errc::kHistoryDisabled, "this namespace keeps no history");
  return impl_->broker->history(app_id, channel, *ns, limit, since);
}

Result<PresenceResult> Hub::presence(std::string_view app_id, const ChannelName& channel) {
  if (auto ok = presence_enabled(channel); !ok) return ok.error();
  return impl_->presence->list(app_id, channel.full, cfg_.push.max_presence_clients);
}

Result<PresenceStats> Hub::presence_stats(std::string_view app_id, const ChannelName& channel) {
  if (auto ok = presence_enabled(channel); !ok) return ok.error();
  return impl_->presence->stats(app_id, channel.full);
}

Status Hub::presence_enabled(const ChannelName& channel) const {
  const NamespaceConfig* ns = namespace_config(channel.ns);
  if (!ns) return namespace_not_found(channel.ns);
  if (!ns->presence) return make_error(Errc::kPresenceDisabled, "this namespace keeps no presence");
  return ok_status();
}

bool Hub::channel_exists(std::string_view app_id, std::string_view channel) const {
  return impl_->broker->exists(app_id, channel);
}

std::uint64_t Hub::app_channel_count(std::string_view app_id) const {
  return impl_->broker->app_channel_count(app_id);
}

void Hub::sweep(std::int64_t now_ms) {
  impl_->broker->maintain(now_ms);
}

HubStats Hub::stats() const {
  auto& im = *impl_;
  return HubStats{im.broker->channel_count(), im.subscription_count.load(), im.publications.load(),
                  im.deliveries.load()};
}

}  // namespace herald::push
