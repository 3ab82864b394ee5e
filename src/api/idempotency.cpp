// The memory claim table: per app, a map of keys and the order their answers expire in
// (the ttl is fixed, so the oldest is in front). One lock; no lock is held while work
// runs, and waiters sleep on a condition variable.
#include "api/idempotency.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "auth/keyed_hash.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"

namespace herald::api {
namespace {

class MemoryIdempotencyStore final : public IdempotencyStore {
 public:
  MemoryIdempotencyStore(std::size_t max_keys, std::int64_t ttl_ms, std::size_t max_per_app)
      : max_keys_(std::max<std::size_t>(1, max_keys)),
        max_per_app_(std::max<std::size_t>(1, std::min(max_keys, max_per_app))),
        ttl_ms_(ttl_ms) {}

  Claim claim(const std::string& scope, const std::string& key, const std::string& fingerprint,
              std::int64_t now_ms) override {
    std::unique_lock lock(mu_);
    for (;;) {
      AppKeys& app = apps_[scope];
      expire(app, now_ms);
      auto it = app.entries.find(key);
      if (it == app.entries.end()) {
        make_room(scope, app, now_ms);
        app.entries.emplace(key, Entry{false, fingerprint, {}});
        ++total_;
        return Claim{true, false, std::nullopt};
      }
      if (it->second.fingerprint != fingerprint) return Claim{false, true, std::nullopt};
      if (it->second.done) return Claim{false, false, it->second.response};
      cv_.wait(lock);  // the owner is running the work
    }
  }

  void finish(const std::string& scope, const std::string& key, const Response& r, std::int64_t now_ms) override {
    std::lock_guard lock(mu_);
    auto a = apps_.find(scope);
    if (a == apps_.end()) return;
    auto it = a->second.entries.find(key);
    if (it == a->second.entries.end() || it->second.done) return;
    it->second.done = true;
    it->second.response = r;
    a->second.order.emplace_back(now_ms + ttl_ms_, key);
    cv_.notify_all();
  }

  void abandon(const std::string& scope, const std::string& key) override {
    std::lock_guard lock(mu_);
    if (auto a = apps_.find(scope); a != apps_.end()) {
      auto it = a->second.entries.find(key);
      if (it != a->second.entries.end() && !it->second.done) {
        a->second.entries.erase(it);
        --total_;
      }
    }
    cv_.notify_all();
  }

 private:
  struct Entry {
    bool done = false;  // false while its owner runs the work
    std::string fingerprint;
    Response response;
  };
  struct AppKeys {
    std::unordered_map<std::string, Entry, auth::KeyedHash, std::equal_to<>> entries;
    // Finished keys by expiry; claims in progress are not here and are never evicted.
    std::deque<std::pair<std::int64_t, std::string>> order;
  };

  void expire(AppKeys& app, std::int64_t now_ms) {
    while (!app.order.empty() && app.order.front().first <= now_ms) drop_oldest(app);
  }
  void drop_oldest(AppKeys& app) {
    if (app.entries.erase(app.order.front().second)) --total_;
    app.order.pop_front();
  }

  // The app's own quota first: it forgets its own oldest answer. Then the whole table:
  // the app holding the most forgets its oldest, so a flood only ever costs the flooder.
  void make_room(const std::string& scope, AppKeys& app, std::int64_t now_ms) {
    if (app.entries.size() >= max_per_app_ && !app.order.empty()) drop_oldest(app);
    if (total_ < max_keys_) return;
    AppKeys* largest = nullptr;
    for (auto it = apps_.begin(); it != apps_.end();) {
      expire(it->second, now_ms);
      if (it->second.entries.empty() && it->first != scope) {
        it = apps_.erase(it);
        continue;
      }
      if (!it->second.order.empty() && (!largest || it->second.entries.size() > largest->entries.size()))
        largest = &it->second;
      ++it;
    }
    if (total_ >= max_keys_ && largest) drop_oldest(*largest);
  }

  std::size_t max_keys_;
  std::size_t max_per_app_;
  std::int64_t ttl_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, AppKeys, auth::KeyedHash, std::equal_to<>> apps_;
  std::size_t total_ = 0;
};

}  // namespace

std::unique_ptr<IdempotencyStore> make_memory_idempotency_store(std::size_t max_keys, std::int64_t ttl_ms,
                                                                std::size_t max_keys_per_app) {
  return std::make_unique<MemoryIdempotencyStore>(max_keys, ttl_ms, max_keys_per_app);
}

Result<std::unique_ptr<IdempotencyStore>> make_idempotency_store(const Config& cfg) {
  if (cfg.api.idempotency_store == "memory")
    return make_memory_idempotency_store(cfg.api.idempotency_max_keys, cfg.api.idempotency_ttl.count(),
                                         cfg.api.idempotency_max_keys_per_app);
  return make_error(Errc::kInvalidConfig,
                    "api.idempotency_store: unknown store '" + cfg.api.idempotency_store + "' (known: memory)");
}

std::string idempotency_fingerprint(std::string_view method, std::string_view path, std::string_view body) {
  std::string text;
  text.reserve(method.size() + path.size() + 66);
  text.append(method).push_back('\n');
  text.append(path).push_back('\n');
  text.append(crypto::hex_encode(crypto::sha256(body)));
  return crypto::hex_encode(crypto::sha256(text));
}

Result<Response> IdempotencyCache::run(const std::string& scope, const std::string& key, const std::string& fingerprint,
                                       std::int64_t now_ms, const std::function<Response()>& work, bool& replayed) {
  auto claim = store_->claim(scope, key, fingerprint, now_ms);
  replayed = false;
  if (claim.conflict)
    return make_error(Errc::kIdempotencyConflict,
                      "this idempotency_key was used for a different request; use a new key for new content");
  if (!claim.owner) {
    replayed = true;
    return std::move(*claim.stored);
  }
  Response r;
  try {
    r = work();
  } catch (...) {
    store_->abandon(scope, key);  // or the waiters would wait for ever
    throw;
  }
  if (r.status < 500)  // a failure the client may retry is not remembered
    store_->finish(scope, key, r, now_ms);
  else
    store_->abandon(scope, key);
  return r;
}

}  // namespace herald::api
