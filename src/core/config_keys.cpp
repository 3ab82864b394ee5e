// Every configuration key: its name, type, bounds, default binding and one-line doc,
// one function per section (docs/configuration.md lists the same keys).
#include "core/config_keys.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace herald::config_detail {

Error key_error(std::string_view key, std::string_view origin, const std::string& why) {
  return make_error(Errc::kInvalidConfig, std::string(origin) + ": " + std::string(key) + ": " + why);
}

namespace {

Result<std::uint64_t> parse_uint(std::string_view s, std::uint64_t max) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v > max)
    return make_error(Errc::kInvalidNumber, "expected a whole number from 0 to " + std::to_string(max));
  return v;
}

Result<bool> parse_bool(std::string_view s) {
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  return make_error(Errc::kInvalidBool, "expected true or false");
}

template <class Field>
ConfigKey str_key(std::string name, std::string doc, Field field, bool secret = false) {
  return ConfigKey{std::move(name),
                   KeyType::String,
                   std::move(doc),
                   secret,
                   [field](Config& c, std::string_view v) -> Status {
                     field(c) = std::string(v);
                     return ok_status();
                   },
                   [field](const Config& c) { return field(c); }};
}

template <class Field>
ConfigKey choice_key(std::string name, std::string doc, Field field, std::vector<std::string> allowed) {
  return ConfigKey{std::move(name),
                   KeyType::String,
                   std::move(doc),
                   false,
                   [field, allowed](Config& c, std::string_view v) -> Status {
                     if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
                       std::string list;
                       for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
                       return make_error(Errc::kInvalidChoice, "expected one of: " + list);
                     }
                     field(c) = std::string(v);
                     return ok_status();
                   },
                   [field](const Config& c) { return field(c); }};
}

template <class Field>
ConfigKey bool_key(std::string name, std::string doc, Field field) {
  return ConfigKey{std::move(name),
                   KeyType::Bool,
                   std::move(doc),
                   false,
                   [field](Config& c, std::string_view v) -> Status {
                     auto b = parse_bool(v);
                     if (!b) return b.error();
                     field(c) = *b;
                     return ok_status();
                   },
                   [field](const Config& c) -> std::string { return field(c) ? "true" : "false"; }};
}

template <class Field>
ConfigKey uint_key(std::string name, std::string doc, Field field, std::uint64_t min, std::uint64_t max) {
  return ConfigKey{std::move(name),
                   KeyType::Int,
                   std::move(doc),
                   false,
                   [field, min, max](Config& c, std::string_view v) -> Status {
                     auto n = parse_uint(v, max);
                     if (!n) return n.error();
                     if (*n < min) return make_error(Errc::kInvalidNumber, "must be at least " + std::to_string(min));
                     using T = std::remove_reference_t<decltype(field(c))>;
                     field(c) = static_cast<T>(*n);
                     return ok_status();
                   },
                   [field](const Config& c) { return std::to_string(field(c)); }};
}

template <class Field>
ConfigKey duration_key(std::string name, std::string doc, Field field, Millis min) {
  return ConfigKey{std::move(name),
                   KeyType::Duration,
                   std::move(doc),
                   false,
                   [field, min](Config& c, std::string_view v) -> Status {
                     auto d = parse_duration(v);
                     if (!d) return d.error();
                     if (*d < min)
                       return make_error(Errc::kInvalidDuration, "must be at least " + format_duration(min));
                     field(c) = *d;
                     return ok_status();
                   },
                   [field](const Config& c) { return format_duration(field(c)); }};
}

