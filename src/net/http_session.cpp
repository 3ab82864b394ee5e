// An accepted socket becomes an HTTP session over plain TCP or TLS; the sessions
// themselves are compiled in http_session_plain.cpp and http_session_tls.cpp. A trusted
// proxy speaking the PROXY protocol gives its header here first, read to the byte so
// that what follows (a TLS ClientHello) is left in the socket.
#include "net/detail/http_session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>

#include "auth/source_limiter.h"
#include "core/log.h"

namespace herald::net::detail {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string remote_of(const tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "unknown";
  std::string ip = canonical_ip(ep.address().to_string());
  if (ip.empty()) return "unknown";
  // IPv6 in brackets, so that the port is unambiguous ("[::1]:443").
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(ep.port());
  return ip + ":" + std::to_string(ep.port());
}

void spawn(GatewayState& st, Worker& w, tcp::socket socket, std::string remote, SourceConnections::Slot slot) {
  if (st.tls) {
    spawn_http_session(st, w, HttpTlsStream(HttpPlainStream(std::move(socket)), st.tls->native_handle()),
                       std::move(remote), std::move(slot));
  } else {
    spawn_http_session(st, w, HttpPlainStream(std::move(socket)), std::move(remote), std::move(slot));
  }
}

// Reads the PROXY header (bounded by limits.handshake_timeout), then serves the
// connection as the client it names; a bad or missing header closes it.
asio::awaitable<void> read_proxy_header(GatewayState& st, Worker& w, tcp::socket socket, std::string peer) {
  HttpPlainStream stream(std::move(socket));
  stream.expires_after(st.cfg.limits.handshake_timeout);
  std::string bytes;
  ProxyHeader h;
  boost::system::error_code ec;
  // 15 bytes is the shortest header ("PROXY UNKNOWN\r\n"); then as much as the header says
  // it needs, or one byte at a time for v1's line.
  std::size_t want = 15;
  for (;;) {
    std::size_t have = bytes.size();
    bytes.resize(want);
    co_await asio::async_read(stream, asio::buffer(bytes.data() + have, want - have),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    h = parse_proxy_header(bytes);
    if (h.state != ProxyHeader::State::kIncomplete) break;
    want = h.needed > want ? h.needed : want + 1;
    if (want > kMaxProxyHeader) break;
  }
  if (ec || h.state != ProxyHeader::State::kDone) {
    st.m.proxy_header_failures->inc();
    log::debug("proxy_header_invalid", {{"remote", peer}, {"error", ec ? ec.message() : "malformed"}});
    co_return;  // the stream closes the socket
  }
  std::string remote = h.source.empty() ? peer : h.source;
  std::optional<SourceConnections::Slot> slot = SourceConnections::Slot();
  std::string host(auth::host_of(remote));
  if (!st.trusted.trusts(host))
    slot = st.sources.acquire(auth::source_key(host), st.cfg.limits.max_connections_per_source);
  if (!slot) {
    st.m.connections_source_rejected->inc();
    co_return;
  }
  stream.expires_never();
  spawn(st, w, stream.release_socket(), std::move(remote), std::move(*slot));
}

}  // namespace

void start_http_session(GatewayState& st, Worker& w, tcp::socket socket, SourceConnections::Slot slot) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  std::string remote = remote_of(socket);
  st.m.connections_accepted->inc();
  if (st.cfg.server.proxy_protocol && st.trusted.trusts(auth::host_of(remote))) {
    // Only a trusted proxy gets here, and the read is bounded by limits.handshake_timeout;
    // the connection is counted (and capped by its client) once the header is in.
    asio::co_spawn(w.ioc, read_proxy_header(st, w, std::move(socket), std::move(remote)), asio::detached);
    return;
  }
  spawn(st, w, std::move(socket), std::move(remote), std::move(slot));
}

}  // namespace herald::net::detail
