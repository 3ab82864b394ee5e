// The server TLS context: protocol floor, ciphers, memory settings, and the errors a bad
// certificate, key or passphrase gives (naming the setting, never the passphrase).
#include "net/detail/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "crypto/dev_cert.h"

namespace herald::net::detail {
namespace {

struct Dir {
  std::string path;
  Dir() {
    char t[] = "/tmp/herald-tls-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Dir() { std::filesystem::remove_all(path); }
};

ServerConfig dev_server(const std::string& dir) {
  auto paths = crypto::ensure_dev_certificate(dir);
  if (!paths.ok()) throw std::runtime_error(paths.error().message);
  ServerConfig cfg;
  cfg.tls_cert = paths->cert;
  cfg.tls_key = paths->key;
  return cfg;
}

std::set<std::string> split(const std::string& list) {
  std::set<std::string> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ':');) out.insert(item);
  return out;
}

// Writes `key_pem`'s key again, encrypted with `pass`, and returns the new file's path.
std::string encrypt_key(const std::string& key_pem, const std::string& dir, const std::string& pass) {
  FILE* in = std::fopen(key_pem.c_str(), "r");
  EVP_PKEY* key = PEM_read_PrivateKey(in, nullptr, nullptr, nullptr);
  std::fclose(in);
  std::string out_path = dir + "/encrypted-key.pem";
  FILE* out = std::fopen(out_path.c_str(), "w");
  PEM_write_PrivateKey(out, key, EVP_aes_256_cbc(), reinterpret_cast<const unsigned char*>(pass.data()),
                       static_cast<int>(pass.size()), nullptr, nullptr);
  std::fclose(out);
  EVP_PKEY_free(key);
  return out_path;
}

std::string error_of(const ServerConfig& cfg) {
  try {
    make_server_tls_context(cfg);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(TlsContext, OffersTls12AndTls13Only) {
  Dir d;
  auto ctx = make_server_tls_context(dev_server(d.path));
  SSL_CTX* c = ctx->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(c), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(c), TLS1_3_VERSION);
}

TEST(TlsContext, CiphersAreExactlyTheDocumentedOnes) {
  Dir d;
  auto ctx = make_server_tls_context(dev_server(d.path));
  std::set<std::string> offered;
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx->native_handle());
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i)
    offered.insert(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(ciphers, i)));
  std::set<std::string> expected = split(kTls12Ciphers);
  for (const auto& s : split(kTls13Suites)) expected.insert(s);
  EXPECT_EQ(offered, expected);
}

TEST(TlsContext, IdleConnectionsReleaseBuffersAndNoTicketsAreSent) {
  Dir d;
  auto ctx = make_server_tls_context(dev_server(d.path));
  SSL_CTX* c = ctx->native_handle();
  EXPECT_TRUE(SSL_CTX_get_mode(c) & SSL_MODE_RELEASE_BUFFERS);
  EXPECT_EQ(SSL_CTX_get_num_tickets(c), 0u);
  auto options = SSL_CTX_get_options(c);
  EXPECT_TRUE(options & SSL_OP_NO_TICKET);
  EXPECT_TRUE(options & SSL_OP_NO_COMPRESSION);
  EXPECT_TRUE(options & SSL_OP_NO_RENEGOTIATION);
  EXPECT_TRUE(options & SSL_OP_CIPHER_SERVER_PREFERENCE);
}

TEST(TlsContext, LoadsAnEncryptedKeyAndForgetsThePassphrase) {
  Dir d;
  ServerConfig cfg = dev_server(d.path);
  cfg.tls_key_passphrase = "correct horse battery staple";
  cfg.tls_key = encrypt_key(cfg.tls_key, d.path, cfg.tls_key_passphrase);
  auto ctx = make_server_tls_context(cfg);
  // Asio would delete a non-null userdata as its own callback object.
  EXPECT_EQ(SSL_CTX_get_default_passwd_cb_userdata(ctx->native_handle()), nullptr);
  EXPECT_EQ(SSL_CTX_get_default_passwd_cb(ctx->native_handle()), nullptr);
}

TEST(TlsContext, WrongPassphraseNamesTheKeyButNotThePassphrase) {
  Dir d;
  ServerConfig cfg = dev_server(d.path);
  cfg.tls_key = encrypt_key(cfg.tls_key, d.path, "the right one");
  cfg.tls_key_passphrase = "s3cret-wrong-passphrase";
  std::string err = error_of(cfg);
  EXPECT_NE(err.find("server.tls_key"), std::string::npos) << err;
  EXPECT_EQ(err.find(cfg.tls_key_passphrase), std::string::npos) << err;
  EXPECT_EQ(err.find("the right one"), std::string::npos) << err;
}

TEST(TlsContext, BadFilesNameTheSettingAtFault) {
  Dir d;
  ServerConfig cfg = dev_server(d.path);
  ServerConfig missing_cert = cfg;
  missing_cert.tls_cert = d.path + "/nope.pem";
  EXPECT_NE(error_of(missing_cert).find("server.tls_cert: cannot load " + missing_cert.tls_cert), std::string::npos);

  Dir other;
  ServerConfig mismatched = cfg;
  mismatched.tls_key = dev_server(other.path).tls_key;
  // OpenSSL refuses a key that does not match the loaded certificate as it loads it.
  std::string err = error_of(mismatched);
  EXPECT_NE(err.find("server.tls_key"), std::string::npos) << err;
  EXPECT_NE(err.find("key values mismatch"), std::string::npos) << err;
}

}  // namespace
}  // namespace herald::net::detail
