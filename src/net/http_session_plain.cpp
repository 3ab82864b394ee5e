// The HTTP session over plain TCP (server.tls = false), compiled apart from the TLS one.
#include "net/detail/http_session_impl.h"

namespace herald::net::detail {

template void spawn_http_session<HttpPlainStream>(GatewayState&, Worker&, HttpPlainStream&&, std::string,
                                                  SourceConnections::Slot);

}  // namespace herald::net::detail
