// The client protocol, command by command. Replies are built as text directly: they
// embed publications that are already serialised, and that text is reused as is.
#include "push/client.h"

#include <boost/json.hpp>
#include <algorithm>
#include <cmath>

#include "audit/log.h"
#include "auth/ip_allowlist.h"
#include "core/json_finite.h"
#include "core/log.h"
#include "core/metrics.h"

namespace herald::push {
namespace {

namespace json = boost::json;

std::string json_str(std::string_view s) { return json::serialize(json::string_view(s.data(), s.size())); }

std::string reply_line(std::uint64_t id, std::string_view method, std::string_view body) {
  std::string out;
  out.reserve(16 + method.size() + body.size());
  out.append("{\"id\":").append(std::to_string(id)).append(",\"").append(method).append("\":").append(body);
  out.push_back('}');
  return out;
}

// A parameter read from a command's object; nullopt when missing or of the wrong type.
std::optional<std::string_view> str_param(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  const auto& s = v->get_string();
  return std::string_view(s.data(), s.size());
}

std::optional<std::uint64_t> uint_param(const json::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  return std::nullopt;
}

// `since` is {"offset": N, "epoch": "E"}; an error message when it is malformed.
std::optional<std::string> parse_since(const json::object& o, std::optional<Since>& out) {
  auto* v = o.if_contains("since");
  if (!v) return std::nullopt;
  const auto* s = v->if_object();
  if (!s) return std::string("since must be an object {offset, epoch}");
  auto* off = s->if_contains("offset");
  auto epoch = str_param(*s, "epoch");
  std::optional<std::uint64_t> n = off ? uint_param(*off) : std::nullopt;
  if (!n || !epoch) return std::string("since needs an integer offset and a string epoch");
  out = Since{*n, std::string(*epoch)};
  return std::nullopt;
}

void append_publications(std::string& out, const std::vector<PublicationPtr>& pubs) {
  out.append("\"publications\":[");
  for (std::size_t i = 0; i < pubs.size(); ++i) {
    if (i) out.push_back(',');
    out.append(pubs[i]->inner());
  }
  out.push_back(']');
}


std::size_t publications_bytes(const std::vector<PublicationPtr>& pubs) {
  std::size_t n = 0;
  for (const auto& p : pubs) n += p->frame.size();
  return n;
}

const char* reason_of(int code) {
  switch (code) {
    case close_code::kNormal: return "normal";
    case close_code::kShutdown: return "shutdown";
    case close_code::kBadFrame: return "bad_frame";
    case close_code::kUnauthorized: return "unauthorized";
    case close_code::kTokenExpired: return "token_expired";
    case close_code::kTooManyConnections: return "too_many_connections";
    case close_code::kFlood: return "flood";
    case close_code::kDisconnectedByServer: return "disconnected_by_server";
    case close_code::kSlowConsumer: return "slow_consumer";
    case close_code::kConnectTimeout: return "connect_timeout";
    case close_code::kSealed: return "sealed";
    default: return "other";
  }
}

bool should_reconnect(int code) { return code == close_code::kShutdown || code >= 4500 || code == close_code::kTokenExpired; }

}  // namespace

ProtocolMetrics::ProtocolMetrics(metrics::Registry& r)
    : commands(&r.counter("herald_push_commands_total", "Client protocol commands received, by method", {"method"})),
      errors(&r.counter("herald_push_command_errors_total", "Client protocol commands refused, by error code",
                        {"code"})),
      disconnects(&r.counter("herald_push_disconnects_total", "Client connections closed by the server, by reason",
                             {"reason"})),
      acks(&r.counter("herald_push_acks_total", "Publications acknowledged by clients").with({})),
      slow_consumers(&r.counter("herald_push_slow_consumers_total",
                                "Connections cut off because their send queue exceeded push.send_queue_max_bytes")
                          .with({})),
      auth_failures(&r.counter("herald_push_auth_failures_total", "Refused connect and refresh tokens").with({})) {}

Client::Client(ClientContext& ctx, Transport& transport, std::size_t shard)
    : ctx_(ctx), transport_(transport), shard_(shard) {
  auto now = Clock::now();
  tokens_ = static_cast<double>(ctx_.cfg.push.command_burst);
  last_refill_ = now;
  flood_window_ = now;
  connect_deadline_ = now + ctx_.cfg.push.connect_timeout;
  transport_.set_deadline(connect_deadline_);
}

Client::~Client() { leave_hub(); }

void Client::on_closed() {
  closing_ = true;
  leave_hub();
}

void Client::leave_hub() {
  if (!in_hub_) return;
  in_hub_ = false;
  if (flush_pending_) ctx_.hub.forget_subscriber(shard_, this);
  flush_pending_ = false;
  for (auto& s : subs_) ctx_.hub.unsubscribe(who_, s->slot);
  subs_.clear();
  ctx_.hub.remove_connection(shard_, who_);
}

bool Client::deliver(const Publication& pub) {
  if (closing_ || slow_) return false;
  if (transport_.queued_bytes() + pub.frame.size() > ctx_.cfg.push.send_queue_max_bytes) {
    slow_ = true;
  } else {
    transport_.send(pub.frame);
  }
  if (flush_pending_) return false;
  flush_pending_ = true;
  return true;
}

void Client::flush() {
  flush_pending_ = false;
  if (slow_ && !closing_) {
    ctx_.metrics.slow_consumers->inc();
    close_with(close_code::kSlowConsumer, "slow_consumer");
    return;
  }
  transport_.flush();
}

void Client::disconnect(int code, std::string_view reason) {
  if (closing_) return;
  close_with(code, reason);
}

void Client::close_with(int code, std::string_view reason) {
  if (closing_) return;
  closing_ = true;
  leave_hub();
  ctx_.metrics.disconnects->with({reason_of(code)}).inc();
  if (code == close_code::kSlowConsumer) transport_.discard_queued();
  std::string line = "{\"disconnect\":{\"code\":" + std::to_string(code) + ",\"reason\":" + json_str(reason) +
                     ",\"reconnect\":" + (should_reconnect(code) ? "true" : "false") + "}}";
  transport_.send(line);
  transport_.close(code, reason);
}

void Client::on_binary() { close_with(close_code::kBadFrame, "bad_frame"); }

void Client::on_deadline(Clock::time_point now) {
  if (closing_) return;
  if (!connected_) {
    if (now >= connect_deadline_) close_with(close_code::kConnectTimeout, "connect_timeout");
    else transport_.set_deadline(connect_deadline_);
    return;
  }
  if (expires_at_ != Clock::time_point::max()) {
    if (now >= expires_at_) close_with(close_code::kTokenExpired, "token_expired");
    else transport_.set_deadline(expires_at_);
  }
}

void Client::on_text(std::string_view frame) {
  if (closing_) return;
  std::size_t start = 0;
  while (start < frame.size() && !closing_) {
    auto nl = frame.find('\n', start);
    std::string_view line = frame.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty() && line.find_first_not_of(" \t\r") != std::string_view::npos) handle_line(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  if (!closing_) transport_.flush();
}

bool Client::take_rate_token() {
  auto now = Clock::now();
  const double rate = static_cast<double>(ctx_.cfg.push.commands_per_second);
  const double burst = static_cast<double>(ctx_.cfg.push.command_burst);
  double elapsed = std::chrono::duration<double>(now - last_refill_).count();
  last_refill_ = now;
  tokens_ = std::min(burst, tokens_ + elapsed * rate);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  if (now - flood_window_ >= std::chrono::seconds(1)) {
    flood_window_ = now;
    refused_in_window_ = 0;
  }
  // Refusals at the sustained rate within one second mean the client sends at twice it.
  if (++refused_in_window_ > ctx_.cfg.push.commands_per_second) close_with(close_code::kFlood, "flood");
  return false;
}

void Client::audit_refusal(std::string_view code, std::string actor, std::string_view reason,
                           std::string_view user) {
  if (!ctx_.audit) return;
  audit::Event e{"client", "connect", std::string(code), 0, std::move(actor), "",
                 std::string(auth::host_of(transport_.remote_address())), {{"reason", std::string(reason)}}, {}};
  if (!user.empty()) e.personal.emplace_back("user", std::string(user));
  ctx_.audit->record(std::move(e));
}

void Client::reply_error(std::uint64_t id, std::string_view code, std::string_view message) {
  ctx_.metrics.errors->with({std::string(code)}).inc();
  std::string body = "{\"code\":" + json_str(code) + ",\"message\":" + json_str(message) + "}";
  transport_.send(reply_line(id, "error", body));
}

Client::Subscription* Client::find_subscription(std::string_view channel) {
  for (auto& s : subs_)
    if (s->channel == channel) return s.get();
  return nullptr;
}

Result<auth::JwtClaims> Client::verify_token(std::string_view token) const {
  auth::JwtPolicy policy;
  policy.audience = app_->jwt_audience;
  policy.issuer = app_->jwt_issuer;
  policy.require_exp = app_->require_exp;
  policy.max_skew = std::chrono::duration_cast<std::chrono::seconds>(ctx_.cfg.push.jwt_max_skew);
  policy.max_token_bytes = ctx_.cfg.push.max_token_bytes;
  return auth::verify_jwt(token, app_->client_keys, policy, unix_ms_now() / 1000);
}

void Client::arm_expiry(const auth::JwtClaims& claims, std::int64_t now_s) {
  // Tokens that mean "never" often say exp 253402300799 (year 9999): in the steady
  // clock's nanoseconds that overflows, so anything beyond a century counts as no exp.
  constexpr std::int64_t kFarFutureSeconds = 100LL * 366 * 24 * 3600;
  if (!claims.exp || *claims.exp - now_s > kFarFutureSeconds) {
    expires_at_ = Clock::time_point::max();
  } else {
    auto skew = std::chrono::duration_cast<std::chrono::seconds>(ctx_.cfg.push.jwt_max_skew);
    expires_at_ = Clock::now() + std::chrono::seconds(*claims.exp - now_s) + skew;
  }
  transport_.set_deadline(expires_at_);
}

void Client::handle_line(std::string_view line) {
  json::error_code ec;
  unsigned char stack_buf[4096];
  json::monotonic_resource mr(stack_buf, sizeof stack_buf);
  json::parse_options opts;
  opts.max_depth = 32;
  json::value v = json::parse(json::string_view(line.data(), line.size()), ec, &mr, opts);
  if (ec || !v.is_object()) {
    close_with(close_code::kBadFrame, "bad_frame");
    return;
  }
  const json::object& cmd = v.get_object();
  std::uint64_t id = 0;
  if (auto* idv = cmd.if_contains("id")) {
    auto n = uint_param(*idv);
    if (n && *n >= 1 && *n <= 0xFFFFFFFFull) id = *n;
  }
  std::string_view method;
  const json::object* params = nullptr;
  int methods = 0;
  for (const auto& kv : cmd) {
    if (kv.key() == "id") continue;
    ++methods;
    method = std::string_view(kv.key().data(), kv.key().size());
    params = kv.value().if_object();
  }
  if (!take_rate_token()) {
    if (!closing_) reply_error(id, "rate_limited", "more than push.commands_per_second commands");
    return;
  }
  if (id == 0) return reply_error(0, "bad_request", "a command needs an integer id from 1 to 4294967295");
  if (methods != 1) return reply_error(id, "bad_request", "a command has exactly one method key besides id");
  if (!params) return reply_error(id, "bad_request", "the parameters of a method are an object");

  static constexpr std::string_view kMethods[] = {"connect", "refresh", "subscribe", "unsubscribe",
                                                  "publish", "history", "presence",  "presence_stats",
                                                  "ack",     "inbox",   "ping"};
  if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods))
    return reply_error(id, "unknown_method", "no such method");
  ctx_.metrics.commands->with({std::string(method)}).inc();
  const json::object& p = *params;

