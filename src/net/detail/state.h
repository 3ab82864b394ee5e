// What the gateway's sessions share: limits, router, metrics, the TLS context, the
// draining flag, and per-worker registries of live sessions for graceful shutdown.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <queue>
#include <string>
#include <thread>
#include <unordered_set>

#include "api/router.h"
#include "core/config.h"
#include "core/metrics.h"
#include "net/client_address.h"
#include "net/detail/open_connections.h"
#include "net/detail/source_connections.h"

namespace herald::push {
struct ClientContext;
}

namespace herald::net::detail {

// A live connection. on_shutdown() runs on the session's own worker thread.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void on_shutdown() = 0;
};

// Something that wants a call at a time (a connect or token deadline). The worker
// keeps one heap of such requests and one timer, instead of a timer per connection.
class DeadlineTarget {
 public:
  virtual ~DeadlineTarget() = default;
  // `generation` is the one given to Worker::schedule; a target ignores stale ones.
  virtual void on_deadline(std::chrono::steady_clock::time_point now, std::uint64_t generation) = 0;
};

struct DeadlineEntry {
  std::chrono::steady_clock::time_point when;
  std::weak_ptr<DeadlineTarget> target;
  std::uint64_t generation;
  bool operator>(const DeadlineEntry& o) const { return when > o.when; }
};

// One I/O thread with its io_context. `sessions` and `deadlines` are touched only on
// that thread, and are declared first so that they outlive the io_context: destroying
// the context destroys suspended sessions, which unregister themselves.
struct Worker {
  std::size_t index = 0;
  std::unordered_set<SessionBase*> sessions;
  std::priority_queue<DeadlineEntry, std::vector<DeadlineEntry>, std::greater<>> deadlines;
  boost::asio::io_context ioc{1};
  boost::asio::steady_timer tick{ioc};
  std::thread thread;

  void schedule(std::chrono::steady_clock::time_point when, std::weak_ptr<DeadlineTarget> target,
                std::uint64_t generation) {
    deadlines.push(DeadlineEntry{when, std::move(target), generation});
  }
};

struct GatewayMetrics {
  metrics::Gauge* connections_active;
  metrics::Counter* connections_accepted;
  metrics::Counter* connections_rejected;
  metrics::Counter* connections_source_rejected;  // limits.max_connections_per_source
  metrics::Counter* proxy_header_failures;
  metrics::Counter* tls_handshake_failures;
  metrics::Family<metrics::Counter>* timeouts;   // label: phase
  metrics::Family<metrics::Counter>* requests;   // labels: route, status
  metrics::Family<metrics::Histogram>* latency;  // label: route
  metrics::Gauge* websocket_active;
};

struct GatewayState {
  const Config& cfg;
  api::Router& router;
  metrics::Registry& registry;
  GatewayMetrics m;
  std::unique_ptr<boost::asio::ssl::context> tls;  // null when server.tls = false
  push::ClientContext* push = nullptr;             // the client protocol; null: /ws refuses
  std::atomic<bool> draining{false};
  OpenConnections connections;
  TrustedProxies trusted;  // server.trusted_proxies
  SourceConnections sources;
};

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

// Counts a connection from accept to close, globally and under its source's cap.
class ConnectionCount {
 public:
  ConnectionCount(GatewayState& st, SourceConnections::Slot slot) : st_(st), slot_(std::move(slot)) {
    st_.connections.add();
    st_.m.connections_active->inc();
  }
  ~ConnectionCount() {
    st_.connections.remove();
    st_.m.connections_active->dec();
  }
  ConnectionCount(const ConnectionCount&) = delete;
  ConnectionCount& operator=(const ConnectionCount&) = delete;

 private:
  GatewayState& st_;
  SourceConnections::Slot slot_;
};

}  // namespace herald::net::detail
