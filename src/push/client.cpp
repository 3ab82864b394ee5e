// A client connection's life: the command loop (parse, rate-limit, dispatch), deadlines,
// delivery with the send-queue bound, and closing. The commands are in
// push/protocol/commands.cpp.
#include "push/client.h"

#include <algorithm>
#include <boost/json.hpp>

#include "audit/log.h"
#include "auth/ip_allowlist.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "push/protocol/params.h"
#include "push/wire.h"

namespace herald::push {
namespace {

namespace json = boost::json;
using protocol::uint_param;

const char* reason_of(int code) {
  switch (code) {
    case close_code::kNormal:
      return "normal";
    case close_code::kShutdown:
      return "shutdown";
    case close_code::kBadFrame:
      return "bad_frame";
    case close_code::kUnauthorized:
      return "unauthorized";
    case close_code::kTokenExpired:
      return "token_expired";
    case close_code::kTooManyConnections:
      return "too_many_connections";
    case close_code::kFlood:
      return "flood";
    case close_code::kDisconnectedByServer:
      return "disconnected_by_server";
    case close_code::kSlowConsumer:
      return "slow_consumer";
    case close_code::kConnectTimeout:
      return "connect_timeout";
    case close_code::kSealed:
      return "sealed";
    default:
      return "other";
  }
}

bool should_reconnect(int code) {
  return code == close_code::kShutdown || code >= 4500 || code == close_code::kTokenExpired;
}

}  // namespace

ProtocolMetrics::ProtocolMetrics(metrics::Registry& r)
    : commands(&r.counter("herald_push_commands_total", "Client protocol commands received, by method", {"method"})),
      errors(
          &r.counter("herald_push_command_errors_total", "Client protocol commands refused, by error code", {"code"})),
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
  create_tokens_ = static_cast<double>(ctx_.cfg.push.channels_created_per_minute);
  create_refill_ = now;
  connect_deadline_ = now + ctx_.cfg.push.connect_timeout;
  transport_.set_deadline(connect_deadline_);
}

Client::~Client() {
  leave_hub();
}

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

// Every frame the connection queues passes here: publications, command replies, history,
// presence and inbox pages, error replies alike, so push.send_queue_max_bytes bounds
// them all. Over the bound nothing more is queued, and the next write_or_cut() closes
// the connection as a slow consumer.
void Client::queue(std::string_view frame) {
  if (closing_ || slow_) return;
  if (transport_.queued_bytes() + frame.size() > ctx_.cfg.push.send_queue_max_bytes) {
    slow_ = true;
    return;
  }
  transport_.send(frame);
}

void Client::write_or_cut() {
  if (closing_) return;
  if (slow_) {
    ctx_.metrics.slow_consumers->inc();
    close_with(close_code::kSlowConsumer, "slow_consumer");
    return;
  }
  transport_.flush();
}

bool Client::deliver(const Publication& pub) {
  if (closing_ || slow_) return false;
  queue(pub.frame);
  if (flush_pending_) return false;
  flush_pending_ = true;
  return true;
}

void Client::flush() {
  flush_pending_ = false;
  write_or_cut();
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
  transport_.send(wire::render_disconnect(code, reason, should_reconnect(code)));
  transport_.close(code, reason);
}

void Client::on_write_stalled() {
  if (closing_) return;
  slow_ = true;
  write_or_cut();
}

void Client::on_binary() {
  close_with(close_code::kBadFrame, "bad_frame");
}

void Client::on_deadline(Clock::time_point now) {
  if (closing_) return;
  if (!connected_) {
    if (now >= connect_deadline_)
      close_with(close_code::kConnectTimeout, "connect_timeout");
    else
      transport_.set_deadline(connect_deadline_);
    return;
  }
  if (now >= expires_at_) return close_with(close_code::kTokenExpired, "token_expired");
  drop_subscriptions("token_expired", now, false);
  arm_deadline();
  write_or_cut();
}

