// The SQLite store's message tables (store/message_records.h).
#include <sqlite3.h>

#include <string>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {

namespace {

constexpr const char* kMessageColumns =
    "seq, id, app_id, user_index, COALESCE(idem_index, ''), template, created_ms, expires_ms, state, step, due_ms, "
    "sealed";

MessageRecord read_message(sqlite3_stmt* s) {
  MessageRecord m;
  m.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
  m.id = column_text(s, 1);
  m.app_id = column_text(s, 2);
  m.user_index = column_text(s, 3);
  m.idem_index = column_text(s, 4);
  m.template_name = column_text(s, 5);
  m.created_ms = sqlite3_column_int64(s, 6);
  m.expires_ms = sqlite3_column_int64(s, 7);
  m.state = static_cast<MessageState>(sqlite3_column_int(s, 8));
  m.step = sqlite3_column_int(s, 9);
  m.due_ms = sqlite3_column_int64(s, 10);
  m.sealed = column_text(s, 11);
  return m;
}

WebhookJobRecord read_job(sqlite3_stmt* s) {
  WebhookJobRecord j;
  j.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
  j.app_id = column_text(s, 1);
  j.attempts = sqlite3_column_int(s, 2);
  j.due_ms = sqlite3_column_int64(s, 3);
  j.state = static_cast<WebhookJobState>(sqlite3_column_int(s, 4));
  j.last_error = column_text(s, 5);
  j.updated_ms = sqlite3_column_int64(s, 6);
  return j;
}

constexpr const char* kJobColumns = "seq, app_id, attempts, due_ms, state, last_error, updated_ms";

Status write_events(sqlite3* db, const std::vector<MessageEventRecord>& events) {
  if (events.empty()) return ok_status();
  WriterStatement s(db,
                    "INSERT INTO message_events(seq, at_ms, event, channel, detail, connections) "
                    "VALUES (?,?,?,?,?,?);");
  for (const auto& e : events)
    if (auto st = step_write(db, s.s, "message_events", e.seq, e.at_ms, e.event, e.channel, e.detail, e.connections);
        !st)
      return st;
  return ok_status();
}

Status write_job(sqlite3* db, const WebhookJobRecord& j) {
  return write_row(db,
                   "INSERT INTO message_webhooks(seq, app_id, attempts, due_ms, state, last_error, updated_ms) "
                   "VALUES (?,?,?,?,?,?,?) ON CONFLICT(seq) DO UPDATE SET attempts = excluded.attempts, "
                   "due_ms = excluded.due_ms, state = excluded.state, last_error = excluded.last_error, "
                   "updated_ms = excluded.updated_ms, lease_owner = '', lease_until = 0;",
                   "message_webhooks", j.seq, j.app_id, j.attempts, j.due_ms, j.state, j.last_error, j.updated_ms);
}

// The message and job queries differ only in their WHERE clause. Callers keep the
// result in a static, so that a reader's statement cache sees the same text each time.
std::string message_sql(const char* where) {
  return std::string("SELECT ") + kMessageColumns + " FROM messages " + where;
}

std::string job_sql(const char* where) {
  return std::string("SELECT ") + kJobColumns + " FROM message_webhooks " + where;
}

}  // namespace

void SqliteStore::insert_message(MessageRecord m, Completion done) {
  submit(
      [m = std::move(m)](sqlite3* db) -> Status {
        WriterStatement s(db,
                          "INSERT INTO messages(seq, id, app_id, user_index, idem_index, template, created_ms, "
                          "expires_ms, state, step, due_ms, sealed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?);");
        if (!s.s) return db_error(db, "insert_message");
        bind_all(s.s, m.seq, m.id, m.app_id, m.user_index, TextOrNull{m.idem_index}, m.template_name, m.created_ms,
                 m.expires_ms, m.state, m.step, m.due_ms, m.sealed);
        int rc = sqlite3_step(s.s);
        if (rc == SQLITE_CONSTRAINT) return make_error(Errc::kDuplicate, "a message with this idempotency key exists");
        if (rc != SQLITE_DONE) return db_error(db, "insert_message");
        return ok_status();
      },
      std::move(done));
}

