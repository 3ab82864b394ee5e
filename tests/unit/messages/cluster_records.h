// The message tables of one SQLite store seen as several cluster nodes' stores: every
// call goes to the real tables but for the sequence slots, leased from a table in memory
// that the nodes share (as PostgreSQL's message_seq_slots), so that two MessageServices
// on one database act as two nodes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "forwarding_records.h"
#include "store/message_records.h"

namespace herald::messages::testing {

struct SharedSlots {
  struct Lease {
    std::string holder;
    std::int64_t until_ms = 0;
    std::uint64_t high = 0;
  };
  std::mutex mu;
  std::map<std::uint32_t, Lease> slots;
  ManualClock clock{1'795'428'000'000};  // the database's clock
};

using store::Completion;

class ClusterRecords final : public ForwardingRecords {
 public:
  ClusterRecords(store::MessageRecords& real, SharedSlots& shared) : ForwardingRecords(real), shared_(shared) {}

  Result<std::optional<store::SeqSlot>> claim_seq_slot(const std::string& holder, std::uint32_t slots,
                                                       std::int64_t lease_ms) override {
    auto max = real_.max_message_seq();
    if (!max) return max.error();
    std::lock_guard lock(shared_.mu);
    const std::int64_t now = shared_.clock.now();
    for (std::uint32_t s = 0; s < slots; ++s) {
      auto& l = shared_.slots[s];
      if (l.until_ms > now) continue;
      l.holder = holder;
      l.until_ms = now + lease_ms;
      return std::optional<store::SeqSlot>(store::SeqSlot{s, std::max(l.high, *max)});
    }
    return make_error(Errc::kStoreError, "every slot is leased");
  }
  Result<bool> renew_seq_slot(std::uint32_t slot, const std::string& holder, std::int64_t lease_ms,
                              std::uint64_t last_seq) override {
    std::lock_guard lock(shared_.mu);
    auto& l = shared_.slots[slot];
    if (l.holder != holder) return false;
    l.until_ms = shared_.clock.now() + lease_ms;
    l.high = std::max(l.high, last_seq);
    ++renewals;
    return true;
  }
  Status release_seq_slot(std::uint32_t slot, const std::string& holder, std::uint64_t last_seq) override {
    std::lock_guard lock(shared_.mu);
    auto& l = shared_.slots[slot];
    if (l.holder == holder) {
      l.until_ms = 0;
      l.high = std::max(l.high, last_seq);
    }
    return ok_status();
  }

  int renewals = 0;

 private:
  SharedSlots& shared_;
};

}  // namespace herald::messages::testing
