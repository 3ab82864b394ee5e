// Message sequence numbers (the inbox cursor, and the number in a message id): a plain
// counter where one node owns the store (SQLite), and time-ordered numbers unique across
// the nodes of a cluster where several share it (PostgreSQL), with no round trip per
// publish. Layout (docs/cluster.md "Message sequence numbers"):
//   seq = (ms since 2026-01-01T00:00:00Z) << 22 | node slot << 12 | counter
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "core/result.h"

namespace herald::messages {

class SeqGenerator {
 public:
  static constexpr int kCounterBits = 12;  // 4096 numbers per node per ms
  static constexpr int kSlotBits = 10;     // 1024 nodes at once
  static constexpr int kTimeShift = kCounterBits + kSlotBits;
  static constexpr std::uint32_t kSlots = 1u << kSlotBits;
  static constexpr std::uint64_t kCounterMax = (1u << kCounterBits) - 1;
  static constexpr std::int64_t kEpochMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  // 41 bits of ms: numbers stay below 2^63 (PostgreSQL's bigint) until 2095.
  static constexpr std::int64_t kMaxMs = (std::int64_t{1} << (63 - kTimeShift)) - 1;

  static std::uint64_t compose(std::int64_t unix_ms, std::uint32_t slot, std::uint64_t counter);
  static std::uint32_t slot_of(std::uint64_t seq) {
    return static_cast<std::uint32_t>(seq >> kCounterBits) & (kSlots - 1);
  }
  static std::int64_t unix_ms_of(std::uint64_t seq) { return static_cast<std::int64_t>(seq >> kTimeShift) + kEpochMs; }
  // The smallest number any node hands out at `unix_ms`: scans of "what was accepted
  // since" start from it.
  static std::uint64_t floor_at(std::int64_t unix_ms) { return compose(unix_ms, 0, 0); }

  // One node: numbers from `next` on, one by one.
  void use_counter(std::uint64_t next);
  // A cluster node: numbers in `slot`, each above `above` (the largest number stored
  // or recorded when the slot was claimed), valid until `valid_until_ms` (the slot's
  // lease, by this node's clock).
  void use_slot(std::uint32_t slot, std::uint64_t above, std::int64_t valid_until_ms);
  // The lease was renewed.
  void extend(std::int64_t valid_until_ms);
  // Forgets the slot: next() refuses until use_slot() or use_counter().
  void drop();

  // The next number: strictly above every earlier one even when the clock steps back; a
  // full counter borrows the next ms. "store_unavailable" when the slot's lease ran
  // out (another node may hold the slot by now).
  Result<std::uint64_t> next(std::int64_t now_ms);
  // The largest number handed out (0: none); recorded with the lease so that the next
  // holder of the slot starts above it.
  std::uint64_t last() const;
  std::optional<std::uint32_t> slot() const;

 private:
  mutable std::mutex mu_;
  bool counter_mode_ = true;
  bool usable_ = true;
  std::uint32_t slot_ = 0;
  std::uint64_t last_ = 0;
  std::int64_t valid_until_ms_ = 0;
};

}  // namespace herald::messages
