// Messages to users as the store keeps them (docs/messages.md): each message sealed
// whole under its app's key and found by a keyed hash of its user, its status trail,
// its webhook attempts, the users' contacts (sealed) and each app's delivery settings
// (sealed: they hold the webhook secret) and templates.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace herald::store {

using Completion = std::function<void(Status)>;

enum class MessageState : int { pending = 0, acked = 1, expired = 2 };

struct MessageRecord {
  std::uint64_t seq = 0;  // order of acceptance; the inbox cursor
  std::string id;         // "msg_<seq>_<random>"
  std::string app_id;
  std::string user_index;     // blind index of the user id
  std::string idem_index;     // blind index of the idempotency key, or empty
  std::string template_name;  // for frequency caps; empty without a template
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  MessageState state = MessageState::pending;
  int step = 0;  // the next fallback channel
  // Pending: when the next fallback step or the expiry is due. Acknowledged or
  // expired: when the row is purged.
  std::int64_t due_ms = 0;
  std::string sealed;  // the message, sealed (AD "messages/<app>/<id>")
};

struct MessageEventRecord {
  std::uint64_t seq = 0;
  std::int64_t at_ms = 0;
  std::string event;              // accepted, stored, delivered, acked, fallback_started, fallback_sent, ...
  std::string channel;            // webhook, email, sms, or empty
  std::string detail;             // a reason (never personal data), or empty
  std::int64_t connections = -1;  // "delivered": how many; -1 otherwise
};

enum class WebhookJobState : int { pending = 0, delivered = 1, dead = 2, cancelled = 3 };

struct WebhookJobRecord {
  std::uint64_t seq = 0;
  std::string app_id;
  int attempts = 0;
  std::int64_t due_ms = 0;
  WebhookJobState state = WebhookJobState::pending;
  std::string last_error;
  std::int64_t updated_ms = 0;
};

// The node that claimed a due row (docs/cluster.md#leases), and what the row was when it
// claimed it: the message's step, or the webhook job's attempts. A write made under a
// lease applies only while the row still has both, so a node whose lease ran out and was
// taken over cannot write its late result over the new holder's progress.
struct LeaseHolder {
  std::string owner;
  int at = 0;
};

// Rows claimed for one pass; `takeovers` counts those whose previous lease had run out
// unreleased (a node died, or overran its lease).
template <class T>
struct Claimed {
  std::vector<T> rows;
  std::size_t takeovers = 0;
};

// A change to one message, written as one unit: the state moves only from pending, so
// a fallback step never undoes an acknowledgement written in between.
struct MessageChange {
  std::uint64_t seq = 0;
  std::optional<MessageState> state;       // set only if the message is still pending
  std::optional<int> step;                 // likewise
  std::optional<std::int64_t> due_ms;      // likewise
  bool only_if_pending = true;             // when false, the events and job are written regardless
  std::vector<MessageEventRecord> events;  // written only if the change applied
  std::optional<WebhookJobRecord> job;     // upserted only if the change applied
  // Set: the change applies only while this holder's lease stands at this step, and it
  // releases the lease.
  std::optional<LeaseHolder> lease;
};

struct ContactRecord {
  std::string app_id;
  std::string user_index;
  std::string sealed;  // {"email":..,"phone":..}, sealed (AD "user_contacts/<app>/<user index>")
  std::int64_t updated_ms = 0;
};

struct MessageSettingsRecord {
  std::string app_id;
  std::string sealed;  // the app's delivery settings, sealed (AD "message_settings/<app>")
};

struct MessageTemplateRecord {
  std::string app_id;
  std::string name;
  std::string body;  // the template as JSON (no secrets)
};

struct PendingRef {
  std::uint64_t seq = 0;
  std::string app_id;
  std::string user_index;
};

// A node's slot for message sequence numbers (messages/seq_generator.h): unique among
// the nodes whose lease is live.
struct SeqSlot {
  std::uint32_t slot = 0;
  // The largest sequence number the slot's earlier holders recorded, or any node
  // stored: the new holder starts above it.
  std::uint64_t above = 0;
};

struct CapCountRecord {
  std::string app_id;
  std::string user_index;
  std::string template_name;
  std::uint64_t count = 0;
};

class MessageRecords {
 public:
  virtual ~MessageRecords() = default;

