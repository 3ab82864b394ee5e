// A publish takes the stream's lock to assign the offset, record history and hand the
// publication to the hub, so that the hub sees each channel's publications in order.
#include "push/memory_broker.h"

#include <algorithm>
#include <queue>

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
      m_channels_(&registry.gauge("herald_push_channels", "Channels held in memory").with({})),
      m_history_bytes_(
          &registry.gauge("herald_push_history_bytes", "Bytes of channel history held in memory").with({})),
      m_evicted_(&registry
                      .counter("herald_push_history_evicted_total",
                               "Publications dropped from history early because their app held "
                               "push.max_history_bytes_per_app")
                      .with({})) {}

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
  auto s = std::make_shared<Stream>();
  if (!take_app_channel(app_id, s))
    return make_error(Errc::kTooManyChannels, "the app holds push.max_channels_per_app channels already");
  s->app_id = std::string(app_id);
  s->ns = ns;
  s->epoch = crypto::random_hex(4);
  s->last_active_ms = now_ms(clock_);
  b.streams.emplace(std::move(key), s);
  count_.fetch_add(1, std::memory_order_relaxed);
  m_channels_->inc();
  return s;
}

bool MemoryBroker::take_app_channel(std::string_view app_id, const std::shared_ptr<Stream>& s) {
  std::lock_guard lock(apps_mu_);
  auto& usage = apps_[std::string(app_id)];
  if (!usage) usage = std::make_shared<AppUsage>();
  if (usage->channels >= cfg_.push.max_channels_per_app) {
    if (usage->channels == 0) apps_.erase(std::string(app_id));
    return false;
  }
  ++usage->channels;
  s->usage = usage;
  s->in_app = usage->streams.insert(usage->streams.end(), s);
  return true;
}

void MemoryBroker::release_app_channel(Stream& s) {
  std::lock_guard lock(apps_mu_);
  s.usage->streams.erase(s.in_app);
  if (--s.usage->channels > 0) return;
  auto it = apps_.find(s.app_id);
  if (it != apps_.end() && it->second == s.usage) apps_.erase(it);
}

std::uint64_t MemoryBroker::app_channel_count(std::string_view app_id) const {
  std::lock_guard lock(apps_mu_);
  auto it = apps_.find(std::string(app_id));
  return it == apps_.end() ? 0 : it->second->channels;
}

std::uint64_t MemoryBroker::app_history_bytes(std::string_view app_id) const {
  std::lock_guard lock(apps_mu_);
  auto it = apps_.find(std::string(app_id));
  return it == apps_.end() ? 0 : it->second->history_bytes.load();
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

void MemoryBroker::drop_oldest(Stream& s) {
  const auto bytes = static_cast<std::int64_t>(s.history.front()->bytes());
  s.history.pop_front();
  s.usage->history_bytes.fetch_sub(static_cast<std::uint64_t>(bytes));
  m_history_bytes_->dec(bytes);
}

void MemoryBroker::trim(Stream& s, std::int64_t now_ms) {
  const auto& ns = *s.ns;
  while (s.history.size() > ns.history_size) drop_oldest(s);
  const std::int64_t oldest = now_ms - ns.history_ttl.count();
  while (!s.history.empty() && s.history.front()->ts_ms < oldest) drop_oldest(s);
}

// A k-way walk over the app's channels, oldest front first: what goes is what the app
// published longest ago, wherever, as history_ttl would have dropped it. Evicting to 7/8
// of the cap spreads the cost of the walk over many publications.
void MemoryBroker::evict_app_history(AppUsage& usage) {
  const std::uint64_t cap = cfg_.push.max_history_bytes_per_app;
  if (usage.history_bytes.load() <= cap || usage.evicting.exchange(true)) return;
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(apps_mu_);
    for (const auto& w : usage.streams)
      if (auto s = w.lock()) streams.push_back(std::move(s));
  }
  using Front = std::pair<std::int64_t, std::size_t>;  // (oldest ts_ms, stream)
  std::priority_queue<Front, std::vector<Front>, std::greater<>> fronts;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    std::lock_guard lock(streams[i]->mu);
    if (!streams[i]->removed && !streams[i]->history.empty()) fronts.emplace(streams[i]->history.front()->ts_ms, i);
  }
  const std::uint64_t target = cap - cap / 8;
  while (usage.history_bytes.load() > target && !fronts.empty()) {
    auto [ts, i] = fronts.top();
    fronts.pop();
    Stream& s = *streams[i];
    std::lock_guard lock(s.mu);
    if (s.removed || s.history.empty()) continue;
    // Trimmed meanwhile: its front is younger now, and waits its turn again.
    if (s.history.front()->ts_ms == ts) {
      drop_oldest(s);
      m_evicted_->inc();
    }
    if (!s.history.empty()) fronts.emplace(s.history.front()->ts_ms, i);
  }
  usage.evicting = false;
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
  std::shared_ptr<AppUsage> usage;
  auto r = with_stream(app_id, channel.full, ns, [&](Stream& s) -> Result<PublishResult> {
    const std::int64_t now = now_ms(clock_);
    PublicationPtr pub = make_publication(channel.full, ++s.top, s.epoch, id, now, data_json);
    if (ns.history_size > 0) {
      s.history.push_back(pub);
      s.usage->history_bytes.fetch_add(pub->bytes());
      m_history_bytes_->inc(static_cast<std::int64_t>(pub->bytes()));
      trim(s, now);
      usage = s.usage;
    }
    s.last_active_ms = now;
    if (handler_) handler_->handle_publication(app_id, channel.full, pub);
    return PublishResult{pub->offset, s.epoch, pub->id};
  });
  // Outside the stream's lock: eviction takes the locks of the app's other channels.
  if (usage) evict_app_history(*usage);
  return r;
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
        release_app_channel(s);
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
