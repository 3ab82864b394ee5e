// Idempotency keys of the server API: a retried request with the same key gets the
// first answer, and the work runs once. The claims live behind IdempotencyStore (memory
// here: bounded per app, expiring, forgotten on restart; a shared store in cluster mode).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/http.h"
#include "core/config.h"
#include "core/result.h"

namespace herald::api {

// The claim table: who is running the work for a key, and the answer once it is known.
// Keys belong to a scope (an app): one app's keys never evict another's.
class IdempotencyStore {
 public:
  struct Claim {
    bool owner = false;              // run the work, then finish() or abandon()
    bool conflict = false;           // the key is held for a request with another fingerprint
    std::optional<Response> stored;  // or: the first answer, still within its ttl
  };
  virtual ~IdempotencyStore() = default;
  // Claims `key` for a request whose route and body hash to `fingerprint`. While another
  // caller holds it for the same fingerprint, waits for that caller's finish() (and
  // returns its answer) or abandon() (and tries again), so the work runs at most once.
  virtual Claim claim(const std::string& scope, const std::string& key, const std::string& fingerprint,
                      std::int64_t now_ms) = 0;
  // The owner's answer: kept for the ttl and handed to every waiter.
  virtual void finish(const std::string& scope, const std::string& key, const Response& r, std::int64_t now_ms) = 0;
  // The owner gives the key up without an answer; the next claim runs the work.
  virtual void abandon(const std::string& scope, const std::string& key) = 0;
};

// At most `max_keys` answers in all and `max_keys_per_app` per app, each kept for
// `ttl_ms`. An app at its quota forgets its own oldest answer; when the whole table is
// full, the app holding the most forgets its oldest.
std::unique_ptr<IdempotencyStore> make_memory_idempotency_store(std::size_t max_keys, std::int64_t ttl_ms,
                                                                std::size_t max_keys_per_app);
inline std::unique_ptr<IdempotencyStore> make_memory_idempotency_store(std::size_t max_keys, std::int64_t ttl_ms) {
  return make_memory_idempotency_store(max_keys, ttl_ms, max_keys);
}

// The store named by `api.idempotency_store`; an unknown name is an "invalid_config" error.
Result<std::unique_ptr<IdempotencyStore>> make_idempotency_store(const Config& cfg);

// What binds a stored answer to its request: the method, the path and the body's hash.
std::string idempotency_fingerprint(std::string_view method, std::string_view path, std::string_view body);

class IdempotencyCache {
 public:
  explicit IdempotencyCache(std::unique_ptr<IdempotencyStore> store) : store_(std::move(store)) {}

  // Runs `work` unless `key` of `scope` (an app id) was seen within the TTL, in which
  // case the first response comes back with `replayed` set. A concurrent retry waits
  // for the first to finish instead of running the work twice. The same key with
  // another `fingerprint` is the error "idempotency_conflict".
  Result<Response> run(const std::string& scope, const std::string& key, const std::string& fingerprint,
                       std::int64_t now_ms, const std::function<Response()>& work, bool& replayed);
  // The same for callers that bind no fingerprint.
  Response run(const std::string& scope, const std::string& key, std::int64_t now_ms,
               const std::function<Response()>& work, bool& replayed) {
    return std::move(run(scope, key, std::string(), now_ms, work, replayed).value());
  }

 private:
  std::unique_ptr<IdempotencyStore> store_;
};

}  // namespace herald::api
