// Messages to users (docs/messages.md): a message is stored durably and sealed under
// its app's key before the publisher hears "accepted", pushed to every live connection
// of its user, kept in the user's inbox until acknowledged or expired, and — while
// nobody acknowledges it — sent through the fallback channels (webhook, e-mail, SMS)
// one after another. Every step lands in the message's status trail. The schedule lives
// in the store (each message's next due time), so fallbacks and webhook retries resume
// after a restart.
#pragma once

#include <boost/json/object.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "delivery/webhook.h"
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
class Counter;
template <class T>
class Family;
}  // namespace herald::metrics

namespace herald::messages {

// An answer or an error; limit refusals say when to try again.
template <class T>
struct Outcome {
  std::optional<T> value;
  Error error;
  std::int64_t retry_after_s = 0;
  bool ok() const { return value.has_value(); }
  static Outcome fail(std::string code, std::string message, std::int64_t retry_after = 0) {
    return Outcome{std::nullopt, Error{std::move(code), std::move(message)}, retry_after};
  }
};
template <class T>
using Done = std::function<void(Outcome<T>)>;

struct Published {
  std::string id;
  std::string state;  // "pending", or the first message's state for a duplicate
  bool duplicate = false;
  std::size_t connections = 0;
};

// An app's delivery settings (admin API).
struct DeliverySettings {
  std::string webhook_url;
  std::string webhook_secret;  // "whsec_..." (sealed at rest)
  bool allow_private_webhooks = false;
  std::vector<std::string> fallback;
  std::int64_t fallback_after_ms = 0;  // 0: messages.fallback_after
  std::uint64_t max_per_user_per_day = 0;
  std::string default_locale = "en";
};

// Pushes a `{"msg":...}` frame to every live connection of (app, user); returns how many.
using UserPusher = std::function<std::size_t(const std::string& app_id, const std::string& user, std::string frame)>;
// Sends one webhook request without blocking (delivery::WebhookSender::send).
using WebhookPoster = std::function<void(delivery::WebhookRequest, std::function<void(delivery::WebhookOutcome)>)>;
using Clock = std::function<std::int64_t()>;  // Unix ms

class MessageService final : public push::MessageInbox {
 public:
  MessageService(const MessagesConfig& cfg, store::Store& db, kms::KeyService& keys, delivery::Senders* senders,
                 WebhookPoster webhooks, metrics::Registry* registry, Clock clock = {});
  ~MessageService() override;
  MessageService(const MessageService&) = delete;
  MessageService& operator=(const MessageService&) = delete;

  void set_pusher(UserPusher pusher);

  // At unseal: settings, templates, the next sequence number and today's cap counts.
  Status load();
  void unload();
  // The scheduler thread: runs tick() every messages.poll_interval. stop() joins it.
  void start();
  void stop();
  // One scheduler pass: expiries, fallback steps, webhook attempts, purges due at `now_ms`.
  void tick(std::int64_t now_ms);
  // Work started by tick() and not yet finished (sends, writes); tests wait for zero.
  std::size_t in_flight() const;

  // The server API. `body` is the request's JSON object.
  void publish(const std::string& app_id, const std::string& app_name, const boost::json::object& body,
               Done<Published> done);
  Result<boost::json::object> status(const std::string& app_id, std::string_view message_id);
  Result<boost::json::object> inbox(const std::string& app_id, std::string_view user, std::string_view after,
                                    std::size_t limit);
  void set_contacts(const std::string& app_id, std::string_view user, const boost::json::object& body,
                    Done<boost::json::object> done);
  Result<boost::json::object> contacts(const std::string& app_id, std::string_view user);
  void delete_contacts(const std::string& app_id, std::string_view user, Done<bool> done);

  // The admin API.
  boost::json::object settings_json(const std::string& app_id) const;
  void update_settings(const std::string& app_id, const boost::json::object& patch, Done<boost::json::object> done);
  void put_template(const std::string& app_id, std::string_view name, const boost::json::object& body,
                    Done<boost::json::object> done);
  Result<boost::json::object> template_json(const std::string& app_id, std::string_view name) const;
  boost::json::object list_templates(const std::string& app_id) const;
  void delete_template(const std::string& app_id, std::string_view name, Done<bool> done);
  Result<boost::json::object> dead_letters(const std::string& app_id, std::size_t limit);
  void replay_dead_letter(const std::string& app_id, std::string_view message_id, Done<boost::json::object> done);

