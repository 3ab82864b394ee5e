// Copies a SQLite store into PostgreSQL: generic over the tables both schemas share,
// column by column (INTEGER as text for bigint/integer/boolean; TEXT and BLOB in binary
// format, so ciphertext lands in bytea byte for byte), one transaction for the whole copy.
#include "store/copy_from_sqlite.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "store/data_dir_lock.h"
#include "store/migrations.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/postgres_store.h"

namespace herald::store {
namespace {

constexpr int kMaxParams = 60000;  // PostgreSQL allows 65535 per statement
constexpr int kMaxBatchRows = 500;

struct Column {
  std::string name;
  bool has_default = false;  // PostgreSQL side: filled by the server when omitted
};

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};

struct Query {
  sqlite3_stmt* s = nullptr;
  ~Query() { sqlite3_finalize(s); }
};

Error sqlite_error(sqlite3* db, const std::string& what) {
  return make_error(Errc::kStoreError, what + ": " + sqlite3_errmsg(db));
}

std::string quote(const std::string& ident) {
  std::string out = "\"";
  for (char c : ident) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

Result<std::vector<std::string>> sqlite_strings(sqlite3* db, const std::string& sql, int col) {
  Query q;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &q.s, nullptr) != SQLITE_OK) return sqlite_error(db, sql);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(q.s, col)));
  if (rc != SQLITE_DONE) return sqlite_error(db, sql);
  return out;
}

Result<std::int64_t> sqlite_count(sqlite3* db, const std::string& sql) {
  Query q;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &q.s, nullptr) != SQLITE_OK) return sqlite_error(db, sql);
  if (sqlite3_step(q.s) != SQLITE_ROW) return sqlite_error(db, sql);
  return sqlite3_column_int64(q.s, 0);
}

