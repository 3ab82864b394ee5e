// `herald serve`: load and check the config, open the store, start the gateway, and
// run until SIGINT or SIGTERM, then shut down gracefully.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>
#include <pthread.h>
#include <unistd.h>

#include <fcntl.h>

#include <fstream>

#include "api/admin_routes.h"
#include "api/audit_routes.h"
#include "api/idempotency.h"
#include "api/kms_routes.h"
#include "api/message_routes.h"
#include "api/otp_routes.h"
#include "api/router.h"
#include "api/server_auth.h"
#include "api/server_routes.h"
#include "api/system_routes.h"
#include "apps/app_store.h"
#include "audit/log.h"
#include "auth/ip_allowlist.h"
#include "auth/jwt.h"
#include "auth/rate_limiter.h"
#include "auth/replay_guard.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/dev_cert.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "delivery/sender.h"
#include "delivery/webhook.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "messages/message_service.h"
#include "net/gateway.h"
#include "otp/otp_service.h"
#include "push/client.h"
#include "push/hub.h"
#include "store/store.h"

extern char** environ;

namespace herald::cli {
namespace {

struct ServeOptions {
  std::string config_file;
  bool dev = false;
  bool print_config = false;
  std::map<std::string, std::string> overrides;
  std::map<std::string, CLI::Option*> override_opts;
  CLI::App* cmd = nullptr;  // for the namespace flags CLI11 leaves over
};

// `--namespaces.<name>.<option> VALUE` (or `=VALUE`): namespaces are open-ended, so their
// flags are not registered with CLI11 but taken from what it leaves over. Anything else
// left over is an unknown flag.
Status apply_namespace_flags(ConfigLoader& loader, const std::vector<std::string>& rest) {
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const std::string& arg = rest[i];
    if (arg.rfind("--namespaces.", 0) != 0)
      return make_error("invalid_config", "unknown argument '" + arg + "' (see herald serve --help)");
    std::string key = arg.substr(2), value;
    auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (i + 1 < rest.size()) {
      value = rest[++i];
    } else {
      return make_error("invalid_config", "flag --" + key + " needs a value");
    }
    auto st = loader.set(key, value, "flag --" + key);
    if (!st) return st;
  }
  return ok_status();
}

std::vector<std::string> environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

// Defaults, then the file, then HERALD_* variables, then flags.
Result<Config> load_config(const ServeOptions& o) {
  Config cfg;
  ConfigLoader loader(cfg);
  std::string file = o.config_file;
  if (file.empty())
    if (const char* f = std::getenv("HERALD_CONFIG")) file = f;
  if (!file.empty()) {
    if (::access(file.c_str(), R_OK) != 0) return make_error("invalid_config", "cannot read config file " + file);
    auto st = loader.load_toml_file(file);
    if (!st) return st.error();
  }
  auto st = loader.load_env(environment());
  if (!st) return st.error();
  for (const auto& [key, opt] : o.override_opts) {
    if (opt->count() == 0) continue;
    st = loader.set(key, o.overrides.at(key), "flag --" + key);
    if (!st) return st.error();
  }
  if (o.cmd) {
    st = apply_namespace_flags(loader, o.cmd->remaining());
    if (!st) return st.error();
  }
  st = validate(cfg, o.dev);
  if (!st) return st.error();
  return cfg;
}

// Blocks the shutdown signals in every thread started from here on; the main thread
// takes them with sigwait.
sigset_t block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return set;
}

Status ensure_instance_id(store::Store& s) {
  auto existing = s.get_meta("instance_id");
  if (!existing) return existing.error();
  if (existing->has_value()) return ok_status();
  std::string id = crypto::random_hex(16);
  return store::wait_for([&](store::Completion done) { s.put_meta("instance_id", id, std::move(done)); });
}

