#include "core/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace herald {
namespace {

TEST(Config, TomlSetsTypedValues) {
  Config c;
  ConfigLoader l(c);
  auto st = l.load_toml_string(
      "[server]\nport = 9443\ntls = false\nlisten = \"::1\"\n[limits]\nidle_timeout = \"2m\"\nmax_body_bytes = 10\n",
      "t.toml");
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(c.server.port, 9443);
  EXPECT_FALSE(c.server.tls);
  EXPECT_EQ(c.server.listen, "::1");
  EXPECT_EQ(c.limits.idle_timeout, Millis(120000));
  EXPECT_EQ(c.limits.max_body_bytes, 10u);
}

TEST(Config, UnknownKeyIsNamed) {
  Config c;
  auto st = ConfigLoader(c).load_toml_string("[limits]\nmax_bdy_bytes = 1\n", "t.toml");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kInvalidConfig);
  EXPECT_NE(st.error().message.find("limits.max_bdy_bytes"), std::string::npos);
}

TEST(Config, WrongTypesAndRangesAreRefused) {
  for (const char* bad :
       {"[server]\nport = 65536\n", "[server]\nport = -1\n", "[server]\nport = \"x\"\n", "[server]\ntls = \"maybe\"\n",
        "[limits]\nread_timeout = 5\n", "[limits]\nread_timeout = \"5 seconds\"\n",
        "[limits]\nread_timeout = \"10ms\"\n", "[server]\nport = 1.5\n", "[log]\nlevel = \"loud\"\n"}) {
    Config c;
    EXPECT_FALSE(ConfigLoader(c).load_toml_string(bad, "t.toml").ok()) << bad;
  }
}

TEST(Config, EnvironmentOverridesAndUnknownVariablesFail) {
  Config c;
  ConfigLoader l(c);
  ASSERT_TRUE(l.load_env({"PATH=/bin", "HERALD_SERVER_PORT=1234", "HERALD_LOG_FORMAT=json", "HERALD_CONFIG=x"}).ok());
  EXPECT_EQ(c.server.port, 1234);
  EXPECT_EQ(c.log.format, "json");
  auto st = l.load_env({"HERALD_SERVER_PORTT=1"});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("HERALD_SERVER_PORTT"), std::string::npos);
}

TEST(Config, EnvironmentNamesAreUnique) {
  std::set<std::string> names;
  for (const auto& k : config_keys()) EXPECT_TRUE(names.insert(env_name_for(k.name)).second) << k.name;
  EXPECT_EQ(env_name_for("limits.max_body_bytes"), "HERALD_LIMITS_MAX_BODY_BYTES");
}

TEST(Config, RenderRedactsSecretsAndRoundTrips) {
  Config c;
  c.server.tls_key_passphrase = "s3cret-value";
  c.server.port = 7000;
  c.limits.read_timeout = Millis(1500);
  std::string text = render_config(c);
  EXPECT_EQ(text.find("s3cret-value"), std::string::npos);
  EXPECT_NE(text.find("tls_key_passphrase = \"<redacted>\""), std::string::npos);
  Config back;
  ASSERT_TRUE(ConfigLoader(back).load_toml_string(text, "rendered").ok());
  EXPECT_EQ(back.server.port, 7000);
  EXPECT_EQ(back.limits.read_timeout, Millis(1500));
}

TEST(Config, ThePostgresStoreNeedsItsUrlWhichIsASecret) {
  Config c;
  ASSERT_TRUE(ConfigLoader(c)
                  .load_toml_string("[store]\ndriver = \"postgres\"\n[store.postgres]\npool_size = 8\n"
                                    "connect_timeout = \"2s\"\nstatement_timeout = \"500ms\"\n",
                                    "t.toml")
                  .ok());
  EXPECT_EQ(c.store.postgres.pool_size, 8u);
  EXPECT_EQ(c.store.postgres.connect_timeout, Millis(2000));
  EXPECT_EQ(c.store.postgres.statement_timeout, Millis(500));
  auto st = validate(c, true);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("store.postgres.url"), std::string::npos);
  c.store.postgres.url = "postgresql://herald:pw-4e1d@db.internal/herald?sslmode=verify-full";
  EXPECT_TRUE(validate(c, true).ok());
  std::string text = render_config(c);
  EXPECT_EQ(text.find("pw-4e1d"), std::string::npos);
  EXPECT_NE(text.find("postgres.url = \"<redacted>\""), std::string::npos);
  EXPECT_FALSE(ConfigLoader(c).load_toml_string("[store]\ndriver = \"mysql\"\n", "t.toml").ok());
}

