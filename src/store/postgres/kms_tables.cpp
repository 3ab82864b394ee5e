// The PostgreSQL store's KMS tables (store/kms_records.h): keys and their wrapped versions.
#include "store/postgres/postgres_store.h"

namespace herald::store {
namespace {

constexpr const char* kInsertVersion =
    "INSERT INTO kms_key_versions(app_id, name, version, wrapped, created_ms) VALUES ($1, $2, $3, $4, $5);";

KmsKeyRecord read_key(const pg::Row& r) {
  KmsKeyRecord k;
  k.app_id = r.bytes(0);
  k.name = r.bytes(1);
  k.kind = r.bytes(2);
  k.latest_version = static_cast<std::uint32_t>(r.i64(3));
  k.min_decryption_version = static_cast<std::uint32_t>(r.i64(4));
  k.exportable = r.boolean(5);
  k.deletion_allowed = r.boolean(6);
  k.created_ms = r.i64(7);
  k.delete_after_ms = r.i64(8);
  return k;
}

}  // namespace

Result<std::vector<KmsKeyRecord>> PostgresStore::load_kms_keys() {
  return readers_.acquire().query(
      "SELECT app_id, name, kind, latest_version, min_decryption_version, exportable, deletion_allowed, "
      "created_ms, delete_after_ms FROM kms_keys;",
      pg::Params{}, read_key, "load_kms_keys");
}

Result<std::vector<KmsVersionRecord>> PostgresStore::load_kms_versions() {
  return readers_.acquire().query(
      "SELECT app_id, name, version, wrapped, created_ms FROM kms_key_versions;", pg::Params{},
      [](const pg::Row& r) {
        return KmsVersionRecord{r.bytes(0), r.bytes(1), static_cast<std::uint32_t>(r.i64(2)), r.bytes(3), r.i64(4)};
      },
      "load_kms_versions");
}

void PostgresStore::insert_kms_key(KmsKeyRecord key, KmsVersionRecord first, Completion done) {
  submit(
      [key = std::move(key), first = std::move(first)](pg::WriteTx& tx) -> Status {
        tx.run(
            "INSERT INTO kms_keys(app_id, name, kind, latest_version, min_decryption_version, exportable, "
            "deletion_allowed, created_ms, delete_after_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);",
            pg::params(key.app_id, key.name, key.kind, key.latest_version, key.min_decryption_version, key.exportable,
                       key.deletion_allowed, key.created_ms, key.delete_after_ms),
            {}, make_error(Errc::kConflict, "a key of this name exists"));
        tx.run(kInsertVersion, pg::params(first.app_id, first.name, first.version, first.wrapped, first.created_ms), {},
               make_error(Errc::kConflict, "this key version exists already"));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::add_kms_version(KmsVersionRecord version, Completion done) {
  submit(
      [v = std::move(version)](pg::WriteTx& tx) -> Status {
        // One statement: the version row is written only if latest_version moved from
        // N-1 to N, so a node working from a stale read can neither move it backwards nor
        // skip one, and two nodes rotating at once cannot both win.
        tx.run(
            "WITH moved AS (UPDATE kms_keys SET latest_version = $3 "
            "  WHERE app_id = $1 AND name = $2 AND latest_version = $3 - 1 RETURNING 1), "
            "added AS (INSERT INTO kms_key_versions(app_id, name, version, wrapped, created_ms) "
            "  SELECT $1, $2, $3, $4::bytea, $5::bigint FROM moved RETURNING 1) "
            "SELECT (SELECT count(*) FROM added), EXISTS (SELECT 1 FROM kms_keys WHERE app_id = $1 AND name = $2);",
            pg::params(v.app_id, v.name, v.version, v.wrapped, v.created_ms),
            [](const pg::ResultSet& r) -> Status {
              if (r.rows() == 1 && r.row(0).i64(0) == 1) return ok_status();
              if (r.rows() == 1 && !r.row(0).boolean(1)) return make_error(Errc::kNotFound, "no such key");
              return make_error(Errc::kConflict, "the key's latest version is not the one before this version");
            },
            make_error(Errc::kConflict, "this key version exists already"));
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::update_kms_key(KmsKeyChange c, Completion done) {
  submit(
      [c = std::move(c)](pg::WriteTx& tx) -> Status {
        // A NULL parameter keeps the column: only the fields named change, so two nodes
        // changing different fields never undo each other. With `expected`, the row must
        // still hold the settings the change was decided on (no lost update across nodes).
        const auto& e = c.expected;
        tx.run(
            "WITH moved AS (UPDATE kms_keys SET min_decryption_version = COALESCE($3, min_decryption_version), "
            "exportable = COALESCE($4, exportable), deletion_allowed = COALESCE($5, deletion_allowed), "
            "delete_after_ms = COALESCE($6, delete_after_ms) WHERE app_id = $1 AND name = $2 AND "
            "($7::bigint IS NULL OR (min_decryption_version = $7 AND exportable = $8::boolean AND "
            "deletion_allowed = $9::boolean AND delete_after_ms = $10::bigint)) RETURNING 1) "
            "SELECT (SELECT count(*) FROM moved), EXISTS (SELECT 1 FROM kms_keys WHERE app_id = $1 AND name = $2);",
            pg::params(c.app_id, c.name, c.min_decryption_version, c.exportable, c.deletion_allowed, c.delete_after_ms,
                       e ? std::optional<std::uint32_t>(e->min_decryption_version) : std::nullopt,
                       e ? std::optional<bool>(e->exportable) : std::nullopt,
                       e ? std::optional<bool>(e->deletion_allowed) : std::nullopt,
                       e ? std::optional<std::int64_t>(e->delete_after_ms) : std::nullopt),
            [](const pg::ResultSet& r) -> Status {
              if (r.rows() == 1 && r.row(0).i64(0) == 1) return ok_status();
              if (r.rows() == 1 && !r.row(0).boolean(1)) return make_error(Errc::kNotFound, "no such key");
              return make_error(Errc::kConflict, "the key was changed meanwhile (on another node); retry");
            });
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::delete_kms_key(std::string app_id, std::string name, Completion done) {
  submit(
      [app_id = std::move(app_id), name = std::move(name)](pg::WriteTx& tx) -> Status {
        tx.run("DELETE FROM kms_key_versions WHERE app_id = $1 AND name = $2;", pg::params(app_id, name));
        tx.run("DELETE FROM kms_keys WHERE app_id = $1 AND name = $2;", pg::params(app_id, name));
        return ok_status();
      },
      std::move(done));
}

}  // namespace herald::store
