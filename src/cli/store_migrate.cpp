// `herald store migrate`: copies a stopped node's SQLite data dir into PostgreSQL
// (store/postgres/copy_from_sqlite.h). The URL is a secret: read from a flag, a file or
// the environment, and never printed.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "cli/client_flags.h"
#include "cli/commands.h"
#include "store/copy_from_sqlite.h"

namespace herald::cli {
namespace migrate_cmd {
namespace {

struct MigrateFlags {
  std::string from;
  std::string to;
  std::string to_file;
  bool json = false;
};

int migrate_fail(const std::string& message, bool json) {
  if (json) {
    boost::json::object o{{"ok", false}, {"error", message}};
    std::printf("%s\n", boost::json::serialize(o).c_str());
  }
  std::fprintf(stderr, "herald: %s\n", message.c_str());
  return 1;
}

// The URL: --to, else --to-file (its first line), else $HERALD_STORE_POSTGRES_URL.
Result<std::string> target_url(const MigrateFlags& f) {
  if (!f.to.empty()) return f.to;
  if (!f.to_file.empty()) {
    std::ifstream in(f.to_file);
    if (!in) return make_error(Errc::kNotFound, "cannot read " + f.to_file);
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) return make_error(Errc::kInvalidArgument, f.to_file + " holds no URL");
    return line;
  }
  if (const char* env = std::getenv("HERALD_STORE_POSTGRES_URL"); env && *env) return std::string(env);
  return make_error(Errc::kInvalidArgument,
                    "give the target with --to URL, --to-file FILE or $HERALD_STORE_POSTGRES_URL");
}

// A bar redrawn in place on a terminal; one line per finished table otherwise.
void show_progress(const std::string& table, std::int64_t done, std::int64_t total) {
  static const bool tty = ::isatty(STDERR_FILENO) != 0;
  if (tty) {
    constexpr int kWidth = 30;
    int filled = total > 0 ? static_cast<int>(static_cast<double>(done) / static_cast<double>(total) * kWidth) : kWidth;
    std::fprintf(stderr, "\r%-20s [%s%s] %lld/%lld\033[K", table.c_str(),
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(kWidth - filled), '.').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total));
    if (done >= total) std::fprintf(stderr, "\n");
  } else if (done >= total) {
    std::fprintf(stderr, "copied %s: %lld rows\n", table.c_str(), static_cast<long long>(done));
  }
}

int print_report(const store::CopyFromSqliteReport& r, const std::string& from, bool json) {
  if (json) {
    boost::json::array tables;
    for (auto& t : r.tables)
      tables.push_back({{"table", t.table}, {"source_rows", t.source_rows}, {"target_rows", t.target_rows}});
    boost::json::object o{{"ok", true},
                          {"from", from},
                          {"sqlite_schema", r.sqlite_schema},
                          {"postgres_schema", r.postgres_schema},
                          {"rows", r.rows},
                          {"tables", std::move(tables)}};
    std::printf("%s\n", boost::json::serialize(o).c_str());
    return 0;
  }
  std::printf("migrated %s into PostgreSQL: %lld rows in %zu tables (schema versions: SQLite %d, PostgreSQL %d)\n",
              from.c_str(), static_cast<long long>(r.rows), r.tables.size(), r.sqlite_schema, r.postgres_schema);
  for (auto& t : r.tables)
    std::printf("  %-22s %10lld = %lld\n", t.table.c_str(), static_cast<long long>(t.source_rows),
                static_cast<long long>(t.target_rows));
  std::printf("verified: every table has as many rows in PostgreSQL as in SQLite\n");
  return 0;
}

}  // namespace
}  // namespace migrate_cmd

std::function<int()> add_store(CLI::App& app) {
  auto* cmd = app.add_subcommand("store", "Operate on the durable store");
  cmd->require_subcommand(1);
  auto f = std::make_shared<migrate_cmd::MigrateFlags>();
  auto* mig = cmd->add_subcommand(
      "migrate", "Copy a stopped node's SQLite data into an empty PostgreSQL database, in one transaction");
  mig->add_option("--from", f->from, "The stopped node's data directory (holds herald.db)")->required();
  mig->add_option("--to", f->to,
                  "postgresql://... URL (a secret: visible to other local users in the process list; prefer "
                  "--to-file or $HERALD_STORE_POSTGRES_URL)");
  mig->add_option("--to-file", f->to_file, "A file whose first line is the target URL");
  mig->add_flag("--json", f->json, "Print a JSON summary on stdout");
  return [f]() -> int {
    auto url = migrate_cmd::target_url(*f);
    if (!url) return migrate_cmd::migrate_fail(url.error().message, f->json);
    store::CopyFromSqliteOptions o{f->from, *url, nullptr};
    if (!f->json || ::isatty(STDERR_FILENO)) o.progress = migrate_cmd::show_progress;
    auto r = store::copy_from_sqlite(o);
    if (!r) return migrate_cmd::migrate_fail(r.error().message, f->json);
    return migrate_cmd::print_report(*r, f->from, f->json);
  };
}

}  // namespace herald::cli
