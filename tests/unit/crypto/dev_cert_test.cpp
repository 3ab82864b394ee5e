#include "crypto/dev_cert.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace herald::crypto {
namespace {

struct Dir {
  std::string path;
  Dir() {
    char t[] = "/tmp/herald-cert-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Dir() { std::filesystem::remove_all(path); }
};

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(DevCert, CoversLoopbackNamesAndKeyIsPrivate) {
  Dir d;
  auto paths = ensure_dev_certificate(d.path);
  ASSERT_TRUE(paths.ok()) << paths.error().message;
  struct stat st{};
  ASSERT_EQ(::stat(paths->key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  FILE* f = std::fopen(paths->cert.c_str(), "r");
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
  EXPECT_NE(X509_check_host(cert, "example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 1);
  X509_free(cert);
}

TEST(DevCert, ReusesAValidPairAndReplacesABrokenOne) {
  Dir d;
  auto first = ensure_dev_certificate(d.path);
  ASSERT_TRUE(first.ok());
  std::string pem = slurp(first->cert);
  auto again = ensure_dev_certificate(d.path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(slurp(again->cert), pem);

  std::ofstream(first->cert) << "not a certificate";
  auto fixed = ensure_dev_certificate(d.path);
  ASSERT_TRUE(fixed.ok());
  EXPECT_NE(slurp(fixed->cert), pem);
  EXPECT_NE(slurp(fixed->cert).find("BEGIN CERTIFICATE"), std::string::npos);
}

}  // namespace
}  // namespace herald::crypto
