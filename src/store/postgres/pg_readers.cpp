// The PostgreSQL store's read connections.
#include "store/postgres/pg_readers.h"

#include <algorithm>

namespace herald::store::pg {

Status ReaderPool::open(const ConnectOptions& opts, std::size_t n) {
  for (std::size_t i = 0; i < std::max<std::size_t>(n, 1); ++i) {
    auto c = Connection::open(opts);
    if (!c) return c.error();
    pool_.make_free(pool_.own(std::move(*c)));
  }
  return ok_status();
}

ReaderPool::Lease ReaderPool::acquire() {
  return Lease(this, pool_.acquire());
}

void ReaderPool::close() {
  pool_.close([](Connection&) {});  // a Connection closes itself when dropped
}

}  // namespace herald::store::pg
