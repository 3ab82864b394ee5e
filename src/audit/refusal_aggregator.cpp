// Refusal folding for the audit log; see refusal_aggregator.h.
#include "audit/refusal_aggregator.h"

#include <utility>

namespace herald::audit {

RefusalAggregator::RefusalAggregator(Recorder& out, std::int64_t interval_ms, std::size_t max_keys, Clock clock)
    : out_(out), interval_ms_(interval_ms), max_keys_(max_keys), clock_(std::move(clock)) {}

Event RefusalAggregator::summary(const std::string& source, const Window& w, std::int64_t now) const {
  Event s = w.last;
  s.action = "refusals";
  s.actor = "anonymous";
  s.source = source == "*" ? std::string() : source;
  s.details = {{"count", std::to_string(w.folded)},
               {"last_action", w.last.action},
               {"from_ms", std::to_string(w.start_ms)},
               {"to_ms", std::to_string(now)}};
  if (source == "*") s.details.emplace_back("sources", "many");
  s.personal.clear();
  return s;
}

void RefusalAggregator::offer(Event e) {
  std::int64_t now = now_ms(clock_);
  std::vector<Event> emit;
  {
    std::lock_guard lock(mu_);
    std::string source = e.source;
    std::string key = source + '\0' + e.result;
    auto it = windows_.find(key);
    if (it == windows_.end() && windows_.size() >= max_keys_) {
      source = "*";
      key = source + '\0' + e.result;
      it = windows_.find(key);
    }
    if (it != windows_.end() && now - it->second.start_ms >= interval_ms_) {
      if (it->second.folded > 0) emit.push_back(summary(source, it->second, now));
      windows_.erase(it);
      it = windows_.end();
    }
    if (it == windows_.end()) {
      windows_.emplace(key, Window{now, 0, {}});
      if (source == "*") e.source.clear();
      emit.push_back(std::move(e));
    } else {
      ++it->second.folded;
      it->second.last = std::move(e);
    }
  }
  for (auto& ev : emit) out_.record(std::move(ev));
}

void RefusalAggregator::flush(bool force) {
  std::int64_t now = now_ms(clock_);
  std::vector<Event> emit;
  {
    std::lock_guard lock(mu_);
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (!force && now - it->second.start_ms < interval_ms_) {
        ++it;
        continue;
      }
      if (it->second.folded > 0) emit.push_back(summary(it->first.substr(0, it->first.find('\0')), it->second, now));
      it = windows_.erase(it);
    }
  }
  for (auto& ev : emit) out_.record(std::move(ev));
}

}  // namespace herald::audit