  if (method == "connect") {
    if (connected_) return reply_error(id, "already_connected", "this connection is connected already");
    auto app_key = str_param(p, "app");
    auto token = str_param(p, "token");
    if (!app_key || !token) return reply_error(id, "bad_request", "connect needs string app and token");
    app_ = ctx_.apps.find_by_key(*app_key);
    if (!app_) {
      ctx_.metrics.auth_failures->inc();
      audit_refusal("unknown_app", "key:" + std::string(app_key->substr(0, 64)), "no app has this key", {});
      reply_error(id, "unknown_app", "no app has this key");
      return close_with(close_code::kUnauthorized, "unauthorized");
    }
    if (app_->status != apps::AppStatus::Active) {
      ctx_.metrics.auth_failures->inc();
      audit_refusal("app_suspended", "app:" + app_->id, "the app is suspended", {});
      reply_error(id, "app_suspended", "the app is suspended");
      return close_with(close_code::kUnauthorized, "unauthorized");
    }
    auto claims = verify_token(*token);
    if (claims && claims->channel)
      claims = Error{"token_claim_invalid", "a subscription token (with a channel claim) cannot connect"};
    if (!claims) {
      ctx_.metrics.auth_failures->inc();
      bool expired = claims.error().code == "token_expired";
      audit_refusal(claims.error().code, "app:" + app_->id, claims.error().message, {});
      reply_error(id, expired ? "token_expired" : "token_invalid", claims.error().message);
      return close_with(expired ? close_code::kTokenExpired : close_code::kUnauthorized,
                        expired ? "token_expired" : "unauthorized");
    }
    who_ = ClientIdentity{app_->id, claims->sub, next_client_id(), claims->info};
    channels_claim_ = claims->channels;
    auto added = ctx_.hub.add_connection(shard_, this, who_);
    if (!added) {
      audit_refusal(added.error().code, "app:" + app_->id, added.error().message, claims->sub);
      reply_error(id, added.error().code, added.error().message);
      return close_with(close_code::kTooManyConnections, "too_many_connections");
    }
    in_hub_ = true;
    connected_ = true;
    std::int64_t now_s = unix_ms_now() / 1000;
    arm_expiry(*claims, now_s);
    std::string body = "{\"client\":" + json_str(who_.client_id) + ",\"user\":" + json_str(who_.user);
    if (claims->exp) body += ",\"expires_in\":" + std::to_string(std::max<std::int64_t>(0, *claims->exp - now_s));
    body += ",\"version\":" + json_str(ctx_.version) + "}";
    transport_.send(reply_line(id, "connect", body));
    // The user's pending messages follow the reply at once (docs/messages.md).
    if (ctx_.inbox)
      ctx_.inbox->on_connect(who_, [this](std::vector<std::string> frames) {
        for (const auto& frame : frames) transport_.send(frame);
      });
    return;
  }
  if (!connected_) return reply_error(id, "not_connected", "send connect first");

