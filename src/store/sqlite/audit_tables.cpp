// The SQLite store's audit tables (store/audit_records.h): entries, tree nodes, checkpoints.
#include <sqlite3.h>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_util.h"

namespace herald::store {
namespace {

constexpr const char* kInsertEntry = "INSERT INTO audit_entries(seq, leaf_hash, body) VALUES (?, ?, ?);";
constexpr const char* kInsertNode = "INSERT INTO audit_nodes(level, idx, hash) VALUES (?, ?, ?);";

Status write_entries(sqlite3* db, const std::vector<AuditEntryRecord>& entries, const char* what) {
  WriterStatement e(db, kInsertEntry);
  for (const auto& entry : entries)
    if (auto st = step_write(db, e.s, what, entry.seq, Blob{entry.leaf_hash}, entry.body); !st) return st;
  return ok_status();
}

Status write_nodes(sqlite3* db, const std::vector<AuditNodeRecord>& nodes, const char* what) {
  WriterStatement n(db, kInsertNode);
  for (const auto& node : nodes)
    if (auto st = step_write(db, n.s, what, node.level, node.index, Blob{node.hash}); !st) return st;
  return ok_status();
}

AuditEntryRecord read_entry(sqlite3_stmt* s) {
  return AuditEntryRecord{static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)), column_blob(s, 1), column_blob(s, 2)};
}

AuditCheckpointRecord read_checkpoint(sqlite3_stmt* s) {
  return AuditCheckpointRecord{static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)), column_blob(s, 1),
                               sqlite3_column_int64(s, 2), column_blob(s, 3)};
}

// The meta row that has always held the one log's checkpoint key.
constexpr const char* kPublicKeyMeta = "audit_public_key";

// SQLite's one log, seen through audit_log(""): every call goes to the store.
class SqliteLogView final : public AuditRecords {
 public:
  explicit SqliteLogView(AuditRecords& s) : s_(s) {}
  const std::string& audit_log_name() const override { return s_.audit_log_name(); }
  void put_audit_log_key(std::string pem, Completion done) override {
    s_.put_audit_log_key(std::move(pem), std::move(done));
  }
  Result<std::vector<AuditLogRecord>> audit_logs() override { return s_.audit_logs(); }
  std::unique_ptr<AuditRecords> audit_log(const std::string& name) override { return s_.audit_log(name); }
  void append_audit(AuditEntryRecord e, std::vector<AuditNodeRecord> n, Completion done) override {
    s_.append_audit(std::move(e), std::move(n), std::move(done));
  }
  void append_audit_batch(std::function<AuditBatch()> take,
                          std::function<void(Status, const AuditBatch&)> done) override {
    s_.append_audit_batch(std::move(take), std::move(done));
  }
  void put_audit_checkpoint(AuditCheckpointRecord cp, Completion done) override {
    s_.put_audit_checkpoint(std::move(cp), std::move(done));
  }
  Result<std::uint64_t> audit_size() override { return s_.audit_size(); }
  Result<std::vector<AuditEntryRecord>> audit_entries(std::uint64_t from, std::uint64_t count) override {
    return s_.audit_entries(from, count);
  }
  Result<std::optional<std::string>> audit_node(unsigned level, std::uint64_t index) override {
    return s_.audit_node(level, index);
  }
  Result<std::optional<AuditCheckpointRecord>> latest_audit_checkpoint() override {
    return s_.latest_audit_checkpoint();
  }
  Result<std::vector<AuditCheckpointRecord>> audit_checkpoints() override { return s_.audit_checkpoints(); }

 private:
  AuditRecords& s_;
};

}  // namespace

const std::string& SqliteStore::audit_log_name() const {
  static const std::string kOnly;
  return kOnly;
}

void SqliteStore::put_audit_log_key(std::string public_key_pem, Completion done) {
  put_meta(kPublicKeyMeta, std::move(public_key_pem), std::move(done));
}

Result<std::vector<AuditLogRecord>> SqliteStore::audit_logs() {
  auto key = get_meta(kPublicKeyMeta);
  if (!key) return key.error();
  return std::vector<AuditLogRecord>{AuditLogRecord{"", key->value_or("")}};
}

