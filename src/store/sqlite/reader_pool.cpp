// The store's read connections: opened read-only, each with its own statement cache.
#include "store/sqlite/reader_pool.h"

#include <sqlite3.h>

#include <algorithm>

#include "store/sqlite/sqlite_util.h"

namespace herald::store {

ReaderPool::Statement::~Statement() {
  if (s_) {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

ReaderPool::Lease::~Lease() {
  if (c_) pool_->pool_.release(c_);
}

sqlite3* ReaderPool::Lease::db() const {
  return c_ ? c_->db : nullptr;
}

ReaderPool::Statement ReaderPool::Lease::statement(std::string_view sql) {
  if (!c_) return Statement(nullptr);
  auto [it, fresh] = c_->statements.try_emplace(std::string(sql), nullptr);
  if (fresh && sqlite3_prepare_v3(c_->db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                  &it->second, nullptr) != SQLITE_OK) {
    sqlite3_finalize(it->second);
    c_->statements.erase(it);
    return Statement(nullptr);
  }
  return Statement(it->second);
}

Status ReaderPool::open(const std::string& path, std::size_t n) {
  for (std::size_t i = 0; i < std::max<std::size_t>(n, 1); ++i) {
    // Owned from the start, so close() frees it even on failure.
    Connection* c = pool_.own(std::make_unique<Connection>());
    int rc = sqlite3_open_v2(path.c_str(), &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return db_error(c->db, "cannot open " + path + " for reading");
    if (auto st = exec(c->db, "PRAGMA busy_timeout=5000;"); !st) return st;
    pool_.make_free(c);
  }
  return ok_status();
}

ReaderPool::Lease ReaderPool::acquire() {
  return Lease(this, pool_.acquire());
}

void ReaderPool::close() {
  pool_.close([](Connection& c) {
    for (auto& [sql, s] : c.statements) sqlite3_finalize(s);
    c.statements.clear();
    sqlite3_close_v2(c.db);
    c.db = nullptr;
  });
}

}  // namespace herald::store
