// An accepted socket becomes an HTTP session over plain TCP or TLS; the sessions
// themselves are compiled in http_session_plain.cpp and http_session_tls.cpp.
#include "net/detail/http_session.h"

#include <string>

namespace herald::net::detail {
namespace {

using tcp = boost::asio::ip::tcp;

std::string remote_of(const tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "unknown";
  // IPv6 in brackets, so that the port is unambiguous ("[::1]:443").
  if (ep.address().is_v6()) return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

void start_http_session(GatewayState& st, Worker& w, tcp::socket socket) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  std::string remote = remote_of(socket);
  st.m.connections_accepted->inc();
  if (st.tls) {
    spawn_http_session(st, w, HttpTlsStream(HttpPlainStream(std::move(socket)), st.tls->native_handle()),
                       std::move(remote));
  } else {
    spawn_http_session(st, w, HttpPlainStream(std::move(socket)), std::move(remote));
  }
}

}  // namespace herald::net::detail
