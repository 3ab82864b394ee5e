// The store an offline command (`herald audit`, `herald operator init`) opens: a data
// dir's SQLite file, or the cluster's PostgreSQL database. The URL is a secret: read
// from the flag or $HERALD_STORE_POSTGRES_URL, never printed.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"

namespace CLI {
class App;
}
namespace herald::store {
class Store;
}

namespace herald::cli {

struct StoreFlags {
  std::string data_dir;
  std::string driver;        // sqlite or postgres; default $HERALD_STORE_DRIVER, else sqlite
  std::string postgres_url;  // default $HERALD_STORE_POSTGRES_URL
};

// --data-dir, --store.driver and --store.postgres.url.
void add_store_flags(CLI::App* cmd, StoreFlags& f);
std::string store_driver(const StoreFlags& f);
// The SQLite store must already exist in the data dir unless `create`.
Result<std::unique_ptr<store::Store>> open_cli_store(const StoreFlags& f, bool create);

}  // namespace herald::cli