std::unique_ptr<AuditRecords> SqliteStore::audit_log(const std::string& name) {
  if (!name.empty()) return nullptr;
  return std::make_unique<SqliteLogView>(*this);
}

void SqliteStore::append_audit(AuditEntryRecord entry, std::vector<AuditNodeRecord> nodes, Completion done) {
  submit(
      [entry = std::move(entry), nodes = std::move(nodes)](sqlite3* db) -> Status {
        if (auto st = write_entries(db, {entry}, "append_audit"); !st) return st;
        return write_nodes(db, nodes, "append_audit");
      },
      std::move(done));
}

void SqliteStore::append_audit_batch(std::function<AuditBatch()> take,
                                     std::function<void(Status, const AuditBatch&)> done) {
  auto batch = std::make_shared<AuditBatch>();
  submit(
      [take = std::move(take), batch](sqlite3* db) -> Status {
        // Taken on the writer thread, so the batch holds every entry queued until now.
        *batch = take();
        if (auto st = write_entries(db, batch->entries, "append_audit_batch"); !st) return st;
        return write_nodes(db, batch->nodes, "append_audit_batch");
      },
      [batch, done = std::move(done)](Status st) { done(std::move(st), *batch); });
}

void SqliteStore::put_audit_checkpoint(AuditCheckpointRecord cp, Completion done) {
  submit(
      [cp = std::move(cp)](sqlite3* db) -> Status {
        return write_row(db,
                         "INSERT OR REPLACE INTO audit_checkpoints(size, root, ts_ms, signature) "
                         "VALUES (?, ?, ?, ?);",
                         "put_audit_checkpoint", cp.size, Blob{cp.root}, cp.ts_ms, Blob{cp.signature});
      },
      std::move(done));
}

Result<std::uint64_t> SqliteStore::audit_size() {
  auto r = readers_.acquire();
  auto rows = query_rows(
      r, "SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries;", no_params,
      [](sqlite3_stmt* s) { return static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)); }, "audit_size");
  if (!rows) return rows.error();
  if (rows->empty()) return db_error(r.db(), "audit_size");
  return rows->front();
}

Result<std::vector<AuditEntryRecord>> SqliteStore::audit_entries(std::uint64_t from, std::uint64_t count) {
  auto r = readers_.acquire();
  return query_rows(
      r, "SELECT seq, leaf_hash, body FROM audit_entries WHERE seq >= ? ORDER BY seq LIMIT ?;",
      [&](sqlite3_stmt* s) { bind_all(s, from, count); }, read_entry, "audit_entries");
}

Result<std::optional<std::string>> SqliteStore::audit_node(unsigned level, std::uint64_t index) {
  auto r = readers_.acquire();
  auto hash = [](sqlite3_stmt* s) { return column_blob(s, 0); };
  // Level 0 of the tree is the entries' leaf hashes, which are not copied into audit_nodes.
  if (level == 0)
    return first_row(query_rows(
        r, "SELECT leaf_hash FROM audit_entries WHERE seq = ?;", [&](sqlite3_stmt* s) { bind_all(s, index); }, hash,
        "audit_node"));
  return first_row(query_rows(
      r, "SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?;",
      [&](sqlite3_stmt* s) { bind_all(s, level, index); }, hash, "audit_node"));
}

Result<std::optional<AuditCheckpointRecord>> SqliteStore::latest_audit_checkpoint() {
  auto all = audit_checkpoints();
  if (!all) return all.error();
  if (all->empty()) return std::optional<AuditCheckpointRecord>{};
  return std::optional<AuditCheckpointRecord>(all->back());
}

Result<std::vector<AuditCheckpointRecord>> SqliteStore::audit_checkpoints() {
  auto r = readers_.acquire();
  return query_rows(r, "SELECT size, root, ts_ms, signature FROM audit_checkpoints ORDER BY size;", no_params,
                    read_checkpoint, "audit_checkpoints");
}

}  // namespace herald::store
