// The start-up files of a data dir (admin.token, and in development dev-app.json,
// dev-unseal.share and the certificate), and the development banner.
#include "cli/dev_bootstrap.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "apps/app_store.h"
#include "audit/log.h"
#include "auth/jwt.h"
#include "core/clock.h"
#include "core/log.h"
#include "crypto/dev_cert.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "server/node.h"
#include "store/store.h"

namespace herald::cli {
namespace {

enum class FileWrite { ok, cannot_create, cannot_write };

// Writes `body` to a file of mode 0600; `exclusive` refuses to replace an existing one.
FileWrite write_private_file(const std::string& path, const std::string& body, bool exclusive) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0600);
  if (fd < 0) return FileWrite::cannot_create;
  bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  ::close(fd);
  return ok ? FileWrite::ok : FileWrite::cannot_write;
}

Result<DemoApp> ensure_demo_app(apps::AppStore& apps, const std::string& data_dir) {
  auto existing = apps.find_by_name("demo");
  if (!existing) {
    apps::AppOptions opts;
    opts.name = "demo";
    opts.scopes = apps::kAllScopes;
    opts.rate_limit = 0;
    auto created = apps.create(opts);
    if (!created) return created.error();
    existing = created->app;
  }
  DemoApp demo{existing, {}, {}};
  if (!existing->secrets.empty()) demo.app_secret = existing->secrets.front().secret;
  for (const auto& k : existing->client_keys)
    if (k.alg == auth::JwtAlg::HS256) demo.client_secret = k.secret;
  std::string path = data_dir + "/dev-app.json";
  std::string body =
      // `id` and `key` as `herald app create --json` names them; `app_id` and `app_key` kept for older readers.
      "{\"id\":\"" + demo.app->id + "\",\"key\":\"" + demo.app->key + "\",\"app_id\":\"" + demo.app->id +
      "\",\"app_key\":\"" + demo.app->key + "\",\"name\":\"demo\",\"app_secret\":\"";
  body.append(demo.app_secret.view()).append("\",\"client_secret\":\"");
  body.append(demo.client_secret.view()).append("\"}\n");
  const bool ok = write_private_file(path, body, false) == FileWrite::ok;
  OPENSSL_cleanse(body.data(), body.size());
  if (!ok) return make_error(Errc::kDevAppFailed, "cannot write " + path);
  return demo;
}

// In production the key service must have been initialised with `herald operator init`,
// and starts sealed. In development a data dir without one is initialised with a single
// share kept beside it, and every start unseals at once.
Status load_key_service(kms::KeyService& keys, store::Store& db, const std::string& data_dir, bool dev) {
  if (!dev) return keys.load();
  auto st = kms::dev_unseal(keys, db, data_dir, true);
  if (!st) return st;
  log::warn("dev_kms", {{"message",
                         "DEVELOPMENT MODE: the key service was unsealed with a single share kept in "
                         "the data dir; anyone who can read it can read every secret. Never in production."},
                        {"share_file", kms::dev_share_path(data_dir)}});
  return ok_status();
}

// The admin token: made at first start, written once to <data_dir>/admin.token (0600)
// for the operator to move somewhere safe; the store keeps only its SHA-256.
Status ensure_admin_token(store::Store& db, const std::string& data_dir, Bootstrap& boot) {
  auto existing = db.get_meta("admin_token_sha256");
  if (!existing) return existing.error();
  std::string path = data_dir + "/admin.token";
  if (existing->has_value()) {
    auto digest = crypto::hex_decode(**existing);
    if (!digest || digest->size() != 32) return make_error(Errc::kStoreError, "the stored admin token hash is corrupt");
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    boot.admin_token = crypto::SecretBytes(std::string_view(line));
    OPENSSL_cleanse(line.data(), line.size());
    boot.admin_token_sha256 = *digest;
    return ok_status();
  }
  unsigned char raw[32];
  crypto::random_bytes(raw, sizeof raw);
  std::string token = "hat_" + crypto::base64url_encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
  OPENSSL_cleanse(raw, sizeof raw);
  boot.admin_token = crypto::SecretBytes(std::string_view(token));
  boot.admin_token_sha256 = crypto::sha256(token);
  token += "\n";
  auto written = write_private_file(path, token, true);
  OPENSSL_cleanse(token.data(), token.size());
  if (written == FileWrite::cannot_create) return make_error(Errc::kAdminTokenFailed, "cannot create " + path);
  if (written == FileWrite::cannot_write) return make_error(Errc::kAdminTokenFailed, "cannot write " + path);
  auto st = store::wait_for([&](store::Completion done) {
    db.put_meta("admin_token_sha256", crypto::hex_encode(boot.admin_token_sha256), std::move(done));
  });
  if (!st) return st;
  log::warn("admin_token_created", {{"path", path}, {"message", "move it somewhere safe and delete the file"}});
  return ok_status();
}

