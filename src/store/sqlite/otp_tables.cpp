// The SQLite store's verification-code tables (store/otp_records.h).
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {

Result<std::vector<OtpVerificationRecord>> SqliteStore::load_otp_verifications(std::int64_t now_ms) {
  auto r = readers_.acquire();
  return query_rows(
      r, "SELECT id, app_id, sealed, purge_ms FROM otp_verifications WHERE purge_ms >= ?;",
      [&](sqlite3_stmt* s) { bind_all(s, now_ms); },
      [](sqlite3_stmt* s) {
        return OtpVerificationRecord{column_text(s, 0), column_text(s, 1), column_text(s, 2),
                                     sqlite3_column_int64(s, 3)};
      },
      "load_otp_verifications");
}

Result<std::vector<OtpCounterRecord>> SqliteStore::load_otp_counters(std::int64_t now_ms) {
  auto r = readers_.acquire();
  return query_rows(
      r, "SELECT key, window_start_ms, count, expires_ms FROM otp_counters WHERE expires_ms > ?;",
      [&](sqlite3_stmt* s) { bind_all(s, now_ms); },
      [](sqlite3_stmt* s) {
        return OtpCounterRecord{column_text(s, 0), sqlite3_column_int64(s, 1),
                                static_cast<std::uint64_t>(sqlite3_column_int64(s, 2)), sqlite3_column_int64(s, 3)};
      },
      "load_otp_counters");
}

Result<std::vector<OtpBlockRecord>> SqliteStore::load_otp_blocklist() {
  auto r = readers_.acquire();
  return query_rows(
      r, "SELECT app_id, recipient_index, sealed, created_ms FROM otp_blocklist;", no_params,
      [](sqlite3_stmt* s) {
        return OtpBlockRecord{column_text(s, 0), column_text(s, 1), column_text(s, 2), sqlite3_column_int64(s, 3)};
      },
      "load_otp_blocklist");
}

void SqliteStore::put_otp_verification(OtpVerificationRecord v, std::vector<OtpCounterRecord> counters,
                                       Completion done) {
  submit(
      [v = std::move(v), counters = std::move(counters)](sqlite3* db) -> Status {
        auto st = write_row(db,
                            "INSERT INTO otp_verifications(id, app_id, sealed, purge_ms) VALUES (?,?,?,?) "
                            "ON CONFLICT(id) DO UPDATE SET sealed = excluded.sealed, purge_ms = excluded.purge_ms;",
                            "put_otp_verification", v.id, v.app_id, v.sealed, v.purge_ms);
        if (!st || counters.empty()) return st;
        WriterStatement c(db,
                          "INSERT INTO otp_counters(key, window_start_ms, count, expires_ms) VALUES (?,?,?,?) "
                          "ON CONFLICT(key) DO UPDATE SET window_start_ms = excluded.window_start_ms, "
                          "count = excluded.count, expires_ms = excluded.expires_ms;");
        for (const auto& k : counters)
          if (auto st = step_write(db, c.s, "put_otp_counters", k.key, k.window_start_ms, k.count, k.expires_ms); !st)
            return st;
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::purge_otp(std::int64_t now_ms, Completion done) {
  submit(
      [now_ms](sqlite3* db) -> Status {
        if (auto st = write_row(db, "DELETE FROM otp_verifications WHERE purge_ms < ?;", "purge_otp", now_ms); !st)
          return st;
        return write_row(db, "DELETE FROM otp_counters WHERE expires_ms <= ?;", "purge_otp", now_ms);
      },
      std::move(done));
}

void SqliteStore::put_otp_block(OtpBlockRecord b, Completion done) {
  submit(
      [b = std::move(b)](sqlite3* db) -> Status {
        return write_row(db,
                         "INSERT INTO otp_blocklist(app_id, recipient_index, sealed, created_ms) "
                         "VALUES (?,?,?,?) ON CONFLICT(app_id, recipient_index) DO UPDATE SET "
                         "sealed = excluded.sealed, created_ms = excluded.created_ms;",
                         "put_otp_block", b.app_id, b.recipient_index, b.sealed, b.created_ms);
      },
      std::move(done));
}

void SqliteStore::delete_otp_block(std::string app_id, std::string recipient_index, Completion done) {
  submit(
      [app_id = std::move(app_id), recipient_index = std::move(recipient_index)](sqlite3* db) -> Status {
        return write_row(db, "DELETE FROM otp_blocklist WHERE app_id = ? AND recipient_index = ?;", "delete_otp_block",
                         app_id, recipient_index);
      },
      std::move(done));
}

}  // namespace herald::store
