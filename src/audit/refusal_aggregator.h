// Folds repeated refusals of one source with one code into one counted audit entry per
// interval, so that an anonymous flood costs a bounded number of fsync'd leaves instead
// of one each. The first refusal of each interval is still recorded as it happens. As a
// Recorder it folds everything it is given: the client protocol's refused connects.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "audit/log.h"
#include "core/clock.h"

namespace herald::audit {

class RefusalAggregator : public Recorder {
 public:
  // Sources beyond `max_keys` share one key (source "*") until the next flush.
  RefusalAggregator(Recorder& out, std::int64_t interval_ms, std::size_t max_keys = 10'000, Clock clock = {});

  // A refusal: recorded now when it is its (source, code)'s first in the interval,
  // otherwise counted towards the interval's entry.
  void offer(Event e);
  void record(Event e) override { offer(std::move(e)); }
  // Records the counted entries of every interval that has ended (all of them when
  // `force`, e.g. at shutdown). Run every interval by the owner.
  void flush(bool force);
  std::int64_t interval_ms() const { return interval_ms_; }

 private:
  struct Window {
    std::int64_t start_ms = 0;
    std::uint64_t folded = 0;  // refusals after the first, not yet recorded
    Event last;                // the latest folded one (type, action, status, request id)
  };
  Event summary(const std::string& source, const Window& w, std::int64_t now) const;

  Recorder& out_;
  std::int64_t interval_ms_;
  std::size_t max_keys_;
  Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;  // key: source '\0' code
};

}  // namespace herald::audit
