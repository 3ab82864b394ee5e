// SQLite store: connections, migrations, the writer thread and group commit.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "core/log.h"
#include "core/metrics.h"
#include "store/migrations.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {
namespace {

Status make_private_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error("store_error", "cannot create data directory " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  return ok_status();
}

}  // namespace

namespace {
struct StatementKey {
  sqlite3* db;
  const char* sql;
  bool operator==(const StatementKey&) const = default;
};
struct StatementKeyHash {
  std::size_t operator()(const StatementKey& k) const {
    return std::hash<const void*>{}(k.db) ^ (std::hash<const void*>{}(k.sql) << 1);
  }
};
thread_local std::unordered_map<StatementKey, sqlite3_stmt*, StatementKeyHash> t_writer_statements;
}  // namespace

sqlite3_stmt* writer_statement(sqlite3* db, const char* sql) {
  auto [it, fresh] = t_writer_statements.try_emplace(StatementKey{db, sql}, nullptr);
  if (fresh && sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &it->second, nullptr) != SQLITE_OK) {
    t_writer_statements.erase(it);
    return nullptr;
  }
  return it->second;
}

void finalize_all(sqlite3* db) {
  for (auto it = t_writer_statements.begin(); it != t_writer_statements.end();)
    it = it->first.db == db ? t_writer_statements.erase(it) : std::next(it);
  while (sqlite3_stmt* s = sqlite3_next_stmt(db, nullptr)) sqlite3_finalize(s);
}

namespace {
// One statement of the batch frame (BEGIN, SAVEPOINT, ...), from the writer's cache.
Status step_cached(sqlite3* db, const char* sql) {
  WriterStatement st(db, sql);
  if (!st.s) return db_error(db, sql);
  int rc = sqlite3_step(st.s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_error(db, sql);
  return ok_status();
}
}  // namespace

SqliteStore::SqliteStore(const StoreOptions& opts) : opts_(opts) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const StoreOptions& opts) {
  auto st = make_private_dir(opts.data_dir);
  if (!st) return st.error();
  std::unique_ptr<SqliteStore> s(new SqliteStore(opts));
  st = s->open_connections(opts.data_dir + "/herald.db");
  if (!st) return st.error();
  st = s->migrate();
  if (!st) return st.error();
  if (opts.metrics) {
    auto& r = *opts.metrics;
    s->m_commits_ = &r.counter("herald_store_commits_total", "Transactions committed by the store writer").with({});
    s->m_writes_ = &r.counter("herald_store_writes_total", "Writes made durable by the store writer").with({});
    s->m_batch_ = &r.histogram("herald_store_commit_batch_size", "Writes folded into one group commit", {},
                               {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096})
                       .with({});
    s->m_commit_seconds_ =
        &r.histogram("herald_store_commit_seconds", "Time to commit one batch, fsync included", {}).with({});
  }
  s->completer_ = std::thread([p = s.get()] { p->completer_loop(); });
  s->writer_ = std::thread([p = s.get()] { p->writer_loop(); });
  return s;
}

SqliteStore::~SqliteStore() {
  close();
}

