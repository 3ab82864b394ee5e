// The PostgreSQL store's read connections.
#include "store/postgres/pg_readers.h"

namespace herald::store::pg {

Status ReaderPool::open(const ConnectOptions& opts, std::size_t n) {
  for (std::size_t i = 0; i < std::max<std::size_t>(n, 1); ++i) {
    auto c = Connection::open(opts);
    if (!c) return c.error();
    free_.push_back(c->get());
    all_.push_back(std::move(*c));
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
  free_.clear();
  all_.clear();
}

}  // namespace herald::store::pg
