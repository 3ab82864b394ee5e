// The fallback scheduler: due messages stepped through their channels, webhook attempts
// with backoff, expiries, purges and dead letters.
#include "messages/fallback_scheduler.h"

#include <boost/json.hpp>

#include <algorithm>
#include <random>

#include "core/log.h"
#include "core/metrics.h"
#include "crypto/random.h"
#include "delivery/sender.h"
#include "kms/key_service.h"
#include "messages/app_settings.h"
#include "messages/inbox_index.h"
#include "messages/message_metrics.h"
#include "messages/sealed_message.h"

namespace herald::messages {
namespace json = boost::json;
using store::MessageChange;
using store::MessageEventRecord;
using store::MessageRecord;
using store::MessageState;
using store::WebhookJobRecord;
using store::WebhookJobState;

namespace {

constexpr std::size_t kDueBatch = 512;
constexpr std::size_t kPurgeBatch = 1000;

MessageEventRecord event(std::uint64_t seq, std::int64_t at_ms, std::string name, std::string channel = "",
                         std::string detail = "") {
  return MessageEventRecord{seq, at_ms, std::move(name), std::move(channel), std::move(detail), -1};
}

}  // namespace

FallbackScheduler::FallbackScheduler(Deps d) : d_(std::move(d)), suffix_(crypto::random_hex(6)) {
  set_lease("herald", lease_);
}

void FallbackScheduler::set_lease(const std::string& node, std::chrono::milliseconds duration) {
  owner_ = node + "/" + suffix_;
  lease_ = duration;
  // A webhook attempt that outlives its lease may be taken over and sent twice.
  if (lease_ <= d_.cfg.webhook_timeout)
    log::warn("cluster_lease_short",
              {{"lease_ms", static_cast<std::int64_t>(lease_.count())},
               {"webhook_timeout_ms", static_cast<std::int64_t>(d_.cfg.webhook_timeout.count())}});
}

void FallbackScheduler::start() {
  if (thread_.running()) return;
  thread_.start(d_.cfg.poll_interval, [this] { tick(now_ms(d_.clock)); });
}

void FallbackScheduler::stop() {
  thread_.stop();
}

// ---- work in flight ---------------------------------------------------------------

bool FallbackScheduler::begin(Work w, std::uint64_t seq) {
  std::lock_guard lock(flight_mu_);
  return (w == Work::webhook ? webhooks_in_flight_ : steps_in_flight_).insert(seq).second;
}

void FallbackScheduler::finish(Work w, std::uint64_t seq) {
  // Notified under the lock: a waiter may destroy this object as soon as it sees zero.
  std::lock_guard lock(flight_mu_);
  (w == Work::webhook ? webhooks_in_flight_ : steps_in_flight_).erase(seq);
  idle_cv_.notify_all();
}

void FallbackScheduler::begin_send() {
  std::lock_guard lock(flight_mu_);
  ++sends_in_flight_;
}

void FallbackScheduler::end_send() {
  std::lock_guard lock(flight_mu_);
  --sends_in_flight_;
  idle_cv_.notify_all();
}

std::size_t FallbackScheduler::in_flight() const {
  std::lock_guard lock(flight_mu_);
  return steps_in_flight_.size() + webhooks_in_flight_.size() + sends_in_flight_;
}

bool FallbackScheduler::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(flight_mu_);
  return idle_cv_.wait_for(lock, timeout, [this] {
    return steps_in_flight_.empty() && webhooks_in_flight_.empty() && sends_in_flight_ == 0;
  });
}

// ---- one pass ---------------------------------------------------------------------

void FallbackScheduler::tick(std::int64_t now_ms) {
  if (!d_.loaded || d_.keys.sealed()) return;
  run_due_messages(now_ms);
  run_due_webhooks(now_ms);
}

// Only claimed rows are worked on: the claim leases them to this node, so another node's
// pass skips them until the step's write releases the lease (or the lease runs out).
void FallbackScheduler::run_due_messages(std::int64_t now_ms) {
  auto due = d_.records.claim_due_messages(now_ms, kDueBatch, owner_, now_ms + lease_.count());
  if (!due) {
    log::warn("message_schedule_failed", {{"error", due.error().message}});
    return;
  }
  d_.metrics.step_claims->inc(due->rows.size());
  d_.metrics.step_takeovers->inc(due->takeovers);
  bool purge = false;
  for (const auto& m : due->rows) {
    // Acknowledged or expired rows are due when their retention ends.
    if (m.state != MessageState::pending) {
      purge = true;
      continue;
    }
    // Already under way here (its lease ran out and came back to this node): that pass
    // finishes it.
    if (begin(Work::step, m.seq)) step_message(m, now_ms);
  }
  if (purge)
    d_.records.purge_messages(now_ms, kPurgeBatch, [](Status st) {
      if (!st) log::warn("message_purge_failed", {{"error", st.error().message}});
    });
}

