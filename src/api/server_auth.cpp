// The order of the checks matters: nothing about an app is revealed before its key is
// known, no secret is touched before the cheap checks pass, and the nonce is spent
// only once the signature proves the request came from the app and the app's rate
// limit let it through (so a flood refused as rate_limited fills no nonce store).
#include "api/server_auth.h"

#include "api/errors.h"

#include <algorithm>
#include <charconv>

#include "auth/ip_allowlist.h"
#include "auth/rate_limiter.h"
#include "auth/replay_guard.h"
#include "auth/signed_request.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "crypto/secret.h"

namespace herald::api {
namespace {

bool all_of(std::string_view s, bool (*pred)(char)) {
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_b64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

ServerAuth::ServerAuth(const Config& cfg, const apps::AppDirectory& apps, auth::NonceStore& nonces,
                       auth::RateLimiter& rates, metrics::Registry& registry, Clock clock)
    : cfg_(cfg),
      apps_(apps),
      nonces_(nonces),
      rates_(rates),
      clock_(std::move(clock)),
      failures_(&registry.counter("herald_api_auth_failures_total",
                                  "Server-API requests refused by authentication, by error code", {"code"})) {
  std::string_view list = cfg.api.signature_v1_apps;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view id = list.substr(0, comma);
    while (!id.empty() && id.front() == ' ') id.remove_prefix(1);
    while (!id.empty() && id.back() == ' ') id.remove_suffix(1);
    if (!id.empty()) v1_apps_.emplace_back(id);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
}

Error ServerAuth::refuse(Errc code, std::string message, std::int64_t retry_after_s) const {
  failures_->with({std::string(errc_code(code))}).inc();
  return Error{code, std::move(message), retry_after_s};
}

bool ServerAuth::v1_allowed(const apps::App& app) const {
  return std::find(v1_apps_.begin(), v1_apps_.end(), app.id) != v1_apps_.end();
}

Result<std::shared_ptr<const apps::App>> ServerAuth::authenticate(const Request& req, apps::Scope scope) const {
  const bool signed_mode = cfg_.api.require_signature;
  std::string_view key = req.header("X-Herald-Key");
  std::string_view ts = req.header("X-Herald-Timestamp");
  std::string_view nonce = req.header("X-Herald-Nonce");
  std::string_view sig = req.header("X-Herald-Signature");
  std::string_view version = req.header("X-Herald-Signature-Version");

  // 1. Headers present and well formed.
  if (key.empty() || key.size() > 128) return refuse(Errc::kAuthMissing, "X-Herald-Key is missing");
  if (signed_mode) {
    if (ts.empty() || ts.size() > 12 || !all_of(ts, is_digit))
      return refuse(Errc::kAuthMissing, "X-Herald-Timestamp must be Unix seconds in digits");
    if (nonce.size() < 22 || nonce.size() > 86 || !all_of(nonce, is_b64url))
      return refuse(Errc::kAuthMissing, "X-Herald-Nonce must be 22 to 86 base64url characters (16 to 64 random bytes)");
    if (sig.size() != 64 || !all_of(sig, is_lower_hex))
      return refuse(Errc::kAuthMissing, "X-Herald-Signature must be 64 lower-case hex digits");
    if (!version.empty() && version != "2")
      return refuse(Errc::kAuthMissing, "X-Herald-Signature-Version must be 2 (or absent, for v1)");
    if (!auth::well_formed_escapes(req.path) || !auth::well_formed_escapes(req.query))
      return refuse(Errc::kMalformedTarget, "the path or query has a '%' not followed by two hex digits");
    if (!auth::unambiguous_query(req.query))
      return refuse(Errc::kMalformedTarget, "a query parameter name is escaped or given more than once");
  }
  // 2. Known app; 3. active.
  auto app = apps_.find_by_key(key);
  if (!app) return refuse(Errc::kAppUnknown, "no app has this AppKey");
  if (app->status != apps::AppStatus::Active) return refuse(Errc::kAppSuspended, "the app is suspended");
  // 4. Address allowed.
  if (!app->allowlist.empty() && !app->allowlist.allows(auth::host_of(req.remote_address)))
    return refuse(Errc::kAddressNotAllowed, "this address may not call the API for this app");
  const std::int64_t now_ms = herald::now_ms(clock_);
  if (signed_mode)
    if (auto st = check_signature(req, *app, now_ms); !st) return st.error();
  // 8. Scope.
  if ((app->scopes & scope) == 0)
    return refuse(Errc::kScopeMissing, std::string("the app lacks the '") + apps::scope_name(scope) + "' scope");
  if (auto st = spend(req, *app, now_ms); !st) return st.error();
  return app;
}

Status ServerAuth::check_signature(const Request& req, const apps::App& app, std::int64_t now_ms) const {
  std::string_view ts = req.header("X-Herald-Timestamp");
  // 5. Timestamp within the window.
  std::int64_t t = 0;
  std::from_chars(ts.data(), ts.data() + ts.size(), t);
  const std::int64_t window_s = cfg_.api.signature_window.count() / 1000;
  const std::int64_t now_s = now_ms / 1000;
  if (t < now_s - window_s || t > now_s + window_s)
    return refuse(Errc::kTimestampOutOfWindow,
                  "the timestamp is more than " + std::to_string(window_s) + " s from the server's clock");
  // 6. Scheme: v1 binds no deployment, so only apps that opted in may still use it.
  const bool v2 = req.header("X-Herald-Signature-Version") == "2";
  if (!v2 && !v1_allowed(app))
    return refuse(Errc::kSignatureVersionRefused,
                  "the app must sign with HERALD-HMAC-SHA256-v2 (X-Herald-Signature-Version: 2)");
  // 7. Signature, against every active secret, in constant time.
  auth::RequestToSign r{v2 ? auth::SigningVersion::kV2 : auth::SigningVersion::kV1,
                        cfg_.server.deployment_id,
                        req.method,
                        req.path,
                        req.query,
                        req.body,
                        ts,
                        req.header("X-Herald-Nonce"),
                        req.header("X-Herald-Key")};
  std::string_view sig = req.header("X-Herald-Signature");
  bool match = false;
  for (const auto& s : app.secrets) match = crypto::ct_equal(auth::sign_request(r, s.secret.view()), sig) || match;
  if (!match) return refuse(Errc::kSignatureInvalid, "the signature does not match the request");
  return ok_status();
}

Status ServerAuth::spend(const Request& req, const apps::App& app, std::int64_t now_ms) const {
  const bool signed_mode = cfg_.api.require_signature;
  std::string_view nonce = req.header("X-Herald-Nonce");
  // 9. Nonce unused: a replay is refused here without taking a rate token.
  if (signed_mode && nonces_.seen(app.id, nonce, now_ms))
    return refuse(Errc::kNonceReplayed, "this nonce was used before");
  // 10. Rate.
  if (app.rate_limit > 0) {
    double rate = app.rate_limit;
    auto d = rates_.take("app:" + app.id, rate, rate * 2, now_ms);
    if (!d.allowed)
      return refuse(Errc::kRateLimited, "the app exceeds its rate of " + std::to_string(app.rate_limit) + " requests/s",
                    (d.retry_after_ms + 999) / 1000);
  }
  if (!signed_mode) return ok_status();
  // 11. Nonce recorded until the signed timestamp leaves the window; spent from here
  // on, whatever happens next. The store checks again: two copies may race here.
  std::string_view ts = req.header("X-Herald-Timestamp");
  std::int64_t t = 0;
  std::from_chars(ts.data(), ts.data() + ts.size(), t);
  const std::int64_t window_s = cfg_.api.signature_window.count() / 1000;
  auto used = nonces_.use(
      auth::NonceUse{app.id, nonce, (t + window_s + 1) * 1000, auth::nonce_quota(cfg_, app.rate_limit)}, now_ms);
  if (!used) return refuse(used.error().code, used.error().message);
  return ok_status();
}

}  // namespace herald::api

namespace herald::api {

std::string claimed_actor(const Request& req) {
  std::string_view key = req.header("X-Herald-Key");
  if (key.empty()) return "anonymous";
  return "key:" + std::string(key.substr(0, 64));
}

AsyncHandler signed_async(const ServerAuth* auth, apps::Scope scope, SignedHandler fn) {
  return [auth, scope, fn = std::move(fn)](Request&& req, Reply reply) {
    auto app = auth->authenticate(req, scope);
    if (!app) {
      Response r = error_from(req, app.error());
      r.actor = claimed_actor(req);
      return reply(std::move(r));
    }
    Reply tagged = [reply = std::move(reply), actor = "app:" + (*app)->id](Response r) {
      r.actor = actor;
      reply(std::move(r));
    };
    fn(std::move(req), std::move(*app), std::move(tagged));
  };
}

}  // namespace herald::api
