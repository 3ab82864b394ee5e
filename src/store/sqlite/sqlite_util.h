// Small helpers shared by the SQLite store's source files (statement ownership, errors).
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.h"

namespace herald::store {

inline Error db_error(sqlite3* db, std::string_view what) {
  return make_error("store_error", std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "no connection"));
}

inline Status exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "unknown error";
    sqlite3_free(msg);
    return make_error("store_error", m);
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

inline void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

}  // namespace herald::store
