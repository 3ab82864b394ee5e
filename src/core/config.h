// Herald's configuration: one struct with a documented key per field. Values come
// from defaults, then a TOML file, then HERALD_* environment variables, then flags.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"
#include "core/result.h"

namespace herald {

struct ServerConfig {
  std::string listen = "127.0.0.1";
  std::uint16_t port = 8443;
  bool tls = true;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_key_passphrase;  // secret: for an encrypted private key file
  int threads = 0;                 // 0 = one I/O thread per core
  // Bound into every HERALD-HMAC-SHA256-v2 signature, so a request signed for one
  // deployment is refused by another holding the same app credentials (docs/signing.md).
  std::string deployment_id;
  // Comma-separated CIDRs of the proxies whose X-Forwarded-For (or PROXY header) names
  // the client; "none" says that clients connect directly. See docs/operations.md.
  std::string trusted_proxies;
  bool proxy_protocol = false;  // trusted peers start each connection with a PROXY v1/v2 header
};

struct LimitsConfig {
  std::uint64_t max_header_bytes = 16 * 1024;
  std::uint64_t max_body_bytes = 1024 * 1024;
  std::uint64_t max_ws_message_bytes = 64 * 1024;
  Millis handshake_timeout{10'000};
  Millis read_timeout{30'000};
  Millis idle_timeout{60'000};
  std::uint64_t max_connections = 18'000;
  std::uint64_t max_connections_per_source = 1000;  // per client address (IPv6: per /64); 0 = no cap
  Millis shutdown_grace{10'000};
  // Per client address, before authentication (0 per second: no limit).
  std::uint64_t source_requests_per_second = 0;  // off: authenticated traffic is limited per app
  std::uint64_t source_request_burst = 4000;
  std::uint64_t source_refusals_per_second = 1;  // unauthenticated refusals
  std::uint64_t source_refusal_burst = 30;
  std::uint64_t operator_requests_per_second = 1;  // /admin/v1/operator/*
  std::uint64_t operator_request_burst = 20;
  std::uint64_t max_sources = 100'000;  // client addresses tracked at once
};

struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error
  std::string format = "text";  // text or json
  bool access = true;           // one line per HTTP request
};

// The shared store of a cluster (store.driver = "postgres").
struct PostgresStoreConfig {
  std::string url;              // postgresql://...; a secret (may hold the password)
  std::uint64_t pool_size = 4;  // read connections; the writer has one more
  Millis connect_timeout{5'000};
  Millis statement_timeout{10'000};
};

struct StoreConfig {
  std::string driver = "sqlite";
  std::string data_dir = "./data";
  std::uint64_t commit_batch_max = 4096;  // writes folded into one fsync'd transaction
  std::uint64_t readers = 4;              // read connections (WAL readers run side by side)
  PostgresStoreConfig postgres;
};

// Several nodes on one database (docs/cluster.md).
struct ClusterConfig {
  std::string node_name;       // empty: the host name; names this node's audit log and leases
  Millis poll_interval{1000};  // how often a node looks for app and key changes other nodes made
  Millis lease{30'000};        // how long a claimed fallback step or webhook attempt stays this node's
};

// Options of one channel namespace (`[namespaces.<name>]`); see docs/configuration.md.
struct NamespaceConfig {
  std::uint64_t history_size = 0;           // publications kept per channel for history and recovery
  Millis history_ttl{300'000};              // how long a publication stays in history
  std::string subscribe = "authenticated";  // authenticated | claims | token
  std::string publish = "server";           // server | subscribers | authenticated
  bool presence = false;
  std::uint64_t max_subscribers = 0;  // per channel; 0 = no cap
};

struct PushConfig {
  Millis connect_timeout{10'000};
  std::uint64_t max_publication_bytes = 64 * 1024;
  std::uint64_t max_subscriptions_per_connection = 128;
  std::uint64_t max_connections_per_user = 64;  // per app; 0 = no cap
  std::uint64_t commands_per_second = 100;
  std::uint64_t command_burst = 200;
  std::uint64_t send_queue_max_bytes = 1024 * 1024;
  std::uint64_t max_channels = 1'000'000;
  std::uint64_t max_channels_per_app = 100'000;  // one tenant's share of max_channels
  // One tenant's share of history memory: beyond it its oldest publications leave history
  // early, whatever their channel (push/memory_broker.cpp).
  std::uint64_t max_history_bytes_per_app = 64ULL * 1024 * 1024;
  std::uint64_t channels_created_per_minute = 120;  // new channels one connection may bring into being
  std::uint64_t max_presence_clients = 1000;
  Millis jwt_max_skew{30'000};
  Millis max_token_lifetime{86'400'000};  // longest a client JWT may live (exp - iat, exp - now); 0 = no cap
  Millis write_timeout{30'000};           // a WebSocket write not done by then cuts the connection
  std::uint64_t max_token_bytes = 8192;
  // Publications gather at least write_linger (and, under load, as long as the last
  // write pass took, up to write_linger_max) before a pass writes them.
  Millis write_linger{2};
  Millis write_linger_max{50};
};

// Where channel streams and presence live (push/broker.h); "memory" is one node's own.
struct RedisConfig {
  // redis://[[user]:password@]host[:port][/db] or rediss:// (TLS); a secret (may hold the password).
  std::string url;
  std::string tls_ca_file;        // rediss://: CA file to verify the server with; empty: the system's CAs
  Millis connect_timeout{2'000};
  Millis command_timeout{2'000};  // a command not answered by then fails (broker_unavailable)
  std::uint64_t max_queue = 10'000;  // commands queued or in flight per connection
  std::uint64_t connections = 2;     // command connections per node (publishes spread over them by channel)
  Millis presence_ttl{60'000};       // a presence entry its node stops refreshing vanishes after this
};

struct BrokerConfig {
  std::string driver = "memory";  // memory | redis
  RedisConfig redis;
};

struct ApiConfig {
  bool require_signature = true;  // false only with --dev, to measure what signing costs
  Millis signature_window{300'000};
  std::uint64_t replay_max_nonces = 1'000'000;
  std::uint64_t replay_max_nonces_per_app = 100'000;  // for apps without a rate limit
  Millis idempotency_ttl{86'400'000};
  std::uint64_t idempotency_max_keys = 100'000;
  std::uint64_t idempotency_max_keys_per_app = 10'000;
  // App ids still allowed to sign with HERALD-HMAC-SHA256 (v1), comma-separated; every
  // other app must use v2, which binds server.deployment_id.
  std::string signature_v1_apps;
  // Where replay nonces, rate-limit buckets and idempotency claims live: "memory" (this
  // process) is the only store today; cluster mode adds a shared one.
  std::string nonce_store = "store";  // store | memory | redis
  std::string rate_limit_store = "memory";  // memory | redis
  std::string idempotency_store = "memory";
};

// The key service's per-app bounds and the delay before a key deletion takes effect.
struct KmsConfig {
  std::uint64_t max_keys_per_app = 100;
  std::uint64_t max_versions_per_key = 100;
  std::uint64_t max_versions_per_app = 1000;  // each is 32 bytes of secure heap while unsealed
  Millis deletion_delay{7LL * 86'400'000};
};

struct AuditConfig {
  bool enabled = true;
  std::uint64_t checkpoint_every = 1000;  // entries
  Millis checkpoint_interval{60'000};
  // Repeated unauthenticated refusals of one source with one code are recorded as one
  // entry with a count per interval (the first of each interval is recorded at once);
  // 0 records every one.
  Millis refusal_interval{60'000};
  std::string witness_file;  // every signed checkpoint appended here (fsync'd); empty: none
  // Every signed checkpoint POSTed here (https://; http:// only with --dev), in order,
  // from a thread of its own; empty: none.
  std::string witness_url;
  std::string witness_token_file;  // first line: the bearer token the witness URL requires
  std::string witness_ca_file;     // CA bundle to verify the witness with; empty = system store
  Millis witness_timeout{10'000};  // one attempt, connect to answer
};

// Who may read /metrics: a bearer token and/or client CIDRs (both when both are set).
struct MetricsConfig {
  std::string token;          // secret
  std::string token_file;     // a file holding the token (first line)
  std::string allowed_cidrs;  // comma-separated; empty = any address
};

// Outbound e-mail (SMTP) for verification codes and message fallback; docs/delivery.md.
struct SmtpConfig {
  std::string url;  // smtp://host:587 (STARTTLS required) or smtps://host:465 (implicit TLS)
  std::string username;
  std::string password;  // secret
  std::string from;      // envelope and header From: address
  std::string ca_file;   // CA bundle to verify the server with; empty = system store
  Millis timeout{10'000};
};

// Outbound SMS through an HTTP provider API; `provider` names a preset or `http`.
struct SmsConfig {
  std::string provider = "log";  // log | http | twilio | vonage | messagebird | plivo
  std::string url;               // https://...; placeholders {account}
  std::string method = "POST";
  std::string headers;  // "Name: value" lines separated by newlines
  std::string body;     // template with {to} {from} {text} {account}
  std::string content_type = "application/json";
  std::string auth = "none";  // none | basic | bearer
  std::string username;
  std::string password;  // secret
  std::string token;     // secret
  std::string from;
  std::string account;
  std::string ca_file;
  Millis timeout{10'000};
};

struct DeliveryConfig {
  std::string email_provider = "log";  // log | smtp
  SmtpConfig smtp;
  SmsConfig sms;
  std::uint64_t workers = 4;         // threads making outbound requests
  std::uint64_t queue_max = 10'000;  // outbound requests waiting for a worker
  bool allow_log_provider = false;   // outside --dev the `log` provider (which sends nothing) is refused without it
};

// Verification codes (docs/otp.md). Every limit has a default and none can be switched off.
struct OtpConfig {
  std::uint64_t code_length = 6;
  Millis code_ttl{300'000};
  std::uint64_t max_attempts = 5;
  Millis token_ttl{600'000};
  Millis resend_cooldown{60'000};
  std::uint64_t per_recipient_per_day = 10;
  std::uint64_t per_device_per_day = 10;
  std::uint64_t per_ip_per_hour = 30;
  std::uint64_t per_app_per_minute = 100;
  std::uint64_t sms_per_prefix_per_hour = 300;  // per app and country calling code
  std::uint64_t max_pending = 1'000'000;        // live verifications held at once
  std::string test_recipients;                  // comma-separated phone numbers / e-mail addresses
  bool test_recipients_only = false;            // staging: refuse every other recipient
  std::string templates_file;                   // TOML file of message templates per purpose and locale
};

// Messages to users: inbox, acknowledgements, fallback (docs/messages.md).
struct MessagesConfig {
  Millis default_ttl{7LL * 86'400'000};
  Millis max_ttl{30LL * 86'400'000};
  Millis fallback_after{300'000};      // T when neither the message nor the app names one
  Millis retention{7LL * 86'400'000};  // rows kept after their ttl (status trail, idempotency keys)
  std::uint64_t max_data_bytes = 65'536;
  std::uint64_t deliver_on_connect = 100;
  std::uint64_t max_pending = 10'000'000;         // unacknowledged messages held at once
  std::uint64_t max_pending_per_app = 1'000'000;  // of those, by one app
  std::uint64_t connect_replays_per_minute = 6;   // deliver-on-connect replays per user
  std::uint64_t webhook_max_attempts = 8;
  Millis webhook_backoff{1000};
  Millis webhook_backoff_max{3'600'000};
  Millis webhook_timeout{10'000};
  std::uint64_t webhook_workers = 4;
  std::uint64_t webhook_queue_max = 10'000;
  std::string webhook_ca_file;
  Millis poll_interval{200};
};

struct Config {
  Config();  // adds the `default` namespace
  ServerConfig server;
  LimitsConfig limits;
  LogConfig log;
  StoreConfig store;
  PushConfig push;
  BrokerConfig broker;
  ApiConfig api;
  AuditConfig audit;
  KmsConfig kms;
  MetricsConfig metrics;
  DeliveryConfig delivery;
  OtpConfig otp;
  MessagesConfig messages;
  ClusterConfig cluster;
  std::map<std::string, NamespaceConfig> namespaces;
};

enum class KeyType { String, Bool, Int, Duration };

// One documented configuration key. `name` is the dotted TOML path; the environment
// variable is HERALD_ + name upper-cased with dots as underscores; the flag is --name.
struct ConfigKey {
  std::string name;
  KeyType type;
  std::string doc;
  bool secret = false;
  std::function<Status(Config&, std::string_view)> set;
  std::function<std::string(const Config&)> get;
};

// The fixed keys. Namespace options are keys too (`namespaces.<name>.<option>`), made
// on demand by lookup_config_key for any valid namespace name.
const std::vector<ConfigKey>& config_keys();
const ConfigKey* find_config_key(std::string_view name);
std::optional<ConfigKey> lookup_config_key(std::string_view name);
// The options a namespace takes, as keys named `namespaces.<ns>.<option>`.
std::vector<ConfigKey> namespace_keys(const std::string& ns);
bool valid_namespace_name(std::string_view name);
std::string env_name_for(std::string_view key);

// Layers a config. Each step fails with an error naming the offending key.
class ConfigLoader {
 public:
  explicit ConfigLoader(Config& cfg) : cfg_(cfg) {}
  Status load_toml_file(const std::string& path);
  Status load_toml_string(std::string_view text, std::string_view origin);
  // `env` is a list of NAME=VALUE strings (environ); HERALD_CONFIG is not a key.
  Status load_env(const std::vector<std::string>& env);
  Status set(std::string_view key, std::string_view value, std::string_view origin);

 private:
  Config& cfg_;
};

// Checks that hang across keys (TLS files present when TLS is on, and so on).
Status validate(const Config& cfg, bool dev);

// The effective configuration as TOML, secrets shown as "<redacted>".
std::string render_config(const Config& cfg);
// `cluster.node_name`, or when it is empty the host name (made path-safe: any other
// character becomes '-', at most 64).
std::string node_name(const ClusterConfig& cfg);

}  // namespace herald
