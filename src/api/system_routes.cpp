// Health, readiness and metrics. Readiness names the check that fails so that an
// operator need not guess.
#include "api/system_routes.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "core/metrics.h"
#include "crypto/hash.h"
#include "crypto/secret.h"

namespace herald::api {
namespace {

// The metrics name auth failures, OTP outcomes and connection counts: not for anyone.
std::optional<Response> metrics_refusal(const SystemRoutesDeps& d, const Request& req) {
  if (!d.metrics_allowlist.empty() && !d.metrics_allowlist.allows(auth::host_of(req.remote_address)))
    return error_response(Errc::kAddressNotAllowed, req.request_id, "This address may not read /metrics.");
  if (d.metrics_token_sha256.empty()) return std::nullopt;
  std::string_view h = req.header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (h.size() <= kBearer.size() || h.substr(0, kBearer.size()) != kBearer ||
      !crypto::ct_equal(crypto::sha256(h.substr(kBearer.size())), d.metrics_token_sha256)) {
    Response r = error_response(Errc::kMetricsUnauthorized, req.request_id);
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  return std::nullopt;
}

}  // namespace

void add_system_routes(Router& router, SystemRoutesDeps deps) {
  auto shared = std::make_shared<SystemRoutesDeps>(std::move(deps));
  router.add(
      "GET", "/healthz",
      [shared](const Request&) {
        boost::json::object o;
        o["status"] = "ok";
        o["version"] = shared->version;
        return Response{200, "application/json", boost::json::serialize(o), {}};
      },
      true);
  router.add(
      "GET", "/readyz",
      [shared](const Request& req) {
        boost::json::object checks;
        bool ready = true;
        for (const auto& c : shared->readiness) {
          bool pass = c.passing();
          checks[c.name] = pass ? std::string("ok") : c.failing_as;
          ready = ready && pass;
        }
        boost::json::object o;
        o["status"] = ready ? "ready" : "not_ready";
        o["checks"] = std::move(checks);
        if (!ready) o["request_id"] = req.request_id;
        return Response{ready ? 200 : 503, "application/json", boost::json::serialize(o), {}};
      },
      true);
  router.add(
      "GET", "/metrics",
      [shared](const Request& req) {
        if (auto refused = metrics_refusal(*shared, req)) return *refused;
        return Response{200, "text/plain; version=0.0.4; charset=utf-8", shared->registry->render(), {}};
      },
      true);
}

}  // namespace herald::api