void add_delivery_keys(std::vector<ConfigKey>& k) {
  k.push_back(choice_key("delivery.email_provider", "E-mail provider: log (development) or smtp.",
                         [](auto& c) -> auto& { return c.delivery.email_provider; }, {"log", "smtp"}));
  k.push_back(str_key(
      "delivery.smtp.url", "SMTP server: smtp://host:587 (STARTTLS) or smtps://host:465.",
      [](auto& c) -> auto& { return c.delivery.smtp.url; }));
  k.push_back(str_key(
      "delivery.smtp.username", "SMTP login name; empty for none.",
      [](auto& c) -> auto& { return c.delivery.smtp.username; }));
  k.push_back(str_key(
      "delivery.smtp.password", "SMTP password.", [](auto& c) -> auto& { return c.delivery.smtp.password; }, true));
  k.push_back(str_key(
      "delivery.smtp.from", "From: address of outgoing e-mail.",
      [](auto& c) -> auto& { return c.delivery.smtp.from; }));
  k.push_back(str_key(
      "delivery.smtp.ca_file", "CA bundle that verifies the SMTP server; empty = system store.",
      [](auto& c) -> auto& { return c.delivery.smtp.ca_file; }));
  k.push_back(duration_key(
      "delivery.smtp.timeout", "Time allowed for one SMTP delivery.",
      [](auto& c) -> auto& { return c.delivery.smtp.timeout; }, Millis(100)));
  k.push_back(choice_key("delivery.sms.provider", "SMS provider: log, http (generic) or a preset.",
                         [](auto& c) -> auto& { return c.delivery.sms.provider; },
                         {"log", "http", "twilio", "vonage", "messagebird", "plivo"}));
  k.push_back(str_key(
      "delivery.sms.url", "Provider endpoint (https); {account} is replaced.",
      [](auto& c) -> auto& { return c.delivery.sms.url; }));
  k.push_back(choice_key("delivery.sms.method", "HTTP method of the provider request.",
                         [](auto& c) -> auto& { return c.delivery.sms.method; }, {"POST", "PUT", "GET"}));
  k.push_back(str_key(
      "delivery.sms.headers", "Extra request headers, one \"Name: value\" per line.",
      [](auto& c) -> auto& { return c.delivery.sms.headers; }));
  k.push_back(str_key(
      "delivery.sms.body", "Request body template: {to} {from} {text} {account}.",
      [](auto& c) -> auto& { return c.delivery.sms.body; }));
  k.push_back(choice_key("delivery.sms.content_type", "Body type; decides how placeholders are escaped.",
                         [](auto& c) -> auto& { return c.delivery.sms.content_type; },
                         {"application/json", "application/x-www-form-urlencoded"}));
  k.push_back(choice_key("delivery.sms.auth", "Provider authentication: none, basic or bearer.",
                         [](auto& c) -> auto& { return c.delivery.sms.auth; }, {"none", "basic", "bearer"}));
  k.push_back(str_key(
      "delivery.sms.username", "User (or account id) for basic authentication.",
      [](auto& c) -> auto& { return c.delivery.sms.username; }));
  k.push_back(str_key(
      "delivery.sms.password", "Password (or API secret) for basic authentication.",
      [](auto& c) -> auto& { return c.delivery.sms.password; }, true));
  k.push_back(str_key(
      "delivery.sms.token", "Token for bearer authentication.", [](auto& c) -> auto& { return c.delivery.sms.token; },
      true));
  k.push_back(str_key(
      "delivery.sms.from", "Sender id or number that messages come from.",
      [](auto& c) -> auto& { return c.delivery.sms.from; }));
  k.push_back(str_key(
      "delivery.sms.account", "Provider account id, for {account} in the URL or body.",
      [](auto& c) -> auto& { return c.delivery.sms.account; }));
  k.push_back(str_key(
      "delivery.sms.ca_file", "CA bundle that verifies the provider; empty = system store.",
      [](auto& c) -> auto& { return c.delivery.sms.ca_file; }));
  k.push_back(duration_key(
      "delivery.sms.timeout", "Time allowed for one provider request.",
      [](auto& c) -> auto& { return c.delivery.sms.timeout; }, Millis(100)));
  k.push_back(bool_key(
      "delivery.allow_log_provider",
      "Allow the log provider (which sends nothing) without --dev, e.g. for a staging server.",
      [](auto& c) -> auto& { return c.delivery.allow_log_provider; }));
  k.push_back(uint_key(
      "delivery.workers", "Threads making outbound provider requests.",
      [](auto& c) -> auto& { return c.delivery.workers; }, 1, 256));
  k.push_back(uint_key(
      "delivery.queue_max", "Outbound requests that may wait for a worker; more are refused.",
      [](auto& c) -> auto& { return c.delivery.queue_max; }, 1, 10'000'000));
}

