// The messages service: publish, status, inbox, acknowledgements and the app's settings,
// over the pieces that hold each part (index, caps, claims, settings, scheduler).
#include "messages/message_service.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>

#include "core/log.h"
#include "core/metrics.h"
#include "crypto/random.h"
#include "kms/key_service.h"
#include "messages/message_wire.h"
#include "messages/sealed_message.h"
#include "push/channel_name.h"
#include "store/store.h"

namespace herald::messages {
namespace json = boost::json;
using store::MessageChange;
using store::MessageEventRecord;
using store::MessageRecord;
using store::MessageState;

namespace {

constexpr std::size_t kTrailMax = 200;
constexpr std::size_t kInboxReaderLanes = 2;
constexpr std::size_t kInboxReaderQueue = 1024;  // per lane
// Fallback work still under way at destruction is given this long to finish.
constexpr std::chrono::seconds kDrainTimeout{5};

Error sealed_error() {
  return make_error(Errc::kSealed, "the key service is sealed");
}
Error bad_user_error() {
  return make_error(Errc::kInvalidArgument, "the user id must be 1 to 128 bytes without ',' or '#'");
}

// Where the metrics go when the caller keeps none (tests, benchmarks).
metrics::Registry& unused_registry() {
  static metrics::Registry r;
  return r;
}

// The lane of a client's inbox calls: one user's calls run in order.
std::string lane_key(const push::ClientIdentity& who) {
  return who.app_id + '\x1f' + who.user;
}

}  // namespace

MessageService::MessageService(const MessagesConfig& cfg, store::Store& db, kms::KeyService& keys,
                               delivery::Senders* senders, WebhookPoster webhooks, metrics::Registry* registry,
                               Clock clock)
    : MessageService(cfg, db.messages(), keys, senders, std::move(webhooks), registry, std::move(clock)) {}

MessageService::MessageService(const MessagesConfig& cfg, store::MessageRecords& records, kms::KeyService& keys,
                               delivery::Senders* senders, WebhookPoster webhooks, metrics::Registry* registry,
                               Clock clock)
    : cfg_(cfg),
      records_(records),
      keys_(keys),
      clock_(std::move(clock)),
      m_(std::make_unique<MessageMetrics>(registry ? *registry : unused_registry())),
      apps_(records_, keys_, clock_),
      index_(m_->pending),
      claims_(std::make_unique<MemoryIdempotencyClaims>(records_)),
      cluster_{"node/" + crypto::random_hex(8)},
      sync_(InboxSync::Deps{records_, keys_, index_, *m_}, InboxSync::Limits{}),
      publisher_(
          MessagePublisher::Deps{cfg_, records_, keys_, apps_, index_, caps_, *claims_, *m_, seqs_, sync_, clock_}),
      scheduler_(FallbackScheduler::Deps{cfg_, records_, keys_, senders, std::move(webhooks), apps_, index_, *m_,
                                         clock_, loaded_}),
      readers_(kInboxReaderLanes, kInboxReaderQueue) {}

MessageService::~MessageService() {
  sync_thread_.stop();
  readers_.stop();
  scheduler_.stop();
  if (!scheduler_.wait_idle(kDrainTimeout)) log::warn("message_work_unfinished", {{"in_flight", in_flight()}});
  // The store runs completions in order on one thread: once an empty write submitted
  // now completes, every earlier one (publishes, acks, steps) has.
  (void)store::wait_for([this](store::Completion done) { records_.add_message_events({}, std::move(done)); });
}

void MessageService::set_pusher(UserPusher pusher) {
  sync_.set_pusher(pusher);
  publisher_.set_pusher(std::move(pusher));
}

void MessageService::set_cluster(std::string node_name, Millis poll_interval, Millis lease) {
  // The random part keeps two processes that share a name (a restart while the old one
  // still holds its lease, a misconfiguration) from sharing a slot.
  cluster_.holder = std::move(node_name) + "/" + crypto::random_hex(8);
  cluster_.poll_interval = poll_interval;
  cluster_.lease = lease;
}

bool MessageService::ready() const {
  return loaded_ && !keys_.sealed();
}

Status MessageService::load() {
  auto max_seq = records_.max_message_seq();
  if (!max_seq) return max_seq.error();
  if (auto st = claim_seq_slot(*max_seq); !st) return st;
  if (auto st = apps_.load(); !st) return st;
  const std::int64_t now = now_ms(clock_);
  auto counts = records_.message_cap_counts(now / 86'400'000 * 86'400'000);
  if (!counts) return counts.error();
  auto pending = records_.pending_messages();
  if (!pending) return pending.error();
  // Today's counts, for the caps that exist.
  caps_.clear();
  for (const auto& c : *counts) {
    if (apps_.settings_of(c.app_id)->max_per_user_per_day > 0) caps_.seed(c.app_id, c.user_index, "", c.count, now);
    if (c.template_name.empty()) continue;
    auto t = apps_.find_template(c.app_id, c.template_name);
    if (t && t->max_per_user_per_day > 0) caps_.seed(c.app_id, c.user_index, c.template_name, c.count, now);
  }
  index_.reset(*pending);
  if (clustered_) sync_.reset(now);
  claims_->clear();
  loaded_ = true;
  return ok_status();
}

Status MessageService::reload_settings() {
  if (!loaded_) return ok_status();  // the unseal's load reads them
  return apps_.load();
}

// Sequence numbers grow across restarts. One node (SQLite): the next is one past the
// largest stored; a number handed out but never stored before a crash may be handed out
// again, which is harmless since nothing refers to it. A cluster: a slot of its own,
// above every number stored (messages/seq_generator.h).
Status MessageService::claim_seq_slot(std::uint64_t max_seq) {
  const std::int64_t sent = now_ms(clock_);
  auto slot = records_.claim_seq_slot(cluster_.holder, SeqGenerator::kSlots, cluster_.lease.count());
  if (!slot) return slot.error();
  if (!slot->has_value()) {
    seqs_.use_counter(max_seq + 1);
    clustered_ = false;
    return ok_status();
  }
  // The lease began no earlier than `sent`; a tenth is kept for the clocks' drift.
  seqs_.use_slot((*slot)->slot, std::max(max_seq, (*slot)->above), sent + cluster_.lease.count() * 9 / 10);
  renewed_ms_ = sent;
  clustered_ = true;
  log::info("message_seq_slot", {{"slot", static_cast<std::int64_t>((*slot)->slot)}});
  return ok_status();
}

void MessageService::renew_seq_slot(std::int64_t now) {
  auto slot = seqs_.slot();
  if (slot && now - renewed_ms_ < cluster_.lease.count() / 3) return;
  if (slot) {
    auto renewed = records_.renew_seq_slot(*slot, cluster_.holder, cluster_.lease.count(), seqs_.last());
    if (!renewed) {
      // Publishes go on until the lease runs out, then answer store_unavailable.
      log::warn("message_seq_slot_renew_failed", {{"error", renewed.error().message}});
      return;
    }
    if (*renewed) {
      seqs_.extend(now + cluster_.lease.count() * 9 / 10);
      renewed_ms_ = now;
      return;
    }
    log::warn("message_seq_slot_lost", {{"slot", static_cast<std::int64_t>(*slot)}});
    seqs_.drop();
  }
  // No slot (lost, or the claim failed): another, above every number stored.
  if (auto st = claim_seq_slot(0); !st) log::warn("message_seq_slot_claim_failed", {{"error", st.error().message}});
}

Result<InboxSync::Pass> MessageService::cluster_tick(std::int64_t now) {
  if (!clustered_ || !ready()) return InboxSync::Pass{};
  renew_seq_slot(now);
  return sync_.run(now);
}

void MessageService::unload() {
  loaded_ = false;
  sync_.deactivate();
  if (auto slot = seqs_.slot(); slot && clustered_) {
    // Free at once for the next node to start, above what this one handed out.
    seqs_.drop();
    (void)records_.release_seq_slot(*slot, cluster_.holder, seqs_.last());
  }
  index_.clear();
  apps_.clear();
  caps_.clear();
}

void MessageService::start() {
  scheduler_.start();
  // Idle where the store is not shared: cluster_tick() returns at once.
  sync_thread_.start(cluster_.poll_interval, [this] {
    auto pass = cluster_tick(now_ms(clock_));
    if (!pass) log::warn("message_sync_failed", {{"error", pass.error().message}});
  });
}

void MessageService::stop() {
  sync_thread_.stop();
  scheduler_.stop();
  readers_.stop();
}

void MessageService::tick(std::int64_t now) {
  scheduler_.tick(now);
}

std::size_t MessageService::in_flight() const {
  return scheduler_.in_flight();
}

PublishLimits MessageService::publish_limits() const {
  return PublishLimits{cfg_.max_data_bytes, cfg_.max_ttl.count()};
}

void MessageService::publish(const std::string& app_id, PublishRequest req, Done<Published> done) {
  if (!ready()) return done(sealed_error());
  publisher_.publish(app_id, std::move(req), std::move(done));
}

Result<std::string> MessageService::user_index(const std::string& app_id, std::string_view user) const {
  return keys_.blind_index(app_id, "message-user", user);
}

// ---- status and inbox -------------------------------------------------------------

Result<std::optional<MessageRecord>> MessageService::find(const std::string& app_id, std::string_view message_id) {
  std::uint64_t seq = seq_of(message_id);
  if (seq == 0) return std::optional<MessageRecord>();
  auto m = records_.message(seq);
  if (!m) return m.error();
  if (!m->has_value() || (*m)->id != message_id || (*m)->app_id != app_id) return std::optional<MessageRecord>();
  return m;
}

Result<MessageStatus> MessageService::status(const std::string& app_id, std::string_view message_id) {
  if (!ready()) return sealed_error();
  auto found = find(app_id, message_id);
  if (!found) return found.error();
  if (!found->has_value()) return make_error(Errc::kMessageNotFound, "this app has no message with this id");
  auto events = records_.message_events((*found)->seq, kTrailMax);
  if (!events) return events.error();
  // The row and its events are two reads; an ack or step committed between them would
  // show a trail ahead of the state. Reading the row again after the events keeps the
  // state at least as new as the trail.
  auto again = records_.message((*found)->seq);
  if (!again) return again.error();
  if (again->has_value()) *found = std::move(*again);
  const MessageRecord& m = **found;
  auto c = open_message(keys_, m);
  if (!c) return c.error();
  MessageStatus s{m.id,        c->user,         state_name(m.state), m.created_ms,         m.expires_ms,
                  c->priority, m.template_name, c->channels,         c->fallback_after_ms, c->data,
                  {}};
  s.trail.push_back(TrailEntry{m.created_ms, "accepted"});
  s.trail.push_back(TrailEntry{m.created_ms, "stored"});
  for (const auto& e : *events) s.trail.push_back(TrailEntry{e.at_ms, e.event, e.channel, e.detail, e.connections});
  return s;
}

Result<std::vector<MessageRecord>> MessageService::pending_page(const std::string& app_id,
                                                                const std::string& user_index, std::uint64_t after_seq,
                                                                std::size_t limit, std::uint64_t* next) {
  auto seqs = index_.page(app_id, user_index, after_seq, limit);
  *next = seqs.size() == limit ? seqs.back() : 0;
  auto rows = records_.messages_by_seq(seqs);
  if (!rows) return rows.error();
  // Entries the index still holds for messages that expired (and wait for the scheduler)
  // or were acknowledged a moment ago are left out.
  const std::int64_t now = now_ms(clock_);
  if (rows->size() < seqs.size() || std::any_of(rows->begin(), rows->end(), [](const MessageRecord& m) {
        return m.state != MessageState::pending;
      })) {
    // Another node acknowledged or expired these (or the purge removed them): out of
    // the index now rather than at the sweep's next round.
    std::vector<std::uint64_t> live;
    for (const auto& m : *rows)
      if (m.state == MessageState::pending) live.push_back(m.seq);
    std::sort(live.begin(), live.end());
    for (auto seq : seqs)
      if (!std::binary_search(live.begin(), live.end(), seq)) index_.remove(app_id, user_index, seq);
  }
  std::erase_if(*rows, [&](const MessageRecord& m) {
    return m.state != MessageState::pending || m.expires_ms <= now || m.app_id != app_id || m.user_index != user_index;
  });
  return rows;
}

Result<InboxPage> MessageService::inbox(const std::string& app_id, std::string_view user, std::string_view after,
                                        std::size_t limit) {
  if (!ready()) return sealed_error();
  if (!push::valid_user_id(user)) return bad_user_error();
  std::uint64_t after_seq = 0;
  if (!after.empty()) {
    auto [p, ec] = std::from_chars(after.data(), after.data() + after.size(), after_seq);
    if (ec != std::errc{} || p != after.data() + after.size())
      return make_error(Errc::kInvalidArgument, "after must be a cursor from an earlier page");
  }
  if (limit == 0 || limit > 500) return make_error(Errc::kInvalidArgument, "limit must be 1 to 500");
  auto uidx = user_index(app_id, user);
  if (!uidx) return uidx.error();
  InboxPage page;
  auto rows = pending_page(app_id, *uidx, after_seq, limit, &page.next);
  if (!rows) return rows.error();
  for (const auto& m : *rows) {
    auto c = open_message(keys_, m);
    if (!c) return c.error();
    page.messages.push_back(inbox_item(m, *c));
  }
  return page;
}

// ---- the client protocol ----------------------------------------------------------

void MessageService::on_connect(const push::ClientIdentity& who, std::function<void(std::vector<std::string>)> done) {
  if (readers_.try_run(lane_key(who), [this, who, done] { done(pending_frames(who)); })) return;
  // The messages stay in the inbox: a later connect or page shows them.
  log::warn("message_inbox_busy", {{"call", "connect"}});
  done({});
}

void MessageService::ack(const push::ClientIdentity& who, std::string_view message_id,
                         std::function<void(Status)> done) {
  if (readers_.try_run(lane_key(who), [this, who, id = std::string(message_id), done] { done(ack_now(who, id)); }))
    return;
  done(make_error(Errc::kMessagesBusy, "the message inbox is busy; try again"));
}

void MessageService::page(const push::ClientIdentity& who, std::string_view after, std::size_t limit,
                          std::function<void(Result<std::string>)> done) {
  if (readers_.try_run(lane_key(who),
                       [this, who, after = std::string(after), limit, done] { done(page_now(who, after, limit)); }))
    return;
  done(make_error(Errc::kMessagesBusy, "the message inbox is busy; try again"));
}

std::vector<std::string> MessageService::pending_frames(const push::ClientIdentity& who) {
  std::vector<std::string> frames;
  if (!ready()) return frames;
  auto uidx = user_index(who.app_id, who.user);
  if (!uidx) return frames;
  // From now on the messages other nodes accept for this user are pushed here too.
  if (clustered_) sync_.note_connected(who.app_id, *uidx);
  if (cfg_.deliver_on_connect == 0) return frames;
  const std::int64_t now = now_ms(clock_);
  // Over the budget the messages simply stay in the inbox, for the next connect or a page.
  if (!replays_.take(who.app_id, *uidx, now, cfg_.connect_replays_per_minute)) return frames;
  std::uint64_t next_seq = 0;
  auto rows = pending_page(who.app_id, *uidx, 0, cfg_.deliver_on_connect, &next_seq);
  if (!rows) {
    log::warn("message_inbox_failed", {{"error", rows.error().message}});
    return frames;
  }
  std::vector<MessageEventRecord> events;
  for (const auto& m : *rows) {
    auto c = open_message(keys_, m);
    if (!c) continue;
    frames.push_back(push_frame(inbox_item(m, *c)));
    events.push_back(MessageEventRecord{m.seq, now, "delivered", "", "", 1});
  }
  if (!events.empty()) {
    m_->delivered->inc(events.size());
    m_->events->with({"delivered"}).inc(events.size());
    records_.add_message_events(std::move(events), [](Status) {});
  }
  return frames;
}

Status MessageService::ack_now(const push::ClientIdentity& who, std::string_view message_id) {
  if (!ready()) return sealed_error();
  auto found = find(who.app_id, message_id);
  if (!found) return found.error();
  auto uidx = user_index(who.app_id, who.user);
  if (!uidx) return uidx.error();
  if (!found->has_value() || (*found)->user_index != *uidx)
    return make_error(Errc::kMessageNotFound, "you have no message with this id");
  const MessageRecord& m = **found;
  if (m.state != MessageState::pending) return ok_status();
  MessageChange c;
  c.seq = m.seq;
  c.state = MessageState::acked;
  c.due_ms = m.expires_ms + cfg_.retention.count();
  c.events.push_back(MessageEventRecord{m.seq, now_ms(clock_), "acked", "", "", -1});
  // Out of the inbox at once (a page or a connect right after the ack must not show it);
  // the state in the store follows with the next group commit, and until then the
  // cluster scan must not take the row, still pending, for new.
  sync_.note_local(m.seq);
  index_.remove(m.app_id, m.user_index, m.seq);
  auto applied = std::make_shared<bool>(false);
  records_.change_message(std::move(c), applied,
                          [this, applied, app = m.app_id, ui = m.user_index, seq = m.seq](Status st) {
                            if (!st) {
                              log::warn("message_ack_failed", {{"error", st.error().message}});
                              index_.add(app, ui, seq);  // still pending: delivered again on reconnect
                              return;
                            }
                            if (*applied) {
                              m_->acked->inc();
                              m_->count_event("acked");
                            }
                          });
  return ok_status();
}

Result<std::string> MessageService::page_now(const push::ClientIdentity& who, std::string_view after,
                                             std::size_t limit) {
  auto r = inbox(who.app_id, who.user, after, limit);
  if (!r) return r.error();
  return json::serialize(inbox_page_json(*r));
}

// ---- contacts, settings, templates, dead letters ----------------------------------

void MessageService::set_contacts(const std::string& app_id, std::string_view user, Contacts contacts,
                                  Done<Contacts> done) {
  if (!ready()) return done(sealed_error());
  if (!push::valid_user_id(user)) return done(bad_user_error());
  auto uidx = user_index(app_id, user);
  if (!uidx) return done(uidx.error());
  apps_.put_contacts(app_id, *uidx, std::move(contacts), std::move(done));
}

Result<Contacts> MessageService::contacts(const std::string& app_id, std::string_view user) {
  if (!ready()) return sealed_error();
  if (!push::valid_user_id(user)) return bad_user_error();
  auto uidx = user_index(app_id, user);
  if (!uidx) return uidx.error();
  auto r = apps_.contacts(app_id, *uidx);
  if (!r) return r.error();
  if (!r->has_value()) return make_error(Errc::kContactsNotFound, "no contacts are set for this user");
  return std::move(**r);
}

void MessageService::delete_contacts(const std::string& app_id, std::string_view user, Done<bool> done) {
  if (!ready()) return done(sealed_error());
  if (!push::valid_user_id(user)) return done(bad_user_error());
  auto uidx = user_index(app_id, user);
  if (!uidx) return done(uidx.error());
  apps_.delete_contacts(app_id, *uidx, std::move(done));
}

DeliverySettings MessageService::settings(const std::string& app_id) const {
  return *apps_.settings_of(app_id);
}

void MessageService::update_settings(const std::string& app_id, const SettingsPatch& patch,
                                     Done<SettingsUpdated> done) {
  if (!ready()) return done(sealed_error());
  apps_.update(app_id, patch, std::move(done));
}

void MessageService::put_template(const std::string& app_id, std::string_view name, const json::object& body,
                                  Done<Template> done) {
  if (!ready()) return done(sealed_error());
  apps_.put_template(app_id, name, body, std::move(done));
}

Result<Template> MessageService::find_template(const std::string& app_id, std::string_view name) const {
  auto t = apps_.find_template(app_id, name);
  if (!t) return make_error(Errc::kTemplateNotFound, "this app has no template " + std::string(name));
  return std::move(*t);
}

std::vector<std::string> MessageService::template_names(const std::string& app_id) const {
  return apps_.template_names(app_id);
}

void MessageService::delete_template(const std::string& app_id, std::string_view name, Done<bool> done) {
  apps_.delete_template(app_id, name, std::move(done));
}

Result<std::vector<DeadLetter>> MessageService::dead_letters(const std::string& app_id, std::size_t limit) {
  if (limit == 0 || limit > 1000) return make_error(Errc::kInvalidArgument, "limit must be 1 to 1000");
  return scheduler_.dead_letters(app_id, limit);
}

void MessageService::replay_dead_letter(const std::string& app_id, std::string_view message_id,
                                        Done<std::string> done) {
  auto found = find(app_id, message_id);
  if (!found) return done(found.error());
  if (!found->has_value()) return done(make_error(Errc::kDeadLetterNotFound, "no dead letter for this message"));
  scheduler_.replay(**found, std::move(done));
}

}  // namespace herald::messages
