#include "auth/ip_allowlist.h"

#include <gtest/gtest.h>

namespace herald::auth {
namespace {

IpAllowlist list(std::initializer_list<const char*> cidrs) {
  std::vector<Cidr> v;
  for (const char* c : cidrs) v.push_back(*parse_cidr(c));
  return IpAllowlist(std::move(v));
}

TEST(IpAllowlist, MatchesV4AndV6BlocksAndMappedAddresses) {
  auto l = list({"10.0.0.0/8", "192.168.1.7", "2001:db8::/32"});
  EXPECT_TRUE(l.allows("10.1.2.3"));
  EXPECT_TRUE(l.allows("192.168.1.7"));
  EXPECT_FALSE(l.allows("192.168.1.8"));
  EXPECT_FALSE(l.allows("11.0.0.1"));
  EXPECT_TRUE(l.allows("2001:db8:1::5"));
  EXPECT_FALSE(l.allows("2001:db9::1"));
  EXPECT_TRUE(l.allows("::ffff:10.9.9.9"));  // v4-mapped v6 is its v4 address
  EXPECT_FALSE(l.allows("::ffff:11.9.9.9"));
  EXPECT_FALSE(l.allows("not-an-ip"));
  EXPECT_FALSE(l.allows(""));
  EXPECT_TRUE(IpAllowlist().allows("1.2.3.4"));  // empty allows all
  auto odd = list({"10.0.0.0/12"});
  EXPECT_TRUE(odd.allows("10.15.255.255"));
  EXPECT_FALSE(odd.allows("10.16.0.0"));
  EXPECT_TRUE(list({"0.0.0.0/0"}).allows("8.8.8.8"));
}

TEST(IpAllowlist, BadBlocksAreRefused) {
  for (const char* bad :
       {"10.0.0.0/33", "10.0.0.1/8", "2001:db8::1/32", "x/8", "10.0.0.0/", "10.0.0.0/-1", "::/129", "300.1.1.1", ""}) {
    auto c = parse_cidr(bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.error().code, Errc::kInvalidCidr);
  }
  EXPECT_EQ(parse_cidr("10.0.0.0/8")->text(), "10.0.0.0/8");
  EXPECT_EQ(parse_cidr("::1")->text(), "::1/128");
}

TEST(IpAllowlist, HostOfStripsThePort) {
  EXPECT_EQ(host_of("1.2.3.4:567"), "1.2.3.4");
  EXPECT_EQ(host_of("[2001:db8::1]:443"), "2001:db8::1");
  EXPECT_EQ(host_of("::1"), "::1");
}

}  // namespace
}  // namespace herald::auth
