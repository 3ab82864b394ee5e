// The SDK's signer against docs/signing.md: the worked example as a known answer, and
// each canonicalisation rule on its own.
#include "herald/signer.h"

#include <gtest/gtest.h>

#include <set>

#include "herald/secret.h"

namespace herald::sdk {
namespace {

constexpr char kEmptyBodyHash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string canon_query(std::string_view q) {
  auto r = canonical_query(q);
  EXPECT_TRUE(r.ok()) << q;
  return r.ok() ? *r : std::string();
}

std::string canon_path(std::string_view p) {
  auto r = canonical_path(p);
  EXPECT_TRUE(r.ok()) << p;
  return r.ok() ? *r : std::string();
}

TEST(SdkSigner, DocumentedExampleCanonicalRequestAndSignature) {
  SigningInput in{"POST",       "/api/v1/publish?z=1&a=x%20y", R"({"channel":"news","data":{"text":"hi"}})",
                  "1700000000", "AAECAwQFBgcICQoLDA0ODw",      "hk_example",
                  "prod-eu"};
  auto canonical = canonical_request(in);
  ASSERT_TRUE(canonical.ok());
  EXPECT_EQ(*canonical,
            "HERALD-HMAC-SHA256-v2\n"
            "prod-eu\n"
            "POST\n"
            "/api/v1/publish\n"
            "a=x%20y&z=1\n"
            "04567338000ae4cb84e7f42df22b07c7730d09462c22b8bc18fa35335b051753\n"
            "1700000000\n"
            "AAECAwQFBgcICQoLDA0ODw\n"
            "hk_example");
  auto sig = sign_canonical_request(*canonical, "as_example_secret");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(*sig, "c29b798d88161aa8c196f9c96beff131f0058a5763472a4e10918ca0a1afe02c");

  auto headers = sign_request(in, "as_example_secret");
  ASSERT_TRUE(headers.ok());
  EXPECT_EQ(headers->key, "hk_example");
  EXPECT_EQ(headers->timestamp, "1700000000");
  EXPECT_EQ(headers->nonce, "AAECAwQFBgcICQoLDA0ODw");
  EXPECT_EQ(headers->signature, *sig);
  EXPECT_EQ(headers->version, "2");
}

// v1, for apps the server still lets sign with it: the example of docs/signing.md.
TEST(SdkSigner, DocumentedV1ExampleCanonicalRequestAndSignature) {
  SigningInput in{"POST",
                  "/api/v1/publish?z=1&a=x%20y",
                  R"({"channel":"news","data":{"text":"hi"}})",
                  "1700000000",
                  "AAECAwQFBgcICQoLDA0ODw",
                  "hk_example",
                  "",
                  SigningVersion::kV1};
  auto canonical = canonical_request(in);
  ASSERT_TRUE(canonical.ok());
  EXPECT_EQ(canonical->substr(0, canonical->find('\n')), "HERALD-HMAC-SHA256");
  auto headers = sign_request(in, "as_example_secret");
  ASSERT_TRUE(headers.ok());
  EXPECT_EQ(headers->signature, "e5100641ab7815b6a5b78849915d27520d178fd70b57f98f8c326d608b7f2627");
  EXPECT_EQ(headers->version, "");
}

TEST(SdkSigner, EmptyBodyHashIsSha256OfNothing) {
  EXPECT_EQ(body_hash(""), kEmptyBodyHash);
  SigningInput in{"GET", "/api/v1/app", "", "1700000000", "AAECAwQFBgcICQoLDA0ODw", "hk_example"};
  auto c = canonical_request(in);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, std::string("HERALD-HMAC-SHA256-v2\n\nGET\n/api/v1/app\n\n") + kEmptyBodyHash +
                    "\n1700000000\nAAECAwQFBgcICQoLDA0ODw\nhk_example");
}

TEST(SdkSigner, NoTrailingLineFeedAndNineLines) {
  SigningInput in{"POST", "/x", "b", "1", "n", "k"};
  auto c = canonical_request(in);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->back(), '\n');
  EXPECT_EQ(std::count(c->begin(), c->end(), '\n'), 8);
  in.deployment_id = "a\nb";
  EXPECT_FALSE(canonical_request(in).ok());
}

