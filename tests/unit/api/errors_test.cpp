#include "api/errors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace herald::api {
namespace {

std::string slurp(const std::string& rel) {
  std::ifstream f(std::string(HERALD_SOURCE_DIR) + "/" + rel);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(Errors, CodesAreUniqueAndStatusesAreErrors) {
  std::set<std::string_view> codes;
  for (const auto& e : error_catalogue()) {
    EXPECT_TRUE(codes.insert(e.code).second) << e.code;
    EXPECT_GE(e.status, 400);
    EXPECT_LT(e.status, 600);
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(Errors, ResponseCarriesCodeMessageAndRequestId) {
  auto r = error_response("body_too_large", "rid-1");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body,
            "{\"error\":{\"code\":\"body_too_large\",\"message\":\"The request body exceeds "
            "limits.max_body_bytes.\",\"request_id\":\"rid-1\"}}");
  EXPECT_EQ(error_response("no_such_code", "").status, 500);
}

TEST(Errors, EveryCodeIsDocumented) {
  std::string doc = slurp("docs/errors.md");
  ASSERT_FALSE(doc.empty());
  for (const auto& e : error_catalogue())
    EXPECT_NE(doc.find("| `" + std::string(e.code) + "` |"), std::string::npos) << e.code;
}

}  // namespace
}  // namespace herald::api