// Under a lease (?6 the holder, ?7 the step it claimed at) the update applies only while
// the row still has both, and releases the lease. A change of state (an ack, an expiry)
// releases it too (see the PostgreSQL driver).
void SqliteStore::change_message(MessageChange c, std::shared_ptr<bool> applied, Completion done) {
  submit(
      [c = std::move(c), applied = std::move(applied)](sqlite3* db) -> Status {
        bool ok = true;
        if (c.state || c.step || c.due_ms || c.lease) {
          std::optional<std::string> owner;
          std::optional<int> at;
          if (c.lease) owner = c.lease->owner, at = c.lease->at;
          // An absent field is bound NULL and COALESCEd with its column: left as it is.
          auto st = write_row(db,
                              "UPDATE messages SET state = COALESCE(?1, state), step = COALESCE(?2, step), "
                              "due_ms = COALESCE(?3, due_ms), "
                              "lease_owner = CASE WHEN ?6 IS NULL AND ?1 IS NULL THEN lease_owner ELSE '' END, "
                              "lease_until = CASE WHEN ?6 IS NULL AND ?1 IS NULL THEN lease_until ELSE 0 END "
                              "WHERE seq = ?4 AND (state = 0 OR ?5 = 0) "
                              "AND (?6 IS NULL OR (lease_owner = ?6 AND step = ?7));",
                              "change_message", c.state, c.step, c.due_ms, c.seq, c.only_if_pending, owner, at);
          if (!st) return st;
          ok = sqlite3_changes(db) > 0;
        }
        if (applied) *applied = ok;
        if (!ok) return ok_status();
        if (auto st = write_events(db, c.events); !st) return st;
        if (c.job) return write_job(db, *c.job);
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::add_message_events(std::vector<MessageEventRecord> events, Completion done) {
  submit([events = std::move(events)](sqlite3* db) -> Status { return write_events(db, events); }, std::move(done));
}

void SqliteStore::put_webhook_job(WebhookJobRecord job, std::vector<MessageEventRecord> events, Completion done) {
  submit(
      [job = std::move(job), events = std::move(events)](sqlite3* db) -> Status {
        if (auto st = write_job(db, job); !st) return st;
        return write_events(db, events);
      },
      std::move(done));
}

void SqliteStore::settle_webhook_job(WebhookJobRecord job, LeaseHolder held, std::vector<MessageEventRecord> events,
                                     std::shared_ptr<bool> applied, Completion done) {
  submit(
      [job = std::move(job), held = std::move(held), events = std::move(events),
       applied = std::move(applied)](sqlite3* db) -> Status {
        auto st = write_row(db,
                            "UPDATE message_webhooks SET attempts = ?, due_ms = ?, state = ?, last_error = ?, "
                            "updated_ms = ?, lease_owner = '', lease_until = 0 "
                            "WHERE seq = ? AND state = 0 AND lease_owner = ? AND attempts = ?;",
                            "settle_webhook_job", job.attempts, job.due_ms, job.state, job.last_error, job.updated_ms,
                            job.seq, held.owner, held.at);
        if (!st) return st;
        bool ok = sqlite3_changes(db) > 0;
        if (applied) *applied = ok;
        return ok ? write_events(db, events) : ok_status();
      },
      std::move(done));
}

void SqliteStore::purge_messages(std::int64_t now_ms, std::size_t limit, Completion done) {
  submit(
      [now_ms, limit](sqlite3* db) -> Status {
        auto seqs = query_rows(
            db, "SELECT seq FROM messages WHERE due_ms < ? AND state <> 0 ORDER BY due_ms LIMIT ?;",
            [&](sqlite3_stmt* s) { bind_all(s, now_ms, limit); },
            [](sqlite3_stmt* s) { return sqlite3_column_int64(s, 0); }, "purge_messages");
        if (!seqs) return seqs.error();
        for (auto seq : *seqs) {
          for (const char* sql : {"DELETE FROM messages WHERE seq = ?;", "DELETE FROM message_events WHERE seq = ?;",
                                  "DELETE FROM message_webhooks WHERE seq = ?;"})
            if (auto st = write_row(db, sql, "purge_messages", seq); !st) return st;
        }
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::put_contacts(ContactRecord c, Completion done) {
  submit(
      [c = std::move(c)](sqlite3* db) -> Status {
        return write_row(db,
                         "INSERT INTO user_contacts(app_id, user_index, sealed, updated_ms) VALUES (?,?,?,?) "
                         "ON CONFLICT(app_id, user_index) DO UPDATE SET sealed = excluded.sealed, "
                         "updated_ms = excluded.updated_ms;",
                         "put_contacts", c.app_id, c.user_index, c.sealed, c.updated_ms);
      },
      std::move(done));
}

void SqliteStore::delete_contacts(std::string app_id, std::string user_index, Completion done) {
  submit(
      [app_id = std::move(app_id), user_index = std::move(user_index)](sqlite3* db) -> Status {
        return write_row(db, "DELETE FROM user_contacts WHERE app_id = ? AND user_index = ?;", "delete_contacts",
                         app_id, user_index);
      },
      std::move(done));
}

void SqliteStore::put_message_settings(MessageSettingsRecord r, Completion done) {
  submit(
      [r = std::move(r)](sqlite3* db) -> Status {
        return write_row(db,
                         "INSERT INTO message_settings(app_id, sealed) VALUES (?,?) "
                         "ON CONFLICT(app_id) DO UPDATE SET sealed = excluded.sealed;",
                         "put_message_settings", r.app_id, r.sealed);
      },
      std::move(done));
}

void SqliteStore::put_message_template(MessageTemplateRecord t, Completion done) {
  submit(
      [t = std::move(t)](sqlite3* db) -> Status {
        return write_row(db,
                         "INSERT INTO message_templates(app_id, name, body) VALUES (?,?,?) "
                         "ON CONFLICT(app_id, name) DO UPDATE SET body = excluded.body;",
                         "put_message_template", t.app_id, t.name, t.body);
      },
      std::move(done));
}

void SqliteStore::delete_message_template(std::string app_id, std::string name, Completion done) {
  submit(
      [app_id = std::move(app_id), name = std::move(name)](sqlite3* db) -> Status {
        return write_row(db, "DELETE FROM message_templates WHERE app_id = ? AND name = ?;", "delete_message_template",
                         app_id, name);
      },
      std::move(done));
}

Result<std::uint64_t> SqliteStore::max_message_seq() {
  auto r = readers_.acquire();
  auto rows = query_rows(
      r, "SELECT COALESCE(MAX(seq), 0) FROM messages;", no_params,
      [](sqlite3_stmt* s) { return static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)); }, "max_message_seq");
  if (!rows) return rows.error();
  if (rows->empty()) return db_error(r.db(), "max_message_seq");
  return rows->front();
}

Result<std::optional<MessageRecord>> SqliteStore::message(std::uint64_t seq) {
  static const std::string sql = message_sql("WHERE seq = ?;");
  auto r = readers_.acquire();
  return first_row(query_rows(
      r, sql, [&](sqlite3_stmt* s) { bind_all(s, seq); }, read_message, "message"));
}

Result<std::optional<MessageRecord>> SqliteStore::message_by_idempotency(const std::string& app_id,
                                                                         const std::string& idem_index) {
  static const std::string sql = message_sql("WHERE app_id = ? AND idem_index = ?;");
  auto r = readers_.acquire();
  return first_row(query_rows(
      r, sql, [&](sqlite3_stmt* s) { bind_all(s, app_id, idem_index); }, read_message, "message_by_idempotency"));
}

Result<std::vector<MessageRecord>> SqliteStore::messages_by_seq(const std::vector<std::uint64_t>& seqs) {
  static const std::string sql = message_sql("WHERE seq = ?;");
  auto r = readers_.acquire();  // one connection for the whole page
  std::vector<MessageRecord> out;
  out.reserve(seqs.size());
  for (auto seq : seqs) {
    auto one = query_rows(
        r, sql, [&](sqlite3_stmt* s) { bind_all(s, seq); }, read_message, "messages_by_seq");
    if (!one) return one.error();
    for (auto& m : *one) out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<PendingRef>> SqliteStore::pending_messages() {
  auto r = readers_.acquire();
  return query_rows(
      r, "SELECT seq, app_id, user_index FROM messages WHERE state = 0 ORDER BY seq;", no_params,
      [](sqlite3_stmt* s) {
        return PendingRef{static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)), column_text(s, 1), column_text(s, 2)};
      },
      "pending_messages");
}

Result<std::vector<MessageRecord>> SqliteStore::due_messages(std::int64_t now_ms, std::size_t limit) {
  static const std::string sql = message_sql("WHERE due_ms <= ? ORDER BY due_ms LIMIT ?;");
  auto r = readers_.acquire();
  return query_rows(
      r, sql, [&](sqlite3_stmt* s) { bind_all(s, now_ms, limit); }, read_message, "due_messages");
}

// One node per SQLite database, but the claim keeps the same meaning as PostgreSQL's: a
// select and the lease, in one write transaction of the single writer. A read first
// spares the writer a transaction on the passes (most of them) with nothing due. `pick`
// selects the record's columns, then the previous lease owner.
template <class T, class Read>
Result<Claimed<T>> SqliteStore::claim_due(const ClaimSql& sql, std::int64_t now_ms, std::size_t limit,
                                          const std::string& owner, std::int64_t lease_until_ms, Read read) {
  {
    auto r = readers_.acquire();
    auto any = query_rows(
        r, sql.probe, [&](sqlite3_stmt* s) { bind_all(s, now_ms); }, [](sqlite3_stmt*) { return 1; }, "claim_due");
    if (!any) return any.error();
    if (any->empty()) return Claimed<T>{};
  }
  auto out = std::make_shared<Claimed<T>>();
  auto st = wait_for([&](Completion done) {
    submit(
        [=](sqlite3* db) -> Status {
          *out = Claimed<T>{};
          auto rows = query_rows(
              db, sql.pick, [&](sqlite3_stmt* s) { bind_all(s, now_ms, limit); },
              [&](sqlite3_stmt* s) {
                return std::pair<T, bool>(read(s), !column_text(s, sqlite3_column_count(s) - 1).empty());
              },
              "claim_due");
          if (!rows) return rows.error();
          for (auto& [row, takeover] : *rows) {
            if (auto w = write_row(db, sql.lease, "claim_due", owner, lease_until_ms, row.seq); !w) return w;
            out->takeovers += takeover ? 1 : 0;
            out->rows.push_back(std::move(row));
          }
          return ok_status();
        },
        std::move(done));
  });
  if (!st) return st.error();
  return std::move(*out);
}

Result<Claimed<MessageRecord>> SqliteStore::claim_due_messages(std::int64_t now_ms, std::size_t limit,
                                                               const std::string& owner, std::int64_t lease_until_ms) {
  static constexpr ClaimSql sql{
      "SELECT 1 FROM messages WHERE due_ms <= ?1 AND lease_until <= ?1 LIMIT 1;",
      "SELECT seq, id, app_id, user_index, COALESCE(idem_index, ''), template, created_ms, expires_ms, state, step, "
      "due_ms, sealed, lease_owner FROM messages WHERE due_ms <= ?1 AND lease_until <= ?1 "
      "ORDER BY due_ms, seq LIMIT ?2;",
      "UPDATE messages SET lease_owner = ?, lease_until = ? WHERE seq = ?;"};
  return claim_due<MessageRecord>(sql, now_ms, limit, owner, lease_until_ms, read_message);
}

Result<Claimed<WebhookJobRecord>> SqliteStore::claim_due_webhook_jobs(std::int64_t now_ms, std::size_t limit,
                                                                      const std::string& owner,
                                                                      std::int64_t lease_until_ms) {
  static constexpr ClaimSql sql{
      "SELECT 1 FROM message_webhooks WHERE state = 0 AND due_ms <= ?1 AND lease_until <= ?1 LIMIT 1;",
      "SELECT seq, app_id, attempts, due_ms, state, last_error, updated_ms, lease_owner FROM message_webhooks "
      "WHERE state = 0 AND due_ms <= ?1 AND lease_until <= ?1 ORDER BY due_ms, seq LIMIT ?2;",
      "UPDATE message_webhooks SET lease_owner = ?, lease_until = ? WHERE seq = ?;"};
  return claim_due<WebhookJobRecord>(sql, now_ms, limit, owner, lease_until_ms, read_job);
}

Result<std::vector<MessageEventRecord>> SqliteStore::message_events(std::uint64_t seq, std::size_t limit) {
  auto r = readers_.acquire();
  return query_rows(
      r,
      "SELECT seq, at_ms, event, channel, detail, connections FROM message_events WHERE seq = ? "
      "ORDER BY rowid LIMIT ?;",
      [&](sqlite3_stmt* s) { bind_all(s, seq, limit); },
      [](sqlite3_stmt* s) {
        return MessageEventRecord{static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)),
                                  sqlite3_column_int64(s, 1),
                                  column_text(s, 2),
                                  column_text(s, 3),
                                  column_text(s, 4),
                                  sqlite3_column_int64(s, 5)};
      },
      "message_events");
}

Result<std::optional<WebhookJobRecord>> SqliteStore::webhook_job(std::uint64_t seq) {
  static const std::string sql = job_sql("WHERE seq = ?;");
  auto r = readers_.acquire();
  return first_row(query_rows(
      r, sql, [&](sqlite3_stmt* s) { bind_all(s, seq); }, read_job, "webhook_job"));
}

Result<std::vector<WebhookJobRecord>> SqliteStore::due_webhook_jobs(std::int64_t now_ms, std::size_t limit) {
  static const std::string sql = job_sql("WHERE state = 0 AND due_ms <= ? ORDER BY due_ms LIMIT ?;");
  auto r = readers_.acquire();
  return query_rows(
      r, sql, [&](sqlite3_stmt* s) { bind_all(s, now_ms, limit); }, read_job, "due_webhook_jobs");
}

Result<std::vector<WebhookJobRecord>> SqliteStore::dead_webhook_jobs(const std::string& app_id, std::size_t limit) {
  static const std::string sql = job_sql("WHERE state = 2 AND app_id = ? ORDER BY updated_ms DESC LIMIT ?;");
  auto r = readers_.acquire();
  return query_rows(
      r, sql, [&](sqlite3_stmt* s) { bind_all(s, app_id, limit); }, read_job, "dead_webhook_jobs");
}

Result<std::vector<CapCountRecord>> SqliteStore::message_cap_counts(std::int64_t since_ms) {
  auto r = readers_.acquire();
  return query_rows(
      r,
      "SELECT app_id, user_index, template, COUNT(*) FROM messages WHERE created_ms >= ? "
      "GROUP BY app_id, user_index, template;",
      [&](sqlite3_stmt* s) { bind_all(s, since_ms); },
      [](sqlite3_stmt* s) {
        return CapCountRecord{column_text(s, 0), column_text(s, 1), column_text(s, 2),
                              static_cast<std::uint64_t>(sqlite3_column_int64(s, 3))};
      },
      "message_cap_counts");
}

Result<std::optional<ContactRecord>> SqliteStore::contacts(const std::string& app_id, const std::string& user_index) {
  auto r = readers_.acquire();
  return first_row(query_rows(
      r, "SELECT app_id, user_index, sealed, updated_ms FROM user_contacts WHERE app_id = ? AND user_index = ?;",
      [&](sqlite3_stmt* s) { bind_all(s, app_id, user_index); },
      [](sqlite3_stmt* s) {
        return ContactRecord{column_text(s, 0), column_text(s, 1), column_text(s, 2), sqlite3_column_int64(s, 3)};
      },
      "contacts"));
}

Result<std::vector<MessageSettingsRecord>> SqliteStore::load_message_settings() {
  auto r = readers_.acquire();
  return query_rows(
      r, "SELECT app_id, sealed FROM message_settings;", no_params,
      [](sqlite3_stmt* s) {
        return MessageSettingsRecord{column_text(s, 0), column_text(s, 1)};
      },
      "load_message_settings");
}

Result<std::vector<MessageTemplateRecord>> SqliteStore::load_message_templates() {
  auto r = readers_.acquire();
  return query_rows(
      r, "SELECT app_id, name, body FROM message_templates;", no_params,
      [](sqlite3_stmt* s) {
        return MessageTemplateRecord{column_text(s, 0), column_text(s, 1), column_text(s, 2)};
      },
      "load_message_templates");
}

// One node owns a SQLite store: a plain counter numbers its messages, and no other node
// adds messages to scan for.
Result<std::optional<SeqSlot>> SqliteStore::claim_seq_slot(const std::string&, std::uint32_t, std::int64_t) {
  return std::optional<SeqSlot>();
}

Result<bool> SqliteStore::renew_seq_slot(std::uint32_t, const std::string&, std::int64_t, std::uint64_t) {
  return true;
}

Status SqliteStore::release_seq_slot(std::uint32_t, const std::string&, std::uint64_t) {
  return ok_status();
}

Result<std::vector<PendingRef>> SqliteStore::pending_after(std::uint64_t after_seq, std::size_t limit,
                                                           std::size_t per_app) {
  auto r = readers_.acquire();
  return query_rows(
      r,
      "SELECT seq, app_id, user_index FROM (SELECT seq, app_id, user_index, "
      "row_number() OVER (PARTITION BY app_id ORDER BY seq) AS rn FROM messages WHERE state = 0 AND seq > ?) "
      "WHERE rn <= ? ORDER BY seq LIMIT ?;",
      [&](sqlite3_stmt* s) { bind_all(s, after_seq, per_app, limit); },
      [](sqlite3_stmt* s) {
        return PendingRef{static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)), column_text(s, 1), column_text(s, 2)};
      },
      "pending_after");
}

Result<std::vector<std::uint64_t>> SqliteStore::still_pending(const std::vector<std::uint64_t>& seqs) {
  auto r = readers_.acquire();
  std::vector<std::uint64_t> out;
  for (auto seq : seqs) {
    auto one = query_rows(
        r, "SELECT seq FROM messages WHERE seq = ? AND state = 0;", [&](sqlite3_stmt* s) { bind_all(s, seq); },
        [](sqlite3_stmt* s) { return static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)); }, "still_pending");
    if (!one) return one.error();
    out.insert(out.end(), one->begin(), one->end());
  }
  return out;
}

}  // namespace herald::store