TEST(SdkSigner, QueryIsSortedByNameThenValue) {
  EXPECT_EQ(canon_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(canon_query("z=1&a=x%20y"), "a=x%20y&z=1");
  EXPECT_EQ(canon_query(""), "");
  // Bytewise: upper case sorts before lower case, and a prefix before a longer name.
  EXPECT_EQ(canon_query("b=1&B=1&ab=1&a=1"), "B=1&a=1&ab=1&b=1");
}

// The sort compares the re-encoded forms: '-' (0x2D) sorts after "%2F" although the
// decoded '/' (0x2F) is the larger byte.
TEST(SdkSigner, QuerySortComparesTheCanonicalForms) {
  EXPECT_EQ(canon_query("k=a-&k=a/"), "k=a%2F&k=a-");
  EXPECT_EQ(canon_query("a-=1&a%2f=2"), "a%2F=2&a-=1");
}

TEST(SdkSigner, QueryPlusIsALiteralPlus) {
  EXPECT_EQ(canon_query("q=a+b"), "q=a%2Bb");
  EXPECT_EQ(canon_query("q=a%2Bb"), "q=a%2Bb");
  EXPECT_EQ(canon_query("q=a%20b"), "q=a%20b");
}

TEST(SdkSigner, QueryEncodingIsNormalised) {
  // Unreserved characters are never encoded; everything else is, in upper-case hex.
  EXPECT_EQ(canon_query("n=%7e%41-._"), "n=~A-._");
  EXPECT_EQ(canon_query("n=%2f"), "n=%2F");
  EXPECT_EQ(canon_query("n=a/b:c"), "n=a%2Fb%3Ac");
  EXPECT_EQ(canon_query("n=caf%C3%A9"), "n=caf%C3%A9");
  EXPECT_EQ(canon_query("n=caf\xC3\xA9"), "n=caf%C3%A9");
  EXPECT_EQ(canon_query("na%6De=v"), "name=v");
}

TEST(SdkSigner, QueryParametersWithoutValuesAndEmptyOnes) {
  EXPECT_EQ(canon_query("flag"), "flag=");
  EXPECT_EQ(canon_query("flag="), "flag=");
  EXPECT_EQ(canon_query("a=1&&b=2&"), "a=1&b=2");
  EXPECT_EQ(canon_query("&&"), "");
  // Split at the first '=' only.
  EXPECT_EQ(canon_query("a=b=c"), "a=b%3Dc");
}

TEST(SdkSigner, PathSegmentsAreDecodedAndReEncoded) {
  EXPECT_EQ(canon_path("/api/v1/publish"), "/api/v1/publish");
  EXPECT_EQ(canon_path("/a%7eb"), "/a~b");
  EXPECT_EQ(canon_path("/a%7Eb"), "/a~b");
  EXPECT_EQ(canon_path("/a b"), "/a%20b");
  EXPECT_EQ(canon_path("/a%2fb"), "/a%2Fb");  // an encoded slash stays inside its segment
  EXPECT_EQ(canon_path("/a+b"), "/a%2Bb");
  EXPECT_EQ(canon_path("/x//y/"), "/x//y/");
  EXPECT_EQ(canon_path("/"), "/");
}

TEST(SdkSigner, MalformedPercentEscapesAreRefused) {
  for (std::string_view bad : {"/a%", "/a%2", "/a%zz", "/%g0"}) {
    auto r = canonical_path(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "invalid_argument");
  }
  EXPECT_FALSE(canonical_query("a=%").ok());
  EXPECT_FALSE(canonical_query("a%=1").ok());
}

TEST(SdkSigner, QueryOrderDoesNotChangeTheSignature) {
  SigningInput a{"GET", "/api/v1/app?b=2&a=1", "", "1700000000", "AAECAwQFBgcICQoLDA0ODw", "hk_example"};
  SigningInput b{"GET", "/api/v1/app?a=1&b=2", "", "1700000000", "AAECAwQFBgcICQoLDA0ODw", "hk_example"};
  EXPECT_EQ(sign_request(a, "s")->signature, sign_request(b, "s")->signature);
  SigningInput c{"GET", "/api/v1/app?a=1&b=3", "", "1700000000", "AAECAwQFBgcICQoLDA0ODw", "hk_example"};
  EXPECT_NE(sign_request(a, "s")->signature, sign_request(c, "s")->signature);
}

TEST(SdkSigner, EveryInputChangesTheSignature) {
  SigningInput base{"POST", "/api/v1/publish", "{}", "1700000000", "AAECAwQFBgcICQoLDA0ODw", "hk_example"};
  std::string sig = sign_request(base, "secret")->signature;
  EXPECT_EQ(sig.size(), 64u);
  std::set<std::string> seen{sig};
  auto differs = [&](SigningInput in, std::string_view secret = "secret") {
    auto s = sign_request(in, secret);
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(seen.insert(s->signature).second);
  };
  auto m = base;
  m.method = "PUT";
  differs(m);
  m = base;
  m.target = "/api/v1/broadcast";
  differs(m);
  m = base;
  m.target = "/api/v1/publish?a=1";
  differs(m);
  m = base;
  m.body = "{ }";
  differs(m);
  m = base;
  m.timestamp = "1700000001";
  differs(m);
  m = base;
  m.nonce = "AAECAwQFBgcICQoLDA0ODx";
  differs(m);
  m = base;
  m.app_key = "hk_other";
  differs(m);
  m = base;
  m.deployment_id = "staging";
  differs(m);
  m = base;
  m.version = SigningVersion::kV1;
  differs(m);
  differs(base, "secreT");
}

TEST(SdkSigner, MethodAndTargetAreChecked) {
  EXPECT_FALSE(canonical_request({"post", "/x", "", "1", "n", "k"}).ok());
  EXPECT_FALSE(canonical_request({"", "/x", "", "1", "n", "k"}).ok());
  EXPECT_FALSE(canonical_request({"GET", "x", "", "1", "n", "k"}).ok());
}

TEST(SdkSigner, NoncesAreFreshBase64urlOf16Bytes) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto n = make_nonce();
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(n->size(), 22u);
    for (char c : *n) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << *n;
    EXPECT_TRUE(seen.insert(*n).second);
  }
}

