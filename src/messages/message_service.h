// Messages to users (docs/messages.md): a message is stored durably and sealed under
// its app's key before the publisher hears "accepted", pushed to every live connection
// of its user, kept in the user's inbox until acknowledged or expired, and — while
// nobody acknowledges it — sent through the fallback channels (webhook, e-mail, SMS)
// one after another (FallbackScheduler). This class is the module's face: it takes
// parsed requests and returns structs; the API renders them.
#pragma once

#include <boost/json/object.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/periodic_thread.h"
#include "core/result.h"
#include "messages/app_settings.h"
#include "messages/daily_caps.h"
#include "messages/fallback_scheduler.h"
#include "messages/idempotency_claims.h"
#include "messages/inbox_index.h"
#include "messages/inbox_readers.h"
#include "messages/inbox_sync.h"
#include "messages/message_metrics.h"
#include "messages/message_publisher.h"
#include "messages/message_types.h"
#include "messages/seq_generator.h"
#include "messages/templates.h"
#include "push/inbox.h"

namespace herald::store {
class Store;
class MessageRecords;
struct MessageRecord;
}  // namespace herald::store
namespace herald::kms {
class KeyService;
}
namespace herald::delivery {
class Senders;
}
namespace herald::metrics {
class Registry;
}

namespace herald::messages {

class MessageService final : public push::MessageInbox {
 public:
  MessageService(const MessagesConfig& cfg, store::MessageRecords& records, kms::KeyService& keys,
                 delivery::Senders* senders, WebhookPoster webhooks, metrics::Registry* registry, Clock clock = {});
  // The same over `db.messages()`.
  MessageService(const MessagesConfig& cfg, store::Store& db, kms::KeyService& keys, delivery::Senders* senders,
                 WebhookPoster webhooks, metrics::Registry* registry, Clock clock = {});
  // Waits for the inbox reads queued, the fallback work under way and this service's
  // writes: their completions refer to it.
  ~MessageService() override;
  MessageService(const MessageService&) = delete;
  MessageService& operator=(const MessageService&) = delete;

  void set_pusher(UserPusher pusher);
  // Names the scheduler's leases on due work after this node (cluster.node_name) and sets
  // their duration (cluster.lease); see FallbackScheduler::set_lease. Before start().
  void set_lease(const std::string& node, std::chrono::milliseconds duration) { scheduler_.set_lease(node, duration); }
  // Cluster mode (docs/cluster.md): this node's name, how often it scans for other
  // nodes' messages (cluster.poll_interval) and how long its sequence slot is leased
  // (cluster.lease). Before load(); used only where the store is shared (PostgreSQL).
  void set_cluster(std::string node_name, Millis poll_interval, Millis lease);

  // At unseal: settings, templates, the inbox index and today's cap counts; in a
  // cluster, the sequence slot.
  Status load();
  void unload();
  // Another node changed delivery settings or templates: read them again (once loaded).
  Status reload_settings();
  // The scheduler thread (tick() every messages.poll_interval) and, in a cluster, the
  // sync thread (cluster_tick() every cluster.poll_interval). stop() joins them and the
  // inbox readers, after the reads queued.
  void start();
  void stop();
  // One scheduler pass at `now_ms` (tests drive it directly).
  void tick(std::int64_t now_ms);
  // One cluster pass at `now_ms`: renews the sequence slot's lease, then InboxSync::run.
  // Nothing where the store is not shared.
  Result<InboxSync::Pass> cluster_tick(std::int64_t now_ms);
  // This node's sequence slot (unset: a plain counter, the store serves one node).
  std::optional<std::uint32_t> seq_slot() const { return seqs_.slot(); }
  // Work started by tick() and not yet finished (sends, writes); tests wait for zero.
  std::size_t in_flight() const;

  // The server API.
  PublishLimits publish_limits() const;
  void publish(const std::string& app_id, PublishRequest req, Done<Published> done);
  Result<MessageStatus> status(const std::string& app_id, std::string_view message_id);
  // `after` is a cursor from an earlier page ("" for the first); limit 1 to 500.
  Result<InboxPage> inbox(const std::string& app_id, std::string_view user, std::string_view after, std::size_t limit);
  void set_contacts(const std::string& app_id, std::string_view user, Contacts contacts, Done<Contacts> done);
  Result<Contacts> contacts(const std::string& app_id, std::string_view user);
  void delete_contacts(const std::string& app_id, std::string_view user, Done<bool> done);

  // The admin API.
  DeliverySettings settings(const std::string& app_id) const;
  void update_settings(const std::string& app_id, const SettingsPatch& patch, Done<SettingsUpdated> done);
  void put_template(const std::string& app_id, std::string_view name, const boost::json::object& body,
                    Done<Template> done);
  Result<Template> find_template(const std::string& app_id, std::string_view name) const;
  std::vector<std::string> template_names(const std::string& app_id) const;
  void delete_template(const std::string& app_id, std::string_view name, Done<bool> done);
  Result<std::vector<DeadLetter>> dead_letters(const std::string& app_id, std::size_t limit);
  // Answers the message id.
  void replay_dead_letter(const std::string& app_id, std::string_view message_id, Done<std::string> done);

  // push::MessageInbox (the client protocol): each call is queued on an inbox reader
  // and `done` is called on that reader's thread; a full queue answers at once
  // ("messages_busy", or no frames for on_connect).
  void on_connect(const push::ClientIdentity& who, std::function<void(std::vector<std::string>)> done) override;
  void ack(const push::ClientIdentity& who, std::string_view message_id, std::function<void(Status)> done) override;
  void page(const push::ClientIdentity& who, std::string_view after, std::size_t limit,
            std::function<void(Result<std::string>)> done) override;
  // The same, answered on the calling thread (the readers run these; so do tests).
  std::vector<std::string> pending_frames(const push::ClientIdentity& who);
  Status ack_now(const push::ClientIdentity& who, std::string_view message_id);
  Result<std::string> page_now(const push::ClientIdentity& who, std::string_view after, std::size_t limit);

 private:
  bool ready() const;
  Result<std::string> user_index(const std::string& app_id, std::string_view user) const;
  Result<std::optional<store::MessageRecord>> find(const std::string& app_id, std::string_view message_id);
  Result<std::vector<store::MessageRecord>> pending_page(const std::string& app_id, const std::string& user_index,
                                                         std::uint64_t after_seq, std::size_t limit,
                                                         std::uint64_t* next);
  Status claim_seq_slot(std::uint64_t max_seq);
  void renew_seq_slot(std::int64_t now_ms);

  struct ClusterSettings {
    std::string holder;  // node name + a per-process random part
    Millis poll_interval{1000};
    Millis lease{30'000};
  };

  const MessagesConfig& cfg_;
  store::MessageRecords& records_;
  kms::KeyService& keys_;
  Clock clock_;
  std::unique_ptr<MessageMetrics> m_;
  std::atomic<bool> loaded_{false};

  AppDeliverySettings apps_;
  InboxIndex index_;
  ReplayThrottle replays_;
  DailyCaps caps_;
  std::unique_ptr<IdempotencyClaims> claims_;
  ClusterSettings cluster_;
  SeqGenerator seqs_;
  std::atomic<bool> clustered_{false};       // the store is shared: seqs_ holds a slot, sync_ runs
  std::atomic<std::int64_t> renewed_ms_{0};  // when the last renewal was sent
  InboxSync sync_;
  PeriodicThread sync_thread_;
  MessagePublisher publisher_;
  FallbackScheduler scheduler_;
  InboxReaders readers_;  // last: stopped (and its reads finished) before the rest goes
};

}  // namespace herald::messages