void add_otp_keys(std::vector<ConfigKey>& k) {
  k.push_back(uint_key(
      "otp.code_length", "Digits in a verification code.", [](auto& c) -> auto& { return c.otp.code_length; }, 4, 8));
  k.push_back(duration_key(
      "otp.code_ttl", "How long a code can be verified.", [](auto& c) -> auto& { return c.otp.code_ttl; },
      Millis(10'000)));
  k.push_back(uint_key(
      "otp.max_attempts", "Wrong codes after which a verification is dead.",
      [](auto& c) -> auto& { return c.otp.max_attempts; }, 1, 100));
  k.push_back(duration_key(
      "otp.token_ttl", "How long a success token can be redeemed.", [](auto& c) -> auto& { return c.otp.token_ttl; },
      Millis(10'000)));
  k.push_back(duration_key(
      "otp.resend_cooldown", "Least time between two codes to one recipient.",
      [](auto& c) -> auto& { return c.otp.resend_cooldown; }, Millis(1000)));
  k.push_back(uint_key(
      "otp.per_recipient_per_day", "Codes one recipient may be sent per day (per app).",
      [](auto& c) -> auto& { return c.otp.per_recipient_per_day; }, 1, 1'000'000'000));
  k.push_back(uint_key(
      "otp.per_device_per_day", "Codes one device id may request per day (per app).",
      [](auto& c) -> auto& { return c.otp.per_device_per_day; }, 1, 1'000'000'000));
  k.push_back(uint_key(
      "otp.per_ip_per_hour", "Codes one source address may request per hour (per app).",
      [](auto& c) -> auto& { return c.otp.per_ip_per_hour; }, 1, 1'000'000'000));
  k.push_back(uint_key(
      "otp.per_app_per_minute", "Codes one app may send per minute.",
      [](auto& c) -> auto& { return c.otp.per_app_per_minute; }, 1, 1'000'000'000));
  k.push_back(uint_key(
      "otp.sms_per_prefix_per_hour",
      "SMS codes one app may send per hour to one country calling code (toll-fraud brake).",
      [](auto& c) -> auto& { return c.otp.sms_per_prefix_per_hour; }, 1, 1'000'000'000));
  k.push_back(uint_key(
      "otp.max_pending", "Live verifications held at once; more are refused.",
      [](auto& c) -> auto& { return c.otp.max_pending; }, 1, 100'000'000));
  k.push_back(str_key(
      "otp.test_recipients", "Comma-separated test phone numbers and e-mail addresses (staging).",
      [](auto& c) -> auto& { return c.otp.test_recipients; }));
  k.push_back(bool_key(
      "otp.test_recipients_only", "Staging: refuse every recipient not in otp.test_recipients.",
      [](auto& c) -> auto& { return c.otp.test_recipients_only; }));
  k.push_back(str_key(
      "otp.templates_file", "TOML file of message templates per purpose and locale.",
      [](auto& c) -> auto& { return c.otp.templates_file; }));
}

void add_messages_keys(std::vector<ConfigKey>& k) {
  k.push_back(duration_key(
      "messages.default_ttl", "How long a message waits for its acknowledgement by default.",
      [](auto& c) -> auto& { return c.messages.default_ttl; }, Millis(1000)));
  k.push_back(duration_key(
      "messages.max_ttl", "The longest ttl a message may ask for.", [](auto& c) -> auto& { return c.messages.max_ttl; },
      Millis(1000)));
  k.push_back(duration_key(
      "messages.fallback_after", "Default time without an acknowledgement before each fallback step.",
      [](auto& c) -> auto& { return c.messages.fallback_after; }, Millis(1000)));
  k.push_back(duration_key(
      "messages.retention", "How long a message's status trail and idempotency key outlive its ttl.",
      [](auto& c) -> auto& { return c.messages.retention; }, Millis(0)));
  k.push_back(uint_key(
      "messages.max_data_bytes", "Largest message payload (data, text and subject together).",
      [](auto& c) -> auto& { return c.messages.max_data_bytes; }, 64, 16 * 1024 * 1024));
  k.push_back(uint_key(
      "messages.deliver_on_connect", "Pending messages pushed to a connection right after connect.",
      [](auto& c) -> auto& { return c.messages.deliver_on_connect; }, 0, 10'000));
  k.push_back(uint_key(
      "messages.max_pending", "Unacknowledged, unexpired messages held at once; more are refused.",
      [](auto& c) -> auto& { return c.messages.max_pending; }, 1, 1'000'000'000));
  k.push_back(uint_key(
      "messages.max_pending_per_app",
      "Unacknowledged, unexpired messages one app may hold at once, within messages.max_pending.",
      [](auto& c) -> auto& { return c.messages.max_pending_per_app; }, 1, 1'000'000'000));
  k.push_back(uint_key(
      "messages.connect_replays_per_minute",
      "Times per minute one user's pending messages are pushed on connect; later connects that minute get none.",
      [](auto& c) -> auto& { return c.messages.connect_replays_per_minute; }, 0, 1'000'000));
  k.push_back(uint_key(
      "messages.webhook_max_attempts", "Webhook attempts before a message is dead-lettered.",
      [](auto& c) -> auto& { return c.messages.webhook_max_attempts; }, 1, 100));
  k.push_back(duration_key(
      "messages.webhook_backoff", "Wait before the first webhook retry; doubles per attempt.",
      [](auto& c) -> auto& { return c.messages.webhook_backoff; }, Millis(10)));
  k.push_back(duration_key(
      "messages.webhook_backoff_max", "Longest wait between two webhook attempts.",
      [](auto& c) -> auto& { return c.messages.webhook_backoff_max; }, Millis(10)));
  k.push_back(duration_key(
      "messages.webhook_timeout", "Time allowed for one webhook request.",
      [](auto& c) -> auto& { return c.messages.webhook_timeout; }, Millis(100)));
  k.push_back(uint_key(
      "messages.webhook_workers", "Threads making webhook requests.",
      [](auto& c) -> auto& { return c.messages.webhook_workers; }, 1, 256));
  k.push_back(uint_key(
      "messages.webhook_queue_max", "Webhook requests that may wait for a worker.",
      [](auto& c) -> auto& { return c.messages.webhook_queue_max; }, 1, 10'000'000));
  k.push_back(str_key(
      "messages.webhook_ca_file", "PEM CA bundle that webhook endpoints are verified with, besides the system's.",
      [](auto& c) -> auto& { return c.messages.webhook_ca_file; }));
  k.push_back(duration_key(
      "messages.poll_interval", "How often due fallbacks, retries and expiries are looked for.",
      [](auto& c) -> auto& { return c.messages.poll_interval; }, Millis(10)));
}

void add_server_keys(std::vector<ConfigKey>& k) {
  k.push_back(str_key(
      "server.listen", "Address to listen on (IPv4 or IPv6 literal).",
      [](auto& c) -> auto& { return c.server.listen; }));
  k.push_back(uint_key(
      "server.port", "TCP port for HTTPS and WSS; 0 picks a free port.", [](auto& c) -> auto& { return c.server.port; },
      0, 65535));
  k.push_back(bool_key(
      "server.tls", "Serve TLS. false only behind a TLS-terminating proxy.",
      [](auto& c) -> auto& { return c.server.tls; }));
  k.push_back(str_key(
      "server.tls_cert", "PEM certificate chain file.", [](auto& c) -> auto& { return c.server.tls_cert; }));
  k.push_back(str_key(
      "server.tls_key", "PEM private key file (mode 0600 recommended).",
      [](auto& c) -> auto& { return c.server.tls_key; }));
  k.push_back(str_key(
      "server.tls_key_passphrase", "Passphrase of an encrypted private key file.",
      [](auto& c) -> auto& { return c.server.tls_key_passphrase; }, true));
  k.push_back(uint_key(
      "server.threads", "I/O threads; 0 means one per core.", [](auto& c) -> auto& { return c.server.threads; }, 0,
      256));
  k.push_back(str_key(
      "server.trusted_proxies",
      "Comma-separated CIDRs of proxies trusted to name the client (X-Forwarded-For, PROXY "
      "header); \"none\" when clients connect directly.",
      [](auto& c) -> auto& { return c.server.trusted_proxies; }));
  k.push_back(bool_key(
      "server.proxy_protocol", "Connections from trusted proxies start with a PROXY protocol v1/v2 header.",
      [](auto& c) -> auto& { return c.server.proxy_protocol; }));
  k.push_back(ConfigKey{"server.deployment_id", KeyType::String,
                        "Names this deployment in every v2 request signature (0 to 64 of A-Z a-z 0-9 . _ -); "
                        "give each deployment its own.",
                        false,
                        [](Config& c, std::string_view v) -> Status {
                          bool ok = v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char ch) {
                                      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' ||
                                             ch == '-';
                                    });
                          if (!ok) return make_error(Errc::kInvalidConfig, "expected 0 to 64 of A-Z a-z 0-9 . _ -");
                          c.server.deployment_id = std::string(v);
                          return ok_status();
                        },
                        [](const Config& c) { return c.server.deployment_id; }});
}

// Budgets per client address checked before authentication (auth/source_limiter.h).
void add_source_limit_keys(std::vector<ConfigKey>& k) {
  k.push_back(uint_key(
      "limits.source_requests_per_second",
      "API and admin requests per second from one client address, before authentication; 0 = "
      "no limit.",
      [](auto& c) -> auto& { return c.limits.source_requests_per_second; }, 0, 10'000'000));
  k.push_back(uint_key(
      "limits.source_request_burst", "Requests one client address may send at once.",
      [](auto& c) -> auto& { return c.limits.source_request_burst; }, 1, 100'000'000));
  k.push_back(uint_key(
      "limits.source_refusals_per_second",
      "Unauthenticated refusals per second one client address may earn before its requests are "
      "refused unread; 0 = no limit.",
      [](auto& c) -> auto& { return c.limits.source_refusals_per_second; }, 0, 1'000'000));
  k.push_back(uint_key(
      "limits.source_refusal_burst", "Unauthenticated refusals one client address may earn at once.",
      [](auto& c) -> auto& { return c.limits.source_refusal_burst; }, 1, 1'000'000));
  k.push_back(uint_key(
      "limits.operator_requests_per_second",
      "Operator (status, unseal, seal) requests per second from one client address; 0 = no limit.",
      [](auto& c) -> auto& { return c.limits.operator_requests_per_second; }, 0, 1'000'000));
  k.push_back(uint_key(
      "limits.operator_request_burst", "Operator requests one client address may send at once.",
      [](auto& c) -> auto& { return c.limits.operator_request_burst; }, 1, 1'000'000));
  k.push_back(uint_key(
      "limits.max_sources", "Client addresses whose budgets are tracked at once.",
      [](auto& c) -> auto& { return c.limits.max_sources; }, 16, 100'000'000));
}

void add_limits_keys(std::vector<ConfigKey>& k) {
  k.push_back(uint_key(
      "limits.max_header_bytes", "Largest request header block; larger gets 431.",
      [](auto& c) -> auto& { return c.limits.max_header_bytes; }, 1024, 1 << 20));
  k.push_back(uint_key(
      "limits.max_body_bytes", "Largest request body; larger gets 413.",
      [](auto& c) -> auto& { return c.limits.max_body_bytes; }, 0, 1ULL << 30));
  k.push_back(uint_key(
      "limits.max_ws_message_bytes", "Largest WebSocket message a client may send.",
      [](auto& c) -> auto& { return c.limits.max_ws_message_bytes; }, 125, 1ULL << 26));
  k.push_back(duration_key(
      "limits.handshake_timeout", "Time allowed for the TLS handshake after accept.",
      [](auto& c) -> auto& { return c.limits.handshake_timeout; }, Millis(50)));
  k.push_back(duration_key(
      "limits.read_timeout", "Time allowed to receive one whole request (and to write its response).",
      [](auto& c) -> auto& { return c.limits.read_timeout; }, Millis(50)));
  k.push_back(duration_key(
      "limits.idle_timeout", "Time a keep-alive connection may sit idle between requests.",
      [](auto& c) -> auto& { return c.limits.idle_timeout; }, Millis(50)));
  k.push_back(uint_key(
      "limits.max_connections", "Concurrent connections; more are closed at accept.",
      [](auto& c) -> auto& { return c.limits.max_connections; }, 1, 10'000'000));
  k.push_back(duration_key(
      "limits.shutdown_grace", "On SIGTERM/SIGINT, how long in-flight work may finish before connections are cut.",
      [](auto& c) -> auto& { return c.limits.shutdown_grace; }, Millis(0)));
  k.push_back(uint_key(
      "limits.max_connections_per_source",
      "Concurrent connections from one client address (IPv6: one /64); 0 = no cap.",
      [](auto& c) -> auto& { return c.limits.max_connections_per_source; }, 0, 10'000'000));
  add_source_limit_keys(k);
}

void add_log_keys(std::vector<ConfigKey>& k) {
  k.push_back(choice_key("log.level", "Lowest level logged: trace, debug, info, warn, error.",
                         [](auto& c) -> auto& { return c.log.level; }, {"trace", "debug", "info", "warn", "error"}));
  k.push_back(choice_key("log.format", "text for a terminal, json for a log pipeline.",
                         [](auto& c) -> auto& { return c.log.format; }, {"text", "json"}));
  k.push_back(bool_key(
      "log.access", "Log one line per HTTP request.", [](auto& c) -> auto& { return c.log.access; }));
}

void add_store_keys(std::vector<ConfigKey>& k) {
  k.push_back(choice_key("store.driver", "Durable store: sqlite (embedded) or postgres (shared by a cluster).",
                         [](auto& c) -> auto& { return c.store.driver; }, {"sqlite", "postgres"}));
  k.push_back(str_key(
      "store.data_dir", "Directory for the database and generated files (created 0700).",
      [](auto& c) -> auto& { return c.store.data_dir; }));
  k.push_back(uint_key(
      "store.commit_batch_max", "Most writes folded into one fsync'd transaction.",
      [](auto& c) -> auto& { return c.store.commit_batch_max; }, 1, 1'000'000));
  k.push_back(uint_key(
      "store.readers", "Read connections; more reads than this at once wait for one.",
      [](auto& c) -> auto& { return c.store.readers; }, 1, 64));
  k.push_back(str_key(
      "store.postgres.url", "PostgreSQL connection URL (postgresql://...; sslmode honoured). A secret.",
      [](auto& c) -> auto& { return c.store.postgres.url; }, true));
  k.push_back(uint_key(
      "store.postgres.pool_size", "Read connections to PostgreSQL; the writer has one more.",
      [](auto& c) -> auto& { return c.store.postgres.pool_size; }, 1, 64));
  k.push_back(duration_key(
      "store.postgres.connect_timeout", "Longest wait for a connection to PostgreSQL.",
      [](auto& c) -> auto& { return c.store.postgres.connect_timeout; }, Millis(1000)));
  k.push_back(duration_key(
      "store.postgres.statement_timeout", "Longest a PostgreSQL statement may run before it fails.",
      [](auto& c) -> auto& { return c.store.postgres.statement_timeout; }, Millis(100)));
}

// A node name is a path-safe label: letters, digits, '.', '_' and '-', 1 to 64 of them.
bool valid_node_name(std::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  for (char ch : v)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') return false;
  return true;
}

void add_cluster_keys(std::vector<ConfigKey>& k) {
  ConfigKey name = str_key(
      "cluster.node_name", "This node's name in a cluster (default: the host name).",
      [](auto& c) -> auto& { return c.cluster.node_name; });
  auto set = name.set;
  name.set = [set](Config& c, std::string_view v) -> Status {
    if (!v.empty() && !valid_node_name(v))
      return make_error(Errc::kInvalidChoice, "expected 1 to 64 letters, digits, '.', '_' or '-'");
    return set(c, v);
  };
  k.push_back(std::move(name));
  k.push_back(duration_key(
      "cluster.poll_interval", "How often a node looks for app and key changes made by other nodes.",
      [](auto& c) -> auto& { return c.cluster.poll_interval; }, Millis(50)));
  k.push_back(duration_key(
      "cluster.lease", "How long a node holds a claimed fallback step or webhook attempt.",
      [](auto& c) -> auto& { return c.cluster.lease; }, Millis(1000)));
}

void add_push_keys(std::vector<ConfigKey>& k) {
  k.push_back(duration_key(
      "push.connect_timeout", "Time a WebSocket client has to send `connect` after the upgrade.",
      [](auto& c) -> auto& { return c.push.connect_timeout; }, Millis(50)));
  k.push_back(uint_key(
      "push.max_publication_bytes", "Largest publication `data`, serialised.",
      [](auto& c) -> auto& { return c.push.max_publication_bytes; }, 16, 16ULL << 20));
  k.push_back(uint_key(
      "push.max_subscriptions_per_connection", "Subscriptions one connection may hold.",
      [](auto& c) -> auto& { return c.push.max_subscriptions_per_connection; }, 1, 1'000'000));
  k.push_back(uint_key(
      "push.max_connections_per_user", "Connections one user of an app may hold; 0 = no cap.",
      [](auto& c) -> auto& { return c.push.max_connections_per_user; }, 0, 1'000'000));
  k.push_back(uint_key(
      "push.commands_per_second", "Sustained commands per second one connection may send.",
      [](auto& c) -> auto& { return c.push.commands_per_second; }, 1, 1'000'000));
  k.push_back(uint_key(
      "push.command_burst", "Commands one connection may send at once above the sustained rate.",
      [](auto& c) -> auto& { return c.push.command_burst; }, 1, 1'000'000));
  k.push_back(uint_key(
      "push.send_queue_max_bytes", "Bytes queued for one connection beyond which it is cut off as a slow consumer.",
      [](auto& c) -> auto& { return c.push.send_queue_max_bytes; }, 4096, 1ULL << 32));
  k.push_back(uint_key(
      "push.max_channels", "Channels held in memory at once (with subscribers or history).",
      [](auto& c) -> auto& { return c.push.max_channels; }, 1, 100'000'000));
  k.push_back(uint_key(
      "push.max_channels_per_app",
      "Channels one app may hold at once; its users and back end share it, other apps are unaffected.",
      [](auto& c) -> auto& { return c.push.max_channels_per_app; }, 1, 100'000'000));
  k.push_back(uint_key(
      "push.max_history_bytes_per_app",
      "Bytes of channel history one app may hold in memory, all its channels together; beyond it its "
      "oldest publications leave history early.",
      [](auto& c) -> auto& { return c.push.max_history_bytes_per_app; }, 64 * 1024, 1ULL << 40));
  k.push_back(uint_key(
      "push.channels_created_per_minute",
      "New channels one connection may bring into being per minute (subscribe, publish).",
      [](auto& c) -> auto& { return c.push.channels_created_per_minute; }, 1, 1'000'000));
  k.push_back(uint_key(
      "push.max_presence_clients", "Most entries a presence reply lists.",
      [](auto& c) -> auto& { return c.push.max_presence_clients; }, 1, 1'000'000));
  k.push_back(duration_key(
      "push.jwt_max_skew", "Clock tolerance for a token's exp, nbf and iat.",
      [](auto& c) -> auto& { return c.push.jwt_max_skew; }, Millis(0)));
  k.push_back(duration_key(
      "push.max_token_lifetime",
      "Longest a client JWT may live (exp - iat, or exp - now); apps may set less; 0 = no cap.",
      [](auto& c) -> auto& { return c.push.max_token_lifetime; }, Millis(0)));
  k.push_back(duration_key(
      "push.write_timeout", "Time one WebSocket write may take; a peer that takes nothing for this long is cut off.",
      [](auto& c) -> auto& { return c.push.write_timeout; }, Millis(100)));
  k.push_back(uint_key(
      "push.max_token_bytes", "Largest JWT accepted; larger ones are refused unread.",
      [](auto& c) -> auto& { return c.push.max_token_bytes; }, 256, 1 << 20));
  k.push_back(duration_key(
      "push.write_linger", "How long publications gather before they are written to subscribers (batching).",
      [](auto& c) -> auto& { return c.push.write_linger; }, Millis(0)));
  k.push_back(duration_key(
      "push.write_linger_max", "Longest publications gather before a write pass when the last pass was long (load).",
      [](auto& c) -> auto& { return c.push.write_linger_max; }, Millis(0)));
  k.push_back(choice_key("broker.driver",
                         "Where channel streams and presence live: memory (this node only) or redis (every node).",
                         [](auto& c) -> auto& { return c.broker.driver; }, {"memory", "redis"}));
  k.push_back(str_key(
      "broker.redis.url", "Redis URL (redis:// or rediss:// for TLS; user and password optional). A secret.",
      [](auto& c) -> auto& { return c.broker.redis.url; }, true));
  k.push_back(str_key(
      "broker.redis.tls_ca_file", "CA certificate file a rediss:// server is verified with; empty: the system's.",
      [](auto& c) -> auto& { return c.broker.redis.tls_ca_file; }));
  k.push_back(duration_key(
      "broker.redis.connect_timeout", "Longest wait for a connection to Redis.",
      [](auto& c) -> auto& { return c.broker.redis.connect_timeout; }, Millis(100)));
  k.push_back(duration_key(
      "broker.redis.command_timeout", "Longest wait for a Redis reply; then the command fails and the connection is made again.",
      [](auto& c) -> auto& { return c.broker.redis.command_timeout; }, Millis(10)));
  k.push_back(uint_key(
      "broker.redis.max_queue", "Commands queued or in flight on one Redis connection; beyond it they fail at once.",
      [](auto& c) -> auto& { return c.broker.redis.max_queue; }, 16, 10'000'000));
  k.push_back(uint_key(
      "broker.redis.connections", "Command connections to Redis per node; channels are spread over them.",
      [](auto& c) -> auto& { return c.broker.redis.connections; }, 1, 64));
  k.push_back(duration_key(
      "broker.redis.presence_ttl", "How long a node's presence entries outlive its last refresh (a dead node's vanish then).",
      [](auto& c) -> auto& { return c.broker.redis.presence_ttl; }, Millis(3000)));
}

void add_audit_keys(std::vector<ConfigKey>& k) {
  k.push_back(bool_key(
      "audit.enabled", "Keep the tamper-evident audit log of API calls and security events.",
      [](auto& c) -> auto& { return c.audit.enabled; }));
  k.push_back(uint_key(
      "audit.checkpoint_every", "Sign a checkpoint of the audit tree after this many new entries.",
      [](auto& c) -> auto& { return c.audit.checkpoint_every; }, 1, 100'000'000));
  k.push_back(duration_key(
      "audit.checkpoint_interval", "Sign a checkpoint at least this often while the audit log grows.",
      [](auto& c) -> auto& { return c.audit.checkpoint_interval; }, Millis(1000)));
  k.push_back(duration_key(
      "audit.refusal_interval",
      "Repeated unauthenticated refusals of one address with one code become one entry with a "
      "count per this interval; 0 records each one (not for exposed servers).",
      [](auto& c) -> auto& { return c.audit.refusal_interval; }, Millis(0)));
  k.push_back(str_key(
      "audit.witness_file",
      "Append every signed audit checkpoint to this file (one JSON line, fsync'd); keep it where "
      "the database's writers cannot rewrite it and check with herald audit verify --witness.",
      [](auto& c) -> auto& { return c.audit.witness_file; }));
  k.push_back(str_key(
      "audit.witness_url",
      "POST every signed audit checkpoint (JSON) to this https:// endpoint, in order, retried with backoff "
      "from a thread of its own; http:// only with --dev.",
      [](auto& c) -> auto& { return c.audit.witness_url; }));
  k.push_back(str_key(
      "audit.witness_token_file", "File whose first line is the bearer token sent to audit.witness_url.",
      [](auto& c) -> auto& { return c.audit.witness_token_file; }));
  k.push_back(str_key(
      "audit.witness_ca_file", "CA bundle (PEM) to verify audit.witness_url with; empty = the system store.",
      [](auto& c) -> auto& { return c.audit.witness_ca_file; }));
  k.push_back(duration_key(
      "audit.witness_timeout", "How long one post to audit.witness_url may take, connect to answer.",
      [](auto& c) -> auto& { return c.audit.witness_timeout; }, Millis(100)));
}

void add_metrics_keys(std::vector<ConfigKey>& k) {
  k.push_back(str_key(
      "metrics.token", "Bearer token /metrics requires; empty = none. Prefer metrics.token_file.",
      [](auto& c) -> auto& { return c.metrics.token; }, true));
  k.push_back(str_key(
      "metrics.token_file", "File whose first line is the bearer token /metrics requires.",
      [](auto& c) -> auto& { return c.metrics.token_file; }));
  k.push_back(str_key(
      "metrics.allowed_cidrs", "Comma-separated CIDRs that may read /metrics; empty = any address.",
      [](auto& c) -> auto& { return c.metrics.allowed_cidrs; }));
}

void add_kms_keys(std::vector<ConfigKey>& k) {
  k.push_back(uint_key(
      "kms.max_keys_per_app", "Keys one app may hold in the key service.",
      [](auto& c) -> auto& { return c.kms.max_keys_per_app; }, 1, 1'000'000));
  k.push_back(uint_key(
      "kms.max_versions_per_key", "Versions one key may have (rotations + 1).",
      [](auto& c) -> auto& { return c.kms.max_versions_per_key; }, 1, 1'000'000));
  k.push_back(uint_key(
      "kms.max_versions_per_app",
      "Versions of all of one app's keys together; each holds 32 bytes of secure heap while unsealed.",
      [](auto& c) -> auto& { return c.kms.max_versions_per_app; }, 1, 100'000'000));
  k.push_back(duration_key(
      "kms.deletion_delay",
      "How long a deleted key stays a tombstone (unusable; the admin may cancel) before it is "
      "gone for good. 0 deletes at once.",
      [](auto& c) -> auto& { return c.kms.deletion_delay; }, Millis(0)));
}

void add_api_keys(std::vector<ConfigKey>& k) {
  k.push_back(bool_key(
      "api.require_signature", "Require signed server-API requests. false is refused without --dev (for benchmarks).",
      [](auto& c) -> auto& { return c.api.require_signature; }));
  k.push_back(duration_key(
      "api.signature_window", "How far a signed request's timestamp may be from the server clock.",
      [](auto& c) -> auto& { return c.api.signature_window; }, Millis(1000)));
  k.push_back(uint_key(
      "api.replay_max_nonces", "Nonces remembered at once for replay protection.",
      [](auto& c) -> auto& { return c.api.replay_max_nonces; }, 1000, 100'000'000));
  k.push_back(uint_key(
      "api.replay_max_nonces_per_app",
      "Nonces one app without a rate limit may hold at once (with a rate limit: rate x (2 x window + 3 s)).",
      [](auto& c) -> auto& { return c.api.replay_max_nonces_per_app; }, 100, 100'000'000));
  k.push_back(str_key(
      "api.signature_v1_apps",
      "Comma-separated app ids that may still sign with HERALD-HMAC-SHA256 (v1); others need v2.",
      [](auto& c) -> auto& { return c.api.signature_v1_apps; }));
  k.push_back(duration_key(
      "api.idempotency_ttl", "How long a publish idempotency key is remembered.",
      [](auto& c) -> auto& { return c.api.idempotency_ttl; }, Millis(1000)));
  k.push_back(uint_key(
      "api.idempotency_max_keys", "Idempotency keys remembered at once (oldest forgotten first).",
      [](auto& c) -> auto& { return c.api.idempotency_max_keys; }, 100, 100'000'000));
  k.push_back(uint_key(
      "api.idempotency_max_keys_per_app",
      "Idempotency keys one app may have remembered at once (its oldest forgotten first).",
      [](auto& c) -> auto& { return c.api.idempotency_max_keys_per_app; }, 10, 100'000'000));
  k.push_back(choice_key("api.nonce_store",
                         "Where replay-protection nonces are kept: store (the durable store, so a restart does not "
                         "reopen the window), memory (this process only) or redis (shared by every node).",
                         [](auto& c) -> auto& { return c.api.nonce_store; }, {"store", "memory", "redis"}));
  k.push_back(choice_key("api.rate_limit_store",
                         "Where request rate-limit buckets are kept: memory (this process) or redis (every node).",
                         [](auto& c) -> auto& { return c.api.rate_limit_store; }, {"memory", "redis"}));
  k.push_back(choice_key("api.idempotency_store", "Where publish idempotency keys are kept: memory (this process).",
                         [](auto& c) -> auto& { return c.api.idempotency_store; }, {"memory"}));
}

}  // namespace

std::vector<ConfigKey> build_keys() {
  std::vector<ConfigKey> k;
  add_server_keys(k);
  add_limits_keys(k);
  add_log_keys(k);
  add_store_keys(k);
  add_cluster_keys(k);
  add_push_keys(k);
  add_audit_keys(k);
  add_metrics_keys(k);
  add_api_keys(k);
  add_kms_keys(k);
  add_delivery_keys(k);
  add_otp_keys(k);
  add_messages_keys(k);
  return k;
}

// Namespace options bind to cfg.namespaces[ns], created on first set.
std::vector<ConfigKey> build_namespace_keys(const std::string& ns) {
  std::string p = "namespaces." + ns + ".";
  // Setting an option creates the namespace; reading (render) only visits existing ones.
  auto at = [ns](auto& c) -> auto& {
    if constexpr (std::is_const_v<std::remove_reference_t<decltype(c)>>)
      return c.namespaces.at(ns);
    else
      return c.namespaces[ns];
  };
  std::vector<ConfigKey> k;
  k.push_back(uint_key(
      p + "history_size", "Publications kept per channel for history and recovery; 0 = none.",
      [at](auto& c) -> auto& { return at(c).history_size; }, 0, 1'000'000));
  k.push_back(duration_key(
      p + "history_ttl",
      "How long a publication stays in history.", [at](auto& c) -> auto& { return at(c).history_ttl; }, Millis(1000)));
  k.push_back(
      choice_key(p + "subscribe",
                 "Who may subscribe: authenticated, claims, token.", [at](auto& c) -> auto& { return at(c).subscribe; },
                 {"authenticated", "claims", "token"}));
  k.push_back(choice_key(
      p + "publish",
      "Who may publish: server, subscribers, authenticated.", [at](auto& c) -> auto& { return at(c).publish; },
      {"server", "subscribers", "authenticated"}));
  k.push_back(bool_key(
      p + "presence", "Keep presence (who is subscribed) for channels of this namespace.", [at](auto& c) -> auto& {
        return at(c).presence;
      }));
  k.push_back(uint_key(
      p + "max_subscribers",
      "Subscribers one channel may have; 0 = no cap.", [at](auto& c) -> auto& { return at(c).max_subscribers; }, 0,
      100'000'000));
  return k;
}

}  // namespace herald::config_detail
