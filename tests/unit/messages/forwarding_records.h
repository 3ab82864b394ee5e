// A MessageRecords that passes every call to a real store's message tables: tests derive
// from it and override only the calls they gate, count or fake.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/message_records.h"

namespace herald::messages::testing {

class ForwardingRecords : public store::MessageRecords {
 public:
  explicit ForwardingRecords(store::MessageRecords& real) : real_(real) {}

  void insert_message(store::MessageRecord m, store::Completion done) override {
    real_.insert_message(std::move(m), std::move(done));
  }
  void change_message(store::MessageChange c, std::shared_ptr<bool> applied, store::Completion done) override {
    real_.change_message(std::move(c), std::move(applied), std::move(done));
  }
  void add_message_events(std::vector<store::MessageEventRecord> events, store::Completion done) override {
    real_.add_message_events(std::move(events), std::move(done));
  }
  void put_webhook_job(store::WebhookJobRecord job, std::vector<store::MessageEventRecord> events,
                       store::Completion done) override {
    real_.put_webhook_job(std::move(job), std::move(events), std::move(done));
  }
  void settle_webhook_job(store::WebhookJobRecord job, store::LeaseHolder held,
                          std::vector<store::MessageEventRecord> events, std::shared_ptr<bool> applied,
                          store::Completion done) override {
    real_.settle_webhook_job(std::move(job), std::move(held), std::move(events), std::move(applied), std::move(done));
  }
  void purge_messages(std::int64_t now_ms, std::size_t limit, store::Completion done) override {
    real_.purge_messages(now_ms, limit, std::move(done));
  }
  void put_contacts(store::ContactRecord c, store::Completion done) override {
    real_.put_contacts(std::move(c), std::move(done));
  }
  void delete_contacts(std::string app_id, std::string user_index, store::Completion done) override {
    real_.delete_contacts(std::move(app_id), std::move(user_index), std::move(done));
  }
  void put_message_settings(store::MessageSettingsRecord s, store::Completion done) override {
    real_.put_message_settings(std::move(s), std::move(done));
  }
  void put_message_template(store::MessageTemplateRecord t, store::Completion done) override {
    real_.put_message_template(std::move(t), std::move(done));
  }
  void delete_message_template(std::string app_id, std::string name, store::Completion done) override {
    real_.delete_message_template(std::move(app_id), std::move(name), std::move(done));
  }

  Result<std::uint64_t> max_message_seq() override { return real_.max_message_seq(); }
  Result<std::optional<store::MessageRecord>> message(std::uint64_t seq) override { return real_.message(seq); }
  Result<std::optional<store::MessageRecord>> message_by_idempotency(const std::string& app_id,
                                                                     const std::string& idem_index) override {
    return real_.message_by_idempotency(app_id, idem_index);
  }
  Result<std::vector<store::MessageRecord>> messages_by_seq(const std::vector<std::uint64_t>& seqs) override {
    return real_.messages_by_seq(seqs);
  }
  Result<std::vector<store::PendingRef>> pending_messages() override { return real_.pending_messages(); }
  Result<std::vector<store::MessageRecord>> due_messages(std::int64_t now_ms, std::size_t limit) override {
    return real_.due_messages(now_ms, limit);
  }
  Result<store::Claimed<store::MessageRecord>> claim_due_messages(std::int64_t now_ms, std::size_t limit,
                                                                  const std::string& owner,
                                                                  std::int64_t lease_until_ms) override {
    return real_.claim_due_messages(now_ms, limit, owner, lease_until_ms);
  }
  Result<std::vector<store::MessageEventRecord>> message_events(std::uint64_t seq, std::size_t limit) override {
    return real_.message_events(seq, limit);
  }
  Result<std::optional<store::WebhookJobRecord>> webhook_job(std::uint64_t seq) override {
    return real_.webhook_job(seq);
  }
  Result<std::vector<store::WebhookJobRecord>> due_webhook_jobs(std::int64_t now_ms, std::size_t limit) override {
    return real_.due_webhook_jobs(now_ms, limit);
  }
  Result<store::Claimed<store::WebhookJobRecord>> claim_due_webhook_jobs(std::int64_t now_ms, std::size_t limit,
                                                                         const std::string& owner,
                                                                         std::int64_t lease_until_ms) override {
    return real_.claim_due_webhook_jobs(now_ms, limit, owner, lease_until_ms);
  }
  Result<std::vector<store::WebhookJobRecord>> dead_webhook_jobs(const std::string& app_id,
                                                                 std::size_t limit) override {
    return real_.dead_webhook_jobs(app_id, limit);
  }
  Result<std::vector<store::CapCountRecord>> message_cap_counts(std::int64_t since_ms) override {
    return real_.message_cap_counts(since_ms);
  }
  Result<std::optional<store::ContactRecord>> contacts(const std::string& app_id,
                                                       const std::string& user_index) override {
    return real_.contacts(app_id, user_index);
  }
  Result<std::vector<store::MessageSettingsRecord>> load_message_settings() override {
    return real_.load_message_settings();
  }
  Result<std::vector<store::MessageTemplateRecord>> load_message_templates() override {
    return real_.load_message_templates();
  }

  Result<std::optional<store::SeqSlot>> claim_seq_slot(const std::string& holder, std::uint32_t slots,
                                                       std::int64_t lease_ms) override {
    return real_.claim_seq_slot(holder, slots, lease_ms);
  }
  Result<bool> renew_seq_slot(std::uint32_t slot, const std::string& holder, std::int64_t lease_ms,
                              std::uint64_t last_seq) override {
    return real_.renew_seq_slot(slot, holder, lease_ms, last_seq);
  }
  Status release_seq_slot(std::uint32_t slot, const std::string& holder, std::uint64_t last_seq) override {
    return real_.release_seq_slot(slot, holder, last_seq);
  }
  Result<std::vector<store::PendingRef>> pending_after(std::uint64_t after_seq, std::size_t limit,
                                                       std::size_t per_app) override {
    return real_.pending_after(after_seq, limit, per_app);
  }
  Result<std::vector<std::uint64_t>> still_pending(const std::vector<std::uint64_t>& seqs) override {
    return real_.still_pending(seqs);
  }

 protected:
  store::MessageRecords& real_;
};

}  // namespace herald::messages::testing