  // push::MessageInbox (the client protocol).
  void on_connect(const push::ClientIdentity& who, std::function<void(std::vector<std::string>)> done) override;
  void ack(const push::ClientIdentity& who, std::string_view message_id, std::function<void(Status)> done) override;
  void page(const push::ClientIdentity& who, std::string_view after, std::size_t limit,
            std::function<void(Result<std::string>)> done) override;
  // The same, answered in place (the store read happens on the calling thread).
  std::vector<std::string> pending_frames(const push::ClientIdentity& who);
  Status ack_now(const push::ClientIdentity& who, std::string_view message_id);
  Result<std::string> page_now(const push::ClientIdentity& who, std::string_view after, std::size_t limit);

 private:
  struct Metrics;
  struct Opened;
  std::int64_t now() const;
  Result<std::string> user_index(const std::string& app_id, std::string_view user) const;
  Result<Opened> open_message(const store::MessageRecord& m) const;
  // A user's contacts, opened; "contacts_unreadable" when they do not open or parse.
  Result<std::optional<boost::json::object>> open_contacts(const std::string& app_id,
                                                           const std::string& user_index) const;
  Result<std::optional<store::MessageRecord>> find(const std::string& app_id, std::string_view message_id);
  boost::json::object message_view(const store::MessageRecord& m, const Opened& o) const;
  std::string push_frame(const store::MessageRecord& m, const Opened& o) const;
  std::shared_ptr<const DeliverySettings> settings_of(const std::string& app_id) const;
  // The inbox index: each user's pending messages (sequence numbers, ascending), kept in
  // memory and rebuilt from the store at load.
  bool index_add(const std::string& app_id, const std::string& user_index, std::uint64_t seq);
  void index_remove(const std::string& app_id, const std::string& user_index, std::uint64_t seq);
  std::vector<std::uint64_t> index_page(const std::string& app_id, const std::string& user_index,
                                        std::uint64_t after_seq, std::size_t limit) const;
  Result<std::vector<store::MessageRecord>> pending_page(const std::string& app_id, const std::string& user_index,
                                                         std::uint64_t after_seq, std::size_t limit,
                                                         std::uint64_t* next);
  void write_settings(const std::string& app_id, DeliverySettings s, Done<boost::json::object> done);
  // Frequency caps: counts per (app, user index, template or "*") for the current UTC day.
  bool take_caps(const std::string& app_id, const std::string& user_index, const std::string& template_name,
                 std::uint64_t app_cap, std::uint64_t template_cap);
  void return_caps(const std::string& app_id, const std::string& user_index, const std::string& template_name,
                   std::uint64_t app_cap, std::uint64_t template_cap);
  void step_message(const store::MessageRecord& m, std::int64_t now_ms);
  void attempt_webhook(const store::MessageRecord& m, int attempts, std::int64_t now_ms);
  void finish(std::uint64_t seq, bool webhook);
  void count_event(std::string_view event);

  const MessagesConfig& cfg_;
  store::Store& db_;
  store::MessageRecords& records_;
  kms::KeyService& keys_;
  delivery::Senders* senders_;
  WebhookPoster webhooks_;
  Clock clock_;
  UserPusher pusher_;
  std::unique_ptr<Metrics> m_;

  std::atomic<std::uint64_t> next_seq_{1};
  std::atomic<bool> loaded_{false};

  mutable std::mutex mu_;  // settings, templates, caps, pending idempotency keys
  std::map<std::string, std::shared_ptr<const DeliverySettings>, std::less<>> settings_;
  std::map<std::pair<std::string, std::string>, Template, std::less<>> templates_;
  struct CapCount {
    std::int64_t day = 0;
    std::uint64_t count = 0;
  };
  std::unordered_map<std::string, CapCount> caps_;
  std::unordered_map<std::string, std::string> idem_pending_;  // app + idem index -> message id

  mutable std::mutex inbox_mu_;
  std::unordered_map<std::string, std::vector<std::uint64_t>> inbox_;
  std::size_t pending_ = 0;

  mutable std::mutex flight_mu_;
  std::unordered_set<std::uint64_t> steps_in_flight_;
  std::unordered_set<std::uint64_t> webhooks_in_flight_;
  std::size_t sends_in_flight_ = 0;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace herald::messages
