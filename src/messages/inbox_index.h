// Each user's pending messages (sequence numbers, ascending), kept in memory so that a
// page or a connect reads only the rows it returns; rebuilt from the store at load, and
// in a cluster kept up with the other nodes' messages by InboxSync.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/message_records.h"

namespace herald::metrics {
class Gauge;
}

namespace herald::messages {

class InboxIndex {
 public:
  // `pending` (may be null) follows the number of entries.
  explicit InboxIndex(metrics::Gauge* pending = nullptr) : pending_gauge_(pending) {}
  InboxIndex(const InboxIndex&) = delete;
  InboxIndex& operator=(const InboxIndex&) = delete;

  // Replaces everything with `pending` (ascending by seq within each user, as the store
  // returns them).
  void reset(const std::vector<store::PendingRef>& pending);
  void clear();

  // Idempotent (a message may be found again by the cluster scan); false when the entry
  // was there already.
  bool add(const std::string& app_id, const std::string& user_index, std::uint64_t seq);
  // False when the entry was not there.
  bool remove(const std::string& app_id, const std::string& user_index, std::uint64_t seq);
  bool remove(std::uint64_t seq);
  bool contains(std::uint64_t seq) const;
  // At most `limit` sequence numbers above `after`, ascending, over every user: the
  // cluster sweep checks them against the store a batch at a time.
  std::vector<std::uint64_t> seqs_after(std::uint64_t after, std::size_t limit) const;
  // At most `limit` sequence numbers after `after_seq`, ascending.
  std::vector<std::uint64_t> page(const std::string& app_id, const std::string& user_index, std::uint64_t after_seq,
                                  std::size_t limit) const;
  // Entries over every user.
  std::size_t size() const;
  // Entries of one app's users: messages.max_pending_per_app bounds it, so that one app
  // cannot fill the server-wide messages.max_pending for the others.
  std::size_t app_size(const std::string& app_id) const;

 private:
  using Users = std::unordered_map<std::string, std::vector<std::uint64_t>>;
  static std::string key(const std::string& app_id, const std::string& user_index);
  void publish_size_locked();
  bool remove_locked(Users::iterator user, std::uint64_t seq);

  metrics::Gauge* pending_gauge_;
  mutable std::mutex mu_;
  Users users_;
  // Every entry by sequence number, to the key of its user in `users_` (whose nodes, and
  // so keys, stay put until erased, which happens only once the user has no entry).
  std::map<std::uint64_t, const std::string*> by_seq_;
  std::unordered_map<std::string, std::size_t> apps_;
  std::size_t size_ = 0;
};

// Bounds the replays of pending messages on connect per user: each costs up to
// messages.deliver_on_connect reads, decryptions and "delivered" event rows, so a user
// reconnecting in a loop must not turn every handshake into that much work.
class ReplayThrottle {
 public:
  // Counts a replay and says whether it may happen: at most `per_minute` per user (app
  // + user index) per UTC-aligned minute; 0: none.
  bool take(const std::string& app_id, const std::string& user_index, std::int64_t now_ms, std::uint64_t per_minute);

 private:
  std::mutex mu_;
  std::int64_t minute_ = -1;  // the window the counts belong to
  std::unordered_map<std::string, std::uint64_t> counts_;
};

}  // namespace herald::messages
