// The SQLite store's message tables (store/message_records.h).
#include <sqlite3.h>

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
  if (!s.s) return db_error(db, "message_events");
  for (const auto& e : events) {
    sqlite3_reset(s.s);
    sqlite3_bind_int64(s.s, 1, static_cast<sqlite3_int64>(e.seq));
    sqlite3_bind_int64(s.s, 2, e.at_ms);
    bind_text(s.s, 3, e.event);
    bind_text(s.s, 4, e.channel);
    bind_text(s.s, 5, e.detail);
    sqlite3_bind_int64(s.s, 6, e.connections);
    if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "message_events");
  }
  return ok_status();
}

Status write_job(sqlite3* db, const WebhookJobRecord& j) {
  WriterStatement s(db,
                    "INSERT INTO message_webhooks(seq, app_id, attempts, due_ms, state, last_error, updated_ms) "
                    "VALUES (?,?,?,?,?,?,?) ON CONFLICT(seq) DO UPDATE SET attempts = excluded.attempts, "
                    "due_ms = excluded.due_ms, state = excluded.state, last_error = excluded.last_error, "
                    "updated_ms = excluded.updated_ms;");
  if (!s.s) return db_error(db, "message_webhooks");
  sqlite3_bind_int64(s.s, 1, static_cast<sqlite3_int64>(j.seq));
  bind_text(s.s, 2, j.app_id);
  sqlite3_bind_int(s.s, 3, j.attempts);
  sqlite3_bind_int64(s.s, 4, j.due_ms);
  sqlite3_bind_int(s.s, 5, static_cast<int>(j.state));
  bind_text(s.s, 6, j.last_error);
  sqlite3_bind_int64(s.s, 7, j.updated_ms);
  if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "message_webhooks");
  return ok_status();
}

}  // namespace

