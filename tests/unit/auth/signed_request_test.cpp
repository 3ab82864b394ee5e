#include "auth/signed_request.h"

#include <gtest/gtest.h>

namespace herald::auth {
namespace {

TEST(SignedRequest, TheDocumentedV2ExampleIsAKnownAnswer) {
  RequestToSign r{SigningVersion::kV2,
                  "prod-eu",
                  "POST",
                  "/api/v1/publish",
                  "z=1&a=x%20y",
                  R"({"channel":"news","data":{"text":"hi"}})",
                  "1700000000",
                  "AAECAwQFBgcICQoLDA0ODw",
                  "hk_example"};
  EXPECT_EQ(canonical_request(r),
            "HERALD-HMAC-SHA256-v2\nprod-eu\nPOST\n/api/v1/publish\na=x%20y&z=1\n"
            "04567338000ae4cb84e7f42df22b07c7730d09462c22b8bc18fa35335b051753\n1700000000\nAAECAwQFBgcICQoLDA0ODw\n"
            "hk_example");
  EXPECT_EQ(sign_request(r, "as_example_secret"), "c29b798d88161aa8c196f9c96beff131f0058a5763472a4e10918ca0a1afe02c");
}

// v1 (for apps in api.signature_v1_apps): no deployment line, and the first line without -v2.
TEST(SignedRequest, TheDocumentedV1ExampleIsAKnownAnswer) {
  RequestToSign r{SigningVersion::kV1,
                  "prod-eu",  // ignored by v1
                  "POST",
                  "/api/v1/publish",
                  "z=1&a=x%20y",
                  R"({"channel":"news","data":{"text":"hi"}})",
                  "1700000000",
                  "AAECAwQFBgcICQoLDA0ODw",
                  "hk_example"};
  EXPECT_EQ(canonical_request(r),
            "HERALD-HMAC-SHA256\nPOST\n/api/v1/publish\na=x%20y&z=1\n"
            "04567338000ae4cb84e7f42df22b07c7730d09462c22b8bc18fa35335b051753\n1700000000\nAAECAwQFBgcICQoLDA0ODw\n"
            "hk_example");
  EXPECT_EQ(sign_request(r, "as_example_secret"), "e5100641ab7815b6a5b78849915d27520d178fd70b57f98f8c326d608b7f2627");
}

TEST(SignedRequest, QueryOrderAndEncodingDoNotMatterButContentDoes) {
  EXPECT_EQ(canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(canonical_query("a=x%20y"), canonical_query("a=x%20y"));
  EXPECT_EQ(canonical_query("a=%7e"), "a=~");
  EXPECT_EQ(canonical_query("a=~"), "a=~");
  EXPECT_EQ(canonical_query("q=a+b"), "q=a%2Bb");  // '+' is a plus sign
  EXPECT_EQ(canonical_query("q=a%20b"), "q=a%20b");
  EXPECT_NE(canonical_query("q=a+b"), canonical_query("q=a%20b"));
  EXPECT_EQ(canonical_query("flag&&x="), "flag=&x=");
  EXPECT_EQ(canonical_query(""), "");
  EXPECT_EQ(canonical_query("a=%zz"), "a=%25zz");  // a broken escape is data, not an error
  EXPECT_EQ(canonical_query("a=%2"), "a=%252");
  EXPECT_EQ(canonical_query("%61=1"), "a=1");
}

TEST(SignedRequest, MalformedEscapesAreDetected) {
  EXPECT_TRUE(well_formed_escapes("/api/v1/publish"));
  EXPECT_TRUE(well_formed_escapes("a=%20&b=%7E"));
  for (const char* bad : {"a=%zz", "a=%2", "%", "a=%g0", "/x%"}) EXPECT_FALSE(well_formed_escapes(bad)) << bad;
}

// The routes read a parameter by its name as sent, once: names must need no decoding and
// appear once, or a route could read something other than what was signed.
TEST(SignedRequest, AmbiguousQueryNamesAreDetected) {
  EXPECT_TRUE(unambiguous_query(""));
  EXPECT_TRUE(unambiguous_query("start=5&limit=%31&q=a%20b"));
  EXPECT_TRUE(unambiguous_query("flag&&x="));
  EXPECT_FALSE(unambiguous_query("start=5&start=0"));
  EXPECT_FALSE(unambiguous_query("start&start=0"));
  EXPECT_FALSE(unambiguous_query("%73tart=5"));
  EXPECT_FALSE(unambiguous_query("a=1&%61=2"));
}

TEST(SignedRequest, PathSegmentsAreReEncoded) {
  EXPECT_EQ(canonical_path("/api/v1/publish"), "/api/v1/publish");
  EXPECT_EQ(canonical_path("/a%7eb"), "/a~b");
  EXPECT_EQ(canonical_path("/a b/c"), "/a%20b/c");
  EXPECT_EQ(canonical_path("/a%2Fb"), "/a%2Fb");  // an encoded slash stays inside its segment
  EXPECT_NE(canonical_path("/a%2Fb"), canonical_path("/a/b"));
}

TEST(SignedRequest, EveryPartIsBoundIntoTheSignature) {
  RequestToSign base{SigningVersion::kV2,       "prod", "POST", "/api/v1/publish", "", "{}", "1700000000",
                     "nonce-nonce-nonce-nonce", "hk_1"};
  std::string sig = sign_request(base, "secret");
  auto differs = [&](RequestToSign r) { return sign_request(r, "secret") != sig; };
  RequestToSign r = base;
  r.method = "PUT";
  EXPECT_TRUE(differs(r));
  r = base;
  r.path = "/api/v1/broadcast";
  EXPECT_TRUE(differs(r));
  r = base;
  r.query = "x=1";
  EXPECT_TRUE(differs(r));
  r = base;
  r.body = "{} ";
  EXPECT_TRUE(differs(r));
  r = base;
  r.timestamp = "1700000001";
  EXPECT_TRUE(differs(r));
  r = base;
  r.nonce = "nonce-nonce-nonce-nonceX";
  EXPECT_TRUE(differs(r));
  r = base;
  r.app_key = "hk_2";
  EXPECT_TRUE(differs(r));
  EXPECT_NE(sign_request(base, "secret2"), sig);
  EXPECT_EQ(sign_request(base, "secret"), sig);
}

}  // namespace
}  // namespace herald::auth
