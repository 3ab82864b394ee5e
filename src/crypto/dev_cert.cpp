// Self-signed certificate generation with OpenSSL 3's EVP and X509 APIs.
#include "crypto/dev_cert.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>

#include "crypto/random.h"

namespace herald::crypto {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

// Reuses an existing pair only if the certificate parses, is valid for another day and
// matches the key.
bool existing_pair_usable(const std::string& cert_path, const std::string& key_path) {
  if (!file_exists(cert_path) || !file_exists(key_path)) return false;
  FILE* cf = std::fopen(cert_path.c_str(), "r");
  if (!cf) return false;
  Cert cert(PEM_read_X509(cf, nullptr, nullptr, nullptr));
  std::fclose(cf);
  FILE* kf = std::fopen(key_path.c_str(), "r");
  if (!kf) return false;
  PKey key(PEM_read_PrivateKey(kf, nullptr, nullptr, nullptr));
  std::fclose(kf);
  if (!cert || !key) return false;
  std::time_t tomorrow = std::time(nullptr) + 86400;
  if (X509_cmp_time(X509_get0_notAfter(cert.get()), &tomorrow) <= 0) return false;
  return X509_check_private_key(cert.get(), key.get()) == 1;
}

Status write_file(const std::string& path, mode_t mode, const std::function<bool(FILE*)>& body) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return make_error(Errc::kIoError, "cannot write " + tmp);
  FILE* f = ::fdopen(fd, "w");
  if (!f) {
    ::close(fd);
    return make_error(Errc::kIoError, "cannot write " + tmp);
  }
  bool ok = body(f);
  ok = std::fflush(f) == 0 && ::fsync(fd) == 0 && ok;
  std::fclose(f);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return make_error(Errc::kIoError, "cannot write " + path);
  }
  return ok_status();
}

}  // namespace

Result<CertPaths> ensure_dev_certificate(const std::string& dir) {
  CertPaths paths{dir + "/dev-cert.pem", dir + "/dev-key.pem"};
  if (existing_pair_usable(paths.cert, paths.key)) return paths;

  PKey key(EVP_EC_gen("P-256"));
  if (!key) return make_error(Errc::kCryptoError, "cannot generate a P-256 key");
  Cert cert(X509_new());
  if (!cert) return make_error(Errc::kCryptoError, "cannot allocate a certificate");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  random_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 90L * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Herald development"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, const char*> exts[] = {
      {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
  };
  for (const auto& [nid, value] : exts) {
    Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1)
      return make_error(Errc::kCryptoError, "cannot add a certificate extension");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return make_error(Errc::kCryptoError, "cannot sign the development certificate");

  auto st = write_file(paths.key, 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  if (!st) return st.error();
  st = write_file(paths.cert, 0644, [&](FILE* f) { return PEM_write_X509(f, cert.get()) == 1; });
  if (!st) return st.error();
  return paths;
}

}  // namespace herald::crypto
