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
  if (c_) pool_->release(c_);
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
    auto c = std::make_unique<Connection>();
    int rc = sqlite3_open_v2(path.c_str(), &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    Connection* raw = c.get();
    all_.push_back(std::move(c));  // owned from here, so close() frees it even on failure
    if (rc != SQLITE_OK) return db_error(raw->db, "cannot open " + path + " for reading");
    if (auto st = exec(raw->db, "PRAGMA busy_timeout=5000;"); !st) return st;
    free_.push_back(raw);
  }
  return ok_status();
}

ReaderPool::Lease ReaderPool::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return closed_ || !free_.empty(); });
  if (closed_) return Lease(this, nullptr);
  Connection* c = free_.back();
  free_.pop_back();
  ++out_;
  return Lease(this, c);
}

void ReaderPool::release(Connection* c) {
  std::lock_guard lock(mu_);
  free_.push_back(c);
  --out_;
  cv_.notify_all();
}

void ReaderPool::close() {
  std::unique_lock lock(mu_);
  closed_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return out_ == 0; });
  for (auto& c : all_) {
    for (auto& [sql, s] : c->statements) sqlite3_finalize(s);
    c->statements.clear();
    sqlite3_close_v2(c->db);
    c->db = nullptr;
  }
  all_.clear();
  free_.clear();
}

}  // namespace herald::store
