// `herald app create|list` and `herald token`: manage apps in a data directory, and
// mint client tokens for development and tests. They open the store directly; run
// them while the server is stopped (a running server loads apps at start).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "apps/app_store.h"
#include "auth/jwt.h"
#include "cli/commands.h"
#include "core/duration.h"
#include "kms/sealer.h"
#include "push/hub.h"
#include "store/store.h"

namespace herald::cli {
namespace {

std::string default_data_dir() {
  const char* d = std::getenv("HERALD_STORE_DATA_DIR");
  return d ? d : "./data";
}

// The store, sealer and apps of a data dir, opened for one command.
struct OpenApps {
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyFileSealer> sealer;
  std::unique_ptr<apps::AppStore> apps;
};

Result<OpenApps> open_apps(const std::string& data_dir) {
  OpenApps o;
  auto db = store::open_store("sqlite", store::StoreOptions{data_dir, 64, nullptr});
  if (!db) return db.error();
  o.db = std::move(*db);
  auto sealer = kms::KeyFileSealer::open_or_create(data_dir + "/at-rest.key");
  if (!sealer) return sealer.error();
  o.sealer = std::move(*sealer);
  o.apps = std::make_unique<apps::AppStore>(o.db->apps(), *o.sealer);
  if (auto st = o.apps->load(); !st) return st.error();
  return o;
}

int fail(const Error& e) {
  std::fprintf(stderr, "herald: %s\n", e.message.c_str());
  return 1;
}

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream f(path, std::ios::binary);
  ok = f.good();
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const char* status_name(apps::AppStatus s) { return s == apps::AppStatus::Active ? "active" : "suspended"; }

}  // namespace

std::function<int()> add_app(CLI::App& app) {
  auto* cmd = app.add_subcommand("app", "Manage apps in a data directory (while the server is stopped)");
  cmd->require_subcommand(1);
  struct Opts {
    std::string data_dir = default_data_dir();
    std::string name, audience, issuer;
    std::vector<std::string> key_files;
    bool require_exp = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* create = cmd->add_subcommand("create", "Create an app and print its AppKey and client secret (shown once)");
  create->add_option("--data-dir", o->data_dir, "Data directory (default: $HERALD_STORE_DATA_DIR or ./data)");
  create->add_option("--name", o->name, "App name: 1-64 of A-Z a-z 0-9 _ . -")->required();
  create->add_option("--client-public-key", o->key_files,
                     "PEM file of an Ed25519 or P-256 public key for EdDSA/ES256 client tokens (repeatable)");
  create->add_option("--jwt-audience", o->audience, "Client tokens must carry this aud");
  create->add_option("--jwt-issuer", o->issuer, "Client tokens must carry this iss");
  create->add_flag("--require-exp", o->require_exp, "Client tokens must carry exp");
  create->add_flag("--json", o->json, "Machine-readable output");
  auto* list = cmd->add_subcommand("list", "List apps");
  list->add_option("--data-dir", o->data_dir, "Data directory (default: $HERALD_STORE_DATA_DIR or ./data)");
  list->add_flag("--json", o->json, "Machine-readable output");
  return [o, create, list]() -> int {
    auto opened = open_apps(o->data_dir);
    if (!opened) return fail(opened.error());
    if (create->parsed()) {
      apps::AppOptions opts;
      opts.name = o->name;
      opts.jwt_audience = o->audience;
      opts.jwt_issuer = o->issuer;
      opts.require_exp = o->require_exp;
      for (const auto& f : o->key_files) {
        bool ok = false;
        opts.client_public_keys_pem.push_back(read_file(f, ok));
        if (!ok) return fail(Error{"invalid_argument", "cannot read " + f});
      }
      auto made = opened->apps->create(opts);
      if (!made) return fail(made.error());
      if (o->json) {
        boost::json::object j{{"id", made->app->id},
                              {"key", made->app->key},
                              {"name", made->app->name},
                              {"client_secret", made->client_secret}};
        std::printf("%s\n", boost::json::serialize(j).c_str());
      } else {
        std::printf("app created: %s\n  id:            %s\n  app key:       %s\n  client secret: %s\n"
                    "The client secret is shown once; the server stores it encrypted.\n",
                    made->app->name.c_str(), made->app->id.c_str(), made->app->key.c_str(),
                    made->client_secret.c_str());
      }
    } else if (list->parsed()) {
      boost::json::array arr;
      for (const auto& a : opened->apps->list()) {
        if (o->json) {
          arr.push_back(boost::json::object{{"id", a->id},
                                            {"key", a->key},
                                            {"name", a->name},
                                            {"status", status_name(a->status)},
                                            {"client_keys", a->client_keys.size()}});
        } else {
          std::printf("%-24s %-28s %-10s %s\n", a->name.c_str(), a->key.c_str(), status_name(a->status),
                      a->id.c_str());
        }
      }
      if (o->json) std::printf("%s\n", boost::json::serialize(arr).c_str());
    }
    opened->db->close();
    return 0;
  };
}

std::function<int()> add_token(CLI::App& app) {
  auto* cmd = app.add_subcommand("token", "Make an HS256 client token for an app's user (development and tests)");
  struct Opts {
    std::string data_dir = default_data_dir();
    std::string app, user, channel, ttl = "1h";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--data-dir", o->data_dir, "Data directory (default: $HERALD_STORE_DATA_DIR or ./data)");
  cmd->add_option("--app", o->app, "App name or AppKey")->required();
  cmd->add_option("--user", o->user, "User id (sub)")->required();
  cmd->add_option("--channel", o->channel, "Make a subscription token for this channel");
  cmd->add_option("--ttl", o->ttl, "Lifetime, e.g. 10m, 1h (default 1h)");
  return [o]() -> int {
    auto ttl = parse_duration(o->ttl);
    if (!ttl) return fail(ttl.error());
    auto opened = open_apps(o->data_dir);
    if (!opened) return fail(opened.error());
    auto a = opened->apps->find_by_name(o->app);
    if (!a) a = opened->apps->find_by_key(o->app);
    if (!a) return fail(Error{"not_found", "no app named or keyed " + o->app});
    auto secret = opened->apps->client_secret(*a);
    if (!secret) return fail(secret.error());
    boost::json::object claims{{"sub", o->user},
                               {"iat", push::unix_ms_now() / 1000},
                               {"exp", push::unix_ms_now() / 1000 + ttl->count() / 1000}};
    if (!o->channel.empty()) claims["channel"] = o->channel;
    std::printf("%s\n", auth::sign_jwt_hs256(boost::json::serialize(claims), crypto::SecretBytes(*secret)).c_str());
    opened->db->close();
    return 0;
  };
}

}  // namespace herald::cli
