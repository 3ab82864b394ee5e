// The audit log: every security-relevant event becomes an entry, a leaf of an RFC 6962
// Merkle tree kept incrementally; entries ride the store's group commit, so auditing a
// request costs a hash and a queued write, not an fsync. Signed checkpoints (Ed25519,
// key held by the key service) pin the tree head every N entries or T seconds.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "audit/merkle.h"
#include "audit/witness_queue.h"
#include "core/periodic_thread.h"
#include "core/result.h"
#include "store/audit_records.h"

namespace herald::store {
class Store;
}
namespace herald::kms {
class KeyService;
}
namespace herald::metrics {
class Registry;
class Counter;
}  // namespace herald::metrics

namespace herald::audit {

struct Event {
  std::string type;    // api, admin, operator, client
  std::string action;  // e.g. "POST /api/v1/publish", "connect"
  std::string result;  // "ok" or an error code
  int status = 0;      // HTTP status, when there is one
  std::string actor;   // "app:<id>", "key:<claimed AppKey>", "admin", "operator", "anonymous"
  std::string request_id;
  std::string source;                                         // the peer address: stored only as a keyed hash
  std::vector<std::pair<std::string, std::string>> details;   // plain, never personal or secret
  std::vector<std::pair<std::string, std::string>> personal;  // stored only as keyed hashes
};

// What other modules see: somewhere to put events.
class Recorder {
 public:
  virtual ~Recorder() = default;
  virtual void record(Event e) = 0;
};

struct Checkpoint {
  std::uint64_t size = 0;
  Hash root{};
  std::int64_t ts_ms = 0;
  std::string signature;  // Ed25519 over checkpoint_message()
};

// The signed text of a checkpoint (docs/audit.md).
std::string checkpoint_message(std::uint64_t size, const Hash& root, std::int64_t ts_ms);

struct LogOptions {
  std::uint64_t checkpoint_every = 1000;
  std::int64_t checkpoint_interval_ms = 60'000;
  // audit.witness_file: every signed checkpoint is appended (one JSON line, fsync'd) to
  // this file, ideally on storage the database's writers cannot rewrite; empty: none.
  std::string witness_file;
  // audit.witness_url: every signed checkpoint (the same JSON) is posted through this, on
  // the WitnessQueue's thread, in order; empty: none. Built by the composition root, so
  // that audit need not know how to speak HTTPS.
  WitnessPoster witness_poster;
  WitnessQueueOptions witness_queue;
  // On a shared store (cluster mode), a database outage does not stop what needs no
  // durable write (realtime push): see admits().
  bool ride_out_store_outage = false;
};

class Log final : public Recorder {
 public:
  // The key service's name of the key that signs the checkpoints of `log`: SQLite's one
  // log (named "") keeps the key it always had; each node's log on a shared store has its
  // own key, so that no two nodes ever race to make one, and a log names its signer.
  static std::string signing_key_name(const std::string& log);

  Log(store::Store& store, kms::KeyService& keys, LogOptions opts, metrics::Registry* registry);
  ~Log() override;

  // Reads the tree's size and right edge from the store. Fails if the stored tree is
  // inconsistent with itself (run `herald audit verify`).
  Status open();
  // Starts and stops the thread that writes checkpoints.
  void start();
  void stop();
  // Posts what the witness URL has not yet taken (one try each) and stops its thread;
  // after the final checkpoint.
  void stop_witness();
  // Waits until every entry appended so far is durable, or `timeout` passes; true if
  // they all are.
  bool flush(std::chrono::milliseconds timeout);
  // False from a failed audit write until the entries it held are durable: they are kept
  // in order and retried (never skipped, so the log has no hole), and meanwhile the
  // audited routes are refused with `audit_unavailable` (fail closed).
  bool writable() const { return !failing_.load(); }
  // Whether audited calls may go on: while the log writes; and, with
  // ride_out_store_outage, while the whole store is down and the entries waiting in
  // memory are few enough (they are written, in order, once the database is back):
  // durable calls then fail by themselves with store_unavailable, and realtime push
  // keeps working. A failure of the audit writes alone still refuses (fail closed).
  bool admits() const;
  // Retries the entries of a failed write now (the checkpointer does it every second).
  void retry_unwritten();

