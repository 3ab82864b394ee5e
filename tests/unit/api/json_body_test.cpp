// Query parameters are read as the signature's canonical form reads them (S4): decoded
// names, '=' optional, and no value at all when a name is given twice.
#include "api/json_body.h"

#include <gtest/gtest.h>

namespace herald::api {
namespace {

TEST(QueryParam, ReadsTheDecodedNameAndValueOnce) {
  EXPECT_EQ(query_param("start=5&limit=2", "start"), "5");
  EXPECT_EQ(query_param("q=a%20b", "q"), "a b");
  EXPECT_EQ(query_param("q=a+b", "q"), "a+b");  // '+' is a plus sign, as in the canonical form
  EXPECT_EQ(query_param("%73tart=5", "start"), "5");
  EXPECT_EQ(query_param("flag&x=1", "flag"), "");  // no '=' is an empty value, as signed
  EXPECT_EQ(query_param("x=1", "start"), std::nullopt);
  EXPECT_EQ(query_param("start=%zz", "start"), std::nullopt);
}

TEST(QueryParam, ANameGivenTwiceHasNoValue) {
  // Both orders sign the same; neither the first nor the last value is "the" value.
  EXPECT_EQ(query_param("start=5&start=0", "start"), std::nullopt);
  EXPECT_EQ(query_param("start=0&start=5", "start"), std::nullopt);
  EXPECT_EQ(query_param("start=5&%73tart=0", "start"), std::nullopt);
  EXPECT_EQ(query_u64("start=5&start=0", "start"), std::nullopt);
  EXPECT_EQ(query_u64("start=5", "start"), 5u);
}

}  // namespace
}  // namespace herald::api