TEST(SdkSigner, TimestampIsUnixSecondsNow) {
  std::string ts = unix_timestamp_now();
  ASSERT_FALSE(ts.empty());
  for (char c : ts) ASSERT_TRUE(c >= '0' && c <= '9');
  long long now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(std::llabs(std::stoll(ts) - now), 2);
}

TEST(SdkSecretString, WipesOnMoveAndKeepsCopies) {
  SecretString a("as_0123456789abcdef0123456789abcdef0123456789abcd");
  SecretString b = a;
  EXPECT_EQ(a.view(), b.view());
  SecretString c = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT: moved-from is specified empty
  EXPECT_EQ(c.view(), b.view());
  SecretString shorty("short");
  SecretString d = std::move(shorty);
  EXPECT_TRUE(shorty.empty());  // NOLINT
  EXPECT_EQ(d.view(), "short");
  d.wipe();
  EXPECT_TRUE(d.empty());
}

TEST(SdkResult, ReadingTheWrongSideThrowsWithoutTheMessage) {
  Result<int> bad(Error{"signature_invalid", "a message that must not leak", 401, "rid", 0});
  EXPECT_FALSE(bad.ok());
  try {
    (void)bad.value();
    FAIL();
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("signature_invalid"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("leak"), std::string::npos);
  }
  Result<int> good(7);
  EXPECT_EQ(*good, 7);
  EXPECT_THROW((void)good.error(), std::logic_error);
  Result<void> done;
  EXPECT_TRUE(done.ok());
}

}  // namespace
}  // namespace herald::sdk
