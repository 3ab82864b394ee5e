// The PostgreSQL store's audit tables (store/audit_records.h): entries, tree nodes and
// checkpoints, each row tagged with its log. Every node appends to its own log (named
// after the node), so two nodes never contend for a seq; a log's checkpoint key is
// published in meta as `audit_public_key:<log>` (`audit_public_key` for the log "").
#include "store/postgres/postgres_store.h"

namespace herald::store {
namespace {

void write_batch(pg::WriteTx& tx, const std::string& log, const std::vector<AuditEntryRecord>& entries,
                 const std::vector<AuditNodeRecord>& nodes) {
  for (const auto& e : entries)
    tx.run("INSERT INTO audit_entries(log, seq, leaf_hash, body) VALUES ($1, $2, $3, $4);",
           pg::params(log, e.seq, e.leaf_hash, e.body));
  for (const auto& n : nodes)
    tx.run("INSERT INTO audit_nodes(log, level, idx, hash) VALUES ($1, $2, $3, $4);",
           pg::params(log, n.level, n.index, n.hash));
}

AuditCheckpointRecord read_checkpoint(const pg::Row& r) {
  return AuditCheckpointRecord{static_cast<std::uint64_t>(r.i64(0)), r.bytes(1), r.i64(2), r.bytes(3)};
}

constexpr std::string_view kKeyMeta = "audit_public_key";

std::string key_meta(const std::string& log) {
  return log.empty() ? std::string(kKeyMeta) : std::string(kKeyMeta) + ":" + log;
}

}  // namespace

// One log of the shared tables: the node's own (written), or another's (read).
class PgAuditLog final : public AuditRecords {
 public:
  PgAuditLog(PostgresStore& s, std::string name) : s_(s), name_(std::move(name)) {}

  const std::string& audit_log_name() const override { return name_; }

  void put_audit_log_key(std::string public_key_pem, Completion done) override {
    s_.put_meta(key_meta(name_), std::move(public_key_pem), std::move(done));
  }

  Result<std::vector<AuditLogRecord>> audit_logs() override {
    // The logs with entries (a loose index scan over the primary key: one probe per log,
    // not a scan of every entry), and those with a published key but no entry left.
    auto rows = s_.readers_.acquire().query(
        "WITH RECURSIVE l(name) AS (SELECT min(log) FROM audit_entries UNION ALL "
        "SELECT (SELECT min(log) FROM audit_entries WHERE log > l.name) FROM l WHERE l.name IS NOT NULL), "
        "k(key) AS (SELECT $1::text) "
        "SELECT n.name, COALESCE(convert_from(m.value, 'UTF8'), '') FROM "
        "(SELECT name FROM l WHERE name IS NOT NULL UNION "
        " SELECT CASE WHEN meta.key = k.key THEN '' ELSE substr(meta.key, length(k.key) + 2) END FROM meta, k "
        " WHERE meta.key = k.key OR meta.key LIKE k.key || ':%') n CROSS JOIN k "
        "LEFT JOIN meta m ON m.key = CASE WHEN n.name = '' THEN k.key ELSE k.key || ':' || n.name END "
        "ORDER BY n.name;",
        pg::params(std::string(kKeyMeta)),
        [](const pg::Row& r) {
          return AuditLogRecord{r.bytes(0), r.bytes(1)};
        },
        "audit_logs");
    return rows;
  }

  std::unique_ptr<AuditRecords> audit_log(const std::string& name) override {
    auto logs = audit_logs();
    if (!logs) return nullptr;
    for (const auto& l : *logs)
      if (l.name == name) return std::make_unique<PgAuditLog>(s_, name);
    return nullptr;
  }

  void append_audit(AuditEntryRecord entry, std::vector<AuditNodeRecord> nodes, Completion done) override {
    s_.submit(
        [log = name_, entry = std::move(entry), nodes = std::move(nodes)](pg::WriteTx& tx) -> Status {
          write_batch(tx, log, {entry}, nodes);
          return ok_status();
        },
        std::move(done));
  }