  if (method == "ping") return transport_.send(reply_line(id, "pong", "{}"));

  if (method == "refresh") {
    auto token = str_param(p, "token");
    if (!token) return reply_error(id, "bad_request", "refresh needs a string token");
    auto claims = verify_token(*token);
    if (claims && claims->channel)
      claims = Error{"token_claim_invalid", "a subscription token (with a channel claim) cannot refresh"};
    if (claims && claims->sub != who_.user)
      claims = Error{"token_claim_invalid", "the new token is for another user"};
    if (!claims) {
      ctx_.metrics.auth_failures->inc();
      return reply_error(id, claims.error().code == "token_expired" ? "token_expired" : "token_invalid",
                         claims.error().message);
    }
    channels_claim_ = claims->channels;
    std::int64_t now_s = unix_ms_now() / 1000;
    arm_expiry(*claims, now_s);
    std::string body = "{";
    if (claims->exp) body += "\"expires_in\":" + std::to_string(std::max<std::int64_t>(0, *claims->exp - now_s));
    body += "}";
    return transport_.send(reply_line(id, "refresh", body));
  }

  if (method == "ack") {
    auto pub_id = str_param(p, "id");
    if (!pub_id || pub_id->empty() || pub_id->size() > 128)
      return reply_error(id, "bad_request", "ack needs the message or publication id (a string)");
    auto channel = str_param(p, "channel");
    ctx_.metrics.acks->inc();
    if (!channel) {
      // A message to this user, by its id.
      if (!ctx_.inbox) return reply_error(id, "message_not_found", "you have no message with this id");
      return ctx_.inbox->ack(who_, *pub_id, [this, id](Status st) {
        if (!st)
          return reply_error(id, st.error().code == "message_not_found" ? "message_not_found" : "internal",
                             st.error().code == "message_not_found" ? st.error().message : "the ack failed");
        transport_.send(reply_line(id, "ack", "{}"));
      });
    }
    return transport_.send(reply_line(id, "ack", "{}"));
  }