void Client::on_text(std::string_view frame) {
  if (closing_) return;
  std::size_t start = 0;
  while (start < frame.size() && !closing_ && !slow_) {
    auto nl = frame.find('\n', start);
    std::string_view line = frame.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty() && line.find_first_not_of(" \t\r") != std::string_view::npos) handle_line(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  write_or_cut();
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

bool Client::may_create(const ChannelName& channel) {
  if (ctx_.hub.channel_exists(who_.app_id, channel.full)) return true;
  auto now = Clock::now();
  const double per_minute = static_cast<double>(ctx_.cfg.push.channels_created_per_minute);
  double elapsed = std::chrono::duration<double>(now - create_refill_).count();
  create_refill_ = now;
  create_tokens_ = std::min(per_minute, create_tokens_ + elapsed * per_minute / 60.0);
  if (create_tokens_ < 1.0) return false;
  create_tokens_ -= 1.0;
  return true;
}

void Client::audit_refusal(Errc code, std::string actor, std::string_view reason, std::string_view user) {
  if (!ctx_.audit) return;
  audit::Event e{"client",
                 "connect",
                 std::string(errc_code(code)),
                 0,
                 std::move(actor),
                 "",
                 std::string(auth::host_of(transport_.remote_address())),
                 {{"reason", std::string(reason)}},
                 {}};
  if (!user.empty()) e.personal.emplace_back("user", std::string(user));
  ctx_.audit->record(std::move(e));
}

void Client::reply_error(std::uint64_t id, Errc code, std::string_view message) {
  ctx_.metrics.errors->with({std::string(errc_code(code))}).inc();
  queue(wire::reply(id, "error", wire::render_error(code, message)));
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
  // The lower of the server's cap and the app's own, where either is set.
  std::int64_t max_life = std::chrono::duration_cast<std::chrono::seconds>(ctx_.cfg.push.max_token_lifetime).count();
  if (app_->max_token_lifetime_s > 0 && (max_life == 0 || app_->max_token_lifetime_s < max_life))
    max_life = app_->max_token_lifetime_s;
  policy.max_lifetime = std::chrono::seconds(max_life);
  policy.issued_after = app_->tokens_issued_after;
  policy.max_skew = std::chrono::duration_cast<std::chrono::seconds>(ctx_.cfg.push.jwt_max_skew);
  policy.max_token_bytes = ctx_.cfg.push.max_token_bytes;
  return auth::verify_jwt(token, app_->client_keys, policy, clock::unix_ms() / 1000);
}

Client::Clock::time_point Client::expiry_of(const auth::JwtClaims& claims, std::int64_t now_s) const {
  // Tokens that mean "never" often say exp 253402300799 (year 9999): in the steady
  // clock's nanoseconds that overflows, so anything beyond a century counts as no exp.
  constexpr std::int64_t kFarFutureSeconds = 100LL * 366 * 24 * 3600;
  if (!claims.exp || *claims.exp - now_s > kFarFutureSeconds) return Clock::time_point::max();
  auto skew = std::chrono::duration_cast<std::chrono::seconds>(ctx_.cfg.push.jwt_max_skew);
  return Clock::now() + std::chrono::seconds(*claims.exp - now_s) + skew;
}

void Client::arm_expiry(const auth::JwtClaims& claims, std::int64_t now_s) {
  expires_at_ = expiry_of(claims, now_s);
  arm_deadline();
}

void Client::arm_deadline() {
  Clock::time_point next = expires_at_;
  for (const auto& s : subs_) next = std::min(next, s->expires_at);
  transport_.set_deadline(next);
}

void Client::drop_subscriptions(std::string_view reason, Clock::time_point now, bool recheck_claims) {
  for (auto it = subs_.begin(); it != subs_.end();) {
    Subscription& s = **it;
    bool keep = true;
    if (s.by_token) {
      keep = now < s.expires_at;
    } else if (recheck_claims) {
      auto channel = parse_channel(s.channel);
      const NamespaceConfig* ns = channel ? ctx_.hub.namespace_config(channel->ns) : nullptr;
      // may_read() counts the subscription itself as a right: judge without it.
      keep = ns && (!channel->personal() || channel->allows_user(who_.user)) &&
             (ns->subscribe == "authenticated" ||
              (ns->subscribe == "claims" &&
               std::find(channels_claim_.begin(), channels_claim_.end(), s.channel) != channels_claim_.end()));
    }
    if (keep) {
      ++it;
      continue;
    }
    ctx_.hub.unsubscribe(who_, s.slot);
    queue(wire::render_unsubscribe_push(s.channel, reason));
    it = subs_.erase(it);
  }
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
    if (!closing_) reply_error(id, Errc::kRateLimited, "more than push.commands_per_second commands");
    return;
  }
  if (id == 0) return reply_error(0, Errc::kBadRequest, "a command needs an integer id from 1 to 4294967295");
  if (methods != 1) return reply_error(id, Errc::kBadRequest, "a command has exactly one method key besides id");
  if (!params) return reply_error(id, Errc::kBadRequest, "the parameters of a method are an object");
  const CommandSpec* spec = find_command(method);
  if (!spec) return reply_error(id, Errc::kUnknownMethod, "no such method");
  ctx_.metrics.commands->with({std::string(method)}).inc();
  dispatch(*spec, id, *params);
}

void Client::dispatch(const CommandSpec& spec, std::uint64_t id, const json::object& params) {
  if (spec.needs_connected && !connected_) return reply_error(id, Errc::kNotConnected, "send connect first");
  if (!spec.needs_channel) return (this->*spec.handler)(Call{id, params});
  auto channel_text = protocol::str_param(params, "channel");
  if (!channel_text) return reply_error(id, Errc::kBadRequest, "a string channel is required");
  auto channel = parse_channel(*channel_text);
  if (!channel) return reply_error(id, channel.error().code, channel.error().message);
  const NamespaceConfig* ns = ctx_.hub.namespace_config(channel->ns);
  if (!ns) return reply_error(id, Errc::kNamespaceNotFound, "the channel's namespace is not configured");
  (this->*spec.handler)(Call{id, params, &*channel, ns});
}

const Client::CommandSpec* Client::find_command(std::string_view name) {
  static constexpr CommandSpec kCommands[] = {
      {"connect", &Client::cmd_connect, false, false},
      {"refresh", &Client::cmd_refresh, true, false},
      {"subscribe", &Client::cmd_subscribe, true, true},
      {"unsubscribe", &Client::cmd_unsubscribe, true, true},
      {"publish", &Client::cmd_publish, true, true},
      {"history", &Client::cmd_history, true, true},
      {"presence", &Client::cmd_presence, true, true},
      {"presence_stats", &Client::cmd_presence_stats, true, true},
      {"ack", &Client::cmd_ack, true, false},
      {"inbox", &Client::cmd_inbox, true, false},
      {"ping", &Client::cmd_ping, true, false},
  };
  for (const auto& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace herald::push
