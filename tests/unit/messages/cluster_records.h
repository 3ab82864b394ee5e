// The message tables of one SQLite store seen as several cluster nodes' stores: every
// call goes to the real tables but for the sequence slots, leased from a table in memory
// that the nodes share (as PostgreSQL's message_seq_slots), so that two MessageServices
// on one database act as two nodes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "store/message_records.h"

namespace herald::messages::testing {

struct SharedSlots {
  struct Lease {
    std::string holder;
    std::int64_t until_ms = 0;
    std::uint64_t high = 0;
  };
  std::mutex mu;
  std::map<std::uint32_t, Lease> slots;
  ManualClock clock{1'795'428'000'000};  // the database's clock
};

using store::Completion;

class ClusterRecords final : public store::MessageRecords {
 public:
  ClusterRecords(store::MessageRecords& real, SharedSlots& shared) : real_(real), shared_(shared) {}

  Result<std::optional<store::SeqSlot>> claim_seq_slot(const std::string& holder, std::uint32_t slots,
                                                       std::int64_t lease_ms) override {
    auto max = real_.max_message_seq();
    if (!max) return max.error();
    std::lock_guard lock(shared_.mu);
    const std::int64_t now = shared_.clock.now();
    for (std::uint32_t s = 0; s < slots; ++s) {
      auto& l = shared_.slots[s];
      if (l.until_ms > now) continue;
      l.holder = holder;
      l.until_ms = now + lease_ms;
      return std::optional<store::SeqSlot>(store::SeqSlot{s, std::max(l.high, *max)});
    }
    return make_error(Errc::kStoreError, "every slot is leased");
  }
  Result<bool> renew_seq_slot(std::uint32_t slot, const std::string& holder, std::int64_t lease_ms,
                              std::uint64_t last_seq) override {
    std::lock_guard lock(shared_.mu);
    auto& l = shared_.slots[slot];
    if (l.holder != holder) return false;
    l.until_ms = shared_.clock.now() + lease_ms;
    l.high = std::max(l.high, last_seq);
    ++renewals;
    return true;
  }
  Status release_seq_slot(std::uint32_t slot, const std::string& holder, std::uint64_t last_seq) override {
    std::lock_guard lock(shared_.mu);
    auto& l = shared_.slots[slot];
    if (l.holder == holder) {
      l.until_ms = 0;
      l.high = std::max(l.high, last_seq);
    }
    return ok_status();
  }

  Result<std::optional<store::MessageRecord>> message(std::uint64_t seq) override { return real_.message(seq); }
  Result<std::vector<store::MessageRecord>> messages_by_seq(const std::vector<std::uint64_t>& seqs) override {
    return real_.messages_by_seq(seqs);
  }

  void insert_message(store::MessageRecord m, Completion done) override {
    real_.insert_message(std::move(m), std::move(done));
  }
  void change_message(store::MessageChange c, std::shared_ptr<bool> applied, Completion done) override {
    real_.change_message(std::move(c), std::move(applied), std::move(done));
  }
  void add_message_events(std::vector<store::MessageEventRecord> events, Completion done) override {
    real_.add_message_events(std::move(events), std::move(done));
  }
  void put_webhook_job(store::WebhookJobRecord job, std::vector<store::MessageEventRecord> events,
                       Completion done) override {
    real_.put_webhook_job(std::move(job), std::move(events), std::move(done));
  }
  void purge_messages(std::int64_t now_ms, std::size_t limit, Completion done) override {
    real_.purge_messages(now_ms, limit, std::move(done));
  }
  void put_contacts(store::ContactRecord c, Completion done) override {
    real_.put_contacts(std::move(c), std::move(done));
  }
  void delete_contacts(std::string app_id, std::string user_index, Completion done) override {
    real_.delete_contacts(std::move(app_id), std::move(user_index), std::move(done));
  }
  void put_message_settings(store::MessageSettingsRecord s, Completion done) override {
    real_.put_message_settings(std::move(s), std::move(done));
  }
  void put_message_template(store::MessageTemplateRecord t, Completion done) override {
    real_.put_message_template(std::move(t), std::move(done));
  }
  void delete_message_template(std::string app_id, std::string name, Completion done) override {
    real_.delete_message_template(std::move(app_id), std::move(name), std::move(done));
  }
  Result<std::uint64_t> max_message_seq() override { return real_.max_message_seq(); }
  Result<std::optional<store::MessageRecord>> message_by_idempotency(const std::string& app_id,
                                                                     const std::string& idem_index) override {
    return real_.message_by_idempotency(app_id, idem_index);
  }
  Result<std::vector<store::PendingRef>> pending_messages() override { return real_.pending_messages(); }
  Result<std::vector<store::MessageRecord>> due_messages(std::int64_t now_ms, std::size_t limit) override {
    return real_.due_messages(now_ms, limit);
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
  Result<std::vector<store::PendingRef>> pending_after(std::uint64_t after_seq, std::size_t limit,
                                                       std::size_t per_app) override {
    return real_.pending_after(after_seq, limit, per_app);
  }
  Result<std::vector<std::uint64_t>> still_pending(const std::vector<std::uint64_t>& seqs) override {
    return real_.still_pending(seqs);
  }

  int renewals = 0;

 private:
  store::MessageRecords& real_;
  SharedSlots& shared_;
};

}  // namespace herald::messages::testing
