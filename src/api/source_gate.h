// The API's pre-authentication gate: per-client-address budgets (auth/source_limiter.h)
// checked before any route authenticates, and refusals of unauthenticated callers
// charged after they are answered.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "api/http.h"
#include "auth/source_limiter.h"
#include "core/clock.h"

namespace herald {
struct Config;
}
namespace herald::metrics {
class Registry;
template <class T>
class Family;
class Counter;
}  // namespace herald::metrics

namespace herald::api {

// The operator routes (status, unseal, seal): open while sealed, so budgeted apart.
bool is_operator_route(std::string_view route);

// An answered refusal whose caller had not proved who it is (no app signature, no admin
// token): what an anonymous client can produce at will.
bool is_unauthenticated_refusal(const Exchange& e);

class SourceGate {
 public:
  SourceGate(const Config& cfg, metrics::Registry* registry, Clock clock = {});
  // Null when the request may go on; else the `rate_limited` answer, with retry_after.
  std::optional<Response> admit(const Request& req, std::string_view route);
  // Every answered API request; charges the unauthenticated refusals.
  void settle(const Exchange& e);

 private:
  auth::SourceLimiter limiter_;
  Clock clock_;
  metrics::Family<metrics::Counter>* limited_ = nullptr;  // label: kind
};

}  // namespace herald::api
