// Query parameters are read as the signature's canonical form reads them (S4): decoded
// names, '=' optional, and no value at all when a name is given twice.
#include "api/json_body.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

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

// S18: an answer that shows a secret is marked sensitive (the session wipes the body
// once written) and the JSON tree it came from is wiped at once.
TEST(SecretJson, SerialisesThenWipesEveryStringAndMarksTheAnswer) {
  boost::json::value v =
      boost::json::object{{"app_secret", "s3cr3t-value"}, {"nested", boost::json::array{"inner-secret", 5}}, {"n", 1}};
  Response plain = ok_json(200, v);
  EXPECT_FALSE(plain.sensitive);
  Response r = secret_json(201, v);
  EXPECT_TRUE(r.sensitive);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, plain.body);  // what is sent is the secret, unchanged

  wipe_json(v);
  const auto& o = v.as_object();
  EXPECT_EQ(std::string(o.at("app_secret").as_string()), std::string(12, '\0'));
  EXPECT_EQ(std::string(o.at("nested").as_array()[0].as_string()), std::string(12, '\0'));
  EXPECT_EQ(o.at("n").as_int64(), 1);
}

}  // namespace
}  // namespace herald::api
