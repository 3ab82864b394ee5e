// The benchmarks' driver choice and their PostgreSQL: the user's, or the tests' throwaway
// server (tests/support/pg_server.cpp, linked when the tests are built).
#include "bench_store.h"

#ifdef HERALD_BENCH_PG_SERVER
#include "pg_server.h"
#endif

#include <cstdio>
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

void print_phase(boost::json::object& out, const std::string& prefix, const PhaseFigures& f, double rate,
                 const FigureNames& names) {
  auto line = [&](const std::string& name, double v, const char* fmt) {
    std::printf(fmt, prefix.c_str(), name.c_str(), v);
    out[prefix + name] = v;
  };
  const std::string latency = std::string(".") + names.latency;
  if (rate > 0) line(".target_per_sec", rate, "%s%s %.0f\n");
  line(std::string(".") + names.per_sec, f.per_sec, "%s%s %.0f\n");
  line(latency + "_p50_ms", f.p50, "%s%s %.2f\n");
  line(latency + "_p99_ms", f.p99, "%s%s %.2f\n");
  line(latency + "_max_ms", f.max, "%s%s %.2f\n");
  line(std::string(".") + names.count, static_cast<double>(f.count), "%s%s %.0f\n");
  line(".failures", static_cast<double>(f.failures), "%s%s %.0f\n");
  std::fflush(stdout);
}

}  // namespace herald::bench