// Development mode's demo app: created once (every scope, no rate cap), its
// credentials written to <data_dir>/dev-app.json (0600) for tools and printed on every
// start.
struct DemoApp {
  std::shared_ptr<const apps::App> app;
  std::string app_secret;
  std::string client_secret;
};

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
  if (!existing->secrets.empty()) demo.app_secret = std::string(existing->secrets.front().secret.view());
  for (const auto& k : existing->client_keys)
    if (k.alg == auth::JwtAlg::HS256) demo.client_secret = std::string(k.secret.view());
  std::string path = data_dir + "/dev-app.json";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("dev_app_failed", "cannot write " + path);
  std::string body = "{\"app_id\":\"" + demo.app->id + "\",\"app_key\":\"" + demo.app->key +
                     "\",\"name\":\"demo\",\"app_secret\":\"" + demo.app_secret + "\",\"client_secret\":\"" +
                     demo.client_secret + "\"}\n";
  bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  ::close(fd);
  if (!ok) return make_error("dev_app_failed", "cannot write " + path);
  return demo;
}

// Loads the key service. In development a data dir without one is initialised with a
// single share kept beside it, and every start unseals at once; in production it must
// be initialised with `herald operator init` first, and starts sealed.
Status ensure_key_service(kms::KeyService& keys, store::Store& db, const std::string& data_dir, bool dev) {
  if (!dev) return keys.load();
  auto st = kms::dev_unseal(keys, db, data_dir, true);
  if (!st) return st;
  log::warn("dev_kms", {{"message", "DEVELOPMENT MODE: the key service was unsealed with a single share kept in "
                                    "the data dir; anyone who can read it can read every secret. Never in production."},
                        {"share_file", kms::dev_share_path(data_dir)}});
  return ok_status();
}

// The admin token: made at first start, written once to <data_dir>/admin.token (0600)
// for the operator to move somewhere safe; the store keeps only its SHA-256.
Result<std::string> ensure_admin_token(store::Store& db, const std::string& data_dir, std::string& token_out) {
  auto existing = db.get_meta("admin_token_sha256");
  if (!existing) return existing.error();
  std::string path = data_dir + "/admin.token";
  if (existing->has_value()) {
    auto digest = crypto::hex_decode(**existing);
    if (!digest || digest->size() != 32) return make_error("store_error", "the stored admin token hash is corrupt");
    std::ifstream f(path);
    std::getline(f, token_out);
    return *digest;
  }
  unsigned char raw[32];
  crypto::random_bytes(raw, sizeof raw);
  token_out = "hat_" + crypto::base64url_encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
  std::string digest = crypto::sha256(token_out);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("admin_token_failed", "cannot create " + path);
  std::string line = token_out + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return make_error("admin_token_failed", "cannot write " + path);
  auto st = store::wait_for(
      [&](store::Completion done) { db.put_meta("admin_token_sha256", crypto::hex_encode(digest), std::move(done)); });
  if (!st) return st.error();
  log::warn("admin_token_created", {{"path", path}, {"message", "move it somewhere safe and delete the file"}});
  return digest;
}

