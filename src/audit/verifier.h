// `herald audit verify`: recomputes the Merkle tree from the stored entries and checks
// every entry, stored subtree and signed checkpoint against it, and, given a checkpoint
// kept outside the server, that today's log extends the one it pinned. The first
// problem found is reported with the index of the entry at fault.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "audit/merkle.h"
#include "core/result.h"

namespace herald::store {
class Store;
class AuditRecords;
}  // namespace herald::store

namespace herald::audit {

// A checkpoint as `herald audit checkpoint` saves it (docs/audit.md), with the public
// key it was signed with.
struct SavedCheckpoint {
  std::uint64_t size = 0;
  Hash root{};
  std::int64_t ts_ms = 0;
  std::string signature;
  std::string public_key_pem;
  // The node whose log it pins, on a shared store (optional "log" field; "" for SQLite's
  // one log), so that one witness can keep every node's checkpoints.
  std::string log;
};

// Parses the JSON file form; "invalid_checkpoint" when malformed.
Result<SavedCheckpoint> parse_saved_checkpoint(std::string_view json);
std::string saved_checkpoint_json(const SavedCheckpoint& cp);

// The lines of a witness file (audit.witness_file): one saved checkpoint per line, in
// the order they were signed; "invalid_checkpoint" names the first bad line.
Result<std::vector<SavedCheckpoint>> parse_witness(std::string_view text);

struct VerifyOptions {
  std::optional<SavedCheckpoint> saved;
  // Checkpoints a witness kept: the log must extend each, and each must still be stored
  // (a deleted checkpoint is reported as checkpoint_deleted).
  std::vector<SavedCheckpoint> witnessed;
  std::string public_key_pem;  // checks every checkpoint; empty: the key the store names (not a pin)
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

struct VerifyReport {
  bool ok = true;
  std::uint64_t entries = 0;
  std::uint64_t checkpoints = 0;  // stored checkpoints checked
  bool saved_checked = false;
  std::uint64_t witnessed_checked = 0;
  Hash root{};
  std::string problem;  // a code: entry_missing, entry_out_of_place, entry_changed, node_changed,
                        // checkpoint_mismatch, checkpoint_signature_invalid, log_truncated, not_extension,
                        // checkpoint_deleted
  std::string message;
  std::optional<std::uint64_t> first_bad_entry;
};

// The store's own log (audit()), with the key the store publishes for it.
Result<VerifyReport> verify_log(store::Store& store, const VerifyOptions& opts);
// One log of a store (one per node on a shared store); `stored_key` is the key the store
// names for it, used when opts.public_key_pem is empty.
Result<VerifyReport> verify_log(store::AuditRecords& log, const std::string& stored_key, const VerifyOptions& opts);

}  // namespace herald::audit
