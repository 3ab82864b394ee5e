// The server TLS context: TLS 1.2 and 1.3 only, Mozilla "intermediate" ciphers.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "core/config.h"

namespace herald::net::detail {

// Throws std::runtime_error naming the file or setting at fault.
std::unique_ptr<boost::asio::ssl::context> make_server_tls_context(const ServerConfig& cfg);

// The TLS 1.2 cipher list and TLS 1.3 suites we offer (documented in docs/operations.md).
extern const char* const kTls12Ciphers;
extern const char* const kTls13Suites;

}  // namespace herald::net::detail
