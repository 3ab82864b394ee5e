// Presence reads copy under the bucket lock; entries are small (ids and a compact
// `info` object) and a reply is capped by push.max_presence_clients.
#include "push/memory_presence.h"

#include <unordered_set>

namespace herald::push {

MemoryPresenceManager::Bucket& MemoryPresenceManager::bucket_for(const std::string& key) const {
  return buckets_[std::hash<std::string>{}(key) % kBuckets];
}

template <class Fn>
void MemoryPresenceManager::with_channel(std::string_view app_id, std::string_view channel, Fn&& fn) const {
  std::string key = channel_key(app_id, channel);
  Bucket& b = bucket_for(key);
  std::lock_guard lock(b.mu);
  auto it = b.channels.find(key);
  if (it != b.channels.end()) fn(it->second);
}

void MemoryPresenceManager::add(std::string_view app_id, std::string_view channel, const PresenceEntry& entry) {
  std::string key = channel_key(app_id, channel);
  Bucket& b = bucket_for(key);
  std::lock_guard lock(b.mu);
  b.channels[std::move(key)][entry.client_id] = entry;
}

void MemoryPresenceManager::remove(std::string_view app_id, std::string_view channel, std::string_view client_id) {
  std::string key = channel_key(app_id, channel);
  Bucket& b = bucket_for(key);
  std::lock_guard lock(b.mu);
  auto it = b.channels.find(key);
  if (it == b.channels.end()) return;
  it->second.erase(std::string(client_id));
  if (it->second.empty()) b.channels.erase(it);
}

PresenceResult MemoryPresenceManager::list(std::string_view app_id, std::string_view channel,
                                           std::size_t max_clients) const {
  PresenceResult r;
  with_channel(app_id, channel, [&](const Clients& clients) {
    for (const auto& [id, e] : clients) {
      if (r.clients.size() >= max_clients) {
        r.truncated = true;
        break;
      }
      r.clients.push_back(e);
    }
  });
  return r;
}

PresenceStats MemoryPresenceManager::stats(std::string_view app_id, std::string_view channel) const {
  PresenceStats r;
  with_channel(app_id, channel, [&](const Clients& clients) {
    std::unordered_set<std::string_view> users;
    for (const auto& [id, e] : clients) users.insert(e.user);
    r.num_clients = clients.size();
    r.num_users = users.size();
  });
  return r;
}

}  // namespace herald::push
