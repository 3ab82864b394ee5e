// Authentication of server-API requests: the checks of docs/signing.md, in order, each
// refusal with its own error code and counted in herald_api_auth_failures_total.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/http.h"
#include "api/router.h"
#include "apps/app.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/result.h"

namespace herald::auth {
class NonceStore;
class RateLimiter;
}  // namespace herald::auth

namespace herald::metrics {
class Registry;
template <class T>
class Family;
class Counter;
}  // namespace herald::metrics

namespace herald::api {

class ServerAuth {
 public:
  ServerAuth(const Config& cfg, const apps::AppDirectory& apps, auth::NonceStore& nonces, auth::RateLimiter& rates,
             metrics::Registry& registry, Clock clock = {});

  // The calling app if every check passes for a route needing `scope`; otherwise the
  // error (code from the catalogue, message for the response; retry_after_s for
  // rate_limited).
  Result<std::shared_ptr<const apps::App>> authenticate(const Request& req, apps::Scope scope) const;

 private:
  Error refuse(Errc code, std::string message, std::int64_t retry_after_s = 0) const;
  // Steps 5 to 7 of docs/signing.md: timestamp, scheme, signature.
  Status check_signature(const Request& req, const apps::App& app, std::int64_t now_ms) const;
  // Steps 9 to 11: a replay is refused before it costs a rate token, and a nonce is
  // recorded only for a request the rate limit lets through.
  Status spend(const Request& req, const apps::App& app, std::int64_t now_ms) const;
  bool v1_allowed(const apps::App& app) const;

  const Config& cfg_;
  const apps::AppDirectory& apps_;
  auth::NonceStore& nonces_;
  auth::RateLimiter& rates_;
  Clock clock_;
  std::vector<std::string> v1_apps_;
  metrics::Family<metrics::Counter>* failures_;
};

// Who a refused request claimed to be, for the audit log: "key:<AppKey>" or "anonymous".
std::string claimed_actor(const Request& req);

// The one wrapper of every signed route: authenticates for `scope` and answers refusals
// itself (with Retry-After when rate limited); otherwise calls `fn` with the app, and
// the reply it gets records the app as the actor.
using SignedHandler = std::function<void(Request&&, std::shared_ptr<const apps::App>, Reply)>;
AsyncHandler signed_async(const ServerAuth* auth, apps::Scope scope, SignedHandler fn);

}  // namespace herald::api