void SqliteStore::insert_message(MessageRecord m, Completion done) {
  submit(
      [m = std::move(m)](sqlite3* db) -> Status {
        WriterStatement s(db,
                          "INSERT INTO messages(seq, id, app_id, user_index, idem_index, template, created_ms, "
                          "expires_ms, state, step, due_ms, sealed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?);");
        if (!s.s) return db_error(db, "insert_message");
        sqlite3_bind_int64(s.s, 1, static_cast<sqlite3_int64>(m.seq));
        bind_text(s.s, 2, m.id);
        bind_text(s.s, 3, m.app_id);
        bind_text(s.s, 4, m.user_index);
        if (m.idem_index.empty())
          sqlite3_bind_null(s.s, 5);
        else
          bind_text(s.s, 5, m.idem_index);
        bind_text(s.s, 6, m.template_name);
        sqlite3_bind_int64(s.s, 7, m.created_ms);
        sqlite3_bind_int64(s.s, 8, m.expires_ms);
        sqlite3_bind_int(s.s, 9, static_cast<int>(m.state));
        sqlite3_bind_int(s.s, 10, m.step);
        sqlite3_bind_int64(s.s, 11, m.due_ms);
        bind_text(s.s, 12, m.sealed);
        int rc = sqlite3_step(s.s);
        if (rc == SQLITE_CONSTRAINT) return make_error("duplicate", "a message with this idempotency key exists");
        if (rc != SQLITE_DONE) return db_error(db, "insert_message");
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::change_message(MessageChange c, std::shared_ptr<bool> applied, Completion done) {
  submit(
      [c = std::move(c), applied = std::move(applied)](sqlite3* db) -> Status {
        bool ok = true;
        if (c.state || c.step || c.due_ms) {
          WriterStatement s(db,
                            "UPDATE messages SET state = COALESCE(?, state), step = COALESCE(?, step), "
                            "due_ms = COALESCE(?, due_ms) WHERE seq = ? AND (state = 0 OR ? = 0);");
          if (!s.s) return db_error(db, "change_message");
          if (c.state) sqlite3_bind_int(s.s, 1, static_cast<int>(*c.state));
          if (c.step) sqlite3_bind_int(s.s, 2, *c.step);
          if (c.due_ms) sqlite3_bind_int64(s.s, 3, *c.due_ms);
          sqlite3_bind_int64(s.s, 4, static_cast<sqlite3_int64>(c.seq));
          sqlite3_bind_int(s.s, 5, c.only_if_pending ? 1 : 0);
          if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "change_message");
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

void SqliteStore::purge_messages(std::int64_t now_ms, std::size_t limit, Completion done) {
  submit(
      [now_ms, limit](sqlite3* db) -> Status {
        Stmt pick;
        if (sqlite3_prepare_v2(db, "SELECT seq FROM messages WHERE due_ms < ? AND state <> 0 ORDER BY due_ms LIMIT ?;",
                               -1, &pick.s, nullptr) != SQLITE_OK)
          return db_error(db, "purge_messages");
        sqlite3_bind_int64(pick.s, 1, now_ms);
        sqlite3_bind_int64(pick.s, 2, static_cast<sqlite3_int64>(limit));
        std::vector<sqlite3_int64> seqs;
        int rc;
        while ((rc = sqlite3_step(pick.s)) == SQLITE_ROW) seqs.push_back(sqlite3_column_int64(pick.s, 0));
        if (rc != SQLITE_DONE) return db_error(db, "purge_messages");
        for (const char* sql : {"DELETE FROM messages WHERE seq = ?;", "DELETE FROM message_events WHERE seq = ?;",
                                "DELETE FROM message_webhooks WHERE seq = ?;"}) {
          Stmt del;
          if (sqlite3_prepare_v2(db, sql, -1, &del.s, nullptr) != SQLITE_OK) return db_error(db, "purge_messages");
          for (auto seq : seqs) {
            sqlite3_reset(del.s);
            sqlite3_bind_int64(del.s, 1, seq);
            if (sqlite3_step(del.s) != SQLITE_DONE) return db_error(db, "purge_messages");
          }
        }
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::put_contacts(ContactRecord c, Completion done) {
  submit(
      [c = std::move(c)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO user_contacts(app_id, user_index, sealed, updated_ms) VALUES (?,?,?,?) "
                               "ON CONFLICT(app_id, user_index) DO UPDATE SET sealed = excluded.sealed, "
                               "updated_ms = excluded.updated_ms;",
                               -1, &s.s, nullptr) != SQLITE_OK)
          return db_error(db, "put_contacts");
        bind_text(s.s, 1, c.app_id);
        bind_text(s.s, 2, c.user_index);
        bind_text(s.s, 3, c.sealed);
        sqlite3_bind_int64(s.s, 4, c.updated_ms);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "put_contacts");
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::delete_contacts(std::string app_id, std::string user_index, Completion done) {
  submit(
      [app_id = std::move(app_id), user_index = std::move(user_index)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db, "DELETE FROM user_contacts WHERE app_id = ? AND user_index = ?;", -1, &s.s,
                               nullptr) != SQLITE_OK)
          return db_error(db, "delete_contacts");
        bind_text(s.s, 1, app_id);
        bind_text(s.s, 2, user_index);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "delete_contacts");
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::put_message_settings(MessageSettingsRecord r, Completion done) {
  submit(
      [r = std::move(r)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO message_settings(app_id, sealed) VALUES (?,?) "
                               "ON CONFLICT(app_id) DO UPDATE SET sealed = excluded.sealed;",
                               -1, &s.s, nullptr) != SQLITE_OK)
          return db_error(db, "put_message_settings");
        bind_text(s.s, 1, r.app_id);
        bind_text(s.s, 2, r.sealed);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "put_message_settings");
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::put_message_template(MessageTemplateRecord t, Completion done) {
  submit(
      [t = std::move(t)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO message_templates(app_id, name, body) VALUES (?,?,?) "
                               "ON CONFLICT(app_id, name) DO UPDATE SET body = excluded.body;",
                               -1, &s.s, nullptr) != SQLITE_OK)
          return db_error(db, "put_message_template");
        bind_text(s.s, 1, t.app_id);
        bind_text(s.s, 2, t.name);
        bind_text(s.s, 3, t.body);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "put_message_template");
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::delete_message_template(std::string app_id, std::string name, Completion done) {
  submit(
      [app_id = std::move(app_id), name = std::move(name)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db, "DELETE FROM message_templates WHERE app_id = ? AND name = ?;", -1, &s.s, nullptr) !=
            SQLITE_OK)
          return db_error(db, "delete_message_template");
        bind_text(s.s, 1, app_id);
        bind_text(s.s, 2, name);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "delete_message_template");
        return ok_status();
      },
      std::move(done));
}

Result<std::uint64_t> SqliteStore::max_message_seq() {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_, "SELECT COALESCE(MAX(seq), 0) FROM messages;", -1, &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "max_message_seq");
  if (sqlite3_step(q.s) != SQLITE_ROW) return db_error(reader_db_, "max_message_seq");
  return static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 0));
}

namespace {
// Runs a query and reads each row with `read` (read_message, read_job).
template <class Bind, class Read>
auto query_rows(sqlite3* db, const std::string& sql, Bind bind, Read read, const char* what)
    -> Result<std::vector<decltype(read(nullptr))>> {
  Stmt q;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &q.s, nullptr) != SQLITE_OK) return db_error(db, what);
  bind(q.s);
  std::vector<decltype(read(nullptr))> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) out.push_back(read(q.s));
  if (rc != SQLITE_DONE) return db_error(db, what);
  return out;
}
}  // namespace