Status SqliteStore::open_connections(const std::string& path) {
  // Create the file ourselves so that it, and the -wal/-shm files SQLite derives from
  // it, are private to this user from the first byte.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("store_error", "cannot open " + path + ": " + std::strerror(errno));
  ::close(fd);

  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &writer_db_, flags, nullptr) != SQLITE_OK)
    return db_error(writer_db_, "cannot open " + path);
  for (const char* pragma : {"PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;", "PRAGMA foreign_keys=ON;",
                             "PRAGMA busy_timeout=5000;", "PRAGMA wal_autocheckpoint=4000;"}) {
    auto st = exec(writer_db_, pragma);
    if (!st) return st;
  }
  if (sqlite3_open_v2(path.c_str(), &reader_db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "cannot open " + path + " for reading");
  return exec(reader_db_, "PRAGMA busy_timeout=5000;");
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
    return make_error("store_error", "the database schema is version " + std::to_string(current) +
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
      sqlite3_bind_int(ins.s, 1, m.version);
      sqlite3_bind_text(ins.s, 2, m.name.data(), static_cast<int>(m.name.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int64(ins.s, 3, static_cast<sqlite3_int64>(std::time(nullptr)));
      if (sqlite3_step(ins.s) != SQLITE_DONE) st = db_error(writer_db_, "recording migration");
    }
    if (!st) {
      (void)exec(writer_db_, "ROLLBACK;");
      return make_error("store_error", "migration " + std::to_string(m.version) + " (" + std::string(m.name) +
                                           ") failed: " + st.error().message);
    }
    st = exec(writer_db_, "COMMIT;");
    if (!st) return st;
    log::info("store_migrated", {{"version", m.version}, {"name", m.name}});
  }
  return ok_status();
}

int SqliteStore::schema_version() {
  std::lock_guard lock(reader_mu_);
  sqlite3* db = reader_db_ ? reader_db_ : writer_db_;
  Stmt q;
  if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;", -1, &q.s, nullptr) !=
      SQLITE_OK)
    return 0;
  return sqlite3_step(q.s) == SQLITE_ROW ? sqlite3_column_int(q.s, 0) : 0;
}

void SqliteStore::submit(WriteFn fn, Completion done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.emplace_back(std::move(fn), std::move(done));
      cv_.notify_one();
      return;
    }
  }
  done(make_error("store_closed", "the store is shutting down"));
}

void SqliteStore::put_meta(std::string key, std::string value, Completion done) {
  submit(
      [key = std::move(key), value = std::move(value)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v3(db,
                               "INSERT INTO meta(key, value, updated_at) VALUES (?, ?, ?) "
                               "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = "
                               "excluded.updated_at;",
                               -1, SQLITE_PREPARE_PERSISTENT, &s.s, nullptr) != SQLITE_OK)
          return db_error(db, "put_meta");
        sqlite3_bind_text(s.s, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
        sqlite3_bind_text(s.s, 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
        sqlite3_bind_int64(s.s, 3, static_cast<sqlite3_int64>(std::time(nullptr)));
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "put_meta");
        return ok_status();
      },
      std::move(done));
}

Result<std::optional<std::string>> SqliteStore::get_meta(std::string_view key) {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_, "SELECT value FROM meta WHERE key = ?;", -1, &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "get_meta");
  sqlite3_bind_text(q.s, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  int rc = sqlite3_step(q.s);
  if (rc == SQLITE_DONE) return std::optional<std::string>{};
  if (rc != SQLITE_ROW) return db_error(reader_db_, "get_meta");
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0));
  return std::optional<std::string>(std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(q.s, 0))));
}

Result<std::vector<AppRecord>> SqliteStore::load_apps() {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(
          reader_db_,
          "SELECT id, key, name, status, created_ms, client_secret, client_public_keys, jwt_audience, "
          "jwt_issuer, require_exp, app_secrets, scopes, namespaces, allowed_cidrs, rate_limit FROM apps "
          "ORDER BY created_ms, id;",
          -1, &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "load_apps");
  auto text = [&](int col) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(q.s, col));
    return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(q.s, col)));
  };
  std::vector<AppRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    AppRecord r;
    r.id = text(0);
    r.key = text(1);
    r.name = text(2);
    r.status = text(3);
    r.created_ms = sqlite3_column_int64(q.s, 4);
    r.client_secret_sealed = text(5);
    r.client_public_keys_json = text(6);
    r.jwt_audience = text(7);
    r.jwt_issuer = text(8);
    r.require_exp = sqlite3_column_int(q.s, 9) != 0;
    r.app_secrets_json = text(10);
    r.scopes = text(11);
    r.namespaces = text(12);
    r.allowed_cidrs = text(13);
    r.rate_limit = static_cast<std::uint32_t>(sqlite3_column_int64(q.s, 14));
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return db_error(reader_db_, "load_apps");
  return out;
}

