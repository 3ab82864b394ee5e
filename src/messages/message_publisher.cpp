// The publish path of the messages service, step by step.
#include "messages/message_publisher.h"

#include <algorithm>

#include "core/log.h"
#include "core/metrics.h"
#include "crypto/random.h"
#include "kms/key_service.h"
#include "messages/app_settings.h"
#include "messages/daily_caps.h"
#include "messages/idempotency_claims.h"
#include "messages/inbox_index.h"
#include "messages/inbox_sync.h"
#include "messages/message_metrics.h"
#include "messages/message_wire.h"
#include "messages/sealed_message.h"
#include "messages/seq_generator.h"
#include "store/message_records.h"

namespace herald::messages {
using store::MessageEventRecord;
using store::MessageRecord;

namespace {

bool has_channel(const std::vector<std::string>& v, std::string_view c) {
  return std::find(v.begin(), v.end(), c) != v.end();
}

}  // namespace

// A message on its way to the store, and what must be undone if it does not get there.
struct MessagePublisher::Draft {
  MessageRecord record;
  MessageContent content;
  std::string user;
  std::string idem_index;  // claimed, or empty
  std::uint64_t app_cap = 0;
  std::uint64_t template_cap = 0;
};

void MessagePublisher::publish(const std::string& app_id, PublishRequest req, Done<Published> done) {
  auto settings = d_.apps.settings_of(app_id);
  if (!req.channels) req.channels = settings->fallback;
  if (!req.fallback_after_ms)
    req.fallback_after_ms =
        settings->fallback_after_ms > 0 ? settings->fallback_after_ms : d_.cfg.fallback_after.count();
  Draft d;
  auto content = compose(app_id, req, *settings, &d.template_cap);
  if (!content) return done(content.error());
  if (content_plaintext(*content).size() > d_.cfg.max_data_bytes + 1024) {
    d_.metrics.refused->with({"too_large"}).inc();
    return done(make_error(Errc::kMessageTooLarge, "the message is larger than messages.max_data_bytes"));
  }
  auto uidx = d_.keys.blind_index(app_id, "message-user", req.to_user);
  if (!uidx) return done(uidx.error());
  d.content = std::move(*content);
  d.user = req.to_user;
  d.app_cap = settings->max_per_user_per_day;
  MessageRecord& m = d.record;
  auto seq = d_.seqs.next(now_ms(d_.clock));
  if (!seq) {
    d_.metrics.refused->with({"no_seq_slot"}).inc();
    return done(seq.error());
  }
  m.seq = *seq;
  // Before the write: the cluster scan may meet the row before its completion runs here,
  // and must not take it for another node's.
  d_.sync.note_local(m.seq);
  m.id = "msg_" + std::to_string(m.seq) + "_" + crypto::random_hex(6);
  m.app_id = app_id;
  m.user_index = std::move(*uidx);
  m.template_name = req.template_name;
  if (!admit(d, req.idempotency_key, done)) return;
  m.idem_index = d.idem_index;
  m.created_ms = now_ms(d_.clock);
  m.expires_ms = m.created_ms + req.ttl_ms.value_or(d_.cfg.default_ttl.count());
  m.due_ms = req.channels->empty() ? m.expires_ms : std::min(m.created_ms + *req.fallback_after_ms, m.expires_ms);
  auto sealed = d_.keys.seal(app_id, content_plaintext(d.content), message_ad(app_id, m.id));
  if (!sealed) {
    release(d, true);
    return done(sealed.error());
  }
  m.sealed = std::move(*sealed);
  store_and_push(std::move(d), std::move(done));
}

// The content per channel: rendered from the template now, so that a template that
// cannot be rendered is refused here and not at delivery.
Result<MessageContent> MessagePublisher::compose(const std::string& app_id, const PublishRequest& req,
                                                 const DeliverySettings& s, std::uint64_t* template_cap) {
  MessageContent c;
  c.priority = req.priority;
  c.user = req.to_user;
  c.channels = *req.channels;
  c.fallback_after_ms = *req.fallback_after_ms;
  const bool need_email = has_channel(c.channels, "email");
  const bool need_sms = has_channel(c.channels, "sms");
  if (req.template_name.empty()) {
    if ((need_email || need_sms) && req.text.empty())
      return make_error(Errc::kInvalidArgument,
                        "text is required when channels holds email or sms and there is no template");
    c.data = req.data.value_or(nullptr);
    c.email_subject = req.subject.empty() ? "New message" : req.subject;
    c.email_text = req.text;
    c.sms_text = req.text;
    return c;
  }
  auto t = d_.apps.find_template(app_id, req.template_name);
  if (!t) {
    d_.metrics.refused->with({"template_not_found"}).inc();
    return make_error(Errc::kTemplateNotFound, "this app has no template " + req.template_name);
  }
  *template_cap = t->max_per_user_per_day;
  auto r = render(*t, req.locale, s.default_locale, req.vars, need_email, need_sms);
  if (!r) {
    d_.metrics.refused->with({"template_render_failed"}).inc();
    return r.error();
  }
  c.data = std::move(r->inapp);
  c.email_subject = std::move(r->email_subject);
  c.email_text = std::move(r->email_text);
  c.sms_text = std::move(r->sms_text);
  return c;
}

// The idempotency key, the caps and the pending bound, in that order: a duplicate costs
// no cap, and a refusal frees what was taken before it. True when admitted; otherwise
// `done` has been answered, or will be once the publish in flight with the key settles.
bool MessagePublisher::admit(Draft& d, const std::string& idempotency_key, Done<Published>& done) {
  const MessageRecord& m = d.record;
  auto refuse = [&](Result<Published> r) {
    done(std::move(r));
    return false;
  };
  if (!idempotency_key.empty()) {
    auto ix = d_.keys.blind_index(m.app_id, "message-idempotency", idempotency_key);
    if (!ix) return refuse(ix.error());
    auto claim = d_.claims.claim(m.app_id, *ix, m.id, [this, done](Result<EarlierMessage> e) {
      if (!e) return done(e.error());
      d_.metrics.duplicates->inc();
      done(Published{e->id, e->state, true, 0});
    });
    if (!claim) return refuse(claim.error());
    if (claim->outcome == IdempotencyClaims::Outcome::waiting) return false;
    if (claim->outcome == IdempotencyClaims::Outcome::earlier) {
      d_.metrics.duplicates->inc();
      return refuse(Published{claim->earlier.id, claim->earlier.state, true, 0});
    }
    d.idem_index = std::move(*ix);
  }
  const std::int64_t now = now_ms(d_.clock);
  if (!d_.caps.take(m.app_id, m.user_index, m.template_name, d.app_cap, d.template_cap, now)) {
    release(d, false);
    d_.metrics.refused->with({"cap"}).inc();
    return refuse(make_retry_error(Errc::kMessageCapExceeded, "this user has had the most messages allowed today",
                                   DailyCaps::retry_after_s(now)));
  }
  if (d_.index.size() >= d_.cfg.max_pending) {
    release(d, true);
    d_.metrics.refused->with({"busy"}).inc();
    return refuse(make_error(Errc::kMessagesBusy, "the server holds messages.max_pending unacknowledged messages"));
  }
  if (d_.index.app_size(m.app_id) >= d_.cfg.max_pending_per_app) {
    release(d, true);
    d_.metrics.refused->with({"busy"}).inc();
    return refuse(
        make_error(Errc::kMessagesBusy, "the app holds messages.max_pending_per_app unacknowledged messages"));
  }
  return true;
}

void MessagePublisher::release(const Draft& d, bool caps_taken) {
  if (!d.idem_index.empty()) d_.claims.release(d.record.app_id, d.idem_index, std::nullopt);
  if (caps_taken)
    d_.caps.give_back(d.record.app_id, d.record.user_index, d.record.template_name, d.app_cap, d.template_cap);
}

// The key was stored already (by an earlier publish, here or on another node): the
// publisher gets that message, as a duplicate, and nothing of this one was kept.
void MessagePublisher::answer_earlier(const Draft& d, Done<Published> done) {
  auto earlier = d_.records.message_by_idempotency(d.record.app_id, d.idem_index);
  if (!earlier || !earlier->has_value()) {
    d_.claims.release(d.record.app_id, d.idem_index, std::nullopt);
    return done(make_error(Errc::kStoreUnavailable, "the message with this idempotency key could not be read"));
  }
  EarlierMessage e{(*earlier)->id, state_name((*earlier)->state)};
  d_.claims.release(d.record.app_id, d.idem_index, e);
  d_.metrics.duplicates->inc();
  done(Published{e.id, e.state, true, 0});
}

void MessagePublisher::store_and_push(Draft d, Done<Published> done) {
  std::string frame = push_frame(inbox_item(d.record, d.content));
  MessageRecord m = d.record;  // the draft keeps the keys to release
  d.record.sealed.clear();
  d_.records.insert_message(
      std::move(m), [this, d = std::move(d), frame = std::move(frame), done = std::move(done)](Status st) mutable {
        if (!st) {
          d_.caps.give_back(d.record.app_id, d.record.user_index, d.record.template_name, d.app_cap, d.template_cap);
          if (st.error().code == Errc::kDuplicate && !d.idem_index.empty()) return answer_earlier(d, std::move(done));
          if (!d.idem_index.empty()) d_.claims.release(d.record.app_id, d.idem_index, std::nullopt);
          log::error("message_store_failed", {{"error", st.error().message}});
          return done(make_error(Errc::kStoreUnavailable, "the message could not be stored"));
        }
        if (!d.idem_index.empty())
          d_.claims.release(d.record.app_id, d.idem_index, EarlierMessage{d.record.id, "pending"});
        const std::uint64_t seq = d.record.seq;
        d_.index.add(d.record.app_id, d.record.user_index, seq);
        d_.metrics.published->inc();
        d_.metrics.count_event("accepted");
        d_.metrics.count_event("stored");
        std::size_t n = pusher_ ? pusher_(d.record.app_id, d.user, std::move(frame)) : 0;
        if (n > 0) {
          d_.metrics.delivered->inc(n);
          d_.metrics.count_event("delivered");
          d_.records.add_message_events(
              {MessageEventRecord{seq, now_ms(d_.clock), "delivered", "", "", static_cast<std::int64_t>(n)}},
              [](Status) {});
        }
        done(Published{d.record.id, "pending", false, n});
      });
}

}  // namespace herald::messages
