// Each user's pending messages (sequence numbers, ascending), kept in memory so that a
// page or a connect reads only the rows it returns; rebuilt from the store at load.
#pragma once

#include <cstddef>
#include <cstdint>
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

  void add(const std::string& app_id, const std::string& user_index, std::uint64_t seq);
  // False when the entry was not there.
  bool remove(const std::string& app_id, const std::string& user_index, std::uint64_t seq);
  // At most `limit` sequence numbers after `after_seq`, ascending.
  std::vector<std::uint64_t> page(const std::string& app_id, const std::string& user_index, std::uint64_t after_seq,
                                  std::size_t limit) const;
  // Entries over every user.
  std::size_t size() const;

 private:
  static std::string key(const std::string& app_id, const std::string& user_index);
  void publish_size_locked();

  metrics::Gauge* pending_gauge_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::uint64_t>> users_;
  std::size_t size_ = 0;
};

}  // namespace herald::messages