void SqliteStore::put_app(AppRecord app, Completion done) {
  submit(
      [app = std::move(app)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO apps(id, key, name, status, created_ms, client_secret, client_public_keys, "
                               "jwt_audience, jwt_issuer, require_exp, app_secrets, scopes, namespaces, allowed_cidrs, "
                               "rate_limit) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                               "ON CONFLICT(id) DO UPDATE SET key=excluded.key, name=excluded.name, "
                               "status=excluded.status, client_secret=excluded.client_secret, "
                               "client_public_keys=excluded.client_public_keys, jwt_audience=excluded.jwt_audience, "
                               "jwt_issuer=excluded.jwt_issuer, require_exp=excluded.require_exp, "
                               "app_secrets=excluded.app_secrets, scopes=excluded.scopes, "
                               "namespaces=excluded.namespaces, allowed_cidrs=excluded.allowed_cidrs, "
                               "rate_limit=excluded.rate_limit;",
                               -1, &s.s, nullptr) != SQLITE_OK)
          return db_error(db, "put_app");
        auto bind = [&](int i, const std::string& v) {
          sqlite3_bind_text(s.s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        };
        bind(1, app.id);
        bind(2, app.key);
        bind(3, app.name);
        bind(4, app.status);
        sqlite3_bind_int64(s.s, 5, app.created_ms);
        sqlite3_bind_blob(s.s, 6, app.client_secret_sealed.data(), static_cast<int>(app.client_secret_sealed.size()),
                          SQLITE_STATIC);
        bind(7, app.client_public_keys_json);
        bind(8, app.jwt_audience);
        bind(9, app.jwt_issuer);
        sqlite3_bind_int(s.s, 10, app.require_exp ? 1 : 0);
        bind(11, app.app_secrets_json);
        bind(12, app.scopes);
        bind(13, app.namespaces);
        bind(14, app.allowed_cidrs);
        sqlite3_bind_int64(s.s, 15, app.rate_limit);
        int rc = sqlite3_step(s.s);
        if (rc == SQLITE_CONSTRAINT) return make_error("conflict", "another app has this key or name");
        if (rc != SQLITE_DONE) return db_error(db, "put_app");
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::delete_app(std::string id, Completion done) {
  submit(
      [id = std::move(id)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db, "DELETE FROM apps WHERE id = ?;", -1, &s.s, nullptr) != SQLITE_OK)
          return db_error(db, "delete_app");
        sqlite3_bind_text(s.s, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "delete_app");
        if (sqlite3_changes(db) == 0) return make_error("not_found", "no such app");
        return ok_status();
      },
      std::move(done));
}

Result<std::vector<KmsKeyRecord>> SqliteStore::load_kms_keys() {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_,
                         "SELECT app_id, name, kind, latest_version, min_decryption_version, exportable, "
                         "deletion_allowed, created_ms FROM kms_keys;",
                         -1, &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "load_kms_keys");
  std::vector<KmsKeyRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    KmsKeyRecord r;
    r.app_id = column_text(q.s, 0);
    r.name = column_text(q.s, 1);
    r.kind = column_text(q.s, 2);
    r.latest_version = static_cast<std::uint32_t>(sqlite3_column_int64(q.s, 3));
    r.min_decryption_version = static_cast<std::uint32_t>(sqlite3_column_int64(q.s, 4));
    r.exportable = sqlite3_column_int(q.s, 5) != 0;
    r.deletion_allowed = sqlite3_column_int(q.s, 6) != 0;
    r.created_ms = sqlite3_column_int64(q.s, 7);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return db_error(reader_db_, "load_kms_keys");
  return out;
}