Status use_dev_certificate(Config& cfg) {
  auto cert = crypto::ensure_dev_certificate(cfg.store.data_dir);
  if (!cert) return cert.error();
  cfg.server.tls_cert = cert->cert;
  cfg.server.tls_key = cert->key;
  log::warn("dev_certificate", {{"cert", cert->cert}});
  return ok_status();
}

Error failed(const char* event, const Error& e) {
  log::error(event, {{"error", e.message}});
  return e;
}

}  // namespace

void warn_dev_mode(const Config& cfg) {
  log::warn("dev_mode", {{"message", "DEVELOPMENT MODE: self-signed certificate, not for production"},
                         {"data_dir", cfg.store.data_dir}});
}

Result<Bootstrap> bootstrap(server::Node& node, bool dev) {
  Config& cfg = node.config();
  const std::string& data_dir = cfg.store.data_dir;
  if (auto st = load_key_service(node.keys(), node.store(), data_dir, dev); !st)
    return failed("kms_start_failed", st.error());
  Bootstrap boot;
  if (auto st = ensure_admin_token(node.store(), data_dir, boot); !st) return failed("admin_token_failed", st.error());
  if (dev) {
    auto demo = ensure_demo_app(node.apps(), data_dir);
    if (!demo) return failed("dev_app_failed", demo.error());
    boot.demo = std::move(*demo);
    if (auto* audit = node.audit())
      audit->record(
          audit::Event{"operator", "unseal", "ok", 0, "operator", "", "", {{"via", "development share file"}}, {}});
  }
  if (node.keys().sealed()) {
    auto ks = node.keys().status();
    log::warn("kms_sealed", {{"message", "sealed: give shares with `herald operator unseal` to start serving"},
                             {"threshold", ks.threshold},
                             {"shares", ks.shares}});
  }
  if (dev && cfg.server.tls && cfg.server.tls_cert.empty())
    if (auto st = use_dev_certificate(cfg); !st) return failed("dev_certificate_failed", st.error());
  return boot;
}

void print_dev_banner(server::Node& node, const Bootstrap& boot) {
  const Config& cfg = node.config();
  const DemoApp& demo = *boot.demo;
  std::string url = node.url();
  std::string ws_url = std::string(cfg.server.tls ? "wss" : "ws") + url.substr(url.find(':')) + "/ws";
  std::string sample = auth::sign_jwt_hs256(
      "{\"sub\":\"demo-user\",\"exp\":" + std::to_string(clock::unix_ms() / 1000 + 86400) + "}", demo.client_secret);
  // %.*s: secret bytes carry no terminating NUL.
  auto len = [](const crypto::SecretBytes& b) { return static_cast<int>(b.size()); };
  auto chars = [](const crypto::SecretBytes& b) { return reinterpret_cast<const char*>(b.data()); };
  constexpr std::string_view kNoToken = "(not available: admin.token was removed)";
  std::printf(
      "\nHerald is serving at %s (development mode)\n  health:    %s/healthz\n  metrics:   %s/metrics\n"
      "  websocket: %s\n\nDemo app (credentials also in %s/dev-app.json):\n"
      "  app key:       %s\n  app secret:    %.*s   (signs server-API requests)\n"
      "  client secret: %.*s   (HS256 key for client JWTs)\n"
      "  sample client token (user demo-user, 24 h):\n    %s\n\nAdmin token: %.*s\n\n  stop with Ctrl-C\n\n",
      url.c_str(), url.c_str(), url.c_str(), ws_url.c_str(), cfg.store.data_dir.c_str(), demo.app->key.c_str(),
      len(demo.app_secret), chars(demo.app_secret), len(demo.client_secret), chars(demo.client_secret), sample.c_str(),
      boot.admin_token.empty() ? static_cast<int>(kNoToken.size()) : len(boot.admin_token),
      boot.admin_token.empty() ? kNoToken.data() : chars(boot.admin_token));
  std::fflush(stdout);
}

}  // namespace herald::cli
