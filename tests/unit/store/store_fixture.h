// A store opened through the factory and used through the Store interfaces, as the
// domain modules use it: SQLite in a fresh temporary directory, or PostgreSQL in a fresh
// schema of the test executable's server (tests/support/pg_server.h). The conformance
// suite (StoreTest) runs every case against both drivers.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "pg_server.h"
#include "store/store.h"

namespace herald::store::testing {

struct TempStore {
  std::string driver;
  std::string root;
  std::string dir;
  StoreOptions opts;
  std::unique_ptr<Store> db;

  explicit TempStore(std::string drv = "sqlite") : driver(std::move(drv)) {
    char t[] = "/tmp/herald-tables-XXXXXX";
    root = ::mkdtemp(t);
    dir = root + "/data";
    opts = StoreOptions{dir, 64, nullptr};
    if (driver == "postgres") {
      opts.postgres.url = herald::testing::PgServer::shared().fresh_schema_url();
      opts.postgres.pool_size = 2;
    }
    reopen();
  }
  ~TempStore() {
    db.reset();
    std::filesystem::remove_all(root);
  }
  // Closes the store (every queued write finishes) and opens it again from disk.
  void reopen() {
    db.reset();
    db = open_another();
  }
  // Another instance on the same database (another node, for the driver that has them).
  std::unique_ptr<Store> open_another() {
    auto opened = open_store(driver, opts);
    if (!opened) throw std::runtime_error(opened.error().message);
    return std::move(*opened);
  }
};

// The conformance suite's fixture: the parameter is the driver.
class StoreTest : public ::testing::TestWithParam<std::string> {};

}  // namespace herald::store::testing

// Runs a StoreTest suite against both drivers; the postgres instantiation needs the
// test server and is run as an integration test (tests/CMakeLists.txt).
#define HERALD_STORE_CONFORMANCE(suite)                                              \
  INSTANTIATE_TEST_SUITE_P(Sqlite, suite, ::testing::Values(std::string("sqlite"))); \
  INSTANTIATE_TEST_SUITE_P(Postgres, suite, ::testing::Values(std::string("postgres")))
