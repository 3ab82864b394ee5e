// `herald`: the single binary. Subcommands register themselves; CLI11 parses.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "core/log.h"

int main(int argc, char** argv) {
  CLI::App app{"Herald: secure, self-hosted message push.", "herald"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("herald ") + HERALD_VERSION);
  std::function<int()> run_serve = herald::cli::add_serve(app);
  std::function<int()> run_version = herald::cli::add_version(app);
  std::function<int()> run_app = herald::cli::add_app(app);
  std::function<int()> run_token = herald::cli::add_token(app);
  std::function<int()> run_publish = herald::cli::add_publish(app);
  std::function<int()> run_operator = herald::cli::add_operator(app);
  std::function<int()> run_audit = herald::cli::add_audit(app);
  std::function<int()> run_otp = herald::cli::add_otp(app);
  std::function<int()> run_store = herald::cli::add_store(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, whatever CLI11 calls it.
    return app.exit(e) == 0 ? 0 : 2;
  }
  // The one-shot commands print their own results; of the log they show only warnings.
  if (!app.got_subcommand("serve")) herald::log::init("warn", "text");
  struct LogGuard {
    ~LogGuard() { herald::log::shutdown(); }
  } log_guard;
  try {
    if (app.got_subcommand("serve")) return run_serve();
    if (app.got_subcommand("version")) return run_version();
    if (app.got_subcommand("app")) return run_app();
    if (app.got_subcommand("token")) return run_token();
    if (app.got_subcommand("operator")) return run_operator();
    if (app.got_subcommand("audit")) return run_audit();
    if (app.got_subcommand("otp")) return run_otp();
    if (app.got_subcommand("publish")) return run_publish();
    if (app.got_subcommand("store")) return run_store();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herald: %s\n", e.what());
    return 1;
  }
  return 2;
}
