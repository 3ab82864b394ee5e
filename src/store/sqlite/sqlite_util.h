// Small helpers shared by the SQLite store's source files (statement ownership, errors).
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

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

inline std::string column_text(sqlite3_stmt* s, int c) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, c));
  return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(s, c)));
}

inline void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

}  // namespace herald::store
