#include "api/router.h"

#include <gtest/gtest.h>

namespace herald::api {
namespace {

TEST(Router, MatchesMethodAndPath) {
  Router r;
  r.add("GET", "/a", [](const Request&) { return Response{200, "text/plain", "a", {}}; });
  r.add("POST", "/a", [](const Request&) { return Response{201, "text/plain", "p", {}}; });
  r.add_websocket("/ws");
  auto m = r.match("GET", "/a");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "GET");
  EXPECT_EQ(r.match("POST", "/a").route->method, "POST");
  EXPECT_EQ(r.match("HEAD", "/a").route->method, "GET");
  auto no = r.match("DELETE", "/a");
  EXPECT_EQ(no.route, nullptr);
  EXPECT_EQ(no.error, Errc::kMethodNotAllowed);
  EXPECT_EQ(r.match("GET", "/b").error, Errc::kNotFound);
  EXPECT_EQ(r.match("GET", "/b").label, "other");  // unknown paths share one metrics label
  EXPECT_EQ(r.match("GET", "/ws").error, Errc::kUpgradeRequired);
  EXPECT_TRUE(r.is_websocket("/ws"));
  EXPECT_FALSE(r.is_websocket("/a"));
}

TEST(Router, HeaderLookupIsCaseInsensitive) {
  Request req;
  req.headers = {{"Content-Type", "a"}, {"X-Thing", "b"}};
  EXPECT_EQ(req.header("content-type"), "a");
  EXPECT_EQ(req.header("X-THING"), "b");
  EXPECT_EQ(req.header("missing"), "");
}

}  // namespace
}  // namespace herald::api
