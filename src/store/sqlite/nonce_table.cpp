// The SQLite store's replay-nonce table (store/nonce_records.h).
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {

Result<std::vector<NonceRecord>> SqliteStore::load_nonces(std::int64_t now_ms) {
  auto r = readers_.acquire();
  return query_rows(
      r, "SELECT app_id, nonce, expires_ms FROM api_nonces WHERE expires_ms > ?;",
      [&](sqlite3_stmt* s) { bind_all(s, now_ms); },
      [](sqlite3_stmt* s) {
        return NonceRecord{column_text(s, 0), column_text(s, 1), sqlite3_column_int64(s, 2)};
      },
      "load_nonces");
}

void SqliteStore::put_nonces(std::vector<NonceRecord> nonces, Completion done) {
  submit(
      [nonces = std::move(nonces)](sqlite3* db) -> Status {
        WriterStatement st(db,
                           "INSERT INTO api_nonces(app_id, nonce, expires_ms) VALUES (?,?,?) "
                           "ON CONFLICT(app_id, nonce) DO UPDATE SET "
                           "expires_ms = max(expires_ms, excluded.expires_ms);");
        for (const auto& n : nonces)
          if (auto s = step_write(db, st.s, "put_nonces", n.app_id, n.nonce, n.expires_ms); !s) return s;
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::purge_nonces(std::int64_t now_ms, Completion done) {
  submit(
      [now_ms](sqlite3* db) -> Status {
        return write_row(db, "DELETE FROM api_nonces WHERE expires_ms <= ?;", "purge_nonces", now_ms);
      },
      std::move(done));
}

}  // namespace herald::store