void FallbackScheduler::run_due_webhooks(std::int64_t now_ms) {
  auto jobs = d_.records.claim_due_webhook_jobs(now_ms, kDueBatch, owner_, now_ms + lease_.count());
  if (!jobs) {
    log::warn("message_schedule_failed", {{"error", jobs.error().message}});
    return;
  }
  d_.metrics.webhook_claims->inc(jobs->rows.size());
  d_.metrics.webhook_takeovers->inc(jobs->takeovers);
  for (const auto& j : jobs->rows) {
    if (!begin(Work::webhook, j.seq)) continue;
    auto m = d_.records.message(j.seq);
    if (!m || !m->has_value() || (*m)->state != MessageState::pending || (*m)->expires_ms <= now_ms) {
      // Acknowledged or expired meanwhile (or gone, or its ttl ended and the expiry is
      // being written in this very pass): no more attempts.
      cancel_webhook(j, now_ms);
      continue;
    }
    attempt_webhook(**m, j.attempts, now_ms);
  }
}

// ---- fallback steps ---------------------------------------------------------------

void FallbackScheduler::step_message(const MessageRecord& m, std::int64_t now_ms) {
  if (now_ms >= m.expires_ms) return expire(m, now_ms);
  auto content = open_message(d_.keys, m);
  if (!content) {
    log::error("message_open_failed", {{"error", content.error().message}});
    finish(Work::step, m.seq);
    return;
  }
  if (m.step >= static_cast<int>(content->channels.size())) {
    // Every channel was tried: nothing is due before the expiry.
    MessageChange c;
    c.seq = m.seq;
    c.due_ms = m.expires_ms;
    c.lease = held(m.step);
    return apply(std::move(c));
  }
  const std::string channel = content->channels[static_cast<std::size_t>(m.step)];
  MessageChange c = next_step(m, *content, now_ms);
  if (channel == "webhook") return webhook_step(m, std::move(c), now_ms);
  contact_step(m, *content, channel, std::move(c), now_ms);
}

void FallbackScheduler::expire(const MessageRecord& m, std::int64_t now_ms) {
  MessageChange c;
  c.seq = m.seq;
  c.state = MessageState::expired;
  c.due_ms = m.expires_ms + d_.cfg.retention.count();
  c.lease = held(m.step);
  c.events.push_back(event(m.seq, now_ms, "expired"));
  apply(std::move(c), [this, app = m.app_id, ui = m.user_index, seq = m.seq] {
    d_.inbox.remove(app, ui, seq);
    d_.metrics.expired->inc();
    d_.metrics.count_event("expired");
  });
}

// The step moves on, due at the next channel's time (created + (n+1)*T), or at the expiry
// after the last channel.
MessageChange FallbackScheduler::next_step(const MessageRecord& m, const MessageContent& c, std::int64_t now_ms) const {
  const int next = m.step + 1;
  const std::int64_t t = std::max<std::int64_t>(c.fallback_after_ms, 1000);
  const std::int64_t next_due =
      next < static_cast<int>(c.channels.size()) ? m.created_ms + (next + 1) * t : m.expires_ms;
  MessageChange change;
  change.seq = m.seq;
  change.step = next;
  change.due_ms = std::min(std::max(next_due, now_ms + 1), m.expires_ms);
  change.lease = held(m.step);
  return change;
}

void FallbackScheduler::fail_step(MessageChange c, const std::string& channel, std::string why, std::int64_t now_ms) {
  c.events.push_back(event(c.seq, now_ms, "failed", channel, std::move(why)));
  apply(std::move(c), [this, channel] {
    d_.metrics.count_fallback(channel, "failed");
    d_.metrics.count_event("failed");
  });
}

// The webhook is not called here: the step writes a job, and the job is attempted by
// the next pass (so attempts and their retries have one path).
void FallbackScheduler::webhook_step(const MessageRecord& m, MessageChange c, std::int64_t now_ms) {
  if (d_.apps.settings_of(m.app_id)->webhook_url.empty())
    return fail_step(std::move(c), "webhook", "no_webhook_url", now_ms);
  c.events.push_back(event(m.seq, now_ms, "fallback_started", "webhook"));
  c.job = WebhookJobRecord{m.seq, m.app_id, 0, now_ms, WebhookJobState::pending, "", now_ms};
  apply(std::move(c), [this] { d_.metrics.count_event("fallback_started"); });
}