  if (method == "inbox") {
    if (!ctx_.inbox) return transport_.send(reply_line(id, "inbox", "{\"messages\":[],\"next\":null}"));
    auto limit = p.if_contains("limit");
    std::uint64_t n = 50;
    if (limit) {
      if (!limit->is_int64() || limit->get_int64() < 1 || limit->get_int64() > 500)
        return reply_error(id, "bad_request", "limit must be an integer from 1 to 500");
      n = static_cast<std::uint64_t>(limit->get_int64());
    }
    auto after = str_param(p, "after");
    if (p.contains("after") && !after) return reply_error(id, "bad_request", "after must be a string cursor");
    return ctx_.inbox->page(who_, after.value_or(""), n, [this, id](Result<std::string> page) {
      if (!page) {
        bool bad = page.error().code == "invalid_argument";
        return reply_error(id, bad ? "bad_request" : "internal", bad ? page.error().message : "the inbox failed");
      }
      transport_.send(reply_line(id, "inbox", *page));
    });
  }

  // Every other method names a channel.
  auto channel_text = str_param(p, "channel");
  if (!channel_text) return reply_error(id, "bad_request", "a string channel is required");
  auto channel = parse_channel(*channel_text);
  if (!channel) return reply_error(id, channel.error().code, channel.error().message);
  const NamespaceConfig* ns = ctx_.hub.namespace_config(channel->ns);
  if (!ns) return reply_error(id, "namespace_not_found", "the channel's namespace is not configured");
  const bool personal_ok = !channel->personal() || channel->allows_user(who_.user);
  // The right to read a channel without a subscription token (for history and presence,
  // and for subscribe in the "authenticated" and "claims" namespaces).
  auto may_read = [&]() {
    if (!personal_ok) return false;
    if (find_subscription(channel->full)) return true;
    if (ns->subscribe == "authenticated") return true;
    if (ns->subscribe == "claims")
      return std::find(channels_claim_.begin(), channels_claim_.end(), channel->full) != channels_claim_.end();
    return false;
  };

