// Operational routes: /healthz (the process answers), /readyz (it should get traffic),
// /metrics (Prometheus text format).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/router.h"

namespace herald::metrics {
class Registry;
}

namespace herald::api {

// One named readiness check; the server is ready when all pass.
struct ReadinessCheck {
  std::string name;
  std::function<bool()> passing;
};

struct SystemRoutesDeps {
  metrics::Registry* registry;
  std::vector<ReadinessCheck> readiness;
  std::string version;
};

void add_system_routes(Router& router, SystemRoutesDeps deps);

}  // namespace herald::api
