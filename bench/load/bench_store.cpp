// The benchmarks' driver choice and their PostgreSQL: the user's, or the tests' throwaway
// server (tests/support/pg_server.cpp, linked when the tests are built).
#include "bench_store.h"

#ifdef HERALD_BENCH_PG_SERVER
#include "pg_server.h"
#endif

#include <exception>

namespace herald::bench {

Result<std::vector<std::string>> drivers(const std::string& choice) {
  if (choice == "both") return std::vector<std::string>{"sqlite", "postgres"};
  if (choice == "sqlite" || choice == "postgres") return std::vector<std::string>{choice};
  return make_error(Errc::kInvalidConfig, "--driver must be sqlite, postgres or both");
}

Result<std::string> postgres_url(const std::string& given) {
  if (!given.empty()) return given;
#ifdef HERALD_BENCH_PG_SERVER
  try {
    return herald::testing::PgServer::shared().fresh_schema_url();
  } catch (const std::exception& e) {
    return make_error(Errc::kStoreUnavailable, std::string("cannot start a PostgreSQL server: ") + e.what());
  }
#else
  return make_error(Errc::kInvalidConfig,
                    "no PostgreSQL: set HERALD_BENCH_POSTGRES_URL (this build has no test server, "
                    "HERALD_BUILD_TESTS=OFF)");
#endif
}

}  // namespace herald::bench
