// The store an offline command opens (store_flags.h).
#include "cli/store_flags.h"

#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdlib>

#include "cli/client_flags.h"
#include "store/store.h"

namespace herald::cli {

void add_store_flags(CLI::App* cmd, StoreFlags& f) {
  cmd->add_option("--data-dir", f.data_dir, "Data directory (default: $HERALD_STORE_DATA_DIR or ./data)");
  cmd->add_option("--store.driver", f.driver, "sqlite (default, or $HERALD_STORE_DRIVER) or postgres");
  cmd->add_option("--store.postgres.url", f.postgres_url,
                  "The PostgreSQL database of a cluster (default: $HERALD_STORE_POSTGRES_URL); a secret");
}

std::string store_driver(const StoreFlags& f) {
  if (!f.driver.empty()) return f.driver;
  if (const char* env = std::getenv("HERALD_STORE_DRIVER"); env && *env) return env;
  return "sqlite";
}

Result<std::unique_ptr<store::Store>> open_cli_store(const StoreFlags& f, bool create) {
  const std::string driver = store_driver(f);
  if (driver == "postgres") {
    store::StoreOptions so;
    so.postgres.url = f.postgres_url;
    if (so.postgres.url.empty())
      if (const char* env = std::getenv("HERALD_STORE_POSTGRES_URL"); env && *env) so.postgres.url = env;
    if (so.postgres.url.empty())
      return make_error(Errc::kInvalidArgument,
                        "the postgres driver needs --store.postgres.url or $HERALD_STORE_POSTGRES_URL");
    so.postgres.pool_size = 1;
    return store::open_store("postgres", so);
  }
  const std::string dir = f.data_dir.empty() ? default_data_dir() : f.data_dir;
  if (!create && ::access((dir + "/herald.db").c_str(), R_OK) != 0)
    return make_error(Errc::kNotFound, "no Herald database in " + dir);
  return store::open_store(driver, store::StoreOptions{dir, 64, nullptr});
}

}  // namespace herald::cli
