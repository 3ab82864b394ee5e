// The PostgreSQL store's audit tables (store/audit_records.h): entries, tree nodes, checkpoints.
#include "store/postgres/postgres_store.h"

namespace herald::store {
namespace {

void write_batch(pg::WriteTx& tx, const std::vector<AuditEntryRecord>& entries,
                 const std::vector<AuditNodeRecord>& nodes) {
  for (const auto& e : entries)
    tx.run("INSERT INTO audit_entries(seq, leaf_hash, body) VALUES ($1, $2, $3);",
           pg::params(e.seq, e.leaf_hash, e.body));
  for (const auto& n : nodes)
    tx.run("INSERT INTO audit_nodes(level, idx, hash) VALUES ($1, $2, $3);", pg::params(n.level, n.index, n.hash));
}

AuditCheckpointRecord read_checkpoint(const pg::Row& r) {
  return AuditCheckpointRecord{static_cast<std::uint64_t>(r.i64(0)), r.bytes(1), r.i64(2), r.bytes(3)};
}

}  // namespace

void PostgresStore::append_audit(AuditEntryRecord entry, std::vector<AuditNodeRecord> nodes, Completion done) {
  submit(
      [entry = std::move(entry), nodes = std::move(nodes)](pg::WriteTx& tx) -> Status {
        write_batch(tx, {entry}, nodes);
        return ok_status();
      },
      std::move(done));
}

void PostgresStore::append_audit_batch(std::function<AuditBatch()> take,
                                       std::function<void(Status, const AuditBatch&)> done) {
  struct Taken {
    bool taken = false;
    AuditBatch batch;
  };
  auto state = std::make_shared<Taken>();
  submit(
      [take = std::move(take), state](pg::WriteTx& tx) -> Status {
        // Taken once, on the writer thread: a write runs again when another write of its
        // batch fails, and must then send the same entries.
        if (!state->taken) {
          state->batch = take();
          state->taken = true;
        }
        write_batch(tx, state->batch.entries, state->batch.nodes);
        return ok_status();
      },
      [state, done = std::move(done)](Status st) { done(std::move(st), state->batch); });
}

void PostgresStore::put_audit_checkpoint(AuditCheckpointRecord cp, Completion done) {
  submit(
      [cp = std::move(cp)](pg::WriteTx& tx) -> Status {
        tx.run(
            "INSERT INTO audit_checkpoints(size, root, ts_ms, signature) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (size) DO UPDATE SET root = excluded.root, ts_ms = excluded.ts_ms, "
            "signature = excluded.signature;",
            pg::params(cp.size, cp.root, cp.ts_ms, cp.signature));
        return ok_status();
      },
      std::move(done));
}

Result<std::uint64_t> PostgresStore::audit_size() {
  auto rows = readers_.acquire().query(
      "SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries;", pg::Params{},
      [](const pg::Row& r) { return static_cast<std::uint64_t>(r.i64(0)); }, "audit_size");
  if (!rows) return rows.error();
  if (rows->empty()) return make_error(Errc::kStoreError, "audit_size: no row");
  return rows->front();
}

Result<std::vector<AuditEntryRecord>> PostgresStore::audit_entries(std::uint64_t from, std::uint64_t count) {
  return readers_.acquire().query(
      "SELECT seq, leaf_hash, body FROM audit_entries WHERE seq >= $1 ORDER BY seq LIMIT $2;", pg::params(from, count),
      [](const pg::Row& r) {
        return AuditEntryRecord{static_cast<std::uint64_t>(r.i64(0)), r.bytes(1), r.bytes(2)};
      },
      "audit_entries");
}

Result<std::optional<std::string>> PostgresStore::audit_node(unsigned level, std::uint64_t index) {
  auto hash = [](const pg::Row& r) { return r.bytes(0); };
  // Level 0 of the tree is the entries' leaf hashes, which are not copied into audit_nodes.
  if (level == 0)
    return pg::first_row(readers_.acquire().query("SELECT leaf_hash FROM audit_entries WHERE seq = $1;",
                                                  pg::params(index), hash, "audit_node"));
  return pg::first_row(readers_.acquire().query("SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2;",
                                                pg::params(level, index), hash, "audit_node"));
}

Result<std::optional<AuditCheckpointRecord>> PostgresStore::latest_audit_checkpoint() {
  return pg::first_row(
      readers_.acquire().query("SELECT size, root, ts_ms, signature FROM audit_checkpoints ORDER BY size DESC LIMIT 1;",
                               pg::Params{}, read_checkpoint, "latest_audit_checkpoint"));
}

Result<std::vector<AuditCheckpointRecord>> PostgresStore::audit_checkpoints() {
  return readers_.acquire().query("SELECT size, root, ts_ms, signature FROM audit_checkpoints ORDER BY size;",
                                  pg::Params{}, read_checkpoint, "audit_checkpoints");
}

}  // namespace herald::store
