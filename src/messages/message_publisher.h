// Publishing a message to a user: its content composed (a template rendered now, so that
// one that cannot be rendered is refused at publish and never at delivery), admitted
// (idempotency key, frequency caps, the pending bound), sealed, stored, then pushed to
// the user's live connections.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/config.h"
#include "core/result.h"
#include "messages/message_types.h"

namespace herald::store {
class MessageRecords;
}
namespace herald::kms {
class KeyService;
}

namespace herald::messages {

class AppDeliverySettings;
class DailyCaps;
class IdempotencyClaims;
class InboxIndex;
class InboxSync;
class SeqGenerator;
struct MessageContent;
struct MessageMetrics;

class MessagePublisher {
 public:
  struct Deps {
    const MessagesConfig& cfg;
    store::MessageRecords& records;
    kms::KeyService& keys;
    AppDeliverySettings& apps;
    InboxIndex& index;
    DailyCaps& caps;
    IdempotencyClaims& claims;
    MessageMetrics& metrics;
    SeqGenerator& seqs;
    InboxSync& sync;
    Clock clock;
  };
  explicit MessagePublisher(Deps d) : d_(std::move(d)) {}
  MessagePublisher(const MessagePublisher&) = delete;
  MessagePublisher& operator=(const MessagePublisher&) = delete;

  // Set once, before the first publish.
  void set_pusher(UserPusher pusher) { pusher_ = std::move(pusher); }
  // Answers once the message is durable (or refused); the caller checks the key service
  // is unsealed first.
  void publish(const std::string& app_id, PublishRequest req, Done<Published> done);

 private:
  struct Draft;
  Result<MessageContent> compose(const std::string& app_id, const PublishRequest& req, const DeliverySettings& s,
                                 std::uint64_t* template_cap);
  bool admit(Draft& d, const std::string& idempotency_key, Done<Published>& done);
  void answer_earlier(const Draft& d, Done<Published> done);
  void store_and_push(Draft d, Done<Published> done);
  void release(const Draft& d, bool caps_taken);

  Deps d_;
  UserPusher pusher_;
};

}  // namespace herald::messages
