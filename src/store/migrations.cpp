// The SQLite schema, one migration per change. Never edit a released migration:
// add a new one.
#include "store/migrations.h"

namespace herald::store {

namespace {
constexpr Migration kSqlite[] = {
    {1, "meta",
     "CREATE TABLE meta (\n"
     "  key TEXT PRIMARY KEY NOT NULL,\n"
     "  value TEXT NOT NULL,\n"
     "  updated_at INTEGER NOT NULL\n"
     ") STRICT;"},
    {2, "apps",
     "CREATE TABLE apps (\n"
     "  id TEXT PRIMARY KEY NOT NULL,\n"
     "  key TEXT NOT NULL UNIQUE,\n"
     "  name TEXT NOT NULL UNIQUE,\n"
     "  status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),\n"
     "  created_ms INTEGER NOT NULL,\n"
     "  client_secret BLOB NOT NULL,\n"
     "  client_public_keys TEXT NOT NULL,\n"
     "  jwt_audience TEXT NOT NULL,\n"
     "  jwt_issuer TEXT NOT NULL,\n"
     "  require_exp INTEGER NOT NULL\n"
     ") STRICT;"},
    {3, "app_server_api",
     "ALTER TABLE apps ADD COLUMN app_secrets TEXT NOT NULL DEFAULT '[]';\n"
     "ALTER TABLE apps ADD COLUMN scopes TEXT NOT NULL DEFAULT 'publish';\n"
     "ALTER TABLE apps ADD COLUMN namespaces TEXT NOT NULL DEFAULT '*';\n"
     "ALTER TABLE apps ADD COLUMN allowed_cidrs TEXT NOT NULL DEFAULT '';\n"
     "ALTER TABLE apps ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0;"},
    {4, "kms",
     "CREATE TABLE kms_keys (\n"
     "  app_id TEXT NOT NULL,\n"
     "  name TEXT NOT NULL,\n"
     "  kind TEXT NOT NULL,\n"
     "  latest_version INTEGER NOT NULL,\n"
     "  min_decryption_version INTEGER NOT NULL,\n"
     "  exportable INTEGER NOT NULL,\n"
     "  deletion_allowed INTEGER NOT NULL,\n"
     "  created_ms INTEGER NOT NULL,\n"
     "  PRIMARY KEY (app_id, name)\n"
     ") STRICT;\n"
     "CREATE TABLE kms_key_versions (\n"
     "  app_id TEXT NOT NULL,\n"
     "  name TEXT NOT NULL,\n"
     "  version INTEGER NOT NULL,\n"
     "  wrapped BLOB NOT NULL,\n"
     "  created_ms INTEGER NOT NULL,\n"
     "  PRIMARY KEY (app_id, name, version)\n"
     ") STRICT;"},
    {5, "audit",
     "CREATE TABLE audit_entries (\n"
     "  seq INTEGER PRIMARY KEY NOT NULL,\n"
     "  leaf_hash BLOB NOT NULL,\n"
     "  body TEXT NOT NULL\n"
     ") STRICT;\n"
     "CREATE TABLE audit_nodes (\n"
     "  level INTEGER NOT NULL,\n"
     "  idx INTEGER NOT NULL,\n"
     "  hash BLOB NOT NULL,\n"
     "  PRIMARY KEY (level, idx)\n"
     ") STRICT, WITHOUT ROWID;\n"
     "CREATE TABLE audit_checkpoints (\n"
     "  size INTEGER PRIMARY KEY NOT NULL,\n"
     "  root BLOB NOT NULL,\n"
     "  ts_ms INTEGER NOT NULL,\n"
     "  signature BLOB NOT NULL\n"
     ") STRICT;"},
    {6, "otp",
     "CREATE TABLE otp_verifications (\n"
     "  id TEXT PRIMARY KEY NOT NULL,\n"
     "  app_id TEXT NOT NULL,\n"
     "  sealed TEXT NOT NULL,\n"
     "  purge_ms INTEGER NOT NULL\n"
     ") STRICT;\n"
     "CREATE INDEX otp_verifications_purge ON otp_verifications(purge_ms);\n"
     "CREATE TABLE otp_counters (\n"
     "  key TEXT PRIMARY KEY NOT NULL,\n"
     "  window_start_ms INTEGER NOT NULL,\n"
     "  count INTEGER NOT NULL,\n"
     "  expires_ms INTEGER NOT NULL\n"
     ") STRICT, WITHOUT ROWID;\n"
     "CREATE INDEX otp_counters_expiry ON otp_counters(expires_ms);\n"
     "CREATE TABLE otp_blocklist (\n"
     "  app_id TEXT NOT NULL,\n"
     "  recipient_index TEXT NOT NULL,\n"
     "  sealed TEXT NOT NULL,\n"
     "  created_ms INTEGER NOT NULL,\n"
     "  PRIMARY KEY (app_id, recipient_index)\n"
     ") STRICT, WITHOUT ROWID;"},
};
}  // namespace

std::span<const Migration> sqlite_migrations() { return kSqlite; }

}  // namespace herald::store
