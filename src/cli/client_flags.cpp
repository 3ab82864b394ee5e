// The flags of the client subcommands, their environment fallbacks, and how a failed
// call is shown. Secrets come from files or the environment, never from echoed text.
#include "cli/client_flags.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include <openssl/crypto.h>

#include "core/duration.h"

namespace herald::cli {
namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

void add_connection_flags(CLI::App* cmd, ConnectionFlags& f) {
  cmd->add_option("--server", f.server, "Server URL (default https://127.0.0.1:8443)")
      ->envname("HERALD_SERVER")
      ->type_name("URL");
  cmd->add_option("--ca-file", f.ca_file, "PEM file of the CA (or self-signed certificate) to trust")
      ->envname("HERALD_CA_FILE")
      ->type_name("FILE");
  cmd->add_flag("--insecure", f.insecure, "Do not verify the server's certificate (development only)");
  cmd->add_option("--timeout", f.timeout, "Give up after this long, e.g. 5s (default 10s)")->type_name("DURATION");
  cmd->add_flag("--json", f.json, "Machine-readable output (errors too, on stdout)");
}

void add_admin_flags(CLI::App* cmd, AdminFlags& f) {
  add_connection_flags(cmd, f.conn);
  cmd->add_option("--admin-token-file", f.token_file,
                  "File holding the admin token (else $HERALD_ADMIN_TOKEN or $HERALD_ADMIN_TOKEN_FILE)")
      ->type_name("FILE");
  cmd->add_option("--admin-token", f.token,
                  "The admin token itself: visible to every user in the process list; prefer the file or "
                  "$HERALD_ADMIN_TOKEN")
      ->type_name("TOKEN");
}

void add_app_credential_flags(CLI::App* cmd, AppCredentialFlags& f) {
  add_connection_flags(cmd, f.conn);
  cmd->add_option("--app-key", f.app_key, "The app's AppKey (hk_...)")->envname("HERALD_APP_KEY")->type_name("KEY");
  cmd->add_option("--app-secret-file", f.secret_file, "File holding the AppSecret (else $HERALD_APP_SECRET)")
      ->type_name("FILE");
}

Result<sdk::ConnectionOptions> connection_options(const ConnectionFlags& f) {
  sdk::ConnectionOptions o;
  o.base_url = f.server;
  o.ca_file = f.ca_file;
  o.insecure = f.insecure;
  auto t = parse_duration(f.timeout);
  if (!t) return make_error(Errc::kInvalidArgument, "--timeout: " + t.error().message);
  if (t->count() <= 0) return make_error(Errc::kInvalidArgument, "--timeout must be positive");
  o.timeout = std::chrono::milliseconds(t->count());
  if (!o.ca_file.empty()) {
    std::ifstream probe(o.ca_file);
    if (!probe.good()) return make_error(Errc::kInvalidArgument, "cannot read the CA file " + o.ca_file);
  }
  return o;
}

Result<sdk::SecretString> read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) return make_error(Errc::kInvalidArgument, "cannot read " + path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  sdk::SecretString secret{std::string_view(line)};
  line.resize(line.capacity());
  OPENSSL_cleanse(line.data(), line.size());
  if (secret.empty()) return make_error(Errc::kInvalidArgument, path + " is empty");
  return secret;
}

Result<sdk::AdminClientOptions> admin_options(const AdminFlags& f) {
  auto conn = connection_options(f.conn);
  if (!conn) return conn.error();
  sdk::AdminClientOptions o;
  o.connection = std::move(*conn);
  std::string token_file = f.token_file;
  if (token_file.empty() && f.token.empty() && std::getenv("HERALD_ADMIN_TOKEN") == nullptr)
    token_file = env_or_empty("HERALD_ADMIN_TOKEN_FILE");
  if (!token_file.empty()) {
    auto t = read_secret_file(token_file);
    if (!t) return t.error();
    o.admin_token = std::move(*t);
  } else if (!f.token.empty()) {
    o.admin_token = f.token;
  } else if (const char* env = std::getenv("HERALD_ADMIN_TOKEN"); env && *env) {
    o.admin_token = env;
  } else {
    return make_error(Errc::kInvalidArgument,
                      "no admin token: give --admin-token-file FILE or set HERALD_ADMIN_TOKEN "
                      "(the server wrote it to <data_dir>/admin.token at its first start)");
  }
  return o;
}

Result<sdk::ServerClientOptions> server_options(const AppCredentialFlags& f) {
  auto conn = connection_options(f.conn);
  if (!conn) return conn.error();
  sdk::ServerClientOptions o;
  o.connection = std::move(*conn);
  o.app_key = f.app_key;
  if (o.app_key.empty()) return make_error(Errc::kInvalidArgument, "no AppKey: give --app-key or set HERALD_APP_KEY");
  if (!f.secret_file.empty()) {
    auto s = read_secret_file(f.secret_file);
    if (!s) return s.error();
    o.app_secret = std::move(*s);
  } else if (const char* env = std::getenv("HERALD_APP_SECRET"); env && *env) {
    o.app_secret = env;
  } else {
    return make_error(Errc::kInvalidArgument, "no AppSecret: give --app-secret-file FILE or set HERALD_APP_SECRET");
  }
  // The server's server.deployment_id, bound into every v2 signature.
  if (const char* env = std::getenv("HERALD_DEPLOYMENT_ID"); env) o.deployment_id = env;
  return o;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "herald: %s\n", message.c_str());
  return kExitUsage;
}

int call_failed(const sdk::Error& e, bool json) {
  // Input the SDK refused before sending anything is a usage error, not a failed call.
  const int code = e.code == "invalid_argument" && e.http_status == 0 ? kExitUsage : kExitFailed;
  if (json) {
    boost::json::object err{{"code", e.code}, {"message", e.message}};
    if (e.http_status) err["http_status"] = e.http_status;
    if (!e.request_id.empty()) err["request_id"] = e.request_id;
    if (e.retry_after_s) err["retry_after"] = e.retry_after_s;
    if (e.attempts_left >= 0) err["attempts_left"] = e.attempts_left;
    std::printf("%s\n", boost::json::serialize(boost::json::object{{"error", std::move(err)}}).c_str());
    return code;
  }
  std::string where;
  if (e.http_status) where += "HTTP " + std::to_string(e.http_status);
  if (!e.request_id.empty()) where += (where.empty() ? "" : ", ") + std::string("request id ") + e.request_id;
  std::fprintf(stderr, "herald: %s: %s%s\n", e.code.c_str(), e.message.c_str(),
               where.empty() ? "" : (" (" + where + ")").c_str());
  if (e.code == "tls_error")
    std::fprintf(stderr,
                 "  trust the server's certificate with --ca-file FILE (a dev server's is "
                 "<data_dir>/dev-cert.pem), or use --insecure in development\n");
  if (e.retry_after_s) std::fprintf(stderr, "  retry after %d s\n", e.retry_after_s);
  return code;
}

std::string utc_time(std::int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string default_data_dir() {
  const char* d = std::getenv("HERALD_STORE_DATA_DIR");
  return d ? d : "./data";
}

}  // namespace herald::cli
