// What the gateway's sessions share: limits, router, metrics, the TLS context, the
// draining flag, and per-worker registries of live sessions for graceful shutdown.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>

#include "api/router.h"
#include "core/config.h"
#include "core/metrics.h"

namespace herald::net::detail {

// A live connection. on_shutdown() runs on the session's own worker thread.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void on_shutdown() = 0;
};

// One I/O thread with its io_context. `sessions` is touched only on that thread, and
// is declared first so that it outlives the io_context: destroying the context destroys
// suspended sessions, which unregister themselves.
struct Worker {
  std::unordered_set<SessionBase*> sessions;
  boost::asio::io_context ioc{1};
  std::thread thread;
};

struct GatewayMetrics {
  metrics::Gauge* connections_active;
  metrics::Counter* connections_accepted;
  metrics::Counter* connections_rejected;
  metrics::Counter* tls_handshake_failures;
  metrics::Family<metrics::Counter>* timeouts;  // label: phase
  metrics::Family<metrics::Counter>* requests;  // labels: route, status
  metrics::Family<metrics::Histogram>* latency; // label: route
  metrics::Gauge* websocket_active;
};

struct GatewayState {
  const Config& cfg;
  api::Router& router;
  metrics::Registry& registry;
  GatewayMetrics m;
  std::unique_ptr<boost::asio::ssl::context> tls;  // null when server.tls = false
  std::atomic<bool> draining{false};
  std::atomic<std::int64_t> connections{0};
};

// Starts an HTTP session on an accepted socket (on its worker's io_context).
void start_http_session(GatewayState& st, Worker& w, boost::asio::ip::tcp::socket socket);

// Registers a session with its worker for the session's lifetime (RAII).
class SessionRegistration {
 public:
  SessionRegistration(Worker& w, SessionBase* s) : w_(w), s_(s) { w_.sessions.insert(s_); }
  ~SessionRegistration() { w_.sessions.erase(s_); }
  SessionRegistration(const SessionRegistration&) = delete;
  SessionRegistration& operator=(const SessionRegistration&) = delete;

 private:
  Worker& w_;
  SessionBase* s_;
};

// Counts a connection from accept to close.
class ConnectionCount {
 public:
  explicit ConnectionCount(GatewayState& st) : st_(st) {
    st_.connections.fetch_add(1);
    st_.m.connections_active->inc();
  }
  ~ConnectionCount() {
    st_.connections.fetch_sub(1);
    st_.m.connections_active->dec();
  }
  ConnectionCount(const ConnectionCount&) = delete;
  ConnectionCount& operator=(const ConnectionCount&) = delete;

 private:
  GatewayState& st_;
};

}  // namespace herald::net::detail
