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
};
}  // namespace

std::span<const Migration> sqlite_migrations() { return kSqlite; }

}  // namespace herald::store
