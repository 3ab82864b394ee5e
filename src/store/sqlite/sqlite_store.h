// The embedded store: SQLite in WAL mode with synchronous=FULL. Writes go through a
// GroupCommitWriter (one fsync per batch, never on an I/O thread); reads check out one
// of a few read-only connections. The tables live in *_tables.cpp, one file per module.
#pragma once

#include <memory>

#include "store/data_dir_lock.h"
#include "store/sqlite/group_commit.h"
#include "store/sqlite/reader_pool.h"
#include "store/store.h"

struct sqlite3;

namespace herald::store {

class SqliteStore final : public Store,
                          public AppRecords,
                          public KmsRecords,
                          public AuditRecords,
                          public OtpRecords,
                          public MessageRecords,
                          public NonceRecords {
 public:
  static Result<std::unique_ptr<SqliteStore>> open(const StoreOptions& opts);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  int schema_version() override;
  void put_meta(std::string key, std::string value, Completion done) override;
  Result<std::optional<std::string>> get_meta(std::string_view key) override;
  bool healthy() override;
  StoreStats stats() override;
  void close() override;
  AppRecords& apps() override { return *this; }
  KmsRecords& kms() override { return *this; }
  AuditRecords& audit() override { return *this; }
  OtpRecords& otp() override { return *this; }
  MessageRecords& messages() override { return *this; }
  NonceRecords& nonces() override { return *this; }

  const std::string& audit_log_name() const override;
  void put_audit_log_key(std::string public_key_pem, Completion done) override;
  Result<std::vector<AuditLogRecord>> audit_logs() override;
  std::unique_ptr<AuditRecords> audit_log(const std::string& name) override;
  void append_audit(AuditEntryRecord entry, std::vector<AuditNodeRecord> nodes, Completion done) override;
  void append_audit_batch(std::function<AuditBatch()> take,
                          std::function<void(Status, const AuditBatch&)> done) override;
  void put_audit_checkpoint(AuditCheckpointRecord cp, Completion done) override;
  Result<std::uint64_t> audit_size() override;
  Result<std::vector<AuditEntryRecord>> audit_entries(std::uint64_t from, std::uint64_t count) override;
  Result<std::optional<std::string>> audit_node(unsigned level, std::uint64_t index) override;
  Result<std::optional<AuditCheckpointRecord>> latest_audit_checkpoint() override;
  Result<std::vector<AuditCheckpointRecord>> audit_checkpoints() override;

  Result<std::vector<KmsKeyRecord>> load_kms_keys() override;
  Result<std::vector<KmsVersionRecord>> load_kms_versions() override;
  void insert_kms_key(KmsKeyRecord key, KmsVersionRecord first, Completion done) override;
  void add_kms_version(KmsVersionRecord version, Completion done) override;
  void update_kms_key(KmsKeyChange change, Completion done) override;
  void delete_kms_key(std::string app_id, std::string name, Completion done) override;

  Result<std::vector<AppRecord>> load_apps() override;
  void put_app(AppRecord app, Completion done) override;
  void delete_app(std::string id, Completion done) override;

  Result<std::vector<OtpVerificationRecord>> load_otp_verifications(std::int64_t now_ms) override;
  Result<std::vector<OtpCounterRecord>> load_otp_counters(std::int64_t now_ms) override;
  Result<std::vector<OtpBlockRecord>> load_otp_blocklist() override;
  void put_otp_verification(OtpVerificationRecord v, std::vector<OtpCounterRecord> counters, Completion done) override;
  void purge_otp(std::int64_t now_ms, Completion done) override;
  void put_otp_block(OtpBlockRecord b, Completion done) override;
  void delete_otp_block(std::string app_id, std::string recipient_index, Completion done) override;

  void insert_message(MessageRecord m, Completion done) override;
  void change_message(MessageChange c, std::shared_ptr<bool> applied, Completion done) override;
  void add_message_events(std::vector<MessageEventRecord> events, Completion done) override;
  void put_webhook_job(WebhookJobRecord job, std::vector<MessageEventRecord> events, Completion done) override;
  void settle_webhook_job(WebhookJobRecord job, LeaseHolder held, std::vector<MessageEventRecord> events,
                          std::shared_ptr<bool> applied, Completion done) override;
  void purge_messages(std::int64_t now_ms, std::size_t limit, Completion done) override;
  void put_contacts(ContactRecord c, Completion done) override;
  void delete_contacts(std::string app_id, std::string user_index, Completion done) override;
  void put_message_settings(MessageSettingsRecord s, Completion done) override;
  void put_message_template(MessageTemplateRecord t, Completion done) override;
  void delete_message_template(std::string app_id, std::string name, Completion done) override;
  Result<std::uint64_t> max_message_seq() override;
  Result<std::optional<MessageRecord>> message(std::uint64_t seq) override;
  Result<std::optional<MessageRecord>> message_by_idempotency(const std::string& app_id,
                                                              const std::string& idem_index) override;
  Result<std::vector<MessageRecord>> messages_by_seq(const std::vector<std::uint64_t>& seqs) override;
  Result<std::vector<PendingRef>> pending_messages() override;
  Result<std::vector<MessageRecord>> due_messages(std::int64_t now_ms, std::size_t limit) override;
  Result<Claimed<MessageRecord>> claim_due_messages(std::int64_t now_ms, std::size_t limit, const std::string& owner,
                                                    std::int64_t lease_until_ms) override;
  Result<std::vector<MessageEventRecord>> message_events(std::uint64_t seq, std::size_t limit) override;
  Result<std::optional<WebhookJobRecord>> webhook_job(std::uint64_t seq) override;
  Result<std::vector<WebhookJobRecord>> due_webhook_jobs(std::int64_t now_ms, std::size_t limit) override;
  Result<Claimed<WebhookJobRecord>> claim_due_webhook_jobs(std::int64_t now_ms, std::size_t limit,
                                                           const std::string& owner,
                                                           std::int64_t lease_until_ms) override;
  Result<std::vector<WebhookJobRecord>> dead_webhook_jobs(const std::string& app_id, std::size_t limit) override;
  Result<std::vector<CapCountRecord>> message_cap_counts(std::int64_t since_ms) override;
  Result<std::optional<ContactRecord>> contacts(const std::string& app_id, const std::string& user_index) override;
  Result<std::vector<MessageSettingsRecord>> load_message_settings() override;
  Result<std::vector<MessageTemplateRecord>> load_message_templates() override;
  Result<std::optional<SeqSlot>> claim_seq_slot(const std::string& holder, std::uint32_t slots,
                                                std::int64_t lease_ms) override;
  Result<bool> renew_seq_slot(std::uint32_t slot, const std::string& holder, std::int64_t lease_ms,
                              std::uint64_t last_seq) override;
  Status release_seq_slot(std::uint32_t slot, const std::string& holder, std::uint64_t last_seq) override;
  Result<std::vector<PendingRef>> pending_after(std::uint64_t after_seq, std::size_t limit,
                                                std::size_t per_app) override;
  Result<std::vector<std::uint64_t>> still_pending(const std::vector<std::uint64_t>& seqs) override;

  Result<std::vector<NonceRecord>> load_nonces(std::int64_t now_ms) override;
  void put_nonces(std::vector<NonceRecord> nonces, Completion done) override;
  void purge_nonces(std::int64_t now_ms, Completion done) override;

  // For modules that add their own tables: queue a write for the next group commit, or
  // check out a reader connection (held until the lease is dropped; use it with query_rows).
  void submit(WriteFn fn, Completion done);
  ReaderPool::Lease reader() { return readers_.acquire(); }

 private:
  explicit SqliteStore(const StoreOptions& opts);
  Status open_connections(const std::string& path);
  Status migrate();
  // The statements of a claim (string literals: the statement caches key on them).
  struct ClaimSql {
    const char* probe;  // any row to claim? (?1 now)
    const char* pick;   // the rows, with their previous lease owner last (?1 now, ?2 limit)
    const char* lease;  // leases one row (owner, until, seq)
  };
  template <class T, class Read>
  Result<Claimed<T>> claim_due(const ClaimSql& sql, std::int64_t now_ms, std::size_t limit, const std::string& owner,
                               std::int64_t lease_until_ms, Read read);

  StoreOptions opts_;
  DataDirLock dir_lock_;  // shared: keeps `herald store migrate` out while open
  sqlite3* writer_db_ = nullptr;
  ReaderPool readers_;
  std::unique_ptr<GroupCommitWriter> writer_;
};

}  // namespace herald::store
