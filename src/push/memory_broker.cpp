// A publish takes the stream's lock to assign the offset, record history and hand the
// publication to the hub, so that the hub sees each channel's publications in order.
#include "push/memory_broker.h"

#include "core/metrics.h"
#include "crypto/random.h"

namespace herald::push {
namespace {

// A channel forgotten right after its last subscriber left would start a new epoch on
// the next subscribe; a short grace keeps offsets stable across quick reconnects.
constexpr std::int64_t kIdleChannelGraceMs = 30'000;

}  // namespace

MemoryBroker::MemoryBroker(const Config& cfg, metrics::Registry& registry, Clock clock)
    : cfg_(cfg),
      clock_(std::move(clock)),
      m_channels_(&registry.gauge("herald_push_channels", "Channels held in memory").with({})) {}

Result<std::shared_ptr<MemoryBroker::Stream>> MemoryBroker::find_or_create(std::string_view app_id,
                                                                           std::string_view channel,
                                                                           const NamespaceConfig* ns, bool create) {
  std::string key = channel_key(app_id, channel);
  Bucket& b = buckets_[std::hash<std::string>{}(key) % kBuckets];
  std::lock_guard lock(b.mu);
  auto it = b.streams.find(key);
  if (it != b.streams.end()) return it->second;
  if (!create) return std::shared_ptr<Stream>();
  if (count_.load(std::memory_order_relaxed) >= cfg_.push.max_channels)
    return make_error(Errc::kTooManyChannels, "the server holds push.max_channels channels already");
  if (!take_app_channel(app_id))
    return make_error(Errc::kTooManyChannels, "the app holds push.max_channels_per_app channels already");
  auto s = std::make_shared<Stream>();
  s->app_id = std::string(app_id);
  s->ns = ns;
  s->epoch = crypto::random_hex(4);
  s->last_active_ms = now_ms(clock_);
  b.streams.emplace(std::move(key), s);
  count_.fetch_add(1, std::memory_order_relaxed);
  m_channels_->inc();
  return s;
}

bool MemoryBroker::take_app_channel(std::string_view app_id) {
  std::lock_guard lock(apps_mu_);
  auto& n = app_channels_[std::string(app_id)];
  if (n >= cfg_.push.max_channels_per_app) return false;
  ++n;
  return true;
}

void MemoryBroker::release_app_channel(const std::string& app_id) {
  std::lock_guard lock(apps_mu_);
  auto it = app_channels_.find(app_id);
  if (it == app_channels_.end()) return;
  if (--it->second == 0) app_channels_.erase(it);
}

std::uint64_t MemoryBroker::app_channel_count(std::string_view app_id) const {
  std::lock_guard lock(apps_mu_);
  auto it = app_channels_.find(std::string(app_id));
  return it == app_channels_.end() ? 0 : it->second;
}

bool MemoryBroker::exists(std::string_view app_id, std::string_view channel) {
  auto found = find_or_create(app_id, channel, nullptr, false);
  return found && *found;
}

template <class Fn>
auto MemoryBroker::with_stream(std::string_view app_id, std::string_view channel, const NamespaceConfig& ns, Fn&& fn)
    -> decltype(fn(std::declval<Stream&>())) {
  for (;;) {
    auto found = find_or_create(app_id, channel, &ns, true);
    if (!found) return found.error();
    std::shared_ptr<Stream> s = std::move(*found);
    std::lock_guard lock(s->mu);
    if (s->removed) continue;  // maintain() forgot it just now: use the new one
    return fn(*s);
  }
}

void MemoryBroker::trim(Stream& s, std::int64_t now_ms) {
  const auto& ns = *s.ns;
  while (s.history.size() > ns.history_size) s.history.pop_front();
  const std::int64_t oldest = now_ms - ns.history_ttl.count();
  while (!s.history.empty() && s.history.front()->ts_ms < oldest) s.history.pop_front();
}

std::optional<std::vector<PublicationPtr>> MemoryBroker::since_of(Stream& s, const Since& since) {
  if (since.epoch != s.epoch || since.offset > s.top) return std::nullopt;
  std::vector<PublicationPtr> out;
  if (since.offset == s.top) return out;
  if (s.history.empty() || s.history.front()->offset > since.offset + 1) return std::nullopt;
  for (const auto& p : s.history)
    if (p->offset > since.offset) out.push_back(p);
  return out;
}

Result<PublishResult> MemoryBroker::publish(std::string_view app_id, const ChannelName& channel,
                                            const NamespaceConfig& ns, std::string_view id,
                                            std::string_view data_json) {
  return with_stream(app_id, channel.full, ns, [&](Stream& s) -> Result<PublishResult> {
    const std::int64_t now = now_ms(clock_);
    PublicationPtr pub = make_publication(channel.full, ++s.top, s.epoch, id, now, data_json);
    if (ns.history_size > 0) {
      s.history.push_back(pub);
      trim(s, now);
    }
    s.last_active_ms = now;
    if (handler_) handler_->handle_publication(app_id, channel.full, pub);
    return PublishResult{pub->offset, s.epoch, pub->id};
  });
}

// A read never creates a channel: history of a channel nobody holds is an empty page
// (epoch "", offset 0), so reading fresh names costs no memory and no quota.
Result<HistoryResult> MemoryBroker::history(std::string_view app_id, const ChannelName& channel,
                                            const NamespaceConfig& ns, std::size_t limit,
                                            const std::optional<Since>& since) {
  for (;;) {
    auto found = find_or_create(app_id, channel.full, &ns, false);
    if (!found) return found.error();
    if (!*found) {
      HistoryResult r;
      r.recovered = !since || since->offset == 0;
      return r;
    }
    Stream& s = **found;
    std::lock_guard lock(s.mu);
    if (s.removed) continue;
    return history_of(s, ns, limit, since);
  }
}

HistoryResult MemoryBroker::history_of(Stream& s, const NamespaceConfig& ns, std::size_t limit,
                                       const std::optional<Since>& since) {
  HistoryResult r;
  trim(s, now_ms(clock_));
  r.epoch = s.epoch;
  r.offset = s.top;
  std::vector<PublicationPtr> pubs;
  if (since) {
    auto after = since_of(s, *since);
    if (!after) {
      r.recovered = false;
      return r;
    }
    pubs = std::move(*after);
  } else {
    pubs.assign(s.history.begin(), s.history.end());
  }
  if (limit == 0 || limit > ns.history_size) limit = ns.history_size;
  // The newest `limit`, oldest first.
  if (pubs.size() > limit) pubs.erase(pubs.begin(), pubs.end() - static_cast<std::ptrdiff_t>(limit));
  r.publications = std::move(pubs);
  return r;
}

Result<SubscribeResult> MemoryBroker::recover(std::string_view app_id, const ChannelName& channel,
                                              const NamespaceConfig& ns, const std::optional<Since>& since) {
  return with_stream(app_id, channel.full, ns, [&](Stream& s) -> Result<SubscribeResult> {
    SubscribeResult r;
    trim(s, now_ms(clock_));
    r.epoch = s.epoch;
    r.offset = s.top;
    r.recoverable = ns.history_size > 0;
    if (since) {
      auto pubs = since_of(s, *since);
      r.recovered = pubs.has_value();
      if (pubs) r.publications = std::move(*pubs);
    }
    return r;
  });
}

Status MemoryBroker::subscribe(std::string_view app_id, const ChannelName& channel, const NamespaceConfig& ns) {
  return with_stream(app_id, channel.full, ns, [&](Stream& s) -> Status {
    s.node_subs++;
    s.last_active_ms = now_ms(clock_);
    return ok_status();
  });
}

void MemoryBroker::unsubscribe(std::string_view app_id, std::string_view channel) {
  auto found = find_or_create(app_id, channel, nullptr, false);
  if (!found || !*found) return;
  Stream& s = **found;
  std::lock_guard lock(s.mu);
  if (s.node_subs > 0) s.node_subs--;
  s.last_active_ms = now_ms(clock_);
}

void MemoryBroker::maintain(std::int64_t now_ms) {
  for (auto& b : buckets_) {
    std::lock_guard lock(b.mu);
    for (auto it = b.streams.begin(); it != b.streams.end();) {
      // Held past the erase below: the map's reference may be the last one, and the
      // stream's mutex must outlive the guard that unlocks it.
      std::shared_ptr<Stream> keep = it->second;
      Stream& s = *keep;
      std::lock_guard sl(s.mu);
      trim(s, now_ms);
      if (s.node_subs == 0 && s.history.empty() && now_ms - s.last_active_ms >= kIdleChannelGraceMs) {
        s.removed = true;
        release_app_channel(s.app_id);
        it = b.streams.erase(it);
        count_.fetch_sub(1, std::memory_order_relaxed);
        m_channels_->dec();
      } else {
        ++it;
      }
    }
  }
}

}  // namespace herald::push
