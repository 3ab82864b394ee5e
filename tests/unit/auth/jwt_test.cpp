// The JWT verifier against hostile tokens (each refused with its own code, none
// accepted), tokens made by our signer, tokens made by hand with OpenSSL, and the
// RFC 7515 A.1 example.
#include "auth/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <boost/json.hpp>

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/hash.h"

namespace herald::auth {
namespace {

namespace json = boost::json;
using crypto::KeyKind;
using crypto::PrivateKey;
using crypto::PublicKey;
using crypto::SecretBytes;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::int64_t kSkew = 30;
const std::string kSecret = "an HS256 client secret of 32+ bytes, test only";

// ---- building tokens --------------------------------------------------------------

std::string b64(std::string_view bytes) {
  return crypto::base64url_encode(bytes);
}

std::string token_of(std::string_view header_json, std::string_view payload_json, std::string_view signature) {
  return b64(header_json) + "." + b64(payload_json) + "." + b64(signature);
}

// An HS256-style token over any header, keyed with any bytes: how an attacker forges.
std::string hmac_token(std::string_view header_json, std::string_view payload_json, std::string_view key) {
  std::string input = b64(header_json) + "." + b64(payload_json);
  return input + "." + b64(crypto::hmac_sha256(key, input));
}

std::string signed_token(std::string_view header_json, std::string_view payload_json, const PrivateKey& key) {
  std::string input = b64(header_json) + "." + b64(payload_json);
  return input + "." + b64(key.sign(input));
}

json::object good_claims() {
  return {{"sub", "42"}, {"aud", "herald"}, {"iss", "https://issuer.example"}, {"exp", kNow + 600}, {"iat", kNow - 5}};
}

std::string with(json::object claims, std::string_view name, json::value value) {
  claims[json::string_view(name.data(), name.size())] = std::move(value);
  return json::serialize(claims);
}

std::string without(json::object claims, std::string_view name) {
  claims.erase(json::string_view(name.data(), name.size()));
  return json::serialize(claims);
}

std::string good_payload() {
  return json::serialize(good_claims());
}

const char* kHs256Header = R"({"alg":"HS256","typ":"JWT"})";
const char* kEs256Header = R"({"alg":"ES256","typ":"JWT"})";
const char* kEdDsaHeader = R"({"alg":"EdDSA","typ":"JWT"})";

// ---- OpenSSL by hand (independent of our encoder and signer) ------------------------

std::string b64url_by_hand(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

struct PKeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PKey = std::unique_ptr<EVP_PKEY, PKeyFree>;

std::string openssl_public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::string openssl_public_der(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string openssl_sign(EVP_PKEY* key, const EVP_MD* md, std::string_view msg) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, md, nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

std::string der_to_jws(std::string_view der) {
  auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  std::string out(64, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), o, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), o + 32, 32);
  ECDSA_SIG_free(sig);
  return out;
}

// ---- keys and verification ----------------------------------------------------------

JwtKey hs_key(std::string_view secret, std::string kid = {}) {
  JwtKey k;
  k.alg = JwtAlg::HS256;
  k.kid = std::move(kid);
  k.secret = SecretBytes(secret);
  return k;
}

JwtKey public_jwt_key(JwtAlg alg, const PublicKey& pub, std::string kid = {}) {
  JwtKey k;
  k.alg = alg;
  k.kid = std::move(kid);
  k.public_key = pub;
  return k;
}

JwtPolicy default_policy() {
  JwtPolicy p;
  p.audience = "herald";
  p.issuer = "https://issuer.example";
  p.max_skew = std::chrono::seconds(kSkew);
  return p;
}

class Jwt : public ::testing::Test {
 protected:
  PrivateKey es_key_ = PrivateKey::generate(KeyKind::EcP256);
  PrivateKey ed_key_ = PrivateKey::generate(KeyKind::Ed25519);
  std::vector<JwtKey> keys_ = {hs_key(kSecret), public_jwt_key(JwtAlg::ES256, es_key_.public_key()),
                               public_jwt_key(JwtAlg::EdDSA, ed_key_.public_key())};
  JwtPolicy policy_ = default_policy();

