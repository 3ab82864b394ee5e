// Inboxes across the nodes of a cluster (docs/cluster.md "Inboxes across nodes"): each
// node's InboxIndex learns of the messages other nodes accepted by scanning the store
// for pending messages above a watermark (minus a lookback that covers commit latency
// and clock skew), pushes those of users connected here, and drops entries whose message
// another node acknowledged or expired, a bounded batch per pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "messages/message_types.h"

namespace herald::store {
class MessageRecords;
struct PendingRef;
}  // namespace herald::store
namespace herald::kms {
class KeyService;
}

namespace herald::messages {

class InboxIndex;
struct MessageMetrics;

class InboxSync {
 public:
  struct Limits {
    std::size_t scan = 2000;    // pending messages read per pass
    std::size_t per_app = 500;  // of which one app's, so that its burst does not hold up the others
    std::size_t sweep = 2000;   // index entries checked against the store per pass
    std::int64_t lookback_ms = 15'000;
    std::size_t live_users_max = 100'000;
  };
  struct Deps {
    store::MessageRecords& records;
    kms::KeyService& keys;
    InboxIndex& index;
    MessageMetrics& metrics;
  };
  struct Pass {
    std::size_t found = 0;   // added to the index: accepted on another node
    std::size_t pushed = 0;  // of which pushed to a connection here
    std::size_t stale = 0;   // entries dropped: no longer pending
  };

  InboxSync(Deps d, Limits l) : d_(d), l_(l) {}
  InboxSync(const InboxSync&) = delete;
  InboxSync& operator=(const InboxSync&) = delete;

  void set_pusher(UserPusher pusher) { pusher_ = std::move(pusher); }
  // At load, once the index holds every pending message: scans start from `now_ms`.
  // Until then (and after deactivate(), at seal) the notes below are ignored, so that a
  // node that never scans (SQLite) keeps nothing.
  void reset(std::int64_t now_ms);
  void deactivate();
  // A message published or acknowledged on this node: a scan that meets it later does
  // not count or push it as another node's.
  void note_local(std::uint64_t seq);
  // A user connected here: messages found for them are pushed. Forgotten when a push
  // reaches no connection.
  void note_connected(const std::string& app_id, const std::string& user_index);
  // One pass at `now_ms`.
  Result<Pass> run(std::int64_t now_ms);

 private:
  struct Found {
    std::vector<std::uint64_t> to_push;
    std::size_t added = 0;
  };
  Result<Found> scan(std::int64_t now_ms);
  Found take(const std::vector<store::PendingRef>& rows);
  std::size_t push(const std::vector<std::uint64_t>& seqs, std::int64_t now_ms);
  Result<std::size_t> sweep();

  Deps d_;
  Limits l_;
  UserPusher pusher_;
  std::mutex mu_;
  bool active_ = false;
  std::uint64_t done_ = 0;    // every pending message up to here was seen (but for late commits)
  bool catching_up_ = false;  // the last scan was cut by a limit: go on from done_
  std::set<std::uint64_t> seen_;
  std::uint64_t sweep_after_ = 0;
  std::unordered_set<std::string> live_;  // app \x1f user index of the users connected here
};

}  // namespace herald::messages
