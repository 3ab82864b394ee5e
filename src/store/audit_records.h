// The audit log as the store keeps it: entries (the exact bytes that were hashed, and
// their leaf hash), the hashes of complete subtrees, and signed checkpoints.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace herald::store {

using Completion = std::function<void(Status)>;

struct AuditEntryRecord {
  std::uint64_t seq = 0;
  std::string leaf_hash;  // 32 bytes
  std::string body;       // canonical JSON, the leaf's data
};

struct AuditNodeRecord {
  unsigned level = 0;
  std::uint64_t index = 0;
  std::string hash;
};

struct AuditCheckpointRecord {
  std::uint64_t size = 0;
  std::string root;  // 32 bytes
  std::int64_t ts_ms = 0;
  std::string signature;  // Ed25519, 64 bytes
};

// One log of the store: each node of a cluster appends to its own (docs/audit.md), so
// that appends need no cluster-wide lock; SQLite holds one.
struct AuditLogRecord {
  std::string name;        // the node's name; "" for SQLite's only log
  std::string public_key;  // PEM of the key that signs its checkpoints; empty before the first unseal
};

// One log's records. The store's audit() is this node's log; audit_log() opens another.
class AuditRecords {
 public:
  virtual ~AuditRecords() = default;
  virtual const std::string& audit_log_name() const = 0;
  // Publishes the public key of this log's checkpoint key (only ever the public half).
  virtual void put_audit_log_key(std::string public_key_pem, Completion done) = 0;
  // Every log the store holds, by name.
  virtual Result<std::vector<AuditLogRecord>> audit_logs() = 0;
  // Another log of the same store, for reading (verify, the admin API); nullptr when the
  // store holds no log of that name.
  virtual std::unique_ptr<AuditRecords> audit_log(const std::string& name) = 0;
  // An entry and the subtrees it completed, in one write.
  virtual void append_audit(AuditEntryRecord entry, std::vector<AuditNodeRecord> nodes, Completion done) = 0;
  // A write whose entries are taken when the writer runs it (`take` is called on the
  // writer thread): whatever accumulated until then goes into one write. Entries must
  // come in seq order.
  struct AuditBatch {
    std::vector<AuditEntryRecord> entries;
    std::vector<AuditNodeRecord> nodes;
  };
  virtual void append_audit_batch(std::function<AuditBatch()> take,
                                  std::function<void(Status, const AuditBatch&)> done) = 0;
  virtual void put_audit_checkpoint(AuditCheckpointRecord cp, Completion done) = 0;
  virtual Result<std::uint64_t> audit_size() = 0;
  // Entries with seq in [from, from + count), in seq order.
  virtual Result<std::vector<AuditEntryRecord>> audit_entries(std::uint64_t from, std::uint64_t count) = 0;
  virtual Result<std::optional<std::string>> audit_node(unsigned level, std::uint64_t index) = 0;
  virtual Result<std::optional<AuditCheckpointRecord>> latest_audit_checkpoint() = 0;
  virtual Result<std::vector<AuditCheckpointRecord>> audit_checkpoints() = 0;
};

}  // namespace herald::store
