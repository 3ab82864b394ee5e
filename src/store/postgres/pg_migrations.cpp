// The PostgreSQL schema, one migration per change (numbered apart from SQLite's). Never
// edit a released migration: add a new one. Sealed values, hashes and signatures are
// bytea; the rows hold only ciphertext and keyed hashes, as in SQLite.
#include "store/migrations.h"

namespace herald::store {

namespace {
constexpr Migration kPostgres[] = {
    {1, "initial",
     "CREATE TABLE meta (key text PRIMARY KEY, value bytea NOT NULL, updated_at bigint NOT NULL);\n"
     "CREATE TABLE apps (\n"
     "  id text PRIMARY KEY, key text NOT NULL UNIQUE, name text NOT NULL UNIQUE,\n"
     "  status text NOT NULL CHECK (status IN ('active', 'suspended')), created_ms bigint NOT NULL,\n"
     "  client_secret bytea NOT NULL, client_public_keys text NOT NULL, jwt_audience text NOT NULL,\n"
     "  jwt_issuer text NOT NULL, require_exp boolean NOT NULL, app_secrets text NOT NULL,\n"
     "  scopes text NOT NULL, namespaces text NOT NULL, allowed_cidrs text NOT NULL,\n"
     "  rate_limit bigint NOT NULL, record_mac text NOT NULL);\n"
     "CREATE TABLE kms_keys (\n"
     "  app_id text NOT NULL, name text NOT NULL, kind text NOT NULL, latest_version bigint NOT NULL,\n"
     "  min_decryption_version bigint NOT NULL, exportable boolean NOT NULL, deletion_allowed boolean NOT NULL,\n"
     "  created_ms bigint NOT NULL, delete_after_ms bigint NOT NULL DEFAULT 0, PRIMARY KEY (app_id, name));\n"
     "CREATE TABLE kms_key_versions (\n"
     "  app_id text NOT NULL, name text NOT NULL, version bigint NOT NULL, wrapped bytea NOT NULL,\n"
     "  created_ms bigint NOT NULL, PRIMARY KEY (app_id, name, version));\n"
     "CREATE TABLE audit_entries (seq bigint PRIMARY KEY, leaf_hash bytea NOT NULL, body bytea NOT NULL);\n"
     "CREATE TABLE audit_nodes (level integer NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL,\n"
     "  PRIMARY KEY (level, idx));\n"
     "CREATE TABLE audit_checkpoints (size bigint PRIMARY KEY, root bytea NOT NULL, ts_ms bigint NOT NULL,\n"
     "  signature bytea NOT NULL);\n"
     "CREATE TABLE otp_verifications (id text PRIMARY KEY, app_id text NOT NULL, sealed bytea NOT NULL,\n"
     "  purge_ms bigint NOT NULL);\n"
     "CREATE INDEX otp_verifications_purge ON otp_verifications (purge_ms);\n"
     "CREATE TABLE otp_counters (key text PRIMARY KEY, window_start_ms bigint NOT NULL, count bigint NOT NULL,\n"
     "  expires_ms bigint NOT NULL);\n"
     "CREATE INDEX otp_counters_expiry ON otp_counters (expires_ms);\n"
     "CREATE TABLE otp_blocklist (app_id text NOT NULL, recipient_index text NOT NULL, sealed bytea NOT NULL,\n"
     "  created_ms bigint NOT NULL, PRIMARY KEY (app_id, recipient_index));\n"
     "CREATE TABLE messages (\n"
     "  seq bigint PRIMARY KEY, id text NOT NULL, app_id text NOT NULL, user_index text NOT NULL,\n"
     "  idem_index text, template text NOT NULL, created_ms bigint NOT NULL, expires_ms bigint NOT NULL,\n"
     "  state integer NOT NULL, step integer NOT NULL, due_ms bigint NOT NULL, sealed bytea NOT NULL);\n"
     "CREATE INDEX messages_due ON messages (due_ms);\n"
     "CREATE INDEX messages_pending ON messages (seq) WHERE state = 0;\n"
     "CREATE UNIQUE INDEX messages_idempotency ON messages (app_id, idem_index) WHERE idem_index IS NOT NULL;\n"
     "CREATE TABLE message_events (\n"
     "  id bigserial PRIMARY KEY, seq bigint NOT NULL, at_ms bigint NOT NULL, event text NOT NULL,\n"
     "  channel text NOT NULL, detail text NOT NULL, connections bigint NOT NULL);\n"
     "CREATE INDEX message_events_seq ON message_events (seq, id);\n"
     "CREATE TABLE message_webhooks (\n"
     "  seq bigint PRIMARY KEY, app_id text NOT NULL, attempts integer NOT NULL, due_ms bigint NOT NULL,\n"
     "  state integer NOT NULL, last_error text NOT NULL, updated_ms bigint NOT NULL);\n"
     "CREATE INDEX message_webhooks_due ON message_webhooks (due_ms) WHERE state = 0;\n"
     "CREATE INDEX message_webhooks_dead ON message_webhooks (app_id, updated_ms) WHERE state = 2;\n"
     "CREATE TABLE user_contacts (app_id text NOT NULL, user_index text NOT NULL, sealed bytea NOT NULL,\n"
     "  updated_ms bigint NOT NULL, PRIMARY KEY (app_id, user_index));\n"
     "CREATE TABLE message_settings (app_id text PRIMARY KEY, sealed bytea NOT NULL);\n"
     "CREATE TABLE message_templates (app_id text NOT NULL, name text NOT NULL, body text NOT NULL,\n"
     "  PRIMARY KEY (app_id, name));\n"
     "CREATE TABLE api_nonces (app_id text NOT NULL, nonce text NOT NULL, expires_ms bigint NOT NULL,\n"
     "  PRIMARY KEY (app_id, nonce));\n"
     "CREATE INDEX api_nonces_expiry ON api_nonces (expires_ms);"},
    // The change feed (pg_change_feed.cpp): each change to what nodes hold in memory leaves
    // a row (kind and app id only, never a value) tagged with its transaction id, and a
    // notification. Nodes read the rows of transactions their last read could not see
    // yet, so a lost notification delays a change by at most cluster.poll_interval.
    {2, "change_feed",
     "CREATE TABLE cluster_changes (\n"
     "  id bigserial PRIMARY KEY, txid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,\n"
     "  kind text NOT NULL, app_id text NOT NULL,\n"
     "  at_ms bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint);\n"
     "CREATE INDEX cluster_changes_txid ON cluster_changes (txid);\n"
     "CREATE INDEX cluster_changes_at ON cluster_changes (at_ms);\n"
     "CREATE FUNCTION herald_note_change() RETURNS trigger LANGUAGE plpgsql AS $$\n"
     "DECLARE app text;\n"
     "BEGIN\n"
     "  IF TG_OP = 'DELETE' THEN app := to_jsonb(OLD) ->> TG_ARGV[1];\n"
     "  ELSE app := to_jsonb(NEW) ->> TG_ARGV[1]; END IF;\n"
     "  INSERT INTO cluster_changes(kind, app_id) VALUES (TG_ARGV[0], app);\n"
     "  PERFORM pg_notify('herald_changes', TG_ARGV[0] || ':' || app);\n"
     "  RETURN NULL;\n"
     "END $$;\n"
     "CREATE TRIGGER apps_changed AFTER INSERT OR UPDATE OR DELETE ON apps\n"
     "  FOR EACH ROW EXECUTE FUNCTION herald_note_change('app', 'id');\n"
     "CREATE TRIGGER kms_keys_changed AFTER INSERT OR UPDATE OR DELETE ON kms_keys\n"
     "  FOR EACH ROW EXECUTE FUNCTION herald_note_change('kms_key', 'app_id');\n"
     "CREATE TRIGGER message_settings_changed AFTER INSERT OR UPDATE OR DELETE ON message_settings\n"
     "  FOR EACH ROW EXECUTE FUNCTION herald_note_change('message_settings', 'app_id');\n"
     "CREATE TRIGGER message_templates_changed AFTER INSERT OR UPDATE OR DELETE ON message_templates\n"
     "  FOR EACH ROW EXECUTE FUNCTION herald_note_change('message_template', 'app_id');"},
    // One audit log per node (docs/audit.md): rows carry their log's name. The default ''
    // is the log written before this (or copied from SQLite by `herald store migrate`,
    // whose schema has no such column); its key stays in meta `audit_public_key`.
    {3, "audit_log_per_node",
     "ALTER TABLE audit_entries ADD COLUMN log text NOT NULL DEFAULT '';\n"
     "ALTER TABLE audit_entries DROP CONSTRAINT audit_entries_pkey, ADD PRIMARY KEY (log, seq);\n"
     "ALTER TABLE audit_nodes ADD COLUMN log text NOT NULL DEFAULT '';\n"
     "ALTER TABLE audit_nodes DROP CONSTRAINT audit_nodes_pkey, ADD PRIMARY KEY (log, level, idx);\n"
     "ALTER TABLE audit_checkpoints ADD COLUMN log text NOT NULL DEFAULT '';\n"
     "ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_pkey, ADD PRIMARY KEY (log, size);"},
    // Leases on due work (docs/cluster.md#leases): who claimed a message's step or a
    // webhook attempt, and until when ('' and 0: nobody). The claims scan the due indexes
    // above; a lease is a column of the row, so no index changes.
    {4, "message_leases",
     "ALTER TABLE messages ADD COLUMN lease_owner text NOT NULL DEFAULT '',\n"
     "  ADD COLUMN lease_until bigint NOT NULL DEFAULT 0;\n"
     "ALTER TABLE message_webhooks ADD COLUMN lease_owner text NOT NULL DEFAULT '',\n"
     "  ADD COLUMN lease_until bigint NOT NULL DEFAULT 0;"},
    // Each node's slot for message sequence numbers (messages/seq_generator.h), leased in
    // the database's clock: unique among live nodes; `high_seq` is the largest number the
    // holder recorded, so that the slot's next holder starts above it.
    {5, "message_seq_slots",
     "CREATE TABLE message_seq_slots (\n"
     "  slot integer PRIMARY KEY CHECK (slot >= 0 AND slot < 1024), holder text NOT NULL,\n"
     "  lease_until_ms bigint NOT NULL, high_seq bigint NOT NULL);"},
    // The OTP blocklists join the change feed (migration 2): a block made on one node
    // refuses sends on every node within cluster.poll_interval.
    {6, "change_feed_otp_blocklist",
     "CREATE TRIGGER otp_blocklist_changed AFTER INSERT OR UPDATE OR DELETE ON otp_blocklist\n"
     "  FOR EACH ROW EXECUTE FUNCTION herald_note_change('otp_blocklist', 'app_id');"},
};
}  // namespace

std::span<const Migration> postgres_migrations() {
  return kPostgres;
}

}  // namespace herald::store
