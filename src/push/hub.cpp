// Channel state lives in hashed buckets, each channel behind its own mutex; subscriber
// lists live per shard and are touched only on their shard's thread. A publish takes
// the channel's lock to assign the offset, record history and append one pointer to
// each interested shard's inbox, which keeps per-channel order on every shard.
#include "push/hub.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"
#include "core/metrics.h"
#include "crypto/random.h"

namespace herald::push {

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

std::string hex_counter(std::uint64_t n) {
  static const char* kHex = "0123456789abcdef";
  char buf[17];
  int i = 16;
  buf[i] = 0;
  do {
    buf[--i] = kHex[n & 15];
    n >>= 4;
  } while (n);
  return std::string(buf + i);
}

const std::string& process_prefix() {
  static const std::string prefix = crypto::random_hex(6);
  return prefix;
}

std::string channel_key(std::string_view app_id, std::string_view channel) {
  std::string k;
  k.reserve(app_id.size() + 1 + channel.size());
  k.append(app_id);
  k.push_back('\x1f');
  k.append(channel);
  return k;
}

std::string user_key(std::string_view app_id, std::string_view user) { return channel_key(app_id, user); }

// A channel forgotten right after its last subscriber left would start a new epoch on
// the next subscribe; a short grace keeps offsets stable across quick reconnects.
constexpr std::int64_t kIdleChannelGraceMs = 30'000;
constexpr std::size_t kBuckets = 64;
// The next write pass waits this many times as long as the last one took (bounded by
// push.write_linger and push.write_linger_max).
constexpr int kLingerPerPass = 4;

}  // namespace