int serve(ServeOptions& o) {
  sigset_t signals = block_shutdown_signals();
  auto loaded = load_config(o);
  if (!loaded) {
    std::fprintf(stderr, "herald: %s\n", loaded.error().message.c_str());
    return 2;
  }
  Config& cfg = *loaded;
  if (o.print_config) {
    std::fputs(render_config(cfg).c_str(), stdout);
    return 0;
  }
  log::init(cfg.log.level, cfg.log.format);
  struct LogGuard {
    ~LogGuard() { log::shutdown(); }
  } log_guard;

  if (o.dev) {
    log::warn("dev_mode",
              {{"message", "DEVELOPMENT MODE: self-signed certificate, not for production"},
               {"data_dir", cfg.store.data_dir}});
  }
  if (!cfg.server.tls) {
    log::warn("tls_disabled", {{"message", "serving plain HTTP; only behind a TLS-terminating proxy"},
                               {"listen", cfg.server.listen}});
  }

  metrics::Registry registry;
  registry.gauge("herald_build_info", "Build information; the value is 1", {"version"}).with({HERALD_VERSION}).set(1);

  store::StoreOptions sopts{cfg.store.data_dir, cfg.store.commit_batch_max, &registry};
  auto opened = store::open_store(cfg.store.driver, sopts);
  if (!opened) {
    log::error("store_open_failed", {{"error", opened.error().message}});
    return 1;
  }
  std::unique_ptr<store::Store> db = std::move(*opened);
  if (auto st = ensure_instance_id(*db); !st) {
    log::error("store_write_failed", {{"error", st.error().message}});
    return 1;
  }

  // The key service: sealed until K shares are in (in development, one share kept in
  // the data dir unseals it at once). Apps and their secrets load at unseal.
  auto secure = crypto::init_secure_memory(1 << 20);
  if (!secure.locked)
    log::warn("secure_memory_unlocked",
              {{"message", "key material cannot be locked in memory (raise RLIMIT_MEMLOCK); it is still zeroised"},
               {"initialised", secure.initialised}});
  kms::KeyService keys(*db, &registry);
  apps::AppStore apps(db->apps(), keys);
  push::Hub* hub_ptr = nullptr;  // set once the hub exists, before the gateway starts
  std::unique_ptr<audit::Log> audit_log;
  if (cfg.audit.enabled) {
    audit_log = std::make_unique<audit::Log>(
        *db, keys, audit::LogOptions{cfg.audit.checkpoint_every, cfg.audit.checkpoint_interval.count()}, &registry);
    if (auto st = audit_log->open(); !st) {
      log::error("audit_open_failed", {{"error", st.error().message}});
      return 1;
    }
  }
  // Outbound e-mail and SMS, and the verification-code service that uses them.
  auto senders = delivery::make_senders(cfg.delivery, o.dev, &registry);
  if (!senders) {
    log::error("delivery_config_invalid", {{"error", senders.error().message}});
    return 1;
  }
  otp::Templates otp_templates;
  if (!cfg.otp.templates_file.empty()) {
    auto t = otp::Templates::load_file(cfg.otp.templates_file);
    if (!t) {
      log::error("otp_templates_invalid", {{"error", t.error().message}});
      return 1;
    }
    otp_templates = std::move(*t);
  }
  // Each send adds at most five counters; four per held verification bounds them well.
  otp::OtpService otp_service(cfg.otp, *db, keys, senders->get(),
                              otp::make_memory_limit_counters(4 * cfg.otp.max_pending + 1024),
                              std::move(otp_templates), &registry);
  // Messages to users, and the webhook channel of their fallback.
  delivery::WebhookSender webhooks(cfg.messages.webhook_workers, cfg.messages.webhook_queue_max, &registry);
  messages::MessageService messages(
      cfg.messages, *db, keys, senders->get(),
      [&webhooks](delivery::WebhookRequest req, std::function<void(delivery::WebhookOutcome)> done) {
        webhooks.send(std::move(req), std::move(done));
      },
      &registry);
  keys.on_unsealed([&apps, &audit_log, &otp_service, &messages]() -> Status {
    if (auto st = apps.load(); !st) return st;
    if (auto st = otp_service.load(); !st) return st;
    if (auto st = messages.load(); !st) return st;
    if (audit_log) return audit_log->prepare_signing();
    return ok_status();
  });
  keys.on_sealed([&apps, &hub_ptr, &otp_service, &messages] {
    apps.unload();
    otp_service.unload();
    messages.unload();
    if (hub_ptr) hub_ptr->disconnect_all(push::close_code::kSealed, "sealed");
  });
  if (auto st = ensure_key_service(keys, *db, cfg.store.data_dir, o.dev); !st) {
    log::error("kms_start_failed", {{"error", st.error().message}});
    return 1;
  }
  std::string admin_token;
  auto admin_digest = ensure_admin_token(*db, cfg.store.data_dir, admin_token);
  if (!admin_digest) {
    log::error("admin_token_failed", {{"error", admin_digest.error().message}});
    return 1;
  }
  std::optional<DemoApp> demo;
  if (o.dev) {
    auto d = ensure_demo_app(apps, cfg.store.data_dir);
    if (!d) {
      log::error("dev_app_failed", {{"error", d.error().message}});
      return 1;
    }
    demo = std::move(*d);
  }
  if (audit_log && o.dev)
    audit_log->record(audit::Event{"operator", "unseal", "ok", 0, "operator", "", "", {{"via", "development share file"}}, {}});
  if (keys.sealed()) {
    auto ks = keys.status();
    log::warn("kms_sealed", {{"message", "sealed: give shares with `herald operator unseal` to start serving"},
                             {"threshold", ks.threshold},
                             {"shares", ks.shares}});
  }

  if (o.dev && cfg.server.tls && cfg.server.tls_cert.empty()) {
    auto cert = crypto::ensure_dev_certificate(cfg.store.data_dir);
    if (!cert) {
      log::error("dev_certificate_failed", {{"error", cert.error().message}});
      return 1;
    }
    cfg.server.tls_cert = cert->cert;
    cfg.server.tls_key = cert->key;
    log::warn("dev_certificate", {{"cert", cert->cert}});
  }

  api::Router router;
  std::unique_ptr<net::Gateway> gateway;
  api::add_system_routes(router, api::SystemRoutesDeps{
                                     &registry,
                                     {{"store", [&db] { return db->healthy(); }},
                                      {"kms", [&keys] { return !keys.sealed(); }},
                                      {"accepting", [&gateway] { return gateway && !gateway->draining(); }}},
                                     HERALD_VERSION});
  router.add_websocket("/ws");
  router.set_sealed_check([&keys] { return keys.sealed(); });

  auto nonces = auth::make_memory_nonce_store(cfg.api.replay_max_nonces, 2 * cfg.api.signature_window.count());
  auto rates = auth::make_memory_rate_limiter(100'000);
  api::ServerAuth server_auth(cfg, apps, *nonces, *rates, registry);
  api::IdempotencyCache idempotency(cfg.api.idempotency_max_keys, cfg.api.idempotency_ttl.count());
  api::add_admin_routes(router, api::AdminRoutesDeps{&apps, *admin_digest,
                                                     [&hub_ptr](const std::string& id) {
                                                       if (hub_ptr)
                                                         hub_ptr->disconnect_app(
                                                             id, push::close_code::kDisconnectedByServer, "app_disabled");
                                                     },
                                                     &keys});
  api::add_kms_routes(router, api::KmsRoutesDeps{&server_auth, &keys});
  api::add_otp_routes(router, api::OtpRoutesDeps{&server_auth, &otp_service, &apps, *admin_digest});
  api::add_message_routes(router, api::MessageRoutesDeps{&server_auth, &messages, &apps, *admin_digest});
  if (audit_log) {
    api::add_audit_routes(router, api::AuditRoutesDeps{audit_log.get(), &keys, &server_auth, *admin_digest});
    // Every answered call of the server, key and admin APIs, refusals included; bodies
    // (which may hold secrets or shares) are never recorded.
    router.set_observer([&audit_log](const api::Exchange& e) {
      audit_log->record(audit::Event{e.route.rfind("/admin/", 0) == 0 ? "admin" : "api",
                                     std::string(e.method) + " " + std::string(e.route),
                                     e.error_code.empty() ? "ok" : std::string(e.error_code),
                                     e.status,
                                     std::string(e.actor),
                                     std::string(e.request_id),
                                     std::string(auth::host_of(e.remote)),
                                     {},
                                     {}});
    });
  }
  if (!cfg.api.require_signature)
    log::warn("api_signing_disabled", {{"message", "DEVELOPMENT: server-API requests are not signature-checked"}});

  std::unique_ptr<push::Hub> hub;
  push::ProtocolMetrics protocol_metrics(registry);
  std::unique_ptr<push::ClientContext> client_ctx;
  try {
    gateway = std::make_unique<net::Gateway>(cfg, router, registry);
    hub = std::make_unique<push::Hub>(cfg, gateway->executor(), registry);
    hub->start_maintenance();
    client_ctx = std::make_unique<push::ClientContext>(
        push::ClientContext{*hub, apps, cfg, protocol_metrics, &messages, HERALD_VERSION, audit_log.get()});
    messages.set_pusher([hub = hub.get()](const std::string& app_id, const std::string& user, std::string frame) {
      auto pub = std::make_shared<push::Publication>();
      pub->frame = std::move(frame);
      return hub->push_to_user(app_id, user, std::move(pub));
    });
    gateway->attach_push(client_ctx.get());
    api::add_server_routes(router, api::ServerRoutesDeps{&server_auth, hub.get(), &idempotency});
    hub_ptr = hub.get();
    gateway->start();
  } catch (const std::exception& e) {
    log::error("gateway_start_failed", {{"error", e.what()}});
    return 1;
  }
  std::string url = std::string(cfg.server.tls ? "https://" : "http://") +
                    (cfg.server.listen.find(':') != std::string::npos ? "[" + cfg.server.listen + "]"
                                                                      : cfg.server.listen) +
                    ":" + std::to_string(gateway->port());
  log::info("listening", {{"url", url}, {"port", gateway->port()}, {"tls", cfg.server.tls}});
  if (o.dev) {
    std::string ws_url = std::string(cfg.server.tls ? "wss" : "ws") + url.substr(url.find(':')) + "/ws";
    std::string sample = auth::sign_jwt_hs256(
        "{\"sub\":\"demo-user\",\"exp\":" + std::to_string(clock::unix_ms() / 1000 + 86400) + "}",
        crypto::SecretBytes(std::string_view(demo->client_secret)));
    std::printf("\nHerald is serving at %s (development mode)\n  health:    %s/healthz\n  metrics:   %s/metrics\n"
                "  websocket: %s\n\nDemo app (credentials also in %s/dev-app.json):\n"
                "  app key:       %s\n  app secret:    %s   (signs server-API requests)\n"
                "  client secret: %s   (HS256 key for client JWTs)\n"
                "  sample client token (user demo-user, 24 h):\n    %s\n\nAdmin token: %s\n\n  stop with Ctrl-C\n\n",
                url.c_str(), url.c_str(), url.c_str(), ws_url.c_str(), cfg.store.data_dir.c_str(),
                demo->app->key.c_str(), demo->app_secret.c_str(), demo->client_secret.c_str(), sample.c_str(),
                admin_token.empty() ? "(not available: admin.token was removed)" : admin_token.c_str());
    std::fflush(stdout);
  }

  if (audit_log) audit_log->start();
  otp_service.start_purger(std::chrono::seconds(10));
  messages.start();
  int sig = 0;
  sigwait(&signals, &sig);
  log::info("shutdown_started", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  gateway->shutdown();  // destroys the sessions while the hub is still there
  hub_ptr = nullptr;
  hub->stop();
  messages.stop();  // no new fallback steps; those under way finish below
  webhooks.stop();
  (*senders)->stop();  // sends in flight finish (bounded by their timeouts) before the store closes
  otp_service.stop();
  if (audit_log) {
    audit_log->stop();
    // Pin what was logged up to the end: a checkpoint of the final tree.
    if (!keys.sealed()) {
      for (int i = 0; i < 50 && audit_log->durable_size() < audit_log->size(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (auto st = audit_log->checkpoint_if_due(true); !st)
        log::warn("audit_checkpoint_failed", {{"error", st.error().message}});
    }
  }
  db->close();
  log::info("shutdown_complete");
  return 0;
}

}  // namespace

std::function<int()> add_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Run the Herald server");
  cmd->add_option("-c,--config", o->config_file, "TOML config file (also HERALD_CONFIG)");
  cmd->add_flag("--dev", o->dev,
                "Development mode: generate a self-signed certificate in the data dir if none is configured");
  cmd->add_flag("--print-config", o->print_config, "Print the effective config (secrets redacted) and exit");
  o->cmd = cmd;
  cmd->allow_extras();
  cmd->footer("Namespace options are flags too: --namespaces.<name>.<option> VALUE, e.g.\n"
              "  --namespaces.chat.history_size 50 --namespaces.chat.presence true");
  auto* group = cmd->add_option_group("Config keys", "Every key of the config file, as a flag (see docs/configuration.md)");
  for (const auto& key : config_keys()) {
    o->overrides[key.name];
    auto* opt = group->add_option("--" + key.name, o->overrides[key.name], key.doc);
    opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // the last flag wins, as in most tools
    opt->type_name(key.type == KeyType::Duration ? "DURATION"
                   : key.type == KeyType::Int    ? "UINT"
                   : key.type == KeyType::Bool   ? "BOOL"
                                                 : "TEXT");
    o->override_opts[key.name] = opt;
  }
  return [o] { return serve(*o); };
}

}  // namespace herald::cli
