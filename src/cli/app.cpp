// `herald app ...`: manage apps through a running server's admin API (the SDK's
// AdminClient), or, for `create` and `list` with --data-dir, directly in the data dir
// of a stopped server (bootstrap). And `herald token`, which mints client tokens from
// a data dir for development and tests.
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "api/app_view.h"
#include "apps/app_store.h"
#include "auth/jwt.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "core/duration.h"
#include "kms/dev_unseal.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::cli {
namespace {

namespace json = boost::json;

// ---- Offline: the store of a stopped server --------------------------------------

// The store, key service and apps of a development data dir, opened for one command.
// A data dir without a key service becomes a development one (a single unseal share
// kept beside it, as `serve --dev` does); a production one, sealed, is refused.
struct OpenApps {
  std::unique_ptr<store::Store> db;
  std::unique_ptr<kms::KeyService> keys;
  std::unique_ptr<apps::AppStore> apps;
};

Result<OpenApps> open_apps(const std::string& data_dir) {
  OpenApps o;
  auto db = store::open_store("sqlite", store::StoreOptions{data_dir, 64, nullptr});
  if (!db) return db.error();
  o.db = std::move(*db);
  o.keys = std::make_unique<kms::KeyService>(*o.db, nullptr);
  o.apps = std::make_unique<apps::AppStore>(o.db->apps(), *o.keys);
  apps::AppStore* a = o.apps.get();
  o.keys->on_unsealed([a] { return a->load(); });
  if (auto st = kms::dev_unseal(*o.keys, *o.db, data_dir, true); !st) return st.error();
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

// ---- Output ------------------------------------------------------------------------

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

void print_app(const sdk::AppInfo& a) {
  std::printf("name:          %s\n", a.name.c_str());
  std::printf("id:            %s\n", a.id.c_str());
  std::printf("app key:       %s\n", a.key.c_str());
  std::printf("status:        %s\n", a.status.c_str());
  std::printf("created:       %s\n", utc_time(a.created_ms).c_str());
  std::printf("scopes:        %s\n", join(a.scopes).c_str());
  std::printf("namespaces:    %s\n", join(a.namespaces).c_str());
  std::printf("allowed CIDRs: %s\n", a.allowed_cidrs.empty() ? "(any address)" : join(a.allowed_cidrs).c_str());
  std::printf("rate limit:    %s\n", a.rate_limit ? (std::to_string(a.rate_limit) + " requests/s").c_str() : "no cap");
  for (std::size_t i = 0; i < a.secrets.size(); ++i)
    std::printf("%s %s (created %s)\n", i ? "              " : "app secrets:  ", a.secrets[i].id.c_str(),
                utc_time(a.secrets[i].created_ms).c_str());
  std::vector<std::string> keys;
  for (const auto& k : a.client_keys) keys.push_back(k.kid.empty() ? k.alg : k.alg + " (kid " + k.kid + ")");
  std::printf("client keys:   %s\n", join(keys, ", ").c_str());
  if (!a.jwt_audience.empty()) std::printf("jwt audience:  %s\n", a.jwt_audience.c_str());
  if (!a.jwt_issuer.empty()) std::printf("jwt issuer:    %s\n", a.jwt_issuer.c_str());
  if (a.require_exp) std::printf("require exp:   yes\n");
}

void print_created(const std::string& name, const std::string& id, const std::string& key, const std::string& secret_id,
                   std::string_view app_secret, std::string_view client_secret) {
  std::printf(
      "app created: %s\n  id:            %s\n  app key:       %s\n  app secret id: %s\n"
      "  app secret:    %.*s   (signs server-API requests)\n",
      name.c_str(), id.c_str(), key.c_str(), secret_id.c_str(), static_cast<int>(app_secret.size()), app_secret.data());
  if (client_secret.empty())
    std::printf("  client secret: none (client tokens are checked with the app's public keys)\n");
  else
    std::printf("  client secret: %.*s   (HS256 key for client JWTs)\n", static_cast<int>(client_secret.size()),
                client_secret.data());
  std::printf("The secrets are shown once; the server stores them encrypted.\n");
}

void print_table(const std::vector<sdk::AppInfo>& apps) {
  std::printf("%-24s %-28s %-10s %-20s %s\n", "NAME", "APP KEY", "STATUS", "SCOPES", "ID");
  for (const auto& a : apps)
    std::printf("%-24s %-28s %-10s %-20s %s\n", a.name.c_str(), a.key.c_str(), a.status.c_str(), join(a.scopes).c_str(),
                a.id.c_str());
}

// ---- Flags ------------------------------------------------------------------------

struct CreateFlags {
  std::string data_dir;  // set: offline
  std::string name, audience, issuer;
  std::vector<std::string> scopes, namespaces, cidrs, key_files;
  std::int64_t rate_limit = -1;
  bool require_exp = true;
  bool no_client_secret = false;
};

// Offline create: the same answer as the admin API's, from the data dir.
int create_offline(const CreateFlags& c, bool as_json) {
  apps::AppOptions opts;
  opts.name = c.name;
  opts.jwt_audience = c.audience;
  opts.jwt_issuer = c.issuer;
  opts.require_exp = c.require_exp;
  opts.hs256_client_secret = !c.no_client_secret;
  if (!c.scopes.empty()) {
    auto bits = apps::parse_scopes(join(c.scopes));
    if (!bits) return usage_error(bits.error().message);
    opts.scopes = *bits;
  }
  if (!c.namespaces.empty()) opts.namespaces = c.namespaces;
  opts.allowed_cidrs = c.cidrs;
  if (c.rate_limit >= 0) opts.rate_limit = static_cast<std::uint32_t>(c.rate_limit);
  for (const auto& f : c.key_files) {
    bool ok = false;
    opts.client_public_keys_pem.push_back(read_file(f, ok));
    if (!ok) return usage_error("cannot read " + f);
  }
  auto opened = open_apps(c.data_dir);
  if (!opened) return fail(opened.error());
  auto made = opened->apps->create(opts);
  opened->db->close();
  if (!made) return fail(made.error());
  if (as_json) {
    json::object j = api::app_view(*made->app);
    j["app_secret_id"] = made->app_secret_id;
    j["app_secret"] = made->app_secret.view();
    if (!made->client_secret.empty()) j["client_secret"] = made->client_secret.view();
    std::printf("%s\n", json::serialize(j).c_str());
  } else {
    print_created(made->app->name, made->app->id, made->app->key, made->app_secret_id, made->app_secret.view(),
                  made->client_secret.view());
  }
  return 0;
}

int list_offline(const std::string& data_dir, bool as_json) {
  auto opened = open_apps(data_dir);
  if (!opened) return fail(opened.error());
  json::array arr;
  std::vector<sdk::AppInfo> rows;
  for (const auto& a : opened->apps->list()) {
    if (as_json) {
      arr.push_back(api::app_view(*a));
    } else {
      sdk::AppInfo info;
      info.name = a->name;
      info.key = a->key;
      info.id = a->id;
      info.status = a->status == apps::AppStatus::Active ? "active" : "suspended";
      std::string scopes = apps::scopes_text(a->scopes);
      info.scopes = {scopes};
      rows.push_back(std::move(info));
    }
  }
  opened->db->close();
  if (as_json)
    std::printf("%s\n", json::serialize(json::object{{"apps", std::move(arr)}}).c_str());
  else
    print_table(rows);
  return 0;
}

// `herald app create`: one flag per field of the admin API's create request.
void add_create_flags(CLI::App* create, CreateFlags& c) {
  create->add_option("--name", c.name, "App name: 1-64 of A-Z a-z 0-9 _ . -")->required();
  create->add_option("--scopes", c.scopes, "Comma-separated: publish, otp, kms, admin (default publish)")
      ->delimiter(',')
      ->type_name("LIST");
  create
      ->add_option("--namespaces", c.namespaces,
                   "Comma-separated namespaces the app may use through the server API (default *, all)")
      ->delimiter(',')
      ->type_name("LIST");
  create
      ->add_option("--allowed-cidrs", c.cidrs,
                   "Comma-separated CIDR blocks server-API requests may come from (default: any)")
      ->delimiter(',')
      ->type_name("LIST");
  create->add_option("--rate-limit", c.rate_limit, "Server-API requests per second, 0 for no cap (default 1000)")
      ->check(CLI::Range(static_cast<std::int64_t>(0), static_cast<std::int64_t>(10'000'000)))
      ->type_name("UINT");
  create
      ->add_option("--client-public-key", c.key_files,
                   "PEM file of an Ed25519 or P-256 public key for EdDSA/ES256 client tokens (repeatable)")
      ->type_name("FILE");
  create->add_option("--jwt-audience", c.audience, "Client tokens must carry this aud");
  create->add_option("--jwt-issuer", c.issuer, "Client tokens must carry this iss");
  create->add_flag("--require-exp,!--no-require-exp", c.require_exp,
                   "Client tokens must carry exp (the default; --no-require-exp lets tokens without exp in)");
  create->add_flag("--no-client-secret", c.no_client_secret,
                   "No HS256 client secret: client tokens only with --client-public-key keys (ES256/EdDSA)");
  create
      ->add_option("--data-dir", c.data_dir,
                   "Offline: create in this data dir of a stopped server instead of calling the admin API")
      ->type_name("DIR");
}

int create_online(sdk::AdminClient& admin, const CreateFlags& c, bool as_json) {
  sdk::AppCreateOptions req;
  req.name = c.name;
  req.scopes = c.scopes;
  req.namespaces = c.namespaces;
  req.allowed_cidrs = c.cidrs;
  if (c.rate_limit >= 0) req.rate_limit = static_cast<std::uint32_t>(c.rate_limit);
  for (const auto& f : c.key_files) {
    bool ok = false;
    req.client_public_keys_pem.push_back(read_file(f, ok));
    if (!ok) return usage_error("cannot read " + f);
  }
  req.jwt_audience = c.audience;
  req.jwt_issuer = c.issuer;
  req.require_exp = c.require_exp;
  req.client_secret = !c.no_client_secret;
  auto r = admin.create_app(req);
  if (!r) return call_failed(r.error(), as_json);
  if (as_json) {
    std::printf("%.*s\n", static_cast<int>(r->json.size()), r->json.view().data());
  } else {
    print_created(r->app.name, r->app.id, r->app.key, r->app_secret_id, r->app_secret.view(), r->client_secret.view());
  }
  return kExitOk;
}

int list_online(sdk::AdminClient& admin, bool as_json) {
  auto r = admin.list_apps();
  if (!r) return call_failed(r.error(), as_json);
  if (as_json) {
    std::string out = "{\"apps\":[";
    for (std::size_t i = 0; i < r->size(); ++i) out += (i ? "," : "") + (*r)[i].json;
    std::printf("%s]}\n", out.c_str());
  } else {
    print_table(*r);
  }
  return kExitOk;
}

int rotate_secret(sdk::AdminClient& admin, const std::string& app, bool as_json) {
  auto r = admin.rotate_secret(app);
  if (!r) return call_failed(r.error(), as_json);
  if (as_json) {
    json::object j{{"secret_id", r->secret_id}, {"app_secret", r->app_secret.view()}};
    std::printf("%s\n", json::serialize(j).c_str());
  } else {
    std::printf(
        "new AppSecret for %s:\n  secret id:  %s\n  app secret: %.*s\n"
        "It is shown once. Requests signed with either active secret are accepted; once every back end\n"
        "uses the new one, revoke the old: herald app revoke-secret %s --secret-id OLD_ID\n",
        app.c_str(), r->secret_id.c_str(), static_cast<int>(r->app_secret.size()), r->app_secret.view().data(),
        app.c_str());
  }
  return kExitOk;
}

// Asks before deleting when a person is at the terminal; scripts pass --yes or have
// no terminal on stdin.
bool confirm_delete(const std::string& app) {
  if (!::isatty(STDIN_FILENO)) return true;
  std::fprintf(stderr,
               "Delete app %s and its secrets? Its back ends and clients stop working. Type yes: ", app.c_str());
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "yes";
}

}  // namespace

std::function<int()> add_app(CLI::App& app) {
  auto* cmd = app.add_subcommand("app", "Manage apps through the admin API (create and list also offline)");
  cmd->require_subcommand(1);
  cmd->footer(
      "Admin token: --admin-token-file FILE, or $HERALD_ADMIN_TOKEN (or $HERALD_ADMIN_TOKEN_FILE).\n"
      "Exit codes: 0 done, 1 the server refused or the network failed, 2 usage error.");
  struct Opts {
    AdminFlags admin;
    CreateFlags create;
    std::string app, secret_id, list_data_dir;
    bool yes = false;
  };
  auto o = std::make_shared<Opts>();

  auto* create = cmd->add_subcommand("create", "Create an app and print its AppKey and secrets (shown once)");
  add_create_flags(create, o->create);
  add_admin_flags(create, o->admin);

  auto* list = cmd->add_subcommand("list", "List apps");
  list->add_option("--data-dir", o->list_data_dir, "Offline: list the apps in this data dir of a stopped server")
      ->type_name("DIR");
  add_admin_flags(list, o->admin);

  auto app_arg = [o](CLI::App* sub) {
    sub->add_option("app", o->app, "The app's name, AppKey (hk_...) or id (app_...)")->required()->type_name("APP");
    add_admin_flags(sub, o->admin);
  };
  auto* show = cmd->add_subcommand("show", "Show an app (never its secrets, only their ids)");
  app_arg(show);
  auto* rotate = cmd->add_subcommand("rotate-secret", "Add a second AppSecret and print it (shown once)");
  app_arg(rotate);
  auto* revoke = cmd->add_subcommand("revoke-secret", "Remove an AppSecret: requests signed with it are refused");
  app_arg(revoke);
  revoke->add_option("--secret-id", o->secret_id, "Id of the secret to revoke (see herald app show)")
      ->required()
      ->type_name("ID");
  auto* suspend = cmd->add_subcommand("suspend", "Suspend an app: its requests and client connections are refused");
  app_arg(suspend);
  auto* resume = cmd->add_subcommand("resume", "Resume a suspended app");
  app_arg(resume);
  auto* del = cmd->add_subcommand("delete", "Delete an app and its secrets");
  app_arg(del);
  del->add_flag("--yes", o->yes, "Do not ask for confirmation (it is asked only when stdin is a terminal)");

  return [o, create, list, show, rotate, revoke, suspend, resume, del]() -> int {
    const bool as_json = o->admin.conn.json;
    if (create->parsed() && !o->create.data_dir.empty()) return create_offline(o->create, as_json);
    if (list->parsed() && !o->list_data_dir.empty()) return list_offline(o->list_data_dir, as_json);

    auto opts = admin_options(o->admin);
    if (!opts) return usage_error(opts.error().message);
    sdk::AdminClient admin(std::move(*opts));
    // Prints `{}` or `message` for the calls that answer nothing.
    auto done = [as_json](const sdk::Result<void>& r, const std::string& message) {
      if (!r) return call_failed(r.error(), as_json);
      std::printf("%s\n", as_json ? "{}" : message.c_str());
      return kExitOk;
    };

    if (create->parsed()) return create_online(admin, o->create, as_json);
    if (list->parsed()) return list_online(admin, as_json);
    if (show->parsed()) {
      auto r = admin.show_app(o->app);
      if (!r) return call_failed(r.error(), as_json);
      if (as_json)
        std::printf("%s\n", r->json.c_str());
      else
        print_app(*r);
      return kExitOk;
    }
    if (rotate->parsed()) return rotate_secret(admin, o->app, as_json);
    if (revoke->parsed())
      return done(admin.revoke_secret(o->app, o->secret_id), "secret " + o->secret_id + " of " + o->app + " revoked");
    if (suspend->parsed()) return done(admin.suspend(o->app), "app " + o->app + " suspended");
    if (resume->parsed()) return done(admin.resume(o->app), "app " + o->app + " resumed");
    if (del->parsed()) {
      if (!o->yes && !confirm_delete(o->app)) return usage_error("not deleted");
      return done(admin.delete_app(o->app), "app " + o->app + " deleted");
    }
    return kExitUsage;
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
    if (!a) return fail(Error{Errc::kNotFound, "no app named or keyed " + o->app});
    auto secret = opened->apps->client_secret(*a);
    if (!secret) return fail(secret.error());
    boost::json::object claims{
        {"sub", o->user}, {"iat", clock::unix_ms() / 1000}, {"exp", clock::unix_ms() / 1000 + ttl->count() / 1000}};
    if (!o->channel.empty()) claims["channel"] = o->channel;
    std::printf("%s\n", auth::sign_jwt_hs256(boost::json::serialize(claims), *secret).c_str());
    opened->db->close();
    return 0;
  };
}

}  // namespace herald::cli
