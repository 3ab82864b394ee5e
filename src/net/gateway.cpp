// Listener and lifecycle: one acceptor hands sockets round-robin to the I/O workers;
// shutdown stops accepting, drains, and stops the workers.
#include "net/gateway.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "auth/source_limiter.h"
#include "core/log.h"
#include "core/metrics.h"
#include "net/detail/http_session.h"
#include "net/detail/state.h"
#include "net/detail/tls_context.h"
#include "push/hub.h"

namespace herald::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using detail::Worker;

struct Gateway::Impl {
  Impl(const Config& cfg, api::Router& router, metrics::Registry& registry)
      : state{cfg, router, registry, {}, nullptr} {
    auto& r = registry;
    auto& m = state.m;
    m.connections_active = &r.gauge("herald_connections_active", "Open client connections").with({});
    m.connections_accepted = &r.counter("herald_connections_accepted_total", "Connections accepted").with({});
    m.connections_rejected =
        &r.counter("herald_connections_rejected_total", "Connections closed at accept: limits.max_connections reached")
             .with({});
    m.connections_source_rejected =
        &r.counter("herald_connections_source_rejected_total",
                   "Connections closed at accept: limits.max_connections_per_source reached for their address")
             .with({});
    m.proxy_header_failures =
        &r.counter("herald_proxy_header_failures_total",
                   "Connections from trusted proxies closed for a missing, malformed or late PROXY header")
             .with({});
    m.tls_handshake_failures =
        &r.counter("herald_tls_handshake_failures_total", "TLS handshakes that failed or timed out").with({});
    m.timeouts = &r.counter("herald_timeouts_total", "Connections closed by a timeout, by phase", {"phase"});
    m.requests =
        &r.counter("herald_http_requests_total", "HTTP requests answered, by route and status", {"route", "status"});
    m.latency = &r.histogram("herald_http_request_duration_seconds",
                             "Time from the first byte of a request to its response written, by route", {"route"});
    m.websocket_active = &r.gauge("herald_websocket_sessions_active", "Open WebSocket sessions").with({});
    auto trusted = TrustedProxies::parse(cfg.server.trusted_proxies);
    if (!trusted) throw std::runtime_error(trusted.error().message);
    state.trusted = std::move(*trusted);
    if (cfg.server.tls) state.tls = detail::make_server_tls_context(cfg.server);
    std::size_t n = cfg.server.threads > 0 ? static_cast<std::size_t>(cfg.server.threads)
                                           : std::max(1u, std::thread::hardware_concurrency());
    for (std::size_t i = 0; i < n; ++i) {
      workers.push_back(std::make_unique<Worker>());
      workers.back()->index = i;
    }
  }

  // Each worker's deadlines, due ones run every tick: one timer per thread, whatever the
  // number of connections.
  static asio::awaitable<void> tick_loop(Worker& w) {
    error_code ec;
    for (;;) {
      w.tick.expires_after(std::chrono::milliseconds(100));
      co_await w.tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      auto now = std::chrono::steady_clock::now();
      while (!w.deadlines.empty() && w.deadlines.top().when <= now) {
        detail::DeadlineEntry e = w.deadlines.top();
        w.deadlines.pop();
        if (auto t = e.target.lock()) t->on_deadline(now, e.generation);
      }
    }
  }

  struct Executor final : push::ShardExecutor {
    explicit Executor(Impl& im) : im(im) {}
    std::size_t shards() const override { return im.workers.size(); }
    void post(std::size_t shard, std::function<void()> fn) override {
      if (shard < im.workers.size() && !im.torn_down.load()) asio::post(im.workers[shard]->ioc, std::move(fn));
    }
    void post_after(std::size_t shard, std::chrono::microseconds delay, std::function<void()> fn) override {
      if (delay.count() <= 0) return post(shard, std::move(fn));
      if (shard >= im.workers.size() || im.torn_down.load()) return;
      auto timer = std::make_shared<asio::steady_timer>(im.workers[shard]->ioc, delay);
      timer->async_wait([timer, fn = std::move(fn)](error_code ec) {
        if (!ec) fn();
      });
    }
    Impl& im;
  };

  // The accepted connection's place under its address's cap, taken now so that a TLS
  // handshake that never ends counts too. A trusted proxy carries many clients and is
  // capped only globally (with the PROXY protocol, its clients are capped once known).
  std::optional<detail::SourceConnections::Slot> source_slot(const tcp::socket& socket) {
    error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (ec) return std::nullopt;
    std::string host = canonical_ip(ep.address().to_string());
    if (state.trusted.trusts(host)) return detail::SourceConnections::Slot();
    return state.sources.acquire(auth::source_key(host), state.cfg.limits.max_connections_per_source);
  }

