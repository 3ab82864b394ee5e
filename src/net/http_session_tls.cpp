// The HTTP session over TLS, compiled apart from the plain one.
#include "net/detail/http_session_impl.h"

namespace herald::net::detail {

template void spawn_http_session<HttpTlsStream>(GatewayState&, Worker&, HttpTlsStream&&, std::string,
                                                SourceConnections::Slot);

}  // namespace herald::net::detail
