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
  r.delete_after_ms = sqlite3_column_int64(s, 8);
  return r;
}

// Inserts one version row; "conflict" if it exists.
Status insert_version(sqlite3* db, const KmsVersionRecord& v, const char* what) {
  WriterStatement st(db,
                     "INSERT INTO kms_key_versions(app_id, name, version, wrapped, created_ms) "
                     "VALUES (?,?,?,?,?);");
  if (!st.s) return db_error(db, what);
  bind_all(st.s, v.app_id, v.name, v.version, Blob{v.wrapped}, v.created_ms);
  int rc = sqlite3_step(st.s);
  if (rc == SQLITE_CONSTRAINT) return make_error(Errc::kConflict, "this key version exists already");
  if (rc != SQLITE_DONE) return db_error(db, what);
  return ok_status();
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
                    "deletion_allowed, created_ms, delete_after_ms FROM kms_keys;",
                    no_params, read_key, "load_kms_keys");
}

Result<std::vector<KmsVersionRecord>> SqliteStore::load_kms_versions() {
  auto r = readers_.acquire();
  return query_rows(r, "SELECT app_id, name, version, wrapped, created_ms FROM kms_key_versions;", no_params,
                    read_version, "load_kms_versions");
}

void SqliteStore::insert_kms_key(KmsKeyRecord key, KmsVersionRecord first, Completion done) {
  submit(
      [key = std::move(key), first = std::move(first)](sqlite3* db) -> Status {
        WriterStatement st(db,
                           "INSERT INTO kms_keys(app_id, name, kind, latest_version, min_decryption_version, "
                           "exportable, deletion_allowed, created_ms, delete_after_ms) VALUES (?,?,?,?,?,?,?,?,?);");
        if (!st.s) return db_error(db, "insert_kms_key");
        bind_all(st.s, key.app_id, key.name, key.kind, key.latest_version, key.min_decryption_version, key.exportable,
                 key.deletion_allowed, key.created_ms, key.delete_after_ms);
        int rc = sqlite3_step(st.s);
        if (rc == SQLITE_CONSTRAINT) return make_error(Errc::kConflict, "a key of this name exists");
        if (rc != SQLITE_DONE) return db_error(db, "insert_kms_key");
        return insert_version(db, first, "insert_kms_key");
      },
      std::move(done));
}

void SqliteStore::add_kms_version(KmsVersionRecord version, Completion done) {
  submit(
      [v = std::move(version)](sqlite3* db) -> Status {
        // Conditional on the version before: a writer working from a stale read cannot
        // move latest_version backwards or skip one.
        if (auto st = write_row(db,
                                "UPDATE kms_keys SET latest_version = ? "
                                "WHERE app_id = ? AND name = ? AND latest_version = ?;",
                                "add_kms_version", v.version, v.app_id, v.name, v.version - 1);
            !st)
          return st;
        if (sqlite3_changes(db) == 0) {
          WriterStatement q(db, "SELECT 1 FROM kms_keys WHERE app_id = ? AND name = ?;");
          if (!q.s) return db_error(db, "add_kms_version");
          bind_all(q.s, v.app_id, v.name);
          if (sqlite3_step(q.s) != SQLITE_ROW) return make_error(Errc::kNotFound, "no such key");
          return make_error(Errc::kConflict, "the key's latest version is not the one before this version");
        }
        return insert_version(db, v, "add_kms_version");
      },
      std::move(done));
}

void SqliteStore::update_kms_key(KmsKeyChange c, Completion done) {
  submit(
      [c = std::move(c)](sqlite3* db) -> Status {
        // A NULL parameter keeps the column: only the fields named change. With
        // `expected`, only while the key still has the settings the change was decided on.
        const auto& e = c.expected;
        if (auto st = write_row(db,
                                "UPDATE kms_keys SET "
                                "min_decryption_version = COALESCE(?, min_decryption_version), "
                                "exportable = COALESCE(?, exportable), "
                                "deletion_allowed = COALESCE(?, deletion_allowed), "
                                "delete_after_ms = COALESCE(?, delete_after_ms) "
                                "WHERE app_id = ? AND name = ? AND (? = 0 OR (min_decryption_version = ? "
                                "AND exportable = ? AND deletion_allowed = ? AND delete_after_ms = ?));",
                                "update_kms_key", c.min_decryption_version, c.exportable, c.deletion_allowed,
                                c.delete_after_ms, c.app_id, c.name, e.has_value(),
                                e ? std::optional<std::uint32_t>(e->min_decryption_version) : std::nullopt,
                                e ? std::optional<bool>(e->exportable) : std::nullopt,
                                e ? std::optional<bool>(e->deletion_allowed) : std::nullopt,
                                e ? std::optional<std::int64_t>(e->delete_after_ms) : std::nullopt);
            !st)
          return st;
        if (sqlite3_changes(db) > 0) return ok_status();
        auto exists = query_rows(
            db, "SELECT 1 FROM kms_keys WHERE app_id = ? AND name = ?;",
            [&](sqlite3_stmt* s) { bind_all(s, c.app_id, c.name); }, [](sqlite3_stmt*) { return 1; }, "update_kms_key");
        if (!exists) return exists.error();
        if (exists->empty()) return make_error(Errc::kNotFound, "no such key");
        return make_error(Errc::kConflict, "the key was changed meanwhile; retry");
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