Result<std::vector<KmsVersionRecord>> SqliteStore::load_kms_versions() {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_, "SELECT app_id, name, version, wrapped, created_ms FROM kms_key_versions;", -1,
                         &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "load_kms_versions");
  std::vector<KmsVersionRecord> out;
  int rc;
  auto blob = [&](int c) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(q.s, c));
    return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(q.s, c)));
  };
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    KmsVersionRecord r;
    r.app_id = blob(0);
    r.name = blob(1);
    r.version = static_cast<std::uint32_t>(sqlite3_column_int64(q.s, 2));
    r.wrapped = blob(3);
    r.created_ms = sqlite3_column_int64(q.s, 4);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return db_error(reader_db_, "load_kms_versions");
  return out;
}

void SqliteStore::put_kms_key(KmsKeyRecord key, std::optional<KmsVersionRecord> version, Completion done) {
  submit(
      [key = std::move(key), version = std::move(version)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO kms_keys(app_id, name, kind, latest_version, min_decryption_version, "
                               "exportable, deletion_allowed, created_ms) VALUES (?,?,?,?,?,?,?,?) "
                               "ON CONFLICT(app_id, name) DO UPDATE SET latest_version=excluded.latest_version, "
                               "min_decryption_version=excluded.min_decryption_version, "
                               "exportable=excluded.exportable, deletion_allowed=excluded.deletion_allowed;",
                               -1, &s.s, nullptr) != SQLITE_OK)
          return db_error(db, "put_kms_key");
        sqlite3_bind_text(s.s, 1, key.app_id.data(), static_cast<int>(key.app_id.size()), SQLITE_STATIC);
        sqlite3_bind_text(s.s, 2, key.name.data(), static_cast<int>(key.name.size()), SQLITE_STATIC);
        sqlite3_bind_text(s.s, 3, key.kind.data(), static_cast<int>(key.kind.size()), SQLITE_STATIC);
        sqlite3_bind_int64(s.s, 4, key.latest_version);
        sqlite3_bind_int64(s.s, 5, key.min_decryption_version);
        sqlite3_bind_int(s.s, 6, key.exportable ? 1 : 0);
        sqlite3_bind_int(s.s, 7, key.deletion_allowed ? 1 : 0);
        sqlite3_bind_int64(s.s, 8, key.created_ms);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "put_kms_key");
        if (!version) return ok_status();
        Stmt v;
        if (sqlite3_prepare_v2(db,
                               "INSERT INTO kms_key_versions(app_id, name, version, wrapped, created_ms) "
                               "VALUES (?,?,?,?,?);",
                               -1, &v.s, nullptr) != SQLITE_OK)
          return db_error(db, "put_kms_key");
        sqlite3_bind_text(v.s, 1, version->app_id.data(), static_cast<int>(version->app_id.size()), SQLITE_STATIC);
        sqlite3_bind_text(v.s, 2, version->name.data(), static_cast<int>(version->name.size()), SQLITE_STATIC);
        sqlite3_bind_int64(v.s, 3, version->version);
        sqlite3_bind_blob(v.s, 4, version->wrapped.data(), static_cast<int>(version->wrapped.size()), SQLITE_STATIC);
        sqlite3_bind_int64(v.s, 5, version->created_ms);
        int rc = sqlite3_step(v.s);
        if (rc == SQLITE_CONSTRAINT) return make_error("conflict", "this key version exists already");
        if (rc != SQLITE_DONE) return db_error(db, "put_kms_key");
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::delete_kms_key(std::string app_id, std::string name, Completion done) {
  submit(
      [app_id = std::move(app_id), name = std::move(name)](sqlite3* db) -> Status {
        for (const char* sql : {"DELETE FROM kms_key_versions WHERE app_id = ? AND name = ?;",
                                "DELETE FROM kms_keys WHERE app_id = ? AND name = ?;"}) {
          Stmt s;
          if (sqlite3_prepare_v2(db, sql, -1, &s.s, nullptr) != SQLITE_OK) return db_error(db, "delete_kms_key");
          sqlite3_bind_text(s.s, 1, app_id.data(), static_cast<int>(app_id.size()), SQLITE_STATIC);
          sqlite3_bind_text(s.s, 2, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
          if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "delete_kms_key");
        }
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::append_audit(AuditEntryRecord entry, std::vector<AuditNodeRecord> nodes, Completion done) {
  submit(
      [entry = std::move(entry), nodes = std::move(nodes)](sqlite3* db) -> Status {
        Stmt e;
        if (sqlite3_prepare_v3(db, "INSERT INTO audit_entries(seq, leaf_hash, body) VALUES (?, ?, ?);", -1,
                               SQLITE_PREPARE_PERSISTENT, &e.s, nullptr) != SQLITE_OK)
          return db_error(db, "append_audit");
        sqlite3_bind_int64(e.s, 1, static_cast<sqlite3_int64>(entry.seq));
        sqlite3_bind_blob(e.s, 2, entry.leaf_hash.data(), static_cast<int>(entry.leaf_hash.size()), SQLITE_STATIC);
        sqlite3_bind_text(e.s, 3, entry.body.data(), static_cast<int>(entry.body.size()), SQLITE_STATIC);
        if (sqlite3_step(e.s) != SQLITE_DONE) return db_error(db, "append_audit");
        for (const auto& n : nodes) {
          Stmt q;
          if (sqlite3_prepare_v3(db, "INSERT INTO audit_nodes(level, idx, hash) VALUES (?, ?, ?);", -1,
                                 SQLITE_PREPARE_PERSISTENT, &q.s, nullptr) != SQLITE_OK)
            return db_error(db, "append_audit");
          sqlite3_bind_int(q.s, 1, static_cast<int>(n.level));
          sqlite3_bind_int64(q.s, 2, static_cast<sqlite3_int64>(n.index));
          sqlite3_bind_blob(q.s, 3, n.hash.data(), static_cast<int>(n.hash.size()), SQLITE_STATIC);
          if (sqlite3_step(q.s) != SQLITE_DONE) return db_error(db, "append_audit");
        }
        return ok_status();
      },
      std::move(done));
}

void SqliteStore::append_audit_batch(std::function<AuditBatch()> take,
                                     std::function<void(Status, const AuditBatch&)> done) {
  auto batch = std::make_shared<AuditBatch>();
  submit(
      [take = std::move(take), batch](sqlite3* db) -> Status {
        *batch = take();
        // Statements prepared once per write, however many entries it carries.
        Stmt e, n;
        if (sqlite3_prepare_v3(db, "INSERT INTO audit_entries(seq, leaf_hash, body) VALUES (?, ?, ?);", -1,
                               SQLITE_PREPARE_PERSISTENT, &e.s, nullptr) != SQLITE_OK ||
            sqlite3_prepare_v3(db, "INSERT INTO audit_nodes(level, idx, hash) VALUES (?, ?, ?);", -1,
                               SQLITE_PREPARE_PERSISTENT, &n.s, nullptr) != SQLITE_OK)
          return db_error(db, "append_audit_batch");
        for (const auto& entry : batch->entries) {
          sqlite3_reset(e.s);
          sqlite3_bind_int64(e.s, 1, static_cast<sqlite3_int64>(entry.seq));
          sqlite3_bind_blob(e.s, 2, entry.leaf_hash.data(), static_cast<int>(entry.leaf_hash.size()), SQLITE_STATIC);
          sqlite3_bind_text(e.s, 3, entry.body.data(), static_cast<int>(entry.body.size()), SQLITE_STATIC);
          if (sqlite3_step(e.s) != SQLITE_DONE) return db_error(db, "append_audit_batch");
        }
        for (const auto& node : batch->nodes) {
          sqlite3_reset(n.s);
          sqlite3_bind_int(n.s, 1, static_cast<int>(node.level));
          sqlite3_bind_int64(n.s, 2, static_cast<sqlite3_int64>(node.index));
          sqlite3_bind_blob(n.s, 3, node.hash.data(), static_cast<int>(node.hash.size()), SQLITE_STATIC);
          if (sqlite3_step(n.s) != SQLITE_DONE) return db_error(db, "append_audit_batch");
        }
        return ok_status();
      },
      [batch, done = std::move(done)](Status st) { done(std::move(st), *batch); });
}

void SqliteStore::put_audit_checkpoint(AuditCheckpointRecord cp, Completion done) {
  submit(
      [cp = std::move(cp)](sqlite3* db) -> Status {
        Stmt s;
        if (sqlite3_prepare_v2(db,
                               "INSERT OR REPLACE INTO audit_checkpoints(size, root, ts_ms, signature) "
                               "VALUES (?, ?, ?, ?);",
                               -1, &s.s, nullptr) != SQLITE_OK)
          return db_error(db, "put_audit_checkpoint");
        sqlite3_bind_int64(s.s, 1, static_cast<sqlite3_int64>(cp.size));
        sqlite3_bind_blob(s.s, 2, cp.root.data(), static_cast<int>(cp.root.size()), SQLITE_STATIC);
        sqlite3_bind_int64(s.s, 3, cp.ts_ms);
        sqlite3_bind_blob(s.s, 4, cp.signature.data(), static_cast<int>(cp.signature.size()), SQLITE_STATIC);
        if (sqlite3_step(s.s) != SQLITE_DONE) return db_error(db, "put_audit_checkpoint");
        return ok_status();
      },
      std::move(done));
}

namespace {
std::string blob_col(sqlite3_stmt* s, int c) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, c));
  return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(s, c)));
}
}  // namespace

