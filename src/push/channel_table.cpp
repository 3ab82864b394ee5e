// Counts are raised before the subscriber asks the broker for its position, so a
// publication the broker numbers after that position always finds the shard here.
#include "push/channel_table.h"

#include "push/broker.h"

namespace herald::push {

std::shared_ptr<detail::Channel> ChannelTable::find(std::string_view app_id, std::string_view channel) {
  // The publish path looks a channel up once per publication: reuse one key buffer per
  // thread instead of allocating one each time.
  thread_local std::string key;
  key.assign(app_id).push_back('\x1f');
  key.append(channel);
  Bucket& b = bucket_for(key);
  std::lock_guard lock(b.mu);
  auto it = b.channels.find(key);
  return it == b.channels.end() ? nullptr : it->second;
}

Result<std::shared_ptr<detail::Channel>> ChannelTable::acquire(std::string_view app_id, const ChannelName& name,
                                                               const NamespaceConfig& ns, std::size_t shard) {
  std::string key = channel_key(app_id, name.full);
  Bucket& b = bucket_for(key);
  std::lock_guard lock(b.mu);
  auto& slot = b.channels[key];
  if (!slot) {
    slot = std::make_shared<detail::Channel>(shards_);
    slot->app_id = std::string(app_id);
    slot->name = std::string(name.full);
    slot->ns = &ns;
  }
  std::shared_ptr<detail::Channel> ch = slot;
  std::lock_guard cl(ch->mu);
  if (ns.max_subscribers != 0 && ch->subscribers >= ns.max_subscribers)
    return make_error(Errc::kChannelFull, "the channel has its namespace's max_subscribers");
  ch->subscribers++;
  ch->shard_subs[shard].fetch_add(1, std::memory_order_seq_cst);
  return ch;
}

void ChannelTable::release(const std::shared_ptr<detail::Channel>& ch, std::size_t shard) {
  std::string key = channel_key(ch->app_id, ch->name);
  Bucket& b = bucket_for(key);
  std::lock_guard lock(b.mu);
  std::lock_guard cl(ch->mu);
  ch->shard_subs[shard].fetch_sub(1, std::memory_order_seq_cst);
  if (--ch->subscribers > 0 || ch->removed) return;
  ch->removed = true;
  auto it = b.channels.find(key);
  if (it != b.channels.end() && it->second == ch) b.channels.erase(it);
}

}  // namespace herald::push