  void record(Event e) override;
  std::uint64_t size() const;          // entries appended (some maybe not yet durable)
  std::uint64_t durable_size() const;  // entries on disk

  // Signs a checkpoint of the durable tree now if one is due (or `force`d and the tree
  // grew); "sealed" without the key service.
  Status checkpoint_if_due(bool force);
  // The log this node appends to (the store's; the node's name on a shared store).
  const std::string& name() const;
  // Makes this log's signing key (at unseal; kept wrapped by the key service like every
  // other key) and publishes its public key to the store, next to the log.
  Status prepare_signing();

  Result<std::optional<Checkpoint>> latest_checkpoint();
  // The latest checkpoint, only if its signature verifies with the key service's audit
  // key ("audit_corrupt" otherwise).
  Result<std::optional<Checkpoint>> verified_checkpoint();
  Result<std::vector<Hash>> inclusion(std::uint64_t index, std::uint64_t size);
  Result<std::vector<Hash>> consistency(std::uint64_t first, std::uint64_t second);
  Result<Hash> root(std::uint64_t size);
  Result<std::string> public_key_pem();  // from the key service; "sealed" while sealed
  Result<std::vector<store::AuditEntryRecord>> entries(std::uint64_t from, std::uint64_t count);
  // Another node's log on a shared store, read from the database as it stands (the
  // admin API's `log` parameter): its stored size and entries; "not_found" for no such log.
  Result<std::uint64_t> size_of(const std::string& log);
  Result<std::vector<store::AuditEntryRecord>> entries_of(const std::string& log, std::uint64_t from,
                                                          std::uint64_t count);

 private:
  NodeReader store_nodes();
  std::string signing_key() const { return signing_key_name(name()); }
  std::string body_of(std::uint64_t seq, std::int64_t ts_ms, const Event& e);
  // Every entry below `up_to` is durable.
  void settle(std::uint64_t up_to);
  // Hands what is pending to the store, unless a write is in flight; call without mu_.
  void write_pending();
  void on_written(Status st, const store::AuditRecords::AuditBatch& b);
  // Appends the checkpoint to the witness file, and queues it for the witness URL; a
  // failure is logged and counted, and the checkpoint stays signed and stored.
  void witness(const Checkpoint& cp);

  store::Store& store_;
  kms::KeyService& keys_;
  LogOptions opts_;
  mutable std::mutex mu_;  // orders appends: seq, frontier and the pending batch agree
  Frontier frontier_;
  // Entries not yet durable and not in the write in flight. One batch write is in flight
  // at a time, from queueing until its answer, so a later batch can never commit while
  // an earlier one fails: a failed batch goes back to the front, in order.
  std::vector<store::AuditEntryRecord> pending_entries_;
  std::vector<store::AuditNodeRecord> pending_nodes_;
  bool in_flight_ = false;
  std::atomic<bool> failing_{false};
  std::atomic<std::uint64_t> durable_{0};
  std::uint64_t last_checkpoint_size_ = 0;
  std::int64_t last_checkpoint_ms_ = 0;
  std::mutex cp_mu_;

  metrics::Counter* m_entries_ = nullptr;
  metrics::Counter* m_checkpoints_ = nullptr;
  metrics::Counter* m_failures_ = nullptr;
  metrics::Counter* m_dropped_ = nullptr;
  metrics::Counter* m_witness_failures_ = nullptr;

  // Entries the store has answered for, durable or failed; flush() waits on it.
  std::mutex settled_mu_;
  std::condition_variable settled_cv_;
  std::uint64_t settled_ = 0;
  // Batches handed to the store whose completion has not finished running; the
  // destructor waits for none, as the completion calls back into this object.
  int writes_outstanding_ = 0;

  std::unique_ptr<WitnessQueue> witness_queue_;  // with a witness poster only
  PeriodicThread checkpointer_;                  // last: its task uses the members above until stop() joins it
};

}  // namespace herald::audit
