#include "core/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace herald {
namespace {

TEST(Ids, RequestIdsAreUniqueAndSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = next_request_id();
    EXPECT_TRUE(acceptable_request_id(id)) << id;
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(Ids, ClientRequestIdsAreFiltered) {
  EXPECT_TRUE(acceptable_request_id("abc-123_x.y"));
  EXPECT_FALSE(acceptable_request_id(""));
  EXPECT_FALSE(acceptable_request_id(std::string(65, 'a')));
  EXPECT_FALSE(acceptable_request_id("a b"));
  EXPECT_FALSE(acceptable_request_id("a\r\nSet-Cookie: x"));
  EXPECT_FALSE(acceptable_request_id("<script>"));
}

}  // namespace
}  // namespace herald
