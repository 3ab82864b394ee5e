// Helpers shared by the SQLite store's table files: errors, cached statements, and the
// two loops every table repeats, binding a write's fields and reading a query's rows.
#pragma once

#include <sqlite3.h>

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/result.h"
#include "store/sqlite/reader_pool.h"

namespace herald::store {

inline Error db_error(sqlite3* db, std::string_view what) {
  return make_error(Errc::kStoreError, std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "no connection"));
}

inline Status exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "unknown error";
    sqlite3_free(msg);
    return make_error(Errc::kStoreError, m);
  }
  return ok_status();
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s); }
};

// A statement of the writer connection, prepared on first use and kept for the life of
// the writer thread (a group commit runs the same few statements thousands of times a
// second; parsing them each time was a tenth of the writer's time). Writer thread
// only; use it through WriterStatement, which resets it after each use. `sql` is the
// cache key and must be a string literal.
sqlite3_stmt* writer_statement(sqlite3* db, const char* sql);

class WriterStatement {
 public:
  WriterStatement(sqlite3* db, const char* sql) : s(writer_statement(db, sql)) {}
  ~WriterStatement() {
    if (s) {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  }
  WriterStatement(const WriterStatement&) = delete;
  WriterStatement& operator=(const WriterStatement&) = delete;
  sqlite3_stmt* const s;
};

// Finalizes every statement of `db` (before closing it).
void finalize_all(sqlite3* db);

inline std::string column_text(sqlite3_stmt* s, int c) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, c));
  return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(s, c)));
}

// Reads a BLOB column (or a TEXT one, unconverted) as bytes.
inline std::string column_blob(sqlite3_stmt* s, int c) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, c));
  return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(s, c)));
}

inline void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

// A field that bind_all stores as a BLOB (sealed values, hashes, signatures) rather than TEXT.
struct Blob {
  std::string_view bytes;
};
// A text field stored as NULL when empty (so that a UNIQUE index ignores it).
struct TextOrNull {
  std::string_view text;
};

namespace detail {
// The values bind_all takes borrow their bytes (SQLITE_STATIC): they must outlive the step.
inline void bind_one(sqlite3_stmt* s, int i, std::string_view v) {
  bind_text(s, i, v);
}
inline void bind_one(sqlite3_stmt* s, int i, const std::string& v) {
  bind_text(s, i, v);
}
inline void bind_one(sqlite3_stmt* s, int i, const char* v) {
  bind_text(s, i, v);
}
inline void bind_one(sqlite3_stmt* s, int i, Blob v) {
  sqlite3_bind_blob(s, i, v.bytes.data(), static_cast<int>(v.bytes.size()), SQLITE_STATIC);
}
inline void bind_one(sqlite3_stmt* s, int i, TextOrNull v) {
  if (v.text.empty())
    sqlite3_bind_null(s, i);
  else
    bind_text(s, i, v.text);
}
inline void bind_one(sqlite3_stmt* s, int i, bool v) {
  sqlite3_bind_int(s, i, v ? 1 : 0);
}
template <class T>
requires(std::integral<T> || std::is_enum_v<T>) void bind_one(sqlite3_stmt* s, int i, T v) {
  sqlite3_bind_int64(s, i, static_cast<sqlite3_int64>(v));
}
// An empty optional leaves the parameter NULL (statements COALESCE it with the column).
template <class T>
void bind_one(sqlite3_stmt* s, int i, const std::optional<T>& v) {
  if (v)
    bind_one(s, i, *v);
  else
    sqlite3_bind_null(s, i);
}
}  // namespace detail

// Binds `fields` to parameters 1, 2, ... of `s`, each by its type: strings as TEXT,
// Blob as BLOB, integers, enums and bools as INTEGER, an empty optional as NULL.
template <class... Fields>
void bind_all(sqlite3_stmt* s, const Fields&... fields) {
  sqlite3_reset(s);
  int i = 0;
  (detail::bind_one(s, ++i, fields), ...);
}

// Binds `fields` and steps a write statement once; SQLITE_DONE is success.
template <class... Fields>
Status step_write(sqlite3* db, sqlite3_stmt* s, const char* what, const Fields&... fields) {
  if (!s) return db_error(db, what);
  bind_all(s, fields...);
  if (sqlite3_step(s) != SQLITE_DONE) return db_error(db, what);
  return ok_status();
}

// Runs a cached writer statement once with `fields` (a whole write in one line).
template <class... Fields>
Status write_row(sqlite3* db, const char* sql, const char* what, const Fields&... fields) {
  WriterStatement st(db, sql);
  return step_write(db, st.s, what, fields...);
}

namespace detail {
template <class Read>
using Row = std::invoke_result_t<Read&, sqlite3_stmt*>;

template <class Read>
Result<std::vector<Row<Read>>> collect_rows(sqlite3* db, sqlite3_stmt* s, Read& read, const char* what) {
  std::vector<Row<Read>> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) out.push_back(read(s));
  if (rc != SQLITE_DONE) return db_error(db, what);
  return out;
}
}  // namespace detail

// Runs one query on a reader connection and reads each row with `read`: every read of
// the store is this call. `bind(stmt)` sets the parameters. A reader's statements are
// cached per connection, so `sql` should be the same text on every call.
template <class Bind, class Read>
Result<std::vector<detail::Row<Read>>> query_rows(ReaderPool::Lease& reader, std::string_view sql, Bind&& bind,
                                                  Read read, const char* what) {
  ReaderPool::Statement st = reader.statement(sql);
  if (!st) return db_error(reader.db(), what);
  bind(st.get());
  return detail::collect_rows(reader.db(), st.get(), read, what);
}

// The same on the writer connection, for a write that must read first.
template <class Bind, class Read>
Result<std::vector<detail::Row<Read>>> query_rows(sqlite3* writer, const char* sql, Bind&& bind, Read read,
                                                  const char* what) {
  WriterStatement st(writer, sql);
  if (!st.s) return db_error(writer, what);
  bind(st.s);
  return detail::collect_rows(writer, st.s, read, what);
}

// For a query of at most one row.
template <class T>
Result<std::optional<T>> first_row(Result<std::vector<T>> rows) {
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<T>();
  return std::optional<T>(std::move(rows->front()));
}

// `bind` for a query with no parameters.
inline void no_params(sqlite3_stmt*) {}

}  // namespace herald::store