// E-mail or SMS, to the user's contact, at most once: the step is durable before the send.
void FallbackScheduler::contact_step(const MessageRecord& m, const MessageContent& content, const std::string& channel,
                                     MessageChange c, std::int64_t now_ms) {
  auto contact = d_.apps.contacts(m.app_id, m.user_index);
  if (!contact && contact.error().code != Errc::kContactsUnreadable) {
    log::warn("message_contacts_failed", {{"error", contact.error().message}});
    finish(Work::step, m.seq);  // the store did not answer: the step is tried again next pass
    return;
  }
  std::optional<std::string> to;
  if (contact && contact->has_value()) to = channel == "email" ? (*contact)->email : (*contact)->phone;
  if (!to || to->empty()) return fail_step(std::move(c), channel, "no_contact", now_ms);
  delivery::Sender* sender = d_.senders ? d_.senders->for_channel(channel) : nullptr;
  if (!sender) return fail_step(std::move(c), channel, "no_provider", now_ms);
  delivery::OutboundMessage out;
  out.channel = channel;
  out.to = std::move(*to);
  out.subject = channel == "email" ? content.email_subject : "";
  out.text = channel == "email" ? content.email_text : content.sms_text;
  out.reference = m.id;
  c.events.push_back(event(m.seq, now_ms, "fallback_started", channel));
  begin_send();
  auto applied = std::make_shared<bool>(false);
  d_.records.change_message(
      std::move(c), applied, [this, seq = m.seq, channel, applied, sender, out = std::move(out)](Status st) mutable {
        finish(Work::step, seq);
        if (!st || !*applied) return end_send();
        d_.metrics.count_event("fallback_started");
        sender->send(std::move(out), [this, seq, channel](Status sent) { record_send(seq, channel, sent); });
      });
}

void FallbackScheduler::record_send(std::uint64_t seq, const std::string& channel, const Status& st) {
  const std::int64_t t = now_ms(d_.clock);
  std::vector<MessageEventRecord> ev;
  if (st) {
    ev.push_back(event(seq, t, "fallback_sent", channel));
    d_.metrics.count_fallback(channel, "sent");
    d_.metrics.count_event("fallback_sent");
  } else {
    ev.push_back(event(seq, t, "failed", channel, std::string(st.error().code_name())));
    d_.metrics.count_fallback(channel, "failed");
    d_.metrics.count_event("failed");
  }
  d_.records.add_message_events(std::move(ev), [this](Status) { end_send(); });
}

void FallbackScheduler::apply(MessageChange c, std::function<void()> then) {
  const std::uint64_t seq = c.seq;
  auto applied = std::make_shared<bool>(false);
  d_.records.change_message(std::move(c), applied, [this, seq, applied, then = std::move(then)](Status st) {
    finish(Work::step, seq);
    if (!st) {
      log::warn("message_step_failed", {{"error", st.error().message}});
      return;
    }
    if (*applied && then) then();
  });
}

// ---- webhook attempts -------------------------------------------------------------

void FallbackScheduler::cancel_webhook(const WebhookJobRecord& j, std::int64_t now_ms) {
  WebhookJobRecord c = j;
  c.state = WebhookJobState::cancelled;
  c.updated_ms = now_ms;
  d_.records.settle_webhook_job(std::move(c), held(j.attempts), {}, nullptr,
                                [this, seq = j.seq](Status) { finish(Work::webhook, seq); });
}

void FallbackScheduler::attempt_webhook(const MessageRecord& m, int attempts, std::int64_t now_ms) {
  auto settings = d_.apps.settings_of(m.app_id);
  auto give_up = [&](std::string why) {
    delivery::WebhookOutcome out;
    out.error = std::move(why);
    settle_webhook(m.seq, m.app_id, attempts, out);
  };
  if (settings->webhook_url.empty() || settings->webhook_secret.empty() || !d_.webhooks)
    return give_up("no_webhook_url");
  auto content = open_message(d_.keys, m);
  if (!content) {
    log::error("message_open_failed", {{"error", content.error().message}});
    finish(Work::webhook, m.seq);
    return;
  }
  auto key = delivery::decode_webhook_secret(settings->webhook_secret.view());
  if (!key) return give_up("bad webhook secret");
  delivery::WebhookRequest req;
  req.url = settings->webhook_url;
  req.secret = std::move(*key);
  req.id = m.id;
  req.timestamp_s = now_ms / 1000;
  req.body = json::serialize(json::object{{"type", "message.fallback"},
                                          {"timestamp", now_ms},
                                          {"data", json::object{{"id", m.id},
                                                                {"user", content->user},
                                                                {"ts", m.created_ms},
                                                                {"priority", content->priority},
                                                                {"template", m.template_name},
                                                                {"data", content->data}}}});
  req.allow_private = settings->allow_private_webhooks;
  req.ca_file = d_.cfg.webhook_ca_file;
  req.timeout_ms = static_cast<long>(d_.cfg.webhook_timeout.count());
  d_.webhooks(std::move(req), [this, seq = m.seq, app = m.app_id, attempts](delivery::WebhookOutcome out) {
    settle_webhook(seq, app, attempts, out);
  });
}