Result<std::uint64_t> SqliteStore::audit_size() {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_, "SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries;", -1, &q.s, nullptr) !=
          SQLITE_OK ||
      sqlite3_step(q.s) != SQLITE_ROW)
    return db_error(reader_db_, "audit_size");
  return static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 0));
}

Result<std::vector<AuditEntryRecord>> SqliteStore::audit_entries(std::uint64_t from, std::uint64_t count) {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_,
                         "SELECT seq, leaf_hash, body FROM audit_entries WHERE seq >= ? ORDER BY seq LIMIT ?;", -1,
                         &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "audit_entries");
  sqlite3_bind_int64(q.s, 1, static_cast<sqlite3_int64>(from));
  sqlite3_bind_int64(q.s, 2, static_cast<sqlite3_int64>(count));
  std::vector<AuditEntryRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(
        AuditEntryRecord{static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 0)), blob_col(q.s, 1), blob_col(q.s, 2)});
  if (rc != SQLITE_DONE) return db_error(reader_db_, "audit_entries");
  return out;
}

Result<std::optional<std::string>> SqliteStore::audit_node(unsigned level, std::uint64_t index) {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (level == 0) {
    if (sqlite3_prepare_v2(reader_db_, "SELECT leaf_hash FROM audit_entries WHERE seq = ?;", -1, &q.s, nullptr) !=
        SQLITE_OK)
      return db_error(reader_db_, "audit_node");
    sqlite3_bind_int64(q.s, 1, static_cast<sqlite3_int64>(index));
  } else {
    if (sqlite3_prepare_v2(reader_db_, "SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?;", -1, &q.s,
                           nullptr) != SQLITE_OK)
      return db_error(reader_db_, "audit_node");
    sqlite3_bind_int(q.s, 1, static_cast<int>(level));
    sqlite3_bind_int64(q.s, 2, static_cast<sqlite3_int64>(index));
  }
  int rc = sqlite3_step(q.s);
  if (rc == SQLITE_DONE) return std::optional<std::string>{};
  if (rc != SQLITE_ROW) return db_error(reader_db_, "audit_node");
  return std::optional<std::string>(blob_col(q.s, 0));
}

