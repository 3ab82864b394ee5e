// `herald store migrate`'s engine: copies a stopped node's SQLite database into an empty
// PostgreSQL database, table by table, in one PostgreSQL transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace herald::store {

struct CopyFromSqliteOptions {
  std::string data_dir;      // holds herald.db; locked exclusively while copying
  std::string postgres_url;  // a secret: never in an error (see redact_url)
  // Called after each batch of rows: the table, rows copied so far, the table's rows.
  std::function<void(const std::string& table, std::int64_t done, std::int64_t total)> progress;
};

struct TableCopied {
  std::string table;
  std::int64_t source_rows = 0;
  std::int64_t target_rows = 0;  // counted in the transaction, before COMMIT
};

struct CopyFromSqliteReport {
  int sqlite_schema = 0;
  int postgres_schema = 0;
  std::vector<TableCopied> tables;  // in copy order (sorted by name)
  std::int64_t rows = 0;
};

// Refuses a data dir held by a running node, a schema version other than this binary's
// newest (either side), a table present in one schema only, and a target with any row
// in a data table. The target's schema is created (migrated) first if absent.
Result<CopyFromSqliteReport> copy_from_sqlite(const CopyFromSqliteOptions& opts);

// `message` with the URL, and its password and user-info, replaced by "<redacted>":
// libpq may quote a piece of a malformed URL in its errors.
std::string redact_url(std::string message, const std::string& url);

}  // namespace herald::store