  asio::awaitable<void> accept_loop() {
    std::size_t next = 0;
    const auto max = state.cfg.limits.max_connections;
    for (;;) {
      Worker& w = *workers[next++ % workers.size()];
      error_code ec;
      tcp::socket socket = co_await acceptor->async_accept(w.ioc, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      if (ec) {
        // Out of file descriptors and the like: back off rather than spin.
        log::warn("accept_failed", {{"error", ec.message()}});
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if (static_cast<std::uint64_t>(state.connections.count()) >= max) {
        state.m.connections_rejected->inc();
        socket.close(ec);
        continue;
      }
      auto slot = source_slot(socket);
      if (!slot) {
        state.m.connections_source_rejected->inc();
        socket.close(ec);
        continue;
      }
      asio::post(w.ioc, [this, &w, s = std::move(socket), slot = std::move(*slot)]() mutable {
        detail::start_http_session(state, w, std::move(s), std::move(slot));
      });
    }
  }

  detail::GatewayState state;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::uint16_t port = 0;
  bool started = false;
  bool stopped = false;
  std::atomic<bool> torn_down{false};
  Executor executor{*this};
};

Gateway::Gateway(const Config& cfg, api::Router& router, metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(cfg, router, registry)) {}

Gateway::~Gateway() {
  shutdown();
}

void Gateway::start() {
  auto& im = *impl_;
  const auto& sc = im.state.cfg.server;
  error_code ec;
  auto addr = asio::ip::make_address(sc.listen, ec);
  if (ec) throw std::runtime_error("server.listen: '" + sc.listen + "' is not an IP address");
  tcp::endpoint ep(addr, sc.port);
  Worker& w0 = *im.workers[0];
  im.acceptor = std::make_unique<tcp::acceptor>(w0.ioc);
  im.acceptor->open(ep.protocol(), ec);
  if (!ec) im.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor->bind(ep, ec);
  if (!ec) im.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + sc.listen + ":" + std::to_string(sc.port) + ": " + ec.message());
  im.port = im.acceptor->local_endpoint().port();
  asio::co_spawn(w0.ioc, im.accept_loop(), asio::detached);
  for (auto& w : im.workers) asio::co_spawn(w->ioc, Impl::tick_loop(*w), asio::detached);
  for (auto& w : im.workers) {
    im.guards.push_back(asio::make_work_guard(w->ioc));
    w->thread = std::thread([&ioc = w->ioc] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          log::error("io_thread_error", {{"error", e.what()}});
        }
      }
    });
  }
  im.started = true;
}

push::ShardExecutor& Gateway::executor() {
  return impl_->executor;
}
void Gateway::attach_push(push::ClientContext* ctx) {
  impl_->state.push = ctx;
}

std::uint16_t Gateway::port() const {
  return impl_->port;
}
bool Gateway::draining() const {
  return impl_->state.draining.load();
}
std::int64_t Gateway::connections() const {
  return impl_->state.connections.count();
}

void Gateway::shutdown() {
  auto& im = *impl_;
  if (!im.started || im.stopped) return;
  im.stopped = true;
  im.state.draining = true;
  auto t0 = std::chrono::steady_clock::now();
  asio::post(im.workers[0]->ioc, [&im] {
    error_code ec;
    im.acceptor->close(ec);
  });
  for (auto& w : im.workers)
    asio::post(w->ioc, [wp = w.get()] {
      // Copy first: on_shutdown may end a session, which erases itself from the set.
      std::vector<detail::SessionBase*> live(wp->sessions.begin(), wp->sessions.end());
      for (auto* s : live)
        if (wp->sessions.count(s)) s->on_shutdown();
    });
  im.state.connections.wait_for_zero(t0 + im.state.cfg.limits.shutdown_grace);
  std::int64_t left = im.state.connections.count();
  im.guards.clear();
  for (auto& w : im.workers) w->ioc.stop();
  for (auto& w : im.workers)
    if (w->thread.joinable()) w->thread.join();
  // Destroying the contexts destroys the suspended sessions now, while what they use
  // (the hub, the app directory) is still there.
  im.torn_down = true;
  im.acceptor.reset();
  im.workers.clear();
  log::info("gateway_stopped",
            {{"connections_cut", left},
             {"drain_ms",
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()}});
}

}  // namespace herald::net
