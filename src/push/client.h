// One client connection's side of the protocol (docs/protocol.md): connection state,
// rate limiting, deadlines and closing here; one member per command (cmd_*, in
// push/protocol/commands.cpp) behind a dispatch table. It lives on one shard and is
// not thread-safe; inbox answers from other threads are posted back to its shard.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/app.h"
#include "push/hub.h"
#include "push/inbox.h"
#include "push/transport.h"

namespace herald::metrics {
class Counter;
class Registry;
template <class T>
class Family;
}  // namespace herald::metrics

namespace herald::audit {
class Recorder;
}

namespace boost::json {
class object;
}

namespace herald::push {

// Close codes (docs/protocol.md#close-codes).
namespace close_code {
constexpr int kNormal = 1000;
constexpr int kShutdown = 1001;
constexpr int kBadFrame = 4000;
constexpr int kUnauthorized = 4001;
constexpr int kTokenExpired = 4003;
constexpr int kTooManyConnections = 4004;
constexpr int kFlood = 4005;
constexpr int kDisconnectedByServer = 4006;
constexpr int kSlowConsumer = 4500;
constexpr int kConnectTimeout = 4501;
constexpr int kSealed = 4502;
}  // namespace close_code

// Counters the clients share, resolved once (label lookups stay off the hot path).
struct ProtocolMetrics {
  explicit ProtocolMetrics(metrics::Registry& r);
  metrics::Family<metrics::Counter>* commands;
  metrics::Family<metrics::Counter>* errors;
  metrics::Family<metrics::Counter>* disconnects;
  metrics::Counter* acks;
  metrics::Counter* slow_consumers;
  metrics::Counter* auth_failures;
};

// What every client of a gateway shares.
struct ClientContext {
  Hub& hub;
  const apps::AppDirectory& apps;
  const Config& cfg;
  ProtocolMetrics& metrics;
  MessageInbox* inbox = nullptr;  // messages to users; null: acks of message ids are refused
  std::string version;
  audit::Recorder* audit = nullptr;  // refused connects are audited (folded per source and code)
};

class Client final : public Subscriber {
 public:
  using Clock = std::chrono::steady_clock;

  // Asks the transport for the connect deadline at once.
  Client(ClientContext& ctx, Transport& transport, std::size_t shard);
  ~Client() override;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One text frame from the peer (one or more commands separated by '\n').
  void on_text(std::string_view frame);
  // A binary frame: not part of the protocol.
  void on_binary();
  // The deadline requested through Transport::set_deadline has come.
  void on_deadline(Clock::time_point now);
  // A write has not completed within push.write_timeout: closes as a slow consumer.
  void on_write_stalled();
  // The connection is gone (closed either way): leave the hub. Idempotent.
  void on_closed();

  bool deliver(const Publication& pub) override;
  void flush() override;
  void disconnect(int code, std::string_view reason) override;

  bool connected() const { return connected_; }
  bool closing() const { return closing_; }
  const ClientIdentity& identity() const { return who_; }

 private:
  struct Subscription {
    std::string channel;
    SubscriptionSlot slot;
    bool by_token = false;  // granted by a subscription token, which ends at `expires_at`
    Clock::time_point expires_at = Clock::time_point::max();
  };
  // One command as its handler sees it; `channel` and `ns` are set for the commands
  // that name a channel (already parsed, the namespace configured).
  struct Call {
    std::uint64_t id;
    const boost::json::object& params;
    const ChannelName* channel = nullptr;
    const NamespaceConfig* ns = nullptr;
  };
  struct CommandSpec {
    std::string_view name;
    void (Client::*handler)(const Call&);
    bool needs_connected;
    bool needs_channel;
  };
  static const CommandSpec* find_command(std::string_view name);

  void handle_line(std::string_view line);
  void dispatch(const CommandSpec& spec, std::uint64_t id, const boost::json::object& params);

