// The SQLite store's KMS tables (store/kms_records.h): keys and their wrapped versions.
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {
namespace {

KmsKeyRecord read_key(sqlite3_stmt* s) {
  KmsKeyRecord r;
  r.app_id = column_text(s, 0);
  r.name = column_text(s, 1);
  r.kind = column_text(s, 2);
  r.latest_version = static_cast<std::uint32_t>(sqlite3_column_int64(s, 3));
  r.min_decryption_version = static_cast<std::uint32_t>(sqlite3_column_int64(s, 4));
  r.exportable = sqlite3_column_int(s, 5) != 0;
  r.deletion_allowed = sqlite3_column_int(s, 6) != 0;
  r.created_ms = sqlite3_column_int64(s, 7);
  return r;
}

KmsVersionRecord read_version(sqlite3_stmt* s) {
  KmsVersionRecord r;
  r.app_id = column_blob(s, 0);
  r.name = column_blob(s, 1);
  r.version = static_cast<std::uint32_t>(sqlite3_column_int64(s, 2));
  r.wrapped = column_blob(s, 3);
  r.created_ms = sqlite3_column_int64(s, 4);
  return r;
}

}  // namespace

Result<std::vector<KmsKeyRecord>> SqliteStore::load_kms_keys() {
  auto r = readers_.acquire();
  return query_rows(r,
                    "SELECT app_id, name, kind, latest_version, min_decryption_version, exportable, "
                    "deletion_allowed, created_ms FROM kms_keys;",
                    no_params, read_key, "load_kms_keys");
}

Result<std::vector<KmsVersionRecord>> SqliteStore::load_kms_versions() {
  auto r = readers_.acquire();
  return query_rows(r, "SELECT app_id, name, version, wrapped, created_ms FROM kms_key_versions;", no_params,
                    read_version, "load_kms_versions");
}

void SqliteStore::put_kms_key(KmsKeyRecord key, std::optional<KmsVersionRecord> version, Completion done) {
  submit(
      [key = std::move(key), version = std::move(version)](sqlite3* db) -> Status {
        auto st = write_row(db,
                            "INSERT INTO kms_keys(app_id, name, kind, latest_version, min_decryption_version, "
                            "exportable, deletion_allowed, created_ms) VALUES (?,?,?,?,?,?,?,?) "
                            "ON CONFLICT(app_id, name) DO UPDATE SET latest_version=excluded.latest_version, "
                            "min_decryption_version=excluded.min_decryption_version, "
                            "exportable=excluded.exportable, deletion_allowed=excluded.deletion_allowed;",
                            "put_kms_key", key.app_id, key.name, key.kind, key.latest_version,
                            key.min_decryption_version, key.exportable, key.deletion_allowed, key.created_ms);
        if (!st || !version) return st;
        WriterStatement v(db,
                          "INSERT INTO kms_key_versions(app_id, name, version, wrapped, created_ms) "
                          "VALUES (?,?,?,?,?);");
        if (!v.s) return db_error(db, "put_kms_key");
        bind_all(v.s, version->app_id, version->name, version->version, Blob{version->wrapped}, version->created_ms);
        int rc = sqlite3_step(v.s);
        if (rc == SQLITE_CONSTRAINT) return make_error(Errc::kConflict, "this key version exists already");
        if (rc != SQLITE_DONE) return db_error(db, "put_kms_key");
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::delete_kms_key(std::string app_id, std::string name, Completion done) {
  submit(
      [app_id = std::move(app_id), name = std::move(name)](sqlite3* db) -> Status {
        // Versions first: they reference their key.
        if (auto st = write_row(db, "DELETE FROM kms_key_versions WHERE app_id = ? AND name = ?;", "delete_kms_key",
                                app_id, name);
            !st)
          return st;
        return write_row(db, "DELETE FROM kms_keys WHERE app_id = ? AND name = ?;", "delete_kms_key", app_id, name);
      },
      std::move(done));
}

}  // namespace herald::store
