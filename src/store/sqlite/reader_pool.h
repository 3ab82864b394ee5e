// A few read-only connections to the store's database, checked out one per read. WAL
// lets readers run beside each other and beside the writer, so a background scan no
// longer holds up a WebSocket connect that needs one row.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "store/checkout_pool.h"

struct sqlite3;
struct sqlite3_stmt;

namespace herald::store {

class ReaderPool {
  struct Connection {
    sqlite3* db = nullptr;
    // Prepared once per connection (reads repeat a few dozen statements); keyed by SQL text.
    std::unordered_map<std::string, sqlite3_stmt*> statements;
  };

 public:
  // A cached statement in use; reset when dropped, so that it holds no read transaction open.
  class Statement {
   public:
    explicit Statement(sqlite3_stmt* s) : s_(s) {}
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    sqlite3_stmt* get() const { return s_; }
    explicit operator bool() const { return s_ != nullptr; }

   private:
    sqlite3_stmt* s_;
  };

  // One connection, held until the lease is dropped. An empty lease (the pool is closed)
  // gives reads that fail with "no connection".
  class Lease {
   public:
    Lease(ReaderPool* pool, Connection* c) : pool_(pool), c_(c) {}
    ~Lease();
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(o.c_) { o.c_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    sqlite3* db() const;
    Statement statement(std::string_view sql);

   private:
    ReaderPool* pool_;
    Connection* c_;
  };

  ReaderPool() = default;
  ~ReaderPool() { close(); }
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // Opens `n` read-only connections to `path` (the writer has made it a WAL database).
  Status open(const std::string& path, std::size_t n);
  // Waits for a free connection.
  Lease acquire();
  // Waits for every lease to come back, then closes the connections; later reads fail.
  void close();
  std::size_t size() const { return pool_.size(); }

 private:
  CheckoutPool<Connection> pool_;
};

}  // namespace herald::store
