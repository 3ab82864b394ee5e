// The shared store: PostgreSQL, so that several nodes serve one deployment. Writes go
// through a pipelined group-commit Writer (one transaction and one round trip per batch,
// committed with synchronous_commit=on); reads check out a pooled connection. Rows hold
// only ciphertext and keyed hashes, as in SQLite. The tables live in *_tables.cpp.
#pragma once

#include <memory>

#include "store/postgres/pg_change_feed.h"
#include "store/postgres/pg_readers.h"
#include "store/postgres/pg_writer.h"
#include "store/store.h"

namespace herald::store {

class PostgresStore final : public Store,
                            public AppRecords,
                            public KmsRecords,
                            public OtpRecords,
                            public MessageRecords,
                            public NonceRecords {
 public:
  static Result<std::unique_ptr<PostgresStore>> open(const StoreOptions& opts);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  int schema_version() override;
  void put_meta(std::string key, std::string value, Completion done) override;
  Result<std::optional<std::string>> get_meta(std::string_view key) override;
  bool healthy() override;
  StoreStats stats() override;
  void close() override;
  AppRecords& apps() override { return *this; }
  KmsRecords& kms() override { return *this; }
  AuditRecords& audit() override { return *audit_; }
  OtpRecords& otp() override { return *this; }
  MessageRecords& messages() override { return *this; }
  NonceRecords& nonces() override { return *this; }
  ChangeFeed& changes() override { return *feed_; }

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

 private:
  friend class PgAuditLog;  // audit_tables.cpp: one log per node, each a view of these tables
  explicit PostgresStore(const StoreOptions& opts) : opts_(opts) {}
  static std::unique_ptr<AuditRecords> open_audit_log(PostgresStore& store, std::string name);
  Status migrate(pg::Connection& c);
  void submit(pg::WriteFn fn, Completion done) { writer_->submit(std::move(fn), std::move(done)); }

  StoreOptions opts_;
  pg::ReaderPool readers_;
  std::unique_ptr<pg::Writer> writer_;
  std::unique_ptr<pg::ChangeListener> feed_;  // its own connection, started by the Node
  std::unique_ptr<AuditRecords> audit_;  // this node's log (opts_.audit_log)
};

}  // namespace herald::store
