// Schema migrations: numbered, applied in order, each in its own transaction, and
// recorded in schema_migrations. Modules add theirs to the list in migrations.cpp.
#pragma once

#include <span>
#include <string_view>

namespace herald::store {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

std::span<const Migration> sqlite_migrations();
// The PostgreSQL schema (store/postgres/pg_migrations.cpp); its own numbering.
std::span<const Migration> postgres_migrations();

}  // namespace herald::store
