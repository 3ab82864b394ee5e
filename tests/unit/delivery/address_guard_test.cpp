// The SSRF guard's address table: every refused block at its edges, the public
// addresses next to them, the IPv6 forms that carry an IPv4 address, and input that
// is not an address at all.
#include "delivery/address_guard.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::delivery {
namespace {

TEST(AddressGuard, RefusesEveryNonPublicIpv4Block) {
  for (const char* ip :
       {"0.0.0.0",         "0.255.255.255",   "10.0.0.0",        "10.255.255.255",  "100.64.0.0",
        "100.127.255.255", "127.0.0.1",       "127.255.255.254", "169.254.169.254", "172.16.0.1",
        "172.31.255.255",  "192.0.0.1",       "192.0.0.255",     "192.0.2.1",       "192.88.99.1",
        "192.168.0.1",     "192.168.255.255", "198.18.0.1",      "198.19.255.255",  "198.51.100.7",
        "203.0.113.9",     "224.0.0.1",       "239.255.255.250", "240.0.0.1",       "255.255.255.255"}) {
    EXPECT_TRUE(is_forbidden_address(ip)) << ip;
  }
}

TEST(AddressGuard, AllowsPublicIpv4IncludingBlockNeighbours) {
  for (const char* ip :
       {"8.8.8.8", "1.1.1.1", "1.0.0.0", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
        "126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0", "192.0.1.0",
        "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0", "223.255.255.255"}) {
    EXPECT_FALSE(is_forbidden_address(ip)) << ip;
  }
}

TEST(AddressGuard, RefusesNonGlobalIpv6) {
  for (const char* ip : {"::",
                         "::1",
                         "fc00::1",
                         "fdff:ffff::1",
                         "fe80::1",
                         "febf::1",
                         "fec0::1",
                         "ff02::1",
                         "ff05::1:3",
                         "100::1",
                         "64:ff9b:1::1",
                         "2001::1",
                         "2001:0:4136:e378::1",
                         "2001:2::1",
                         "2001:1ff::1",
                         "2001:db8::1",
                         "3fff::1",
                         "3fff:fff::1",
                         "1000::1",
                         "4000::1",
                         "::2"}) {
    EXPECT_TRUE(is_forbidden_address(ip)) << ip;
  }
}

TEST(AddressGuard, AllowsGlobalIpv6) {
  for (const char* ip : {"2606:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001:80b::200e", "2001:200::1",
                         "2400:cb00::1", "3ffe::1", "3fff:1000::1", "2003::1"}) {
    EXPECT_FALSE(is_forbidden_address(ip)) << ip;
  }
}

TEST(AddressGuard, JudgesIpv4CarriedInIpv6ByTheIpv4Address) {
  for (const char* ip :
       {"::ffff:127.0.0.1", "::ffff:7f00:1", "::FFFF:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1",
        "::8.8.8.8", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::192.168.1.1",
        "2002:7f00:1::", "2002:c0a8:101::1", "2002:a9fe:a9fe::1", "0:0:0:0:0:ffff:127.0.0.1"}) {
    EXPECT_TRUE(is_forbidden_address(ip)) << ip;
  }
  for (const char* ip :
       {"::ffff:8.8.8.8", "::ffff:101:101", "64:ff9b::8.8.8.8", "64:ff9b::101:101", "2002:808:808::1"}) {
    EXPECT_FALSE(is_forbidden_address(ip)) << ip;
  }
}

TEST(AddressGuard, RefusesWhatIsNotANumericAddress) {
  for (const char* ip : {"", " ", "localhost", "example.com", "8.8.8.8 ", " 8.8.8.8", "8.8.8", "8.8.8.8.8", "256.1.1.1",
                         "0x7f.0.0.1", "2130706433", "127.1", "[::1]", "[2606:4700::1111]", "fe80::1%eth0",
                         "2606:4700::1111%1", "2606:4700:::1111", "1.1.1.1/32", "::ffff:1.1.1"}) {
    EXPECT_TRUE(is_forbidden_address(ip)) << '"' << ip << '"';
  }
  EXPECT_TRUE(is_forbidden_address(std::string("8.8.8.8\0", 8)));
  EXPECT_TRUE(is_forbidden_address(std::string(100, '1')));
}

}  // namespace
}  // namespace herald::delivery
