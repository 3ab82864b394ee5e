// TLS settings follow Mozilla's "intermediate" profile without the DHE suites (no
// dhparam to manage; every modern client does ECDHE).
#include "net/detail/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace herald::net::detail {

const char* const kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
const char* const kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

int passphrase_cb(char* buf, int size, int /*rwflag*/, void* userdata) {
  const auto* pass = static_cast<const std::string*>(userdata);
  if (!pass || pass->empty() || static_cast<int>(pass->size()) > size) return 0;
  std::memcpy(buf, pass->data(), pass->size());
  return static_cast<int>(pass->size());
}

}  // namespace

std::unique_ptr<boost::asio::ssl::context> make_server_tls_context(const ServerConfig& cfg) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* c = ctx->native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections give their TLS read/write buffers back: many idle WSS clients.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  // No session tickets: a TLS 1.3 server would send them after the handshake, where our
  // stream keeps post-handshake output for the next write; and resumption is not needed.
  SSL_CTX_set_num_tickets(c, 0);
  SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1) throw std::runtime_error("TLS cipher list: " + openssl_error());
  if (SSL_CTX_set_ciphersuites(c, kTls13Suites) != 1) throw std::runtime_error("TLS 1.3 suites: " + openssl_error());
  if (SSL_CTX_set1_groups_list(c, "X25519:P-256:P-384") != 1)
    throw std::runtime_error("TLS groups: " + openssl_error());

  // The callback reads the passphrase through a pointer into cfg, which outlives the
  // context; nothing copies it. Asio's context destructor treats a non-null userdata as
  // its own callback object and deletes it, so the pointer is cleared on every path out.
  SSL_CTX_set_default_passwd_cb(c, passphrase_cb);
  SSL_CTX_set_default_passwd_cb_userdata(c, const_cast<std::string*>(&cfg.tls_key_passphrase));
  struct ClearUserdata {
    SSL_CTX* c;
    ~ClearUserdata() {
      SSL_CTX_set_default_passwd_cb_userdata(c, nullptr);
      SSL_CTX_set_default_passwd_cb(c, nullptr);
    }
  } clear_userdata{c};
  if (SSL_CTX_use_certificate_chain_file(c, cfg.tls_cert.c_str()) != 1)
    throw std::runtime_error("server.tls_cert: cannot load " + cfg.tls_cert + ": " + openssl_error());
  if (SSL_CTX_use_PrivateKey_file(c, cfg.tls_key.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("server.tls_key: cannot load " + cfg.tls_key +
                             " (wrong file, or wrong or missing server.tls_key_passphrase): " + openssl_error());
  if (SSL_CTX_check_private_key(c) != 1)
    throw std::runtime_error("server.tls_key does not match server.tls_cert: " + openssl_error());
  return ctx;
}

}  // namespace herald::net::detail
