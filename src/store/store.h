// The durable store, as the domain modules see it. Writes are asynchronous and
// complete only once they are on disk (fsync'd), folded into group commits; reads
// are synchronous and cheap. Implementations: sqlite/ (embedded, one node) and postgres/
// (shared by every node of a cluster).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "store/app_records.h"
#include "store/audit_records.h"
#include "store/kms_records.h"
#include "store/message_records.h"
#include "store/nonce_records.h"
#include "store/otp_records.h"

namespace herald {
struct Config;
}
namespace herald::metrics {
class Registry;
}

namespace herald::store {

// Completion (store/app_records.h): called once a write is durable (or has failed); it
// may run on the store's writer thread, so it must be quick and hand work back to its
// own executor.

// What another node (or this one) changed in the shared store, of the state every node
// holds in memory. kAll: changes may have been missed (the feed was away too long);
// reload everything.
enum class ChangeKind { kAll, kApp, kKmsKey, kMessageSettings, kMessageTemplate, kOtpBlocklist };
std::string_view change_kind_name(ChangeKind kind);  // "all", "app", "kms_key", ...

// Reports the changes every node's writes make to apps, KMS keys and delivery settings,
// so that a node reloads what another changed. Own writes come back too (reloading them
// must be harmless). The SQLite driver has no other writer: its feed reports nothing.
class ChangeFeed {
 public:
  // Called on the feed's own thread, one change at a time, in commit order per app; it
  // may read the store and take its time (the next changes wait). False: the change could
  // not be taken in (the store did not answer); the feed reports kAll until one is.
  using Listener = std::function<bool(ChangeKind kind, const std::string& app_id)>;
  virtual ~ChangeFeed() = default;
  // Starts reporting to `listener`; a change is reported within `poll_interval` of its
  // commit (sooner when notified) while the database answers. Call once.
  virtual void start(Listener listener, std::chrono::milliseconds poll_interval) = 0;
  // Stops the feed's thread; the listener is not called after it returns. Idempotent.
  virtual void stop() = 0;
  // True while the feed is connected to the database (always for a single-node driver).
  virtual bool connected() const = 0;
};

struct StoreStats {
  std::uint64_t commits = 0;    // transactions committed
  std::uint64_t writes = 0;     // writes made durable
  std::uint64_t max_batch = 0;  // largest group commit seen
};

class Store {
 public:
  virtual ~Store() = default;

  // Version of the newest migration applied.
  virtual int schema_version() = 0;
  // Settings and facts about this installation (instance id, creation time, ...).
  virtual void put_meta(std::string key, std::string value, Completion done) = 0;
  virtual Result<std::optional<std::string>> get_meta(std::string_view key) = 0;
  // True while the store can take writes (the writer is alive and the disk answers).
  virtual bool healthy() = 0;
  virtual StoreStats stats() = 0;
  // Finishes every queued write, then stops the writer. Idempotent.
  virtual void close() = 0;

  // Tables of the domain modules.
  virtual AppRecords& apps() = 0;
  virtual KmsRecords& kms() = 0;
  virtual AuditRecords& audit() = 0;
  virtual OtpRecords& otp() = 0;
  virtual MessageRecords& messages() = 0;
  virtual NonceRecords& nonces() = 0;
  // What other nodes change; a feed that reports nothing unless the driver is shared.
  virtual ChangeFeed& changes();
};

struct PostgresOptions {
  std::string url;            // postgresql://...; a secret: never logged
  std::size_t pool_size = 4;  // read connections (the writer has its own)
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds statement_timeout{10000};
};

struct StoreOptions {
  std::string data_dir;
  std::uint64_t commit_batch_max = 4096;
  metrics::Registry* metrics = nullptr;
  std::size_t readers = 4;   // read connections; reads beyond this many at once wait
  PostgresOptions postgres;  // driver "postgres"
  // The audit log this node appends to on a shared store (the node's name: one log per
  // node, docs/audit.md); SQLite holds one log and ignores it.
  std::string audit_log;
};

// Opens (creating and migrating) the store named by `driver`; an unknown driver is an
// "invalid_config" error.
Result<std::unique_ptr<Store>> open_store(std::string_view driver, const StoreOptions& opts);
// The same, with the driver and options of the `[store]` section.
Result<std::unique_ptr<Store>> open_store(const Config& cfg, metrics::Registry* metrics = nullptr);

// Blocks until a write completes; for the CLI and tests, never for an I/O thread, and
// never on a store thread (check on_store_thread()), where it would wait for itself.
Status wait_for(const std::function<void(Completion)>& start);

// True on a store's writer or completer thread (in a write or a Completion).
bool on_store_thread();

}  // namespace herald::store