  // The commands (push/protocol/commands.cpp).
  void cmd_connect(const Call& c);
  void cmd_ping(const Call& c);
  void cmd_refresh(const Call& c);
  void cmd_ack(const Call& c);
  void cmd_inbox(const Call& c);
  void cmd_subscribe(const Call& c);
  void cmd_unsubscribe(const Call& c);
  void cmd_publish(const Call& c);
  void cmd_history(const Call& c);
  void cmd_presence(const Call& c);
  void cmd_presence_stats(const Call& c);

  // Refuses a connect: counts it, audits it, answers and closes.
  void refuse_connect(std::uint64_t id, Errc code, std::string actor, std::string_view message, int close,
                      std::string_view close_reason, std::string_view user = {});
  // Connect-time checks of the app and token; the claims, or an error already answered.
  std::optional<auth::JwtClaims> authenticate(std::uint64_t id, const boost::json::object& params);
  // The right to read a channel without a subscription token (history, presence, and
  // subscribe in the "authenticated" and "claims" namespaces).
  bool may_read(const ChannelName& channel, const NamespaceConfig& ns);
  // Replies to the token error of refresh/subscribe ("token_expired" or "token_invalid").
  void reply_token_error(std::uint64_t id, const Error& e);
  // Calls the inbox through `ask(done)` and runs `on_answer(*this, answer)` on this
  // client's shard, unless the client is closing or gone by then (commands.cpp).
  template <class T, class Ask, class OnAnswer>
  void ask_inbox(Ask ask, OnAnswer on_answer);

  // The one way a frame is queued: keeps push.send_queue_max_bytes (see client.cpp).
  void queue(std::string_view frame);
  // Starts the write, or closes a connection whose queue went over the bound.
  void write_or_cut();
  bool take_rate_token();
  // One of push.channels_created_per_minute, when the command would create `channel`;
  // false (and the command is refused) when the connection has used them up.
  bool may_create(const ChannelName& channel);
  void reply_error(std::uint64_t id, Errc code, std::string_view message);
  // A refused connect, for the audit log; the user id only as a keyed hash.
  void audit_refusal(Errc code, std::string actor, std::string_view reason, std::string_view user);
  void close_with(int code, std::string_view reason);
  void leave_hub();
  Subscription* find_subscription(std::string_view channel);
  // Checks the token against the app's client keys; error codes as in auth/jwt.h.
  Result<auth::JwtClaims> verify_token(std::string_view token) const;
  void arm_expiry(const auth::JwtClaims& claims, std::int64_t now_s);
  // The steady-clock instant a token's exp stands for (max() for none or far future).
  Clock::time_point expiry_of(const auth::JwtClaims& claims, std::int64_t now_s) const;
  // Asks for the next deadline: the connection token's end or a subscription token's.
  void arm_deadline();
  // Ends the subscriptions the claims no longer allow (after refresh) or whose token
  // ended by `now`, telling the client with an `unsubscribe` push.
  void drop_subscriptions(std::string_view reason, Clock::time_point now, bool recheck_claims);

  ClientContext& ctx_;
  Transport& transport_;
  std::size_t shard_;
  std::shared_ptr<const apps::App> app_;
  ClientIdentity who_;
  std::vector<std::string> channels_claim_;
  std::vector<std::unique_ptr<Subscription>> subs_;
  Clock::time_point connect_deadline_;
  Clock::time_point expires_at_ = Clock::time_point::max();
  // Token bucket for commands, and the count of refusals in the current second.
  double tokens_;
  Clock::time_point last_refill_;
  Clock::time_point flood_window_;
  std::uint64_t refused_in_window_ = 0;
  // Token bucket for channels this connection brings into being.
  double create_tokens_;
  Clock::time_point create_refill_;
  bool connected_ = false;
  bool closing_ = false;
  bool in_hub_ = false;
  bool flush_pending_ = false;
  bool slow_ = false;
  // Inbox answers posted to the shard hold a weak reference: gone with the client.
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);
};

}  // namespace herald::push