  if (method == "subscribe") {
    if (find_subscription(channel->full)) return reply_error(id, "already_subscribed", "already subscribed");
    if (subs_.size() >= ctx_.cfg.push.max_subscriptions_per_connection)
      return reply_error(id, "too_many_subscriptions", "push.max_subscriptions_per_connection reached");
    std::optional<Since> since;
    if (auto bad = parse_since(p, since)) return reply_error(id, "bad_request", *bad);
    bool allowed = false;
    if (auto* tokv = p.if_contains("token")) {
      if (!tokv->is_string()) return reply_error(id, "bad_request", "token must be a string");
      const auto& t = tokv->get_string();
      auto claims = verify_token(std::string_view(t.data(), t.size()));
      if (!claims)
        return reply_error(id, claims.error().code == "token_expired" ? "token_expired" : "token_invalid",
                           claims.error().message);
      if (!claims->channel || *claims->channel != channel->full || claims->sub != who_.user)
        return reply_error(id, "permission_denied", "the subscription token is for another channel or user");
      allowed = personal_ok;
    } else {
      allowed = may_read();
    }
    if (!allowed) return reply_error(id, "permission_denied", "this user may not subscribe to " + std::string(channel->full));
    auto sub = std::make_unique<Subscription>();
    sub->channel = std::string(channel->full);
    auto r = ctx_.hub.subscribe(shard_, this, who_, *channel, since, sub->slot);
    if (!r) return reply_error(id, r.error().code, r.error().message);
    subs_.push_back(std::move(sub));
    // A recovery larger than half the send queue would cut the client off as slow; it is
    // reported as not recovered instead, and the client reloads its state.
    if (r->recovered && *r->recovered && publications_bytes(r->publications) > ctx_.cfg.push.send_queue_max_bytes / 2) {
      r->recovered = false;
      r->publications.clear();
    }
    std::string body = "{\"epoch\":\"" + r->epoch + "\",\"offset\":" + std::to_string(r->offset) +
                       ",\"recoverable\":" + (r->recoverable ? "true" : "false");
    if (r->recovered) {
      body += std::string(",\"recovered\":") + (*r->recovered ? "true" : "false") + ",";
      append_publications(body, r->publications);
    }
    body += "}";
    return transport_.send(reply_line(id, "subscribe", body));
  }

