// Each app's recipient blocklist (docs/otp.md): held in memory by the recipient's blind
// index, which is all a send checks, and sealed in the store with the address and reason.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "store/otp_records.h"

namespace herald::store {
class Store;
}
namespace herald::kms {
class KeyService;
}

namespace herald::otp {

struct BlockEntry {
  std::string to;
  std::string reason;
  std::int64_t created_ms = 0;
};

class Blocklist {
 public:
  Blocklist(store::Store& store, kms::KeyService& keys) : store_(store), keys_(keys) {}

  // Errors: "invalid_argument", "sealed", "store_unavailable". The entry is listed once
  // it is durable.
  void block(const std::string& app_id, const std::string& to, const std::string& reason, std::int64_t now_ms,
             Done<BlockEntry> done);
  // Done with true if the recipient was on the list.
  void unblock(const std::string& app_id, const std::string& to, Done<bool> done);
  // The app's entries, oldest first, opened with its key.
  Result<std::vector<BlockEntry>> list(const std::string& app_id) const;
  bool contains(const std::string& app_id, const std::string& recipient_index) const;

  // At unseal, the records the store holds; at seal, nothing.
  void restore(std::vector<store::OtpBlockRecord> records);
  void clear();
  // Another node changed a blocklist: everything becomes `records`, read from the store
  // when generation() was `read_at`. False (and nothing changed) when a block or unblock
  // of this node landed since: the caller reads again, so the reload never undoes it.
  bool replace(std::vector<store::OtpBlockRecord> records, std::uint64_t read_at);
  std::uint64_t generation() const;

 private:
  store::Store& store_;
  kms::KeyService& keys_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, store::OtpBlockRecord> entries_;  // (app, recipient index)
  std::uint64_t generation_ = 0;  // this node's blocks and unblocks so far
};

}  // namespace herald::otp
