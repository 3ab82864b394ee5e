// The in-memory inbox index.
#include "messages/inbox_index.h"

#include <algorithm>

#include "core/metrics.h"

namespace herald::messages {

std::string InboxIndex::key(const std::string& app_id, const std::string& user_index) {
  return app_id + '\x1f' + user_index;
}

void InboxIndex::publish_size_locked() {
  if (pending_gauge_) pending_gauge_->set(static_cast<double>(size_));
}

void InboxIndex::reset(const std::vector<store::PendingRef>& pending) {
  std::lock_guard lock(mu_);
  users_.clear();
  apps_.clear();
  by_seq_.clear();
  for (const auto& p : pending) {
    auto u = users_.try_emplace(key(p.app_id, p.user_index)).first;
    if (!by_seq_.emplace(p.seq, &u->first).second) continue;
    u->second.push_back(p.seq);
    ++apps_[p.app_id];
  }
  size_ = by_seq_.size();
  publish_size_locked();
}

void InboxIndex::clear() {
  std::lock_guard lock(mu_);
  users_.clear();
  apps_.clear();
  by_seq_.clear();
  size_ = 0;
}

bool InboxIndex::add(const std::string& app_id, const std::string& user_index, std::uint64_t seq) {
  std::lock_guard lock(mu_);
  if (by_seq_.count(seq)) return false;
  auto u = users_.try_emplace(key(app_id, user_index)).first;
  auto& v = u->second;
  // Sequence numbers are taken before the write and completions may come in another
  // order; most land at the end.
  v.insert(std::upper_bound(v.begin(), v.end(), seq), seq);
  by_seq_.emplace(seq, &u->first);
  ++apps_[app_id];
  ++size_;
  publish_size_locked();
  return true;
}

bool InboxIndex::remove_locked(Users::iterator it, std::uint64_t seq) {
  auto& v = it->second;
  auto pos = std::lower_bound(v.begin(), v.end(), seq);
  if (pos == v.end() || *pos != seq) return false;
  v.erase(pos);
  by_seq_.erase(seq);
  const std::string app_id = it->first.substr(0, it->first.find('\x1f'));
  if (v.empty()) users_.erase(it);
  if (auto a = apps_.find(app_id); a != apps_.end() && --a->second == 0) apps_.erase(a);
  --size_;
  publish_size_locked();
  return true;
}

bool InboxIndex::remove(const std::string& app_id, const std::string& user_index, std::uint64_t seq) {
  std::lock_guard lock(mu_);
  auto it = users_.find(key(app_id, user_index));
  return it != users_.end() && remove_locked(it, seq);
}

bool InboxIndex::remove(std::uint64_t seq) {
  std::lock_guard lock(mu_);
  auto e = by_seq_.find(seq);
  if (e == by_seq_.end()) return false;
  auto it = users_.find(*e->second);
  return it != users_.end() && remove_locked(it, seq);
}

bool InboxIndex::contains(std::uint64_t seq) const {
  std::lock_guard lock(mu_);
  return by_seq_.count(seq) > 0;
}

std::vector<std::uint64_t> InboxIndex::seqs_after(std::uint64_t after, std::size_t limit) const {
  std::lock_guard lock(mu_);
  std::vector<std::uint64_t> out;
  for (auto it = by_seq_.upper_bound(after); it != by_seq_.end() && out.size() < limit; ++it) out.push_back(it->first);
  return out;
}

std::vector<std::uint64_t> InboxIndex::page(const std::string& app_id, const std::string& user_index,
                                            std::uint64_t after_seq, std::size_t limit) const {
  std::lock_guard lock(mu_);
  auto it = users_.find(key(app_id, user_index));
  if (it == users_.end()) return {};
  const auto& v = it->second;
  auto from = std::upper_bound(v.begin(), v.end(), after_seq);
  auto n = std::min<std::size_t>(limit, static_cast<std::size_t>(v.end() - from));
  return std::vector<std::uint64_t>(from, from + static_cast<std::ptrdiff_t>(n));
}

std::size_t InboxIndex::size() const {
  std::lock_guard lock(mu_);
  return size_;
}

std::size_t InboxIndex::app_size(const std::string& app_id) const {
  std::lock_guard lock(mu_);
  auto it = apps_.find(app_id);
  return it == apps_.end() ? 0 : it->second;
}

bool ReplayThrottle::take(const std::string& app_id, const std::string& user_index, std::int64_t now_ms,
                          std::uint64_t per_minute) {
  if (per_minute == 0) return false;
  std::lock_guard lock(mu_);
  std::int64_t minute = now_ms / 60'000;
  if (minute != minute_) {
    // A new window forgets every count, so the map holds at most a minute's users.
    counts_.clear();
    minute_ = minute;
  }
  auto& n = counts_[app_id + '\x1f' + user_index];
  if (n >= per_minute) return false;
  ++n;
  return true;
}

}  // namespace herald::messages
