// The `herald` subcommands. Each registers its options on the CLI11 app and returns
// the exit code when run.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace herald::cli {

// Registers `serve`; the returned function runs it once the command line is parsed.
std::function<int()> add_serve(CLI::App& app);
std::function<int()> add_version(CLI::App& app);
std::function<int()> add_app(CLI::App& app);
std::function<int()> add_token(CLI::App& app);
std::function<int()> add_publish(CLI::App& app);
std::function<int()> add_operator(CLI::App& app);
std::function<int()> add_audit(CLI::App& app);
std::function<int()> add_otp(CLI::App& app);
// `store migrate`: SQLite data dir -> PostgreSQL (store/postgres/copy_from_sqlite.h).
std::function<int()> add_store(CLI::App& app);

}  // namespace herald::cli
