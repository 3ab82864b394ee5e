// Operational routes: /healthz (the process answers), /readyz (it should get traffic),
// /metrics (Prometheus text format, optionally behind a bearer token and/or CIDRs).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/router.h"
#include "auth/ip_allowlist.h"

namespace herald::metrics {
class Registry;
}

namespace herald::api {

// One named readiness check; the server is ready when all pass.
struct ReadinessCheck {
  std::string name;
  std::function<bool()> passing;
  std::string failing_as = "failing";  // what /readyz says when it fails, e.g. "sealed"
};

struct SystemRoutesDeps {
  metrics::Registry* registry;
  std::vector<ReadinessCheck> readiness;
  std::string version;
  // Who may read /metrics: the SHA-256 of the bearer token (empty: no token needed) and
  // the client CIDRs (empty: any address); both must pass when both are set.
  std::string metrics_token_sha256;
  auth::IpAllowlist metrics_allowlist;
};

void add_system_routes(Router& router, SystemRoutesDeps deps);

}  // namespace herald::api
