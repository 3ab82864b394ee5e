// The PostgreSQL store's message tables (store/message_records.h).
#include <algorithm>
#include <string>
#include <tuple>
#include <unordered_map>

#include "store/postgres/bulk_tables.h"
#include "store/postgres/postgres_store.h"

namespace herald::store {
namespace {

#define HERALD_MESSAGE_COLUMNS                                                                                     \
  "seq, id, app_id, user_index, COALESCE(idem_index, ''), template, created_ms, expires_ms, state, step, due_ms, " \
  "sealed"
#define HERALD_JOB_COLUMNS "seq, app_id, attempts, due_ms, state, last_error, updated_ms"

MessageRecord read_message(const pg::Row& r) {
  MessageRecord m;
  m.seq = static_cast<std::uint64_t>(r.i64(0));
  m.id = r.bytes(1);
  m.app_id = r.bytes(2);
  m.user_index = r.bytes(3);
  m.idem_index = r.bytes(4);
  m.template_name = r.bytes(5);
  m.created_ms = r.i64(6);
  m.expires_ms = r.i64(7);
  m.state = static_cast<MessageState>(r.i64(8));
  m.step = static_cast<int>(r.i64(9));
  m.due_ms = r.i64(10);
  m.sealed = r.bytes(11);
  return m;
}

WebhookJobRecord read_job(const pg::Row& r) {
  WebhookJobRecord j;
  j.seq = static_cast<std::uint64_t>(r.i64(0));
  j.app_id = r.bytes(1);
  j.attempts = static_cast<int>(r.i64(2));
  j.due_ms = r.i64(3);
  j.state = static_cast<WebhookJobState>(r.i64(4));
  j.last_error = r.bytes(5);
  j.updated_ms = r.i64(6);
  return j;
}

// A change's events and job are written only if its update applied: the update leaves
// its verdict in a transaction-local setting (herald.applied) that the statements after
// it read, so the decision is made on the server and the batch needs no extra round trip.
void write_events(pg::WriteTx& tx, const std::vector<MessageEventRecord>& events, bool only_if_applied) {
  for (const auto& e : events) {
    if (only_if_applied)
      tx.run(
          "INSERT INTO message_events(seq, at_ms, event, channel, detail, connections) "
          "SELECT $1::bigint, $2::bigint, $3::text, $4::text, $5::text, $6::bigint "
          "WHERE current_setting('herald.applied') = '1';",
          pg::params(e.seq, e.at_ms, e.event, e.channel, e.detail, e.connections));
    else
      tx.insert(pg::kMessageEventRows, pg::cells(e.seq, e.at_ms, e.event, e.channel, e.detail, e.connections));
  }
}

void write_job(pg::WriteTx& tx, const WebhookJobRecord& j, bool only_if_applied) {
  auto p = pg::params(j.seq, j.app_id, j.attempts, j.due_ms, j.state, j.last_error, j.updated_ms);
  if (only_if_applied)
    tx.run(
        "INSERT INTO message_webhooks(seq, app_id, attempts, due_ms, state, last_error, updated_ms) "
        "SELECT $1::bigint, $2::text, $3::integer, $4::bigint, $5::integer, $6::text, $7::bigint "
        "WHERE current_setting('herald.applied') = '1' "
        "ON CONFLICT (seq) DO UPDATE SET attempts = excluded.attempts, due_ms = excluded.due_ms, "
        "state = excluded.state, last_error = excluded.last_error, updated_ms = excluded.updated_ms, "
        "lease_owner = '', lease_until = 0;",
        std::move(p));
  else
    tx.run(
        "INSERT INTO message_webhooks(seq, app_id, attempts, due_ms, state, last_error, updated_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (seq) DO UPDATE SET attempts = excluded.attempts, due_ms = excluded.due_ms, "
        "state = excluded.state, last_error = excluded.last_error, updated_ms = excluded.updated_ms, "
        "lease_owner = '', lease_until = 0;",
        std::move(p));
}

}  // namespace

void PostgresStore::insert_message(MessageRecord m, Completion done) {
  submit(
      [m = std::move(m)](pg::WriteTx& tx) -> Status {
        tx.insert(m.idem_index.empty() ? pg::kMessageRows : pg::kKeyedMessageRows,
                  pg::cells(m.seq, m.id, m.app_id, m.user_index, pg::NullIfEmpty{m.idem_index}, m.template_name,
                            m.created_ms, m.expires_ms, m.state, m.step, m.due_ms, m.sealed),
                  make_error(Errc::kDuplicate, "a message with this idempotency key exists"));
        return ok_status();
      },
      std::move(done));
}

// Under a lease ($7 the holder, $8 the step it claimed at) the update applies only while
// the row still has both, and releases the lease. A change of state (an ack, an expiry)
// releases it too: the holder's own write is refused from then on anyway, and the row's
// claim for its purge is then not counted as a takeover.
void PostgresStore::change_message(MessageChange c, std::shared_ptr<bool> applied, Completion done) {
  submit(
      [c = std::move(c), applied = std::move(applied)](pg::WriteTx& tx) -> Status {
        bool has_fields = c.state || c.step || c.due_ms || c.lease;
        std::optional<std::string> owner;
        std::optional<int> at;
        if (c.lease) owner = c.lease->owner, at = c.lease->at;
        tx.run(
            "WITH changed AS (UPDATE messages SET state = COALESCE($2, state), step = COALESCE($3, step), "
            "due_ms = COALESCE($4, due_ms), lease_owner = CASE WHEN $7::text IS NULL AND $2::integer IS NULL THEN "
            "lease_owner "
            "ELSE '' END, "
            "lease_until = CASE WHEN $7::text IS NULL AND $2::integer IS NULL THEN lease_until ELSE 0 END "
            "WHERE seq = $1 AND $5 AND (state = 0 OR NOT $6) "
            "AND ($7::text IS NULL OR (lease_owner = $7::text AND step = $8::integer)) RETURNING 1) "
            "SELECT set_config('herald.applied', "
            "CASE WHEN NOT $5 OR EXISTS (SELECT 1 FROM changed) THEN '1' ELSE '0' END, true);",
            pg::params(c.seq, c.state, c.step, c.due_ms, has_fields, c.only_if_pending, owner, at),
            [applied](const pg::ResultSet& r) -> Status {
              if (applied) *applied = r.rows() == 1 && r.row(0).bytes(0) == "1";
              return ok_status();
            });
        write_events(tx, c.events, true);
        if (c.job) write_job(tx, *c.job, true);
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::add_message_events(std::vector<MessageEventRecord> events, Completion done) {
  submit(
      [events = std::move(events)](pg::WriteTx& tx) -> Status {
        write_events(tx, events, false);
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::put_webhook_job(WebhookJobRecord job, std::vector<MessageEventRecord> events, Completion done) {
  submit(
      [job = std::move(job), events = std::move(events)](pg::WriteTx& tx) -> Status {
        write_job(tx, job, false);
        write_events(tx, events, false);
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::settle_webhook_job(WebhookJobRecord job, LeaseHolder held, std::vector<MessageEventRecord> events,
                                       std::shared_ptr<bool> applied, Completion done) {
  submit(
      [job = std::move(job), held = std::move(held), events = std::move(events),
       applied = std::move(applied)](pg::WriteTx& tx) -> Status {
        tx.run(
            "WITH changed AS (UPDATE message_webhooks SET attempts = $2, due_ms = $3, state = $4, last_error = $5, "
            "updated_ms = $6, lease_owner = '', lease_until = 0 "
            "WHERE seq = $1 AND state = 0 AND lease_owner = $7 AND attempts = $8 RETURNING 1) "
            "SELECT set_config('herald.applied', CASE WHEN EXISTS (SELECT 1 FROM changed) THEN '1' ELSE '0' END, "
            "true);",
            pg::params(job.seq, job.attempts, job.due_ms, job.state, job.last_error, job.updated_ms, held.owner,
                       held.at),
            [applied](const pg::ResultSet& r) -> Status {
              if (applied) *applied = r.rows() == 1 && r.row(0).bytes(0) == "1";
              return ok_status();
            });
        write_events(tx, events, true);
        return ok_status();
      },
      std::move(done));
}

// SKIP LOCKED: two nodes purging at once take disjoint rows instead of waiting on (or
// deadlocking over) each other's.
void PostgresStore::purge_messages(std::int64_t now_ms, std::size_t limit, Completion done) {
  submit(
      [now_ms, limit](pg::WriteTx& tx) -> Status {
        tx.run(
            "WITH doomed AS (SELECT seq FROM messages WHERE due_ms < $1 AND state <> 0 ORDER BY due_ms LIMIT $2 "
            "FOR UPDATE SKIP LOCKED), "
            "m AS (DELETE FROM messages WHERE seq IN (SELECT seq FROM doomed)), "
            "e AS (DELETE FROM message_events WHERE seq IN (SELECT seq FROM doomed)) "
            "DELETE FROM message_webhooks WHERE seq IN (SELECT seq FROM doomed);",
            pg::params(now_ms, limit));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::put_contacts(ContactRecord c, Completion done) {
  submit(
      [c = std::move(c)](pg::WriteTx& tx) -> Status {
        tx.run(
            "INSERT INTO user_contacts(app_id, user_index, sealed, updated_ms) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (app_id, user_index) DO UPDATE SET sealed = excluded.sealed, "
            "updated_ms = excluded.updated_ms;",
            pg::params(c.app_id, c.user_index, c.sealed, c.updated_ms));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::delete_contacts(std::string app_id, std::string user_index, Completion done) {
  submit(
      [app_id = std::move(app_id), user_index = std::move(user_index)](pg::WriteTx& tx) -> Status {
        tx.run("DELETE FROM user_contacts WHERE app_id = $1 AND user_index = $2;", pg::params(app_id, user_index));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::put_message_settings(MessageSettingsRecord s, Completion done) {
  submit(
      [s = std::move(s)](pg::WriteTx& tx) -> Status {
        tx.run(
            "INSERT INTO message_settings(app_id, sealed) VALUES ($1, $2) "
            "ON CONFLICT (app_id) DO UPDATE SET sealed = excluded.sealed;",
            pg::params(s.app_id, s.sealed));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::put_message_template(MessageTemplateRecord t, Completion done) {
  submit(
      [t = std::move(t)](pg::WriteTx& tx) -> Status {
        tx.run(
            "INSERT INTO message_templates(app_id, name, body) VALUES ($1, $2, $3) "
            "ON CONFLICT (app_id, name) DO UPDATE SET body = excluded.body;",
            pg::params(t.app_id, t.name, t.body));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::delete_message_template(std::string app_id, std::string name, Completion done) {
  submit(
      [app_id = std::move(app_id), name = std::move(name)](pg::WriteTx& tx) -> Status {
        tx.run("DELETE FROM message_templates WHERE app_id = $1 AND name = $2;", pg::params(app_id, name));
        return ok_status();
      },
      std::move(done));
}

Result<std::uint64_t> PostgresStore::max_message_seq() {
  auto rows = readers_.acquire().query(
      "SELECT COALESCE(MAX(seq), 0) FROM messages;", pg::Params{},
      [](const pg::Row& r) { return static_cast<std::uint64_t>(r.i64(0)); }, "max_message_seq");
  if (!rows) return rows.error();
  if (rows->empty()) return make_error(Errc::kStoreError, "max_message_seq: no row");
  return rows->front();
}

Result<std::optional<MessageRecord>> PostgresStore::message(std::uint64_t seq) {
  return pg::first_row(readers_.acquire().query("SELECT " HERALD_MESSAGE_COLUMNS " FROM messages WHERE seq = $1;",
                                                pg::params(seq), read_message, "message"));
}

Result<std::optional<MessageRecord>> PostgresStore::message_by_idempotency(const std::string& app_id,
                                                                           const std::string& idem_index) {
  return pg::first_row(
      readers_.acquire().query("SELECT " HERALD_MESSAGE_COLUMNS " FROM messages WHERE app_id = $1 AND idem_index = $2;",
                               pg::params(app_id, idem_index), read_message, "message_by_idempotency"));
}

Result<std::vector<MessageRecord>> PostgresStore::messages_by_seq(const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return std::vector<MessageRecord>{};
  // One query for the page: the sequence numbers as an array literal ("{1,2,3}").
  std::string list = "{";
  for (std::size_t i = 0; i < seqs.size(); ++i) list += (i ? "," : "") + std::to_string(seqs[i]);
  list += "}";
  auto rows = readers_.acquire().query("SELECT " HERALD_MESSAGE_COLUMNS " FROM messages WHERE seq = ANY($1::bigint[]);",
                                       pg::params(pg::TextParam{list}), read_message, "messages_by_seq");
  if (!rows) return rows.error();
  std::unordered_map<std::uint64_t, MessageRecord*> by_seq;
  for (auto& m : *rows) by_seq[m.seq] = &m;
  std::vector<MessageRecord> out;
  out.reserve(rows->size());
  for (auto seq : seqs)
    if (auto it = by_seq.find(seq); it != by_seq.end()) out.push_back(*it->second);
  return out;
}

Result<std::vector<PendingRef>> PostgresStore::pending_messages() {
  return readers_.acquire().query(
      "SELECT seq, app_id, user_index FROM messages WHERE state = 0 ORDER BY seq;", pg::Params{},
      [](const pg::Row& r) {
        return PendingRef{static_cast<std::uint64_t>(r.i64(0)), r.bytes(1), r.bytes(2)};
      },
      "pending_messages");
}

Result<std::vector<MessageRecord>> PostgresStore::due_messages(std::int64_t now_ms, std::size_t limit) {
  return readers_.acquire().query("SELECT " HERALD_MESSAGE_COLUMNS
                                  " FROM messages WHERE due_ms <= $1 ORDER BY due_ms, seq LIMIT $2;",
                                  pg::params(now_ms, limit), read_message, "due_messages");
}

// One statement on a pooled connection, committed on its own (the claim must be visible
// to every other node before this one acts on it, so it does not wait for a group commit):
// the due rows nobody holds, locked with SKIP LOCKED so that claims running at once on
// two nodes take disjoint rows, then leased. `prev` is the lease that ran out, if any.
Result<Claimed<MessageRecord>> PostgresStore::claim_due_messages(std::int64_t now_ms, std::size_t limit,
                                                                 const std::string& owner,
                                                                 std::int64_t lease_until_ms) {
  struct Row {
    MessageRecord m;
    bool takeover;
  };
  auto rows = readers_.acquire().query(
      "WITH picked AS (SELECT seq, lease_owner AS prev FROM messages WHERE due_ms <= $1 AND lease_until <= $1 "
      "ORDER BY due_ms LIMIT $2 FOR UPDATE SKIP LOCKED) "
      "UPDATE messages AS m SET lease_owner = $3, lease_until = $4 FROM picked WHERE m.seq = picked.seq "
      "RETURNING m.seq, m.id, m.app_id, m.user_index, COALESCE(m.idem_index, ''), m.template, m.created_ms, "
      "m.expires_ms, m.state, m.step, m.due_ms, m.sealed, picked.prev <> '';",
      pg::params(now_ms, limit, owner, lease_until_ms),
      [](const pg::Row& r) {
        return Row{read_message(r), r.boolean(12)};
      },
      "claim_due_messages");
  if (!rows) return rows.error();
  std::sort(rows->begin(), rows->end(),
            [](const Row& a, const Row& b) { return std::tie(a.m.due_ms, a.m.seq) < std::tie(b.m.due_ms, b.m.seq); });
  Claimed<MessageRecord> out;
  for (auto& r : *rows) {
    out.takeovers += r.takeover ? 1 : 0;
    out.rows.push_back(std::move(r.m));
  }
  return out;
}

Result<Claimed<WebhookJobRecord>> PostgresStore::claim_due_webhook_jobs(std::int64_t now_ms, std::size_t limit,
                                                                        const std::string& owner,
                                                                        std::int64_t lease_until_ms) {
  struct Row {
    WebhookJobRecord j;
    bool takeover;
  };
  auto rows = readers_.acquire().query(
      "WITH picked AS (SELECT seq, lease_owner AS prev FROM message_webhooks WHERE state = 0 AND due_ms <= $1 "
      "AND lease_until <= $1 ORDER BY due_ms LIMIT $2 FOR UPDATE SKIP LOCKED) "
      "UPDATE message_webhooks AS w SET lease_owner = $3, lease_until = $4 FROM picked WHERE w.seq = picked.seq "
      "RETURNING w.seq, w.app_id, w.attempts, w.due_ms, w.state, w.last_error, w.updated_ms, picked.prev <> '';",
      pg::params(now_ms, limit, owner, lease_until_ms),
      [](const pg::Row& r) {
        return Row{read_job(r), r.boolean(7)};
      },
      "claim_due_webhook_jobs");
  if (!rows) return rows.error();
  std::sort(rows->begin(), rows->end(),
            [](const Row& a, const Row& b) { return std::tie(a.j.due_ms, a.j.seq) < std::tie(b.j.due_ms, b.j.seq); });
  Claimed<WebhookJobRecord> out;
  for (auto& r : *rows) {
    out.takeovers += r.takeover ? 1 : 0;
    out.rows.push_back(std::move(r.j));
  }
  return out;
}

Result<std::vector<MessageEventRecord>> PostgresStore::message_events(std::uint64_t seq, std::size_t limit) {
  return readers_.acquire().query(
      "SELECT seq, at_ms, event, channel, detail, connections FROM message_events WHERE seq = $1 "
      "ORDER BY id LIMIT $2;",
      pg::params(seq, limit),
      [](const pg::Row& r) {
        return MessageEventRecord{
            static_cast<std::uint64_t>(r.i64(0)), r.i64(1), r.bytes(2), r.bytes(3), r.bytes(4), r.i64(5)};
      },
      "message_events");
}

Result<std::optional<WebhookJobRecord>> PostgresStore::webhook_job(std::uint64_t seq) {
  return pg::first_row(readers_.acquire().query("SELECT " HERALD_JOB_COLUMNS " FROM message_webhooks WHERE seq = $1;",
                                                pg::params(seq), read_job, "webhook_job"));
}

Result<std::vector<WebhookJobRecord>> PostgresStore::due_webhook_jobs(std::int64_t now_ms, std::size_t limit) {
  return readers_.acquire().query("SELECT " HERALD_JOB_COLUMNS
                                  " FROM message_webhooks WHERE state = 0 AND due_ms <= $1 "
                                  "ORDER BY due_ms, seq LIMIT $2;",
                                  pg::params(now_ms, limit), read_job, "due_webhook_jobs");
}

Result<std::vector<WebhookJobRecord>> PostgresStore::dead_webhook_jobs(const std::string& app_id, std::size_t limit) {
  return readers_.acquire().query("SELECT " HERALD_JOB_COLUMNS
                                  " FROM message_webhooks WHERE state = 2 AND app_id = $1 "
                                  "ORDER BY updated_ms DESC LIMIT $2;",
                                  pg::params(app_id, limit), read_job, "dead_webhook_jobs");
}

Result<std::vector<CapCountRecord>> PostgresStore::message_cap_counts(std::int64_t since_ms) {
  return readers_.acquire().query(
      "SELECT app_id, user_index, template, COUNT(*) FROM messages WHERE created_ms >= $1 "
      "GROUP BY app_id, user_index, template;",
      pg::params(since_ms),
      [](const pg::Row& r) {
        return CapCountRecord{r.bytes(0), r.bytes(1), r.bytes(2), static_cast<std::uint64_t>(r.i64(3))};
      },
      "message_cap_counts");
}

Result<std::optional<ContactRecord>> PostgresStore::contacts(const std::string& app_id, const std::string& user_index) {
  return pg::first_row(readers_.acquire().query(
      "SELECT app_id, user_index, sealed, updated_ms FROM user_contacts WHERE app_id = $1 AND user_index = $2;",
      pg::params(app_id, user_index),
      [](const pg::Row& r) {
        return ContactRecord{r.bytes(0), r.bytes(1), r.bytes(2), r.i64(3)};
      },
      "contacts"));
}

Result<std::vector<MessageSettingsRecord>> PostgresStore::load_message_settings() {
  return readers_.acquire().query(
      "SELECT app_id, sealed FROM message_settings;", pg::Params{},
      [](const pg::Row& r) {
        return MessageSettingsRecord{r.bytes(0), r.bytes(1)};
      },
      "load_message_settings");
}

Result<std::vector<MessageTemplateRecord>> PostgresStore::load_message_templates() {
  return readers_.acquire().query(
      "SELECT app_id, name, body FROM message_templates;", pg::Params{},
      [](const pg::Row& r) {
        return MessageTemplateRecord{r.bytes(0), r.bytes(1), r.bytes(2)};
      },
      "load_message_templates");
}

// ---- several nodes: sequence slots and the inbox scan --------------------------------

// The smallest slot whose lease ran out (or was never taken) becomes `holder`'s, in one
// statement: two nodes that pick the same slot at once meet on its primary key, and
// ON CONFLICT ... WHERE lets only one of them have it (the other gets no row and tries
// again). Leases are in the database's clock, so the nodes' clocks need not agree.
Result<std::optional<SeqSlot>> PostgresStore::claim_seq_slot(const std::string& holder, std::uint32_t slots,
                                                             std::int64_t lease_ms) {
  constexpr int kAttempts = 8;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto claimed = pg::first_row(readers_.acquire().query(
        "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms), "
        "pick AS (SELECT s FROM generate_series(0, $3::integer - 1) s WHERE NOT EXISTS "
        "(SELECT 1 FROM message_seq_slots t WHERE t.slot = s AND t.lease_until_ms > (SELECT ms FROM now)) "
        "ORDER BY s LIMIT 1) "
        "INSERT INTO message_seq_slots AS t (slot, holder, lease_until_ms, high_seq) "
        "SELECT s, $1, (SELECT ms FROM now) + $2::bigint, 0 FROM pick "
        "ON CONFLICT (slot) DO UPDATE SET holder = excluded.holder, lease_until_ms = excluded.lease_until_ms "
        "WHERE t.lease_until_ms <= (SELECT ms FROM now) "
        "RETURNING t.slot, t.high_seq, (SELECT COALESCE(MAX(seq), 0) FROM messages);",
        pg::params(holder, lease_ms, slots),
        [](const pg::Row& r) {
          return SeqSlot{static_cast<std::uint32_t>(r.i64(0)),
                         static_cast<std::uint64_t>(std::max(r.i64(1), r.i64(2)))};
        },
        "claim_seq_slot"));
    if (!claimed) return claimed.error();
    if (claimed->has_value()) return std::optional<SeqSlot>(**claimed);
    // No row: every slot is leased, or another node took the one picked a moment ago.
    auto free = readers_.acquire().query(
        "SELECT COUNT(*) FROM message_seq_slots WHERE lease_until_ms > "
        "(extract(epoch FROM clock_timestamp()) * 1000)::bigint;",
        pg::Params{}, [](const pg::Row& r) { return r.i64(0); }, "claim_seq_slot");
    if (!free) return free.error();
    if (!free->empty() && free->front() >= static_cast<std::int64_t>(slots)) break;
  }
  return make_error(Errc::kStoreError, "every message sequence slot is leased by a live node (at most " +
                                           std::to_string(slots) + " nodes at once)");
}

Result<bool> PostgresStore::renew_seq_slot(std::uint32_t slot, const std::string& holder, std::int64_t lease_ms,
                                           std::uint64_t last_seq) {
  auto rows = readers_.acquire().query(
      "UPDATE message_seq_slots SET lease_until_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3, "
      "high_seq = GREATEST(high_seq, $4) WHERE slot = $1 AND holder = $2 RETURNING 1;",
      pg::params(slot, holder, lease_ms, last_seq), [](const pg::Row&) { return 1; }, "renew_seq_slot");
  if (!rows) return rows.error();
  return !rows->empty();
}

Status PostgresStore::release_seq_slot(std::uint32_t slot, const std::string& holder, std::uint64_t last_seq) {
  auto rows = readers_.acquire().query(
      "UPDATE message_seq_slots SET lease_until_ms = 0, high_seq = GREATEST(high_seq, $3) "
      "WHERE slot = $1 AND holder = $2 RETURNING 1;",
      pg::params(slot, holder, last_seq), [](const pg::Row&) { return 1; }, "release_seq_slot");
  if (!rows) return rows.error();
  return ok_status();
}

// The partial index messages_pending (seq WHERE state = 0) serves the range; the window
// keeps one app's burst from filling the page.
Result<std::vector<PendingRef>> PostgresStore::pending_after(std::uint64_t after_seq, std::size_t limit,
                                                             std::size_t per_app) {
  return readers_.acquire().query(
      "SELECT seq, app_id, user_index FROM (SELECT seq, app_id, user_index, "
      "row_number() OVER (PARTITION BY app_id ORDER BY seq) AS rn FROM messages WHERE state = 0 AND seq > $1) p "
      "WHERE rn <= $2 ORDER BY seq LIMIT $3;",
      pg::params(after_seq, per_app, limit),
      [](const pg::Row& r) {
        return PendingRef{static_cast<std::uint64_t>(r.i64(0)), r.bytes(1), r.bytes(2)};
      },
      "pending_after");
}

Result<std::vector<std::uint64_t>> PostgresStore::still_pending(const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return std::vector<std::uint64_t>{};
  std::string list = "{";
  for (std::size_t i = 0; i < seqs.size(); ++i) list += (i ? "," : "") + std::to_string(seqs[i]);
  list += "}";
  return readers_.acquire().query(
      "SELECT seq FROM messages WHERE seq = ANY($1::bigint[]) AND state = 0;", pg::params(pg::TextParam{list}),
      [](const pg::Row& r) { return static_cast<std::uint64_t>(r.i64(0)); }, "still_pending");
}

}  // namespace herald::store
