#include "otp/recipient.h"

#include <gtest/gtest.h>

namespace herald::otp {
namespace {

TEST(OtpRecipient, LimitKeysAreCanonical) {
  EXPECT_EQ(ip_limit_key("1.2.3.4"), "1.2.3.4");
  EXPECT_EQ(ip_limit_key("::ffff:1.2.3.4"), "1.2.3.4");
  EXPECT_EQ(ip_limit_key("::ffff:102:304"), "1.2.3.4");
  EXPECT_EQ(ip_limit_key("0:0::FFFF:1.2.3.4"), "1.2.3.4");
  EXPECT_EQ(ip_limit_key("2001:0DB8:0:0:1:2:3:4"), "2001:db8::/64");
  EXPECT_EQ(ip_limit_key("2001:db8::9"), ip_limit_key("2001:db8:0:0:ffff::1"));
  EXPECT_NE(ip_limit_key("2001:db8:0:1::1"), ip_limit_key("2001:db8::1"));
  EXPECT_FALSE(ip_limit_key("1.2.3.4:80"));
  EXPECT_EQ(recipient_limit_key("victim+1@x.org"), "victim@x.org");
  EXPECT_EQ(recipient_limit_key("victim@x.org"), "victim@x.org");
  EXPECT_EQ(recipient_limit_key("+4915123456789"), "+4915123456789");
  EXPECT_EQ(recipient_limit_key("j.doe+news@googlemail.com"), "jdoe@gmail.com");
  EXPECT_EQ(recipient_limit_key("+tag@x.org"), "+tag@x.org");  // no local part left: as given
  EXPECT_EQ(calling_code("+15551234567"), "1");
  EXPECT_EQ(calling_code("+79161234567"), "7");
  EXPECT_EQ(calling_code("+4915123456789"), "49");
  EXPECT_EQ(calling_code("+35312345678"), "353");
  EXPECT_EQ(calling_code("+882100000001"), "882");
}

TEST(OtpRecipient, OtherFields) {
  EXPECT_TRUE(valid_device_id("iPhone-4F1A"));
  EXPECT_FALSE(valid_device_id(""));
  EXPECT_FALSE(valid_device_id("has space"));
  EXPECT_FALSE(valid_device_id(std::string(129, 'd')));
  EXPECT_TRUE(valid_purpose("password_change"));
  EXPECT_TRUE(valid_purpose("payment.confirm-2"));
  EXPECT_FALSE(valid_purpose("Login"));
  EXPECT_FALSE(valid_purpose(""));
  EXPECT_TRUE(valid_ip("203.0.113.7"));
  EXPECT_TRUE(valid_ip("2001:db8::1"));
  EXPECT_FALSE(valid_ip("203.0.113.7:443"));
  EXPECT_FALSE(valid_ip("example.com"));
  EXPECT_FALSE(valid_ip(""));
}

TEST(OtpRecipient, NormalFormLowerCasesAddressesOnly) {
  EXPECT_EQ(normalize_recipient("Alice@Example.COM"), "alice@example.com");
  EXPECT_EQ(normalize_recipient("+4915123456789"), "+4915123456789");
}

}  // namespace
}  // namespace herald::otp