  if (method == "unsubscribe") {
    for (auto it = subs_.begin(); it != subs_.end(); ++it) {
      if ((*it)->channel != channel->full) continue;
      ctx_.hub.unsubscribe(who_, (*it)->slot);
      subs_.erase(it);
      return transport_.send(reply_line(id, "unsubscribe", "{}"));
    }
    return reply_error(id, "not_subscribed", "not subscribed to this channel");
  }

  if (method == "publish") {
    bool allowed = personal_ok && (ns->publish == "authenticated" ||
                                   (ns->publish == "subscribers" && find_subscription(channel->full) != nullptr));
    if (!allowed) return reply_error(id, "permission_denied", "this user may not publish to " + std::string(channel->full));
    auto* data = p.if_contains("data");
    if (!data) return reply_error(id, "bad_request", "publish needs data");
    if (!json_numbers_finite(*data))
      return reply_error(id, "bad_request", "data holds a number outside the range of a double");
    std::string text = json::serialize(*data);
    auto r = ctx_.hub.publish(who_.app_id, *channel, text);
    if (!r) return reply_error(id, r.error().code, r.error().message);
    std::string body = "{\"offset\":" + std::to_string(r->offset) + ",\"epoch\":\"" + r->epoch + "\",\"id\":\"" +
                       r->id + "\"}";
    return transport_.send(reply_line(id, "publish", body));
  }

  if (method == "history") {
    if (!may_read()) return reply_error(id, "permission_denied", "this user may not read " + std::string(channel->full));
    std::optional<Since> since;
    if (auto bad = parse_since(p, since)) return reply_error(id, "bad_request", *bad);
    std::size_t limit = 0;
    if (auto* lv = p.if_contains("limit")) {
      auto n = uint_param(*lv);
      if (!n) return reply_error(id, "bad_request", "limit must be a non-negative integer");
      limit = static_cast<std::size_t>(std::min<std::uint64_t>(*n, 1'000'000));
    }
    auto r = ctx_.hub.history(who_.app_id, *channel, limit, since);
    if (!r) return reply_error(id, r.error().code, r.error().message);
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
      r->publications.erase(r->publications.begin(),
                            r->publications.end() - static_cast<std::ptrdiff_t>(keep));
    std::string body = "{\"epoch\":\"" + r->epoch + "\",\"offset\":" + std::to_string(r->offset) + ",";
    if (since) body += std::string("\"recovered\":") + (r->recovered ? "true" : "false") + ",";
    if (truncated) body += "\"truncated\":true,";
    append_publications(body, r->publications);
    body += "}";
    return transport_.send(reply_line(id, "history", body));
  }

  if (method == "presence" || method == "presence_stats") {
    if (!may_read()) return reply_error(id, "permission_denied", "this user may not read " + std::string(channel->full));
    if (method == "presence_stats") {
      auto r = ctx_.hub.presence_stats(who_.app_id, *channel);
      if (!r) return reply_error(id, r.error().code, r.error().message);
      return transport_.send(reply_line(id, "presence_stats",
                                        "{\"num_clients\":" + std::to_string(r->num_clients) +
                                            ",\"num_users\":" + std::to_string(r->num_users) + "}"));
    }
    auto r = ctx_.hub.presence(who_.app_id, *channel);
    if (!r) return reply_error(id, r.error().code, r.error().message);
    std::string body = "{\"clients\":{";
    for (std::size_t i = 0; i < r->clients.size(); ++i) {
      const auto& c = r->clients[i];
      if (i) body += ",";
      body += json_str(c.client_id) + ":{\"user\":" + json_str(c.user);
      if (!c.info.empty()) body += ",\"info\":" + c.info;
      body += "}";
    }
    body += "}";
    if (r->truncated) body += ",\"truncated\":true";
    body += "}";
    return transport_.send(reply_line(id, "presence", body));
  }
}

}  // namespace herald::push
