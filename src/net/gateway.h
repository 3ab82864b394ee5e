// The gateway: one port serving HTTPS and WSS (or plain HTTP/WS when configured),
// with one io_context per I/O thread. This header is the module's face and keeps
// Asio and Beast out of everything that includes it.
#pragma once

#include <cstdint>
#include <memory>

#include "api/router.h"
#include "core/config.h"

namespace herald::metrics {
class Registry;
}

namespace herald::push {
class ShardExecutor;
struct ClientContext;
}  // namespace herald::push

namespace herald::net {

class Gateway {
 public:
  // `cfg` must outlive the gateway. The TLS certificate is read here: a bad file is
  // reported as a std::runtime_error naming it.
  Gateway(const Config& cfg, api::Router& router, metrics::Registry& registry);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // The I/O threads as shards for the push hub; valid until shutdown() returns.
  push::ShardExecutor& executor();
  // The client protocol served on the router's WebSocket paths; set before start().
  void attach_push(push::ClientContext* ctx);

  // Binds the listening socket and starts the I/O threads. Throws on failure.
  void start();
  // The bound port (useful with server.port = 0).
  std::uint16_t port() const;
  // True from the start of shutdown(): /readyz fails, responses close their connection.
  bool draining() const;
  // Stops accepting, lets in-flight requests finish for up to limits.shutdown_grace,
  // closes idle and WebSocket connections, then stops and joins the threads and destroys
  // what is left of the sessions, so that the hub they use may go after this returns.
  void shutdown();
  // Connections currently open.
  std::int64_t connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald::net
