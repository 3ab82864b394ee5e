// The pre-authentication gate: over-budget requests are answered `rate_limited` with
// retry_after before any handler runs; only unauthenticated refusals are charged.
#include "api/source_gate.h"

#include <gtest/gtest.h>

#include "core/config.h"

namespace herald::api {
namespace {

Request from(const std::string& remote) {
  Request r;
  r.remote_address = remote;
  r.request_id = "rid";
  return r;
}

Exchange refusal(std::string_view remote, std::string_view actor, int status = 401) {
  return Exchange{"POST", "/api/v1/publish", status, "auth_missing", actor, "rid", "", remote};
}

TEST(SourceGate, AnUnauthenticatedFloodIsLimitedAndAnotherSourceIsServed) {
  Config cfg;
  cfg.limits.source_refusal_burst = 5;
  ManualClock clock;
  SourceGate gate(cfg, nullptr, clock.as_clock());
  int served = 0;
  for (int i = 0; i < 50; ++i) {
    if (gate.admit(from("198.51.100.1:4000"), "/api/v1/publish")) continue;
    ++served;
    gate.settle(refusal("198.51.100.1:4000", "anonymous"));
  }
  EXPECT_EQ(served, 5);
  auto r = gate.admit(from("198.51.100.1:4001"), "/api/v1/publish");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_NE(r->body.find("\"rate_limited\""), std::string::npos);
  EXPECT_NE(r->body.find("\"retry_after\":1"), std::string::npos);
  EXPECT_FALSE(gate.admit(from("198.51.100.2:4000"), "/api/v1/publish"));
  clock.advance(1000);
  EXPECT_FALSE(gate.admit(from("198.51.100.1:4000"), "/api/v1/publish"));
}

TEST(SourceGate, AuthenticatedAnswersAndServerErrorsAreNotRefusals) {
  EXPECT_TRUE(is_unauthenticated_refusal(refusal("a", "anonymous")));
  EXPECT_TRUE(is_unauthenticated_refusal(refusal("a", "key:hk_guess", 403)));
  EXPECT_TRUE(is_unauthenticated_refusal(refusal("a", "operator", 400)));  // a bad share
  EXPECT_FALSE(is_unauthenticated_refusal(refusal("a", "app:123", 429)));
  EXPECT_FALSE(is_unauthenticated_refusal(refusal("a", "admin", 404)));
  EXPECT_FALSE(is_unauthenticated_refusal(refusal("a", "anonymous", 503)));  // sealed
  EXPECT_FALSE(is_unauthenticated_refusal(refusal("a", "anonymous", 200)));
}

TEST(SourceGate, OperatorRoutesAreBudgetedPerSource) {
  Config cfg;
  cfg.limits.operator_request_burst = 3;
  ManualClock clock;
  SourceGate gate(cfg, nullptr, clock.as_clock());
  int served = 0;
  for (int i = 0; i < 10; ++i) served += !gate.admit(from("198.51.100.1:1"), "/admin/v1/operator/unseal");
  EXPECT_EQ(served, 3);
  EXPECT_FALSE(gate.admit(from("198.51.100.2:1"), "/admin/v1/operator/unseal"));
  EXPECT_FALSE(gate.admit(from("198.51.100.1:1"), "/admin/v1/apps"));
}

}  // namespace
}  // namespace herald::api