Result<std::optional<MessageRecord>> SqliteStore::message(std::uint64_t seq) {
  std::lock_guard lock(reader_mu_);
  auto r = query_rows(
      reader_db_, std::string("SELECT ") + kMessageColumns + " FROM messages WHERE seq = ?;",
      [&](sqlite3_stmt* s) { sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(seq)); }, read_message, "message");
  if (!r) return r.error();
  if (r->empty()) return std::optional<MessageRecord>();
  return std::optional<MessageRecord>(std::move(r->front()));
}

Result<std::optional<MessageRecord>> SqliteStore::message_by_idempotency(const std::string& app_id,
                                                                         const std::string& idem_index) {
  std::lock_guard lock(reader_mu_);
  auto r = query_rows(
      reader_db_, std::string("SELECT ") + kMessageColumns + " FROM messages WHERE app_id = ? AND idem_index = ?;",
      [&](sqlite3_stmt* s) {
        bind_text(s, 1, app_id);
        bind_text(s, 2, idem_index);
      }, read_message,
      "message_by_idempotency");
  if (!r) return r.error();
  if (r->empty()) return std::optional<MessageRecord>();
  return std::optional<MessageRecord>(std::move(r->front()));
}

Result<std::vector<MessageRecord>> SqliteStore::messages_by_seq(const std::vector<std::uint64_t>& seqs) {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  std::string sql = std::string("SELECT ") + kMessageColumns + " FROM messages WHERE seq = ?;";
  if (sqlite3_prepare_v2(reader_db_, sql.c_str(), -1, &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "messages_by_seq");
  std::vector<MessageRecord> out;
  out.reserve(seqs.size());
  for (auto seq : seqs) {
    sqlite3_reset(q.s);
    sqlite3_bind_int64(q.s, 1, static_cast<sqlite3_int64>(seq));
    int rc = sqlite3_step(q.s);
    if (rc == SQLITE_ROW)
      out.push_back(read_message(q.s));
    else if (rc != SQLITE_DONE)
      return db_error(reader_db_, "messages_by_seq");
  }
  return out;
}

Result<std::vector<PendingRef>> SqliteStore::pending_messages() {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_, "SELECT seq, app_id, user_index FROM messages WHERE state = 0 ORDER BY seq;", -1,
                         &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "pending_messages");
  std::vector<PendingRef> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(
        PendingRef{static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 0)), column_text(q.s, 1), column_text(q.s, 2)});
  if (rc != SQLITE_DONE) return db_error(reader_db_, "pending_messages");
  return out;
}

Result<std::vector<MessageRecord>> SqliteStore::due_messages(std::int64_t now_ms, std::size_t limit) {
  std::lock_guard lock(reader_mu_);
  return query_rows(
      reader_db_,
      std::string("SELECT ") + kMessageColumns + " FROM messages WHERE due_ms <= ? ORDER BY due_ms LIMIT ?;",
      [&](sqlite3_stmt* s) {
        sqlite3_bind_int64(s, 1, now_ms);
        sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(limit));
      }, read_message,
      "due_messages");
}

Result<std::vector<MessageEventRecord>> SqliteStore::message_events(std::uint64_t seq, std::size_t limit) {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_,
                         "SELECT seq, at_ms, event, channel, detail, connections FROM message_events WHERE seq = ? "
                         "ORDER BY rowid LIMIT ?;",
                         -1, &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "message_events");
  sqlite3_bind_int64(q.s, 1, static_cast<sqlite3_int64>(seq));
  sqlite3_bind_int64(q.s, 2, static_cast<sqlite3_int64>(limit));
  std::vector<MessageEventRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(MessageEventRecord{static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 0)),
                                     sqlite3_column_int64(q.s, 1), column_text(q.s, 2), column_text(q.s, 3),
                                     column_text(q.s, 4), sqlite3_column_int64(q.s, 5)});
  if (rc != SQLITE_DONE) return db_error(reader_db_, "message_events");
  return out;
}

