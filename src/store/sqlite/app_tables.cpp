// The SQLite store's app table (store/app_records.h).
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {
namespace {

AppRecord read_app(sqlite3_stmt* s) {
  // Read as bytes: client_secret is a BLOB, and the other columns are read the same way
  // so that no value is converted.
  AppRecord r;
  r.id = column_blob(s, 0);
  r.key = column_blob(s, 1);
  r.name = column_blob(s, 2);
  r.status = column_blob(s, 3);
  r.created_ms = sqlite3_column_int64(s, 4);
  r.client_secret_sealed = column_blob(s, 5);
  r.client_public_keys_json = column_blob(s, 6);
  r.jwt_audience = column_blob(s, 7);
  r.jwt_issuer = column_blob(s, 8);
  r.require_exp = sqlite3_column_int(s, 9) != 0;
  r.app_secrets_json = column_blob(s, 10);
  r.scopes = column_blob(s, 11);
  r.namespaces = column_blob(s, 12);
  r.allowed_cidrs = column_blob(s, 13);
  r.rate_limit = static_cast<std::uint32_t>(sqlite3_column_int64(s, 14));
  r.record_mac = column_blob(s, 15);
  return r;
}

}  // namespace

Result<std::vector<AppRecord>> SqliteStore::load_apps() {
  auto r = readers_.acquire();
  return query_rows(
      r,
      "SELECT id, key, name, status, created_ms, client_secret, client_public_keys, jwt_audience, "
      "jwt_issuer, require_exp, app_secrets, scopes, namespaces, allowed_cidrs, rate_limit, record_mac FROM apps "
      "ORDER BY created_ms, id;",
      no_params, read_app, "load_apps");
}

namespace {

// put_app of a change made from `app.if_record_mac`: only while the row still has it.
Status replace_app_if_unchanged(sqlite3* db, const AppRecord& app) {
  WriterStatement s(db,
                    "UPDATE apps SET key=?, name=?, status=?, client_secret=?, client_public_keys=?, "
                    "jwt_audience=?, jwt_issuer=?, require_exp=?, app_secrets=?, scopes=?, namespaces=?, "
                    "allowed_cidrs=?, rate_limit=?, record_mac=? WHERE id=? AND record_mac=?;");
  if (!s.s) return db_error(db, "put_app");
  bind_all(s.s, app.key, app.name, app.status, Blob{app.client_secret_sealed}, app.client_public_keys_json,
           app.jwt_audience, app.jwt_issuer, app.require_exp, app.app_secrets_json, app.scopes, app.namespaces,
           app.allowed_cidrs, app.rate_limit, app.record_mac, app.id, app.if_record_mac);
  int rc = sqlite3_step(s.s);
  if (rc == SQLITE_CONSTRAINT) return make_error(Errc::kConflict, "another app has this key or name");
  if (rc != SQLITE_DONE) return db_error(db, "put_app");
  if (sqlite3_changes(db) > 0) return ok_status();
  auto exists = query_rows(
      db, "SELECT 1 FROM apps WHERE id = ?;", [&](sqlite3_stmt* st) { bind_all(st, app.id); },
      [](sqlite3_stmt*) { return 1; }, "put_app");
  if (!exists) return exists.error();
  if (exists->empty()) return make_error(Errc::kNotFound, "no such app");
  return make_error(Errc::kConflict, "the app was changed meanwhile; retry");
}

}  // namespace

void SqliteStore::put_app(AppRecord app, Completion done) {
  submit(
      [app = std::move(app)](sqlite3* db) -> Status {
        if (!app.if_record_mac.empty()) return replace_app_if_unchanged(db, app);
        WriterStatement s(db,
                          "INSERT INTO apps(id, key, name, status, created_ms, client_secret, client_public_keys, "
                          "jwt_audience, jwt_issuer, require_exp, app_secrets, scopes, namespaces, allowed_cidrs, "
                          "rate_limit, record_mac) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                          "ON CONFLICT(id) DO UPDATE SET key=excluded.key, name=excluded.name, "
                          "status=excluded.status, client_secret=excluded.client_secret, "
                          "client_public_keys=excluded.client_public_keys, jwt_audience=excluded.jwt_audience, "
                          "jwt_issuer=excluded.jwt_issuer, require_exp=excluded.require_exp, "
                          "app_secrets=excluded.app_secrets, scopes=excluded.scopes, "
                          "namespaces=excluded.namespaces, allowed_cidrs=excluded.allowed_cidrs, "
                          "rate_limit=excluded.rate_limit, record_mac=excluded.record_mac;");
        if (!s.s) return db_error(db, "put_app");
        bind_all(s.s, app.id, app.key, app.name, app.status, app.created_ms, Blob{app.client_secret_sealed},
                 app.client_public_keys_json, app.jwt_audience, app.jwt_issuer, app.require_exp, app.app_secrets_json,
                 app.scopes, app.namespaces, app.allowed_cidrs, app.rate_limit, app.record_mac);
        int rc = sqlite3_step(s.s);
        if (rc == SQLITE_CONSTRAINT) return make_error(Errc::kConflict, "another app has this key or name");
        if (rc != SQLITE_DONE) return db_error(db, "put_app");
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::delete_app(std::string id, Completion done) {
  submit(
      [id = std::move(id)](sqlite3* db) -> Status {
        if (auto st = write_row(db, "DELETE FROM apps WHERE id = ?;", "delete_app", id); !st) return st;
        if (sqlite3_changes(db) == 0) return make_error(Errc::kNotFound, "no such app");
        return ok_status();
      },
      std::move(done));
}

}  // namespace herald::store