  void append_audit_batch(std::function<AuditBatch()> take,
                          std::function<void(Status, const AuditBatch&)> done) override {
    struct Taken {
      bool taken = false;
      AuditBatch batch;
    };
    auto state = std::make_shared<Taken>();
    s_.submit(
        [log = name_, take = std::move(take), state](pg::WriteTx& tx) -> Status {
          // Taken once, on the writer thread: a write runs again when another write of its
          // batch fails, and must then send the same entries.
          if (!state->taken) {
            state->batch = take();
            state->taken = true;
          }
          write_batch(tx, log, state->batch.entries, state->batch.nodes);
          return ok_status();
        },
        [state, done = std::move(done)](Status st) { done(std::move(st), state->batch); });
  }

  void put_audit_checkpoint(AuditCheckpointRecord cp, Completion done) override {
    s_.submit(
        [log = name_, cp = std::move(cp)](pg::WriteTx& tx) -> Status {
          tx.run(
              "INSERT INTO audit_checkpoints(log, size, root, ts_ms, signature) VALUES ($1, $2, $3, $4, $5) "
              "ON CONFLICT (log, size) DO UPDATE SET root = excluded.root, ts_ms = excluded.ts_ms, "
              "signature = excluded.signature;",
              pg::params(log, cp.size, cp.root, cp.ts_ms, cp.signature));
          return ok_status();
        },
        std::move(done));
  }

  Result<std::uint64_t> audit_size() override {
    auto rows = s_.readers_.acquire().query(
        "SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries WHERE log = $1;", pg::params(name_),
        [](const pg::Row& r) { return static_cast<std::uint64_t>(r.i64(0)); }, "audit_size");
    if (!rows) return rows.error();
    if (rows->empty()) return make_error(Errc::kStoreError, "audit_size: no row");
    return rows->front();
  }

  Result<std::vector<AuditEntryRecord>> audit_entries(std::uint64_t from, std::uint64_t count) override {
    return s_.readers_.acquire().query(
        "SELECT seq, leaf_hash, body FROM audit_entries WHERE log = $1 AND seq >= $2 ORDER BY seq LIMIT $3;",
        pg::params(name_, from, count),
        [](const pg::Row& r) {
          return AuditEntryRecord{static_cast<std::uint64_t>(r.i64(0)), r.bytes(1), r.bytes(2)};
        },
        "audit_entries");
  }

  Result<std::optional<std::string>> audit_node(unsigned level, std::uint64_t index) override {
    auto hash = [](const pg::Row& r) { return r.bytes(0); };
    // Level 0 of the tree is the entries' leaf hashes, which are not copied into audit_nodes.
    if (level == 0)
      return pg::first_row(
          s_.readers_.acquire().query("SELECT leaf_hash FROM audit_entries WHERE log = $1 AND seq = $2;",
                                      pg::params(name_, index), hash, "audit_node"));
    return pg::first_row(
        s_.readers_.acquire().query("SELECT hash FROM audit_nodes WHERE log = $1 AND level = $2 AND idx = $3;",
                                    pg::params(name_, level, index), hash, "audit_node"));
  }

  Result<std::optional<AuditCheckpointRecord>> latest_audit_checkpoint() override {
    return pg::first_row(s_.readers_.acquire().query(
        "SELECT size, root, ts_ms, signature FROM audit_checkpoints WHERE log = $1 ORDER BY size DESC LIMIT 1;",
        pg::params(name_), read_checkpoint, "latest_audit_checkpoint"));
  }

  Result<std::vector<AuditCheckpointRecord>> audit_checkpoints() override {
    return s_.readers_.acquire().query(
        "SELECT size, root, ts_ms, signature FROM audit_checkpoints WHERE log = $1 ORDER BY size;", pg::params(name_),
        read_checkpoint, "audit_checkpoints");
  }

 private:
  PostgresStore& s_;
  const std::string name_;
};

std::unique_ptr<AuditRecords> PostgresStore::open_audit_log(PostgresStore& store, std::string name) {
  return std::make_unique<PgAuditLog>(store, std::move(name));
}

}  // namespace herald::store
