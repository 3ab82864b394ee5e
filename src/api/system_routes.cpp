// Health, readiness and metrics. Readiness names the check that fails so that an
// operator need not guess.
#include "api/system_routes.h"

#include <boost/json.hpp>

#include "core/metrics.h"

namespace herald::api {

void add_system_routes(Router& router, SystemRoutesDeps deps) {
  auto shared = std::make_shared<SystemRoutesDeps>(std::move(deps));
  router.add("GET", "/healthz", [shared](const Request&) {
    boost::json::object o;
    o["status"] = "ok";
    o["version"] = shared->version;
    return Response{200, "application/json", boost::json::serialize(o), {}};
  }, true);
  router.add("GET", "/readyz", [shared](const Request& req) {
    boost::json::object checks;
    bool ready = true;
    for (const auto& c : shared->readiness) {
      bool pass = c.passing();
      checks[c.name] = pass ? "ok" : "failing";
      ready = ready && pass;
    }
    boost::json::object o;
    o["status"] = ready ? "ready" : "not_ready";
    o["checks"] = std::move(checks);
    if (!ready) o["request_id"] = req.request_id;
    return Response{ready ? 200 : 503, "application/json", boost::json::serialize(o), {}};
  }, true);
  router.add("GET", "/metrics", [shared](const Request&) {
    return Response{200, "text/plain; version=0.0.4; charset=utf-8", shared->registry->render(), {}};
  }, true);
}

}  // namespace herald::api
