// The SQLite store's verification-code tables (store/otp_records.h).
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {

Result<std::vector<OtpVerificationRecord>> SqliteStore::load_otp_verifications(std::int64_t now_ms) {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_, "SELECT id, app_id, sealed, purge_ms FROM otp_verifications WHERE purge_ms >= ?;",
                         -1, &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "load_otp_verifications");
  sqlite3_bind_int64(q.s, 1, now_ms);
  std::vector<OtpVerificationRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(OtpVerificationRecord{column_text(q.s, 0), column_text(q.s, 1), column_text(q.s, 2),
                                        sqlite3_column_int64(q.s, 3)});
  if (rc != SQLITE_DONE) return db_error(reader_db_, "load_otp_verifications");
  return out;
}

Result<std::vector<OtpCounterRecord>> SqliteStore::load_otp_counters(std::int64_t now_ms) {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_,
                         "SELECT key, window_start_ms, count, expires_ms FROM otp_counters WHERE expires_ms > ?;", -1,
                         &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "load_otp_counters");
  sqlite3_bind_int64(q.s, 1, now_ms);
  std::vector<OtpCounterRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(OtpCounterRecord{column_text(q.s, 0), sqlite3_column_int64(q.s, 1),
                                   static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 2)),
                                   sqlite3_column_int64(q.s, 3)});
  if (rc != SQLITE_DONE) return db_error(reader_db_, "load_otp_counters");
  return out;
}

Result<std::vector<OtpBlockRecord>> SqliteStore::load_otp_blocklist() {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_, "SELECT app_id, recipient_index, sealed, created_ms FROM otp_blocklist;", -1, &q.s,
                         nullptr) != SQLITE_OK)
    return db_error(reader_db_, "load_otp_blocklist");
  std::vector<OtpBlockRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(
        OtpBlockRecord{column_text(q.s, 0), column_text(q.s, 1), column_text(q.s, 2), sqlite3_column_int64(q.s, 3)});
  if (rc != SQLITE_DONE) return db_error(reader_db_, "load_otp_blocklist");
  return out;
}

void SqliteStore::put_otp_verification(OtpVerificationRecord v, std::vector<OtpCounterRecord> counters,
                                       Completion done) {
  submit(
      [v = std::move(v), counters = std::move(counters)](sqlite3* db) -> Status {
        WriterStatement s(db,
                          "INSERT INTO otp_verifications(id, app_id, sealed, purge_ms) VALUES (?,?,?,?) "
                          "ON CONFLICT(id) DO UPDATE SET sealed = excluded.sealed, purge_ms = excluded.purge_ms;");
        if (!s.s) return db_error(db, "put_otp_verification");
        bind_text(s.s, 1, v.id);
        bind_text(s.s, 2, v.app_id);
        bind_text(s.s, 3, v.sealed);
        sqlite3_bind_int64(s.s, 4, v.purge_ms);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "put_otp_verification");
        if (counters.empty()) return ok_status();
        WriterStatement c(db,
                          "INSERT INTO otp_counters(key, window_start_ms, count, expires_ms) VALUES (?,?,?,?) "
                          "ON CONFLICT(key) DO UPDATE SET window_start_ms = excluded.window_start_ms, "
                          "count = excluded.count, expires_ms = excluded.expires_ms;");
        if (!c.s) return db_error(db, "put_otp_counters");
        for (const auto& k : counters) {
          sqlite3_reset(c.s);
          bind_text(c.s, 1, k.key);
          sqlite3_bind_int64(c.s, 2, k.window_start_ms);
          sqlite3_bind_int64(c.s, 3, static_cast<sqlite3_int64>(k.count));
          sqlite3_bind_int64(c.s, 4, k.expires_ms);
          if (sqlite3_step(c.s) != SQLITE_DONE) return db_error(db, "put_otp_counters");
        }
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::purge_otp(std::int64_t now_ms, Completion done) {
  submit(
      [now_ms](sqlite3* db) -> Status {
        for (const char* sql :
             {"DELETE FROM otp_verifications WHERE purge_ms < ?;", "DELETE FROM otp_counters WHERE expires_ms <= ?;"}) {
          Stmt s;
          if (sqlite3_prepare_v2(db, sql, -1, &s.s, nullptr) != SQLITE_OK) return db_error(db, "purge_otp");
          sqlite3_bind_int64(s.s, 1, now_ms);
          if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "purge_otp");
        }
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::put_otp_block(OtpBlockRecord b, Completion done) {
  submit(
      [b = std::move(b)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO otp_blocklist(app_id, recipient_index, sealed, created_ms) "
                               "VALUES (?,?,?,?) ON CONFLICT(app_id, recipient_index) DO UPDATE SET "
                               "sealed = excluded.sealed, created_ms = excluded.created_ms;",
                               -1, &s.s, nullptr) != SQLITE_OK)
          return db_error(db, "put_otp_block");
        bind_text(s.s, 1, b.app_id);
        bind_text(s.s, 2, b.recipient_index);
        bind_text(s.s, 3, b.sealed);
        sqlite3_bind_int64(s.s, 4, b.created_ms);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "put_otp_block");
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::delete_otp_block(std::string app_id, std::string recipient_index, Completion done) {
  submit(
      [app_id = std::move(app_id), recipient_index = std::move(recipient_index)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db, "DELETE FROM otp_blocklist WHERE app_id = ? AND recipient_index = ?;", -1, &s.s,
                               nullptr) != SQLITE_OK)
          return db_error(db, "delete_otp_block");
        bind_text(s.s, 1, app_id);
        bind_text(s.s, 2, recipient_index);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "delete_otp_block");
        return ok_status();
      },
      std::move(done));
}

}  // namespace herald::store