// Found by fuzz/config_fuzz.cpp: a string value holding a control character (here from a
// "\r" escape) was rendered raw, and the rendered file did not load again.
TEST(Config, RenderEscapesControlCharactersSoTheFileLoadsAgain) {
  Config c;
  c.server.listen =
      "a\rb\x01"
      "c\x7f"
      "\"q\\ \n\t";
  std::string text = render_config(c);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  Config back;
  auto st = ConfigLoader(back).load_toml_string(text, "rendered");
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(back.server.listen, c.server.listen);
  EXPECT_EQ(render_config(back), text);
}

TEST(Config, ValidateRequiresCertificateUnlessDevOrPlain) {
  Config c;
  c.delivery.allow_log_provider = true;  // the default providers; this test is about TLS
  EXPECT_FALSE(validate(c, false).ok());
  EXPECT_TRUE(validate(c, true).ok());
  c.server.tls = false;
  c.server.trusted_proxies = "none";  // plain HTTP must say who names the client (next test)
  EXPECT_TRUE(validate(c, false).ok());
  c.server.tls_cert = "only-cert.pem";
  EXPECT_FALSE(validate(c, false).ok());
}

// The audit witness: a plain-HTTP endpoint would let anyone on the path swallow or
// fake the witness's acceptance, and a credential in the URL would reach logs.
TEST(Config, TheWitnessUrlIsHttpsOnlyOutsideDevAndCarriesNoCredentials) {
  Config c;
  c.server.tls = false;
  c.server.trusted_proxies = "none";
  c.delivery.allow_log_provider = true;
  c.audit.witness_url = "http://witness.example/cp";
  auto plain = validate(c, false);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.error().message.find("audit.witness_url"), std::string::npos);
  EXPECT_TRUE(validate(c, true).ok());  // --dev
  c.audit.witness_url = "https://user:hunter2@witness.example/cp";
  auto creds = validate(c, true);
  ASSERT_FALSE(creds.ok());
  EXPECT_EQ(creds.error().message.find("hunter2"), std::string::npos);
  c.audit.witness_url = "https://witness.example/cp";
  EXPECT_TRUE(validate(c, false).ok());
  c.audit.witness_url.clear();
  c.audit.witness_token_file = "/etc/herald/witness.token";
  EXPECT_FALSE(validate(c, false).ok()) << "a token with nowhere to send it is a mistake";
}

// S13: plain HTTP means a proxy in front; without trusted_proxies every IP control
// would see only the proxy, so the operator must name it (or say "none").
TEST(Config, PlainHttpRequiresTrustedProxiesToBeStated) {
  Config c;
  c.server.tls = false;
  c.delivery.allow_log_provider = true;  // not what this test is about
  auto st = validate(c, false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("server.trusted_proxies"), std::string::npos);
  EXPECT_TRUE(validate(c, true).ok());  // --dev
  c.server.trusted_proxies = "10.0.0.0/8";
  EXPECT_TRUE(validate(c, false).ok());
  c.server.trusted_proxies = "none";
  EXPECT_TRUE(validate(c, false).ok());
  c.server.proxy_protocol = true;  // a PROXY header from whom?
  EXPECT_FALSE(validate(c, false).ok());
}

TEST(Config, TheMetricsTokenIsRedacted) {
  Config c;
  c.metrics.token = "metrics-s3cret";
  std::string text = render_config(c);
  EXPECT_EQ(text.find("metrics-s3cret"), std::string::npos);
  EXPECT_NE(text.find("token = \"<redacted>\""), std::string::npos);
}

TEST(Config, TheLogDeliveryProviderNeedsDevOrAnExplicitAllowance) {
  Config c;
  c.server.tls = false;
  c.server.trusted_proxies = "none";  // plain HTTP must name its proxies; not what this test is about
  auto st = validate(c, false);       // both channels default to log
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("delivery.allow_log_provider"), std::string::npos);
  EXPECT_TRUE(validate(c, true).ok());
  c.delivery.email_provider = "smtp";
  EXPECT_FALSE(validate(c, false).ok());  // SMS still goes nowhere
  c.delivery.allow_log_provider = true;
  EXPECT_TRUE(validate(c, false).ok());
}

TEST(Config, EveryKeyIsDocumented) {
  std::ifstream f(std::string(HERALD_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  for (const auto& k : config_keys())
    EXPECT_NE(ss.str().find("| `" + k.name + "` |"), std::string::npos) << k.name << " missing from docs";
}

}  // namespace
}  // namespace herald
