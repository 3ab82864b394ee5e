// Pre-authentication limits per client address; see source_gate.h.
#include "api/source_gate.h"

#include "api/errors.h"
#include "auth/ip_allowlist.h"
#include "core/config.h"
#include "core/metrics.h"

namespace herald::api {

bool is_operator_route(std::string_view route) {
  return route.rfind("/admin/v1/operator/", 0) == 0;
}

bool is_unauthenticated_refusal(const Exchange& e) {
  if (e.status < 400 || e.status >= 500) return false;
  return e.actor.empty() || e.actor == "anonymous" || e.actor == "operator" || e.actor.rfind("key:", 0) == 0;
}

namespace {

auth::SourceLimiter::Options options_of(const LimitsConfig& l) {
  auto spec = [](std::uint64_t rate, std::uint64_t burst) {
    return auth::BucketSpec{static_cast<double>(rate), static_cast<double>(burst)};
  };
  return auth::SourceLimiter::Options{spec(l.source_requests_per_second, l.source_request_burst),
                                      spec(l.source_refusals_per_second, l.source_refusal_burst),
                                      spec(l.operator_requests_per_second, l.operator_request_burst),
                                      static_cast<std::size_t>(l.max_sources)};
}

}  // namespace

SourceGate::SourceGate(const Config& cfg, metrics::Registry* registry, Clock clock)
    : limiter_(options_of(cfg.limits)), clock_(std::move(clock)) {
  if (registry)
    limited_ =
        &registry->counter("herald_source_limited_total",
                           "API requests refused before authentication by a per-address budget, by kind", {"kind"});
}

std::optional<Response> SourceGate::admit(const Request& req, std::string_view route) {
  bool op = is_operator_route(route);
  auto d = limiter_.admit(auth::host_of(req.remote_address), op, now_ms(clock_));
  if (d.allowed) return std::nullopt;
  if (limited_) limited_->with({op ? "operator" : "source"}).inc();
  Error e{Errc::kRateLimited, "too many requests (or refused requests) from this address; see retry_after"};
  e.retry_after_s = std::max<std::int64_t>(1, (d.retry_after_ms + 999) / 1000);
  Response r = error_from(req.request_id, e);
  r.actor = "anonymous";
  return r;
}

void SourceGate::settle(const Exchange& e) {
  if (is_unauthenticated_refusal(e)) limiter_.refused(auth::host_of(e.remote), now_ms(clock_));
}

}  // namespace herald::api