Result<std::optional<AuditCheckpointRecord>> SqliteStore::latest_audit_checkpoint() {
  auto all = audit_checkpoints();
  if (!all) return all.error();
  if (all->empty()) return std::optional<AuditCheckpointRecord>{};
  return std::optional<AuditCheckpointRecord>(all->back());
}

Result<std::vector<AuditCheckpointRecord>> SqliteStore::audit_checkpoints() {
  std::lock_guard lock(reader_mu_);
  Stmt q;
  if (sqlite3_prepare_v2(reader_db_, "SELECT size, root, ts_ms, signature FROM audit_checkpoints ORDER BY size;", -1,
                         &q.s, nullptr) != SQLITE_OK)
    return db_error(reader_db_, "audit_checkpoints");
  std::vector<AuditCheckpointRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(AuditCheckpointRecord{static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 0)), blob_col(q.s, 1),
                                        sqlite3_column_int64(q.s, 2), blob_col(q.s, 3)});
  if (rc != SQLITE_DONE) return db_error(reader_db_, "audit_checkpoints");
  return out;
}

bool SqliteStore::healthy() {
  std::lock_guard lock(mu_);
  return !stopping_ && !failed_.load();
}

StoreStats SqliteStore::stats() {
  return StoreStats{commits_.load(), writes_.load(), max_batch_.load()};
}