  // Writes.
  virtual void insert_message(MessageRecord m, Completion done) = 0;
  // `applied` (may be null) is set on the writer thread before `done` runs.
  virtual void change_message(MessageChange c, std::shared_ptr<bool> applied, Completion done) = 0;
  virtual void add_message_events(std::vector<MessageEventRecord> events, Completion done) = 0;
  // Writes the job as given (a new job, or a replay); any lease on it is dropped.
  virtual void put_webhook_job(WebhookJobRecord job, std::vector<MessageEventRecord> events, Completion done) = 0;
  // The end of a claimed attempt: the job and its events are written only while `held`
  // still holds the job's lease at `held.at` attempts and the job is pending; the lease is
  // released. `applied` (may be null) is set on the writer thread before `done` runs.
  virtual void settle_webhook_job(WebhookJobRecord job, LeaseHolder held, std::vector<MessageEventRecord> events,
                                  std::shared_ptr<bool> applied, Completion done) = 0;
  // Deletes messages (with their trails and webhook jobs) that are no longer pending
  // and whose due_ms (the purge time) is before `now_ms`; at most `limit` of them.
  // Idempotent, so nodes may run it at once (PostgreSQL: each takes rows the other has
  // not locked).
  virtual void purge_messages(std::int64_t now_ms, std::size_t limit, Completion done) = 0;
  virtual void put_contacts(ContactRecord c, Completion done) = 0;
  virtual void delete_contacts(std::string app_id, std::string user_index, Completion done) = 0;
  virtual void put_message_settings(MessageSettingsRecord s, Completion done) = 0;
  virtual void put_message_template(MessageTemplateRecord t, Completion done) = 0;
  virtual void delete_message_template(std::string app_id, std::string name, Completion done) = 0;

  // Reads.
  virtual Result<std::uint64_t> max_message_seq() = 0;
  virtual Result<std::optional<MessageRecord>> message(std::uint64_t seq) = 0;
  virtual Result<std::optional<MessageRecord>> message_by_idempotency(const std::string& app_id,
                                                                      const std::string& idem_index) = 0;
  // The messages with these sequence numbers (those that exist), in the order given.
  virtual Result<std::vector<MessageRecord>> messages_by_seq(const std::vector<std::uint64_t>& seqs) = 0;
  // Every pending message as (seq, app, user index): the inbox index is rebuilt from it
  // at start (a scan of the table; the store keeps no per-user index, whose random
  // inserts would cost a page write per message).
  virtual Result<std::vector<PendingRef>> pending_messages() = 0;
  // Messages whose due_ms is at or before `now_ms`, earliest first.
  virtual Result<std::vector<MessageRecord>> due_messages(std::int64_t now_ms, std::size_t limit) = 0;
  // Claims up to `limit` due messages (any state: a pending one's step or expiry is due,
  // another's purge) that nobody holds a lease on at `now_ms`: each becomes `owner`'s until
  // `lease_until_ms`, and no other claim gets it before then, on this node or another.
  // Earliest first. A claim is a write (it commits before it answers).
  virtual Result<Claimed<MessageRecord>> claim_due_messages(std::int64_t now_ms, std::size_t limit,
                                                            const std::string& owner, std::int64_t lease_until_ms) = 0;
  virtual Result<std::vector<MessageEventRecord>> message_events(std::uint64_t seq, std::size_t limit) = 0;
  virtual Result<std::optional<WebhookJobRecord>> webhook_job(std::uint64_t seq) = 0;
  virtual Result<std::vector<WebhookJobRecord>> due_webhook_jobs(std::int64_t now_ms, std::size_t limit) = 0;
  // The same claim over pending webhook jobs.
  virtual Result<Claimed<WebhookJobRecord>> claim_due_webhook_jobs(std::int64_t now_ms, std::size_t limit,
                                                                   const std::string& owner,
                                                                   std::int64_t lease_until_ms) = 0;
  virtual Result<std::vector<WebhookJobRecord>> dead_webhook_jobs(const std::string& app_id, std::size_t limit) = 0;
  // Messages per (app, user, template) created at or after `since_ms` (frequency caps).
  virtual Result<std::vector<CapCountRecord>> message_cap_counts(std::int64_t since_ms) = 0;
  virtual Result<std::optional<ContactRecord>> contacts(const std::string& app_id, const std::string& user_index) = 0;
  virtual Result<std::vector<MessageSettingsRecord>> load_message_settings() = 0;
  virtual Result<std::vector<MessageTemplateRecord>> load_message_templates() = 0;

  // Several nodes on one store (docs/cluster.md "Message sequence numbers" and "Inboxes
  // across nodes").
  // Claims a free slot of `slots` for `lease_ms` (the database's clock) under `holder`
  // (unique per process). Nullopt where the store serves one node (SQLite): a plain
  // counter is enough there. "store_error" when every slot is leased.
  virtual Result<std::optional<SeqSlot>> claim_seq_slot(const std::string& holder, std::uint32_t slots,
                                                        std::int64_t lease_ms) = 0;
  // Extends the lease and records `last_seq`; false when the slot is no longer
  // `holder`'s (its lease ran out and another node took it).
  virtual Result<bool> renew_seq_slot(std::uint32_t slot, const std::string& holder, std::int64_t lease_ms,
                                      std::uint64_t last_seq) = 0;
  virtual Status release_seq_slot(std::uint32_t slot, const std::string& holder, std::uint64_t last_seq) = 0;
  // Pending messages with seq above `after_seq`, ascending, at most `per_app` of each
  // app and `limit` in all.
  virtual Result<std::vector<PendingRef>> pending_after(std::uint64_t after_seq, std::size_t limit,
                                                        std::size_t per_app) = 0;
  // Those of `seqs` whose message is still pending (not acknowledged, expired or purged).
  virtual Result<std::vector<std::uint64_t>> still_pending(const std::vector<std::uint64_t>& seqs) = 0;
};

}  // namespace herald::store