  Result<JwtClaims> verify(std::string_view token, std::int64_t now = kNow) const {
    return verify_jwt(token, keys_, policy_, now);
  }
};

// Checks one refusal: the code, and that the message repeats neither a part of the
// token nor the secret.
void expect_refused(const Result<JwtClaims>& result, std::string_view token, std::string_view code,
                    const std::string& what) {
  ASSERT_FALSE(result.ok()) << what << ": accepted";
  EXPECT_EQ(result.error().code_name(), code) << what << ": " << result.error().message;
  EXPECT_FALSE(result.error().message.empty()) << what;
  std::string_view rest = token;
  while (!rest.empty()) {
    auto dot = rest.find('.');
    std::string_view part = rest.substr(0, dot);
    if (part.size() >= 8) {
      EXPECT_EQ(result.error().message.find(part), std::string::npos) << what;
    }
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  EXPECT_EQ(result.error().message.find(kSecret), std::string::npos) << what;
}

struct HostileCase {
  std::string what;
  std::string token;
  std::string code;
};

// Runs a table of hostile tokens; every one must be refused with its code.
void expect_all_refused(const std::vector<HostileCase>& cases, std::span<const JwtKey> keys, const JwtPolicy& policy,
                        std::int64_t now = kNow) {
  int accepted = 0;
  for (const HostileCase& c : cases) {
    auto result = verify_jwt(c.token, keys, policy, now);
    if (result.ok()) ++accepted;
    expect_refused(result, c.token, c.code, c.what);
  }
  EXPECT_EQ(accepted, 0);
}

// ---- accepted tokens -----------------------------------------------------------------

TEST_F(Jwt, AcceptsHs256FromOurSigner) {
  std::string token = sign_jwt_hs256(good_payload(), SecretBytes(kSecret));
  auto claims = verify(token);
  ASSERT_TRUE(claims.ok()) << claims.error().code << ": " << claims.error().message;
  EXPECT_EQ(claims->sub, "42");
  EXPECT_EQ(claims->exp, kNow + 600);
  EXPECT_EQ(claims->iat, kNow - 5);
  EXPECT_FALSE(claims->nbf.has_value());
  EXPECT_EQ(claims->iss, "https://issuer.example");
  EXPECT_EQ(claims->aud, std::vector<std::string>{"herald"});
}

TEST_F(Jwt, AcceptsEs256AndEdDsaFromOurSigner) {
  for (const PrivateKey* key : {&es_key_, &ed_key_}) {
    std::string token = sign_jwt(good_payload(), *key);
    auto claims = verify(token);
    ASSERT_TRUE(claims.ok()) << claims.error().code << ": " << claims.error().message;
    EXPECT_EQ(claims->sub, "42");
  }
  std::string es = sign_jwt(good_payload(), es_key_, "key-1");
  json::object es_header = json::parse(*crypto::base64url_decode(es.substr(0, es.find('.')))).as_object();
  EXPECT_EQ(es_header.at("alg").as_string(), "ES256");
  EXPECT_EQ(es_header.at("kid").as_string(), "key-1");
  std::string ed = sign_jwt(good_payload(), ed_key_);
  json::object ed_header = json::parse(*crypto::base64url_decode(ed.substr(0, ed.find('.')))).as_object();
  EXPECT_EQ(ed_header.at("alg").as_string(), "EdDSA");
  EXPECT_FALSE(ed_header.contains("kid"));
}

TEST_F(Jwt, ExtractsAllClaims) {
  json::object c = good_claims();
  c["aud"] = json::array{"other", "herald"};
  c["nbf"] = kNow - 10;
  c["channels"] = json::array{"news", "chat:room-7"};
  c["channel"] = "user#42";
  c["jti"] = "token-id-1";
  std::string payload = json::serialize(c);
  // `info` written with spaces, to see that the claim comes back as compact JSON.
  payload.pop_back();
  payload += R"(, "info" : { "name" : "Ada",  "tags" : [ 1, 2 ] } })";
  auto claims = verify(sign_jwt_hs256(payload, SecretBytes(kSecret)));
  ASSERT_TRUE(claims.ok()) << claims.error().code << ": " << claims.error().message;
  EXPECT_EQ(claims->sub, "42");
  EXPECT_EQ(claims->exp, kNow + 600);
  EXPECT_EQ(claims->nbf, kNow - 10);
  EXPECT_EQ(claims->aud, (std::vector<std::string>{"other", "herald"}));
  EXPECT_EQ(claims->channels, (std::vector<std::string>{"news", "chat:room-7"}));
  EXPECT_EQ(claims->channel, "user#42");
  EXPECT_EQ(claims->info, R"({"name":"Ada","tags":[1,2]})");
  EXPECT_EQ(claims->jti, "token-id-1");
}

TEST_F(Jwt, AbsentOptionalClaimsAreEmpty) {
  policy_.require_exp = false;  // exp is optional only when the policy says so
  auto claims =
      verify(sign_jwt_hs256(R"({"sub":"u","aud":"herald","iss":"https://issuer.example"})", SecretBytes(kSecret)));
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_FALSE(claims->exp || claims->nbf || claims->iat || claims->channel);
  EXPECT_TRUE(claims->channels.empty());
  EXPECT_EQ(claims->info, "");
  EXPECT_EQ(claims->jti, "");
}

TEST_F(Jwt, AcceptsHs256MadeByHandWithOpenSsl) {
  std::string input = b64url_by_hand(R"({"typ":"JWT","alg":"HS256"})") + "." + b64url_by_hand(good_payload());
  unsigned char mac[32];
  unsigned int len = 0;
  ASSERT_NE(HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len),
            nullptr);
  std::string token = input + "." + b64url_by_hand(std::string_view(reinterpret_cast<char*>(mac), len));
  auto claims = verify(token);
  ASSERT_TRUE(claims.ok()) << claims.error().code << ": " << claims.error().message;
  EXPECT_EQ(claims->sub, "42");
}

TEST_F(Jwt, AcceptsEs256AndEdDsaMadeByHandWithOpenSsl) {
  PKey ec(EVP_EC_gen("P-256"));
  PKey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(ec && ed);
  auto ec_pub = PublicKey::from_pem(openssl_public_pem(ec.get()));
  auto ed_pub = PublicKey::from_pem(openssl_public_pem(ed.get()));
  ASSERT_TRUE(ec_pub.ok() && ed_pub.ok());
  std::vector<JwtKey> keys = {public_jwt_key(JwtAlg::ES256, *ec_pub, "ec"),
                              public_jwt_key(JwtAlg::EdDSA, *ed_pub, "ed")};

  std::string es_input = b64url_by_hand(R"({"alg":"ES256","kid":"ec"})") + "." + b64url_by_hand(good_payload());
  std::string es_token = es_input + "." + b64url_by_hand(der_to_jws(openssl_sign(ec.get(), EVP_sha256(), es_input)));
  auto es_claims = verify_jwt(es_token, keys, default_policy(), kNow);
  ASSERT_TRUE(es_claims.ok()) << es_claims.error().code << ": " << es_claims.error().message;
  EXPECT_EQ(es_claims->sub, "42");

  std::string ed_input = b64url_by_hand(R"({"alg":"EdDSA","kid":"ed"})") + "." + b64url_by_hand(good_payload());
  std::string ed_token = ed_input + "." + b64url_by_hand(openssl_sign(ed.get(), nullptr, ed_input));
  auto ed_claims = verify_jwt(ed_token, keys, default_policy(), kNow);
  ASSERT_TRUE(ed_claims.ok()) << ed_claims.error().code << ": " << ed_claims.error().message;
  EXPECT_EQ(ed_claims->sub, "42");
}

TEST_F(Jwt, AudienceMayBeAnArrayAndTypIsCaseInsensitive) {
  std::string payload = with(good_claims(), "aud", json::array{"a", "herald", "b"});
  EXPECT_TRUE(verify(hmac_token(kHs256Header, payload, kSecret)).ok());
  EXPECT_TRUE(verify(hmac_token(R"({"alg":"HS256","typ":"jwt"})", good_payload(), kSecret)).ok());
  EXPECT_TRUE(verify(hmac_token(R"({"alg":"HS256"})", good_payload(), kSecret)).ok());
}

TEST_F(Jwt, WithoutAudienceOrIssuerPolicyThoseClaimsAreNotChecked) {
  policy_.audience.clear();
  policy_.issuer.clear();
  policy_.require_exp = false;  // the default requires exp (see RequireExp)
  EXPECT_TRUE(verify(hmac_token(kHs256Header, R"({"sub":"u"})", kSecret)).ok());
  EXPECT_TRUE(verify(hmac_token(kHs256Header, R"({"sub":"u","aud":"anyone","iss":"anybody"})", kSecret)).ok());
}

// RFC 7515 appendix A.1: the HS256 example, with its key from the JWK "k" value. Its
// payload has no `sub`, which Herald requires, so the best it can get is the claim
// refusal that comes after the signature and time checks; a changed signature or a
// later clock shows those checks ran and passed.
TEST(JwtRfc7515, AppendixA1SignatureVerifies) {
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  auto k = crypto::base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(k.has_value());
  std::vector<JwtKey> keys = {hs_key(*k)};
  JwtPolicy policy;  // no audience configured; the example's issuer
  policy.issuer = "joe";

  auto before_exp = verify_jwt(token, keys, policy, 1300819380 - 100);
  ASSERT_FALSE(before_exp.ok());
  EXPECT_EQ(before_exp.error().code, Errc::kTokenClaimInvalid);
  EXPECT_NE(before_exp.error().message.find("sub"), std::string::npos);

  auto after_exp = verify_jwt(token, keys, policy, 1300819380 + 31);
  ASSERT_FALSE(after_exp.ok());
  EXPECT_EQ(after_exp.error().code, Errc::kTokenExpired);

  std::string tampered = token;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'X' ? 'Y' : 'X';
  auto bad = verify_jwt(tampered, keys, policy, 1300819380 - 100);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kTokenSignatureInvalid);

  // The same signature, checked directly.
  EXPECT_EQ(crypto::hmac_sha256(*k, token.substr(0, token.rfind('.'))),
            *crypto::base64url_decode("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
}

// ---- algorithm attacks ---------------------------------------------------------------

TEST_F(Jwt, RefusesAlgNone) {
  std::string payload = good_payload();
  expect_all_refused(
      {
          {"none, empty signature", b64(R"({"alg":"none","typ":"JWT"})") + "." + b64(payload) + ".",
           "token_alg_not_allowed"},
          {"none, garbage signature", token_of(R"({"alg":"none"})", payload, "garbage"), "token_alg_not_allowed"},
          {"none, HMAC signature", hmac_token(R"({"alg":"none"})", payload, kSecret), "token_alg_not_allowed"},
          {"None", token_of(R"({"alg":"None"})", payload, ""), "token_alg_not_allowed"},
          {"NONE", token_of(R"({"alg":"NONE"})", payload, ""), "token_alg_not_allowed"},
      },
      keys_, policy_);
}

TEST_F(Jwt, RefusesOtherAlgorithms) {
  std::string payload = good_payload();
  std::vector<HostileCase> cases;
  for (const char* alg : {"hs256", "Hs256", "HS512", "HS384", "RS256", "PS256", "ES384", "ES512", "ES256K", "eddsa",
                          "Ed25519", "EdDSA ", " HS256", ""}) {
    std::string header = json::serialize(json::object{{"alg", alg}});
    cases.push_back(
        {std::string("alg ") + alg + " (HMAC)", hmac_token(header, payload, kSecret), "token_alg_not_allowed"});
    cases.push_back(
        {std::string("alg ") + alg + " (ES256 sig)", signed_token(header, payload, es_key_), "token_alg_not_allowed"});
  }
  cases.push_back({"no alg", hmac_token(R"({"typ":"JWT"})", payload, kSecret), "token_alg_not_allowed"});
  cases.push_back({"alg a number", hmac_token(R"({"alg":256})", payload, kSecret), "token_malformed"});
  cases.push_back({"alg an array", hmac_token(R"({"alg":["HS256"]})", payload, kSecret), "token_malformed"});
  cases.push_back({"alg null", hmac_token(R"({"alg":null})", payload, kSecret), "token_malformed"});
  expect_all_refused(cases, keys_, policy_);
}

// Key confusion: an attacker who knows a configured public key signs HS256 with the
// key's bytes as the HMAC secret.
TEST_F(Jwt, RefusesHs256SignedWithAPublicKeyWhenOnlyPublicKeysAreConfigured) {
  PKey ec(EVP_EC_gen("P-256"));
  PKey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  std::string payload = good_payload();
  for (EVP_PKEY* key : {ec.get(), ed.get()}) {
    std::string pem = openssl_public_pem(key);
    std::string der = openssl_public_der(key);
    auto pub = PublicKey::from_pem(pem);
    ASSERT_TRUE(pub.ok());
    JwtAlg alg = pub->kind() == KeyKind::EcP256 ? JwtAlg::ES256 : JwtAlg::EdDSA;
    // The key itself: the uncompressed point (65 bytes) or the Ed25519 key (32 bytes).
    std::string raw = der.substr(der.size() - (pub->kind() == KeyKind::EcP256 ? 65 : 32));
    std::vector<JwtKey> keys = {public_jwt_key(alg, *pub)};
    std::vector<JwtKey> keys_with_kid = {public_jwt_key(alg, *pub, "k1")};
    std::vector<HostileCase> cases = {
        {"HS256 keyed with the PEM", hmac_token(kHs256Header, payload, pem), "token_alg_not_allowed"},
        {"HS256 keyed with PEM without final newline", hmac_token(kHs256Header, payload, pem.substr(0, pem.size() - 1)),
         "token_alg_not_allowed"},
        {"HS256 keyed with the DER", hmac_token(kHs256Header, payload, der), "token_alg_not_allowed"},
        {"HS256 keyed with the raw key", hmac_token(kHs256Header, payload, raw), "token_alg_not_allowed"},
    };
    expect_all_refused(cases, keys, policy_);
    std::vector<HostileCase> kid_cases = {
        {"HS256 with the key's kid, keyed with the PEM", hmac_token(R"({"alg":"HS256","kid":"k1"})", payload, pem),
         "token_alg_not_allowed"},
        {"HS256 with the key's kid, keyed with the DER", hmac_token(R"({"alg":"HS256","kid":"k1"})", payload, der),
         "token_alg_not_allowed"},
    };
    expect_all_refused(kid_cases, keys_with_kid, policy_);
  }
}

TEST_F(Jwt, RefusesHs256SignedWithAPublicKeyWhenAnHsSecretIsConfiguredToo) {
  std::string payload = good_payload();
  std::vector<HostileCase> cases;
  for (const PublicKey& pub : {es_key_.public_key(), ed_key_.public_key()}) {
    std::string pem = pub.to_pem();
    std::string body;
    for (std::size_t at = pem.find('\n') + 1; at < pem.size();) {
      std::size_t end = pem.find('\n', at);
      if (pem.compare(at, 5, "-----") != 0) body += pem.substr(at, end - at);
      at = end + 1;
    }
    std::string der = *crypto::base64_decode(body);
    cases.push_back({"HS256 keyed with the PEM", hmac_token(kHs256Header, payload, pem), "token_signature_invalid"});
    cases.push_back({"HS256 keyed with the DER", hmac_token(kHs256Header, payload, der), "token_signature_invalid"});
  }
  expect_all_refused(cases, keys_, policy_);
}

// Misconfigured keys are never used outside their kind: a public key filed under HS256
// is no HMAC secret, and a key of the wrong curve under ES256/EdDSA is skipped.
TEST_F(Jwt, KeysAreOnlyUsedForTheirOwnKind) {
  std::string payload = good_payload();
  JwtKey public_as_hs;
  public_as_hs.alg = JwtAlg::HS256;
  public_as_hs.public_key = es_key_.public_key();
  JwtKey empty_secret = hs_key("");
  std::vector<JwtKey> keys = {public_as_hs, empty_secret, public_jwt_key(JwtAlg::ES256, ed_key_.public_key()),
                              public_jwt_key(JwtAlg::EdDSA, es_key_.public_key())};
  expect_all_refused(
      {
          {"HS256 with an empty secret", hmac_token(kHs256Header, payload, ""), "token_alg_not_allowed"},
          {"HS256 keyed with a public key filed as HS256",
           hmac_token(kHs256Header, payload, es_key_.public_key().to_pem()), "token_alg_not_allowed"},
          {"EdDSA token against an Ed25519 key filed as ES256", signed_token(kEdDsaHeader, payload, ed_key_),
           "token_alg_not_allowed"},
          {"ES256 token against a P-256 key filed as EdDSA", signed_token(kEs256Header, payload, es_key_),
           "token_alg_not_allowed"},
      },
      keys, policy_);
}

TEST_F(Jwt, RefusesASignatureMadeForAnotherAlgorithm) {
  std::string payload = good_payload();
  expect_all_refused(
      {
          {"Ed25519 signature under ES256", signed_token(kEs256Header, payload, ed_key_), "token_signature_invalid"},
          {"ES256 signature under EdDSA", signed_token(kEdDsaHeader, payload, es_key_), "token_signature_invalid"},
          {"ES256 signature under HS256", signed_token(kHs256Header, payload, es_key_), "token_signature_invalid"},
      },
      keys_, policy_);
}

TEST_F(Jwt, RefusesCrit) {
  std::string payload = good_payload();
  expect_all_refused(
      {
          {"crit with a name", hmac_token(R"({"alg":"HS256","crit":["exp"],"exp":1})", payload, kSecret),
           "token_alg_not_allowed"},
          {"crit empty", hmac_token(R"({"alg":"HS256","crit":[]})", payload, kSecret), "token_alg_not_allowed"},
          {"crit b64", hmac_token(R"({"alg":"ES256","crit":["b64"],"b64":false})", payload, kSecret),
           "token_alg_not_allowed"},
      },
      keys_, policy_);
}

TEST_F(Jwt, TypMustBeJwt) {
  std::string payload = good_payload();
  expect_all_refused(
      {
          {"typ at+jwt", hmac_token(R"({"alg":"HS256","typ":"at+jwt"})", payload, kSecret), "token_malformed"},
          {"typ JWE", hmac_token(R"({"alg":"HS256","typ":"JWE"})", payload, kSecret), "token_malformed"},
          {"typ a number", hmac_token(R"({"alg":"HS256","typ":1})", payload, kSecret), "token_malformed"},
      },
      keys_, policy_);
}

// ---- key ids -------------------------------------------------------------------------

TEST_F(Jwt, KidSelectsTheKey) {
  std::vector<JwtKey> keys = {hs_key("secret number one, long enough", "k1"),
                              hs_key("secret number two, long enough", "k2")};
  std::string payload = good_payload();
  // Without kid every HS256 key is tried; with kid only the named one.
  EXPECT_TRUE(
      verify_jwt(sign_jwt_hs256(payload, SecretBytes("secret number two, long enough")), keys, policy_, kNow).ok());
  EXPECT_TRUE(
      verify_jwt(sign_jwt_hs256(payload, SecretBytes("secret number two, long enough"), "k2"), keys, policy_, kNow)
          .ok());
  expect_all_refused(
      {
          {"kid names another key", sign_jwt_hs256(payload, SecretBytes("secret number two, long enough"), "k1"),
           "token_signature_invalid"},
          {"kid matches no key", sign_jwt_hs256(payload, SecretBytes("secret number two, long enough"), "k3"),
           "token_alg_not_allowed"},
          {"kid not a string", hmac_token(R"({"alg":"HS256","kid":2})", payload, "secret number two, long enough"),
           "token_malformed"},
      },
      keys, policy_);
  expect_all_refused({{"kid of a key of another alg", sign_jwt(payload, es_key_, "k1"), "token_alg_not_allowed"}}, keys,
                     policy_);
}

// ---- structure and encoding ----------------------------------------------------------

TEST_F(Jwt, RefusesBadBase64Url) {
  std::string token = sign_jwt_hs256(good_payload(), SecretBytes(kSecret));
  ASSERT_TRUE(verify(token).ok());
  std::size_t dot1 = token.find('.');
  std::size_t dot2 = token.rfind('.');
  auto at = [&](std::size_t pos, std::string_view insert) {
    return token.substr(0, pos) + std::string(insert) + token.substr(pos);
  };
  auto replace_char = [&](std::size_t pos, char c) {
    std::string t = token;
    t[pos] = c;
    return t;
  };
  expect_all_refused(
      {
          {"padding on the header", at(dot1, "="), "token_malformed"},
          {"padding on the payload", at(dot2, "=="), "token_malformed"},
          {"padding on the signature", token + "=", "token_malformed"},
          {"'+' in the header", replace_char(3, '+'), "token_malformed"},
          {"'/' in the payload", replace_char(dot1 + 3, '/'), "token_malformed"},
          {"'+' in the signature", replace_char(dot2 + 3, '+'), "token_malformed"},
          {"'/' in the signature", replace_char(dot2 + 1, '/'), "token_malformed"},
          {"space inside", at(dot1 + 4, " "), "token_malformed"},
          {"leading space", " " + token, "token_malformed"},
          {"trailing newline", token + "\n", "token_malformed"},
          {"trailing CRLF", token + "\r\n", "token_malformed"},
          {"tab in the signature", at(dot2 + 5, "\t"), "token_malformed"},
          {"NUL in the payload", at(dot1 + 2, std::string_view("\0", 1)), "token_malformed"},
          {"non-ASCII", at(dot1 + 2, "\xc3\xa9"), "token_malformed"},
          {"one extra symbol in the payload", at(dot2, "A"), "token_malformed"},
      },
      keys_, policy_);
}

TEST_F(Jwt, RefusesWrongNumberOfPartsAndEmptyParts) {
  std::string token = sign_jwt_hs256(good_payload(), SecretBytes(kSecret));
  std::string header = token.substr(0, token.find('.'));
  std::string payload = token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  std::string sig = token.substr(token.rfind('.') + 1);
  expect_all_refused(
      {
          {"empty", "", "token_malformed"},
          {"one part", header, "token_malformed"},
          {"two parts", header + "." + payload, "token_malformed"},
          {"four parts", token + "." + sig, "token_malformed"},
          {"four parts, empty last", token + ".", "token_malformed"},
          {"five parts (JWE shape)", header + ".." + payload + "." + sig + "." + sig, "token_malformed"},
          {"only dots", "..", "token_malformed"},
          {"empty header", "." + payload + "." + sig, "token_malformed"},
          {"empty payload", header + ".." + sig, "token_malformed"},
          {"empty signature", header + "." + payload + ".", "token_signature_invalid"},
      },
      keys_, policy_);
}

TEST_F(Jwt, RefusesHeaderOrPayloadThatIsNotAJsonObject) {
  std::string payload = good_payload();
  std::vector<HostileCase> cases;
  for (const char* header : {"[]", R"(["alg","HS256"])", R"("HS256")", "null", "123", "{", R"({"alg":"HS256"}x)",
                             R"({"alg":"HS256",})", R"({'alg':'HS256'})", "{\"alg\":\"HS\xff\"}", ""}) {
    cases.push_back({std::string("header ") + header, hmac_token(header, payload, kSecret), "token_malformed"});
  }
  for (const char* body : {"[1,2]", R"(["sub","42"])", R"("42")", "true", "{", R"({"sub":"42"} {})", R"({"sub":"42",})",
                           "/*c*/{\"sub\":\"42\"}", "{\"sub\":\"\xc0\xaf\"}"}) {
    cases.push_back({std::string("payload ") + body, hmac_token(kHs256Header, body, kSecret), "token_malformed"});
  }
  expect_all_refused(cases, keys_, policy_);
}

TEST_F(Jwt, RefusesDeeplyNestedJson) {
  auto nested = [](int depth) {
    std::string open, close;
    for (int i = 0; i < depth; ++i) {
      open += R"({"a":)";
      close += "}";
    }
    return open + "1" + close;
  };
  json::object c = good_claims();
  std::string shallow = with(c, "info", json::parse(nested(10)));
  EXPECT_TRUE(verify(hmac_token(kHs256Header, shallow, kSecret)).ok());

  std::string payload = good_payload();
  payload.pop_back();
  std::string deep_info = payload + R"(,"info":)" + nested(40) + "}";
  std::string deep_arrays = payload + R"(,"x":)" + std::string(2000, '[') + std::string(2000, ']') + "}";
  std::string deep_header = R"({"alg":"HS256","x":)" + nested(40) + "}";
  expect_all_refused(
      {
          {"info nested 40 deep", hmac_token(kHs256Header, deep_info, kSecret), "token_malformed"},
          {"arrays nested 2000 deep", hmac_token(kHs256Header, deep_arrays, kSecret), "token_malformed"},
          {"header nested 40 deep", hmac_token(deep_header, good_payload(), kSecret), "token_malformed"},
      },
      keys_, policy_);
}

TEST_F(Jwt, RefusesHugeTokensBeforeParsing) {
  std::string token = sign_jwt_hs256(good_payload(), SecretBytes(kSecret));
  policy_.max_token_bytes = token.size();
  EXPECT_TRUE(verify(token).ok());
  policy_.max_token_bytes = token.size() - 1;
  expect_refused(verify(token), token, "token_too_large", "one byte over");

  policy_ = default_policy();
  std::string big_payload = with(good_claims(), "pad", json::string(std::string(8192, 'x')));
  std::string big = hmac_token(kHs256Header, big_payload, kSecret);
  expect_refused(verify(big), big, "token_too_large", "valid but over 8 KiB");
  std::string junk(1 << 20, '.');
  expect_refused(verify(junk), junk, "token_too_large", "1 MiB of dots");
}

// ---- signatures ----------------------------------------------------------------------

TEST_F(Jwt, RefusesSignaturesOfTheWrongLength) {
  std::string payload = good_payload();
  std::string es_input = b64(kEs256Header) + "." + b64(payload);
  std::string ed_input = b64(kEdDsaHeader) + "." + b64(payload);
  std::string hs_input = b64(kHs256Header) + "." + b64(payload);
  std::string es_sig = es_key_.sign(es_input);
  std::string ed_sig = ed_key_.sign(ed_input);
  // A DER ECDSA signature: valid, but not the JWS form.
  PKey openssl_es;
  {
    std::string pem = es_key_.to_pem();
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    openssl_es.reset(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
  }
  std::string es_der = openssl_sign(openssl_es.get(), EVP_sha256(), es_input);
  expect_all_refused(
      {
          {"ES256 63 bytes", es_input + "." + b64(es_sig.substr(0, 63)), "token_signature_invalid"},
          {"ES256 65 bytes", es_input + "." + b64(es_sig + '\0'), "token_signature_invalid"},
          {"ES256 empty", es_input + ".", "token_signature_invalid"},
          {"ES256 DER form", es_input + "." + b64(es_der), "token_signature_invalid"},
          {"ES256 128 bytes", es_input + "." + b64(es_sig + es_sig), "token_signature_invalid"},
          {"EdDSA 63 bytes", ed_input + "." + b64(ed_sig.substr(0, 63)), "token_signature_invalid"},
          {"EdDSA 65 bytes", ed_input + "." + b64(ed_sig + '\0'), "token_signature_invalid"},
          {"EdDSA empty", ed_input + ".", "token_signature_invalid"},
          {"HS256 31 bytes", hs_input + "." + b64(crypto::hmac_sha256(kSecret, hs_input).substr(0, 31)),
           "token_signature_invalid"},
          {"HS256 empty", hs_input + ".", "token_signature_invalid"},
      },
      keys_, policy_);
}

TEST_F(Jwt, RefusesAlteredPayloadOrHeader) {
  std::string other_payload = with(good_claims(), "sub", "admin");
  std::vector<HostileCase> cases;
  for (const std::string& token : {sign_jwt_hs256(good_payload(), SecretBytes(kSecret)),
                                   sign_jwt(good_payload(), es_key_), sign_jwt(good_payload(), ed_key_)}) {
    ASSERT_TRUE(verify(token).ok());
    std::size_t dot1 = token.find('.');
    std::size_t dot2 = token.rfind('.');
    std::string header_json = *crypto::base64url_decode(token.substr(0, dot1));
    cases.push_back({"payload swapped: " + header_json,
                     token.substr(0, dot1 + 1) + b64(other_payload) + token.substr(dot2), "token_signature_invalid"});
    cases.push_back(
        {"header re-spaced: " + header_json, b64(header_json + " ") + token.substr(dot1), "token_signature_invalid"});
    std::string flipped = token;
    flipped[dot2 + 2] = flipped[dot2 + 2] == 'A' ? 'B' : 'A';
    cases.push_back({"signature changed: " + header_json, flipped, "token_signature_invalid"});
  }
  expect_all_refused(cases, keys_, policy_);
}

TEST_F(Jwt, RefusesATokenSignedWithAnotherKey) {
  expect_all_refused(
      {
          {"other HS secret", sign_jwt_hs256(good_payload(), SecretBytes("another secret entirely, long")),
           "token_signature_invalid"},
          {"other P-256 key", sign_jwt(good_payload(), PrivateKey::generate(KeyKind::EcP256)),
           "token_signature_invalid"},
          {"other Ed25519 key", sign_jwt(good_payload(), PrivateKey::generate(KeyKind::Ed25519)),
           "token_signature_invalid"},
      },
      keys_, policy_);
}

// ---- time claims ---------------------------------------------------------------------

TEST_F(Jwt, ExpiryHonoursSkewOnBothSides) {
  auto token = [&](std::int64_t exp) { return hmac_token(kHs256Header, with(good_claims(), "exp", exp), kSecret); };
  EXPECT_TRUE(verify(token(kNow)).ok());
  EXPECT_TRUE(verify(token(kNow - kSkew)).ok());  // now == exp + skew: still valid
  expect_all_refused({{"exp one second past the skew", token(kNow - kSkew - 1), "token_expired"},
                      {"exp long past", token(1), "token_expired"},
                      {"exp negative", token(-1), "token_expired"},
                      {"exp minimum int64", token(std::numeric_limits<std::int64_t>::min()), "token_expired"}},
                     keys_, policy_);
  EXPECT_TRUE(verify(token(std::numeric_limits<std::int64_t>::max())).ok());
}

TEST_F(Jwt, NotBeforeHonoursSkewOnBothSides) {
  auto token = [&](std::int64_t nbf) { return hmac_token(kHs256Header, with(good_claims(), "nbf", nbf), kSecret); };
  EXPECT_TRUE(verify(token(kNow)).ok());
  EXPECT_TRUE(verify(token(kNow + kSkew)).ok());  // now + skew == nbf: valid
  EXPECT_TRUE(verify(token(std::numeric_limits<std::int64_t>::min())).ok());
  expect_all_refused({{"nbf one second beyond the skew", token(kNow + kSkew + 1), "token_not_yet_valid"},
                      {"nbf far future", token(std::numeric_limits<std::int64_t>::max()), "token_not_yet_valid"}},
                     keys_, policy_);
}

TEST_F(Jwt, IssuedAtHonoursSkewOnBothSides) {
  auto token = [&](std::int64_t iat) { return hmac_token(kHs256Header, with(good_claims(), "iat", iat), kSecret); };
  EXPECT_TRUE(verify(token(kNow + kSkew)).ok());
  EXPECT_TRUE(verify(token(0)).ok());
  expect_all_refused({{"iat one second beyond the skew", token(kNow + kSkew + 1), "token_issued_in_future"},
                      {"iat far future", token(std::numeric_limits<std::int64_t>::max()), "token_issued_in_future"}},
                     keys_, policy_);
}

TEST_F(Jwt, ClockNearTheLimitsDoesNotOverflow) {
  std::string token =
      hmac_token(kHs256Header, with(good_claims(), "exp", std::numeric_limits<std::int64_t>::max()), kSecret);
  auto late = verify_jwt(token, keys_, policy_, std::numeric_limits<std::int64_t>::max());
  EXPECT_TRUE(late.ok()) << late.error().code;
  json::object c = good_claims();
  c.erase("iat");
  c["exp"] = std::numeric_limits<std::int64_t>::min();
  std::string early = hmac_token(kHs256Header, json::serialize(c), kSecret);
  auto r = verify_jwt(early, keys_, policy_, std::numeric_limits<std::int64_t>::min());
  EXPECT_TRUE(r.ok()) << r.error().code;
  c["nbf"] = std::numeric_limits<std::int64_t>::max();
  expect_all_refused(
      {{"nbf at the far end", hmac_token(kHs256Header, json::serialize(c), kSecret), "token_not_yet_valid"}}, keys_,
      policy_, std::numeric_limits<std::int64_t>::min());
}

// A token without exp is refused unless the policy says otherwise: a leaked one would
// otherwise log its user in for ever.
TEST_F(Jwt, RequireExp) {
  std::string no_exp = hmac_token(kHs256Header, without(good_claims(), "exp"), kSecret);
  EXPECT_TRUE(JwtPolicy{}.require_exp);
  expect_all_refused({{"exp missing (required by default)", no_exp, "token_claim_invalid"}}, keys_, policy_);
  policy_.require_exp = false;
  EXPECT_TRUE(verify(no_exp).ok());
}

TEST_F(Jwt, MaxLifetimeRefusesLongLivedTokensWhateverTheirIat) {
  policy_.max_lifetime = std::chrono::seconds(3600);
  EXPECT_TRUE(verify(hmac_token(kHs256Header, good_payload(), kSecret)).ok());
  EXPECT_TRUE(verify(hmac_token(kHs256Header, with(good_claims(), "exp", kNow + 3600), kSecret)).ok());
  json::object backdated = good_claims();
  backdated["iat"] = kNow - 86'400;  // issued a day ago, ends in ten minutes: a day-long token
  json::object no_iat = good_claims();
  no_iat.erase("iat");
  no_iat["exp"] = kNow + 2 * 86'400;
  expect_all_refused(
      {{"a two-day token", hmac_token(kHs256Header, with(good_claims(), "exp", kNow + 2 * 86'400), kSecret),
        "token_claim_invalid"},
       {"a backdated iat", hmac_token(kHs256Header, json::serialize(backdated), kSecret), "token_claim_invalid"},
       {"no iat, far exp", hmac_token(kHs256Header, json::serialize(no_iat), kSecret), "token_claim_invalid"},
       {"a year-9999 exp", hmac_token(kHs256Header, with(good_claims(), "exp", 253402300799), kSecret),
        "token_claim_invalid"}},
      keys_, policy_);
}

TEST_F(Jwt, TokensIssuedBeforeTheCutOffAreRefused) {
  policy_.issued_after = kNow - 10;
  EXPECT_TRUE(verify(hmac_token(kHs256Header, good_payload(), kSecret)).ok());  // iat kNow - 5
  expect_all_refused({{"issued before the cut-off",
                       hmac_token(kHs256Header, with(good_claims(), "iat", kNow - 11), kSecret), "token_claim_invalid"},
                      {"no iat with a cut-off", hmac_token(kHs256Header, without(good_claims(), "iat"), kSecret),
                       "token_claim_invalid"}},
                     keys_, policy_);
}

// An identity provider's key signs tokens for every service it serves: with no audience
// configured, any of them would be a login here.
TEST_F(Jwt, PublicKeyTokensNeedAnAudience) {
  const std::string es = signed_token(kEs256Header, good_payload(), es_key_);
  const std::string ed = signed_token(R"({"alg":"EdDSA","typ":"JWT"})", good_payload(), ed_key_);
  EXPECT_TRUE(verify(es).ok());
  policy_.audience.clear();
  expect_all_refused({{"ES256 with no audience configured", es, "token_audience_mismatch"},
                      {"EdDSA with no audience configured", ed, "token_audience_mismatch"}},
                     keys_, policy_);
  // An HS256 secret is ours alone: no audience needed.
  EXPECT_TRUE(verify(hmac_token(kHs256Header, good_payload(), kSecret)).ok());
  policy_.audience = "herald";
  const std::string other = signed_token(kEs256Header, with(good_claims(), "aud", "another-service"), es_key_);
  expect_all_refused({{"an IdP token for another service", other, "token_audience_mismatch"}}, keys_, policy_);
}

TEST_F(Jwt, TimeClaimsMustBeIntegers) {
  std::vector<HostileCase> cases;
  for (const char* name : {"exp", "nbf", "iat"}) {
    std::string base = without(good_claims(), name);
    base.pop_back();
    for (const char* value : {"1700000000.5", "1.7e9", "1700000000.0", "\"1700000000\"", "true", "null", "[1]", "{}",
                              "9223372036854775808", "18446744073709551615", "-9223372036854775809", "1e400"}) {
      cases.push_back({std::string(name) + " = " + value,
                       hmac_token(kHs256Header, base + ",\"" + name + "\":" + value + "}", kSecret),
                       "token_malformed"});
    }
  }
  expect_all_refused(cases, keys_, policy_);
}

// ---- audience and issuer -------------------------------------------------------------

TEST_F(Jwt, RefusesWrongAudienceOrIssuer) {
  json::object c = good_claims();
  expect_all_refused(
      {
          {"aud other", hmac_token(kHs256Header, with(c, "aud", "other"), kSecret), "token_audience_mismatch"},
          {"aud differs in case", hmac_token(kHs256Header, with(c, "aud", "Herald"), kSecret),
           "token_audience_mismatch"},
          {"aud array without it", hmac_token(kHs256Header, with(c, "aud", json::array{"a", "b"}), kSecret),
           "token_audience_mismatch"},
          {"aud empty array", hmac_token(kHs256Header, with(c, "aud", json::array{}), kSecret),
           "token_audience_mismatch"},
          {"aud missing", hmac_token(kHs256Header, without(c, "aud"), kSecret), "token_audience_mismatch"},
          {"aud a number", hmac_token(kHs256Header, with(c, "aud", 1), kSecret), "token_malformed"},
          {"aud array with a number", hmac_token(kHs256Header, with(c, "aud", json::array{"herald", 1}), kSecret),
           "token_malformed"},
          {"iss other", hmac_token(kHs256Header, with(c, "iss", "https://evil.example"), kSecret),
           "token_issuer_mismatch"},
          {"iss missing", hmac_token(kHs256Header, without(c, "iss"), kSecret), "token_issuer_mismatch"},
          {"iss a number", hmac_token(kHs256Header, with(c, "iss", 7), kSecret), "token_malformed"},
      },
      keys_, policy_);
}

// ---- Herald's claims -----------------------------------------------------------------

TEST_F(Jwt, SubIsRequiredAndBounded) {
  json::object c = good_claims();
  EXPECT_TRUE(verify(hmac_token(kHs256Header, with(c, "sub", json::string(std::string(128, 'u'))), kSecret)).ok());
  expect_all_refused(
      {
          {"sub missing", hmac_token(kHs256Header, without(c, "sub"), kSecret), "token_claim_invalid"},
          {"sub empty", hmac_token(kHs256Header, with(c, "sub", ""), kSecret), "token_claim_invalid"},
          {"sub 129 bytes", hmac_token(kHs256Header, with(c, "sub", json::string(std::string(129, 'u'))), kSecret),
           "token_claim_invalid"},
          {"sub a number", hmac_token(kHs256Header, with(c, "sub", 42), kSecret), "token_malformed"},
          {"sub null", hmac_token(kHs256Header, with(c, "sub", nullptr), kSecret), "token_malformed"},
          {"sub an array", hmac_token(kHs256Header, with(c, "sub", json::array{"42"}), kSecret), "token_malformed"},
      },
      keys_, policy_);
}

TEST_F(Jwt, ChannelsMustBeAnArrayOfStrings) {
  json::object c = good_claims();
  auto empty = verify(hmac_token(kHs256Header, with(c, "channels", json::array{}), kSecret));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->channels.empty());
  expect_all_refused(
      {
          {"channels a string", hmac_token(kHs256Header, with(c, "channels", "news"), kSecret), "token_claim_invalid"},
          {"channels with a number", hmac_token(kHs256Header, with(c, "channels", json::array{"news", 1}), kSecret),
           "token_claim_invalid"},
          {"channels nested", hmac_token(kHs256Header, with(c, "channels", json::array{json::array{"news"}}), kSecret),
           "token_claim_invalid"},
          {"channels an object", hmac_token(kHs256Header, with(c, "channels", json::object{}), kSecret),
           "token_claim_invalid"},
          {"channel a number", hmac_token(kHs256Header, with(c, "channel", 5), kSecret), "token_claim_invalid"},
          {"channel empty", hmac_token(kHs256Header, with(c, "channel", ""), kSecret), "token_claim_invalid"},
          {"jti a number", hmac_token(kHs256Header, with(c, "jti", 5), kSecret), "token_malformed"},
      },
      keys_, policy_);
}

TEST_F(Jwt, InfoIsAnObjectOfAtMostOneKiB) {
  json::object c = good_claims();
  // {"v":"..."} is 8 bytes around the string.
  std::string fits = with(c, "info", json::object{{"v", std::string(1024 - 8, 'x')}});
  auto ok = verify(hmac_token(kHs256Header, fits, kSecret));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->info.size(), 1024u);
  expect_all_refused(
      {
          {"info 1025 bytes",
           hmac_token(kHs256Header, with(c, "info", json::object{{"v", std::string(1024 - 7, 'x')}}), kSecret),
           "token_claim_invalid"},
          {"info 4 KiB",
           hmac_token(kHs256Header, with(c, "info", json::object{{"v", std::string(4096, 'x')}}), kSecret),
           "token_claim_invalid"},
          {"info an array", hmac_token(kHs256Header, with(c, "info", json::array{1}), kSecret), "token_claim_invalid"},
          {"info a string", hmac_token(kHs256Header, with(c, "info", "hi"), kSecret), "token_claim_invalid"},
      },
      keys_, policy_);
}

// ---- order of checks -----------------------------------------------------------------

// A forged token learns nothing about its claims: the signature is checked before them.
TEST_F(Jwt, SignatureIsCheckedBeforeClaims) {
  std::string bad_claims = with(good_claims(), "exp", 1);
  expect_all_refused(
      {{"expired and forged", hmac_token(kHs256Header, bad_claims, "wrong key"), "token_signature_invalid"},
       {"sub missing and forged", hmac_token(kHs256Header, without(good_claims(), "sub"), "wrong key"),
        "token_signature_invalid"}},
      keys_, policy_);
}

TEST_F(Jwt, NoKeysConfiguredRefusesEverything) {
  std::vector<JwtKey> none;
  expect_all_refused({{"HS256", sign_jwt_hs256(good_payload(), SecretBytes(kSecret)), "token_alg_not_allowed"},
                      {"ES256", sign_jwt(good_payload(), es_key_), "token_alg_not_allowed"},
                      {"EdDSA", sign_jwt(good_payload(), ed_key_), "token_alg_not_allowed"}},
                     none, policy_);
}

}  // namespace
}  // namespace herald::auth
