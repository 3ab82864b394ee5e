// Shamir splitting of the root key: round trips for several k-of-n, what too few or a
// corrupted share give, the printable form, and compatibility with Debian's gfsplit and
// gfcombine (libgfshare-bin), which operators may use to recombine shares offline.
#include "kms/shamir.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/random.h"

namespace herald::kms {
namespace {

crypto::SecretBytes random_secret(std::size_t n) {
  crypto::SecretBytes s(n);
  crypto::random_bytes(s.data(), s.size());
  return s;
}

std::vector<Share> pick(const std::vector<Share>& all, std::vector<std::size_t> which) {
  std::vector<Share> out;
  for (auto i : which) out.push_back(all[i]);
  return out;
}

TEST(Shamir, AnyKSharesRebuildTheSecretForSeveralKOfN) {
  struct Case {
    unsigned k, n;
  };
  for (Case c : {Case{1, 1}, Case{1, 3}, Case{2, 2}, Case{2, 3}, Case{3, 5}, Case{5, 5}, Case{4, 10}}) {
    SCOPED_TRACE(std::to_string(c.k) + "-of-" + std::to_string(c.n));
    auto secret = random_secret(32);
    auto shares = split_secret(secret, c.n, c.k);
    ASSERT_EQ(shares.size(), c.n);
    for (unsigned i = 0; i < c.n; ++i) {
      EXPECT_EQ(shares[i].x, static_cast<std::uint8_t>(i + 1));
      EXPECT_EQ(shares[i].bytes.size(), secret.size());
    }
    // The first k, the last k, and all n (more than k is fine).
    std::vector<std::size_t> first, last, all;
    for (unsigned i = 0; i < c.k; ++i) first.push_back(i), last.push_back(c.n - 1 - i);
    for (unsigned i = 0; i < c.n; ++i) all.push_back(i);
    EXPECT_EQ(combine_shares(pick(shares, first)).view(), secret.view());
    EXPECT_EQ(combine_shares(pick(shares, last)).view(), secret.view());
    EXPECT_EQ(combine_shares(shares).view(), secret.view());
  }
}

TEST(Shamir, FewerThanKSharesDoNotGiveTheSecret) {
  auto secret = random_secret(32);
  auto shares = split_secret(secret, 5, 3);
  EXPECT_NE(combine_shares(pick(shares, {0, 1})).view(), secret.view());
  EXPECT_NE(combine_shares(pick(shares, {3})).view(), secret.view());
  // Each share alone reveals nothing either: a 2-of-2 share is not the secret.
  auto two = split_secret(secret, 2, 2);
  EXPECT_NE(two[0].bytes.view(), secret.view());
  EXPECT_NE(two[1].bytes.view(), secret.view());
}

TEST(Shamir, ACorruptedShareGivesADifferentSecret) {
  auto secret = random_secret(32);
  auto shares = split_secret(secret, 3, 2);
  auto bad = pick(shares, {0, 2});
  bad[1].bytes.data()[7] ^= 0x01;
  auto got = combine_shares(bad);
  EXPECT_NE(got.view(), secret.view());
  // Only the corrupted byte position differs: the field works byte by byte.
  for (std::size_t i = 0; i < secret.size(); ++i)
    if (i != 7) {
      EXPECT_EQ(got.data()[i], secret.data()[i]) << i;
    }
  // A share with the wrong number is wrong too.
  auto renumbered = pick(shares, {0, 1});
  renumbered[1].x = 3;
  EXPECT_NE(combine_shares(renumbered).view(), secret.view());
}

TEST(Shamir, BadArgumentsAreProgrammingErrors) {
  auto secret = random_secret(16);
  EXPECT_THROW(split_secret(secret, 3, 0), std::invalid_argument);
  EXPECT_THROW(split_secret(secret, 3, 4), std::invalid_argument);
  EXPECT_THROW(split_secret(secret, 256, 2), std::invalid_argument);
  EXPECT_THROW(split_secret(crypto::SecretBytes(), 3, 2), std::invalid_argument);
  EXPECT_THROW(combine_shares({}), std::invalid_argument);
  auto shares = split_secret(secret, 3, 2);
  auto uneven = pick(shares, {0, 1});
  uneven[1].bytes = crypto::SecretBytes(8);
  EXPECT_THROW(combine_shares(uneven), std::invalid_argument);
}

TEST(Shamir, PrintableSharesRoundTripAndMalformedOnesAreRefused) {
  auto shares = split_secret(random_secret(32), 3, 2);
  for (const auto& s : shares) {
    std::string text(format_share(s).view());
    auto back = parse_share(" " + text + "\r\n");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->x, s.x);
    EXPECT_EQ(back->bytes.view(), s.bytes.view());
  }
  for (const char* bad : {"", "abc", "-00ff", "0-00ff", "256-00ff", "1-", "1-0g", "1-abc", "1234-00", "x1-00"}) {
    auto r = parse_share(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kShareInvalid) << bad;
  }
}

// ---- gfsplit / gfcombine ----

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/herald-shamir-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

bool have_tool(const char* name) {
  return ::access((std::string("/usr/bin/") + name).c_str(), X_OK) == 0;
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// gfcombine's input: the share's bytes in "<stem>.<x as three digits>".
std::string share_file(const std::string& dir, const Share& s) {
  char name[16];
  std::snprintf(name, sizeof name, "root.%03u", static_cast<unsigned>(s.x));
  std::string path = dir + "/" + name;
  write_file(path, s.bytes.view());
  return path;
}

TEST(Shamir, GfcombineRebuildsOurShares) {
  // scripts/install-deps.sh installs libgfshare-bin: its absence is a failure, not a skip.
  ASSERT_TRUE(have_tool("gfcombine")) << "libgfshare-bin is not installed";
  TempDir d;
  auto secret = random_secret(32);
  auto shares = split_secret(secret, 5, 3);
  std::string cmd = "/usr/bin/gfcombine -o " + d.path + "/out";
  for (auto i : {4, 1, 2}) cmd += " " + share_file(d.path, shares[i]);
  ASSERT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0) << cmd;
  EXPECT_EQ(read_file(d.path + "/out"), secret.view());
}

TEST(Shamir, WeRebuildGfsplitShares) {
  ASSERT_TRUE(have_tool("gfsplit")) << "libgfshare-bin is not installed";
  TempDir d;
  auto secret = random_secret(32);
  write_file(d.path + "/secret", secret.view());
  std::string cmd = "/usr/bin/gfsplit -n 3 -m 5 " + d.path + "/secret " + d.path + "/root";
  ASSERT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0) << cmd;
  std::vector<Share> shares;
  for (const auto& entry : std::filesystem::directory_iterator(d.path)) {
    auto name = entry.path().filename().string();
    if (name.rfind("root.", 0) != 0) continue;
    Share s;
    s.x = static_cast<std::uint8_t>(std::stoi(name.substr(5)));
    s.bytes = crypto::SecretBytes(read_file(entry.path().string()));
    shares.push_back(std::move(s));
  }
  ASSERT_EQ(shares.size(), 5u);
  // gfsplit numbers its shares at random (1..255); any three of them will do.
  EXPECT_EQ(combine_shares(pick(shares, {0, 2, 4})).view(), secret.view());
  EXPECT_EQ(combine_shares(pick(shares, {1, 3, 4})).view(), secret.view());
  EXPECT_NE(combine_shares(pick(shares, {1, 3})).view(), secret.view());
}

}  // namespace
}  // namespace herald::kms