// Opens herald.db (never creating it) and starts the read transaction every later
// query shares, so the copy sees one snapshot.
Result<int> open_source(Db& src, const std::string& data_dir) {
  std::string path = data_dir + "/herald.db";
  if (sqlite3_open_v2(path.c_str(), &src.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
    return make_error(Errc::kNotFound, "no Herald database in " + data_dir + ": " + sqlite3_errmsg(src.db));
  char* msg = nullptr;
  if (sqlite3_exec(src.db, "BEGIN;", nullptr, nullptr, &msg) != SQLITE_OK) {
    sqlite3_free(msg);
    return sqlite_error(src.db, "begin");
  }
  auto v = sqlite_count(src.db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;");
  if (!v) return v.error();
  int newest = sqlite_migrations().back().version;
  if (*v != newest)
    return make_error(Errc::kStoreError, "the SQLite schema is version " + std::to_string(*v) + "; this herald knows " +
                                             std::to_string(newest) +
                                             " (start this version of herald on it once, or use the matching "
                                             "herald to migrate)");
  return static_cast<int>(*v);
}

Result<std::vector<std::string>> pg_strings(pg::Connection& c, std::string_view sql, const pg::Params& p) {
  return c.query(
      sql, p, [](const pg::Row& r) { return r.bytes(0); }, "schema");
}

// The data tables: the migration bookkeeping and the change feed's table are each side's own.
Result<std::vector<std::string>> shared_tables(sqlite3* src, pg::Connection& dst) {
  auto s = sqlite_strings(src,
                          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND "
                          "name <> 'schema_migrations' ORDER BY name;",
                          0);
  if (!s) return s.error();
  auto p = pg_strings(dst,
                      "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND "
                      "c.relname NOT IN ('schema_migrations', 'cluster_changes') ORDER BY 1;",
                      pg::Params{});
  if (!p) return p.error();
  std::set<std::string> a(s->begin(), s->end()), b(p->begin(), p->end());
  std::string only;
  for (auto& t : a)
    if (!b.count(t)) only += " " + t + " (SQLite only)";
  for (auto& t : b)
    if (!a.count(t)) only += " " + t + " (PostgreSQL only)";
  if (!only.empty()) return make_error(Errc::kStoreError, "the two schemas do not have the same tables:" + only);
  return *s;
}

// The columns to copy: SQLite's, each of which PostgreSQL must have; a PostgreSQL column
// missing in SQLite must have a default (a bigserial id, numbered in SQLite's row order).
Result<std::vector<std::string>> shared_columns(sqlite3* src, pg::Connection& dst, const std::string& table) {
  auto s = sqlite_strings(src, "PRAGMA table_info(" + quote(table) + ");", 1);
  if (!s) return s.error();
  auto p = dst.query(
      "SELECT attname::text, (atthasdef OR attidentity <> '') FROM pg_attribute WHERE attrelid = "
      "format('%I.%I', current_schema(), $1::text)::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;",
      pg::params(table),
      [](const pg::Row& r) {
        return Column{r.bytes(0), r.boolean(1)};
      },
      "columns");
  if (!p) return p.error();
  std::string missing;
  for (auto& c : *s)
    if (std::none_of(p->begin(), p->end(), [&](const Column& pc) { return pc.name == c; }))
      missing += " " + table + "." + c + " (SQLite only)";
  for (auto& pc : *p)
    if (!pc.has_default && std::find(s->begin(), s->end(), pc.name) == s->end())
      missing += " " + table + "." + pc.name + " (PostgreSQL only)";
  if (!missing.empty()) return make_error(Errc::kStoreError, "the two schemas differ in columns:" + missing);
  return *s;
}

// Locks the target's tables against other writers for the transaction, then refuses
// if any holds a row.
Status target_is_empty(pg::Connection& dst, const std::vector<std::string>& tables) {
  std::string list;
  for (auto& t : tables) list += (list.empty() ? "" : ", ") + quote(t);
  if (auto st = dst.exec("LOCK TABLE " + list + " IN SHARE ROW EXCLUSIVE MODE;", "lock tables"); !st) return st;
  std::string with_rows;
  for (auto& t : tables) {
    auto r = dst.run("SELECT 1 FROM " + quote(t) + " LIMIT 1;", pg::Params{}, "emptiness check");
    if (!r) return r.error();
    if (r->rows() > 0) with_rows += " " + t;
  }
  if (!with_rows.empty())
    return make_error(Errc::kConflict,
                      "the target database already holds Herald data (rows in:" + with_rows + "); refusing to copy");
  return ok_status();
}

std::string insert_sql(const std::string& table, const std::vector<std::string>& cols, int rows) {
  std::string sql = "INSERT INTO " + quote(table) + " (";
  for (std::size_t i = 0; i < cols.size(); ++i) sql += (i ? ", " : "") + quote(cols[i]);
  sql += ") VALUES ";
  int n = 1;
  for (int r = 0; r < rows; ++r) {
    sql += r ? ", (" : "(";
    for (std::size_t i = 0; i < cols.size(); ++i) sql += (i ? ", $" : "$") + std::to_string(n++);
    sql += ")";
  }
  return sql + ";";
}

void bind_value(pg::Params& p, sqlite3_stmt* s, int col) {
  switch (sqlite3_column_type(s, col)) {
    case SQLITE_NULL:
      p.null();
      break;
    case SQLITE_INTEGER:  // bigint, integer and boolean ('0'/'1') all parse it
      p.add(pg::TextParam{std::to_string(sqlite3_column_int64(s, col))});
      break;
    case SQLITE_FLOAT: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", sqlite3_column_double(s, col));
      p.add(pg::TextParam{buf});
      break;
    }
    default: {  // TEXT or BLOB: the exact bytes
      const void* b = sqlite3_column_blob(s, col);
      p.add(std::string_view(static_cast<const char*>(b), static_cast<std::size_t>(sqlite3_column_bytes(s, col))));
    }
  }
}

Result<std::int64_t> copy_rows(sqlite3* src, pg::Connection& dst, const std::string& table,
                               const std::vector<std::string>& cols, std::int64_t total,
                               const CopyFromSqliteOptions& opts) {
  std::string select = "SELECT ";
  for (std::size_t i = 0; i < cols.size(); ++i) select += (i ? ", " : "") + quote(cols[i]);
  select += " FROM " + quote(table);
  Query q;
  // Row order keeps a bigserial column numbered as SQLite's rowids; WITHOUT ROWID tables
  // have none, and their order does not matter.
  if (sqlite3_prepare_v2(src, (select + " ORDER BY rowid;").c_str(), -1, &q.s, nullptr) != SQLITE_OK &&
      sqlite3_prepare_v2(src, (select + ";").c_str(), -1, &q.s, nullptr) != SQLITE_OK)
    return sqlite_error(src, "read " + table);
  const int batch = std::max(1, std::min(kMaxBatchRows, kMaxParams / static_cast<int>(cols.size())));
  std::int64_t done = 0;
  pg::Params p;
  int in_batch = 0;
  auto flush = [&]() -> Status {
    if (in_batch == 0) return ok_status();
    auto r = dst.run(insert_sql(table, cols, in_batch), p, "copy " + table);
    if (!r) return r.error();
    done += in_batch;
    in_batch = 0;
    p = pg::Params{};
    if (opts.progress) opts.progress(table, done, total);
    return ok_status();
  };
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    for (int c = 0; c < static_cast<int>(cols.size()); ++c) bind_value(p, q.s, c);
    if (++in_batch == batch)
      if (auto st = flush(); !st) return st.error();
  }
  if (rc != SQLITE_DONE) return sqlite_error(src, "read " + table);
  if (auto st = flush(); !st) return st.error();
  if (total == 0 && opts.progress) opts.progress(table, 0, 0);
  return done;
}

// Moves each sequence (bigserial, identity) past the largest value copied.
Status advance_sequences(pg::Connection& dst, const std::string& table) {
  auto cols = pg_strings(dst,
                         "SELECT attname::text FROM pg_attribute WHERE attrelid = format('%I.%I', current_schema(), "
                         "$1::text)::regclass AND attnum > 0 AND NOT attisdropped AND pg_get_serial_sequence("
                         "format('%I.%I', current_schema(), $1::text), attname) IS NOT NULL;",
                         pg::params(table));
  if (!cols) return cols.error();
  for (auto& c : *cols) {
    auto r = dst.run(
        "SELECT setval(pg_get_serial_sequence(format('%I.%I', current_schema(), $1::text), $2), "
        "COALESCE(MAX(" +
            quote(c) + "), 0) + 1, false) FROM " + quote(table) + ";",
        pg::params(table, c), "advance sequence");
    if (!r) return r.error();
  }
  return ok_status();
}

Result<int> target_schema(pg::Connection& dst) {
  auto v = dst.query(
      "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;", pg::Params{},
      [](const pg::Row& r) { return static_cast<int>(r.i64(0)); }, "schema version");
  if (!v) return v.error();
  int newest = postgres_migrations().back().version, got = v->empty() ? 0 : v->front();
  if (got != newest)
    return make_error(Errc::kStoreError, "the PostgreSQL schema is version " + std::to_string(got) +
                                             "; this herald knows " + std::to_string(newest));
  return got;
}

Status copy_tables(sqlite3* src, pg::Connection& dst, const CopyFromSqliteOptions& opts, CopyFromSqliteReport& out) {
  auto version = target_schema(dst);
  if (!version) return version.error();
  out.postgres_schema = *version;
  auto tables = shared_tables(src, dst);
  if (!tables) return tables.error();
  if (auto st = target_is_empty(dst, *tables); !st) return st;
  for (auto& t : *tables) {
    auto cols = shared_columns(src, dst, t);
    if (!cols) return cols.error();
    auto total = sqlite_count(src, "SELECT count(*) FROM " + quote(t) + ";");
    if (!total) return total.error();
    auto copied = copy_rows(src, dst, t, *cols, *total, opts);
    if (!copied) return copied.error();
    if (auto st = advance_sequences(dst, t); !st) return st;
    auto counted = dst.query(
        "SELECT count(*) FROM " + quote(t) + ";", pg::Params{}, [](const pg::Row& r) { return r.i64(0); }, "count");
    if (!counted) return counted.error();
    TableCopied row{t, *total, counted->empty() ? -1 : counted->front()};
    if (row.target_rows != row.source_rows)
      return make_error(Errc::kStoreError, "table " + t + ": " + std::to_string(row.source_rows) +
                                               " rows in SQLite but " + std::to_string(row.target_rows) +
                                               " in PostgreSQL; nothing was committed");
    out.rows += row.source_rows;
    out.tables.push_back(std::move(row));
  }
  return ok_status();
}

// Creates (or brings up to date) the target's schema the way a node would.
Status prepare_target(const std::string& url) {
  StoreOptions so;
  so.postgres.url = url;
  so.postgres.pool_size = 1;
  auto s = PostgresStore::open(so);
  if (!s) return s.error();
  (*s)->close();
  return ok_status();
}

}  // namespace

