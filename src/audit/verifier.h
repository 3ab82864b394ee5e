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
}

namespace herald::audit {

// A checkpoint as `herald audit checkpoint` saves it (docs/audit.md), with the public
// key it was signed with.
struct SavedCheckpoint {
  std::uint64_t size = 0;
  Hash root{};
  std::int64_t ts_ms = 0;
  std::string signature;
  std::string public_key_pem;
};

// Parses the JSON file form; "invalid_checkpoint" when malformed.
Result<SavedCheckpoint> parse_saved_checkpoint(std::string_view json);
std::string saved_checkpoint_json(const SavedCheckpoint& cp);

struct VerifyOptions {
  std::optional<SavedCheckpoint> saved;
  std::string public_key_pem;  // checks the stored checkpoints; empty: the key the store names
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

struct VerifyReport {
  bool ok = true;
  std::uint64_t entries = 0;
  std::uint64_t checkpoints = 0;  // stored checkpoints checked
  bool saved_checked = false;
  Hash root{};
  std::string problem;     // a code: entry_missing, entry_out_of_place, entry_changed, node_changed,
                           // checkpoint_mismatch, checkpoint_signature_invalid, log_truncated, not_extension
  std::string message;
  std::optional<std::uint64_t> first_bad_entry;
};

Result<VerifyReport> verify_log(store::Store& store, const VerifyOptions& opts);

}  // namespace herald::audit
