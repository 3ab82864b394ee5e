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
    {7, "messages",
     "CREATE TABLE messages (\n"
     "  seq INTEGER PRIMARY KEY,\n"
     "  id TEXT NOT NULL,\n"
     "  app_id TEXT NOT NULL,\n"
     "  user_index TEXT NOT NULL,\n"
     "  idem_index TEXT,\n"
     "  template TEXT NOT NULL,\n"
     "  created_ms INTEGER NOT NULL,\n"
     "  expires_ms INTEGER NOT NULL,\n"
     "  state INTEGER NOT NULL,\n"
     "  step INTEGER NOT NULL,\n"
     "  due_ms INTEGER NOT NULL,\n"
     "  sealed TEXT NOT NULL\n"
     ") STRICT;\n"
     "CREATE INDEX messages_due ON messages(due_ms);\n"
     "CREATE UNIQUE INDEX messages_idempotency ON messages(app_id, idem_index) WHERE idem_index IS NOT NULL;\n"
     "CREATE TABLE message_events (\n"
     "  seq INTEGER NOT NULL,\n"
     "  at_ms INTEGER NOT NULL,\n"
     "  event TEXT NOT NULL,\n"
     "  channel TEXT NOT NULL,\n"
     "  detail TEXT NOT NULL,\n"
     "  connections INTEGER NOT NULL\n"
     ") STRICT;\n"
     "CREATE INDEX message_events_seq ON message_events(seq);\n"
     "CREATE TABLE message_webhooks (\n"
     "  seq INTEGER PRIMARY KEY,\n"
     "  app_id TEXT NOT NULL,\n"
     "  attempts INTEGER NOT NULL,\n"
     "  due_ms INTEGER NOT NULL,\n"
     "  state INTEGER NOT NULL,\n"
     "  last_error TEXT NOT NULL,\n"
     "  updated_ms INTEGER NOT NULL\n"
     ") STRICT;\n"
     "CREATE INDEX message_webhooks_due ON message_webhooks(due_ms) WHERE state = 0;\n"
     "CREATE INDEX message_webhooks_dead ON message_webhooks(app_id, updated_ms) WHERE state = 2;\n"
     "CREATE TABLE user_contacts (\n"
     "  app_id TEXT NOT NULL,\n"
     "  user_index TEXT NOT NULL,\n"
     "  sealed TEXT NOT NULL,\n"
     "  updated_ms INTEGER NOT NULL,\n"
     "  PRIMARY KEY (app_id, user_index)\n"
     ") STRICT, WITHOUT ROWID;\n"
     "CREATE TABLE message_settings (\n"
     "  app_id TEXT PRIMARY KEY NOT NULL,\n"
     "  sealed TEXT NOT NULL\n"
     ") STRICT;\n"
     "CREATE TABLE message_templates (\n"
     "  app_id TEXT NOT NULL,\n"
     "  name TEXT NOT NULL,\n"
     "  body TEXT NOT NULL,\n"
     "  PRIMARY KEY (app_id, name)\n"
     ") STRICT, WITHOUT ROWID;"},
    {8, "api_nonces",
     "CREATE TABLE api_nonces (\n"
     "  app_id TEXT NOT NULL,\n"
     "  nonce TEXT NOT NULL,\n"
     "  expires_ms INTEGER NOT NULL,\n"
     "  PRIMARY KEY (app_id, nonce)\n"
     ") STRICT, WITHOUT ROWID;\n"
     "CREATE INDEX api_nonces_expiry ON api_nonces(expires_ms);"},
    // Key tombstones (a deletion waits kms.deletion_delay) and the MAC of each app row's
    // plaintext columns ('' until the first unseal after the upgrade computes it).
    {9, "kms_tombstones_app_mac",
     "ALTER TABLE kms_keys ADD COLUMN delete_after_ms INTEGER NOT NULL DEFAULT 0;\n"
     "ALTER TABLE apps ADD COLUMN record_mac TEXT NOT NULL DEFAULT '';"},
    // Leases on due work (docs/cluster.md#leases): who claimed a message's step or a
    // webhook attempt, and until when ('' and 0: nobody).
    {10, "message_leases",
     "ALTER TABLE messages ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';\n"
     "ALTER TABLE messages ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;\n"
     "ALTER TABLE message_webhooks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';\n"
     "ALTER TABLE message_webhooks ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;"},
    // The slots of message sequence numbers of a cluster's nodes (PostgreSQL's migration
    // 2): unused by a single SQLite node, present so that both schemas hold the same
    // tables (herald store migrate copies them one to one).
    {11, "message_seq_slots",
     "CREATE TABLE message_seq_slots (\n"
     "  slot INTEGER PRIMARY KEY,\n"
     "  holder TEXT NOT NULL,\n"
     "  lease_until_ms INTEGER NOT NULL,\n"
     "  high_seq INTEGER NOT NULL\n"
     ") STRICT;"},
};
}  // namespace

std::span<const Migration> sqlite_migrations() { return kSqlite; }

}  // namespace herald::store
