// The command line and configuration layering, through the real binary.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "harness.h"

namespace herald::testing {
namespace {

std::string write_config(const TempDir& dir, const std::string& text) {
  std::string path = dir.path() + "/herald.toml";
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigCli, PrintConfigRedactsSecretsFromEveryLayer) {
  TempDir dir;
  auto path = write_config(dir, "[server]\ntls_key_passphrase = \"file-secret-123\"\n");
  auto r = run_herald({"serve", "--config", path, "--print-config", "--dev"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tls_key_passphrase = \"<redacted>\""), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("file-secret-123"), std::string::npos);

  r = run_herald({"serve", "--print-config", "--dev"}, {"HERALD_SERVER_TLS_KEY_PASSPHRASE=env-secret-456"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("env-secret-456"), std::string::npos);

  r = run_herald({"serve", "--print-config", "--dev", "--server.tls_key_passphrase=flag-secret-789"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("flag-secret-789"), std::string::npos);
}

TEST(ConfigCli, FlagBeatsEnvironmentBeatsFileBeatsDefault) {
  TempDir dir;
  auto path = write_config(dir, "[server]\nport = 1111\n[limits]\nidle_timeout = \"7s\"\n");
  auto r = run_herald({"serve", "--config", path, "--print-config", "--dev"});
  EXPECT_NE(r.output.find("port = 1111"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("idle_timeout = \"7s\""), std::string::npos);
  EXPECT_NE(r.output.find("read_timeout = \"30s\""), std::string::npos);  // default

  r = run_herald({"serve", "--config", path, "--print-config", "--dev"}, {"HERALD_SERVER_PORT=2222"});
  EXPECT_NE(r.output.find("port = 2222"), std::string::npos) << r.output;

  r = run_herald({"serve", "--config", path, "--print-config", "--dev", "--server.port=3333"},
                 {"HERALD_SERVER_PORT=2222"});
  EXPECT_NE(r.output.find("port = 3333"), std::string::npos) << r.output;

  r = run_herald({"serve", "--print-config", "--dev"}, {"HERALD_CONFIG=" + path});
  EXPECT_NE(r.output.find("port = 1111"), std::string::npos) << r.output;
}

TEST(ConfigCli, UnknownKeysAreErrorsNamingTheKey) {
  TempDir dir;
  auto path = write_config(dir, "[server]\nprot = 1\n");
  auto r = run_herald({"serve", "--config", path, "--dev"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("server.prot: unknown configuration key"), std::string::npos) << r.output;

  r = run_herald({"serve", "--dev"}, {"HERALD_SERVER_PROT=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("HERALD_SERVER_PROT: unknown configuration variable"), std::string::npos) << r.output;

  r = run_herald({"serve", "--dev", "--server.prot=1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("server.prot"), std::string::npos) << r.output;
}

TEST(ConfigCli, BadValuesAreErrorsNamingKeyAndOrigin) {
  TempDir dir;
  auto r = run_herald({"serve", "--dev", "--server.port=70000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("flag --server.port: server.port"), std::string::npos) << r.output;

  auto path = write_config(dir, "[limits]\nread_timeout = 30\n");
  r = run_herald({"serve", "--config", path, "--dev"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("limits.read_timeout: expected a string such as \"10s\""), std::string::npos) << r.output;

  path = write_config(dir, "[log]\nformat = \"xml\"\n");
  r = run_herald({"serve", "--config", path, "--dev"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("log.format: expected one of: text, json"), std::string::npos) << r.output;

  path = write_config(dir, "[server\nport = 1\n");
  r = run_herald({"serve", "--config", path, "--dev"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("herald.toml:1:"), std::string::npos) << r.output;

  r = run_herald({"serve", "--config", dir.path() + "/missing.toml", "--dev"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("cannot read config file"), std::string::npos) << r.output;
}

TEST(ConfigCli, TlsWithoutACertificateNeedsDevOrAnExplicitOptOut) {
  TempDir dir;
  auto r = run_herald({"serve", "--store.data_dir=" + dir.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("server.tls_cert and server.tls_key are required"), std::string::npos) << r.output;
}

TEST(ConfigCli, LogDeliveryProviderIsRefusedWithoutDevUnlessAllowed) {
  TempDir dir;
  // The defaults are the log provider: a production start must not answer "sent" for
  // codes that go nowhere.
  auto r = run_herald({"serve", "--server.tls=false", "--server.trusted_proxies=none", "--store.data_dir=" + dir.path()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("which sends nothing"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("delivery.allow_log_provider"), std::string::npos) << r.output;
  r = run_herald({"serve", "--server.tls=false", "--server.trusted_proxies=none", "--store.data_dir=" + dir.path(),
                  "--delivery.email_provider=smtp",
                  "--delivery.smtp.url=smtps://mail.example.com:465", "--delivery.smtp.from=a@example.com"});
  EXPECT_EQ(r.exit_code, 2) << r.output;  // SMS still logs only
  EXPECT_NE(r.output.find("which sends nothing"), std::string::npos) << r.output;
  // Forced: it starts (and still warns that nothing is delivered).
  Server s({.args = {"--delivery.allow_log_provider=true"}, .dev = false, .tls = false});
  EXPECT_NE(s.log().find("\"event\":\"delivery_log_only\""), std::string::npos);
}

TEST(ConfigCli, EncryptedKeyNeedsTheRightPassphraseWhichIsNeverPrinted) {
  TempDir dir;
  std::string cert = dir.path() + "/c.pem", key = dir.path() + "/k.pem";
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 -subj /CN=localhost "
      "-addext subjectAltName=IP:127.0.0.1 -passout pass:correct-horse-1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::vector<std::string> base{"--server.tls_cert=" + cert, "--server.tls_key=" + key,
                                "--delivery.allow_log_provider=true"};

  auto wrong = base;
  wrong.push_back("--server.tls_key_passphrase=wrong-battery-2");
  TempDir data;
  ASSERT_EQ(run_herald({"operator", "init", "--data-dir", data.path(), "--shares", "1", "--threshold", "1"}).exit_code,
            0);
  wrong.insert(wrong.begin(), {"serve", "--server.port=0", "--store.data_dir=" + data.path()});
  auto r = run_herald(wrong);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("server.tls_key: cannot load"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("wrong-battery-2"), std::string::npos);

  auto right = base;
  right.push_back("--server.tls_key_passphrase=correct-horse-1");
  Server s({.args = right, .dev = false});
  TlsOptions o;
  o.ca_file = cert;
  auto c = Connection::open(s.port(), true, o);
  EXPECT_EQ(c->request("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
  EXPECT_EQ(s.log().find("correct-horse-1"), std::string::npos);
}

TEST(ConfigCli, VersionAndHelp) {
  auto r = run_herald({"version", "--json"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("\"version\":\"0.1.0\""), std::string::npos) << r.output;
  r = run_herald({"serve", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--limits.handshake_timeout DURATION"), std::string::npos) << r.output;
  r = run_herald({});
  EXPECT_NE(r.exit_code, 0);
}

TEST(ConfigCli, JsonLogsAreOneObjectPerLine) {
  Server s;  // the harness asks for --log.format=json
  https(s, "GET", "/healthz");
  std::string log = s.log();
  std::istringstream in(log);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;  // the dev banner on stdout is not a log line
    ++lines;
    EXPECT_EQ(line.back(), '}') << line;
    EXPECT_NE(line.find("\"ts\":\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"level\":\""), std::string::npos) << line;
  }
  EXPECT_GE(lines, 3);
}

// A threshold of 1 makes every share the root key itself: init says so, and does not
// claim the root key is stored nowhere; a threshold of 2 gets no warning. The output holds
// shares, so it is never printed.
TEST(OperatorInit, ThresholdOneIsWarnedAbout) {
  TempDir one;
  auto r = run_herald({"operator", "init", "--data-dir", one.path(), "--shares", "1", "--threshold", "1"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("WARNING: with --threshold 1 every share IS the root key"), std::string::npos);
  EXPECT_NE(r.output.find("initialised: 1 share, any 1"), std::string::npos);
  EXPECT_EQ(r.output.find("stored nowhere"), std::string::npos);
  TempDir two;
  auto ok = run_herald({"operator", "init", "--data-dir", two.path(), "--shares", "3", "--threshold", "2"});
  ASSERT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.output.find("WARNING"), std::string::npos);
  EXPECT_NE(ok.output.find("The root key itself is stored nowhere."), std::string::npos);
}

}  // namespace
}  // namespace herald::testing
