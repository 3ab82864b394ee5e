// Sequence numbers: the counter and the time-ordered, per-slot layout.
#include "messages/seq_generator.h"

#include <algorithm>

namespace herald::messages {

std::uint64_t SeqGenerator::compose(std::int64_t unix_ms, std::uint32_t slot, std::uint64_t counter) {
  // Before the epoch (a clock set far back) counts as the epoch: numbers still grow,
  // from `last_`.
  std::int64_t ms = std::clamp<std::int64_t>(unix_ms - kEpochMs, 0, kMaxMs);
  return static_cast<std::uint64_t>(ms) << kTimeShift |
         static_cast<std::uint64_t>(slot & (kSlots - 1)) << kCounterBits | (counter & kCounterMax);
}

void SeqGenerator::use_counter(std::uint64_t next) {
  std::lock_guard lock(mu_);
  counter_mode_ = true;
  usable_ = true;
  last_ = next == 0 ? 0 : next - 1;
}

void SeqGenerator::use_slot(std::uint32_t slot, std::uint64_t above, std::int64_t valid_until_ms) {
  std::lock_guard lock(mu_);
  counter_mode_ = false;
  usable_ = true;
  slot_ = slot & (kSlots - 1);
  last_ = std::max(last_, above);
  valid_until_ms_ = valid_until_ms;
}

void SeqGenerator::extend(std::int64_t valid_until_ms) {
  std::lock_guard lock(mu_);
  valid_until_ms_ = std::max(valid_until_ms_, valid_until_ms);
}

void SeqGenerator::drop() {
  std::lock_guard lock(mu_);
  usable_ = false;
}

Result<std::uint64_t> SeqGenerator::next(std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!usable_) return make_error(Errc::kStoreUnavailable, "this node holds no message sequence slot");
  if (counter_mode_) return ++last_;
  if (now_ms >= valid_until_ms_)
    return make_error(Errc::kStoreUnavailable, "this node's message sequence slot lease is not renewed");
  // The next number of this slot after `last_`: the counter, or the next ms's first
  // number when the counter is full or `last_` is another slot's (the floor at claim).
  std::uint64_t after_last;
  if (slot_of(last_) == slot_ && (last_ & kCounterMax) < kCounterMax)
    after_last = last_ + 1;
  else
    after_last = compose(unix_ms_of(last_) + (slot_of(last_) < slot_ ? 0 : 1), slot_, 0);
  last_ = std::max(after_last, compose(now_ms, slot_, 0));
  return last_;
}

std::uint64_t SeqGenerator::last() const {
  std::lock_guard lock(mu_);
  return last_;
}

std::optional<std::uint32_t> SeqGenerator::slot() const {
  std::lock_guard lock(mu_);
  if (counter_mode_ || !usable_) return std::nullopt;
  return slot_;
}

}  // namespace herald::messages
