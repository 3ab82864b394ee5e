// The Node: one running Herald server. It owns every component, builds them in
// dependency order, wires them together, starts their threads, and stops them in reverse.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "api/router.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/periodic_thread.h"
#include "core/result.h"

namespace herald::store {
class Store;
enum class ChangeKind;
}  // namespace herald::store
namespace herald::kms {
class KeyService;
}
namespace herald::apps {
class AppStore;
}
namespace herald::audit {
class Log;
class RefusalAggregator;
}  // namespace herald::audit
namespace herald::delivery {
class Senders;
class WebhookSender;
}  // namespace herald::delivery
namespace herald::otp {
class OtpService;
}
namespace herald::messages {
class MessageService;
}
namespace herald::auth {
class NonceStore;
class RateLimiter;
}  // namespace herald::auth
namespace herald::api {
class ServerAuth;
class IdempotencyCache;
class SourceGate;
}  // namespace herald::api
namespace herald::net {
class Gateway;
}
namespace herald::push {
class Hub;
struct ProtocolMetrics;
struct ClientContext;
}  // namespace herald::push

namespace herald::server {

struct NodeOptions {
  bool dev = false;     // development mode: e-mail and SMS are logged, not sent
  std::string version;  // reported by /healthz, the metrics and the client protocol
};

// Lifecycle, in three steps, each called once from one thread:
//   open()  — the store and the domain services, wired to the key service (sealed);
//             no listening socket yet. Between open() and start() the bootstrap may
//             unseal the key service, create apps and change config() (the certificate).
//   start() — the routes, the gateway and the hub; then every thread below starts.
//   stop()  — stops and joins everything started, in reverse order; idempotent, and
//             safe after a failed open() or start(). The destructor calls it.
//
// Threads a started Node runs (docs/operations.md, "Threads"):
//   - I/O workers, server.threads of them (default: one per core): every connection,
//     HTTP and WebSocket, lives on one; the hub's shards are these threads.
//   - the acceptor: not a thread of its own, a coroutine on the first I/O worker.
//   - hub maintenance: history expiry and idle-channel sweep, every second.
//   - message scheduler: expiries, fallback steps, webhook retries (messages.poll_interval).
//   - message sync: on PostgreSQL, other nodes' messages into the inbox index and the
//     sequence slot's lease (cluster.poll_interval); idle on SQLite.
//   - inbox readers, 2: the store reads of the client protocol's connect, ack and inbox,
//     so that no I/O worker waits on the store (answers are posted back to the shard).
//   - OTP purger: ends expired verifications and counters, every 10 s.
//   - audit checkpointer: signs a checkpoint when one is due (only with audit.enabled).
//   - audit witness poster: posts checkpoints to audit.witness_url, in order (only with it).
//   - store writer (group commit) and store completer (runs the write callbacks).
//   - the store's change feed (postgres only): reloads what other nodes changed.
//   - delivery workers, delivery.workers of them: blocking e-mail and SMS sends.
//   - webhook workers, messages.webhook_workers of them: fallback webhooks.
// Not the Node's: the log writer (log::init, in the process before the Node) and the
// main thread, which waits for the shutdown signal.
class Node {
 public:
  Node(Config cfg, NodeOptions opts);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Opens the store and builds the services. A failure is logged (with the event name
  // operators know) and returned.
  Status open();
  // Builds the API and the transport around `admin_token_sha256` (the raw digest of the
  // admin token), binds the port and starts the threads. A failure is logged and returned.
  Status start(const std::string& admin_token_sha256);
  void stop();

  // For the bootstrap between open() and start(), and for tests.
  Config& config() { return cfg_; }  // may change until start(); the gateway reads it then
  store::Store& store() { return *store_; }
  kms::KeyService& keys() { return *keys_; }
  apps::AppStore& apps() { return *apps_; }
  audit::Log* audit() { return audit_.get(); }  // null without audit.enabled

  // Once started: the bound port (useful with server.port = 0) and the base URL,
  // e.g. "https://127.0.0.1:8443".
  std::uint16_t port() const;
  std::string url() const;

 private:
  Status open_services();
  void add_routes(const std::string& admin_token_sha256);
  void add_edge_guards();
  void connect_transport();
  void start_background();
  void stop_audit();
  // The key service's hooks: apps and secrets live in memory only while it is unsealed.
  Status on_unsealed();
  void on_sealed();
  // The store's change feed: another node (or this one) changed `app_id`'s apps, keys or
  // delivery settings; reload them. False if the store did not answer (the feed retries).
  bool on_store_change(store::ChangeKind kind, const std::string& app_id);
  // Reloads app `id` (empty: all) and closes the connections a suspend, a delete or a
  // revoked client key ends, as the admin API does on the node that made the change.
  Status reload_apps(const std::string& id);

  const NodeOptions opts_;
  Config cfg_;
  metrics::Registry registry_;

  // Domain: each needs only what is declared above it.
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<kms::KeyService> keys_;
  std::unique_ptr<apps::AppStore> apps_;
  std::unique_ptr<audit::Log> audit_;
  std::unique_ptr<delivery::Senders> senders_;
  std::unique_ptr<otp::OtpService> otp_;
  std::unique_ptr<delivery::WebhookSender> webhooks_;
  std::unique_ptr<messages::MessageService> messages_;

  // API: request authentication and the routes over the services.
  std::unique_ptr<auth::NonceStore> nonces_;
  std::unique_ptr<auth::RateLimiter> rates_;
  std::unique_ptr<api::ServerAuth> server_auth_;
  std::unique_ptr<api::IdempotencyCache> idempotency_;
  std::unique_ptr<api::SourceGate> source_gate_;  // per-address budgets before authentication
  std::unique_ptr<audit::RefusalAggregator> refusals_;
  PeriodicThread refusal_flusher_;
  api::Router router_;

  // Transport. The gateway comes before the hub because the hub's shards are the
  // gateway's I/O threads (its executor); stop() shuts the gateway down first, so no
  // session outlives the hub, and the hub goes before the executor it posts to.
  std::unique_ptr<net::Gateway> gateway_;
  std::unique_ptr<push::Hub> hub_;
  std::unique_ptr<push::ProtocolMetrics> protocol_metrics_;
  std::unique_ptr<push::ClientContext> client_ctx_;

  // The hub once started, for the change feed's thread (null before start and from stop).
  std::atomic<push::Hub*> live_hub_{nullptr};
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace herald::server