std::string next_client_id() {
  static std::atomic<std::uint64_t> counter{0};
  return process_prefix() + "c" + hex_counter(counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

std::string next_publication_id() {
  static std::atomic<std::uint64_t> counter{0};
  return process_prefix() + "-" + hex_counter(counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

namespace detail {

struct Channel {
  std::mutex mu;
  std::string key;
  std::string app_id;
  std::string name;
  const NamespaceConfig* ns = nullptr;
  std::string epoch;
  std::uint64_t top = 0;
  std::deque<PublicationPtr> history;
  std::vector<std::uint32_t> shard_subs;
  std::uint64_t subscribers = 0;
  std::unordered_map<std::string, PresenceEntry> presence;
  std::int64_t last_active_ms = 0;
  bool removed = false;  // forgotten by the sweep; holders must look the channel up again
};

}  // namespace detail

using detail::Channel;

namespace {

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

struct Bucket {
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<Channel>> channels;
};

// Drops publications beyond the namespace's size and age limits. Channel lock held.
void trim_history(Channel& ch, std::int64_t now_ms) {
  const auto& ns = *ch.ns;
  while (ch.history.size() > ns.history_size) ch.history.pop_front();
  const std::int64_t oldest = now_ms - ns.history_ttl.count();
  while (!ch.history.empty() && ch.history.front()->ts_ms < oldest) ch.history.pop_front();
}

// The publications after `since`, or nullopt when some of them are gone. Lock held.
std::optional<std::vector<PublicationPtr>> publications_since(Channel& ch, const Since& since) {
  if (since.epoch != ch.epoch || since.offset > ch.top) return std::nullopt;
  std::vector<PublicationPtr> out;
  if (since.offset == ch.top) return out;
  if (ch.history.empty() || ch.history.front()->offset > since.offset + 1) return std::nullopt;
  for (const auto& p : ch.history)
    if (p->offset > since.offset) out.push_back(p);
  return out;
}

}  // namespace

struct Hub::Impl {
  Impl(const Config& c, ShardExecutor& ex, metrics::Registry& r) : cfg(c), executor(ex) {
    for (std::size_t i = 0; i < ex.shards(); ++i) {
      shards.push_back(std::make_unique<Shard>());
      shards.back()->next_linger = c.push.write_linger;
    }
    m_publications = &r.counter("herald_push_publications_total", "Publications accepted by the hub").with({});
    m_deliveries = &r.counter("herald_push_deliveries_total", "Publications handed to subscriber connections").with({});
    m_channels = &r.gauge("herald_push_channels", "Channels held in memory").with({});
    m_subscriptions = &r.gauge("herald_push_subscriptions", "Active subscriptions").with({});
    m_connections = &r.gauge("herald_push_connections", "Connected (authenticated) clients").with({});
    m_recoveries = &r.counter("herald_push_recoveries_total", "Subscribe requests with `since`, by outcome", {"result"});
  }

  Bucket& bucket_for(const std::string& key) { return buckets[std::hash<std::string>{}(key) % kBuckets]; }

  // The channel for this key, created on first use. Fails when push.max_channels is reached.
  Result<std::shared_ptr<Channel>> find_or_create(std::string_view app_id, const ChannelName& name,
                                                  const NamespaceConfig* ns, bool create) {
    std::string key = channel_key(app_id, name.full);
    Bucket& b = bucket_for(key);
    std::lock_guard lock(b.mu);
    auto it = b.channels.find(key);
    if (it != b.channels.end()) return it->second;
    if (!create) return std::shared_ptr<Channel>();
    if (channel_count.load(std::memory_order_relaxed) >= cfg.push.max_channels)
      return make_error("too_many_channels", "the server holds push.max_channels channels already");
    auto ch = std::make_shared<Channel>();
    ch->key = key;
    ch->app_id = std::string(app_id);
    ch->name = std::string(name.full);
    ch->ns = ns;
    ch->epoch = crypto::random_hex(4);
    ch->shard_subs.assign(shards.size(), 0);
    ch->last_active_ms = unix_ms_now();
    b.channels.emplace(std::move(key), ch);
    channel_count.fetch_add(1, std::memory_order_relaxed);
    m_channels->inc();
    return ch;
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

  const Config& cfg;
  ShardExecutor& executor;
  std::vector<std::unique_ptr<Shard>> shards;
  std::array<Bucket, kBuckets> buckets;
  std::atomic<std::uint64_t> channel_count{0};
  std::atomic<std::uint64_t> subscription_count{0};
  std::atomic<std::uint64_t> publications{0};
  std::atomic<std::uint64_t> deliveries{0};

  std::mutex users_mu;
  std::unordered_map<std::string, std::vector<std::pair<std::size_t, std::string>>> users;

  metrics::Counter* m_publications;
  metrics::Counter* m_deliveries;
  metrics::Gauge* m_channels;
  metrics::Gauge* m_subscriptions;
  metrics::Gauge* m_connections;
  metrics::Family<metrics::Counter>* m_recoveries;

  std::mutex maint_mu;
  std::condition_variable maint_cv;
  bool maint_stop = false;
  std::thread maint;
};

Hub::Hub(const Config& cfg, ShardExecutor& executor, metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(cfg, executor, registry)), cfg_(cfg) {
  impl_->maint = std::thread([this] {
    std::unique_lock lock(impl_->maint_mu);
    while (!impl_->maint_stop) {
      impl_->maint_cv.wait_for(lock, std::chrono::seconds(1));
      if (impl_->maint_stop) break;
      lock.unlock();
      sweep(unix_ms_now());
      lock.lock();
    }
  });
}

Hub::~Hub() { stop(); }

void Hub::stop() {
  {
    std::lock_guard lock(impl_->maint_mu);
    impl_->maint_stop = true;
  }
  impl_->maint_cv.notify_all();
  if (impl_->maint.joinable()) impl_->maint.join();
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
      return make_error("too_many_connections", "this user has push.max_connections_per_user connections already");
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
  auto& im = *impl_;
  std::vector<std::pair<std::size_t, std::string>> conns;
  {
    std::lock_guard lock(im.users_mu);
    auto it = im.users.find(user_key(app_id, user));
    if (it != im.users.end()) conns = it->second;
  }
  for (auto& [shard, client_id] : conns) {
    im.executor.post(shard, [&im, shard = shard, id = client_id, code, reason] {
      auto& clients = im.shards[shard]->clients;
      auto it = clients.find(id);
      if (it != clients.end()) it->second->disconnect(code, reason);
    });
  }
  return conns.size();
}

std::size_t Hub::push_to_user(std::string_view app_id, std::string_view user, PublicationPtr frame) {
  auto& im = *impl_;
  std::vector<std::pair<std::size_t, std::string>> conns;
  {
    std::lock_guard lock(im.users_mu);
    auto it = im.users.find(user_key(app_id, user));
    if (it != im.users.end()) conns = it->second;
  }
  for (auto& [shard, client_id] : conns) {
    im.executor.post(shard, [&im, shard = shard, id = client_id, frame] {
      auto& clients = im.shards[shard]->clients;
      auto it = clients.find(id);
      if (it != clients.end() && it->second->deliver(*frame)) it->second->flush();
    });
  }
  return conns.size();
}

void Hub::forget_subscriber(std::size_t shard, Subscriber* sub) {
  auto& s = *impl_->shards[shard];
  std::replace(s.dirty.begin(), s.dirty.end(), sub, static_cast<Subscriber*>(nullptr));
  std::replace(s.flushing.begin(), s.flushing.end(), sub, static_cast<Subscriber*>(nullptr));
}

std::size_t Hub::disconnect_all(int code, std::string reason) { return disconnect_app("", code, std::move(reason)); }

std::size_t Hub::disconnect_app(std::string_view app_id, int code, std::string reason) {
  auto& im = *impl_;
  std::vector<std::pair<std::size_t, std::string>> conns;
  {
    // An empty app id matches every connection.
    std::string prefix = app_id.empty() ? std::string() : std::string(app_id) + '\x1f';
    std::lock_guard lock(im.users_mu);
    for (const auto& [key, list] : im.users)
      if (key.compare(0, prefix.size(), prefix) == 0) conns.insert(conns.end(), list.begin(), list.end());
  }
  for (auto& [shard, client_id] : conns) {
    im.executor.post(shard, [&im, shard = shard, id = client_id, code, reason] {
      auto& clients = im.shards[shard]->clients;
      auto it = clients.find(id);
      if (it != clients.end()) it->second->disconnect(code, reason);
    });
  }
  return conns.size();
}

Result<SubscribeResult> Hub::subscribe(std::size_t shard, Subscriber* sub, const ClientIdentity& who,
                                       const ChannelName& channel, const std::optional<Since>& since,
                                       SubscriptionSlot& slot) {
  auto& im = *impl_;
  const NamespaceConfig* ns = namespace_config(channel.ns);
  if (!ns) return make_error("namespace_not_found", "the namespace '" + std::string(channel.ns) + "' is not configured");
  for (;;) {
    auto found = im.find_or_create(who.app_id, channel, ns, true);
    if (!found) return found.error();
    std::shared_ptr<Channel> ch = std::move(*found);
    SubscribeResult r;
    {
      std::lock_guard lock(ch->mu);
      if (ch->removed) continue;  // the sweep forgot it just now: use the new one
      if (ns->max_subscribers != 0 && ch->subscribers >= ns->max_subscribers)
        return make_error("channel_full", "the channel has its namespace's max_subscribers");
      std::int64_t now = unix_ms_now();
      trim_history(*ch, now);
      r.epoch = ch->epoch;
      r.offset = ch->top;
      r.recoverable = ns->history_size > 0;
      if (since) {
        auto pubs = publications_since(*ch, *since);
        r.recovered = pubs.has_value();
        if (pubs) r.publications = std::move(*pubs);
        im.m_recoveries->with({pubs ? "recovered" : "failed"}).inc();
      }
      ch->shard_subs[shard]++;
      ch->subscribers++;
      ch->last_active_ms = now;
      if (ns->presence) ch->presence[who.client_id] = PresenceEntry{who.client_id, who.user, who.info};
    }
    // Publications above r.offset were queued to this shard after the lock was released;
    // they run after this handler, when the entry below exists.
    auto& list = im.shards[shard]->subs[ch.get()];
    slot.channel = ch;
    slot.shard = shard;
    slot.index = list.size();
    list.push_back(LocalSub{sub, r.offset, &slot});
    im.subscription_count.fetch_add(1, std::memory_order_relaxed);
    im.m_subscriptions->inc();
    return r;
  }
}

void Hub::unsubscribe(const ClientIdentity& who, SubscriptionSlot& slot) {
  if (!slot.channel) return;
  auto& im = *impl_;
  Channel* ch = slot.channel.get();
  {
    std::lock_guard lock(ch->mu);
    ch->shard_subs[slot.shard]--;
    ch->subscribers--;
    ch->presence.erase(who.client_id);
    ch->last_active_ms = unix_ms_now();
  }
  auto& subs = im.shards[slot.shard]->subs;
  auto it = subs.find(ch);
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
  if (!ns) return make_error("namespace_not_found", "the namespace '" + std::string(channel.ns) + "' is not configured");
  if (data_json.size() > cfg_.push.max_publication_bytes)
    return make_error("publication_too_large", "the data exceeds push.max_publication_bytes");
  std::string id = next_publication_id();
  for (;;) {
    auto found = im.find_or_create(app_id, channel, ns, true);
    if (!found) return found.error();
    std::shared_ptr<Channel> ch = std::move(*found);
    std::lock_guard lock(ch->mu);
    if (ch->removed) continue;
    std::int64_t now = unix_ms_now();
    auto pub = std::make_shared<Publication>();
    pub->offset = ++ch->top;
    pub->ts_ms = now;
    pub->id = id;
    std::string offset = std::to_string(pub->offset), ts = std::to_string(now);
    std::string& f = pub->frame;
    f.reserve(64 + channel.full.size() + offset.size() + ch->epoch.size() + id.size() + ts.size() + data_json.size());
    f.append("{\"pub\":{\"channel\":\"").append(channel.full);
    f.append("\",\"offset\":").append(offset);
    f.append(",\"epoch\":\"").append(ch->epoch);
    f.append("\",\"id\":\"").append(id);
    f.append("\",\"ts\":").append(ts);
    f.append(",\"data\":").append(data_json).append("}}");
    PublicationPtr shared = std::move(pub);
    if (ns->history_size > 0) {
      ch->history.push_back(shared);
      trim_history(*ch, now);
    }
    ch->last_active_ms = now;
    for (std::size_t s = 0; s < ch->shard_subs.size(); ++s)
      if (ch->shard_subs[s] > 0) im.enqueue(s, ch, shared);
    im.publications.fetch_add(1, std::memory_order_relaxed);
    im.m_publications->inc();
    return PublishResult{shared->offset, ch->epoch, shared->id};
  }
}

Result<HistoryResult> Hub::history(std::string_view app_id, const ChannelName& channel, std::size_t limit,
                                   const std::optional<Since>& since) {
  auto& im = *impl_;
  const NamespaceConfig* ns = namespace_config(channel.ns);
  if (!ns) return make_error("namespace_not_found", "the namespace '" + std::string(channel.ns) + "' is not configured");
  if (ns->history_size == 0) return make_error("history_disabled", "this namespace keeps no history");
  auto found = im.find_or_create(app_id, channel, ns, true);
  if (!found) return found.error();
  auto& ch = *found;
  HistoryResult r;
  std::lock_guard lock(ch->mu);
  trim_history(*ch, unix_ms_now());
  r.epoch = ch->epoch;
  r.offset = ch->top;
  std::vector<PublicationPtr> pubs;
  if (since) {
    auto after = publications_since(*ch, *since);
    if (!after) {
      r.recovered = false;
      return r;
    }
    pubs = std::move(*after);
  } else {
    pubs.assign(ch->history.begin(), ch->history.end());
  }
  if (limit == 0 || limit > ns->history_size) limit = ns->history_size;
  // The newest `limit`, oldest first.
  if (pubs.size() > limit) pubs.erase(pubs.begin(), pubs.end() - static_cast<std::ptrdiff_t>(limit));
  r.publications = std::move(pubs);
  return r;
}

Result<PresenceResult> Hub::presence(std::string_view app_id, const ChannelName& channel) {
  auto& im = *impl_;
  const NamespaceConfig* ns = namespace_config(channel.ns);
  if (!ns) return make_error("namespace_not_found", "the namespace '" + std::string(channel.ns) + "' is not configured");
  if (!ns->presence) return make_error("presence_disabled", "this namespace keeps no presence");
  PresenceResult r;
  auto found = im.find_or_create(app_id, channel, ns, false);
  if (!found) return found.error();
  if (!*found) return r;
  auto& ch = *found;
  std::lock_guard lock(ch->mu);
  for (const auto& [id, e] : ch->presence) {
    if (r.clients.size() >= cfg_.push.max_presence_clients) {
      r.truncated = true;
      break;
    }
    r.clients.push_back(e);
  }
  return r;
}

Result<PresenceStats> Hub::presence_stats(std::string_view app_id, const ChannelName& channel) {
  auto& im = *impl_;
  const NamespaceConfig* ns = namespace_config(channel.ns);
  if (!ns) return make_error("namespace_not_found", "the namespace '" + std::string(channel.ns) + "' is not configured");
  if (!ns->presence) return make_error("presence_disabled", "this namespace keeps no presence");
  PresenceStats r;
  auto found = im.find_or_create(app_id, channel, ns, false);
  if (!found) return found.error();
  if (!*found) return r;
  auto& ch = *found;
  std::lock_guard lock(ch->mu);
  std::unordered_set<std::string_view> users;
  for (const auto& [id, e] : ch->presence) users.insert(e.user);
  r.num_clients = ch->presence.size();
  r.num_users = users.size();
  return r;
}

void Hub::sweep(std::int64_t now_ms) {
  auto& im = *impl_;
  for (auto& b : im.buckets) {
    std::lock_guard lock(b.mu);
    for (auto it = b.channels.begin(); it != b.channels.end();) {
      Channel& ch = *it->second;
      std::lock_guard cl(ch.mu);
      trim_history(ch, now_ms);
      if (ch.subscribers == 0 && ch.history.empty() && now_ms - ch.last_active_ms >= kIdleChannelGraceMs) {
        ch.removed = true;
        it = b.channels.erase(it);
        im.channel_count.fetch_sub(1, std::memory_order_relaxed);
        im.m_channels->dec();
      } else {
        ++it;
      }
    }
  }
}

HubStats Hub::stats() const {
  auto& im = *impl_;
  return HubStats{im.channel_count.load(), im.subscription_count.load(), im.publications.load(),
                  im.deliveries.load()};
}

}  // namespace herald::push
