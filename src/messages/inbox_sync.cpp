// The cluster inbox scan: new pending messages from other nodes, pushes, stale entries.
#include "messages/inbox_sync.h"

#include <algorithm>
#include <unordered_map>

#include "core/log.h"
#include "core/metrics.h"
#include "messages/inbox_index.h"
#include "messages/message_metrics.h"
#include "messages/message_wire.h"
#include "messages/sealed_message.h"
#include "messages/seq_generator.h"
#include "store/message_records.h"

namespace herald::messages {
namespace {

std::string live_key(const std::string& app_id, const std::string& user_index) {
  return app_id + '\x1f' + user_index;
}

}  // namespace

void InboxSync::reset(std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  done_ = SeqGenerator::floor_at(now_ms);
  catching_up_ = false;
  seen_.clear();
  sweep_after_ = 0;
  live_.clear();
  active_ = true;
}

void InboxSync::deactivate() {
  std::lock_guard lock(mu_);
  active_ = false;
  seen_.clear();
  live_.clear();
}

void InboxSync::note_local(std::uint64_t seq) {
  std::lock_guard lock(mu_);
  if (active_) seen_.insert(seq);
}

void InboxSync::note_connected(const std::string& app_id, const std::string& user_index) {
  std::lock_guard lock(mu_);
  if (!active_) return;
  // Over the bound a user's messages from other nodes wait in the inbox for a page or
  // the next connect instead of being pushed.
  if (live_.size() < l_.live_users_max) live_.insert(live_key(app_id, user_index));
}

Result<InboxSync::Pass> InboxSync::run(std::int64_t now_ms) {
  Pass p;
  auto found = scan(now_ms);
  if (!found) return found.error();
  p.found = found->added;
  if (!found->to_push.empty()) p.pushed = push(found->to_push, now_ms);
  auto stale = sweep();
  if (!stale) return stale.error();
  p.stale = *stale;
  if (p.found) d_.metrics.found_elsewhere->inc(p.found);
  if (p.stale) d_.metrics.stale_dropped->inc(p.stale);
  return p;
}

// Pending messages above the floor: after a pass cut short by a limit, the rest from
// where it stopped; otherwise everything since `lookback_ms` ago (or since the last
// complete pass, if earlier), which finds again the messages whose commit, or whose
// node's clock, lagged behind the last pass.
Result<InboxSync::Found> InboxSync::scan(std::int64_t now_ms) {
  const std::uint64_t recent = SeqGenerator::floor_at(now_ms - l_.lookback_ms);
  std::uint64_t floor;
  {
    std::lock_guard lock(mu_);
    floor = catching_up_ ? done_ : std::min(done_, recent);
  }
  auto rows = d_.records.pending_after(floor, l_.scan, l_.per_app);
  if (!rows) return rows.error();
  // Where a limit cut the page: every message up to there was read.
  std::uint64_t cut = 0;
  if (rows->size() >= l_.scan && !rows->empty()) cut = rows->back().seq;
  std::unordered_map<std::string_view, std::size_t> per_app;
  for (const auto& r : *rows)
    if (++per_app[r.app_id] == l_.per_app && (cut == 0 || r.seq < cut)) cut = r.seq;
  Found f = take(*rows);
  std::lock_guard lock(mu_);
  if (cut != 0) {
    done_ = cut;
    catching_up_ = true;
  } else {
    done_ = std::max(done_, SeqGenerator::floor_at(now_ms));
    catching_up_ = false;
  }
  // What no later pass reads again: its floor is at least the lower of this one's and
  // the lookback's.
  const std::uint64_t keep_from = std::min(floor, SeqGenerator::floor_at(now_ms - 2 * l_.lookback_ms));
  seen_.erase(seen_.begin(), seen_.lower_bound(keep_from));
  return f;
}

// New entries into the index; those of users connected here to push.
InboxSync::Found InboxSync::take(const std::vector<store::PendingRef>& rows) {
  Found f;
  for (const auto& r : rows) {
    bool pushable;
    {
      std::lock_guard lock(mu_);
      if (!seen_.insert(r.seq).second) continue;
      pushable = live_.count(live_key(r.app_id, r.user_index)) > 0;
    }
    // Already there: published here, or loaded at start.
    if (!d_.index.add(r.app_id, r.user_index, r.seq)) continue;
    ++f.added;
    if (pushable && pusher_) f.to_push.push_back(r.seq);
  }
  return f;
}

std::size_t InboxSync::push(const std::vector<std::uint64_t>& seqs, std::int64_t now_ms) {
  auto rows = d_.records.messages_by_seq(seqs);
  if (!rows) {
    // They stay in the inbox: a page or the next connect shows them.
    log::warn("message_sync_push_failed", {{"error", rows.error().message}});
    return 0;
  }
  std::vector<store::MessageEventRecord> events;
  for (const auto& m : *rows) {
    if (m.state != store::MessageState::pending) continue;
    auto c = open_message(d_.keys, m);
    if (!c) continue;
    std::size_t n = pusher_(m.app_id, c->user, push_frame(inbox_item(m, *c)));
    if (n == 0) {
      std::lock_guard lock(mu_);
      live_.erase(live_key(m.app_id, m.user_index));
      continue;
    }
    d_.metrics.delivered->inc(n);
    d_.metrics.count_event("delivered");
    events.push_back(store::MessageEventRecord{m.seq, now_ms, "delivered", "", "", static_cast<std::int64_t>(n)});
  }
  const std::size_t pushed = events.size();
  if (!events.empty()) d_.records.add_message_events(std::move(events), [](Status) {});
  return pushed;
}

// Entries whose message another node acknowledged or expired (or that was purged): a
// batch per pass, round the index, so that its counts (messages.max_pending) stay true.
Result<std::size_t> InboxSync::sweep() {
  std::uint64_t after;
  {
    std::lock_guard lock(mu_);
    after = sweep_after_;
  }
  auto seqs = d_.index.seqs_after(after, l_.sweep);
  {
    std::lock_guard lock(mu_);
    sweep_after_ = seqs.size() < l_.sweep ? 0 : seqs.back();
  }
  if (seqs.empty()) return std::size_t{0};
  auto pending = d_.records.still_pending(seqs);
  if (!pending) return pending.error();
  std::sort(pending->begin(), pending->end());
  std::size_t dropped = 0;
  for (auto seq : seqs)
    if (!std::binary_search(pending->begin(), pending->end(), seq) && d_.index.remove(seq)) ++dropped;
  return dropped;
}

}  // namespace herald::messages