Result<std::optional<WebhookJobRecord>> SqliteStore::webhook_job(std::uint64_t seq) {
  std::lock_guard lock(reader_mu_);
  auto r = query_rows(
      reader_db_, std::string("SELECT ") + kJobColumns + " FROM message_webhooks WHERE seq = ?;",
      [&](sqlite3_stmt* s) { sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(seq)); }, read_job, "webhook_job");
  if (!r) return r.error();
  if (r->empty()) return std::optional<WebhookJobRecord>();
  return std::optional<WebhookJobRecord>(std::move(r->front()));
}

Result<std::vector<WebhookJobRecord>> SqliteStore::due_webhook_jobs(std::int64_t now_ms, std::size_t limit) {
  std::lock_guard lock(reader_mu_);
  return query_rows(
      reader_db_,
      std::string("SELECT ") + kJobColumns +
          " FROM message_webhooks WHERE state = 0 AND due_ms <= ? ORDER BY due_ms LIMIT ?;",
      [&](sqlite3_stmt* s) {
        sqlite3_bind_int64(s, 1, now_ms);
        sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(limit));
      }, read_job,
      "due_webhook_jobs");
}

Result<std::vector<WebhookJobRecord>> SqliteStore::dead_webhook_jobs(const std::string& app_id, std::size_t limit) {
  std::lock_guard lock(reader_mu_);
  return query_rows(
      reader_db_,
      std::string("SELECT ") + kJobColumns +
          " FROM message_webhooks WHERE state = 2 AND app_id = ? ORDER BY updated_ms DESC LIMIT ?;",
      [&](sqlite3_stmt* s) {
        bind_text(s, 1, app_id);
        sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(limit));
      }, read_job,
      "dead_webhook_jobs");
}

Result<std::vector<CapCountRecord>> SqliteStore::message_cap_counts(std::int64_t since_ms) {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_,
                         "SELECT app_id, user_index, template, COUNT(*) FROM messages WHERE created_ms >= ? "
                         "GROUP BY app_id, user_index, template;",
                         -1, &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "message_cap_counts");
  sqlite3_bind_int64(q.s, 1, since_ms);
  std::vector<CapCountRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(CapCountRecord{column_text(q.s, 0), column_text(q.s, 1), column_text(q.s, 2),
                                 static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 3))});
  if (rc != SQLITE_DONE) return db_error(reader_db_, "message_cap_counts");
  return out;
}

Result<std::optional<ContactRecord>> SqliteStore::contacts(const std::string& app_id, const std::string& user_index) {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_,
                         "SELECT app_id, user_index, sealed, updated_ms FROM user_contacts "
                         "WHERE app_id = ? AND user_index = ?;",
                         -1, &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "contacts");
  bind_text(q.s, 1, app_id);
  bind_text(q.s, 2, user_index);
  int rc = sqlite3_step(q.s);
  if (rc == SQLITE_DONE) return std::optional<ContactRecord>();
  if (rc != SQLITE_ROW) return db_error(reader_db_, "contacts");
  return std::optional<ContactRecord>(
      ContactRecord{column_text(q.s, 0), column_text(q.s, 1), column_text(q.s, 2), sqlite3_column_int64(q.s, 3)});
}

Result<std::vector<MessageSettingsRecord>> SqliteStore::load_message_settings() {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_, "SELECT app_id, sealed FROM message_settings;", -1, &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "load_message_settings");
  std::vector<MessageSettingsRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(MessageSettingsRecord{column_text(q.s, 0), column_text(q.s, 1)});
  if (rc != SQLITE_DONE) return db_error(reader_db_, "load_message_settings");
  return out;
}

Result<std::vector<MessageTemplateRecord>> SqliteStore::load_message_templates() {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_, "SELECT app_id, name, body FROM message_templates;", -1, &q.s, nullptr) !=
      SQLITE_OK)
    return db_error(reader_db_, "load_message_templates");
  std::vector<MessageTemplateRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(MessageTemplateRecord{column_text(q.s, 0), column_text(q.s, 1), column_text(q.s, 2)});
  if (rc != SQLITE_DONE) return db_error(reader_db_, "load_message_templates");
  return out;
}

}  // namespace herald::store