void SqliteStore::writer_loop() {
  std::deque<std::pair<WriteFn, Completion>> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) {  // stopping, and everything queued is done
        lock.unlock();
        finalize_all(writer_db_);
        return;
      }
      while (!queue_.empty() && batch.size() < opts_.commit_batch_max) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_batch(batch);
    batch.clear();
  }
}

void SqliteStore::commit_batch(std::deque<std::pair<WriteFn, Completion>>& batch) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Status> results(batch.size(), ok_status());
  auto begun = step_cached(writer_db_, "BEGIN IMMEDIATE;");
  if (!begun) {
    for (auto& r : results) r = make_error("store_unavailable", "the store cannot start a transaction");
  } else {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      (void)step_cached(writer_db_, "SAVEPOINT w;");
      results[i] = batch[i].first(writer_db_);
      if (!results[i]) (void)step_cached(writer_db_, "ROLLBACK TO w;");
      (void)step_cached(writer_db_, "RELEASE w;");
    }
    auto committed = step_cached(writer_db_, "COMMIT;");
    if (!committed) {
      (void)exec(writer_db_, "ROLLBACK;");
      failed_ = true;
      log::error("store_commit_failed", {{"error", committed.error().message}, {"writes", batch.size()}});
      for (auto& r : results) r = make_error("store_unavailable", "the store could not commit the write");
    } else {
      failed_ = false;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  commits_.fetch_add(1, std::memory_order_relaxed);
  writes_.fetch_add(batch.size(), std::memory_order_relaxed);
  if (batch.size() > max_batch_.load()) max_batch_ = batch.size();
  if (m_commits_) {
    m_commits_->inc();
    m_writes_->inc(batch.size());
    m_batch_->observe(static_cast<double>(batch.size()));
    m_commit_seconds_->observe(secs);
  }
  // Hand the batch to the completer; at most a few batches wait there, so a slow
  // completion slows the writer instead of growing memory.
  std::unique_lock lock(done_mu_);
  done_cv_.wait(lock, [&] { return done_queue_.size() < 4; });
  done_queue_.push_back(Done{std::move(batch), std::move(results)});
  done_cv_.notify_all();
}

void SqliteStore::completer_loop() {
  for (;;) {
    Done d;
    {
      std::unique_lock lock(done_mu_);
      done_cv_.wait(lock, [&] { return !done_queue_.empty() || done_stopping_; });
      if (done_queue_.empty()) return;
      d = std::move(done_queue_.front());
      done_queue_.pop_front();
      done_cv_.notify_all();
    }
    for (std::size_t i = 0; i < d.batch.size(); ++i)
      if (d.batch[i].second) d.batch[i].second(std::move(d.results[i]));
  }
}

void SqliteStore::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(done_mu_);
    done_stopping_ = true;
    done_cv_.notify_all();
  }
  if (completer_.joinable()) completer_.join();
  sqlite3_close_v2(reader_db_);
  reader_db_ = nullptr;
  sqlite3_close_v2(writer_db_);
  writer_db_ = nullptr;
}

}  // namespace herald::store
