// `herald serve`: flags and config in, a Node out; it runs until SIGINT or SIGTERM, then
// stops gracefully. Exit status: 0 after a clean stop, 1 if start-up failed, 2 on a bad config.
#include <pthread.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/dev_bootstrap.h"
#include "core/config.h"
#include "core/log.h"
#include "crypto/secret.h"
#include "server/node.h"

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
      return make_error(Errc::kInvalidConfig, "unknown argument '" + arg + "' (see herald serve --help)");
    std::string key = arg.substr(2), value;
    auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (i + 1 < rest.size()) {
      value = rest[++i];
    } else {
      return make_error(Errc::kInvalidConfig, "flag --" + key + " needs a value");
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
    if (::access(file.c_str(), R_OK) != 0) return make_error(Errc::kInvalidConfig, "cannot read config file " + file);
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

// Process-wide, before any secret exists: a locked secure heap for key material.
void init_secure_memory() {
  auto secure = crypto::init_secure_memory(1 << 20);
  if (!secure.locked)
    log::warn("secure_memory_unlocked",
              {{"message", "key material cannot be locked in memory (raise RLIMIT_MEMLOCK); it is still zeroised"},
               {"initialised", secure.initialised}});
}

// The bootstrap sits between open() and start(): it needs the store and the key service,
// and the routes and the gateway need what it makes (the admin token, the certificate).
int run_node(server::Node& node, bool dev, const sigset_t& signals) {
  if (!node.open()) return 1;
  auto boot = bootstrap(node, dev);
  if (!boot) return 1;
  if (!node.start(boot->admin_token_sha256)) return 1;
  if (dev) print_dev_banner(node, *boot);
  int sig = 0;
  sigwait(&signals, &sig);
  log::info("shutdown_started", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  node.stop();
  log::info("shutdown_complete");
  return 0;
}

int serve(ServeOptions& o) {
  sigset_t signals = block_shutdown_signals();
  auto loaded = load_config(o);
  if (!loaded) {
    std::fprintf(stderr, "herald: %s\n", loaded.error().message.c_str());
    return 2;
  }
  if (o.print_config) {
    std::fputs(render_config(*loaded).c_str(), stdout);
    return 0;
  }
  log::init(loaded->log.level, loaded->log.format);
  struct LogGuard {
    ~LogGuard() { log::shutdown(); }
  } log_guard;
  if (o.dev) warn_dev_mode(*loaded);
  init_secure_memory();
  server::Node node(std::move(*loaded), server::NodeOptions{o.dev, HERALD_VERSION});
  return run_node(node, o.dev, signals);
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
  cmd->footer(
      "Namespace options are flags too: --namespaces.<name>.<option> VALUE, e.g.\n"
      "  --namespaces.chat.history_size 50 --namespaces.chat.presence true");
  auto* group =
      cmd->add_option_group("Config keys", "Every key of the config file, as a flag (see docs/configuration.md)");
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
