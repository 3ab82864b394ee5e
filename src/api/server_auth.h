// Authentication of server-API requests: the checks of docs/signing.md, in order, each
// refusal with its own error code and counted in herald_api_auth_failures_total.
#pragma once

#include <memory>
#include <string>

#include "api/http.h"
#include "api/router.h"
#include "apps/app.h"
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
             metrics::Registry& registry);

  // The calling app if every check passes for a route needing `scope`; otherwise the
  // error (code from the catalogue, message for the response). `retry_after_s` is set
  // for rate_limited.
  Result<std::shared_ptr<const apps::App>> authenticate(const Request& req, apps::Scope scope,
                                                        int* retry_after_s = nullptr) const;

 private:
  Error refuse(Errc code, std::string message) const;

  const Config& cfg_;
  const apps::AppDirectory& apps_;
  auth::NonceStore& nonces_;
  auth::RateLimiter& rates_;
  metrics::Family<metrics::Counter>* failures_;
};

// Who a refused request claimed to be, for the audit log: "key:<AppKey>" or "anonymous".
std::string claimed_actor(const Request& req);

// An async route of the signed API: authenticates for `scope` and answers refusals
// itself (with Retry-After when rate limited); otherwise calls `fn` with the app, and
// the reply it gets records the app as the actor.
using SignedHandler = std::function<void(Request&&, std::shared_ptr<const apps::App>, Reply)>;
AsyncHandler signed_async(const ServerAuth* auth, apps::Scope scope, SignedHandler fn);

}  // namespace herald::api
