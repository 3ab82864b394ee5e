// The audit log as the store keeps it: entries (the exact bytes that were hashed, and
// their leaf hash), the hashes of complete subtrees, and signed checkpoints.
#pragma once

#include <cstdint>
#include <functional>
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

class AuditRecords {
 public:
  virtual ~AuditRecords() = default;
  // An entry and the subtrees it completed, in one write.
  virtual void append_audit(AuditEntryRecord entry, std::vector<AuditNodeRecord> nodes, Completion done) = 0;
  // A write whose entries are taken when the writer runs it (`take` is called on the
  // writer thread): whatever accumulated until then goes into one write. Entries must
  // come in seq order.
  struct AuditBatch {
    std::vector<AuditEntryRecord> entries;
    std::vector<AuditNodeRecord> nodes;
  };
  virtual void append_audit_batch(std::function<AuditBatch()> take, std::function<void(Status, const AuditBatch&)> done) = 0;
  virtual void put_audit_checkpoint(AuditCheckpointRecord cp, Completion done) = 0;
  virtual Result<std::uint64_t> audit_size() = 0;
  // Entries with seq in [from, from + count), in seq order.
  virtual Result<std::vector<AuditEntryRecord>> audit_entries(std::uint64_t from, std::uint64_t count) = 0;
  virtual Result<std::optional<std::string>> audit_node(unsigned level, std::uint64_t index) = 0;
  virtual Result<std::optional<AuditCheckpointRecord>> latest_audit_checkpoint() = 0;
  virtual Result<std::vector<AuditCheckpointRecord>> audit_checkpoints() = 0;
};

}  // namespace herald::store
