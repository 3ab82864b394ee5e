// Construction, wiring and shutdown of a Node. Every cross-component reference is made
// here, after both ends exist and before any thread that could use it starts.
#include "server/node.h"

#include <openssl/crypto.h>
#include <chrono>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "api/admin_routes.h"
#include "api/audit_routes.h"
#include "api/idempotency.h"
#include "api/kms_routes.h"
#include "api/message_routes.h"
#include "api/otp_routes.h"
#include "api/server_auth.h"
#include "api/server_routes.h"
#include "api/source_gate.h"
#include "api/system_routes.h"
#include "apps/app_store.h"
#include "audit/log.h"
#include "audit/refusal_aggregator.h"
#include "auth/ip_allowlist.h"
#include "auth/rate_limiter.h"
#include "auth/replay_guard.h"
#include "core/clock.h"
#include "core/log.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "delivery/https_post.h"
#include "delivery/sender.h"
#include "delivery/webhook.h"
#include "kms/key_service.h"
#include "messages/message_service.h"
#include "net/gateway.h"
#include "otp/otp_service.h"
#include "push/client.h"
#include "push/hub.h"
#include "store/store.h"

namespace herald::server {
namespace {

constexpr auto kOtpPurgeInterval = std::chrono::seconds(10);
// Tombstoned keys are deleted for good within this long of their time (kms.deletion_delay).
constexpr auto kKeyPurgeInterval = std::chrono::seconds(10);
// How long stop() waits for the audit entries already appended to reach the disk
// before it signs the final checkpoint.
constexpr auto kAuditFlushTimeout = std::chrono::milliseconds(500);

// A seam's implementation from its factory. The config loader already refused unknown
// drivers, so a failure here is a start-up failure (start() reports it).
template <class T>
std::unique_ptr<T> take(Result<std::unique_ptr<T>> made, const char* key) {
  if (!made) throw std::runtime_error(std::string(key) + ": " + made.error().message);
  return std::move(*made);
}

Status ensure_instance_id(store::Store& s) {
  auto existing = s.get_meta("instance_id");
  if (!existing) return existing.error();
  if (existing->has_value()) return ok_status();
  std::string id = crypto::random_hex(16);
  return store::wait_for([&](store::Completion done) { s.put_meta("instance_id", id, std::move(done)); });
}

// Logs a start-up failure under the event name operators know, and passes it on.
Status failed(const char* event, const Error& e) {
  log::error(event, {{"error", e.message}});
  return e;
}

// Every answered call of the server, key and admin APIs, refusals included; bodies
// (which may hold secrets or shares) are never recorded. The request id is the server's;
// the client's own X-Request-Id is a detail beside it.
audit::Event audit_event(const api::Exchange& e) {
  audit::Event ev{e.route.rfind("/admin/", 0) == 0 ? "admin" : "api",
                  std::string(e.method) + " " + std::string(e.route),
                  e.error_code.empty() ? "ok" : std::string(e.error_code),
                  e.status,
                  std::string(e.actor),
                  std::string(e.request_id),
                  std::string(auth::host_of(e.remote)),
                  {},
                  {}};
  if (!e.client_request_id.empty()) ev.details.emplace_back("client_request_id", std::string(e.client_request_id));
  return ev;
}

// metrics.token or the first line of metrics.token_file, as its SHA-256 (the token
// itself is kept nowhere). Throws on an unreadable file, naming only the file.
std::string metrics_token_digest(const MetricsConfig& m) {
  std::string token = m.token;
  if (!m.token_file.empty()) {
    std::ifstream in(m.token_file);
    if (!in || !std::getline(in, token)) throw std::runtime_error("metrics.token_file: cannot read " + m.token_file);
    if (!token.empty() && token.back() == '\r') token.pop_back();
    if (token.empty()) throw std::runtime_error("metrics.token_file: " + m.token_file + " is empty");
  }
  std::string digest = token.empty() ? std::string() : crypto::sha256(token);
  OPENSSL_cleanse(token.data(), token.size());
  return digest;
}

// The poster of audit.witness_url: libcurl on the witness queue's thread. The token is
// read once, into secure memory; a file that cannot be read fails the start.
audit::WitnessPoster witness_poster(const AuditConfig& a, bool dev) {
  if (a.witness_url.empty()) return {};
  auto token = std::make_shared<crypto::SecretBytes>();
  if (!a.witness_token_file.empty()) {
    std::ifstream in(a.witness_token_file);
    std::string line;
    if (!in || !std::getline(in, line))
      throw std::runtime_error("audit.witness_token_file: cannot read " + a.witness_token_file);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    *token = crypto::SecretBytes(std::string_view(line));
    OPENSSL_cleanse(line.data(), line.size());
    if (token->empty()) throw std::runtime_error("audit.witness_token_file: " + a.witness_token_file + " is empty");
  }
  return [url = a.witness_url, ca = a.witness_ca_file, timeout = a.witness_timeout.count(), dev,
          token](const std::string& body) {
    return delivery::post_json(delivery::JsonPost{url, body, token->view(), ca, static_cast<long>(timeout), dev});
  };
}

auth::IpAllowlist metrics_allowlist(const MetricsConfig& m) {
  std::vector<auth::Cidr> blocks;
  std::string_view list = m.allowed_cidrs;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    auto item = list.substr(start, comma == std::string_view::npos ? list.npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) {
      auto c = auth::parse_cidr(item);
      if (!c) throw std::runtime_error("metrics.allowed_cidrs: " + c.error().message);
      blocks.push_back(*c);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return auth::IpAllowlist(std::move(blocks));
}

}  // namespace

Node::Node(Config cfg, NodeOptions opts) : opts_(std::move(opts)), cfg_(std::move(cfg)) {
  registry_.gauge("herald_build_info", "Build information; the value is 1", {"version"}).with({opts_.version}).set(1);
}

Node::~Node() {
  stop();
}

Status Node::open() {
  if (!cfg_.server.tls) {
    log::warn("tls_disabled",
              {{"message", "serving plain HTTP; only behind a TLS-terminating proxy"}, {"listen", cfg_.server.listen}});
  }
  auto opened = store::open_store(cfg_, &registry_);
  if (!opened) return failed("store_open_failed", opened.error());
  store_ = std::move(*opened);
  if (auto st = ensure_instance_id(*store_); !st) return failed("store_write_failed", st.error());

  // The key service: sealed until K shares are in. Apps and their secrets load at unseal.
  keys_ = std::make_unique<kms::KeyService>(
      *store_, &registry_,
      kms::KeyServiceOptions{static_cast<std::uint32_t>(cfg_.kms.max_keys_per_app),
                             static_cast<std::uint32_t>(cfg_.kms.max_versions_per_key),
                             static_cast<std::uint32_t>(cfg_.kms.max_versions_per_app),
                             cfg_.kms.deletion_delay.count(),
                             {}});
  apps_ = std::make_unique<apps::AppStore>(store_->apps(), *keys_, &registry_);
  if (cfg_.audit.enabled) {
    audit::LogOptions lo{
        cfg_.audit.checkpoint_every, cfg_.audit.checkpoint_interval.count(), cfg_.audit.witness_file, {}, {}};
    lo.ride_out_store_outage = cfg_.store.driver == "postgres";
    try {
      lo.witness_poster = witness_poster(cfg_.audit, opts_.dev);
    } catch (const std::exception& e) {
      return failed("audit_open_failed", make_error(Errc::kInvalidConfig, e.what()));
    }
    audit_ = std::make_unique<audit::Log>(*store_, *keys_, std::move(lo), &registry_);
    if (auto st = audit_->open(); !st) return failed("audit_open_failed", st.error());
  }
  if (auto st = open_services(); !st) return st;
  keys_->on_unsealed([this] { return on_unsealed(); });
  keys_->on_sealed([this] { on_sealed(); });
  // Before anything is loaded: every change committed from now on is reported.
  store_->changes().start(
      [this](store::ChangeKind kind, const std::string& app_id) { return on_store_change(kind, app_id); },
      cfg_.cluster.poll_interval);
  return ok_status();
}

bool Node::on_store_change(store::ChangeKind kind, const std::string& app_id) {
  if (keys_->sealed()) return true;  // nothing is held while sealed; the unseal reads it all
  Status st = ok_status();
  switch (kind) {
    case store::ChangeKind::kAll:
      st = keys_->reload_keys();
      if (st) st = reload_apps("");
      if (st) st = messages_->reload_settings();
      if (st) st = otp_->reload_blocklist();
      break;
    case store::ChangeKind::kKmsKey:
      st = keys_->reload_keys(app_id);
      break;
    case store::ChangeKind::kApp:
      st = reload_apps(app_id);
      break;
    case store::ChangeKind::kMessageSettings:
    case store::ChangeKind::kMessageTemplate:
      st = messages_->reload_settings();
      break;
    case store::ChangeKind::kOtpBlocklist:
      st = otp_->reload_blocklist();
      break;
  }
  if (st || st.error().code == Errc::kSealed) return true;
  log::warn("cluster_reload_failed",
            {{"kind", std::string(store::change_kind_name(kind))}, {"app", app_id}, {"error", st.error().message}});
  return false;
}

Status Node::reload_apps(const std::string& id) {
  auto events = apps_->reload(id);
  if (!events) return events.error();
  push::Hub* hub = live_hub_.load();
  if (!hub) return ok_status();  // not serving yet: no connection to close
  for (const auto& e : *events) {
    if (e.disabled)
      hub->disconnect_app(e.id, push::close_code::kDisconnectedByServer, "app_disabled");
    else if (e.tokens_revoked)
      hub->disconnect_app(e.id, push::close_code::kTokenExpired, "token_revoked");
  }
  return ok_status();
}

// Outbound e-mail and SMS, the verification-code service that uses them, and messages
// to users with the webhook channel of their fallback.
Status Node::open_services() {
  auto senders = delivery::make_senders(cfg_.delivery, opts_.dev, &registry_);
  if (!senders) return failed("delivery_config_invalid", senders.error());
  senders_ = std::move(*senders);
  otp::Templates otp_templates;
  if (!cfg_.otp.templates_file.empty()) {
    auto t = otp::Templates::load_file(cfg_.otp.templates_file);
    if (!t) return failed("otp_templates_invalid", t.error());
    otp_templates = std::move(*t);
  }
  // Each send adds at most five counters; four per held verification bounds them well.
  otp_ = std::make_unique<otp::OtpService>(cfg_.otp, *store_, *keys_, senders_.get(),
                                           otp::make_memory_limit_counters(4 * cfg_.otp.max_pending + 1024),
                                           std::move(otp_templates), &registry_);
  webhooks_ = std::make_unique<delivery::WebhookSender>(cfg_.messages.webhook_workers, cfg_.messages.webhook_queue_max,
                                                        &registry_);
  messages_ = std::make_unique<messages::MessageService>(
      cfg_.messages, *store_, *keys_, senders_.get(),
      [this](delivery::WebhookRequest req, std::function<void(delivery::WebhookOutcome)> done) {
        webhooks_->send(std::move(req), std::move(done));
      },
      &registry_);
  messages_->set_lease(node_name(cfg_.cluster), cfg_.cluster.lease);
  messages_->set_cluster(node_name(cfg_.cluster), cfg_.cluster.poll_interval, cfg_.cluster.lease);
  return ok_status();
}

Status Node::on_unsealed() {
  if (auto st = apps_->load(); !st) return st;
  if (auto st = otp_->load(); !st) return st;
  if (auto st = messages_->load(); !st) return st;
  if (audit_) return audit_->prepare_signing();
  return ok_status();
}

void Node::on_sealed() {
  apps_->unload();
  otp_->unload();
  messages_->unload();
  // Only the API can seal, and it is served only once start() has made the hub, so a
  // null hub here means there is no connection to close.
  if (hub_) hub_->disconnect_all(push::close_code::kSealed, "sealed");
}

Status Node::start(const std::string& admin_token_sha256) {
  try {
    gateway_ = std::make_unique<net::Gateway>(cfg_, router_, registry_);
    hub_ = std::make_unique<push::Hub>(cfg_, gateway_->executor(), registry_);
    add_routes(admin_token_sha256);
    connect_transport();
    gateway_->start();
  } catch (const std::exception& e) {
    log::error("gateway_start_failed", {{"error", e.what()}});
    return make_error(Errc::kGatewayStartFailed, e.what());
  }
  started_ = true;
  live_hub_ = hub_.get();
  log::info("listening", {{"url", url()}, {"port", port()}, {"tls", cfg_.server.tls}});
  start_background();
  return ok_status();
}

void Node::add_routes(const std::string& admin_token_sha256) {
  // Each node of a cluster answers for itself: sealed on its own, cut off from the
  // database on its own.
  std::vector<api::ReadinessCheck> readiness{{"store", [this] { return store_->healthy(); }},
                                             {"kms", [this] { return !keys_->sealed(); }, "sealed"},
                                             {"accepting", [this] { return !gateway_->draining(); }}};
  // Audited routes are refused while the log cannot write (fail closed).
  if (audit_) readiness.push_back({"audit", [this] { return audit_->writable(); }});
  api::add_system_routes(router_,
                         api::SystemRoutesDeps{&registry_, std::move(readiness), opts_.version,
                                               metrics_token_digest(cfg_.metrics), metrics_allowlist(cfg_.metrics)});
  router_.add_websocket("/ws");
  router_.set_sealed_check([this] { return keys_->sealed(); });

  // The shared security state, each behind its seam (memory today; cluster mode plugs in here).
  nonces_ = take(auth::make_nonce_store(cfg_, &store_->nonces(), clock::unix_ms()), "api.nonce_store");
  rates_ = take(auth::make_rate_limiter(cfg_), "api.rate_limit_store");
  server_auth_ = std::make_unique<api::ServerAuth>(cfg_, *apps_, *nonces_, *rates_, registry_);
  idempotency_ =
      std::make_unique<api::IdempotencyCache>(take(api::make_idempotency_store(cfg_), "api.idempotency_store"));
  auto app_disabled = [this](const std::string& id) {
    hub_->disconnect_app(id, push::close_code::kDisconnectedByServer, "app_disabled");
  };
  auto client_tokens_revoked = [this](const std::string& id) {
    hub_->disconnect_app(id, push::close_code::kTokenExpired, "token_revoked");
  };
  api::add_admin_routes(
      router_, api::AdminRoutesDeps{apps_.get(), admin_token_sha256, app_disabled, keys_.get(), client_tokens_revoked});
  api::add_kms_routes(router_, api::KmsRoutesDeps{server_auth_.get(), keys_.get(), apps_.get(), admin_token_sha256});
  api::add_otp_routes(router_, api::OtpRoutesDeps{server_auth_.get(), otp_.get(), apps_.get(), admin_token_sha256});
  api::add_message_routes(router_,
                          api::MessageRoutesDeps{server_auth_.get(), messages_.get(), apps_.get(), admin_token_sha256});
  if (audit_)
    api::add_audit_routes(router_,
                          api::AuditRoutesDeps{audit_.get(), keys_.get(), server_auth_.get(), admin_token_sha256});
  add_edge_guards();
  if (audit_) router_.set_audit_check([this] { return audit_->admits(); });
  if (!cfg_.api.require_signature)
    log::warn("api_signing_disabled", {{"message", "DEVELOPMENT: server-API requests are not signature-checked"}});
  api::add_server_routes(router_, api::ServerRoutesDeps{server_auth_.get(), hub_.get(), idempotency_.get()});
}

// Before authentication, a per-address budget; after the answer, the audit entry, with
// unauthenticated refusals folded into counted entries (what anyone can cause at will
// must not cost one fsync'd leaf each).
void Node::add_edge_guards() {
  source_gate_ = std::make_unique<api::SourceGate>(cfg_, &registry_);
  router_.set_admission(
      [gate = source_gate_.get()](const api::Request& req, std::string_view route) { return gate->admit(req, route); });
  router_.add_observer([gate = source_gate_.get()](const api::Exchange& e) { gate->settle(e); });
  if (!audit_) return;
  if (cfg_.audit.refusal_interval.count() > 0)
    refusals_ = std::make_unique<audit::RefusalAggregator>(*audit_, cfg_.audit.refusal_interval.count());
  router_.add_observer([this](const api::Exchange& e) {
    if (refusals_ && api::is_unauthenticated_refusal(e)) return refusals_->offer(audit_event(e));
    audit_->record(audit_event(e));
  });
}

// The client protocol on the gateway's WebSocket path, and user messages pushed
// through the hub.
void Node::connect_transport() {
  protocol_metrics_ = std::make_unique<push::ProtocolMetrics>(registry_);
  // A refused connect is as cheap to cause as an unsigned request (a bad token costs one
  // WebSocket): folded like the API's refusals, not one fsync'd leaf each.
  audit::Recorder* connect_refusals = refusals_ ? static_cast<audit::Recorder*>(refusals_.get()) : audit_.get();
  client_ctx_ = std::make_unique<push::ClientContext>(
      push::ClientContext{*hub_, *apps_, cfg_, *protocol_metrics_, messages_.get(), opts_.version, connect_refusals});
  messages_->set_pusher([hub = hub_.get()](const std::string& app_id, const std::string& user, std::string frame) {
    auto pub = std::make_shared<push::Publication>();
    pub->frame = std::move(frame);
    return hub->push_to_user(app_id, user, std::move(pub));
  });
  gateway_->attach_push(client_ctx_.get());
}

void Node::start_background() {
  hub_->start_maintenance();
  if (audit_) audit_->start();
  if (refusals_)
    refusal_flusher_.start(std::chrono::milliseconds(refusals_->interval_ms()),
                           [r = refusals_.get()] { r->flush(false); });
  otp_->start_purger(kOtpPurgeInterval);
  messages_->start();
  keys_->start_purger(kKeyPurgeInterval);
}

// The reverse of open() and start(): nothing new comes in, work under way finishes,
// and the store closes last, once every writer has stopped.
void Node::stop() {
  if (stopped_) return;
  stopped_ = true;
  // First: the feed's reloads use the hub and the services stopped below.
  live_hub_ = nullptr;
  if (store_) store_->changes().stop();
  if (gateway_) gateway_->shutdown();  // destroys the sessions while the hub is still there
  if (hub_) hub_->stop();
  if (messages_) messages_->stop();  // no new fallback steps; those under way finish below
  if (webhooks_) webhooks_->stop();
  if (senders_) senders_->stop();  // sends in flight finish (bounded by their timeouts) before the store closes
  if (otp_) otp_->stop();
  if (keys_) keys_->stop_purger();
  if (audit_) stop_audit();
  if (store_) store_->close();
}

void Node::stop_audit() {
  refusal_flusher_.stop();
  if (refusals_) refusals_->flush(true);  // the counts so far, before the final checkpoint
  audit_->stop();
  // Pin what was logged up to the end: a checkpoint of the final tree.
  if (!started_ || keys_->sealed()) return;
  // Should the store not answer in time, the checkpoint covers what did reach the disk.
  audit_->flush(kAuditFlushTimeout);
  if (auto st = audit_->checkpoint_if_due(true); !st)
    log::warn("audit_checkpoint_failed", {{"error", st.error().message}});
  audit_->stop_witness();  // the final checkpoint goes out too, if the witness answers
}

std::uint16_t Node::port() const {
  return gateway_ ? gateway_->port() : 0;
}

std::string Node::url() const {
  const std::string& host = cfg_.server.listen;
  return std::string(cfg_.server.tls ? "https://" : "http://") +
         (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port());
}

}  // namespace herald::server