// Delivered, retried later, or dead-lettered; the job and its trail event in one write,
// applied only while this node still holds the attempt's lease (a node that overran its
// lease and was taken over leaves the job to the new holder). Counted once applied.
void FallbackScheduler::settle_webhook(std::uint64_t seq, const std::string& app_id, int attempts,
                                       const delivery::WebhookOutcome& out) {
  const std::int64_t t = now_ms(d_.clock);
  WebhookJobRecord j{seq, app_id, attempts + 1, t, WebhookJobState::pending, out.error, t};
  std::vector<MessageEventRecord> ev;
  const char* outcome;
  if (out.delivered) {
    j.state = WebhookJobState::delivered;
    ev.push_back(event(seq, t, outcome = "fallback_sent", "webhook"));
  } else if (out.retryable && j.attempts < static_cast<int>(d_.cfg.webhook_max_attempts)) {
    j.due_ms = t + retry_delay_ms(j.attempts, out.retry_after_s);
    ev.push_back(event(seq, t, outcome = "retry_scheduled", "webhook", out.error));
  } else {
    j.state = WebhookJobState::dead;
    ev.push_back(event(seq, t, outcome = "dead_lettered", "webhook", out.error));
  }
  auto applied = std::make_shared<bool>(false);
  d_.records.settle_webhook_job(std::move(j), held(attempts), std::move(ev), applied,
                                [this, seq, applied, outcome = std::string(outcome)](Status st) {
                                  if (!st) log::warn("message_webhook_write_failed", {{"error", st.error().message}});
                                  if (st && *applied) count_webhook(outcome);
                                  finish(Work::webhook, seq);
                                });
}

void FallbackScheduler::count_webhook(const std::string& outcome) {
  d_.metrics.count_event(outcome);
  if (outcome == "fallback_sent") {
    d_.metrics.count_fallback("webhook", "sent");
  } else if (outcome == "retry_scheduled") {
    d_.metrics.count_fallback("webhook", "retry");
  } else {
    d_.metrics.count_fallback("webhook", "dead");
    d_.metrics.dead->inc();
  }
}

// Exponential backoff with jitter: base * 2^(n-1), capped, then 50-100% of it; a
// Retry-After from the receiver lengthens it (up to the cap).
std::int64_t FallbackScheduler::retry_delay_ms(int attempts, std::optional<std::int64_t> retry_after_s) const {
  const std::int64_t cap = d_.cfg.webhook_backoff_max.count();
  std::int64_t wait = d_.cfg.webhook_backoff.count();
  for (int i = 1; i < attempts && wait < cap; ++i) wait *= 2;
  wait = std::min(wait, cap);
  thread_local std::mt19937_64 rng(std::random_device{}());
  wait = wait / 2 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(wait / 2 + 1));
  if (retry_after_s) wait = std::min(std::max(wait, *retry_after_s * 1000), cap);
  return wait;
}

// ---- dead letters -----------------------------------------------------------------

Result<std::vector<DeadLetter>> FallbackScheduler::dead_letters(const std::string& app_id, std::size_t limit) {
  auto jobs = d_.records.dead_webhook_jobs(app_id, limit);
  if (!jobs) return jobs.error();
  std::vector<DeadLetter> out;
  for (const auto& j : *jobs) {
    auto m = d_.records.message(j.seq);
    if (!m) return m.error();
    if (!m->has_value()) continue;
    out.push_back(DeadLetter{(*m)->id, j.attempts, j.last_error, j.updated_ms});
  }
  return out;
}

void FallbackScheduler::replay(const MessageRecord& m, Done<std::string> done) {
  auto job = d_.records.webhook_job(m.seq);
  if (!job) return done(job.error());
  if (!job->has_value() || (*job)->state != WebhookJobState::dead)
    return done(make_error(Errc::kDeadLetterNotFound, "no dead letter for this message"));
  WebhookJobRecord j = **job;
  j.state = WebhookJobState::pending;
  j.attempts = 0;
  j.due_ms = now_ms(d_.clock);
  j.updated_ms = j.due_ms;
  j.last_error.clear();
  const std::int64_t at = now_ms(d_.clock);
  d_.records.put_webhook_job(std::move(j), {event(m.seq, at, "replayed", "webhook")},
                             [this, id = m.id, done = std::move(done)](Status st) {
                               if (!st)
                                 return done(make_error(Errc::kStoreUnavailable, "the replay could not be stored"));
                               d_.metrics.count_event("replayed");
                               done(id);
                             });
}

}  // namespace herald::messages
