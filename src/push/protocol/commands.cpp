// The client protocol's commands (docs/protocol.md), one member of Client each. The
// dispatcher (push/client.cpp) has checked the id, the rate, the connection and, for
// the channel commands, the channel name and its namespace.
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "core/clock.h"
#include "core/ids.h"
#include "core/json_finite.h"
#include "core/metrics.h"
#include "push/client.h"
#include "push/protocol/params.h"
#include "push/wire.h"

namespace herald::push {
namespace {

namespace json = boost::json;
using protocol::parse_since;
using protocol::str_param;
using protocol::uint_param;

std::size_t publications_bytes(const std::vector<PublicationPtr>& pubs) {
  std::size_t n = 0;
  for (const auto& p : pubs) n += p->frame.size();
  return n;
}

std::string expires_in(const auth::JwtClaims& claims, std::int64_t now_s) {
  return std::to_string(std::max<std::int64_t>(0, *claims.exp - now_s));
}

// Where an inbox call was made: an answer given during the call, on the same thread,
// is the store answering at once.
struct AnswerRoute {
  std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> returned{false};
};

}  // namespace

// An answer given during the call runs at once, so its reply keeps its place among the
// others (and pending messages follow the connect reply directly). One given later or
// on another thread (a store reader) is posted to the client's shard and dropped there
// if the client has closed or is gone: `this` is only touched once `alive` says so.
template <class T, class Ask, class OnAnswer>
void Client::ask_inbox(Ask ask, OnAnswer on_answer) {
  auto route = std::make_shared<AnswerRoute>();
  std::weak_ptr<const bool> alive = alive_;
  ShardExecutor& executor = ctx_.hub.executor();
  const std::size_t shard = shard_;
  ask([this, route, alive, &executor, shard, on_answer](T answer) {
    if (std::this_thread::get_id() == route->caller && !route->returned.load(std::memory_order_relaxed))
      return on_answer(*this, std::move(answer));
    executor.post(shard, [this, alive, on_answer, answer = std::move(answer)]() mutable {
      if (alive.expired() || closing_) return;
      on_answer(*this, std::move(answer));
      write_or_cut();
    });
  });
  route->returned.store(true, std::memory_order_relaxed);
}

void Client::refuse_connect(std::uint64_t id, Errc code, std::string actor, std::string_view message, int close,
                            std::string_view close_reason, std::string_view user) {
  ctx_.metrics.auth_failures->inc();
  audit_refusal(code, std::move(actor), message, user);
  reply_error(id, code, message);
  close_with(close, close_reason);
}

void Client::reply_token_error(std::uint64_t id, const Error& e) {
  reply_error(id, e.code == Errc::kTokenExpired ? Errc::kTokenExpired : Errc::kTokenInvalid, e.message);
}

std::optional<auth::JwtClaims> Client::authenticate(std::uint64_t id, const json::object& params) {
  auto app_key = str_param(params, "app");
  auto token = str_param(params, "token");
  if (!app_key || !token) {
    reply_error(id, Errc::kBadRequest, "connect needs string app and token");
    return std::nullopt;
  }
  app_ = ctx_.apps.find_by_key(*app_key);
  if (!app_) {
    refuse_connect(id, Errc::kUnknownApp, "key:" + std::string(app_key->substr(0, 64)), "no app has this key",
                   close_code::kUnauthorized, "unauthorized");
    return std::nullopt;
  }
  if (app_->status != apps::AppStatus::Active) {
    refuse_connect(id, Errc::kAppSuspended, "app:" + app_->id, "the app is suspended", close_code::kUnauthorized,
                   "unauthorized");
    return std::nullopt;
  }
  auto claims = verify_token(*token);
  if (claims && claims->channel)
    claims = Error{Errc::kTokenClaimInvalid, "a subscription token (with a channel claim) cannot connect"};
  if (claims) return std::move(*claims);
  // The audit keeps the precise code; the client learns only expired or invalid.
  const Error& e = claims.error();
  const bool expired = e.code == Errc::kTokenExpired;
  ctx_.metrics.auth_failures->inc();
  audit_refusal(e.code, "app:" + app_->id, e.message, {});
  reply_error(id, expired ? Errc::kTokenExpired : Errc::kTokenInvalid, e.message);
  close_with(expired ? close_code::kTokenExpired : close_code::kUnauthorized,
             expired ? "token_expired" : "unauthorized");
  return std::nullopt;
}

void Client::cmd_connect(const Call& c) {
  if (connected_) return reply_error(c.id, Errc::kAlreadyConnected, "this connection is connected already");
  auto claims = authenticate(c.id, c.params);
  if (!claims) return;
  who_ = ClientIdentity{app_->id, claims->sub, next_client_id(), claims->info};
  channels_claim_ = claims->channels;
  auto added = ctx_.hub.add_connection(shard_, this, who_);
  if (!added) {
    audit_refusal(added.error().code, "app:" + app_->id, added.error().message, claims->sub);
    reply_error(c.id, added.error().code, added.error().message);
    return close_with(close_code::kTooManyConnections, "too_many_connections");
  }
  in_hub_ = true;
  connected_ = true;
  const std::int64_t now_s = clock::unix_ms() / 1000;
  arm_expiry(*claims, now_s);
  std::string body = "{\"client\":" + wire::json_string(who_.client_id) + ",\"user\":" + wire::json_string(who_.user);
  if (claims->exp) body += ",\"expires_in\":" + expires_in(*claims, now_s);
  body += ",\"version\":" + wire::json_string(ctx_.version) + "}";
  queue(wire::reply(c.id, "connect", body));
  // The user's pending messages follow the reply (docs/messages.md).
  if (!ctx_.inbox) return;
  ask_inbox<std::vector<std::string>>([&](auto done) { ctx_.inbox->on_connect(who_, std::move(done)); },
                                      [](Client& self, std::vector<std::string> frames) {
                                        for (const auto& frame : frames) self.queue(frame);
                                      });
}

void Client::cmd_ping(const Call& c) {
  queue(wire::reply(c.id, "pong", "{}"));
}

void Client::cmd_refresh(const Call& c) {
  auto token = str_param(c.params, "token");
  if (!token) return reply_error(c.id, Errc::kBadRequest, "refresh needs a string token");
  auto claims = verify_token(*token);
  if (claims && claims->channel)
    claims = Error{Errc::kTokenClaimInvalid, "a subscription token (with a channel claim) cannot refresh"};
  if (claims && claims->sub != who_.user) claims = Error{Errc::kTokenClaimInvalid, "the new token is for another user"};
  if (!claims) {
    ctx_.metrics.auth_failures->inc();
    return reply_token_error(c.id, claims.error());
  }
  channels_claim_ = claims->channels;
  const std::int64_t now_s = clock::unix_ms() / 1000;
  // A narrower token takes effect at once: subscriptions it no longer allows end here.
  drop_subscriptions("permission_revoked", Clock::now(), true);
  arm_expiry(*claims, now_s);
  std::string body = "{";
  if (claims->exp) body += "\"expires_in\":" + expires_in(*claims, now_s);
  body += "}";
  queue(wire::reply(c.id, "refresh", body));
}

void Client::cmd_ack(const Call& c) {
  auto pub_id = str_param(c.params, "id");
  if (!pub_id || pub_id->empty() || pub_id->size() > 128)
    return reply_error(c.id, Errc::kBadRequest, "ack needs the message or publication id (a string)");
  ctx_.metrics.acks->inc();
  // A channel publication's ack is only counted; one without a channel names a message.
  if (str_param(c.params, "channel")) return queue(wire::reply(c.id, "ack", "{}"));
  if (!ctx_.inbox) return reply_error(c.id, Errc::kMessageNotFound, "you have no message with this id");
  ask_inbox<Status>([&](auto done) { ctx_.inbox->ack(who_, *pub_id, std::move(done)); },
                    [id = c.id](Client& self, Status st) {
                      if (st) return self.queue(wire::reply(id, "ack", "{}"));
                      const bool not_found = st.error().code == Errc::kMessageNotFound;
                      self.reply_error(id, not_found ? Errc::kMessageNotFound : Errc::kInternal,
                                       not_found ? st.error().message : "the ack failed");
                    });
}

void Client::cmd_inbox(const Call& c) {
  if (!ctx_.inbox) return queue(wire::reply(c.id, "inbox", "{\"messages\":[],\"next\":null}"));
  std::uint64_t n = 50;
  if (auto* limit = c.params.if_contains("limit")) {
    if (!limit->is_int64() || limit->get_int64() < 1 || limit->get_int64() > 500)
      return reply_error(c.id, Errc::kBadRequest, "limit must be an integer from 1 to 500");
    n = static_cast<std::uint64_t>(limit->get_int64());
  }
  auto after = str_param(c.params, "after");
  if (c.params.contains("after") && !after)
    return reply_error(c.id, Errc::kBadRequest, "after must be a string cursor");
  ask_inbox<Result<std::string>>([&](auto done) { ctx_.inbox->page(who_, after.value_or(""), n, std::move(done)); },
                                 [id = c.id](Client& self, Result<std::string> page) {
                                   if (page) return self.queue(wire::reply(id, "inbox", *page));
                                   const bool bad = page.error().code == Errc::kInvalidArgument;
                                   self.reply_error(id, bad ? Errc::kBadRequest : Errc::kInternal,
                                                    bad ? page.error().message : "the inbox failed");
                                 });
}

bool Client::may_read(const ChannelName& channel, const NamespaceConfig& ns) {
  if (channel.personal() && !channel.allows_user(who_.user)) return false;
  if (find_subscription(channel.full)) return true;
  if (ns.subscribe == "authenticated") return true;
  if (ns.subscribe == "claims")
    return std::find(channels_claim_.begin(), channels_claim_.end(), channel.full) != channels_claim_.end();
  return false;
}

void Client::cmd_subscribe(const Call& c) {
  const ChannelName& channel = *c.channel;
  if (find_subscription(channel.full)) return reply_error(c.id, Errc::kAlreadySubscribed, "already subscribed");
  if (subs_.size() >= ctx_.cfg.push.max_subscriptions_per_connection)
    return reply_error(c.id, Errc::kTooManySubscriptions, "push.max_subscriptions_per_connection reached");
  std::optional<Since> since;
  if (auto bad = parse_since(c.params, since)) return reply_error(c.id, Errc::kBadRequest, *bad);
  bool allowed = false;
  Clock::time_point token_expires = Clock::time_point::max();
  const bool by_token = c.params.contains("token");
  if (auto* tokv = c.params.if_contains("token")) {
    if (!tokv->is_string()) return reply_error(c.id, Errc::kBadRequest, "token must be a string");
    const auto& t = tokv->get_string();
    auto claims = verify_token(std::string_view(t.data(), t.size()));
    if (!claims) return reply_token_error(c.id, claims.error());
    if (!claims->channel || *claims->channel != channel.full || claims->sub != who_.user)
      return reply_error(c.id, Errc::kPermissionDenied, "the subscription token is for another channel or user");
    allowed = !channel.personal() || channel.allows_user(who_.user);
    token_expires = expiry_of(*claims, clock::unix_ms() / 1000);
  } else {
    allowed = may_read(channel, *c.ns);
  }
  if (!allowed)
    return reply_error(c.id, Errc::kPermissionDenied, "this user may not subscribe to " + std::string(channel.full));
  if (!may_create(channel))
    return reply_error(c.id, Errc::kRateLimited, "this connection created push.channels_created_per_minute channels");
  auto sub = std::make_unique<Subscription>();
  sub->channel = std::string(channel.full);
  auto r = ctx_.hub.subscribe(shard_, this, who_, channel, since, sub->slot);
  if (!r) return reply_error(c.id, r.error().code, r.error().message);
  sub->by_token = by_token;
  sub->expires_at = token_expires;
  subs_.push_back(std::move(sub));
  if (token_expires != Clock::time_point::max()) arm_deadline();
  // A recovery larger than half the send queue would cut the client off as slow; it is
  // reported as not recovered instead, and the client reloads its state.
  if (r->recovered && *r->recovered && publications_bytes(r->publications) > ctx_.cfg.push.send_queue_max_bytes / 2) {
    r->recovered = false;
    r->publications.clear();
  }
  queue(wire::reply(c.id, "subscribe", wire::render_subscribe(*r)));
}

void Client::cmd_unsubscribe(const Call& c) {
  for (auto it = subs_.begin(); it != subs_.end(); ++it) {
    if ((*it)->channel != c.channel->full) continue;
    ctx_.hub.unsubscribe(who_, (*it)->slot);
    subs_.erase(it);
    return queue(wire::reply(c.id, "unsubscribe", "{}"));
  }
  reply_error(c.id, Errc::kNotSubscribed, "not subscribed to this channel");
}

void Client::cmd_publish(const Call& c) {
  const ChannelName& channel = *c.channel;
  const bool personal_ok = !channel.personal() || channel.allows_user(who_.user);
  const bool allowed = personal_ok && (c.ns->publish == "authenticated" ||
                                       (c.ns->publish == "subscribers" && find_subscription(channel.full) != nullptr));
  if (!allowed)
    return reply_error(c.id, Errc::kPermissionDenied, "this user may not publish to " + std::string(channel.full));
  auto* data = c.params.if_contains("data");
  if (!data) return reply_error(c.id, Errc::kBadRequest, "publish needs data");
  if (!json_numbers_finite(*data))
    return reply_error(c.id, Errc::kBadRequest, "data holds a number outside the range of a double");
  if (!may_create(channel))
    return reply_error(c.id, Errc::kRateLimited, "this connection created push.channels_created_per_minute channels");
  auto r = ctx_.hub.publish(who_.app_id, channel, json::serialize(*data));
  if (!r) return reply_error(c.id, r.error().code, r.error().message);
  queue(wire::reply(c.id, "publish", wire::render_publish_result(*r)));
}

void Client::cmd_history(const Call& c) {
  const ChannelName& channel = *c.channel;
  if (!may_read(channel, *c.ns))
    return reply_error(c.id, Errc::kPermissionDenied, "this user may not read " + std::string(channel.full));
  std::optional<Since> since;
  if (auto bad = parse_since(c.params, since)) return reply_error(c.id, Errc::kBadRequest, *bad);
  std::size_t limit = 0;
  if (auto* lv = c.params.if_contains("limit")) {
    auto n = uint_param(*lv);
    if (!n) return reply_error(c.id, Errc::kBadRequest, "limit must be a non-negative integer");
    limit = static_cast<std::size_t>(std::min<std::uint64_t>(*n, 1'000'000));
  }
  auto r = ctx_.hub.history(who_.app_id, channel, limit, since);
  if (!r) return reply_error(c.id, r.error().code, r.error().message);
  // Keep the reply within half the send queue: the newest publications that fit.
  bool truncated = false;
  std::size_t budget = ctx_.cfg.push.send_queue_max_bytes / 2, used = 0, keep = 0;
  for (auto it = r->publications.rbegin(); it != r->publications.rend(); ++it, ++keep) {
    used += (*it)->frame.size();
    if (used > budget) {
      truncated = true;
      break;
    }
  }
  if (truncated)
    r->publications.erase(r->publications.begin(), r->publications.end() - static_cast<std::ptrdiff_t>(keep));
  queue(wire::reply(c.id, "history", wire::render_history(*r, since.has_value(), truncated)));
}

void Client::cmd_presence(const Call& c) {
  if (!may_read(*c.channel, *c.ns))
    return reply_error(c.id, Errc::kPermissionDenied, "this user may not read " + std::string(c.channel->full));
  auto r = ctx_.hub.presence(who_.app_id, *c.channel);
  if (!r) return reply_error(c.id, r.error().code, r.error().message);
  queue(wire::reply(c.id, "presence", wire::render_presence(*r)));
}

void Client::cmd_presence_stats(const Call& c) {
  if (!may_read(*c.channel, *c.ns))
    return reply_error(c.id, Errc::kPermissionDenied, "this user may not read " + std::string(c.channel->full));
  auto r = ctx_.hub.presence_stats(who_.app_id, *c.channel);
  if (!r) return reply_error(c.id, r.error().code, r.error().message);
  queue(wire::reply(c.id, "presence_stats", wire::render_presence_stats(*r)));
}

}  // namespace herald::push
