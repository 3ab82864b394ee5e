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
};
}  // namespace

std::span<const Migration> sqlite_migrations() { return kSqlite; }

}  // namespace herald::store
