// Connections checked out one per use, for both drivers' reader pools: a caller waits
// for a free one, and close() waits until every one is back before they are closed.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace herald::store {

template <class C>
class CheckoutPool {
 public:
  // Owned from here (closed by close() even if it never becomes free).
  C* own(std::unique_ptr<C> c) {
    all_.push_back(std::move(c));
    return all_.back().get();
  }
  // Ready for use. Before the first acquire().
  void make_free(C* c) { free_.push_back(c); }
  // Waits for a free connection; null once the pool is closed.
  C* acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !free_.empty(); });
    if (closed_) return nullptr;
    C* c = free_.back();
    free_.pop_back();
    ++out_;
    return c;
  }
  void release(C* c) {
    std::lock_guard lock(mu_);
    free_.push_back(c);
    --out_;
    cv_.notify_all();
  }
  // Later acquires get null; waits for every connection to come back, then calls
  // `close_one` on each and drops them.
  template <class Close>
  void close(Close close_one) {
    std::unique_lock lock(mu_);
    closed_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return out_ == 0; });
    for (auto& c : all_) close_one(*c);
    all_.clear();
    free_.clear();
  }
  std::size_t size() const { return all_.size(); }

 private:
  std::vector<std::unique_ptr<C>> all_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<C*> free_;
  std::size_t out_ = 0;
  bool closed_ = false;
};

}  // namespace herald::store