std::string redact_url(std::string message, const std::string& url) {
  auto scrub = [&](const std::string& secret) {
    if (secret.empty()) return;
    for (auto at = message.find(secret); at != std::string::npos; at = message.find(secret, at + 10))
      message.replace(at, secret.size(), "<redacted>");
  };
  scrub(url);
  auto scheme = url.find("://");
  auto at = url.rfind('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme + 3) {
    std::string userinfo = url.substr(scheme + 3, at - scheme - 3);
    scrub(userinfo);
    if (auto colon = userinfo.find(':'); colon != std::string::npos) scrub(userinfo.substr(colon + 1));
  }
  // A password given as a keyword (password=...) in the URL's query or a key=value string.
  for (auto p = url.find("password="); p != std::string::npos; p = url.find("password=", p + 1)) {
    auto end = url.find_first_of("& ", p + 9);
    scrub(url.substr(p + 9, end == std::string::npos ? std::string::npos : end - p - 9));
  }
  return message;
}

Result<CopyFromSqliteReport> copy_from_sqlite(const CopyFromSqliteOptions& opts) {
  auto run = [&]() -> Result<CopyFromSqliteReport> {
    auto lock = DataDirLock::acquire(opts.data_dir, true);
    if (!lock) return lock.error();
    CopyFromSqliteReport out;
    Db src;
    auto sv = open_source(src, opts.data_dir);
    if (!sv) return sv.error();
    out.sqlite_schema = *sv;
    if (auto st = prepare_target(opts.postgres_url); !st) return st.error();
    // No statement timeout: a large table's copy is one long transaction by design.
    auto dst = pg::Connection::open(
        pg::ConnectOptions{opts.postgres_url, std::chrono::milliseconds(10000), std::chrono::milliseconds(0)});
    if (!dst) return dst.error();
    if (auto st = (*dst)->exec("BEGIN;", "begin"); !st) return st.error();
    if (auto st = copy_tables(src.db, **dst, opts, out); !st) {
      (void)(*dst)->exec("ROLLBACK;", "rollback");
      return st.error();
    }
    // A COMMIT whose answer was lost may have applied: a second run then finds the data
    // and refuses, so retrying is safe.
    if (auto st = (*dst)->exec("COMMIT;", "commit"); !st)
      return make_error(st.error().code, st.error().message +
                                             " (if the connection was lost, the copy may have been committed: "
                                             "run the command again to find out; it refuses a non-empty target)");
    return out;
  };
  auto r = run();
  if (!r) return make_error(r.error().code, redact_url(r.error().message, opts.postgres_url));
  return r;
}

}  // namespace herald::store
