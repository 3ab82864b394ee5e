// SQLite store: the database file, its connections, migrations and the meta table.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "core/log.h"
#include "store/migrations.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {
namespace {

Status make_private_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::kStoreError, "cannot create data directory " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  return ok_status();
}

}  // namespace

SqliteStore::SqliteStore(const StoreOptions& opts) : opts_(opts) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const StoreOptions& opts) {
  auto st = make_private_dir(opts.data_dir);
  if (!st) return st.error();
  std::unique_ptr<SqliteStore> s(new SqliteStore(opts));
  auto lock = DataDirLock::acquire(opts.data_dir, false);
  if (!lock) return lock.error();
  s->dir_lock_ = std::move(*lock);
  st = s->open_connections(opts.data_dir + "/herald.db");
  if (!st) return st.error();
  st = s->migrate();
  if (!st) return st.error();
  s->writer_ = std::make_unique<GroupCommitWriter>(s->writer_db_, opts.commit_batch_max, opts.metrics);
  s->writer_->start();
  return s;
}

SqliteStore::~SqliteStore() {
  close();
}

Status SqliteStore::open_connections(const std::string& path) {
  // Create the file ourselves so that it, and the -wal/-shm files SQLite derives from
  // it, are private to this user from the first byte.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::kStoreError, "cannot open " + path + ": " + std::strerror(errno));
  ::close(fd);

  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &writer_db_, flags, nullptr) != SQLITE_OK)
    return db_error(writer_db_, "cannot open " + path);
  for (const char* pragma : {"PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;", "PRAGMA foreign_keys=ON;",
                             "PRAGMA busy_timeout=5000;", "PRAGMA wal_autocheckpoint=4000;"}) {
    auto st = exec(writer_db_, pragma);
    if (!st) return st;
  }
  return readers_.open(path, opts_.readers);
}

Status SqliteStore::migrate() {
  auto st = exec(writer_db_,
                 "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at INTEGER NOT NULL);");
  if (!st) return st;
  int current = schema_version();
  auto all = sqlite_migrations();
  int newest = all.empty() ? 0 : all.back().version;
  if (current > newest)
    return make_error(Errc::kStoreError, "the database schema is version " + std::to_string(current) +
                                             ", newer than this herald understands (" + std::to_string(newest) +
                                             "); refusing to start");
  for (const auto& m : all) {
    if (m.version <= current) continue;
    st = exec(writer_db_, "BEGIN IMMEDIATE;");
    if (!st) return st;
    st = exec(writer_db_, std::string(m.sql).c_str());
    if (st) {
      Stmt ins;
      sqlite3_prepare_v2(writer_db_, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?);", -1,
                         &ins.s, nullptr);
      st = step_write(writer_db_, ins.s, "recording migration", m.version, m.name,
                      static_cast<std::int64_t>(std::time(nullptr)));
    }
    if (!st) {
      (void)exec(writer_db_, "ROLLBACK;");
      return make_error(Errc::kStoreError, "migration " + std::to_string(m.version) + " (" + std::string(m.name) +
                                               ") failed: " + st.error().message);
    }
    st = exec(writer_db_, "COMMIT;");
    if (!st) return st;
    log::info("store_migrated", {{"version", m.version}, {"name", m.name}});
  }
  return ok_status();
}

int SqliteStore::schema_version() {
  auto r = readers_.acquire();
  auto rows = query_rows(
      r, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;", no_params,
      [](sqlite3_stmt* s) { return sqlite3_column_int(s, 0); }, "schema_version");
  return rows && !rows->empty() ? rows->front() : 0;
}

void SqliteStore::submit(WriteFn fn, Completion done) {
  writer_->submit(std::move(fn), std::move(done));
}

void SqliteStore::put_meta(std::string key, std::string value, Completion done) {
  submit(
      [key = std::move(key), value = std::move(value)](sqlite3* db) -> Status {
        return write_row(db,
                         "INSERT INTO meta(key, value, updated_at) VALUES (?, ?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;",
                         "put_meta", key, value, static_cast<std::int64_t>(std::time(nullptr)));
      },
      std::move(done));
}

Result<std::optional<std::string>> SqliteStore::get_meta(std::string_view key) {
  auto r = readers_.acquire();
  return first_row(query_rows(
      r, "SELECT value FROM meta WHERE key = ?;", [&](sqlite3_stmt* s) { bind_all(s, key); },
      [](sqlite3_stmt* s) { return column_text(s, 0); }, "get_meta"));
}

bool SqliteStore::healthy() {
  return writer_ && writer_->healthy();
}

StoreStats SqliteStore::stats() {
  return writer_ ? writer_->stats() : StoreStats{};
}

void SqliteStore::close() {
  if (writer_) writer_->close();
  readers_.close();
  if (writer_db_) {
    sqlite3_close_v2(writer_db_);
    writer_db_ = nullptr;
  }
}

}  // namespace herald::store
