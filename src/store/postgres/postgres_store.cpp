// PostgreSQL store: connections, migrations under an advisory lock, and the meta table.
#include "store/postgres/postgres_store.h"

#include <sys/stat.h>

#include <ctime>
#include <filesystem>

#include "core/log.h"
#include "store/migrations.h"

namespace herald::store {
namespace {

// Held while migrating, so that nodes starting at once apply each migration once: the
// others wait, then find it applied.
constexpr const char* kMigrationLock = "SELECT pg_advisory_lock(480650524100);";
constexpr const char* kMigrationUnlock = "SELECT pg_advisory_unlock(480650524100);";

pg::ConnectOptions connect_options(const StoreOptions& opts) {
  return pg::ConnectOptions{opts.postgres.url, opts.postgres.connect_timeout, opts.postgres.statement_timeout};
}

}  // namespace

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const StoreOptions& opts) {
  if (opts.postgres.url.empty())
    return make_error(Errc::kInvalidConfig, "store.postgres.url must be set when store.driver is postgres");
  // The data directory still holds this node's own files (certificate, dev shares).
  if (!opts.data_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opts.data_dir, ec);
    if (ec) return make_error(Errc::kStoreError, "cannot create data directory " + opts.data_dir + ": " + ec.message());
    ::chmod(opts.data_dir.c_str(), 0700);
  }
  std::unique_ptr<PostgresStore> s(new PostgresStore(opts));
  s->audit_ = open_audit_log(*s, opts.audit_log);
  auto writer_conn = pg::Connection::open(connect_options(opts));
  if (!writer_conn) return writer_conn.error();
  if (auto st = s->migrate(**writer_conn); !st) return st.error();
  if (auto st = s->readers_.open(connect_options(opts), opts.postgres.pool_size); !st) return st.error();
  // Past a statement's own timeout, the writer gives up on a silent server and reconnects.
  auto io_timeout = opts.postgres.statement_timeout + opts.postgres.connect_timeout;
  s->writer_ = std::make_unique<pg::Writer>(std::move(*writer_conn), opts.commit_batch_max, io_timeout, opts.metrics);
  s->writer_->start();
  s->feed_ = std::make_unique<pg::ChangeListener>(connect_options(opts), opts.metrics);
  return s;
}

PostgresStore::~PostgresStore() {
  close();
}

Status PostgresStore::migrate(pg::Connection& c) {
  // Waiting for another node's migrations is not a statement timing out.
  if (auto st = c.exec("SET statement_timeout = 0;", "migrate"); !st) return st;
  if (auto st = c.exec(kMigrationLock, "migration lock"); !st) return st;
  auto apply = [&]() -> Status {
    if (auto st = c.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                         "name text NOT NULL, applied_at bigint NOT NULL);",
                         "schema_migrations");
        !st)
      return st;
    auto rows = c.query(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;", pg::Params{},
        [](const pg::Row& r) { return r.i64(0); }, "schema_version");
    if (!rows) return rows.error();
    auto current = rows->empty() ? 0 : rows->front();
    auto all = postgres_migrations();
    int newest = all.empty() ? 0 : all.back().version;
    if (current > newest)
      return make_error(Errc::kStoreError, "the database schema is version " + std::to_string(current) +
                                               ", newer than this herald understands (" + std::to_string(newest) +
                                               "); refusing to start");
    for (const auto& m : all) {
      if (m.version <= current) continue;
      std::string sql = "BEGIN;\n" + std::string(m.sql) +
                        "\nINSERT INTO schema_migrations(version, name, applied_at) VALUES (" +
                        std::to_string(m.version) + ", '" + std::string(m.name) + "', " +
                        std::to_string(static_cast<long long>(std::time(nullptr))) + ");\nCOMMIT;";
      if (auto st = c.exec(sql, "migration"); !st) {
        (void)c.exec("ROLLBACK;", "migration");
        return make_error(Errc::kStoreError, "migration " + std::to_string(m.version) + " (" + std::string(m.name) +
                                                 ") failed: " + st.error().message);
      }
      log::info("store_migrated", {{"version", m.version}, {"name", m.name}, {"driver", "postgres"}});
    }
    return ok_status();
  };
  auto st = apply();
  (void)c.exec(kMigrationUnlock, "migration unlock");
  if (auto reset = c.exec("SET statement_timeout = " + std::to_string(opts_.postgres.statement_timeout.count()) + ";",
                          "migrate");
      !reset && st)
    return reset;
  return st;
}

int PostgresStore::schema_version() {
  auto rows = readers_.acquire().query(
      "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;", pg::Params{},
      [](const pg::Row& r) { return static_cast<int>(r.i64(0)); }, "schema_version");
  return rows && !rows->empty() ? rows->front() : 0;
}

void PostgresStore::put_meta(std::string key, std::string value, Completion done) {
  submit(
      [key = std::move(key), value = std::move(value)](pg::WriteTx& tx) -> Status {
        tx.run(
            "INSERT INTO meta(key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET "
            "value = excluded.value, updated_at = excluded.updated_at;",
            pg::params(key, value, static_cast<std::int64_t>(std::time(nullptr))));
        return ok_status();
      },
      std::move(done));
}

Result<std::optional<std::string>> PostgresStore::get_meta(std::string_view key) {
  return pg::first_row(readers_.acquire().query(
      "SELECT value FROM meta WHERE key = $1;", pg::params(key), [](const pg::Row& r) { return r.bytes(0); },
      "get_meta"));
}

bool PostgresStore::healthy() {
  // The feed's connection notices a database that went away even when no write comes to
  // fail it, so an idle node stops being ready too (and is again once the feed is back).
  if (feed_ && feed_->running() && !feed_->connected()) return false;
  return writer_ && writer_->healthy();
}

StoreStats PostgresStore::stats() {
  return writer_ ? writer_->stats() : StoreStats{};
}

void PostgresStore::close() {
  if (feed_) feed_->stop();
  if (writer_) writer_->close();
  readers_.close();
}

}  // namespace herald::store
