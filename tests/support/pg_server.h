// A throwaway PostgreSQL server for tests: initdb'd in a temporary directory, listening
// on a free loopback port (fsync on), with its own database and a user whose password
// is generated. Run as the `postgres` system user when the tests run as root (the server
// refuses root). One per test executable: started on first use, stopped and removed
// when the tests end (a GoogleTest global environment), failures included.
#pragma once

#include <cstdint>
#include <string>

namespace herald::testing {

class PgServer {
 public:
  // The executable's server, started on the first call (throws if it cannot start).
  static PgServer& shared();
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  std::uint16_t port() const { return port_; }
  // postgresql://user:password@127.0.0.1:port/db
  std::string url() const;
  // The same database with a fresh, empty schema first on the search_path: a clean
  // store for one test without the cost of a database.
  std::string fresh_schema_url();
  // Runs SQL as the superuser on the test database; returns psql's output, throws on failure.
  std::string sql(const std::string& statement);
  // pg_dump of the test database (schema and data, as text), for plaintext scans.
  std::string dump();
  // Stops the server and removes its directory. Idempotent.
  void stop();
  // Stops the server (fast shutdown) and starts it again on the same port and data,
  // for tests of what survives a restart or of a database that goes away.
  void pause();
  void resume();

 private:
  PgServer();
  void start_server();
  std::string psql(const std::string& db, const std::string& statement);
  std::string root_;
  std::string bin_;
  std::string password_;
  std::uint16_t port_ = 0;
  int schemas_ = 0;
  bool running_ = false;
};

}  // namespace herald::testing
