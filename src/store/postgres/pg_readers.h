// A few PostgreSQL connections for reads, checked out one per read; a connection the
// server dropped is opened again on its next use, so reads recover by themselves.
#pragma once

#include "store/checkout_pool.h"
#include "store/postgres/pg_conn.h"

namespace herald::store::pg {

class ReaderPool {
 public:
  class Lease {
   public:
    Lease(ReaderPool* pool, Connection* c) : pool_(pool), c_(c) {}
    ~Lease() {
      if (c_) pool_->pool_.release(c_);
    }
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(o.c_) { o.c_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;

    template <class Read>
    auto query(std::string_view sql, const Params& p, Read read, std::string_view what) {
      using Rows = decltype(std::declval<Connection&>().query(sql, p, read, what));
      if (!c_) return Rows(make_error(Errc::kStoreClosed, std::string(what) + ": the store is closed"));
      return c_->query(sql, p, read, what);
    }

   private:
    ReaderPool* pool_;
    Connection* c_;
  };

  // Opens `n` connections.
  Status open(const ConnectOptions& opts, std::size_t n);
  Lease acquire();
  // Waits for every lease to come back, then closes the connections; later reads fail.
  void close();

 private:
  CheckoutPool<Connection> pool_;
};

}  // namespace herald::store::pg
